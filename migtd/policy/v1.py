"""Policy v1 evaluation (spec/policy.md §2.3–§2.7).

Two entry points:

* :func:`evaluate_v1` — the pure ``verify_policy``: policy bytes, both
  verified reports and both event-name maps in, a :class:`PolicyDecision` out.
* :func:`authenticate_v1` — MigTD's wrapper: replays and parses the raw CCEL
  event logs first, then evaluates.

Error contract (decided here, tested in tests/policy): evaluation **never
raises** for anything the peer or the policy file contains. A failing rule is
a ``RuleResult`` with ``ok=False`` and the decision carries the PolicyError;
an unusable policy document gives a decision whose error has kind
InvalidPolicy (exit 9). :func:`load_v1` is the fail-fast variant for
start-up: it raises the same PolicyError so ``migtd`` can refuse to start
with a broken policy instead of failing every migration later.

Evaluation stops at the first failure, as upstream does, so ``rules`` lists
exactly the rules that were looked at. For the OR-ed TDX-module blocks only
the block that matched is recorded on success (the others are alternatives,
not failures); when none matches every attempted rule is recorded.
"""

from __future__ import annotations

import functools
from collections.abc import Mapping

from migtd import eventlog
from migtd.attest import suppl as rpt
from migtd.errors import FormatError
from migtd.policy.decision import PolicyDecision, RuleResult
from migtd.policy.errors import PolicyError, PolicyErrorKind
from migtd.policy.v1_check import check, explain
from migtd.policy.v1_document import (
    MigTdBlock,
    PlatformBlock,
    PolicyV1,
    Property,
    QeBlock,
    RefKind,
    parse_v1,
)
from migtd.policy.v1_events import EVENTLOG_NAMES, EventParseError, NamedEvent, name_events

K = PolicyErrorKind

#: TD ATTRIBUTES mask: debug/profiling bits 0-15, SEPT_VE_DISABLE 28, MIGRATABLE 29, TPA 62.
TD_ATTRIBUTES_MASK = bytes.fromhex("FFFF003000000040")
#: XFAM mask: FP, SSE (bits 0, 1) and CET (bits 11, 12).
XFAM_MASK = bytes.fromhex("0318000000000000")

TCB_INFO_FIELDS = {"fmspc": "FMSPC", "sgxtcbcomponents": "SGX_TCB_COMPONENTS",
                   "pcesvn": "PCE_SVN", "tdxtcbcomponents": "TDX_TCB_COMPONENTS"}
QE_FIELDS = {"MISCSELECT": "QE_MISCSELECT", "ATTRIBUTES": "QE_ATTRIBUTES", "MRSIGNER": "QE_MRSIGNER",
             "ISVPRODID": "QE_ISVPRODID", "ISVSVN": "QE_ISVSVN"}
TDX_MODULE_FIELDS = {"TDXModuleMajorVersion": "TDX_MODULE_MAJOR_VER", "TDXModuleSVN": "TDX_MODULE_SVN",
                     "MRSEAM": "MRSEAM", "MRSIGNERSEAM": "MRSIGNERSEAM", "ATTRIBUTES": "SEAM_ATTRIBUTES"}
TDINFO_FIELDS = {"ATTRIBUTES": "TD_ATTRIBUTES", "XFAM": "XFAM", "MRTD": "MRTD",
                 "MRCONFIGID": "MRCONFIGID", "MROWNER": "MROWNER", "MROWNERCONFIG": "MROWNERCONFIG",
                 "RTMR0": "RTMR0", "RTMR1": "RTMR1", "RTMR2": "RTMR2", "RTMR3": "RTMR3"}
_MASKS = {"TD_ATTRIBUTES": TD_ATTRIBUTES_MASK, "XFAM": XFAM_MASK}

Events = Mapping[str, NamedEvent] | None


@functools.lru_cache(maxsize=32)
def _parse_cached(policy: bytes) -> PolicyV1:
    return parse_v1(policy)


