"""Policy v2 end to end: peer authentication and the direction-specific rules (§3.6, §3.9).

Pure functions over bytes already obtained by the caller: the peer's verified
report (822 bytes from quote verification), its event log and its "peer
data" (signed policy + issuer chain), plus our own verified policy and
verified report. Quote verification itself is not done here — the engine
passes its result in — so this module does not depend on the DCAP verifier.

Each ``authenticate_*`` function returns a :class:`PolicyDecision` and never
raises for anything the peer sent.
"""

from __future__ import annotations

import functools
import hashlib
import struct
from collections.abc import Callable
from dataclasses import dataclass
from typing import NamedTuple

from migtd import eventlog
from migtd.attest import suppl as rpt
from migtd.attest.tdreport import TDINFO_SIZE, TDREPORT_SIZE, TdInfo, TeeTcbInfo
from migtd.errors import FormatError
from migtd.policy.decision import PolicyDecision, RuleResult
from migtd.policy.errors import PolicyError, PolicyErrorKind
from migtd.policy.v1_events import EventParseError, NamedEvent, name_events
from migtd.policy.v2 import chain as chainmod
from migtd.policy.v2.collaterals import Collaterals
from migtd.policy.v2.container import parse_container
from migtd.policy.v2.document import Entry
from migtd.policy.v2.evaluate import EvaluationInfo, evaluate_block
from migtd.policy.v2.servtd import Measurements, TdTcbMapping
from migtd.policy.v2.verify import VerifiedPolicy, verify_signed_policy

K = PolicyErrorKind


# --------------------------------------------------------------------------- inputs

def parse_peer_data(blob: bytes) -> tuple[bytes, bytes]:
    """``u32 LE len ‖ policy ‖ u32 LE len ‖ chain``, exact length; InvalidParameter otherwise."""
    blob = bytes(blob)
    parts: list[bytes] = []
    off = 0
    for what in ("policy", "issuer chain"):
        if len(blob) < off + 4:
            raise PolicyError(K.InvalidParameter, f"peer data: no length for the {what}")
        (size,) = struct.unpack_from("<I", blob, off)
        off += 4
        if len(blob) < off + size:
            raise PolicyError(K.InvalidParameter, f"peer data: {what} of {size} bytes runs past the end")
        parts.append(blob[off:off + size])
        off += size
    if off != len(blob):
        raise PolicyError(K.InvalidParameter, f"peer data: {len(blob) - off} trailing bytes")
    return parts[0], parts[1]


def build_peer_data(policy: bytes, chain: bytes) -> bytes:
    """The inverse of :func:`parse_peer_data` (what a MigTD sends in the pre-session exchange)."""
    return struct.pack("<I", len(policy)) + policy + struct.pack("<I", len(chain)) + chain


def _svn_facts(peer_policy: VerifiedPolicy, target: Measurements) -> dict[str, object]:
    svn = peer_policy.tcb_mapping.engine_svn(target)
    if svn is None:
        return {}
    level = peer_policy.td_identity.tcb_level(svn)
    facts: dict[str, object] = {"migtd_isvsvn": svn}
    if level is not None:
        facts.update(migtd_tcb_date=level.tcb_date, migtd_tcb_status=level.tcb_status)
    return facts


#: evaluation_info results: (report, fmspc, id(identity_of), id(collaterals)) -> (identity_of, collaterals, info).
#: The entry holds the two objects, so while it exists no other object can take their ids.
_INFO_MEMO: dict[tuple[bytes, bytes | None, int, int], tuple[VerifiedPolicy, Collaterals, EvaluationInfo]] = {}
_INFO_MEMO_MAX = 4096


