"""The project's exception hierarchy.

Every failure that can reach the command line is a :class:`MigtdError`
carrying the :class:`~migtd.result.MigrationResult` it maps to, so the CLI can
print one line and exit with the right status without a traceback.
"""

from __future__ import annotations

from migtd.result import MigrationResult


class MigtdError(Exception):
    """Base class: a failure with a MigrationResult attached."""

    result: MigrationResult = MigrationResult.InvalidParameter

    def __init__(self, message: str, result: MigrationResult | None = None) -> None:
        super().__init__(message)
        if result is not None:
            self.result = result

    @property
    def message(self) -> str:
        """The one line the CLI prints and the ``exit`` event carries as ``reason``."""
        return str(self.args[0]) if self.args else self.__class__.__name__


class ConfigError(MigtdError):
    """Bad flag, missing environment variable or unreadable file (exit 1)."""

    result = MigrationResult.InvalidParameter


class NetworkError(MigtdError):
    """Transport failure: refused, reset, closed, timed out, bad framing."""

    result = MigrationResult.NetworkError


class SecureSessionError(MigtdError):
    """TLS or certificate failure."""

    result = MigrationResult.SecureSessionError


class AttestationError(MigtdError):
    """A quote could not be produced, parsed or verified."""

    result = MigrationResult.MutualAttestationError


class FormatError(AttestationError):
    """A binary structure (report, quote, event log, certificate data) is malformed.

    ``field`` and ``offset`` name where parsing stopped so a user can find the
    bad byte; ``str()`` includes both.
    """

    def __init__(self, structure: str, field: str, offset: int, problem: str,
                 result: MigrationResult | None = None) -> None:
        self.structure = structure
        self.field = field
        self.offset = offset
        self.problem = problem
        super().__init__(f"{structure}: {field} at offset {offset}: {problem}", result)
