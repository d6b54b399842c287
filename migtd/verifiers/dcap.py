"""Judging a migration peer with DCAP and the migration policy (protocol.md §5.5).

:class:`DcapPeerVerifier` is the verifier of ``--attestation mock-report`` and
``azure``. It is pure: it is built once from the run's immutable inputs (the
policy, its version, the trust anchors, whether the AzCVMEmu bypasses apply)
and then judges :class:`~migtd.verdict.Evidence` with the
:class:`~migtd.verdict.SessionFacts` the session passes explicitly. It
answers with a :class:`~migtd.verdict.Verdict` holding the evidence to log and,
on rejection, the failure; the session logs the evidence *before* failing, so an
operator sees which step or rule refused the peer.

Order of the checks — it decides which code a bad peer gets (structure is
checked by the carrier first, from :meth:`DcapPeerVerifier.needs`: 6):

* policy v1: local quote (7) → peer quote (7) → REPORTDATA binding (6) →
  certificate self-signature (6) → event-log replay and policy v1 (8,
  broken policy 9);
* policy v2: policy hash = SHA-384(peer pre-session blob) (9) → peer quote
  against the collaterals embedded in the *local* policy (8,
  ``QuoteVerification``) → local quote (8) → v2 flow for our direction (8/9) →
  binding and self-signature (6).

The binding and the replay are performed when our quotes come from the
project's mock QE, which puts SHA-384 of the TLS key in REPORTDATA and replays
its RTMRs from the event log. With ``MOCK_QUOTE_FILE`` and in ``azure`` mode
the quote cannot carry those values, so the mode asks for both checks to be
bypassed as upstream's AzCVMEmu build does (§5.6): they are listed in
``peer_attested.bypassed`` and a warning is logged for every peer.
"""

from __future__ import annotations

import hashlib
from typing import TYPE_CHECKING

from migtd import verdict
from migtd.attest.trust import TrustAnchors
from migtd.attest.verify import QuoteVerificationError, VerifiedQuote, verify_quote
from migtd.errors import MigtdError, SecureSessionError
from migtd.policy.decision import PolicyDecision
from migtd.policy.errors import PolicyError, PolicyErrorKind
from migtd.result import MigrationResult
from migtd.verdict import Attestation, Evidence, LocalCheck, PolicyOutcome, SessionFacts, Verdict
from migtd.verifiers.common import policy_hash_rule, unverified

if TYPE_CHECKING:
    from migtd.policy.v2.verify import VerifiedPolicy


def verify_local_policy(policy: bytes, issuer_chain: bytes) -> VerifiedPolicy:
    """The local signed policy v2 checked against its issuer chain (at start-up).

    A policy that does not verify is InvalidPolicyError (9), before any
    networking; the migration and the rebinding verifier both start with this.
    It is :func:`~migtd.policy.v2.verify_own_policy`, the check ``migtd-tool
    policy verify``/``policy check`` make too, so the tool and the engine give
    the same code for the same file (an embedded root CA that does not parse
    included).
    """
    from migtd.policy.v2 import verify_own_policy

    try:
        return verify_own_policy(policy, issuer_chain)
    except PolicyError as exc:
        raise MigtdError(f"the local policy v2 does not verify: {exc.message} ({exc.kind.value})",
                         MigrationResult.InvalidPolicyError) from None


def collateral_from_policy(verified: VerifiedPolicy) -> TrustAnchors:
    """The collaterals embedded in a verified v2 policy, as the DCAP verifier's input (§3.4.1)."""
    c = verified.collaterals
    return TrustAnchors(c.root_ca_der(), c.collateral)


def decided(decision: PolicyDecision, policy_version: int, *,
            failed_rules: tuple[str, ...] | None = None, reason: str | None = None) -> PolicyOutcome:
    """The ``policy_decision`` record of an evaluated policy."""
    return PolicyOutcome(decision.ok, policy_version,
                         tuple(decision.failed_rules()) if failed_rules is None else failed_rules,
                         kind=decision.kind,
                         reason=(decision.error.message if decision.error is not None else "")
                         if reason is None else reason,
                         notes=tuple(decision.notes))


