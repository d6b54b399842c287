"""Judging a rebinding peer from its TDREPORT and the policies v2 (protocol.md §7, policy.md §3.9).

Rebinding certificates carry a 1024-byte TDREPORT instead of a quote: both
MigTDs run on the same platform, so the TDX module's MAC check stands in for
quote verification (emulated as passing, like upstream). What software can
check, :class:`TdReportRebindVerifier` checks, in this order — the order
decides which code a bad peer gets:

1. structure (6): MigTD EKU, TDREPORT and event-log extensions; the new MigTD
   (TLS server) also needs the old one's SERVTD_EXT and init-TDINFO;
2. policy-hash extension = SHA-384 of the pre-session blob (9);
3. TDREPORT integrity: SHA-384(TEE_TCB_INFO) and SHA-384(TDINFO) match the
   REPORTMACSTRUCT and the TDINFO hash is non-zero (``TdReportVerification``);
4. the peer's event log replays to the TDREPORT's RTMRs, its signed policy
   verifies, its three chains match ours (same root, same leaf subject) and
   its policy is the one its log measured — the §3.9.2 checks with a TDREPORT
   in place of the verified quote;
5. direction rules, as upstream orders them: the old MigTD checks the new one
   with ``policy`` then ``forwardPolicy`` (no global rules) and policySvn; the
   new MigTD checks the old one's init TDINFO against the peer's owner and
   policy SVN, then against SERVTD_EXT's hash, then that the peer's engine is
   not older than the *masked* init engine, and only then ``backwardPolicy``
   (:func:`migtd.policy.v2.flows.check_init_tdinfo`);
6. REPORTDATA binds the certificate key, and the self-signature (6).

The ServtdExt hash (step 5) is accepted in either of its two published forms:
SHA-384 of the masked TDINFO (what upstream's verifier computes) or the
TDX-module form SHA-384(SHA-384(TDINFO) ‖ type ‖ attr) that upstream's
emulator stores in SERVTD_INIT_SERVTD_INFO_HASH. Upstream compares only the
first, so its own mock-report rebinding fails on its own emulator's value
(protocol.md §7); both forms bind the same TDINFO, so accepting both keeps the
check meaningful and lets the flow run.

With ``MOCK_QUOTE_FILE`` the TD report comes from the quote file and cannot
carry our key or our RTMRs, so the binding and the replay are bypassed as
the migration verifier does (and listed in ``peer_attested.bypassed``).
"""

from __future__ import annotations

import hashlib
from typing import TYPE_CHECKING, Any

from migtd import verdict
from migtd.attest.tdreport import TdReport
from migtd.errors import FormatError, MigtdError, SecureSessionError
from migtd.policy.decision import PolicyDecision, RuleResult
from migtd.policy.errors import PolicyError, PolicyErrorKind
from migtd.result import MigrationResult
from migtd.verdict import Attestation, Evidence, LocalCheck, PolicyOutcome, SessionFacts, Verdict
from migtd.verifiers.common import policy_hash_rule
from migtd.verifiers.dcap import verify_local_policy

if TYPE_CHECKING:
    from migtd.policy.v2.evaluate import EvaluationInfo
    from migtd.policy.v2.verify import VerifiedPolicy

K = PolicyErrorKind


def parse_tdreport(data: bytes) -> TdReport:
    """The peer's TDREPORT, integrity-checked (§3.9.3: TdReportVerification / InvalidTdReport)."""
    try:
        report = TdReport.parse(data)
    except FormatError as exc:
        raise PolicyError(K.InvalidTdReport, f"peer TDREPORT: {exc.message}") from None
    try:
        report.check_integrity()
    except FormatError as exc:
        raise PolicyError(K.TdReportVerification, f"peer TDREPORT: {exc.message}") from None
    return report


def check_init_hash(init_tdinfo: bytes, servtd_ext: bytes) -> str:
    """Compare SERVTD_EXT's init hash with the init TDINFO, in either form; returns which form matched."""
    from migtd.policy.v2.flows import verify_init_tdinfo

    return verify_init_tdinfo(init_tdinfo, servtd_ext, accept_module_form=True)[1]


