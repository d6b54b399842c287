"""Error types of the SPDM package: one class per kind of failure.

Every error is a :class:`migtd.errors.MigtdError`, so it carries the
:class:`~migtd.result.MigrationResult` a MigTD reports for it (spdm.md §6.3:
almost everything in the SPDM layer is ``SecureSessionError``), plus an
``error_code`` hint: the SPDM ERROR code a responder answers with when the
failure was caused by a request (like h11's ``error_status_hint``).
Decoders raise only :class:`DecodeError` and its subclasses; the state
machines turn any of these into a ``Failed`` event, never into a traceback.
"""

from __future__ import annotations

from migtd.errors import MigtdError
from migtd.result import MigrationResult
from migtd.spdm.constants import ErrorCode


class SpdmError(MigtdError):
    """Base class: an SPDM-layer failure (SecureSessionError unless stated)."""

    result = MigrationResult.SecureSessionError
    error_code: ErrorCode = ErrorCode.Unspecified

    def __init__(self, message: str, result: MigrationResult | None = None, *,
                 error_code: ErrorCode | None = None) -> None:
        super().__init__(message, result)
        if error_code is not None:
            self.error_code = error_code


class DecodeError(SpdmError):
    """Bytes that do not form the expected message: truncated, oversized, bad field.

    ``structure``, ``field`` and ``offset`` say where decoding stopped.
    """

    error_code = ErrorCode.InvalidRequest

    def __init__(self, structure: str, field: str, offset: int, problem: str) -> None:
        self.structure = structure
        self.field = field
        self.offset = offset
        self.problem = problem
        super().__init__(f"{structure}: {field} at offset {offset}: {problem}")


class VersionError(DecodeError):
    """The SPDMVersion byte is not the one this message must carry."""

    error_code = ErrorCode.VersionMismatch


class UnknownMessageError(DecodeError):
    """A RequestResponseCode this stack does not implement."""

    error_code = ErrorCode.UnsupportedRequest


class LimitError(DecodeError):
    """A length or size beyond what the spec allows (refused before any allocation)."""


class ProtocolError(SpdmError):
    """A well-formed message at the wrong time (out of order, repeated, unexpected)."""

    error_code = ErrorCode.UnexpectedRequest


class NegotiationError(SpdmError):
    """The peer's version, capabilities or algorithms are not the profile MigTD uses."""

    error_code = ErrorCode.InvalidRequest


class AuthenticationError(SpdmError):
    """A signature, HMAC (VerifyData) or AEAD tag did not verify."""

    error_code = ErrorCode.DecryptError


class SecuredRecordError(AuthenticationError):
    """A DSP0277 record was rejected: wrong session, replayed or reordered sequence, bad tag."""


class PeerError(SpdmError):
    """The peer answered with an SPDM ERROR message.

    ``result`` follows spdm.md §6.3: a VendorDefined (0xFF) ERROR carries the
    peer's MigrationResult in ErrorData; every other ERROR, and a
    VendorDefined one whose data is 0 or not a MigrationResult, is
    SecureSessionError. (Upstream reports Success for ErrorData 0; this
    package never turns a failure into Success.)
    """

    def __init__(self, error_code: int, error_data: int) -> None:
        self.peer_error_code = error_code
        self.peer_error_data = error_data
        result = MigrationResult.SecureSessionError
        if error_code == ErrorCode.VendorDefined and error_data != 0:
            try:
                result = MigrationResult(error_data)
            except ValueError:
                pass
        try:
            name = ErrorCode(error_code).name
        except ValueError:
            name = f"0x{error_code:02X}"
        super().__init__(f"peer answered ERROR {name} (data 0x{error_data:02X})", result)


class LocalProtocolError(SpdmError):
    """The caller used the state machine wrongly (a bug in the driver, not the peer)."""