def load_v1(policy: bytes) -> PolicyV1:
    """Parse a v1 policy or raise PolicyError(InvalidPolicy) naming the JSON path.

    Parsed documents are cached by content (they are immutable), so the
    per-migration evaluation of the same policy file does not re-parse it.
    """
    return _parse_cached(bytes(policy))


def masked_field(report: bytes, name: str) -> bytes:
    """A report field as v1 rules compare it: TD ATTRIBUTES and XFAM masked, the rest raw."""
    raw = rpt.field(report, name)
    mask = _MASKS.get(name)
    if mask is not None:
        return bytes(a & b for a, b in zip(raw, mask))
    return raw


class _Run:
    """Accumulates rule results while one evaluation walks the policy."""

    def __init__(self, is_src: bool, local: bytes, peer: bytes) -> None:
        self.is_src = is_src
        self.local = local
        self.peer = peer
        self.rules: list[RuleResult] = []

    def rule(self, section: str, prop: Property, local: bytes | str, actual: bytes | str,
             ok: bool, reason: str = "") -> None:
        self.rules.append(RuleResult(
            section=section, field=prop.name, operation=prop.operation, reference=prop.reference.text,
            local=local.hex().upper() if isinstance(local, bytes) else local,
            actual=actual.hex().upper() if isinstance(actual, bytes) else actual,
            ok=ok, reason="" if ok else reason, path=prop.path))

    def report_rule(self, section: str, prop: Property, fields: dict[str, str]) -> tuple[bool, bool]:
        """Check one report property; returns (known_name, ok)."""
        name = fields.get(prop.name)
        if name is None:
            self.rule(section, prop, "", "", False, f'"{prop.name}" is not a {section} property')
            return False, False
        local, peer = masked_field(self.local, name), masked_field(self.peer, name)
        ok = check(prop.operation, prop.reference, local, peer, self.is_src)
        reason = "" if ok else explain(prop.operation, prop.reference, local, peer, self.is_src)
        self.rule(section, prop, local, peer, ok, reason)
        return True, ok

    def section(self, props: tuple[Property, ...], section: str, fields: dict[str, str],
                false_kind: PolicyErrorKind) -> PolicyError | None:
        for prop in props:
            known, ok = self.report_rule(section, prop, fields)
            if not known:
                return PolicyError(K.InvalidParameter, f'unknown {section} property "{prop.name}"',
                                   path=prop.path)
            if not ok:
                return PolicyError(false_kind, self.rules[-1].reason, path=prop.path)
        return None


def _platform(run: _Run, policy: PolicyV1) -> PolicyError | None:
    local_fmspc = rpt.field(run.local, "FMSPC").hex().upper()
    peer_fmspc = rpt.field(run.peer, "FMSPC").hex().upper()
    blocks = policy.platforms
    chosen: PlatformBlock | None = None
    if len(blocks) == 1 and blocks[0].fmspc == "self":
        ok = local_fmspc == peer_fmspc
        run.rules.append(RuleResult("Platform", "fmspc", "equal", "self", local_fmspc, peer_fmspc, ok,
                                    "" if ok else "peer platform FMSPC differs from the local one",
                                    f"{blocks[0].path}.fmspc"))
        if not ok:
            return PolicyError(K.PlatformNotMatch, f"peer FMSPC {peer_fmspc} differs from local {local_fmspc}",
                               path=f"{blocks[0].path}.fmspc", payload=(local_fmspc, peer_fmspc))
        chosen = blocks[0]
    else:
        chosen = next((b for b in blocks if b.fmspc == peer_fmspc), None)
        listed = ",".join(b.fmspc for b in blocks)
        ok = chosen is not None
        reason = "" if ok else ("the policy has no Platform block" if not blocks
                                else "no Platform block lists the peer's FMSPC")
        run.rules.append(RuleResult("Platform", "fmspc", "select", listed, local_fmspc, peer_fmspc, ok,
                                    reason, chosen.path if chosen else "policy"))
        if chosen is None:
            return PolicyError(K.PlatformNotFound, f"{reason} ({peer_fmspc})", path="policy",
                               payload=(peer_fmspc,))
    return run.section(chosen.tcb_info, "Platform.TcbInfo", TCB_INFO_FIELDS, K.UnqualifiedPlatformInfo)