class DcapPeerVerifier:
    """DCAP quote verification plus policy v1/v2 for migration RA-TLS (see module doc)."""

    name = "dcap"

    def __init__(self, *, policy_version: int, policy: bytes, bypass: bool,
                 anchors: TrustAnchors | None = None, issuer_chain: bytes = b"") -> None:
        """``anchors`` are required for policy v1; v2 verifies ``policy`` with ``issuer_chain`` and uses
        the collaterals it embeds (InvalidPolicyError, 9, when it does not verify)."""
        self.policy_version = policy_version
        self.policy = policy
        #: True where §5.6 bypasses apply: REPORTDATA binding and RTMR replay are not checked.
        self.bypass = bypass
        self.local_policy: VerifiedPolicy | None = None
        if policy_version == 2:
            self.local_policy = verify_local_policy(policy, issuer_chain)
            self.anchors = collateral_from_policy(self.local_policy)
        elif anchors is None:
            raise ValueError("policy v1 needs trust anchors")
        else:
            self.anchors = anchors

    def needs(self, is_client: bool) -> tuple[str, ...]:
        """MigTD identity, quote and event log; policy v2 also the policy hash."""
        base = (verdict.IDENTITY, verdict.QUOTE, verdict.EVENT_LOG)
        return (*base, verdict.POLICY_HASH) if self.policy_version == 2 else base

    # ------------------------------------------------------------ local quote
    def _verify(self, quote: bytes) -> VerifiedQuote:
        """``quote`` against the anchors: the collateral file's, or fetched for its platform
        (``MIGTD_COLLATERAL_SOURCE``; a failed fetch is QuoteVerificationError at step ``collateral``)."""
        return verify_quote(quote, self.anchors.collateral_for(quote), self.anchors.root_ca_der)

    def check_local(self, quote: bytes) -> LocalCheck:
        """Verify our own quote as soon as the session has made it, before the handshake.

        This is §5.5 v1 step 1 moved to the start of the session: a MigTD whose
        own quote does not verify stops before talking TLS; the result travels
        back in :class:`SessionFacts` (which also warms the collateral cache for
        the peer's quote). Failure: MutualAttestationError (7) with policy v1,
        PolicyError ``QuoteVerification`` (8) with v2 (§3.6).
        """
        try:
            verified = self._verify(quote)
        except QuoteVerificationError as exc:
            if self.policy_version == 2:
                raise PolicyError(PolicyErrorKind.QuoteVerification, f"local {exc.message}") from None
            raise MigtdError(f"local quote verification failed at {exc.step}: {exc.problem}",
                             MigrationResult.MutualAttestationError) from None
        return LocalCheck(verified.tcb_status, (hashlib.sha256(quote).digest(), verified))

    def _local(self, facts: SessionFacts) -> VerifiedQuote:
        """Our quote as verified by :meth:`check_local`, or verified now (QuoteVerificationError)."""
        if not facts.local_quote:
            raise QuoteVerificationError("parse", "the local quote is not available yet")
        check = facts.local_check
        if check is not None and check.record[0] == hashlib.sha256(facts.local_quote).digest():
            return check.record[1]
        return self._verify(facts.local_quote)

    # ------------------------------------------------------------ entry point
    def verify(self, evidence: Evidence, facts: SessionFacts, is_client: bool) -> Verdict:
        """Judge the peer; ``is_client`` (we are the TLS client) means we are the source."""
        if self.policy_version == 2:
            return self._verify_v2(evidence, facts, is_client)
        return self._verify_v1(evidence, facts, is_client)

    def _attested(self, verified: VerifiedQuote) -> Attestation:
        fields = verified.event_fields()
        return Attestation(verified=True, tcb_status=fields["tcb_status"], advisories=tuple(fields["advisories"]),
                           fmspc=fields["fmspc"], mrtd=fields["mrtd"], rtmrs=tuple(fields["rtmrs"]),
                           tee_tcb_svn=fields["tee_tcb_svn"], quote_bytes=fields["quote_bytes"],
                           bypassed=verdict.AZCVMEMU_BYPASSES if self.bypass else ())

    # ------------------------------------------------------------ policy v1
    def _verify_v1(self, evidence: Evidence, facts: SessionFacts, is_client: bool) -> Verdict:
        from migtd.policy.v1 import authenticate_v1

        v = self.policy_version
        try:
            local = self._local(facts)
        except QuoteVerificationError as exc:
            failure = MigtdError(f"local quote verification failed at {exc.step}: {exc.problem}",
                                 MigrationResult.MutualAttestationError)
            return Verdict(unverified(evidence.quote, failed_step="local_quote"),
                           PolicyOutcome.not_evaluated(v, "the local quote did not verify"), failure=failure)
        try:
            verified = self._verify(evidence.quote or b"")
        except QuoteVerificationError as exc:
            return Verdict(unverified(evidence.quote, failed_step=exc.step),
                           PolicyOutcome.not_evaluated(v, "the peer quote did not verify"),
                           failure=MigtdError(f"peer {exc.message}", MigrationResult.MutualAttestationError))
        attested = self._attested(verified)
        try:
            warnings = verdict.bind_and_authenticate(evidence, verified.report_data, self.bypass)
        except SecureSessionError as exc:
            return Verdict(attested, PolicyOutcome.not_evaluated(v, exc.message), failure=exc)
        decision = authenticate_v1(self.policy, is_source=is_client, local_report=local.report,
                                   local_event_log=facts.local_event_log, peer_report=verified.report,
                                   peer_event_log=evidence.event_log or b"", tolerate_rtmr_mismatch=self.bypass)
        return Verdict(attested, decided(decision, v), tuple(decision.rules), warnings, decision.error)

    # ------------------------------------------------------------ policy v2
    def _verify_v2(self, evidence: Evidence, facts: SessionFacts, is_client: bool) -> Verdict:
        from migtd.policy.v2 import authenticate_migration_dest, authenticate_migration_source, parse_peer_data

        blob = facts.require_peer_blob("policy v2")
        hash_rule, failure = policy_hash_rule(evidence, blob, "policy v2")
        if failure is not None:
            policy = PolicyOutcome(False, 2, ("integrity.policy_hash",), kind="PolicyHashMismatch",
                                   reason=failure.message)
            return Verdict(unverified(evidence.quote), policy, (hash_rule,), failure=failure)
        try:
            verified = self._verify(evidence.quote or b"")
        except QuoteVerificationError as exc:
            error = PolicyError(PolicyErrorKind.QuoteVerification, f"peer {exc.message}")
            return Verdict(unverified(evidence.quote, failed_step=exc.step),
                           decided(PolicyDecision.failed(error, version="2.0"), 2), (hash_rule,), failure=error)
        attested = self._attested(verified)
        try:
            local = self._local(facts)
        except QuoteVerificationError as exc:
            error = PolicyError(PolicyErrorKind.QuoteVerification, f"local {exc.message}")
            return Verdict(attested, decided(PolicyDecision.failed(error, version="2.0"), 2), (hash_rule,),
                           failure=error)
        try:
            peer_policy, peer_chain = parse_peer_data(blob)
        except PolicyError as exc:
            return Verdict(attested, decided(PolicyDecision.failed(exc, version="2.0"), 2), (hash_rule,),
                           failure=exc)
        flow = authenticate_migration_dest if is_client else authenticate_migration_source
        assert self.local_policy is not None  # verified in __init__ for policy v2
        decision = flow(self.local_policy, local_report=local.report, peer_report=verified.report,
                        peer_event_log=evidence.event_log or b"", peer_policy=peer_policy, peer_chain=peer_chain,
                        tolerate_rtmr_mismatch=self.bypass)
        rules = (hash_rule, *decision.rules)
        outcome = decided(decision, 2)
        if decision.error is not None:
            return Verdict(attested, outcome, rules, failure=decision.error)
        try:
            warnings = verdict.bind_and_authenticate(evidence, verified.report_data, self.bypass)
        except SecureSessionError as exc:
            return Verdict(attested, outcome, rules, failure=exc)
        return Verdict(attested, outcome, rules, warnings)