def evaluation_info(report: bytes, *, identity_of: VerifiedPolicy, collaterals: Collaterals,
                    fmspc: bytes | None = None) -> EvaluationInfo:
    """``setup_evaluation_data`` (§3.6) from a verified report.

    ``identity_of`` is the policy whose TCB mapping and TD identity classify
    the MigTD engine (the peer's own for a peer, ours for ourselves);
    ``collaterals`` are always the *evaluating* MigTD's. ``fmspc`` defaults
    to the report's FMSPC field (the same value the PCK certificate holds).

    The facts are a pure function of the report bytes and the two (frozen)
    documents, and a fleet matrix asks for the same ones for every class
    pair, so a result is remembered per report and per document *object*
    (a failure is not remembered: it raises again).
    """
    report = bytes(report)
    key = (report, None if fmspc is None else bytes(fmspc), id(identity_of), id(collaterals))
    hit = _INFO_MEMO.get(key)
    if hit is not None and hit[0] is identity_of and hit[1] is collaterals:
        return hit[2]
    info = _evaluation_info(report, identity_of, collaterals, fmspc)
    if len(_INFO_MEMO) >= _INFO_MEMO_MAX:
        _INFO_MEMO.clear()
    _INFO_MEMO[key] = (identity_of, collaterals, info)
    return info


def _evaluation_info(report: bytes, identity_of: VerifiedPolicy, collaterals: Collaterals,
                     fmspc: bytes | None) -> EvaluationInfo:
    if len(report) < rpt.REPORT_SIZE or len(report) % 2:
        raise PolicyError(K.InvalidParameter, f"verified report has {len(report)} bytes, need {rpt.REPORT_SIZE}")
    fm = fmspc if fmspc is not None else rpt.field(report, "FMSPC")
    try:
        status = rpt.tcb_status(report)
    except FormatError:
        raise PolicyError(K.InvalidParameter, "TCB_STATUS of the verified report is not UTF-8") from None
    try:
        date = rpt.iso8601(rpt.tcb_date_seconds(report))
    except FormatError as exc:
        raise PolicyError(K.InvalidParameter, exc.message) from None
    target = Measurements.from_bytes(*(rpt.field(report, n) for n in ("MRTD", "RTMR0", "RTMR1", "RTMR2", "RTMR3")))
    return EvaluationInfo(
        tcb_date=date, tcb_status=status, fmspc=fm,
        tcb_evaluation_number=collaterals.tcb_evaluation_number(fm),
        pck_crl_num=collaterals.pck_crl_num, root_ca_crl_num=collaterals.root_ca_crl_num,
        **_svn_facts(identity_of, target),  # type: ignore[arg-type]
    )


def evaluation_info_from_tdreport(tdreport: bytes, *, identity_of: VerifiedPolicy) -> EvaluationInfo:
    """Facts of a rebinding peer known only by its TDREPORT (MRTD/RTMR0/RTMR1)."""
    tdreport = bytes(tdreport)
    if len(tdreport) < TDREPORT_SIZE:
        raise PolicyError(K.InvalidTdReport, f"TDREPORT has {len(tdreport)} bytes, need {TDREPORT_SIZE}")
    target = _measurements(TdInfo.parse(tdreport))
    return EvaluationInfo(tee_tcb_svn=TeeTcbInfo.parse(tdreport).tee_tcb_svn,
                          **_svn_facts(identity_of, target))  # type: ignore[arg-type]


def check_policy_integrity(peer_events: dict[str, NamedEvent], peer_policy_file: bytes) -> None:
    """The peer's MigTdPolicy event must be SHA-384 of the signed policy it sent."""
    event = peer_events.get("MigTdPolicy")
    if event is None:
        raise PolicyError(K.PolicyHashMismatch, "the peer's event log has no policy event")
    if event.digest != _sha384(bytes(peer_policy_file)):
        raise PolicyError(K.PolicyHashMismatch, "the peer's policy is not the one its event log measured")


@dataclass(frozen=True)
class AuthenticatedPeer:
    """What §3.9.2 establishes about a peer before the direction-specific rules."""

    policy: VerifiedPolicy
    info: EvaluationInfo
    notes: tuple[str, ...] = ()


