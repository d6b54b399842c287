"""Accept-all verification: upstream's ``test_disable_ra_and_accept_all`` build (protocol.md §9.2, §7).

Only structure is checked (the carrier refuses a peer lacking the evidence
named by :meth:`needs`); everything else is reported as bypassed, loudly, on
every run.
"""

from __future__ import annotations

from migtd import verdict
from migtd.verdict import Attestation, Evidence, LocalCheck, PolicyOutcome, SessionFacts, Verdict

SKIP_RA_WARNING = ("SKIP-RA: the peer was NOT attested - its quote, event log, certificate "
                   "signature and the migration policy were not checked; never use this mode "
                   "with real secrets")


def _accept_all(quote_bytes: int, bypassed: tuple[str, ...], policy_version: int) -> Verdict:
    return Verdict(Attestation(quote_bytes=quote_bytes, bypassed=bypassed),
                   PolicyOutcome(True, policy_version, skipped=True), warnings=(SKIP_RA_WARNING,))


class SkipRaVerifier:
    """Migration: the MigTD identity plus quote and event-log evidence must be present; nothing is verified."""

    name = "skip-ra"

    def __init__(self, policy_version: int = 1) -> None:
        self.policy_version = policy_version

    def needs(self, is_client: bool) -> tuple[str, ...]:
        """MigTD EKU, quote and event-log extensions (§9.2)."""
        return (verdict.IDENTITY, verdict.QUOTE, verdict.EVENT_LOG)

    def check_local(self, quote: bytes) -> LocalCheck | None:
        """Nothing: our own quote is the null one."""
        return None

    def verify(self, evidence: Evidence, facts: SessionFacts, is_client: bool) -> Verdict:
        """Accept; the verdict lists every check that was bypassed."""
        return _accept_all(len(evidence.quote or b""), ("quote_verification", "reportdata_binding",
                                                        "event_log_replay", "certificate_signature", "policy"),
                           self.policy_version)


class SkipRaRebindVerifier:
    """Rebinding: accept all, except that the new MigTD (server) needs the old one's SERVTD_EXT to record it."""

    name = "skip-ra"

    def __init__(self, policy_version: int = 2) -> None:
        self.policy_version = policy_version

    def needs(self, is_client: bool) -> tuple[str, ...]:
        """Only SERVTD_EXT, and only on the new MigTD (the TLS server)."""
        return () if is_client else (verdict.SERVTD_EXT,)

    def check_local(self, quote: bytes) -> LocalCheck | None:
        """Nothing: rebinding presents TD reports, not quotes."""
        return None

    def verify(self, evidence: Evidence, facts: SessionFacts, is_client: bool) -> Verdict:
        """Accept; the verdict lists what was bypassed."""
        return _accept_all(0, ("td_report_verification", "init_tdinfo", "certificate_signature", "policy"),
                           self.policy_version)
