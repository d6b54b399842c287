"""The events of ``docs/events.md`` as small immutable classes, and their one JSON-lines codec.

``migtd`` writes these records (``--log-format json``) and ``migtd-console``
reads them, usually in another process and often on another host. Both sides
build and read them through this module only: the engine emits an
:class:`Event` (or a name plus fields that must fit one), :func:`encode_record`
turns it into a line, :func:`decode_object` turns the parsed line back into
the same class (:func:`migtd.events.decode_line` reads the line itself). A field renamed or retyped on one side therefore cannot silently go
missing on the other; ``tests/core/test_events.py`` also holds
``docs/events.md`` to these classes, field by field.

The classes are plain classes rather than dataclasses on purpose: ``migtd``
imports this module on every start, and creating a dataclass (generating and
compiling its methods) costs far more than defining a plain class does.
Each class only lists its fields as annotations; one shared constructor
checks them, and the field types are read lazily from the annotations the
first time a class is used, so importing the module does no such work.
Type checkers still see keyword constructors (``dataclass_transform``).
(The same idea as h11's ``_events.py``: a closed set of small event classes,
re-exported once, by :mod:`migtd.events`.)

Field types are the JSON ones: ``str``, ``int`` (never a ``bool``),
``float`` (an ``int`` or a finite ``float``), ``bool``, and ``Sequence[str]``
/ ``Sequence[int]`` (kept as tuples, written as arrays). A field whose
default is ``None`` is optional: absent from the record when ``None``.
"""

from __future__ import annotations

import json
import math
from operator import itemgetter

TYPE_CHECKING = False
if TYPE_CHECKING:  # typing costs milliseconds to import; only the checker needs it
    from collections.abc import Callable, Mapping, Sequence
    from typing import Any, ClassVar, Self, dataclass_transform
else:
    def dataclass_transform(**_options: object) -> Callable[[type], type]:
        """Run-time stand-in: the decorator only informs type checkers."""
        return lambda cls: cls

#: Ordered like Rust's log levels; a record is written when level <= threshold.
LEVELS: dict[str, int] = {"error": 1, "warn": 2, "info": 3, "debug": 4, "trace": 5}

#: Parts of a field name that would mean key material; no event may have such a field.
FORBIDDEN_FIELD_PARTS = ("msk", "secret", "private", "session_key", "enc_key", "dec_key")

#: Keys every record carries before its event's own fields (docs/events.md, first table).
ENVELOPE = ("ts", "level", "role", "request_id", "event", "msg")


class EventSchemaError(TypeError):
    """An event built with an unknown name, a missing or unknown field, or a value of the wrong type.

    Raised on the emitting side: it is a programming error, which the tests
    that drive every emitting path are there to catch.
    """


class EventDecodeError(ValueError):
    """A JSON record that claims to be an event but does not fit its class (one line, for display)."""


@dataclass_transform(kw_only_default=True)
class Event:
    """Base of every event: immutable, keyword-built, compared by value, written by :func:`encode_record`.

    A subclass declares its record name in ``NAME`` and its fields as class
    annotations, in the order they are written (a default of ``None`` makes a
    field optional). Type checkers see a dataclass-like keyword constructor
    (``dataclass_transform``); at run time one shared ``__init__`` checks the
    values against :func:`schema_of`, so no per-class code is generated.
    """

    NAME: ClassVar[str] = ""

    def __init__(self, **values: Any) -> None:
        cls = type(self)
        schema = schema_of(cls)
        unknown = [name for name in values if name not in cls.FIELDS]
        if unknown:
            raise EventSchemaError(f"{cls.NAME}: unknown field(s) {', '.join(map(repr, unknown))}")
        state = self.__dict__
        for name, check, required in schema:
            value = values.get(name)
            if value is None:
                if required:
                    raise EventSchemaError(f"{cls.NAME}: missing required field {name!r}")
            else:
                problem, value = check(value)
                if problem:
                    raise EventSchemaError(f"{cls.NAME}: field {name!r} {problem}")
            state[name] = value

    #: Field names in declared order (set for each subclass by ``__init_subclass__``).
    FIELDS: ClassVar[tuple[str, ...]] = ()

    def __init_subclass__(cls) -> None:
        # Only the names, in order: types are read lazily by schema_of().
        # This class's own annotations, as inspect.get_annotations(cls) reads them on 3.11; importing
        # inspect would add ~6 ms to every start of migtd, which this module is written to avoid.
        own = cls.__dict__.get("__annotations__", {})  # noqa: RUF063 - see above
        cls.FIELDS = tuple(name for name, spec in own.items() if not str(spec).startswith("ClassVar"))

    def __setattr__(self, name: str, value: object) -> None:
        raise AttributeError(f"{type(self).__name__} is immutable")

    def __delattr__(self, name: str) -> None:
        raise AttributeError(f"{type(self).__name__} is immutable")

    def fields(self) -> dict[str, Any]:
        """The record's own fields in declared order; optional fields that are ``None`` are left out."""
        state = self.__dict__
        out = {}
        for name in self.FIELDS:
            value = state[name]
            if value is not None:
                out[name] = list(value) if type(value) is tuple else value
        return out

    def __eq__(self, other: object) -> bool:
        if type(other) is not type(self):
            return NotImplemented
        return self.__dict__ == other.__dict__

    def __hash__(self) -> int:
        return hash((type(self), *(self.__dict__[name] for name in self.FIELDS)))

    def __repr__(self) -> str:
        inner = ", ".join(f"{name}={value!r}" for name, value in self.__dict__.items() if value is not None)
        return f"{type(self).__name__}({inner})"