def chain_rule(rules: list[RuleResult], name: str, local: bytes, peer: bytes) -> None:
    """The ``chains.<name>`` rule: the peer's chain has our root and leaf subject (PeerCertChainValidation)."""
    try:
        chainmod.validate_peer_chain(local, peer)
    except chainmod.ChainError as exc:
        rules.append(RuleResult("chains", name, "same-root", "local chain", "", "", False, str(exc), name))
        raise PolicyError(K.PeerCertChainValidation, f"{name}: {exc}") from None
    rules.append(RuleResult("chains", name, "same-root", "local chain", "", "", True, "", name))


def authenticate_remote_common(local: VerifiedPolicy, *, peer_report: bytes, peer_event_log: bytes,
                               peer_policy: bytes, peer_chain: bytes, tolerate_rtmr_mismatch: bool,
                               rules: list[RuleResult], peer_fmspc: bytes | None = None
                               ) -> AuthenticatedPeer:
    """§3.9.2 step 2–3 for a peer whose quote already verified; raises PolicyError."""
    notes: list[str] = []
    _check_peer_container(bytes(peer_policy))
    try:
        parsed, replayed_t = _replayed_log(bytes(peer_event_log))
    except FormatError as exc:
        raise PolicyError(K.InvalidEventLog, f"peer event log: {exc.message}") from None
    ccel, replayed = list(parsed), list(replayed_t)
    if len(peer_report) >= rpt.REPORT_SIZE and replayed != rpt.rtmrs(peer_report):
        if not tolerate_rtmr_mismatch:
            raise PolicyError(K.InvalidEventLog, "the peer's event log does not replay to its RTMRs")
        notes.append("peer event log does not replay to its RTMRs; tolerated (AzCVMEmu)")
    peer = verify_signed_policy(peer_policy, peer_chain)
    chain_rule(rules, "policy_issuer_chain", local.policy_chain, peer.policy_chain)
    chain_rule(rules, "servtd_identity_issuer_chain", local.identity_chain, peer.identity_chain)
    chain_rule(rules, "servtd_tcb_mapping_issuer_chain", local.mapping_chain, peer.mapping_chain)
    try:
        events = name_events(ccel)
    except EventParseError as exc:
        raise PolicyError(K.InvalidEventLog, f"peer event log: {exc}") from None
    try:
        check_policy_integrity(events, peer_policy)
    except PolicyError as exc:
        rules.append(RuleResult("integrity", "MigTdPolicy", "equal", "SHA-384(peer policy)", "", "", False,
                                exc.detail, "integrity"))
        raise
    rules.append(RuleResult("integrity", "MigTdPolicy", "equal", "SHA-384(peer policy)",
                            "", _sha384(bytes(peer_policy)).hex().upper(), True, "", "integrity"))
    info = evaluation_info(peer_report, identity_of=peer, collaterals=local.collaterals, fmspc=peer_fmspc)
    return AuthenticatedPeer(peer, info, tuple(notes))


@functools.lru_cache(maxsize=1024)
def _replayed_log(log: bytes) -> tuple[tuple[eventlog.CcEvent, ...], tuple[bytes, ...]]:
    """A peer event log's events and the RTMRs they replay to, cached by content (FormatError is not cached)."""
    events = eventlog.parse_event_log(log)
    return tuple(events), tuple(eventlog.replay_rtmrs(events))


@functools.lru_cache(maxsize=32)
def _sha384(data: bytes) -> bytes:
    """SHA-384 of a peer's policy file, cached by content (the same peer policy is hashed for every peer)."""
    return hashlib.sha384(data).digest()


@functools.lru_cache(maxsize=32)
def _check_peer_container(peer_policy: bytes) -> None:
    """The peer policy is a signed container (InvalidPolicy naming "peer policy" otherwise).

    Only the verdict matters here, and it is a pure function of the bytes: a
    fleet matrix judges the same peer policy for every class pair, so a
    success is cached by content (a failure raises again each time).
    """
    parse_container(peer_policy, "policyData", path="peer policy")


def relative_reference(local: VerifiedPolicy, local_report: bytes) -> EvaluationInfo:
    """Our own facts, used for "self"/"init" references (classified with our own documents)."""
    return evaluation_info(local_report, identity_of=local, collaterals=local.collaterals)


# --------------------------------------------------------------------------- direction rules

