"""Peer-certificate verification, pluggable per attestation mode.

A :class:`PeerVerifier` looks at the peer's parsed certificate and returns a
:class:`PeerVerdict`: the evidence to log (``peer_attested``, each
``policy_rule``, ``policy_decision``) and, if the peer is rejected, the
failure. Returning the failure instead of raising it lets the session log the
evidence first, so an operator sees *why* a peer was refused. Structural
problems that leave nothing to report may simply raise :class:`MigtdError`.

Verifiers are pure (certificate in, verdict out); the session decides when
to run them: after the TLS handshake and before any application data.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Protocol

from migtd.errors import ConfigError, MigtdError, SecureSessionError
from migtd.ratls.certificate import (
    OID_EVENT_LOG,
    OID_EXT_KEY_USAGE,
    OID_MIGTD_EKU,
    OID_QUOTE,
    OID_SERVTD_EXT,
    ParsedCertificate,
)
from migtd.result import MigrationResult

if TYPE_CHECKING:
    from migtd.policy.decision import RuleResult


@dataclass
class VerifierContext:
    """Local material a verifier may compare the peer against.

    Skip-RA needs none of it; the DCAP/policy verifiers use the policy,
    root CA or issuer chain, the local quote and event log, and (policy v2)
    the peer's pre-session blob.
    """

    mode: str
    policy_version: int = 1
    operation: str = "migration"  # or rebind-prepare / rebind-finalize
    policy: bytes = b""
    root_ca: bytes = b""
    issuer_chain: bytes = b""
    local_quote: bytes = b""
    local_event_log: bytes = b""
    peer_blob: bytes | None = None
    #: Process environment (trust-anchor files, MOCK_QUOTE_FILE) for the DCAP verifier.
    env: Mapping[str, str] = field(default_factory=dict)
    #: ``name`` of the local quote provider (``mock-qe``, ``mock-quote-file``, ``azure-imds``):
    #: it decides whether the AzCVMEmu bypasses of §5.6 apply.
    quote_source: str = ""
    #: Rebinding: our own TDREPORT (1024 bytes), the "self" reference of the rebinding policy rules.
    local_tdreport: bytes = b""

    def require_peer_blob(self, what: str) -> bytes:
        """The peer's pre-session data (policy v2); without it, InvalidPolicyError (9)."""
        if self.peer_blob is None:
            raise MigtdError(f"{what}: the peer's pre-session data was not received",
                             MigrationResult.InvalidPolicyError)
        return self.peer_blob


@dataclass
class PeerVerdict:
    """Outcome of verifying one peer certificate.

    ``attested`` holds the ``peer_attested`` event fields, ``policy_rules``
    one dict of ``policy_rule`` fields per rule in evaluation order,
    ``policy`` the ``policy_decision`` fields. ``failure`` is set when the
    peer must be rejected; ``warnings`` are logged at warn level.
    """

    attested: dict[str, Any]
    policy: dict[str, Any]
    policy_rules: list[dict[str, Any]] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    failure: MigtdError | None = None

    @property
    def ok(self) -> bool:
        """True when the peer is accepted."""
        return self.failure is None


class PeerVerifier(Protocol):
    """Judges a peer certificate; ``is_client`` is True when we are the TLS client."""

    def verify(self, peer: ParsedCertificate, is_client: bool) -> PeerVerdict:
        """The verdict on ``peer``; may raise :class:`MigtdError` for a peer that is not a MigTD at all."""
        ...


def check_structure(peer: ParsedCertificate) -> None:
    """The checks every mode performs (§5.6): MigTD EKU, quote and event-log extensions.

    A peer failing them is not a MigTD peer; that is a session error (6).
    """
    if peer.extension(OID_EXT_KEY_USAGE) is None:
        raise SecureSessionError("peer certificate has no extKeyUsage extension")
    if OID_MIGTD_EKU not in peer.extended_key_usages():
        raise SecureSessionError(f"peer certificate's extKeyUsage lacks the MigTD OID {OID_MIGTD_EKU}")
    if peer.extension(OID_QUOTE) is None:
        raise SecureSessionError(f"peer certificate has no quote extension ({OID_QUOTE})")
    if peer.extension(OID_EVENT_LOG) is None:
        raise SecureSessionError(f"peer certificate has no event-log extension ({OID_EVENT_LOG})")