def _tdx_modules(run: _Run, policy: PolicyV1) -> PolicyError | None:
    blocks = policy.tdx_modules
    if not blocks:
        return None
    start = len(run.rules)
    misses: list[str] = []
    for block in blocks:
        mark = len(run.rules)
        for prop in block.identity:
            known, ok = run.report_rule("TDXModule.TDXModule_Identity", prop, TDX_MODULE_FIELDS)
            if not known:
                return PolicyError(K.InvalidParameter, f'unknown TDXModule property "{prop.name}"',
                                   path=prop.path)
            if not ok:
                misses.append(f"{block.path} {prop.name}: {run.rules[-1].reason}")
                break
        else:
            matched = run.rules[mark:]
            del run.rules[start:]
            run.rules.extend(matched)
            return None
    return PolicyError(K.UnqualifiedTdxModuleInfo,
                       f"the peer's TDX module matches none of the {len(blocks)} TDXModule block(s) ("
                       + "; ".join(misses) + ")", path="policy")


def _event_rules(run: _Run, block: MigTdBlock, local_events: Events, peer_events: Events
                 ) -> PolicyError | None:
    section = "MigTD.EventLog"
    local_events = local_events or {}
    peer_events = peer_events or {}
    for prop in block.event_log:
        name = EVENTLOG_NAMES.get(prop.name)
        if name is None:
            run.rule(section, prop, "", "", False, f'"{prop.name}" is not an EventLog property')
            return PolicyError(K.InvalidEventLog, f'unknown EventLog property "{prop.name}"', path=prop.path)
        mine, theirs = local_events.get(name), peer_events.get(name)
        if mine is None or theirs is None:
            where = "both logs" if mine is None and theirs is None else \
                ("the local log" if mine is None else "the peer's log")
            run.rule(section, prop, mine.digest if mine else "", theirs.digest if theirs else "", False,
                     f"event {name} is missing from {where}")
            return PolicyError(K.UnqualifiedMigTdInfo, run.rules[-1].reason, path=prop.path)
        if mine.data is not None:
            if theirs.data is None:
                run.rule(section, prop, mine.data, "", False, f"the peer's {name} event carries no data")
                return PolicyError(K.UnqualifiedMigTdInfo, run.rules[-1].reason, path=prop.path)
            local, peer = mine.data, theirs.data
        else:
            local, peer = mine.digest, theirs.digest
        ok = check(prop.operation, prop.reference, local, peer, run.is_src)
        reason = "" if ok else explain(prop.operation, prop.reference, local, peer, run.is_src)
        run.rule(section, prop, local, peer, ok, reason)
        if not ok:
            return PolicyError(K.UnqualifiedMigTdInfo, reason, path=prop.path)
    return None


def _walk(run: _Run, policy: PolicyV1, local_events: Events, peer_events: Events) -> PolicyError | None:
    err = _platform(run, policy) or _tdx_modules(run, policy)
    if err:
        return err
    for block in policy.blocks:
        if isinstance(block, QeBlock):
            err = run.section(block.qe_identity, "QE.QeIdentity", QE_FIELDS, K.UnqualifiedQeInfo)
        elif isinstance(block, MigTdBlock):
            err = run.section(block.tdinfo, "MigTD.TDINFO", TDINFO_FIELDS, K.UnqualifiedMigTdInfo) \
                or _event_rules(run, block, local_events, peer_events)
        if err:
            return err
    return None