def _svn_rule(rules: list[RuleResult], newer: str, new_svn: int, old_svn: int) -> None:
    """The ``newer`` side's (the peer's) policySvn must not be below ours: local = reference = ``old_svn``."""
    ok = new_svn >= old_svn
    reason = "" if ok else f"the {newer}'s policySvn {new_svn} is below {old_svn}"
    rules.append(RuleResult("policySvn", "policySvn", "greater-or-equal", str(old_svn), str(old_svn), str(new_svn),
                            ok, reason, "policyData.policySvn"))
    if not ok:
        raise PolicyError(K.SvnMismatch, reason, path="policyData.policySvn")


def check_policy_svn(checked: int, local: int) -> None:
    """Policy-SVN rule as a bare check: the checked (newer) side must not be older (V2-57)."""
    _svn_rule([], "peer", checked, local)


def _decide(run: Callable[[list[RuleResult], list[str]], None], version: str = "2.0") -> PolicyDecision:
    rules: list[RuleResult] = []
    notes: list[str] = []
    try:
        run(rules, notes)
    except PolicyError as exc:
        return PolicyDecision.failed(exc, rules, version=version, notes=notes)
    return PolicyDecision.passed(rules, version=version, notes=notes)


def _migration_peer(local: VerifiedPolicy, direction: tuple[Entry, ...] | None, rules: list[RuleResult],
                    notes: list[str], *, local_report: bytes, peer_report: bytes, peer_event_log: bytes,
                    peer_policy: bytes, peer_chain: bytes, tolerate_rtmr_mismatch: bool) -> AuthenticatedPeer:
    """What both migration directions check: §3.9.2, then ``policy`` and the direction's rules."""
    peer = authenticate_remote_common(local, peer_report=peer_report, peer_event_log=peer_event_log,
                                      peer_policy=peer_policy, peer_chain=peer_chain,
                                      tolerate_rtmr_mismatch=tolerate_rtmr_mismatch, rules=rules)
    notes.extend(peer.notes)
    rel = relative_reference(local, local_report)
    evaluate_block(local.data.policy, peer.info, rel, False, rules)
    evaluate_block(direction, peer.info, rel, False, rules)
    return peer


def authenticate_migration_dest(local: VerifiedPolicy, *, local_report: bytes, peer_report: bytes,
                                peer_event_log: bytes, peer_policy: bytes, peer_chain: bytes,
                                tolerate_rtmr_mismatch: bool = False) -> PolicyDecision:
    """Source checks destination: ``policy`` then ``forwardPolicy``; dst policySvn ≥ src's."""
    def run(rules: list[RuleResult], notes: list[str]) -> None:
        peer = _migration_peer(local, local.data.forward_policy, rules, notes, local_report=local_report,
                               peer_report=peer_report, peer_event_log=peer_event_log, peer_policy=peer_policy,
                               peer_chain=peer_chain, tolerate_rtmr_mismatch=tolerate_rtmr_mismatch)
        _svn_rule(rules, "destination", peer.policy.policy_svn, local.policy_svn)
    return _decide(run)


def authenticate_migration_source(local: VerifiedPolicy, *, local_report: bytes, peer_report: bytes,
                                  peer_event_log: bytes, peer_policy: bytes, peer_chain: bytes,
                                  tolerate_rtmr_mismatch: bool = False, init_tdinfo: bytes | None = None,
                                  servtd_ext: bytes | None = None, accept_module_form: bool = False
                                  ) -> PolicyDecision:
    """Destination checks source: ``policy`` then ``backwardPolicy``.

    With ``init_tdinfo`` and the source's ``servtd_ext`` (upstream's
    ``authenticate_migration_source_with_init_tdinfo``, SPDM on real hardware)
    the init-TDINFO checks of :func:`check_init_tdinfo` follow, in upstream's
    order, with the owner taken from the verified report. Upstream's AzCVMEmu
    build skips them, so the emulated engine passes None.
    """
    def run(rules: list[RuleResult], notes: list[str]) -> None:
        _migration_peer(local, local.data.backward_policy, rules, notes, local_report=local_report,
                        peer_report=peer_report, peer_event_log=peer_event_log, peer_policy=peer_policy,
                        peer_chain=peer_chain, tolerate_rtmr_mismatch=tolerate_rtmr_mismatch)
        if init_tdinfo is not None:
            if len(peer_report) < rpt.REPORT_SIZE:
                raise PolicyError(K.InvalidParameter,
                                  f"verified report has {len(peer_report)} bytes, need {rpt.REPORT_SIZE}")
            peer = PeerIdentity(rpt.field(peer_report, "MROWNER"), rpt.field(peer_report, "MROWNERCONFIG"),
                                Measurements.from_bytes(*(rpt.field(peer_report, n)
                                                          for n in ("MRTD", "RTMR0", "RTMR1"))))
            check_init_tdinfo(rules, local.tcb_mapping, init_tdinfo, servtd_ext or b"", peer,
                              accept_module_form=accept_module_form)
    return _decide(run)


