"""From one host's evidence to what a peer's MigTD would judge: attestation, profile, projection.

Three steps, all pure (bytes in, values out):

* :func:`attest` verifies the host's quote against a side's trust anchors with
  the engine's DCAP verifier, once per (quote, anchors) — the result is the
  822-byte verified report the policy engines read, or the failing step;
* :func:`profile_key` is what makes two hosts interchangeable for every
  policy decision: identical verified reports (REPORTDATA aside, which no
  policy reads), identical event logs, the same quote source (it decides
  whether the AzCVMEmu bypasses apply) and the same configuration digests.
  Hosts with equal keys form one class and are evaluated once;
* :func:`project` answers "what would this host present if it ran *that*
  policy?": the policy-derived events of its event log are replaced (v1: the
  policy event; v2: the issuer-chain and policy events), every other event is
  kept, and for a mock-QE host, whose RTMRs demonstrably follow its log, the
  report's RTMRs are recomputed from the new log. Azure hosts keep their
  platform RTMRs (the paravisor measures, not MigTD). docs/fleet.md explains
  why the matrix judges projected evidence.
"""

from __future__ import annotations

import functools
import hashlib
import threading
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from migtd import eventlog
from migtd.errors import FormatError, MigtdError
from migtd.fleet.evidence import Evidence, iso

if TYPE_CHECKING:
    from migtd.attest.collateral import Collateral
    from migtd.fleet.config_files import PolicySpec

#: Quote sources whose RTMRs are replayed from the MigTD's own event log (the AzCVMEmu
#: bypasses do not apply to them: their verifiers check REPORTDATA and the replay).
LOG_FOLLOWING_SOURCES = frozenset({"mock-qe"})
_POLICY_TAGS = frozenset({eventlog.TAG_POLICY, eventlog.TAG_SGX_ROOT_KEY, eventlog.TAG_POLICY_SIGNER})
_REPORTDATA = slice(520, 584)


@dataclass(frozen=True)
class Anchors:
    """What one side verifies quotes against: a DER root CA and its collateral."""

    root_ca_der: bytes
    collateral: Collateral
    label: str = ""

    @functools.cached_property
    def key(self) -> tuple[bytes, bytes]:
        """Identity of the anchor set (collateral digest, root CA SHA-256)."""
        return (self.collateral.digest, hashlib.sha256(self.root_ca_der).digest())


@dataclass(frozen=True)
class Attestation:
    """The verifier's judgement of one quote: a verified report, or the step that failed."""

    ok: bool
    report: bytes = b""
    step: str = ""
    problem: str = ""
    tcb_status: str = ""
    fmspc: str = ""
    tee_tcb_svn: str = ""
    mrtd: str = ""
    advisories: tuple[str, ...] = ()

    @property
    def failure(self) -> str:
        """One line: ``quote does not verify at <step>: <problem>`` (empty when ok)."""
        return "" if self.ok else f"quote does not verify at {self.step}: {self.problem}"


class AttestationCache:
    """:func:`attest` results per (quote SHA-256, anchors), so each quote is verified once per side."""

    def __init__(self) -> None:
        self._done: dict[tuple[bytes, tuple[bytes, bytes]], Attestation] = {}
        self._lock = threading.Lock()
        self.verified = 0

    def get(self, quote: bytes, anchors: Anchors) -> Attestation:
        key = (hashlib.sha256(quote).digest(), anchors.key)
        with self._lock:
            hit = self._done.get(key)
        if hit is not None:
            return hit
        result = attest(quote, anchors)
        with self._lock:
            self._done[key] = result
            self.verified += 1
        return result


def attest(quote: bytes, anchors: Anchors) -> Attestation:
    """Verify ``quote`` with MigTD's rules (midpoint time rule, like the engine)."""
    from migtd.attest.verify import QuoteVerificationError, verify_quote

    try:
        v = verify_quote(quote, anchors.collateral, anchors.root_ca_der)
    except QuoteVerificationError as exc:
        return Attestation(False, step=exc.step, problem=exc.problem)
    except MigtdError as exc:  # the verifier's own contract is QuoteVerificationError; stay safe
        return Attestation(False, step="parse", problem=exc.message)
    return Attestation(True, v.report, tcb_status=v.tcb_status, fmspc=v.fmspc.hex().upper(),
                       tee_tcb_svn=v.tee_tcb_svn.hex().upper(), mrtd=v.mrtd.hex().upper(),
                       advisories=tuple(v.advisories))


def _without_reportdata(report: bytes) -> bytes:
    return report[:_REPORTDATA.start] + bytes(64) + report[_REPORTDATA.stop:]


def profile_key(evidence: Evidence, attestations: tuple[Attestation, ...]) -> tuple[Any, ...]:
    """Everything a policy decision about this host can depend on (see module doc)."""
    judged = tuple((a.ok, _without_reportdata(a.report)) if a.ok else (False, a.step, a.problem)
                   for a in attestations)
    return (judged, hashlib.sha256(evidence.event_log).digest(), evidence.quote_source, evidence.attestation,
            evidence.policy_version, evidence.policy.sha384,
            evidence.root_ca.sha384 if evidence.root_ca else b"",
            evidence.issuer_chain.sha384 if evidence.issuer_chain else b"")


