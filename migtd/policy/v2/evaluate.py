"""Policy v2 rule evaluation (spec/policy.md §3.6–§3.8).

v2 rules judge *derived facts* about a peer (its platform's TCB status and
date, the TCB evaluation number and CRL numbers of our collateral, the
engine SVN/date/status of its MigTD) rather than raw report bytes. Unlike v1,
a rule that asks for an unsupported operation/reference combination is an
error (InvalidOperation / InvalidReference), not a silent false.

:func:`evaluate_block` appends one :class:`RuleResult` per rule and raises
the PolicyError of the first failure; the flows turn that into a decision.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from migtd.inputs import parse_uint
from migtd.policy.decision import RuleResult
from migtd.policy.errors import PolicyError, PolicyErrorKind
from migtd.policy.v2.document import Entry, GlobalPolicy, Prop, RefKind, ServtdPolicy

K = PolicyErrorKind
U32_MAX = 2**32 - 1

#: Platform TCB status -> rank. Equality/ordering of statuses compare ranks only.
TCB_STATUS_RANK = {
    "UpToDate": 2, "SWHardeningNeeded": 2, "OutOfDate": 2,
    "ConfigurationNeeded": 1, "ConfigurationAndSWHardeningNeeded": 1, "OutOfDateConfigurationNeeded": 1,
    "Revoked": 0,
}
#: ServTD (MigTD engine) status -> rank.
SERVTD_STATUS_RANK = {"UpToDate": 2, "OutOfDate": 2, "Revoked": 0}
_RELATIVE = ("self", "init")
_U32 = re.compile(r"\+?[0-9]+")


@dataclass(frozen=True)
class EvaluationInfo:
    """``PolicyEvaluationInfo``: the facts a v2 rule can test (None = unknown)."""

    tee_tcb_svn: bytes | None = None
    tcb_date: str | None = None
    tcb_status: str | None = None
    tcb_evaluation_number: int | None = None
    fmspc: bytes | None = None
    migtd_isvsvn: int | None = None
    migtd_tcb_date: str | None = None
    migtd_tcb_status: str | None = None
    pck_crl_num: int | None = None
    root_ca_crl_num: int | None = None


def _op_error(prop: Prop) -> PolicyError:
    return PolicyError(K.InvalidOperation, f'operation "{prop.operation}" is not supported with '
                                           f'a {prop.kind.value} reference {prop.text}', path=prop.path)


def _ref_error(prop: Prop, why: str) -> PolicyError:
    return PolicyError(K.InvalidReference, why, path=prop.path)


def _relative(prop: Prop, rel: object) -> object:
    """The local value a "self"/"init" reference stands for; InvalidReference when unknown."""
    if rel is None:
        raise _ref_error(prop, f'"{prop.value}" needs the local MigTD\'s value, which is not known')
    return rel


def _u32(prop: Prop, text: str) -> int:
    value = parse_uint(text, 32) if _U32.fullmatch(text) else None  # Rust's u32 from_str, any length
    if value is None:
        raise _ref_error(prop, f'range bound "{text[:24]}" is not a u32')
    return value


def eval_int(prop: Prop, value: int, rel: int | None) -> bool:
    """``E_int``: integer facts (evaluation number, CRL numbers, engine SVN)."""
    kind = prop.kind
    if kind is RefKind.INTEGER:
        if prop.operation == "equal":
            return value == prop.value
        if prop.operation == "greater-or-equal":
            return value >= prop.value
        raise _op_error(prop)
    if kind is RefKind.STRING:
        if prop.value in _RELATIVE:
            ref = _relative(prop, rel)
            if prop.operation == "equal":
                return value == ref
            if prop.operation == "greater-or-equal":
                return value >= ref  # type: ignore[operator]
            raise _op_error(prop)
        if prop.operation not in ("in-range", "in-time-range"):
            raise _op_error(prop)
        parts = prop.value.split("..")
        if len(parts) != 2:
            raise _op_error(prop)
        start, end = _u32(prop, parts[0]), _u32(prop, parts[1])
        return start <= value <= end
    if kind is RefKind.INTEGER_LIST:
        if prop.operation == "subset":
            return value in prop.value
        raise _op_error(prop)
    raise _ref_error(prop, "a list of strings cannot be compared with an integer")


def eval_str(prop: Prop, value: str, rel: str | None) -> bool:
    """``E_str``: string facts (dates as ISO-8601, FMSPC as upper-case hex)."""
    kind = prop.kind
    if kind is RefKind.STRING:
        ref = _relative(prop, rel) if prop.value in _RELATIVE else prop.value
        if prop.operation == "equal":
            return value == ref
        if prop.operation == "greater-or-equal":
            return value >= ref  # type: ignore[operator]
        raise _op_error(prop)
    if kind is RefKind.STRING_LIST:
        if prop.operation == "allow-list":
            return value in prop.value
        if prop.operation == "deny-list":
            return value not in prop.value
        raise _op_error(prop)
    raise _ref_error(prop, "an integer reference cannot be compared with a string")


def _status(prop: Prop, text: str) -> int:
    rank = TCB_STATUS_RANK.get(text)
    if rank is None:
        raise PolicyError(K.InvalidParameter, f'"{text}" is not a TCB status', path=prop.path)
    return rank


def eval_tcb_status(prop: Prop, value: str, rel: str | None) -> bool:
    """``E_tcb_status``: Revoked never passes, rank-2 statuses always do (§3.7)."""
    rank = TCB_STATUS_RANK[value]
    if rank == 0:
        return False
    if rank == 2:
        return True
    kind = prop.kind
    if kind is RefKind.STRING:
        if prop.value in _RELATIVE:
            ref_rank = _status(prop, str(_relative(prop, rel)))
        else:
            ref_rank = _status(prop, prop.value)
        if prop.operation == "equal":
            return rank == ref_rank
        if prop.operation == "greater-or-equal":
            return rank >= ref_rank
        raise _op_error(prop)
    if kind is RefKind.STRING_LIST:
        for item in prop.value:
            _status(prop, item)
        if prop.operation == "allow-list":
            return "ConfigurationNeeded" in prop.value
        if prop.operation == "deny-list":
            return False
        raise _op_error(prop)
    raise _ref_error(prop, "a TCB status rule needs a string or a list of strings")


def eval_servtd_status(prop: Prop, value: str) -> bool:
    """``E_servtd_status``: UpToDate/OutOfDate pass, Revoked fails; the rule is not inspected."""
    return SERVTD_STATUS_RANK[value] > 0


class _Block:
    def __init__(self, value: EvaluationInfo, rel: EvaluationInfo, rules: list[RuleResult]) -> None:
        self.value = value
        self.rel = rel
        self.rules = rules

    def record(self, section: str, name: str, prop: Prop, local: object, actual: object, ok: bool,
               reason: str) -> None:
        def show(v: object) -> str:
            if v is None:
                return ""
            return v.hex().upper() if isinstance(v, bytes) else str(v)
        self.rules.append(RuleResult(section, name, prop.operation, prop.text, show(local), show(actual), ok,
                                     "" if ok else reason, prop.path))

    def run(self, section: str, name: str, prop: Prop, fn: Callable[[Prop, Any, Any], bool], value: object,
            rel: object, missing: PolicyErrorKind, false: PolicyErrorKind) -> None:
        """Record and judge one rule: ``missing`` when the fact is unknown, ``false`` when it fails."""
        if value is None:
            reason = f"the peer's {name} is not known"
            self.record(section, name, prop, rel, None, False, reason)
            raise PolicyError(missing, reason, path=prop.path)
        try:
            ok = fn(prop, value, rel)
        except PolicyError as exc:
            self.record(section, name, prop, rel, value, False, exc.detail)
            raise
        reason = "" if ok else f"peer value {value} does not satisfy {prop.operation} {prop.text}"
        self.record(section, name, prop, rel, value, ok, reason)
        if not ok:
            raise PolicyError(false, reason, path=prop.path)

    def global_rules(self, g: GlobalPolicy) -> None:
        v, r = self.value, self.rel
        tcb = g.tcb
        if "tcbEvaluationDataNumber" in tcb:
            self.run("global.tcb", "tcbEvaluationDataNumber", tcb["tcbEvaluationDataNumber"], eval_int,
                     v.tcb_evaluation_number, r.tcb_evaluation_number, K.TcbEvaluation, K.TcbEvaluation)
        if "tcbStatusAccepted" in tcb:
            status = v.tcb_status if v.tcb_status in TCB_STATUS_RANK else None
            rel_status = r.tcb_status if r.tcb_status in TCB_STATUS_RANK else None
            self.run("global.tcb", "tcbStatusAccepted", tcb["tcbStatusAccepted"], eval_tcb_status,
                     status, rel_status, K.TcbEvaluation, K.TcbEvaluation)
        if "tcbDate" in tcb:
            self.run("global.tcb", "tcbDate", tcb["tcbDate"], eval_str, v.tcb_date, r.tcb_date,
                     K.TcbEvaluation, K.TcbEvaluation)
        if "fmspc" in g.platform:
            self.run("global.platform", "fmspc", g.platform["fmspc"], eval_str,
                     v.fmspc.hex().upper() if v.fmspc is not None else None,
                     r.fmspc.hex().upper() if r.fmspc is not None else None, K.TcbEvaluation, K.TcbEvaluation)
        if "pckCrlNum" in g.crl:
            self.run("global.crl", "pckCrlNum", g.crl["pckCrlNum"], eval_int, v.pck_crl_num, r.pck_crl_num,
                     K.CrlEvaluation, K.CrlEvaluation)
        if "rootCaCrlNum" in g.crl:
            self.run("global.crl", "rootCaCrlNum", g.crl["rootCaCrlNum"], eval_int, v.root_ca_crl_num,
                     r.root_ca_crl_num, K.CrlEvaluation, K.CrlEvaluation)

    def servtd_rules(self, s: ServtdPolicy) -> None:
        v, r, ident = self.value, self.rel, s.migtd_identity
        if "isvsvn" in ident:
            self.run("servtd.migtdIdentity", "isvsvn", ident["isvsvn"], eval_int, v.migtd_isvsvn, r.migtd_isvsvn,
                     K.UnqualifiedMigTdInfo, K.SvnMismatch)
        if "tcbDate" in ident:
            self.run("servtd.migtdIdentity", "tcbDate", ident["tcbDate"], eval_str, v.migtd_tcb_date,
                     r.migtd_tcb_date, K.UnqualifiedMigTdInfo, K.SvnMismatch)
        if "tcbStatusAccepted" in ident:
            status = v.migtd_tcb_status if v.migtd_tcb_status in SERVTD_STATUS_RANK else None
            self.run("servtd.migtdIdentity", "tcbStatusAccepted", ident["tcbStatusAccepted"],
                     lambda p, val, _rel: eval_servtd_status(p, val), status, r.migtd_tcb_status,
                     K.UnqualifiedMigTdInfo, K.SvnMismatch)

    def mandatory_deny(self, skip_global: bool) -> None:
        v = self.value

        def deny(name: str, actual: str | None, ok: bool, reason: str, kind: PolicyErrorKind) -> None:
            self.rules.append(RuleResult("mandatory", name, "deny", "Revoked", "", actual or "", ok,
                                         "" if ok else reason, "mandatory"))
            if not ok:
                raise PolicyError(kind, reason, path="mandatory")

        if not skip_global and v.tcb_status is not None:
            if v.tcb_status not in TCB_STATUS_RANK:
                deny("tcb_status", v.tcb_status, False, f'"{v.tcb_status}" is not a TCB status',
                     K.InvalidParameter)
            deny("tcb_status", v.tcb_status, v.tcb_status != "Revoked", "the peer's platform TCB is Revoked",
                 K.TcbEvaluation)
        if v.migtd_tcb_status is None:
            deny("migtd_tcb_status", None, False,
                 "the peer's MigTD engine is not in the TCB mapping/identity, so it cannot be classified",
                 K.UnqualifiedMigTdInfo)
        elif v.migtd_tcb_status not in SERVTD_STATUS_RANK:
            deny("migtd_tcb_status", v.migtd_tcb_status, False,
                 f'"{v.migtd_tcb_status}" is not a MigTD TCB status', K.InvalidParameter)
        else:
            deny("migtd_tcb_status", v.migtd_tcb_status, v.migtd_tcb_status != "Revoked",
                 "the peer's MigTD engine TCB is Revoked", K.SvnMismatch)


def evaluate_block(entries: tuple[Entry, ...] | None, value: EvaluationInfo, rel: EvaluationInfo,
                   skip_global: bool, rules: list[RuleResult] | None = None) -> list[RuleResult]:
    """Evaluate one rule list then the mandatory denies; raise the first PolicyError.

    ``rules`` (appended to, and returned) receives one record per rule checked.
    """
    out = rules if rules is not None else []
    block = _Block(value, rel, out)
    for entry in entries or ():
        if isinstance(entry, GlobalPolicy):
            if not skip_global:
                block.global_rules(entry)
        else:
            block.servtd_rules(entry)
    block.mandatory_deny(skip_global)
    return out


def global_eval(g: GlobalPolicy, value: EvaluationInfo, rel: EvaluationInfo) -> list[RuleResult]:
    """Global rules only, no mandatory deny (the upstream ``GlobalPolicy::evaluate``)."""
    out: list[RuleResult] = []
    _Block(value, rel, out).global_rules(g)
    return out
