"""MigrationResult: the outcome codes MigTD reports to the VMM and exits with.

The numeric values are part of the contract: ``migtd`` exits with the value of
the outcome, the console shows the name and meaning, and a Rust peer reports
the same numbers for the same failures.
"""

from __future__ import annotations

import enum


class MigrationResult(enum.IntEnum):
    """Result of a MigTD operation (upstream ``MigrationResult``)."""

    Success = 0
    InvalidParameter = 1
    Unsupported = 2
    OutOfResource = 3
    TdxModuleError = 4
    NetworkError = 5
    SecureSessionError = 6
    MutualAttestationError = 7
    PolicyUnsatisfiedError = 8
    InvalidPolicyError = 9
    VmmCanceled = 10
    VmmInternalError = 11
    UnsupportedOperationError = 12
    InitializationError = 0xFF

    @property
    def meaning(self) -> str:
        """One sentence an operator can act on."""
        return _MEANINGS[self]

    @classmethod
    def describe(cls, code: int) -> tuple[str, str]:
        """Name and meaning for any exit code, including ones outside the enum."""
        try:
            member = cls(code)
        except ValueError:
            if code >= 128:
                return (f"Signal{code - 128}", f"the process was killed by signal {code - 128}.")
            return (f"Unknown{code}", "the process exited with a code MigTD does not define.")
        return member.name, member.meaning


_MEANINGS: dict[MigrationResult, str] = {
    MigrationResult.Success: "the migration session key was exchanged and the version negotiated.",
    MigrationResult.InvalidParameter: "a request, flag, version range or peer message was malformed or incompatible.",
    MigrationResult.Unsupported: "the VMM does not support the requested service.",
    MigrationResult.OutOfResource: "a buffer could not be allocated.",
    MigrationResult.TdxModuleError: "a (emulated) TDX module call failed, e.g. TD report generation.",
    MigrationResult.NetworkError: "the peer could not be reached, went away, or did not answer in time.",
    MigrationResult.SecureSessionError: "the TLS session failed: handshake, certificate or record error.",
    MigrationResult.MutualAttestationError: "a TD quote could not be generated or did not verify.",
    MigrationResult.PolicyUnsatisfiedError: "the peer's attested values do not satisfy the migration policy.",
    MigrationResult.InvalidPolicyError: "the migration policy is malformed, unsigned or does not match the peer's.",
    MigrationResult.VmmCanceled: "the VMM cancelled the request.",
    MigrationResult.VmmInternalError: "the VMM reported an internal error.",
    MigrationResult.UnsupportedOperationError: "the VMM asked for an operation this MigTD does not support.",
    MigrationResult.InitializationError: "MigTD could not initialise.",
}