@dataclass(frozen=True)
class Projection:
    """A host's evidence as it would be under one policy: the report and log a peer would judge."""

    report: bytes
    event_log: bytes
    changed: bool        # the log differs from the collected one
    note: str = ""       # why the host cannot be judged under that policy (empty when it can)


def log_replays(events: list[eventlog.CcEvent], report: bytes) -> bool:
    """True when ``events`` replay to the report's RTMR0..3."""
    from migtd.attest import suppl as rpt

    try:
        return eventlog.replay_rtmrs(events) == rpt.rtmrs(report)
    except FormatError:
        return False


def project(evidence: Evidence, attestation: Attestation, spec: PolicySpec) -> Projection:
    """The report and event log this host would present running ``spec`` (see module doc).

    A log that does not parse is kept as collected (the peer's policy engine
    then refuses it as InvalidEventLog, as it would in a real migration).
    """
    from migtd.attest import suppl as rpt

    report = attestation.report
    try:
        events = eventlog.parse_event_log(evidence.event_log)
    except FormatError:
        return Projection(report, evidence.event_log, False)
    kept = [e for e in events if e.tag not in _POLICY_TAGS]
    if spec.version == 2:
        added = [eventlog.tagged_event(2, eventlog.TAG_POLICY_SIGNER, spec.issuer_chain, spec.issuer_chain),
                 eventlog.tagged_event(3, eventlog.TAG_POLICY, spec.policy, b"2.0")]
    else:
        roots = [e for e in events if e.tag == eventlog.TAG_SGX_ROOT_KEY]
        if not roots:
            return Projection(report, evidence.event_log, False,
                              f"evidence was collected for policy v{evidence.policy_version}: its event log has "
                              "no root CA measurement, which a policy v1 MigTD makes; collect again with a v1 "
                              "policy and --root-ca")
        added = [eventlog.tagged_event(3, eventlog.TAG_POLICY, spec.policy, spec.policy), roots[-1]]
    new_events = kept + added
    log = eventlog.build_event_log(new_events)
    if log == evidence.event_log:
        return Projection(report, log, False)
    if evidence.quote_source in LOG_FOLLOWING_SOURCES and attestation.ok and log_replays(events, report):
        for name, value in zip(rpt.RTMR_FIELDS, eventlog.replay_rtmrs(new_events)):
            report = rpt.with_field(report, name, value)
    return Projection(report, log, True)


def describe_evidence(evidence: Evidence) -> dict[str, Any]:
    """What ``evidence show`` prints: the file's description, quote identity and event log."""
    from migtd.attest import suppl as rpt

    info: dict[str, Any] = {
        "host": evidence.host, "collected_at": iso(evidence.collected_at), "tool": evidence.tool,
        "attestation": evidence.attestation, "quote_source": evidence.quote_source,
        "policy": {"version": evidence.policy_version, "sha384": evidence.policy.sha384.hex().upper(),
                   "size": evidence.policy.size},
        "root_ca": evidence.root_ca.to_json() if evidence.root_ca else None,
        "issuer_chain": evidence.issuer_chain.to_json() if evidence.issuer_chain else None,
        "quote": {"size": len(evidence.quote), "sha256": evidence.quote_sha256},
    }
    try:
        from migtd.attest.quote import parse_quote

        q = parse_quote(evidence.quote)
        body = q.body
        info["quote"].update({"version": q.header.version, "tee_tcb_svn": body.tee_tcb_svn.hex().upper(),
                              "mrtd": body.mrtd.hex().upper(), "xfam": body.xfam.hex().upper(),
                              "td_attributes": body.td_attributes.hex().upper(),
                              "rtmrs": [r.hex().upper() for r in body.rtmrs]})
        report_rtmrs = list(body.rtmrs)
    except FormatError as exc:
        info["quote"]["error"] = exc.message
        report_rtmrs = None
    try:
        events = eventlog.parse_event_log(evidence.event_log)
        info["event_log"] = {
            "size": len(evidence.event_log),
            "events": [{"mr_index": e.mr_index, "type": f"{e.event_type:#x}", "tag": e.tag,
                        "digest": e.digest.hex().upper()} for e in events],
        }
        if report_rtmrs is not None:
            fake = bytearray(rpt.REPORT_SIZE)
            for name, value in zip(rpt.RTMR_FIELDS, report_rtmrs):
                off, size = rpt.FIELDS[name]
                fake[off:off + size] = value
            info["event_log"]["replays_to_quote_rtmrs"] = log_replays(events, bytes(fake))
    except FormatError as exc:
        info["event_log"] = {"size": len(evidence.event_log), "error": exc.message}
    return info