class TdReportRebindVerifier:
    """Rebinding verifier for ``mock-report`` (see the module doc for the order of checks)."""

    name = "tdreport"

    def __init__(self, *, policy: bytes, issuer_chain: bytes, bypass: bool, policy_version: int = 2) -> None:
        if policy_version != 2:
            raise MigtdError("rebinding needs policy v2", MigrationResult.UnsupportedOperationError)
        self.bypass = bypass
        self.local = verify_local_policy(policy, issuer_chain)

    @property
    def local_policy(self) -> VerifiedPolicy:
        """Our policy v2, verified at start-up (what VMM-supplied initMigtdData is bound to)."""
        return self.local

    def needs(self, is_client: bool) -> tuple[str, ...]:
        """Step 1: MigTD identity, TDREPORT, event log; the new MigTD (server) also SERVTD_EXT and init
        TDINFO; then the policy hash."""
        new = () if is_client else (verdict.SERVTD_EXT, verdict.INIT_TDINFO)
        return (verdict.IDENTITY, verdict.TDREPORT, verdict.EVENT_LOG, *new, verdict.POLICY_HASH)

    def check_local(self, quote: bytes) -> LocalCheck:
        """Verify our own quote against the collaterals of our policy (upstream ``get_local_tcb_evaluation_info``).

        Rebinding peers present TD reports, but the policy's "self" references
        are our facts as a verified quote gives them; the session makes that
        quote before the handshake. Failure: PolicyError ``QuoteVerification`` (8).
        """
        from migtd.attest.verify import QuoteVerificationError, verify_quote
        from migtd.verifiers.dcap import collateral_from_policy

        anchors = collateral_from_policy(self.local)
        try:
            verified = verify_quote(quote, anchors.collateral_for(quote), anchors.root_ca_der)
        except QuoteVerificationError as exc:
            raise PolicyError(K.QuoteVerification, f"local {exc.message}") from None
        return LocalCheck(verified.tcb_status, (hashlib.sha256(quote).digest(), verified))

    def _relative_reference(self, facts: SessionFacts) -> EvaluationInfo | None:
        """Our facts for "self": from our verified quote (as upstream), else from our TDREPORT (an SPDM
        carrier that hands no local quote), else none."""
        from migtd.policy.v2 import relative_reference
        from migtd.policy.v2.flows import evaluation_info_from_tdreport

        check = facts.local_check
        if check is not None and facts.local_quote and check.record[0] == hashlib.sha256(facts.local_quote).digest():
            return relative_reference(self.local, check.record[1].report)
        own = facts.local_tdreport
        return evaluation_info_from_tdreport(own, identity_of=self.local) if len(own) == 1024 else None

    def verify(self, evidence: Evidence, facts: SessionFacts, is_client: bool) -> Verdict:
        """``is_client``: we are the TLS client, i.e. the old MigTD judging the new one."""
        we_are_new = not is_client
        attested = Attestation(evidence="tdreport",
                               bypassed=("quote_verification", "tdreport_mac",
                                         *(verdict.AZCVMEMU_BYPASSES if self.bypass else ())))
        hash_rule, failure = policy_hash_rule(evidence, facts.require_peer_blob("rebinding"), "rebinding")
        rules: list[Any] = [hash_rule]
        if failure is not None:
            return Verdict(attested, self._policy(None, failure, rules), tuple(rules), failure=failure)
        decision, attested = self._decide(evidence, facts, we_are_new, attested)
        rules += decision.rules
        if decision.error is not None:
            return Verdict(attested, self._policy(decision, decision.error, rules), tuple(rules),
                           failure=decision.error)
        try:
            warnings = verdict.bind_and_authenticate(evidence, (evidence.tdreport or b"")[128:192], self.bypass)
        except SecureSessionError as exc:
            return Verdict(attested, self._policy(decision, exc, rules), tuple(rules), failure=exc)
        return Verdict(attested, self._policy(decision, None, rules), tuple(rules), warnings)

    # ------------------------------------------------------------------ steps 3-5
    def _decide(self, evidence: Evidence, facts: SessionFacts, we_are_new: bool,
                attested: Attestation) -> tuple[PolicyDecision, Attestation]:
        from migtd.policy.v2 import authenticate_rebinding_new, authenticate_rebinding_old, parse_peer_data

        notes: list[str] = []
        pre_rules: list[RuleResult] = []
        try:
            report = parse_tdreport(evidence.tdreport or b"")
            raw = report.to_bytes()
            rtmrs = list(report.td_info.rtmrs)
            attested = attested._replace(verified=True, mrtd=report.td_info.mrtd.hex().upper(),
                                         rtmrs=tuple(r.hex().upper() for r in rtmrs),
                                         tee_tcb_svn=report.tee_tcb_info.tee_tcb_svn.hex().upper())
            peer_policy_bytes, peer_chain = parse_peer_data(facts.peer_blob or b"")
            peer_policy = self._authenticate_common(evidence, rtmrs, peer_policy_bytes, peer_chain, pre_rules,
                                                    notes)
        except PolicyError as exc:
            return PolicyDecision.failed(exc, pre_rules, version="2.0", notes=notes), attested
        try:
            rel = self._relative_reference(facts)
        except PolicyError as exc:
            return PolicyDecision.failed(exc, pre_rules, version="2.0", notes=notes), attested
        if not we_are_new:
            decision = authenticate_rebinding_new(self.local, peer_policy=peer_policy, peer_tdreport=raw, rel=rel)
        else:
            decision = authenticate_rebinding_old(self.local, peer_policy=peer_policy, peer_tdreport=raw,
                                                  init_tdinfo=evidence.init_tdinfo or b"",
                                                  servtd_ext=evidence.servtd_ext or b"", rel=rel,
                                                  accept_module_form=True)
        decision.rules[:0] = pre_rules
        decision.notes[:0] = notes
        return decision, attested

    def _authenticate_common(self, evidence: Evidence, rtmrs: list[bytes], peer_policy: bytes,
                             peer_chain: bytes, rules: list[RuleResult], notes: list[str]) -> Any:
        """§3.9.2 for a TDREPORT peer (``rtmrs`` its RTMR0..3): replay, peer policy, chains, policy integrity."""
        from migtd import eventlog
        from migtd.policy.v1_events import EventParseError, name_events
        from migtd.policy.v2 import verify_signed_policy
        from migtd.policy.v2.flows import chain_rule, check_policy_integrity

        try:
            ccel = eventlog.parse_event_log(evidence.event_log or b"")
            replayed = eventlog.replay_rtmrs(ccel)
        except FormatError as exc:
            raise PolicyError(K.InvalidEventLog, f"peer event log: {exc.message}") from None
        if replayed != rtmrs:
            if not self.bypass:
                rules.append(RuleResult("integrity", "event_log_replay", "equal", "TDREPORT RTMRs", "", "",
                                        False, "the peer's event log does not replay to its RTMRs", "event_log"))
                raise PolicyError(K.InvalidEventLog, "the peer's event log does not replay to its TDREPORT RTMRs")
            notes.append("peer event log does not replay to its RTMRs; tolerated (MOCK_QUOTE_FILE)")
        else:
            rules.append(RuleResult("integrity", "event_log_replay", "equal", "TDREPORT RTMRs", "", "", True, "",
                                    "event_log"))
        peer_verified = verify_signed_policy(peer_policy, peer_chain)
        chain_rule(rules, "policy_issuer_chain", self.local.policy_chain, peer_verified.policy_chain)
        chain_rule(rules, "servtd_identity_issuer_chain", self.local.identity_chain, peer_verified.identity_chain)
        chain_rule(rules, "servtd_tcb_mapping_issuer_chain", self.local.mapping_chain, peer_verified.mapping_chain)
        try:
            events = name_events(ccel)
        except EventParseError as exc:
            raise PolicyError(K.InvalidEventLog, f"peer event log: {exc}") from None
        check_policy_integrity(events, peer_policy)
        rules.append(RuleResult("integrity", "MigTdPolicy", "equal", "SHA-384(peer policy)", "",
                                hashlib.sha384(peer_policy).hexdigest().upper(), True, "", "integrity"))
        return peer_verified

    def _policy(self, decision: PolicyDecision | None, failure: MigtdError | None,
                rules: list[Any]) -> PolicyOutcome:
        return PolicyOutcome(failure is None, 2, tuple(r.name for r in rules if not r.ok),
                             kind=decision.kind if decision is not None else None,
                             reason=failure.message if failure is not None else None,
                             notes=tuple(decision.notes) if decision is not None else ())


__all__ = ["TdReportRebindVerifier", "check_init_hash", "parse_tdreport"]