def authenticate_rebinding_new(local: VerifiedPolicy, *, peer_policy: VerifiedPolicy, peer_tdreport: bytes,
                               rel: EvaluationInfo | None = None) -> PolicyDecision:
    """Old MigTD checks the new one: ``policy`` then ``forwardPolicy`` without Global rules."""
    def run(rules: list[RuleResult], notes: list[str]) -> None:
        info = evaluation_info_from_tdreport(peer_tdreport, identity_of=peer_policy)
        relative = rel or EvaluationInfo()
        evaluate_block(local.data.policy, info, relative, True, rules)
        evaluate_block(local.data.forward_policy, info, relative, True, rules)
        _svn_rule(rules, "new MigTD", peer_policy.policy_svn, local.policy_svn)
    return _decide(run)


def authenticate_rebinding_old(local: VerifiedPolicy, *, peer_policy: VerifiedPolicy, peer_tdreport: bytes,
                               init_tdinfo: bytes | None = None, servtd_ext: bytes | None = None,
                               rel: EvaluationInfo | None = None, accept_module_form: bool = False
                               ) -> PolicyDecision:
    """New MigTD checks the old one (upstream ``authenticate_rebinding_old``).

    Order, which decides the error of a peer that fails several checks: the
    init-TDINFO checks of :func:`check_init_tdinfo` against the peer's
    TDREPORT (owner and policy SVN, SERVTD_EXT hash, engine not older than
    the init engine) when ``init_tdinfo`` is given, then ``backwardPolicy``
    without Global rules.
    """
    def run(rules: list[RuleResult], notes: list[str]) -> None:
        info = evaluation_info_from_tdreport(peer_tdreport, identity_of=peer_policy)
        if init_tdinfo is not None:
            peer_info = TdInfo.parse(bytes(peer_tdreport))
            peer = PeerIdentity(peer_info.mrowner, peer_info.mrownerconfig, _measurements(peer_info))
            check_init_tdinfo(rules, local.tcb_mapping, init_tdinfo, servtd_ext or b"", peer,
                              accept_module_form=accept_module_form)
        evaluate_block(local.data.backward_policy, info, rel or EvaluationInfo(), True, rules)
    return _decide(run)


# --------------------------------------------------------------------------- init-TDINFO checks

def _tdinfo(tdinfo: bytes) -> TdInfo:
    """A TDINFO_STRUCT given on its own (at least 512 bytes, else InvalidParameter)."""
    if len(tdinfo) < TDINFO_SIZE:
        raise PolicyError(K.InvalidParameter, f"TDINFO has {len(tdinfo)} bytes, need {TDINFO_SIZE}")
    return TdInfo.parse(bytes(tdinfo), base=0)


def _measurements(info: TdInfo) -> Measurements:
    """MRTD/RTMR0/RTMR1: what a TCB mapping matches a TDINFO by."""
    return Measurements.from_bytes(info.mrtd, info.rtmrs[0], info.rtmrs[1])


def tdinfo_measurements(tdinfo: bytes) -> Measurements:
    """MRTD/RTMR0/RTMR1 of a 512-byte TDINFO_STRUCT."""
    return _measurements(_tdinfo(tdinfo))


