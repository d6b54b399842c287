"""Structured events: the one log schema shared by ``migtd`` and the console.

With ``--log-format json`` every record is one JSON object per line on stderr::

    {"ts": 1732590000.123, "level": "info", "role": "source", "request_id": 1,
     "event": "tls_established", "msg": "TLS 1.3 established", "version": "TLSv1.3", ...}

With ``--log-format text`` the upstream debug-console shape is used instead:
``INFO - [req_id: 1] message``. ``MIGTD_LOG_FILE`` receives a copy of every
line in the selected format.

Every record is one of the event classes of :mod:`migtd._events`, re-exported
here (``from migtd.events import TlsEstablished``): write one with
:meth:`EventLog.emit_event`, or by name with :meth:`EventLog.emit`, whose
fields are checked against the same class. The console decodes lines with
:func:`decode_line` into the same classes.

Key material must never reach a log: no event class has a field named like
key material (the schema refuses one), and no field type admits ``bytes``
(callers pass hex of *derived* values, such as the first eight bytes of a
SHA-256 fingerprint).
"""

from __future__ import annotations

import functools
import json
import os
import sys
import time

from migtd._events import (
    BARE_LOG,
    ENVELOPE,
    EVENTS,
    LEVELS,
    Configured,
    Connected,
    Event,
    EventDecodeError,
    EventSchemaError,
    Exited,
    Listening,
    Log,
    MskExchanged,
    PeerAttested,
    PolicyDecided,
    PolicyRuleChecked,
    QuoteGenerated,
    Record,
    RequestTaken,
    SpdmEvidenceExchanged,
    SpdmFailed,
    SpdmFinished,
    SpdmKeyExchanged,
    SpdmNegotiated,
    SpdmSessionEnded,
    Started,
    StatusReported,
    TlsEstablished,
    decode_object,
    encode_record,
    event_from_fields,
    schema_of,
)

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import IO, Any


def parse_level(value: str | None, default: str = "info") -> str:
    """Interpret a ``RUST_LOG``-style string and return one of :data:`LEVELS`.

    Accepts a bare level (``debug``), ``warning``/``off``, or env_logger
    directives such as ``migtd=debug,info``: the most verbose level named wins,
    because that is what a user who typed it wants to see.
    """
    if not value:
        return default
    best: str | None = None
    for part in value.replace(";", ",").split(","):
        word = part.split("=")[-1].strip().lower()
        word = {"warning": "warn", "off": "error"}.get(word, word)
        if word in LEVELS and (best is None or LEVELS[word] > LEVELS[best]):
            best = word
    return best or default


class EventLog:
    """Writes events as JSON lines or text lines, optionally teeing to a file."""

    def __init__(self, role: str, request_id: int, *, fmt: str = "text",
                 level: str = "info", stream: IO[str] | None = None,
                 tee_path: str | None = None, tee: IO[str] | None = None) -> None:
        if fmt not in ("text", "json"):
            raise ValueError(f"unknown log format {fmt!r}")
        self.role = role
        self.request_id = request_id
        self.fmt = fmt
        self.threshold = LEVELS[parse_level(level)]
        self.stream = stream if stream is not None else sys.stderr
        # ``tee``: an already opened copy (``migtd`` opens MIGTD_LOG_FILE with
        # migtd.inputs.open_output, which refuses to truncate one of the run's inputs).
        self._tee: IO[str] | None = tee
        if tee_path and tee is None:
            self._tee = open(tee_path, "w", encoding="utf-8")  # noqa: SIM115 - closed in close()

    def enabled(self, level: str) -> bool:
        """Whether a record at ``level`` passes the ``RUST_LOG`` threshold."""
        return LEVELS[level] <= self.threshold

    def emit(self, event: str, msg: str, level: str = "info", **fields: Any) -> None:
        """Write the event named ``event`` with ``fields`` if ``level`` passes the threshold.

        The name and fields are checked against the event's class first, at
        every level (:class:`EventSchemaError`: an unknown event, an unknown
        or missing field, a value of the wrong type), so a mistake shows in
        the tests even when the record itself would be filtered out.
        """
        self.emit_event(event_from_fields(event, fields), msg, level)

    def emit_event(self, event: Event, msg: str, level: str = "info") -> None:
        """Write ``event`` (e.g. ``TlsEstablished(version=..., cipher=...)``) if ``level`` passes.

        ``exit`` events are always written so a consumer can rely on them.
        """
        if level not in LEVELS:
            raise EventSchemaError(f"unknown level {level!r}")
        if LEVELS[level] > self.threshold and event.NAME != "exit":
            return
        if self.fmt == "json":
            line = encode_record(event, msg=msg, level=level, role=self.role, request_id=self.request_id,
                                 ts=round(time.time(), 6))
        else:
            line = f"{level.upper():5} - [req_id: {self.request_id}] {msg}"
        self._write(line)

    # Convenience wrappers for free-text records (``log`` events).
    def error(self, msg: str, **fields: Any) -> None:
        self.emit_event(Log(**fields) if fields else BARE_LOG, msg, "error")

    def warn(self, msg: str, **fields: Any) -> None:
        self.emit_event(Log(**fields) if fields else BARE_LOG, msg, "warn")

    def info(self, msg: str, **fields: Any) -> None:
        self.emit_event(Log(**fields) if fields else BARE_LOG, msg, "info")

    def debug(self, msg: str, **fields: Any) -> None:
        self.emit_event(Log(**fields) if fields else BARE_LOG, msg, "debug")

    def trace(self, msg: str, **fields: Any) -> None:
        self.emit_event(Log(**fields) if fields else BARE_LOG, msg, "trace")

    def _write(self, line: str) -> None:
        try:
            self.stream.write(line + "\n")
            self.stream.flush()
        except (OSError, ValueError):
            pass  # the reader went away (or closed the pipe); keep the run going for the file tee
        if self._tee is not None:
            try:
                self._tee.write(line + "\n")
                self._tee.flush()
            except OSError as exc:  # e.g. the disk filled up: lose the copy, not the run
                tee, self._tee = self._tee, None
                try:
                    tee.close()
                except OSError:
                    pass
                self.warn(f"MIGTD_LOG_FILE: write failed ({exc.strerror or exc}); no longer copying the log")

    def close(self) -> None:
        """Close the ``MIGTD_LOG_FILE`` tee (the stream belongs to the caller)."""
        if self._tee is not None:
            self._tee.close()
            self._tee = None