# --------------------------------------------------------------------------- the events
# One class per event of docs/events.md, in the order a run writes them.


class Started(Event):
    """``start``: the first record of a run."""

    NAME = "start"
    version: str
    pid: int
    attestation: str
    operation: str


class Configured(Event):
    """``config``: flags, environment and files were checked; what this run will use."""

    NAME = "config"
    dest_ip: str
    dest_port: int
    attestation: str
    operation: str
    policy_file: str
    policy_version: int
    timeout: float
    uuid: Sequence[int]
    binding: str
    key_exchange: str | None = None
    quote_request: str | None = None


class Listening(Event):
    """``listening``: the destination bound its port."""

    NAME = "listening"
    ip: str
    port: int


class Connected(Event):
    """``connected``: the TCP connection is up (both roles)."""

    NAME = "connected"
    peer: str


class RequestTaken(Event):
    """``request``: a queued VMM request was taken."""

    NAME = "request"
    kind: str
    id: str


class StatusReported(Event):
    """``report_status``: ReportStatus was sent for a request."""

    NAME = "report_status"
    kind: str
    code: int
    result: str
    data_len: int


class QuoteGenerated(Event):
    """``quote_generated``: the local quote for the RA-TLS certificate exists."""

    NAME = "quote_generated"
    bytes: int
    source: str
    via: str | None = None


class TlsEstablished(Event):
    """``tls_established``: the TLS handshake is done."""

    NAME = "tls_established"
    version: str
    cipher: str


class SpdmNegotiated(Event):
    """``spdm_negotiated``: GET_VERSION … ALGORITHMS settled (SPDM 1.2, MigTD's one algorithm suite)."""

    NAME = "spdm_negotiated"
    version: str
    peer_capabilities: str
    peer_data_transfer_size: int
    peer_max_message_size: int


class SpdmKeyExchanged(Event):
    """``spdm_key_exchanged``: public-key VDMs and KEY_EXCHANGE done; TH1 is what the quotes bind."""

    NAME = "spdm_key_exchanged"
    session_id: str
    th1: str
    local_spki_sha256_8: str
    peer_spki_sha256_8: str


class SpdmEvidenceExchanged(Event):
    """``spdm_evidence_exchanged``: both attestation VDMs went through and the peer was accepted."""

    NAME = "spdm_evidence_exchanged"
    sent_bytes: int
    received_bytes: int
    chunks_sent: int
    chunks_received: int


class SpdmFinished(Event):
    """``spdm_finished``: FINISH/FINISH_RSP verified; the secured session is established."""

    NAME = "spdm_finished"
    th2: str


class SpdmSessionEnded(Event):
    """``spdm_session_ended``: END_SESSION acknowledged."""

    NAME = "spdm_session_ended"
    session_id: str


class SpdmFailed(Event):
    """``spdm_failed``: the SPDM session ended without success, in ``phase``."""

    NAME = "spdm_failed"
    phase: str
    code: int
    result: str
    reason: str


class PeerAttested(Event):
    """``peer_attested``: the peer certificate's quote (or TD report, when rebinding) was judged."""

    NAME = "peer_attested"
    verified: bool
    tcb_status: str
    advisories: Sequence[str]
    fmspc: str
    mrtd: str
    rtmrs: Sequence[str]
    tee_tcb_svn: str
    quote_bytes: int
    bypassed: Sequence[str]
    failed_step: str | None = None
    evidence: str | None = None


class PolicyRuleChecked(Event):
    """``policy_rule``: one rule of the migration policy was checked against the peer."""

    NAME = "policy_rule"
    section: str
    field: str
    operation: str
    reference: str
    local: str
    actual: str
    ok: bool
    reason: str


class PolicyDecided(Event):
    """``policy_decision``: the policy verdict for the peer."""

    NAME = "policy_decision"
    ok: bool
    failed_rules: Sequence[str]
    skipped: bool
    policy_version: int
    kind: str | None = None
    reason: str | None = None
    notes: Sequence[str] | None = None


