"""PolicyError: why a migration policy rejected a peer or could not be used.

One error type serves v1 and v2, with ``kind`` naming the upstream
``PolicyError`` variant. Keeping the upstream names lets an operator compare a
Python MigTD's verdict with a Rust peer's log line for line, and the
:class:`~migtd.result.MigrationResult` follows from the kind the way MigTD's
RA-TLS path maps it (spec/policy.md §1.3): a broken policy document is the
operator's problem (InvalidPolicyError, 9), every other failure means the peer
did not satisfy the policy (PolicyUnsatisfiedError, 8).
"""

from __future__ import annotations

import enum

from migtd.errors import MigtdError
from migtd.result import MigrationResult


class PolicyErrorKind(str, enum.Enum):
    """The upstream ``PolicyError`` variants, in declaration order."""

    FailGetReport = "FailGetReport"
    InvalidParameter = "InvalidParameter"
    InvalidPolicy = "InvalidPolicy"
    InvalidEventLog = "InvalidEventLog"
    InvalidTdReport = "InvalidTdReport"
    PlatformNotFound = "PlatformNotFound"
    PlatformNotMatch = "PlatformNotMatch"
    UnqualifiedPlatformInfo = "UnqualifiedPlatformInfo"
    UnqualifiedQeInfo = "UnqualifiedQeInfo"
    UnqualifiedTdxModuleInfo = "UnqualifiedTdxModuleInfo"
    UnqualifiedMigTdInfo = "UnqualifiedMigTdInfo"
    Crypto = "Crypto"
    SignatureVerificationFailed = "SignatureVerificationFailed"
    InvalidCollateral = "InvalidCollateral"
    InvalidOperation = "InvalidOperation"
    InvalidReference = "InvalidReference"
    InvalidServtdIdentity = "InvalidServtdIdentity"
    InvalidServtdTcbMapping = "InvalidServtdTcbMapping"
    PolicyHashMismatch = "PolicyHashMismatch"
    InvalidQuote = "InvalidQuote"
    SvnMismatch = "SvnMismatch"
    TcbEvaluation = "TcbEvaluation"
    CrlEvaluation = "CrlEvaluation"
    HashCalculation = "HashCalculation"
    QuoteVerification = "QuoteVerification"
    TdReportVerification = "TdReportVerification"
    QuoteGeneration = "QuoteGeneration"
    GetTdxReport = "GetTdxReport"
    PeerCertChainValidation = "PeerCertChainValidation"


def result_for(kind: PolicyErrorKind) -> MigrationResult:
    """MigrationResult of a policy failure on the RA-TLS path (§1.3)."""
    if kind is PolicyErrorKind.InvalidPolicy:
        return MigrationResult.InvalidPolicyError
    return MigrationResult.PolicyUnsatisfiedError


class PolicyError(MigtdError):
    """A policy failure; ``str()`` names the JSON path of the offending rule.

    ``kind`` is the upstream variant; ``path`` the JSON path (may be empty
    when the failure is not tied to one place, e.g. a short report);
    ``payload`` carries the FMSPC hex strings of the two platform variants.
    ``result`` defaults to the RA-TLS mapping; start-up code that must report
    every policy failure as InvalidPolicyError passes ``result`` explicitly.
    """

    def __init__(self, kind: PolicyErrorKind, message: str, *, path: str = "",
                 payload: tuple[str, ...] = (), result: MigrationResult | None = None) -> None:
        self.kind = PolicyErrorKind(kind)
        self.path = path
        self.payload = payload
        self.detail = message
        text = f"{path}: {message}" if path else message
        super().__init__(text, result if result is not None else result_for(self.kind))

    def __repr__(self) -> str:
        return f"PolicyError({self.kind.value}, {self.message!r})"

    @property
    def variant(self) -> str:
        """Upstream rendering, e.g. ``PlatformNotFound("30816F000000")``."""
        if self.payload:
            return f"{self.kind.value}(" + ", ".join(f'"{p}"' for p in self.payload) + ")"
        return self.kind.value