def decode_line(line: str) -> Record | None:
    """The console's reader: one output line of ``migtd`` as a :class:`Record`, or ``None``.

    ``None`` means the line is not a JSON record at all (a traceback, an ssh
    warning, a cut or foreign line) and is shown as it is. A JSON object that
    is a record but does not fit its event's class raises
    :class:`EventDecodeError` with a one-line reason.
    """
    text = line.strip()
    if text[:1] != "{":
        return None
    obj = _read_object(text)
    if obj is None or ("event" not in obj and "msg" not in obj):
        return None
    return decode_object(obj)


#: A line with no more brackets than this cannot nest deeper than
#: migtd.inputs.MAX_JSON_DEPTH (128), so it skips the full depth scan.
_FEW_BRACKETS = 128
_raw_decode = json.JSONDecoder().raw_decode


def _read_object(text: str) -> dict[str, Any] | None:
    """One whole JSON object, or ``None``; never a ``RecursionError``.

    The depth is judged as :func:`migtd.inputs.check_json_depth` does (that
    function runs whenever the quick bracket count cannot settle it), then the
    standard decoder's ``raw_decode`` parses: ``json.loads`` minus its per-call
    wrapper, which matters at tens of thousands of lines a second.
    """
    if text.count("[") + text.count("{") > _FEW_BRACKETS:
        from migtd.inputs import InputError, check_json_depth  # rare: only bracket-heavy lines

        try:
            check_json_depth(text, "event line")
        except InputError:
            return None
    try:
        obj, end = _raw_decode(text)
    except ValueError:
        return None
    return obj if end == len(text) and type(obj) is dict else None


@functools.cache
def null_log() -> EventLog:
    """The one EventLog that discards everything (for library callers that pass no log).

    Shared, so a caller may use it freely without opening ``/dev/null`` again.
    """
    return EventLog("source", 0, stream=open(os.devnull, "w", encoding="utf-8"), level="error")


__all__ = [
    "BARE_LOG", "ENVELOPE", "EVENTS", "LEVELS", "Configured", "Connected", "Event", "EventDecodeError", "EventLog",
    "EventSchemaError", "Exited", "Listening", "Log", "MskExchanged", "PeerAttested", "PolicyDecided",
    "PolicyRuleChecked", "QuoteGenerated", "Record", "RequestTaken", "SpdmEvidenceExchanged", "SpdmFailed",
    "SpdmFinished", "SpdmKeyExchanged", "SpdmNegotiated", "SpdmSessionEnded", "Started", "StatusReported",
    "TlsEstablished", "decode_line", "decode_object", "encode_record", "event_from_fields", "null_log", "parse_level", "schema_of",
]
