"""Structured events: the one log schema shared by ``migtd`` and the console.

With ``--log-format json`` every record is one JSON object per line on stderr::

    {"ts": 1732590000.123, "level": "info", "role": "source", "request_id": 1,
     "event": "tls_established", "msg": "TLS 1.3 established", "version": "TLSv1.3", ...}

With ``--log-format text`` the upstream debug-console shape is used instead:
``INFO - [req_id: 1] message``. ``MIGTD_LOG_FILE`` receives a copy of every
line in the selected format.

Key material must never reach a log. :meth:`EventLog.emit` refuses ``bytes``
field values outright (callers pass hex of *derived* values, such as the first
eight bytes of a SHA-256 fingerprint) and refuses field names that look like
key material.
"""

from __future__ import annotations

import functools
import json
import os
import sys
import time
from typing import IO, Any

#: Ordered like Rust's log levels; a record is written when level <= threshold.
LEVELS: dict[str, int] = {"error": 1, "warn": 2, "info": 3, "debug": 4, "trace": 5}

_FORBIDDEN_FIELD_PARTS = ("msk", "secret", "private", "session_key", "enc_key", "dec_key")


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
        """Write one record if ``level`` passes the threshold.

        ``exit`` events are always written so a consumer can rely on them.
        """
        if event != "exit" and not self.enabled(level):
            return
        for name, value in fields.items():
            _check_field(name, value)
        if self.fmt == "json":
            record: dict[str, Any] = {
                "ts": round(time.time(), 6), "level": level, "role": self.role,
                "request_id": self.request_id, "event": event, "msg": msg,
            }
            record.update(fields)
            line = json.dumps(record, separators=(",", ":"), default=str)
        else:
            line = f"{level.upper():5} - [req_id: {self.request_id}] {msg}"
        self._write(line)

    # Convenience wrappers for free-text records.
    def error(self, msg: str, **fields: Any) -> None:
        self.emit("log", msg, "error", **fields)

    def warn(self, msg: str, **fields: Any) -> None:
        self.emit("log", msg, "warn", **fields)

    def info(self, msg: str, **fields: Any) -> None:
        self.emit("log", msg, "info", **fields)

    def debug(self, msg: str, **fields: Any) -> None:
        self.emit("log", msg, "debug", **fields)

    def trace(self, msg: str, **fields: Any) -> None:
        self.emit("log", msg, "trace", **fields)

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
                self.emit("log", f"MIGTD_LOG_FILE: write failed ({exc.strerror or exc}); no longer copying the log",
                          "warn")

    def close(self) -> None:
        """Close the ``MIGTD_LOG_FILE`` tee (the stream belongs to the caller)."""
        if self._tee is not None:
            self._tee.close()
            self._tee = None


def _check_field(name: str, value: Any) -> None:
    lowered = name.lower()
    if any(part in lowered for part in _FORBIDDEN_FIELD_PARTS):
        raise ValueError(f"event field {name!r} looks like key material and may not be logged")
    if isinstance(value, (bytes, bytearray, memoryview)):
        raise TypeError(f"event field {name!r} is bytes; log a hex digest or length instead")


@functools.cache
def null_log() -> EventLog:
    """The one EventLog that discards everything (for library callers that pass no log).

    Shared, so a caller may use it freely without opening ``/dev/null`` again.
    """
    return EventLog("source", 0, stream=open(os.devnull, "w", encoding="utf-8"), level="error")
