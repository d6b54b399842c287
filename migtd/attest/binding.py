"""The check that ties a verified quote to the key of the session it was presented in (protocol.md §5.5).

Key binding: REPORTDATA[0..48) of the peer's verified quote (or rebinding
TDREPORT) must be SHA-384 of the peer's public key point (97-byte
``04‖X‖Y``), and bytes 48..64 are zero when we produce it. A mismatch is
upstream's ``MismatchPublicKeyError``, a secure-session failure (6).

The verifiers apply it through :func:`migtd.verdict.bind_and_authenticate`,
which also honours the AzCVMEmu bypass the attestation mode asks for; the
other half of §5.5, replaying the peer's event log to its RTMRs, is done by
the policy flows.
"""

from __future__ import annotations

import hashlib

from migtd.errors import SecureSessionError


def report_data_for_key(public_point: bytes) -> bytes:
    """REPORTDATA binding a TLS key: SHA-384(public point) ‖ 16 zero bytes."""
    return hashlib.sha384(public_point).digest() + bytes(16)


def check_key_binding(report_data: bytes, public_point: bytes) -> None:
    """Raise :class:`SecureSessionError` unless REPORTDATA[0..48) = SHA-384(public point)."""
    if report_data[:48] != hashlib.sha384(public_point).digest():
        raise SecureSessionError("peer quote's REPORTDATA does not bind the certificate's public key "
                                 "(MismatchPublicKeyError)")