class MskExchanged(Event):
    """``msk_exchanged``: ExchangeInformation is done on this side (a fingerprint, never the key)."""

    NAME = "msk_exchanged"
    mig_version: int
    key_sha256_8: str


class Exited(Event):
    """``exit``: the last record of a run, always written."""

    NAME = "exit"
    code: int
    result: str
    reason: str


class Log(Event):
    """``log``: a free-text record; timing records also name their ``step``, ``ms`` and ``attempts``."""

    NAME = "log"
    step: str | None = None
    ms: float | None = None
    attempts: int | None = None


#: Every event class by its record name.
EVENTS: dict[str, type[Event]] = {cls.NAME: cls for cls in (
    Started, Configured, Listening, Connected, RequestTaken, StatusReported, QuoteGenerated, TlsEstablished,
    SpdmNegotiated, SpdmKeyExchanged, SpdmEvidenceExchanged, SpdmFinished, SpdmSessionEnded, SpdmFailed,
    PeerAttested, PolicyRuleChecked, PolicyDecided, MskExchanged, Exited, Log)}


# --------------------------------------------------------------------------- field types
# Each check returns (problem, value): problem is "" when the value fits, and
# value is what is stored (sequences become tuples).

def _str(value: Any) -> tuple[str, Any]:
    return ("", value) if type(value) is str else (_wanted("a string", value), value)


def _int(value: Any) -> tuple[str, Any]:
    return ("", value) if type(value) is int else (_wanted("an integer", value), value)


def _float(value: Any) -> tuple[str, Any]:
    if type(value) is int or (type(value) is float and math.isfinite(value)):
        return "", value
    return _wanted("a finite number", value), value


def _bool(value: Any) -> tuple[str, Any]:
    return ("", value) if type(value) is bool else (_wanted("true or false", value), value)


def _sequence_of(item: Any, what: str) -> Any:
    def check(value: Any) -> tuple[str, Any]:
        if type(value) not in (list, tuple):
            return _wanted(f"a list of {what}", value), value
        for element in value:
            if item(element)[0]:
                return f"must be a list of {what} (holds {_json_type(element)})", value
        return "", tuple(value)
    return check


_CHECKS = {"str": _str, "int": _int, "float": _float, "bool": _bool,
           "Sequence[str]": _sequence_of(_str, "strings"), "Sequence[int]": _sequence_of(_int, "integers")}

#: ``(name, check, required)`` per field, in declared order.
Schema = tuple
_SCHEMAS: dict[type, Schema] = {}


def schema_of(cls: type[Event]) -> Schema:
    """``(name, check, required)`` per field of ``cls``, read once from its annotations.

    Reading them lazily keeps the import of this module free of that work;
    an unsupported type or a field named like key material is refused here,
    the first time the class is used (the tests use every class).
    """
    schema = _SCHEMAS.get(cls)
    if schema is not None:
        return schema
    annotations = cls.__dict__.get("__annotations__", {})  # noqa: RUF063 - no inspect import, as in __init_subclass__
    fields = []
    for name in cls.FIELDS:
        if any(part in name.lower() for part in FORBIDDEN_FIELD_PARTS):
            raise EventSchemaError(f"{cls.NAME}: field {name!r} looks like key material and may not be logged")
        spec = str(annotations[name])
        optional = spec.endswith(" | None")
        base = spec.removesuffix(" | None")
        if base not in _CHECKS or optional != (cls.__dict__.get(name, ...) is None):
            raise EventSchemaError(f"{cls.NAME}: field {name!r} has an unsupported type {spec!r} "
                                   "(optional fields are '<type> | None = None')")
        fields.append((name, _CHECKS[base], not optional))
    schema = _SCHEMAS[cls] = tuple(fields)
    return schema


def _json_type(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, (int, float)):
        return "a number"
    if isinstance(value, str):
        return "a string"
    if isinstance(value, (list, tuple)):
        return "a list"
    if isinstance(value, dict):
        return "an object"
    return type(value).__name__


def _wanted(what: str, value: Any) -> str:
    return f"must be {what}, not {_json_type(value)}"


# --------------------------------------------------------------------------- building from a name

def event_from_fields(name: str, fields: Mapping[str, Any]) -> Event:
    """The event ``name`` with ``fields``; :class:`EventSchemaError` for an unknown name or a bad field.

    This is what :meth:`migtd.events.EventLog.emit` does with its keyword
    arguments, so the ``emit(name, msg, level, **fields)`` calls are held to
    the same classes as typed ones.
    """
    cls = EVENTS.get(name)
    if cls is None:
        raise EventSchemaError(f"unknown event {name!r} (docs/events.md lists them)")
    return cls(**fields)