def _svn_of(config: bytes) -> int:
    return int.from_bytes(config[:4], "little")


def verify_peer_init_tdinfo_against_owner(init_tdinfo: bytes, peer_mrowner: bytes, peer_mrownerconfig: bytes
                                          ) -> None:
    """Init MigTD and peer have the same policy owner and the peer's policy SVN is not older."""
    if len(init_tdinfo) != TDINFO_SIZE or len(peer_mrowner) != 48 or len(peer_mrownerconfig) != 48:
        raise PolicyError(K.InvalidParameter, "init TDINFO must be 512 bytes, MROWNER/MROWNERCONFIG 48 bytes")
    init = _tdinfo(init_tdinfo)
    init_owner, init_config = init.mrowner, init.mrownerconfig
    if init_owner != peer_mrowner:
        raise PolicyError(K.PolicyHashMismatch, "the peer's MROWNER (policy signer) differs from the init MigTD's")
    if any(init_config[4:]):
        raise PolicyError(K.InvalidParameter, "init MROWNERCONFIG has non-zero bytes after the policy SVN")
    if any(peer_mrownerconfig[4:]):
        raise PolicyError(K.InvalidParameter, "peer MROWNERCONFIG has non-zero bytes after the policy SVN")
    if _svn_of(init_config) > _svn_of(peer_mrownerconfig):
        raise PolicyError(K.SvnMismatch, f"the peer's policy SVN {_svn_of(peer_mrownerconfig)} is below "
                                         f"the init MigTD's {_svn_of(init_config)}")


def verify_peer_init_tdinfo_against_suppl_data(init_tdinfo: bytes, suppl: bytes) -> None:
    """As above with MROWNER/MROWNERCONFIG taken from an 822-byte verified report."""
    if len(suppl) < rpt.REPORT_SIZE:
        raise PolicyError(K.InvalidParameter, f"verified report has {len(suppl)} bytes, need {rpt.REPORT_SIZE}")
    verify_peer_init_tdinfo_against_owner(init_tdinfo, rpt.field(suppl, "MROWNER"), rpt.field(suppl, "MROWNERCONFIG"))


#: init_attr bit -> (offset, size) of the TDINFO field it excludes from the ServtdExt hash.
_SERVTD_EXT_FIELDS = {32: (0, 8), 33: (8, 8), 34: (16, 48), 35: (64, 48), 36: (112, 48), 37: (160, 48),
                      38: (208, 48), 39: (256, 48), 40: (304, 48), 41: (352, 48)}


def masked_tdinfo(tdinfo: bytes, init_attr: int) -> bytes:
    """The 512-byte TDINFO with the fields selected by ``init_attr`` zeroed."""
    if len(tdinfo) < TDINFO_SIZE:
        raise PolicyError(K.InvalidParameter, f"TDINFO has {len(tdinfo)} bytes, need {TDINFO_SIZE}")
    buf = bytearray(tdinfo[:TDINFO_SIZE])
    for bit, (off, size) in _SERVTD_EXT_FIELDS.items():
        if init_attr >> bit & 1:
            buf[off:off + size] = bytes(size)
    return bytes(buf)


def servtd_ext_hash(tdinfo: bytes, init_attr: int) -> bytes:
    """SHA-384 of the TDINFO with the fields selected by ``init_attr`` zeroed."""
    return hashlib.sha384(masked_tdinfo(tdinfo, init_attr)).digest()


def module_info_hash(tdinfo: bytes, servtd_type: int = 0, attr: int = 0) -> bytes:
    """``SHA-384(SHA-384(TDINFO) ‖ type u16 ‖ attr u64)``: the TDX module's SERVTD_INFO_HASH form.

    Upstream's emulator stores this form in SERVTD_INIT_SERVTD_INFO_HASH while
    its verifier compares the plain one (protocol.md §7); see
    :func:`verify_init_tdinfo`.
    """
    return hashlib.sha384(hashlib.sha384(tdinfo).digest() + struct.pack("<HQ", servtd_type, attr)).digest()


