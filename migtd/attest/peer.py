"""Judging a peer's RA-TLS certificate with DCAP and the migration policy (protocol.md §5.5).

:class:`DcapPeerVerifier` is the verifier of ``--attestation mock-report`` and
``azure``. It is pure: the session hands it the peer's parsed certificate and
the local material (its own quote and event log, the policy, the peer's
pre-session blob for v2) through a :class:`VerifierContext`, and gets back a
:class:`PeerVerdict` holding the evidence to log and, on rejection, the
failure. The session logs the evidence *before* failing, so an operator sees
which step or rule refused the peer.

Order of the checks — it decides which code a bad peer gets:

* policy v1: local quote (7) → certificate structure (6) → peer quote (7) →
  REPORTDATA binding (6) → certificate self-signature (6) → event-log replay
  and policy v1 (8, broken policy 9);
* policy v2: certificate structure and policy-hash extension presence (6) →
  policy hash = SHA-384(peer pre-session blob) (9) → peer quote against the
  collaterals embedded in the *local* policy (8, ``QuoteVerification``) →
  local quote (8) → v2 flow for our direction (8/9) → binding and
  self-signature (6).

The binding and the replay are performed when our quotes come from the
project's mock QE (``mock-qe``), which puts SHA-384 of the TLS key in
REPORTDATA and replays its RTMRs from the event log. With ``MOCK_QUOTE_FILE``
and in ``azure`` mode the quote cannot carry those values, so both checks are
bypassed as upstream's AzCVMEmu build does (§5.6): they are listed in
``peer_attested.bypassed`` and a warning is logged for every certificate.

Trust anchors are loaded when the verifier is built, i.e. at start-up, so a
missing root CA or collateral, or a v2 policy that does not verify, stops
``migtd`` before it touches the network.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from migtd import paths
from migtd.attest.binding import AZCVMEMU_BYPASSES, bypasses_apply, signature_checks
from migtd.attest.trust import TrustAnchors, load_trust
from migtd.attest.verify import QuoteVerificationError, VerifiedQuote, verify_quote
from migtd.errors import ConfigError, MigtdError, SecureSessionError
from migtd.policy.decision import PolicyDecision
from migtd.policy.errors import PolicyError, PolicyErrorKind
from migtd.ratls.certificate import ParsedCertificate
from migtd.ratls.verifier import PeerVerdict, VerifierContext, check_policy_hash, check_structure
from migtd.result import MigrationResult

if TYPE_CHECKING:
    from migtd.policy.v2.verify import VerifiedPolicy


def v1_anchors(mode: str, env: Mapping[str, str]) -> TrustAnchors:
    """Root CA and collateral for policy v1, from the environment (see :mod:`migtd.attest.trust`).

    Azure quotes are Intel-signed, so azure mode needs the collateral named
    explicitly; defaulting to the mock PKI's would only fail later, per peer.
    """
    root = paths.default_root_ca(mode)  # azure: the shipped Intel root unless MIGTD_ROOT_CA_FILE
    if root is not None and not env.get("MIGTD_ROOT_CA_FILE"):
        env = {**env, "MIGTD_ROOT_CA_FILE": str(root)}
    if mode == "azure" and not env.get("MIGTD_COLLATERAL_FILE") and not env.get("MIGTD_COLLATERAL_SOURCE"):
        raise ConfigError("attestation mode azure: MIGTD_COLLATERAL_FILE must name the collateral "
                          "(upstream JSON) for the peer's platform, or MIGTD_COLLATERAL_SOURCE "
                          "(pcs, pccs:URL or thim:URL) say where to fetch it")
    return load_trust(env)


def verify_local_policy(ctx: VerifierContext) -> VerifiedPolicy:
    """The local signed policy v2 checked against its issuer chain (at start-up).

    A policy that does not verify is InvalidPolicyError (9), before any
    networking; the migration and the rebinding verifier both start with this.
    """
    from migtd.policy.v2 import verify_own_policy

    try:
        return verify_own_policy(ctx.policy, ctx.issuer_chain)
    except PolicyError as exc:
        raise MigtdError(f"the local policy v2 does not verify: {exc.message} ({exc.kind.value})",
                         MigrationResult.InvalidPolicyError) from None


def collateral_from_policy(verified: VerifiedPolicy) -> TrustAnchors:
    """The collaterals embedded in a verified v2 policy, as the DCAP verifier's input (§3.4.1)."""
    c = verified.collaterals
    return TrustAnchors(c.root_ca_der(), c.collateral)