def check_policy_hash(peer: ParsedCertificate, blob: bytes, what: str) -> tuple[RuleResult, MigtdError | None]:
    """Policy v2: the certificate's policy-hash extension must be SHA-384 of the peer data
    received in the pre-session exchange (protocol.md §5.5).

    Returns the ``integrity.policy_hash`` rule and, when it fails, the failure
    (InvalidPolicyError, 9). ``what`` ("policy v2", "rebinding") starts the messages.
    """
    from migtd.policy.decision import RuleResult

    expected = hashlib.sha384(blob).digest()
    actual = peer.policy_hash or b""
    ok = actual == expected
    rule = RuleResult("integrity", "policy_hash", "equal", "SHA-384(pre-session peer data)",
                      expected.hex().upper(), actual.hex().upper(), ok,
                      "" if ok else "the certificate's policy hash is not SHA-384 of the peer data "
                                    "received before the session")
    if ok:
        return rule, None
    return rule, MigtdError(f"{what}: peer certificate's policy hash does not match the pre-session peer data "
                            "(PolicyHashMismatch)", MigrationResult.InvalidPolicyError)


SKIP_RA_WARNING = ("SKIP-RA: the peer was NOT attested - its quote, event log, certificate "
                   "signature and the migration policy were not checked; never use this mode "
                   "with real secrets")


def _skip_ra_verdict(quote_bytes: int, bypassed: list[str], policy_version: int) -> PeerVerdict:
    """The accept-all verdict: nothing verified, the policy skipped, and the loud warning."""
    attested = {
        "verified": False, "tcb_status": "", "advisories": [], "fmspc": "", "mrtd": "", "rtmrs": [],
        "tee_tcb_svn": "", "quote_bytes": quote_bytes, "bypassed": bypassed,
    }
    policy = {"ok": True, "failed_rules": [], "skipped": True, "policy_version": policy_version}
    return PeerVerdict(attested=attested, policy=policy, warnings=[SKIP_RA_WARNING])


class SkipRaVerifier:
    """Accept-all verification of upstream's ``test_disable_ra_and_accept_all`` build.

    Only the structural checks of protocol.md §9.2 are made; everything else
    is reported as bypassed, loudly.
    """

    name = "skip-ra"

    def __init__(self, ctx: VerifierContext | None = None) -> None:
        self.policy_version = ctx.policy_version if ctx is not None else 1

    def verify(self, peer: ParsedCertificate, is_client: bool) -> PeerVerdict:
        """Structure only (§9.2); the verdict lists every check that was bypassed."""
        check_structure(peer)
        return _skip_ra_verdict(len(peer.quote or b""), ["quote_verification", "reportdata_binding",
                                                         "event_log_replay", "certificate_signature", "policy"],
                                self.policy_version)


class SkipRaRebindVerifier:
    """Skip-RA for rebinding (§7): accept all, except that the new MigTD (TLS server)
    still needs the old one's SERVTD_EXT extension to record the rebinding."""

    name = "skip-ra"

    def __init__(self, ctx: VerifierContext | None = None) -> None:
        self.policy_version = ctx.policy_version if ctx is not None else 2

    def verify(self, peer: ParsedCertificate, is_client: bool) -> PeerVerdict:
        """Only the new MigTD's SERVTD_EXT requirement; the verdict lists what was bypassed."""
        if not is_client and peer.extension(OID_SERVTD_EXT) is None:
            raise SecureSessionError(f"peer certificate has no SERVTD_EXT extension ({OID_SERVTD_EXT})")
        return _skip_ra_verdict(0, ["td_report_verification", "init_tdinfo", "certificate_signature", "policy"],
                                self.policy_version)


def make_verifier(ctx: VerifierContext) -> PeerVerifier:
    """The verifier for ``ctx.mode``.

    ``mock-report`` and ``azure`` use the DCAP + policy verifier
    ``migtd.attest.peer.DcapPeerVerifier(ctx)``, which loads its trust anchors
    (or verifies the local v2 policy) here, at start-up: a configuration
    problem surfaces before any networking.
    """
    if ctx.operation != "migration":
        if ctx.mode == "skip-ra":
            return SkipRaRebindVerifier(ctx)
        if ctx.mode == "mock-report":
            from migtd.attest.rebind_peer import TdReportRebindVerifier

            return TdReportRebindVerifier(ctx)
        raise ConfigError(f"rebinding with attestation mode {ctx.mode} is not implemented "
                          "(only skip-ra and mock-report)")
    if ctx.mode == "skip-ra":
        return SkipRaVerifier(ctx)
    if ctx.mode in ("mock-report", "azure"):
        from migtd.attest.peer import DcapPeerVerifier

        return DcapPeerVerifier(ctx)
    raise ConfigError(f"unknown attestation mode {ctx.mode!r}")