def evaluate_v1(policy: bytes, *, is_source: bool, local_report: bytes, peer_report: bytes,
                local_events: Events = None, peer_events: Events = None) -> PolicyDecision:
    """``verify_policy`` (§2.4): never raises; the decision carries any PolicyError."""
    local_report, peer_report = bytes(local_report), bytes(peer_report)
    for who, rep in (("local", local_report), ("peer", peer_report)):
        if len(rep) < rpt.REPORT_SIZE:
            return PolicyDecision.failed(PolicyError(
                K.InvalidParameter, f"{who} verified report has {len(rep)} bytes, need {rpt.REPORT_SIZE}"),
                version="1")
    try:
        doc = load_v1(policy)
    except PolicyError as exc:
        return PolicyDecision.failed(exc, version="1")
    for who, rep in (("local", local_report), ("peer", peer_report)):
        if len(rep) != rpt.REPORT_SIZE:
            return PolicyDecision.failed(PolicyError(
                K.InvalidParameter, f"{who} verified report has {len(rep)} bytes, expected {rpt.REPORT_SIZE}"),
                version="1")
    run = _Run(is_source, local_report, peer_report)
    err = _walk(run, doc, local_events, peer_events)
    if err:
        return PolicyDecision.failed(err, run.rules, version="1")
    return PolicyDecision.passed(run.rules, version="1")


def _parse_log(raw: bytes, who: str) -> list[eventlog.CcEvent]:
    try:
        return eventlog.parse_event_log(raw)
    except FormatError as exc:
        raise PolicyError(K.InvalidEventLog, f"{who} event log: {exc.message}") from None


def authenticate_v1(policy: bytes, *, is_source: bool, local_report: bytes, local_event_log: bytes,
                    peer_report: bytes, peer_event_log: bytes,
                    tolerate_rtmr_mismatch: bool) -> PolicyDecision:
    """MigTD's ``authenticate_policy`` (§2.7): replay, parse, evaluate. Never raises.

    The peer's log is replayed against the RTMRs of its report; the local log
    is trusted. ``tolerate_rtmr_mismatch`` is the AzCVMEmu behaviour (RTMRs
    cannot be extended in the emulator): the mismatch becomes a note on the
    decision instead of an InvalidEventLog failure. An ``mr_index`` outside
    1..4 is a broken log either way.
    """
    notes: list[str] = []
    try:
        if not local_event_log:
            raise PolicyError(K.InvalidEventLog, "the local event log is not available")
        if not policy:
            raise PolicyError(K.InvalidParameter, "no policy")
        peer_ccel = _parse_log(peer_event_log, "peer")
        try:
            replayed = eventlog.replay_rtmrs(peer_ccel)
        except FormatError as exc:
            raise PolicyError(K.InvalidEventLog, f"peer event log: {exc.message}") from None
        if len(peer_report) >= rpt.REPORT_SIZE and replayed != rpt.rtmrs(peer_report):
            bad = [f"RTMR{i}" for i, (a, b) in enumerate(zip(replayed, rpt.rtmrs(peer_report))) if a != b]
            if not tolerate_rtmr_mismatch:
                raise PolicyError(K.InvalidEventLog,
                                  f"peer event log does not replay to the report's {', '.join(bad)}")
            notes.append(f"peer event log does not replay to {', '.join(bad)}; tolerated (AzCVMEmu)")
        try:
            local_ccel = eventlog.parse_event_log(local_event_log)
        except FormatError as exc:
            raise PolicyError(K.InvalidParameter, f"local event log: {exc.message}") from None
        try:
            local_events = name_events(local_ccel)
        except EventParseError as exc:
            raise PolicyError(K.InvalidParameter, f"local event log: {exc}") from None
        try:
            peer_events = name_events(peer_ccel)
        except EventParseError as exc:
            raise PolicyError(K.InvalidParameter, f"peer event log: {exc}") from None
    except PolicyError as exc:
        return PolicyDecision.failed(exc, version="1", notes=notes)
    decision = evaluate_v1(policy, is_source=is_source, local_report=local_report, peer_report=peer_report,
                           local_events=local_events, peer_events=peer_events)
    decision.notes[:0] = notes
    return decision


__all__ = ["TD_ATTRIBUTES_MASK", "XFAM_MASK", "RefKind", "authenticate_v1", "evaluate_v1", "load_v1", "masked_field"]