# --------------------------------------------------------------------------- the codec

def encode_record(event: Event, *, msg: str, level: str, role: str, request_id: int, ts: float) -> str:
    """One JSON line (no newline): the envelope, then the event's own fields."""
    record: dict[str, Any] = {"ts": ts, "level": level, "role": role, "request_id": request_id,
                              "event": event.NAME, "msg": msg}
    record.update(event.fields())
    return json.dumps(record, separators=(",", ":"))


class Record(tuple):
    """One decoded line: the envelope and the typed event.

    ``event`` is ``None`` for an event name this version does not know (a
    newer ``migtd``): its ``msg`` can still be shown. A tuple underneath,
    because the console makes one per line of a flood and a tuple is the
    cheapest immutable thing to make.
    """

    __slots__ = ()

    def __new__(cls, ts: float, level: str, role: str, request_id: int, name: str, msg: str,
                event: Event | None) -> Self:
        return tuple.__new__(cls, (ts, level, role, request_id, name, msg, event))

    if TYPE_CHECKING:
        ts: float
        level: str
        role: str
        request_id: int
        name: str
        msg: str
        event: Event | None
    else:
        ts = property(itemgetter(0))
        level = property(itemgetter(1))
        role = property(itemgetter(2))
        request_id = property(itemgetter(3))
        name = property(itemgetter(4))
        msg = property(itemgetter(5))
        event = property(itemgetter(6))

    def __repr__(self) -> str:
        return f"Record({self.name!r}, ts={self.ts!r}, level={self.level!r}, event={self.event!r})"


_record = tuple.__new__


def _new(cls: type[Event], values: dict[str, Any]) -> Event:
    """An event from values already checked by the decoder (skips ``__init__``'s second check)."""
    event = object.__new__(cls)
    event.__dict__.update(values)
    return event


#: The ``log`` event without timing fields: the decoder returns this one object for every
#: bare free-text line, so a reader can tell the flood case with ``is``.
BARE_LOG = Log()


def decode_object(obj: Mapping[str, Any]) -> Record:
    """Judge an already-parsed JSON object as a record; :class:`EventDecodeError` says why it is not one.

    Envelope keys must all be present with their types; the event's own fields
    must fit its class. Keys the class does not know are ignored, so a newer
    ``migtd`` that adds a field still reads; one that renames a required field
    does not.
    """
    get = obj.get
    name = get("event", "log")
    ts, level, role, request_id, msg = get("ts"), get("level"), get("role"), get("request_id"), get("msg", "")
    if type(name) is not str:
        raise EventDecodeError(f"'event' {_wanted('a string', name)}")
    if not (type(ts) is float and math.isfinite(ts)) and type(ts) is not int:
        raise EventDecodeError(f"{name}: 'ts' {_wanted('a finite number', ts)}")
    if type(level) is not str or level not in LEVELS:
        raise EventDecodeError(f"{name}: 'level' must be one of {', '.join(LEVELS)}, not {level!r:.40}")
    if type(role) is not str:
        raise EventDecodeError(f"{name}: 'role' {_wanted('a string', role)}")
    if type(request_id) is not int:
        raise EventDecodeError(f"{name}: 'request_id' {_wanted('an integer', request_id)}")
    if type(msg) is not str:
        raise EventDecodeError(f"{name}: 'msg' {_wanted('a string', msg)}")
    cls = EVENTS.get(name)
    if cls is None:
        return _record(Record, (ts, level, role, request_id, name, msg, None))
    if cls is Log and len(obj) <= 6:  # the flood case: a bare free-text line
        return _record(Record, (ts, level, role, request_id, name, msg, BARE_LOG))
    values = {}
    for field, check, required in schema_of(cls):
        value = get(field)
        if value is None:
            if required:
                raise EventDecodeError(f"{name}: field {field!r} is missing")
        else:
            problem, value = check(value)
            if problem:
                raise EventDecodeError(f"{name}: field {field!r} {problem}")
        values[field] = value
    return _record(Record, (ts, level, role, request_id, name, msg, _new(cls, values)))


__all__ = [
    "BARE_LOG", "ENVELOPE", "EVENTS", "FORBIDDEN_FIELD_PARTS", "LEVELS", "Configured", "Connected", "Event",
    "EventDecodeError", "EventSchemaError", "Exited", "Listening", "Log", "MskExchanged", "PeerAttested",
    "PolicyDecided", "PolicyRuleChecked", "QuoteGenerated", "Record", "RequestTaken", "SpdmEvidenceExchanged",
    "SpdmFailed", "SpdmFinished", "SpdmKeyExchanged", "SpdmNegotiated", "SpdmSessionEnded", "Started",
    "StatusReported", "TlsEstablished", "decode_object", "encode_record", "event_from_fields", "schema_of",
]
