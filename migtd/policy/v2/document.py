"""The ``policyData`` schema of policy v2 (spec/policy.md §3.3).

Parsing validates types only; operations are judged when a rule is evaluated
(an unknown operation is InvalidOperation then, not a parse error), which is
upstream's split. Every parse failure is PolicyError(InvalidPolicy) naming
the JSON path.
"""

from __future__ import annotations

import enum
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, TypeVar

from migtd.policy import jsontext
from migtd.policy.errors import PolicyError, PolicyErrorKind

K = PolicyErrorKind
U32_MAX = 2**32 - 1
U16_MAX = 2**16 - 1
T = TypeVar("T")


class RefKind(enum.Enum):
    INTEGER = "integer"
    STRING = "string"
    INTEGER_LIST = "integer-list"
    STRING_LIST = "string-list"


@dataclass(frozen=True)
class Prop:
    """``{"operation", "reference"}`` of one v2 rule; ``text`` is the reference as written."""

    operation: str
    kind: RefKind
    value: Any
    text: str
    path: str = ""


def _bad(path: str, problem: str) -> PolicyError:
    return PolicyError(K.InvalidPolicy, problem, path=path)


def _is_u(value: Any, limit: int) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and 0 <= value <= limit


def make_prop(operation: str, reference: Any, path: str = "") -> Prop:
    """Classify a reference (u32, string, list of u32 — ``[]`` included — or list of strings)."""
    text = reference if isinstance(reference, str) else jsontext.compact(reference)
    if _is_u(reference, U32_MAX):
        return Prop(operation, RefKind.INTEGER, reference, text, path)
    if isinstance(reference, str):
        return Prop(operation, RefKind.STRING, str(reference), text, path)
    if isinstance(reference, list):
        if all(_is_u(v, U32_MAX) for v in reference):
            return Prop(operation, RefKind.INTEGER_LIST, tuple(reference), text, path)
        if all(isinstance(v, str) for v in reference):
            return Prop(operation, RefKind.STRING_LIST, tuple(str(v) for v in reference), text, path)
    raise _bad(f"{path}.reference" if path else "reference",
               "reference must be a u32, a string, or an array of u32 or of strings")


def obj(value: Any, path: str, required: tuple[str, ...] = ()) -> dict[str, Any]:
    """An object with its required members and no duplicated member names."""
    if not isinstance(value, dict):
        raise _bad(path, "must be an object")
    dups: frozenset[str] = getattr(value, "duplicates", frozenset())
    if dups:
        raise _bad(path, f'duplicate member "{min(dups)}"')
    for key in required:
        if key not in value:
            raise _bad(path, f'missing "{key}"')
    return value


def u_int(value: Any, path: str, limit: int = U32_MAX) -> int:
    """An integer in ``0..limit`` (JSON booleans are not integers here)."""
    if not _is_u(value, limit):
        raise _bad(path, f"must be an integer in 0..{limit}")
    return int(value)


def string(value: Any, path: str) -> str:
    """A JSON string."""
    if not isinstance(value, str):
        raise _bad(path, "must be a string")
    return str(value)


def array(value: Any, path: str) -> list[Any]:
    """A JSON array (InvalidPolicy naming ``path`` otherwise)."""
    if not isinstance(value, list):
        raise _bad(path, "must be an array")
    return value


def member(o: dict[str, Any], path: str, key: str, read: Callable[..., T], *args: Any) -> T:
    """``read(o[key], "<path>.<key>", *args)``: one member of an object already checked by :func:`obj`."""
    return read(o[key], f"{path}.{key}", *args)


def _prop(value: Any, path: str) -> Prop:
    o = obj(value, path, ("operation", "reference"))
    return make_prop(string(o["operation"], f"{path}.operation"), o["reference"], path)


def _props(value: Any, path: str, names: tuple[str, ...]) -> dict[str, Prop]:
    o = obj(value, path)
    return {n: _prop(o[n], f"{path}.{n}") for n in names if n in o and o[n] is not None}


@dataclass(frozen=True)
class GlobalPolicy:
    tcb: dict[str, Prop]
    platform: dict[str, Prop]
    crl: dict[str, Prop]
    path: str = ""


@dataclass(frozen=True)
class ServtdPolicy:
    migtd_identity: dict[str, Prop]
    path: str = ""


Entry = GlobalPolicy | ServtdPolicy


def parse_global(value: Any, path: str) -> GlobalPolicy:
    """A ``global`` entry: its optional ``tcb``, ``platform`` and ``crl`` rule groups."""
    o = obj(value, path)
    tcb = _props(o["tcb"], f"{path}.tcb", ("tcbEvaluationDataNumber", "tcbStatusAccepted", "tcbDate")) \
        if o.get("tcb") is not None else {}
    platform = _props(o["platform"], f"{path}.platform", ("fmspc",)) if o.get("platform") is not None else {}
    crl = _props(o["crl"], f"{path}.crl", ("pckCrlNum", "rootCaCrlNum")) if o.get("crl") is not None else {}
    return GlobalPolicy(tcb, platform, crl, path)


def parse_servtd(value: Any, path: str) -> ServtdPolicy:
    """A ``servtd`` entry: the ``migtdIdentity`` rules."""
    o = obj(value, path, ("migtdIdentity",))
    ident = _props(o["migtdIdentity"], f"{path}.migtdIdentity", ("isvsvn", "tcbDate", "tcbStatusAccepted"))
    return ServtdPolicy(ident, path)


def parse_entries(value: Any, path: str) -> tuple[Entry, ...] | None:
    """A rule list (``policy``/``forwardPolicy``/``backwardPolicy``); null/absent -> None."""
    if value is None:
        return None
    if not isinstance(value, list):
        raise _bad(path, "must be an array of policy entries")
    entries: list[Entry] = []
    for i, item in enumerate(value):
        where = f"{path}[{i}]"
        if not isinstance(item, dict) or len(item) != 1:
            raise _bad(where, 'an entry must be an object with exactly one key, "global" or "servtd"')
        (key, body), = item.items()
        if key == "global":
            entries.append(parse_global(body, f"{where}.global"))
        elif key == "servtd":
            entries.append(parse_servtd(body, f"{where}.servtd"))
        else:
            raise _bad(where, f'unknown entry "{key}" (expected "global" or "servtd")')
    return tuple(entries)


@dataclass(frozen=True)
class PolicyData:
    """A parsed ``policyData`` (collaterals parsed separately, see collaterals.py)."""

    id: str
    version: str
    policy_svn: int
    policy: tuple[Entry, ...] | None
    forward_policy: tuple[Entry, ...] | None
    backward_policy: tuple[Entry, ...] | None
    collaterals: dict[str, Any]
    servtd_collateral: dict[str, Any]


def parse_policy_data(value: Any, path: str = "policyData") -> PolicyData:
    """The ``policyData`` object (§3.3); InvalidPolicy naming the path on any schema error."""
    o = obj(value, path, ("id", "version", "policySvn", "collaterals", "servtdCollateral"))
    return PolicyData(
        id=member(o, path, "id", string),
        version=member(o, path, "version", string),
        policy_svn=member(o, path, "policySvn", u_int),
        policy=parse_entries(o.get("policy"), f"{path}.policy"),
        forward_policy=parse_entries(o.get("forwardPolicy"), f"{path}.forwardPolicy"),
        backward_policy=parse_entries(o.get("backwardPolicy"), f"{path}.backwardPolicy"),
        collaterals=obj(o["collaterals"], f"{path}.collaterals"),
        servtd_collateral=obj(o["servtdCollateral"], f"{path}.servtdCollateral"),
    )
