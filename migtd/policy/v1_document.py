"""Policy v1 documents: parsing and validation (spec/policy.md §2.1, §2.2).

A v1 policy is unsigned JSON that both MigTDs measure into RTMR2. Parsing is
strict where upstream is strict (unknown operations, bad reference types,
malformed id) because a rule the engine silently misread would let a peer
through; every rejection is a :class:`PolicyError` of kind InvalidPolicy
whose message names the JSON path (``policy[3].MigTD.TDINFO.XFAM: ...``).
Unknown *property names* are accepted here and judged at evaluation time,
exactly like upstream, so the failure is reported against the peer check
that hit them.
"""

from __future__ import annotations

import enum
import re
from typing import Any, NamedTuple, cast

from migtd.inputs import parse_uint
from migtd.policy import jsontext
from migtd.policy.errors import PolicyError, PolicyErrorKind

U64_MAX = 2**64 - 1

OPERATIONS = frozenset({
    "equal", "greater-or-equal", "subset", "in-range", "in-time-range",
    "array-equal", "array-greater-or-equal",
})

_GUID = re.compile(r"[0-9A-Fa-f]{8}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{12}")
_DECIMAL = re.compile(r"\+?[0-9]+")


class RefKind(enum.Enum):
    SELF = "self"
    RANGE = "range"
    STRING = "string"
    INTEGER = "integer"
    ARRAY = "array"


class Reference(NamedTuple):
    """A classified reference value; ``text`` is the reference as written."""

    kind: RefKind
    value: Any
    text: str


class Property(NamedTuple):
    """One rule: a property name with its operation and reference."""

    name: str
    operation: str
    reference: Reference
    path: str


class PlatformBlock(NamedTuple):
    fmspc: str
    tcb_info: tuple[Property, ...]
    path: str


class QeBlock(NamedTuple):
    qe_identity: tuple[Property, ...]
    path: str


class TdxModuleBlock(NamedTuple):
    identity: tuple[Property, ...]
    path: str


class MigTdBlock(NamedTuple):
    tdinfo: tuple[Property, ...]
    event_log: tuple[Property, ...]
    path: str


Block = PlatformBlock | QeBlock | TdxModuleBlock | MigTdBlock


class PolicyV1(NamedTuple):
    """A parsed v1 policy: its id and blocks in document order."""

    id: str
    blocks: tuple[Block, ...]

    @property
    def platforms(self) -> list[PlatformBlock]:
        """The Platform blocks, in document order."""
        return [b for b in self.blocks if isinstance(b, PlatformBlock)]

    @property
    def tdx_modules(self) -> list[TdxModuleBlock]:
        """The TDXModule blocks (alternatives, OR-ed), in document order."""
        return [b for b in self.blocks if isinstance(b, TdxModuleBlock)]


class _Invalid(Exception):
    """A shape did not fit; carries the path and problem for the final message."""

    def __init__(self, path: str, problem: str) -> None:
        super().__init__(problem)
        self.path = path
        self.problem = problem


def _invalid(path: str, problem: str) -> PolicyError:
    return PolicyError(PolicyErrorKind.InvalidPolicy, problem, path=path)


def _type_name(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, int):
        return "an integer"
    if isinstance(value, float):
        return "a number with a fraction or exponent"
    if isinstance(value, str):
        return "a string"
    if isinstance(value, list):
        return "an array"
    return "an object"