#: SERVTD_EXT size (protocol.md §7): init hash 48, init attr 8, … current attr 8, reserved 104.
SERVTD_EXT_SIZE = 272
#: Names of the two SERVTD_EXT init-hash forms, as the ``init.servtd_ext_hash`` rule reports them.
PLAIN_FORM = "SHA-384(TDINFO)"
MODULE_FORM = "SHA-384(SHA-384(TDINFO) || type || attr)"


def verify_init_tdinfo(init_tdinfo: bytes, servtd_ext: bytes, *, accept_module_form: bool = False
                       ) -> tuple[bytes, str]:
    """Upstream ``verify_init_tdinfo``: the init TDINFO must match SERVTD_EXT's init hash.

    SERVTD_EXT shorter than 272 bytes is InvalidParameter (a longer one is
    read from its start, as upstream reads it); the TDINFO, with the fields
    SERVTD_EXT's ``init_attr`` selects zeroed, must hash to
    ``init_servtd_info_hash`` (else InvalidTdReport). Returns that *masked*
    TDINFO — what the engine check classifies, as upstream does — and the
    form that matched. With ``accept_module_form`` the TDX-module form
    (:func:`module_info_hash` of the masked TDINFO) is accepted too.
    """
    if len(servtd_ext) < SERVTD_EXT_SIZE:
        raise PolicyError(K.InvalidParameter, f"SERVTD_EXT is {len(servtd_ext)} bytes, need {SERVTD_EXT_SIZE}")
    expected = bytes(servtd_ext[0:48])
    init_attr = struct.unpack_from("<Q", servtd_ext, 48)[0]
    masked = masked_tdinfo(init_tdinfo, init_attr)
    if hashlib.sha384(masked).digest() == expected:
        return masked, PLAIN_FORM
    if accept_module_form and module_info_hash(masked, 0, init_attr) == expected:
        return masked, MODULE_FORM
    raise PolicyError(K.InvalidTdReport, "the init TDINFO does not match SERVTD_EXT's init_servtd_info_hash")


def check_servtd_ext_hash(tdinfo: bytes, init_attr: int, expected: bytes) -> bytes:
    """The init TDINFO, masked by ``init_attr``, must hash to ``expected`` (else InvalidTdReport).

    Returns the masked TDINFO.
    """
    masked = masked_tdinfo(tdinfo, init_attr)
    if hashlib.sha384(masked).digest() != bytes(expected):
        raise PolicyError(K.InvalidTdReport, "the init TDINFO does not match the ServtdExt hash")
    return masked


def check_engine_not_older(mapping: TdTcbMapping, peer: Measurements, init: Measurements) -> None:
    """Both engines must be in *our* TCB mapping, and the peer's SVN ≥ the init MigTD's."""
    peer_svn, init_svn = mapping.engine_svn(peer), mapping.engine_svn(init)
    if peer_svn is None or init_svn is None:
        raise PolicyError(K.SvnMismatch, "an engine is not in the local TCB mapping")
    if peer_svn < init_svn:
        raise PolicyError(K.SvnMismatch, f"the peer's engine SVN {peer_svn} is below the init MigTD's {init_svn}")


class PeerIdentity(NamedTuple):
    """What the init-TDINFO checks compare with: the peer's owner, owner config and engine measurements,
    taken from its verified TDREPORT (rebinding) or verified quote (migration)."""

    mrowner: bytes
    mrownerconfig: bytes
    engine: Measurements


def _init_rule(field: str, operation: str, reference: str, local: str, actual: str,
               error: PolicyError | None = None) -> RuleResult:
    return RuleResult("init", field, operation, reference, local, actual, error is None,
                      error.detail if error is not None else "", f"init.{field}")


