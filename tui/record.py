"""Saved runs: what history stores, and how a stored run becomes a model again.

A record keeps each side's lines exactly as they arrived (bounded: every
structured event plus the last log lines) and how each process ended. Replay
feeds those lines through the same :class:`tui.model.RunModel` a live run uses,
so a replayed run shows exactly what the live one did.

A record read from disk is not trusted: it may be hand-edited, truncated,
written by another program or planted. :meth:`RunRecord.from_json` decodes it
through a schema (every field's type, every size bounded, a run id that is
safe as a file name) and refuses anything else with one
:class:`RecordError` line; the file itself is read with
:func:`migtd.inputs.read_input` and parsed with :func:`migtd.inputs.load_json`
(regular file, size limit, depth limit). The lines inside are then ordinary
``migtd`` output, which the model already takes whatever it holds.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeGuard

from migtd.inputs import InputError, load_json, read_input
from tui.model import HISTORY_EVENTS, HISTORY_TAIL, LOG_CAPACITY, MAX_LINE, ROLES, RunModel

FORMAT = "migtd-console-run/1"
#: Largest run file read: every kept line at its longest, with room for JSON escaping.
RECORD_LIMIT = 64 * 1024 * 1024
#: A run id is a file name in the history directory and in report names.
RUN_ID = re.compile(r"[0-9A-Za-z][0-9A-Za-z._-]{0,63}")
#: Longest parameter string (a path, a host, an ssh option).
MAX_TEXT = 4096
#: Most launcher-level notes kept per side.
MAX_PROBLEMS = 1000


class RecordError(ValueError):
    """A saved run (or its summary) that does not fit the schema; the message is one line."""


def valid_run_id(text: object) -> TypeGuard[str]:
    """True for ids this console makes and can use as a file name."""
    return isinstance(text, str) and RUN_ID.fullmatch(text) is not None and ".." not in text


# --------------------------------------------------------------------------- field checks
# Each returns the value (normalised) or raises RecordError naming the path of the field.

def _fail(where: str, what: str, value: Any) -> RecordError:
    kind = {bool: "a boolean", int: "a number", float: "a number", str: "a string", list: "a list",
            dict: "an object", type(None): "null"}.get(type(value), type(value).__name__)
    return RecordError(f"{where} must be {what}, not {kind}")


def text(where: str, value: Any, limit: int = MAX_TEXT) -> str:
    if type(value) is not str:
        raise _fail(where, "a string", value)
    if len(value) > limit:
        raise RecordError(f"{where} is {len(value)} characters long, at most {limit}")
    return value


def optional_text(where: str, value: Any) -> str | None:
    return None if value is None else text(where, value)


def integer(where: str, value: Any, low: int, high: int) -> int:
    if type(value) is not int:
        raise _fail(where, "an integer", value)
    if not low <= value <= high:
        raise RecordError(f"{where} is {value}, outside {low}…{high}")
    return value


def number(where: str, value: Any, low: float, high: float) -> float:
    if type(value) not in (int, float) or not math.isfinite(value):
        raise _fail(where, "a finite number", value)
    if not low <= value <= high:
        raise RecordError(f"{where} is {value}, outside {low:g}…{high:g}")
    return float(value)


def mapping(where: str, value: Any) -> dict[str, Any]:
    if type(value) is not dict:
        raise _fail(where, "an object", value)
    return value


def text_list(where: str, value: Any, most: int, limit: int = MAX_TEXT) -> list[str]:
    if type(value) is not list:
        raise _fail(where, "a list of strings", value)
    if len(value) > most:
        raise RecordError(f"{where} holds {len(value)} items, at most {most}")
    return [text(f"{where}[{i}]", item, limit) for i, item in enumerate(value)]


def per_role(where: str, value: Any, check: Callable[[str, Any], Any]) -> dict[str, Any]:
    """An object keyed by ``source``/``destination`` only, each value checked."""
    out = {}
    for role, item in mapping(where, value).items():
        if role not in ROLES:
            raise RecordError(f"{where} has a key {role[:40]!r}; only 'source' and 'destination' are sides")
        out[role] = check(f"{where}.{role}", item)
    return out


def roles(where: str, value: Any) -> list[str]:
    items = text_list(where, value, 2)
    if not items or len(set(items)) != len(items) or not set(items) <= set(ROLES):
        raise RecordError(f"{where} must list 'source' and/or 'destination' once each")
    return items


#: The run parameters a record may carry (``tui.params.RunParams``'s fields) and their checks.
#: ``tests/console/test_history.py`` fails when RunParams gains a field missing here. Entries
#: RunParams does not have (yet, or any more) are harmless: ``RunParams.from_dict`` drops them.
PARAMS: dict[str, Callable[[str, Any], Any]] = {
    "roles": roles,
    "attestation": text,
    "operation": text,
    "request_id": lambda w, v: integer(w, v, 0, 2**64 - 1),
    "dest_ip": text,
    "dest_port": lambda w, v: integer(w, v, 0, 65535),
    "src_host": optional_text,
    "dst_host": optional_text,
    "policy_file": optional_text,
    "src_policy_file": optional_text,
    "dst_policy_file": optional_text,
    "root_ca_file": optional_text,
    "collateral_file": optional_text,
    "collateral_source": optional_text,
    "policy_version": lambda w, v: integer(w, v, 1, 2),
    "policy_issuer_chain_file": optional_text,
    "mock_quote_file": optional_text,
    "init_migtd_data": optional_text,
    "migtd": text,
    "remote_migtd": text,
    "timeout": lambda w, v: number(w, v, 0, 86400),
    "log_level": optional_text,
    "ssh_config": optional_text,
    "ssh_options": lambda w, v: text_list(w, v, 100),
    "listen_timeout": lambda w, v: number(w, v, 0, 86400),
    "key_exchange": text,
    "quote_request": text,
}

#: The parameters naming local files the run read: a report must never overwrite one.
INPUT_PARAMS = ("policy_file", "src_policy_file", "dst_policy_file", "root_ca_file", "collateral_file",
                "policy_issuer_chain_file", "mock_quote_file", "init_migtd_data", "ssh_config")


def params(where: str, value: Any) -> dict[str, Any]:
    """The known parameters, each checked; unknown keys (another version's) are dropped."""
    return {key: PARAMS[key](f"{where}.{key}", item) for key, item in mapping(where, value).items()
            if key in PARAMS}


def _exit(where: str, value: Any) -> dict[str, Any]:
    info = mapping(where, value)
    out: dict[str, Any] = {"code": integer(f"{where}.code", info.get("code"), -2**31, 2**31 - 1)}
    transport = info.get("transport", "local")
    if transport not in ("local", "ssh"):
        raise RecordError(f"{where}.transport must be 'local' or 'ssh'")
    out["transport"] = transport
    if "where" in info:
        out["where"] = text(f"{where}.where", info["where"])
    return out


def _lines(where: str, value: Any) -> list[str]:
    return text_list(where, value, HISTORY_TAIL + HISTORY_EVENTS, MAX_LINE + 1)


def inputs_of(run_params: dict[str, Any]) -> list[tuple[str, str]]:
    """``(label, path)`` of each local file a run's parameters name (for ``open_output``)."""
    return [(key.replace("_", " "), str(run_params[key])) for key in INPUT_PARAMS
            if isinstance(run_params.get(key), str) and run_params[key]]


# --------------------------------------------------------------------------- the record

@dataclass
class RunRecord:
    """What history stores for a run: parameters, each side's lines and exit."""

    run_id: str
    started_at: float
    params: dict[str, Any]
    lines: dict[str, list[str]] = field(default_factory=dict)
    exits: dict[str, dict[str, Any]] = field(default_factory=dict)  # role -> {code, transport, where}
    launch_errors: dict[str, str] = field(default_factory=dict)
    problems: dict[str, list[str]] = field(default_factory=dict)
    #: The file it was read from, if any (never overwritten by a report).
    path: Path | None = None

    @classmethod
    def from_model(cls, run_id: str, started_at: float, model: RunModel,
                   exits: dict[str, dict[str, Any]]) -> RunRecord:
        """The record of a finished run: each side's kept lines, problems and launch error."""
        rec = cls(run_id, started_at, dict(model.params))
        for role in model.active_roles:
            side = model.sides[role]
            rec.lines[role] = side.history_lines()
            if side.problems:
                rec.problems[role] = list(side.problems)
            if side.result is not None and side.result.source == "launcher" and side.result.code == -1:
                rec.launch_errors[role] = side.result.reason
        rec.exits = dict(exits)
        return rec

    def replay(self, log_capacity: int = LOG_CAPACITY) -> RunModel:
        """Rebuild the model exactly as the live run left it."""
        model = RunModel(self.params, log_capacity)
        for role in ROLES:
            side = model.sides[role]
            info = self.exits.get(role, {})
            if role in self.lines or role in self.launch_errors or info:
                side.where = str(info.get("where", "local"))
            for raw in self.lines.get(role, []):
                side.feed(raw)
            for reason in self.problems.get(role, []):
                if reason != self.launch_errors.get(role):  # failed_to_start adds it again
                    side.problem(reason)
            if role in self.launch_errors:
                side.failed_to_start(self.launch_errors[role])
            elif info:
                side.ended(info["code"], info.get("transport", "local"))
        model.version += 1
        return model

    def to_json(self) -> dict[str, Any]:
        """The stored form (``migtd-console-run/1``)."""
        return {"format": FORMAT, "run_id": self.run_id,
                "started_at": self.started_at, "params": self.params, "lines": self.lines,
                "exits": self.exits, "launch_errors": self.launch_errors,
                "problems": self.problems}

    @classmethod
    def from_json(cls, data: Any, path: Path | None = None) -> RunRecord:
        """Decode :meth:`to_json`'s form; :class:`RecordError` (one line) if it does not fit."""
        if not isinstance(data, dict) or data.get("format") != FORMAT:
            raise RecordError("not a migtd-console run record")
        try:
            run_id = data.get("run_id")
            if not valid_run_id(run_id):
                raise RecordError(f"run_id must be 1-64 letters, digits, '.', '_' or '-', not {str(run_id)[:40]!r}")
            return cls(run_id, number("started_at", data.get("started_at"), 0, 2**40),
                       params("params", data.get("params", {})),
                       per_role("lines", data.get("lines", {}), _lines),
                       per_role("exits", data.get("exits", {}), _exit),
                       per_role("launch_errors", data.get("launch_errors", {}), text),
                       per_role("problems", data.get("problems", {}),
                                lambda w, v: text_list(w, v, MAX_PROBLEMS)),
                       path)
        except RecordError as exc:
            raise RecordError(f"malformed migtd-console run record: {exc}") from None

    @classmethod
    def read(cls, path: Path) -> RunRecord:
        """Read and decode the run file ``path``; :class:`RecordError` (one line) for any problem."""
        try:
            data = load_json(read_input(path, "saved run", limit=RECORD_LIMIT), f"saved run {path}")
        except InputError as exc:  # missing, not a regular file, too large, not JSON: one line naming it
            raise RecordError(str(exc)) from None
        try:
            return cls.from_json(data, path)
        except RecordError as exc:
            raise RecordError(f"{path}: {exc}") from None