def classify_reference(value: Any, path: str) -> Reference:
    """Classify a ``reference`` value (§2.1 table); raise _Invalid otherwise."""
    if isinstance(value, str):
        if value == "self":
            return Reference(RefKind.SELF, None, value)
        parts = value.split("..")
        if len(parts) == 2 and all(p == "" or _DECIMAL.fullmatch(p) for p in parts):
            # Rust's u64 from_str: a bound above 2^64-1 (thousands of digits included) is no range
            start = parse_uint(parts[0], 64) if parts[0] else 0
            end = parse_uint(parts[1], 64) if parts[1] else U64_MAX
            if start is not None and end is not None:
                return Reference(RefKind.RANGE, (start, end), value)
        return Reference(RefKind.STRING, str(value), value)
    if isinstance(value, bool):
        raise _Invalid(path, "reference must be a string, a non-negative integer or an array of bytes, "
                             "not a boolean")
    if isinstance(value, int):
        if 0 <= value <= U64_MAX:
            return Reference(RefKind.INTEGER, value, str(value))
        raise _Invalid(path, f"integer reference {value} is outside 0..2^64-1")
    if isinstance(value, list):
        for i, item in enumerate(value):
            if isinstance(item, bool) or not isinstance(item, int) or not 0 <= item <= 255:
                raise _Invalid(f"{path}[{i}]", f"array reference element {jsontext.compact(item)} "
                                               "is not a byte (0..255)")
        return Reference(RefKind.ARRAY, bytes(value), jsontext.compact(value))
    raise _Invalid(path, f"reference must be a string, a non-negative integer or an array of "
                         f"bytes, not {_type_name(value)}")


def _obj(value: Any, path: str, what: str) -> jsontext.JsonObject:
    if not isinstance(value, dict):
        raise _Invalid(path, f"{what} must be an object, not {_type_name(value)}")
    return value  # type: ignore[return-value]


def _struct(value: Any, path: str, what: str, fields: tuple[str, ...]) -> jsontext.JsonObject:
    obj = _obj(value, path, what)
    dups: frozenset[str] = getattr(obj, "duplicates", frozenset()) & set(fields)
    if dups:
        raise _Invalid(path, f'duplicate key "{min(dups)}"')
    return obj


def _property(name: str, value: Any, path: str) -> Property:
    obj = _struct(value, path, "a property", ("operation", "reference"))
    if "operation" not in obj:
        raise _Invalid(path, 'missing "operation"')
    if "reference" not in obj:
        raise _Invalid(path, 'missing "reference"')
    op = obj["operation"]
    if not isinstance(op, str):
        raise _Invalid(f"{path}.operation", f"operation must be a string, not {_type_name(op)}")
    if isinstance(op, jsontext.EscapedStr):
        raise _Invalid(f"{path}.operation", "operation must not contain escape sequences")
    if op not in OPERATIONS:
        raise _Invalid(path, f'unknown operation "{op}"')
    ref = classify_reference(obj["reference"], f"{path}.reference")
    return Property(name, op, ref, path)


def _properties(value: Any, path: str, what: str) -> tuple[Property, ...]:
    obj = _obj(value, path, what)
    props = [_property(name, obj[name], f"{path}.{name}") for name in obj]
    return tuple(sorted(props, key=lambda p: p.name.encode("utf-8")))


def _section(block: jsontext.JsonObject, path: str, key: str, fields: tuple[str, ...],
             absent: str) -> jsontext.JsonObject:
    """``block[key]``, an object whose first of ``fields`` is required (``absent``: message if no ``key``)."""
    if key not in block:
        raise _Invalid(path, absent)
    section = _struct(block[key], f"{path}.{key}", key, fields)
    if fields[0] not in section:
        raise _Invalid(f"{path}.{key}", f'missing "{fields[0]}"')
    return section


def _section_properties(section: jsontext.JsonObject, path: str, name: str) -> tuple[Property, ...]:
    return _properties(section[name], f"{path}.{name}", name)


def _platform(block: jsontext.JsonObject, path: str) -> PlatformBlock:
    _struct(block, path, "a block", ("fmspc", "Platform"))
    if "fmspc" not in block:
        raise _Invalid(path, 'platform block has no "fmspc"')
    fmspc = block["fmspc"]
    if not isinstance(fmspc, str):
        raise _Invalid(f"{path}.fmspc", f"fmspc must be a string, not {_type_name(fmspc)}")
    platform = _section(block, path, "Platform", ("TcbInfo",), 'platform block has no "Platform"')
    return PlatformBlock(str(fmspc), _section_properties(platform, f"{path}.Platform", "TcbInfo"), path)