def check_init_tdinfo(rules: list[RuleResult], mapping: TdTcbMapping, init_tdinfo: bytes, servtd_ext: bytes,
                      peer: PeerIdentity, *, accept_module_form: bool = False) -> None:
    """The init-TDINFO checks of a peer, in upstream's order (policy.md §3.9.3); raises the first failure.

    1. ``init.owner``: the init MigTD has the peer's MROWNER (policy signer)
       and a policy SVN not above the peer's (:func:`verify_peer_init_tdinfo_against_owner`);
    2. ``init.servtd_ext_hash``: the init TDINFO matches SERVTD_EXT
       (:func:`verify_init_tdinfo`), which yields the masked init TDINFO;
    3. ``init.engine_not_older``: the peer's engine and the *masked* init
       engine both resolve in our TCB mapping, the peer's SVN not below the
       init one. Masking matters when ``init_attr`` selects MRTD, RTMR0 or
       RTMR1 (bits 34, 38, 39): the zeroed register is what is classified.

    Each check becomes one ``init.*`` rule, so an operator sees which one refused.
    """
    owner = ("owner", "equal", "peer MROWNER; init policy SVN <= peer's", "",
             f"policy SVN {_svn_of(init_tdinfo[160:164])}" if len(init_tdinfo) >= 164 else "")
    try:
        verify_peer_init_tdinfo_against_owner(init_tdinfo, peer.mrowner, peer.mrownerconfig)
    except PolicyError as exc:
        rules.append(_init_rule(*owner, error=exc))
        raise
    rules.append(_init_rule(*owner))
    ext = ("servtd_ext_hash", "equal", "SERVTD_EXT init hash", "")
    try:
        masked, form = verify_init_tdinfo(init_tdinfo, servtd_ext, accept_module_form=accept_module_form)
    except PolicyError as exc:
        rules.append(_init_rule(*ext, "", error=exc))
        raise
    rules.append(_init_rule(*ext, form))
    init_engine = tdinfo_measurements(masked)
    init_svn, peer_svn = (_svn_text(mapping.engine_svn(m)) for m in (init_engine, peer.engine))
    engine = ("engine_not_older", "greater-or-equal", "init engine SVN", init_svn, peer_svn)
    try:
        check_engine_not_older(mapping, peer.engine, init_engine)
    except PolicyError as exc:
        rules.append(_init_rule(*engine, error=exc))
        raise
    rules.append(_init_rule(*engine))


def _svn_text(svn: int | None) -> str:
    return "not in the TCB mapping" if svn is None else str(svn)


def verify_init_migtd_data_policy_binding(local: VerifiedPolicy, init_tdinfo: bytes) -> None:
    """Before MSK exchange: the init MigTD ran a policy signed by our signer, not newer than ours."""
    init = _tdinfo(init_tdinfo)
    try:
        signer = chainmod.signer_key_hash(local.policy_chain)
    except chainmod.ChainError as exc:
        raise PolicyError(K.InvalidCollateral, str(exc)) from None
    if init.mrowner != signer:
        raise PolicyError(K.PolicyHashMismatch, "the init MigTD's MROWNER is not our policy signer's key hash")
    config = init.mrownerconfig
    if any(config[4:]):
        raise PolicyError(K.InvalidParameter, "init MROWNERCONFIG has non-zero bytes after the policy SVN")
    if _svn_of(config) > local.policy_svn:
        raise PolicyError(K.SvnMismatch, f"the init MigTD's policy SVN {_svn_of(config)} is above ours "
                                         f"({local.policy_svn})")


def verify_own_tdinfo(local: VerifiedPolicy, mrowner: bytes, mrownerconfig: bytes) -> None:
    """Start-up binding (not under AzCVMEmu): MROWNERCONFIG = policySvn ‖ 0⁴⁴, MROWNER = signer hash."""
    if bytes(mrownerconfig) != struct.pack("<I", local.policy_svn) + bytes(44):
        raise PolicyError(K.SvnMismatch, "MROWNERCONFIG does not carry this policy's SVN")
    try:
        signer = chainmod.signer_key_hash(local.policy_chain)
    except chainmod.ChainError as exc:
        raise PolicyError(K.InvalidCollateral, str(exc)) from None
    if bytes(mrowner) != signer:
        raise PolicyError(K.PolicyHashMismatch, "MROWNER is not the policy signer's key hash")