def unverified_fields(quote: bytes | None, **extra: Any) -> dict[str, Any]:
    """``peer_attested`` fields for a peer whose quote did not verify (or was not reached yet)."""
    return {"verified": False, "tcb_status": "", "advisories": [], "fmspc": "", "mrtd": "", "rtmrs": [],
            "tee_tcb_svn": "", "quote_bytes": len(quote or b""), "bypassed": [], **extra}


class DcapPeerVerifier:
    """DCAP quote verification plus policy v1/v2 for migration RA-TLS (see module doc)."""

    name = "dcap"

    def __init__(self, ctx: VerifierContext) -> None:
        self.ctx = ctx
        #: True where §5.6 bypasses apply: REPORTDATA binding and RTMR replay are not checked.
        self.bypass = bypasses_apply(ctx)
        self.local_policy: VerifiedPolicy | None = None
        if ctx.policy_version == 2:
            self.local_policy = verify_local_policy(ctx)
            self.anchors = collateral_from_policy(self.local_policy)
        else:
            self.anchors = v1_anchors(ctx.mode, ctx.env)
        self._local: tuple[bytes, VerifiedQuote] | None = None

    # ------------------------------------------------------------ local quote
    def local_verified(self) -> VerifiedQuote:
        """Our own quote (``ctx.local_quote``), verified once per quote and then reused.

        Raises :class:`QuoteVerificationError` (7); the callers map it per
        policy version. Verifying it also warms the collateral cache, so the
        peer's quote pays only its per-quote checks.
        """
        quote = self.ctx.local_quote
        if not quote:
            raise QuoteVerificationError("parse", "the local quote is not available yet")
        digest = hashlib.sha256(quote).digest()
        if self._local is None or self._local[0] != digest:
            verified = verify_quote(quote, self.anchors.collateral_for(quote), self.anchors.root_ca_der)
            self._local = (digest, verified)
        return self._local[1]

    def prepare_local(self) -> VerifiedQuote:
        """Verify our own quote as soon as the session has made it, before the handshake.

        This is §5.5 v1 step 1 moved to the start of the session: a MigTD whose
        own quote does not verify stops before talking TLS, and the result is
        cached for the certificate callback (which also warms the collateral
        cache for the peer's quote). Failure: MutualAttestationError (7) with
        policy v1, PolicyError ``QuoteVerification`` (8) with v2 (§3.6).
        """
        try:
            return self.local_verified()
        except QuoteVerificationError as exc:
            if self.ctx.policy_version == 2:
                raise PolicyError(PolicyErrorKind.QuoteVerification, f"local {exc.message}") from None
            raise MigtdError(f"local quote verification failed at {exc.step}: {exc.problem}",
                             MigrationResult.MutualAttestationError) from None

    # ------------------------------------------------------------ entry point
    def verify(self, peer: ParsedCertificate, is_client: bool) -> PeerVerdict:
        """Judge ``peer``; ``is_client`` (we are the TLS client) means we are the source."""
        if self.ctx.policy_version == 2:
            return self._verify_v2(peer, is_client)
        return self._verify_v1(peer, is_client)

    def _attested(self, verified: VerifiedQuote) -> dict[str, Any]:
        fields = verified.event_fields()
        fields["bypassed"] = list(AZCVMEMU_BYPASSES) if self.bypass else []
        return fields

    def _not_evaluated(self, reason: str) -> dict[str, Any]:
        return {"ok": False, "failed_rules": [], "skipped": True, "policy_version": self.ctx.policy_version,
                "reason": f"not evaluated: {reason}"}

    def _decided(self, decision: PolicyDecision) -> dict[str, Any]:
        fields = decision.decision_event()
        fields["policy_version"] = self.ctx.policy_version
        fields["kind"] = decision.kind
        fields["reason"] = decision.error.message if decision.error is not None else ""
        if decision.notes:
            fields["notes"] = list(decision.notes)
        return fields

    # ------------------------------------------------------------ policy v1
    def _verify_v1(self, peer: ParsedCertificate, is_client: bool) -> PeerVerdict:
        from migtd.policy.v1 import authenticate_v1

        try:
            local = self.local_verified()
        except QuoteVerificationError as exc:
            failure = MigtdError(f"local quote verification failed at {exc.step}: {exc.problem}",
                                 MigrationResult.MutualAttestationError)
            return PeerVerdict(unverified_fields(peer.quote, failed_step="local_quote"),
                               self._not_evaluated("the local quote did not verify"), failure=failure)
        check_structure(peer)
        try:
            verified = verify_quote(peer.quote or b"", self.anchors.collateral_for(peer.quote or b""),
                                    self.anchors.root_ca_der)
        except QuoteVerificationError as exc:
            return PeerVerdict(unverified_fields(peer.quote, failed_step=exc.step),
                               self._not_evaluated("the peer quote did not verify"),
                               failure=MigtdError(f"peer {exc.message}", MigrationResult.MutualAttestationError))
        attested = self._attested(verified)
        try:
            warnings = signature_checks(peer, verified.report_data, self.bypass)
        except SecureSessionError as exc:
            return PeerVerdict(attested, self._not_evaluated(exc.message), failure=exc)
        decision = authenticate_v1(self.ctx.policy, is_source=is_client, local_report=local.report,
                                   local_event_log=self.ctx.local_event_log, peer_report=verified.report,
                                   peer_event_log=peer.event_log or b"", tolerate_rtmr_mismatch=self.bypass)
        return PeerVerdict(attested, self._decided(decision), [r.as_event() for r in decision.rules],
                           warnings, decision.error)

    # ------------------------------------------------------------ policy v2
    def _verify_v2(self, peer: ParsedCertificate, is_client: bool) -> PeerVerdict:
        from migtd.policy.v2 import authenticate_migration_dest, authenticate_migration_source, parse_peer_data

        check_structure(peer)
        if peer.policy_hash is None:
            raise SecureSessionError("peer certificate has no policy-hash extension (1.2.840.113741.1.5.5.1.4)")
        blob = self.ctx.require_peer_blob("policy v2")
        hash_rule, failure = check_policy_hash(peer, blob, "policy v2")
        rule = hash_rule.as_event()
        if failure is not None:
            policy = {"ok": False, "failed_rules": ["integrity.policy_hash"], "skipped": False,
                      "policy_version": 2, "kind": "PolicyHashMismatch", "reason": failure.message}
            return PeerVerdict(unverified_fields(peer.quote), policy, [rule], failure=failure)
        try:
            verified = verify_quote(peer.quote or b"", self.anchors.collateral_for(peer.quote or b""),
                                    self.anchors.root_ca_der)
        except QuoteVerificationError as exc:
            error = PolicyError(PolicyErrorKind.QuoteVerification, f"peer {exc.message}")
            return PeerVerdict(unverified_fields(peer.quote, failed_step=exc.step),
                               self._decided(PolicyDecision.failed(error, version="2.0")), [rule], failure=error)
        attested = self._attested(verified)
        try:
            local = self.local_verified()
        except QuoteVerificationError as exc:
            error = PolicyError(PolicyErrorKind.QuoteVerification, f"local {exc.message}")
            return PeerVerdict(attested, self._decided(PolicyDecision.failed(error, version="2.0")), [rule],
                               failure=error)
        try:
            peer_policy, peer_chain = parse_peer_data(blob)
        except PolicyError as exc:
            return PeerVerdict(attested, self._decided(PolicyDecision.failed(exc, version="2.0")), [rule],
                               failure=exc)
        flow = authenticate_migration_dest if is_client else authenticate_migration_source
        assert self.local_policy is not None  # verified in __init__ for policy v2
        decision = flow(self.local_policy, local_report=local.report, peer_report=verified.report,
                        peer_event_log=peer.event_log or b"", peer_policy=peer_policy, peer_chain=peer_chain,
                        tolerate_rtmr_mismatch=self.bypass)
        rules = [rule, *(r.as_event() for r in decision.rules)]
        if decision.error is not None:
            return PeerVerdict(attested, self._decided(decision), rules, failure=decision.error)
        try:
            warnings = signature_checks(peer, verified.report_data, self.bypass)
        except SecureSessionError as exc:
            return PeerVerdict(attested, self._decided(decision), rules, failure=exc)
        return PeerVerdict(attested, self._decided(decision), rules, warnings)


__all__ = ["DcapPeerVerifier", "TrustAnchors", "v1_anchors", "collateral_from_policy", "verify_local_policy"]