def _qe(block: jsontext.JsonObject, path: str) -> QeBlock:
    _struct(block, path, "a block", ("QE",))
    qe = _section(block, path, "QE", ("QeIdentity",), 'no "QE"')
    return QeBlock(_section_properties(qe, f"{path}.QE", "QeIdentity"), path)


def _tdx_module(block: jsontext.JsonObject, path: str) -> TdxModuleBlock:
    _struct(block, path, "a block", ("TDXModule",))
    mod = _section(block, path, "TDXModule", ("TDXModule_Identity",), 'no "TDXModule"')
    return TdxModuleBlock(_section_properties(mod, f"{path}.TDXModule", "TDXModule_Identity"), path)


def _migtd(block: jsontext.JsonObject, path: str) -> MigTdBlock:
    _struct(block, path, "a block", ("MigTD",))
    mig = _section(block, path, "MigTD", ("TDINFO", "EventLog"), 'no "MigTD"')
    tdinfo = _section_properties(mig, f"{path}.MigTD", "TDINFO")
    events = () if mig.get("EventLog") is None else _section_properties(mig, f"{path}.MigTD", "EventLog")
    return MigTdBlock(tdinfo, events, path)


# Shapes in the order upstream tries them, with the key that makes a shape the
# one the author evidently meant (used to pick the error message to report).
_SHAPES = (("fmspc", _platform), ("QE", _qe), ("TDXModule", _tdx_module), ("MigTD", _migtd))


def _block(value: Any, path: str) -> Block:
    if not isinstance(value, dict):
        raise _invalid(path, f"a policy block must be an object, not {_type_name(value)}")
    block = cast("jsontext.JsonObject", value)  # jsontext decodes every object as a JsonObject
    first: _Invalid | None = None
    for key, parse in _SHAPES:
        try:
            return parse(block, path)
        except _Invalid as exc:
            if first is None and (key in value or (key == "fmspc" and "Platform" in value)):
                first = exc
    if first is not None:
        raise _invalid(first.path, first.problem)
    raise _invalid(path, 'block matches none of the shapes Platform ("fmspc" + "Platform"), '
                         '"QE", "TDXModule", "MigTD"')


def decode_text(policy: bytes) -> str:
    """UTF-8 decode and strip NUL padding from both ends (config volumes pad)."""
    try:
        text = bytes(policy).decode("utf-8")
    except UnicodeDecodeError as exc:
        raise _invalid("policy", f"not UTF-8 (byte {exc.start})") from None
    return text.strip("\0")


def parse_v1(policy: bytes) -> PolicyV1:
    """Parse a v1 policy document; raise PolicyError(InvalidPolicy) naming the path."""
    text = decode_text(policy)
    try:
        doc = jsontext.loads(text)
    except (ValueError, RecursionError) as exc:
        raise _invalid("policy", jsontext.describe_error(exc)) from None
    try:
        top = _struct(doc, "$", "the policy document", ("id", "policy"))
        if "id" not in top:
            raise _Invalid("id", 'missing "id"')
        ident = top["id"]
        if not isinstance(ident, str) or isinstance(ident, jsontext.EscapedStr):
            raise _Invalid("id", f"id must be a plain string, not {_type_name(ident)}")
        if len(ident.encode("utf-8")) != 36 or not _GUID.fullmatch(ident):
            raise _Invalid("id", f'"{ident}" is not a GUID (8-4-4-4-12 hex digits)')
        if "policy" not in top:
            raise _Invalid("policy", 'missing "policy" array')
        blocks = top["policy"]
        if not isinstance(blocks, list):
            raise _Invalid("policy", f"policy must be an array, not {_type_name(blocks)}")
    except _Invalid as exc:
        raise _invalid(exc.path, exc.problem) from None
    return PolicyV1(ident, tuple(_block(b, f"policy[{i}]") for i, b in enumerate(blocks)))
