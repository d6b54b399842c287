"""The run model: everything the console shows, derived from event lines.

The model is pure (no I/O, no Textual): launchers hand it each output line of
a side as it arrives, and tell it when the process ended. From those it derives
the step timeline, the attestation of each direction, the policy rows, the
result of each side and whether the MSK fingerprints match. Replaying a saved
run is just feeding the same lines again, so live runs, replays and the unit
tests all exercise one code path.

Memory stays bounded however much a side writes: log lines live in a ring
buffer, and the lines kept for history are the structured events plus the most
recent log lines.
"""

from __future__ import annotations

import json
from collections import deque
from dataclasses import dataclass
from typing import Any, Iterable

from migtd.policy.decision import RuleResult
from migtd.result import MigrationResult

ROLES: tuple[str, str] = ("source", "destination")


def peer_of(role: str) -> str:
    """The other side of a migration."""
    return "destination" if role == "source" else "source"


#: Timeline steps in display order, with the event that completes each one.
STEPS: tuple[tuple[str, str], ...] = (
    ("connected", "connected"),
    ("TLS", "tls_established"),
    ("quote", "quote_generated"),
    ("peer attested", "peer_attested"),
    ("policy", "policy_decision"),
    ("MSK", "msk_exchanged"),
    ("done", "exit"),
)

#: Levels in increasing verbosity; ``raw`` marks lines that were not JSON events.
LEVELS: tuple[str, ...] = ("error", "warn", "info", "debug", "trace")
_LEVEL_ALIASES = {"warning": "warn", "err": "error", "information": "info"}

#: Default ring-buffer size of a log pane (lines per side).
LOG_CAPACITY = 5000
#: Log lines kept per side for the history record, beyond the structured events.
HISTORY_TAIL = 5000
#: Structured (non-``log``) events kept per side for the history record.
HISTORY_EVENTS = 5000
#: Longest line kept; a longer one is cut so one bad line cannot exhaust memory.
MAX_LINE = 4000

#: Exit codes with a launcher-level meaning when no ``exit`` event was seen.
SSH_FAILURE = 255
COMMAND_NOT_FOUND = 127


@dataclass(slots=True)
class LogLine:
    """One line of a side's log pane."""

    elapsed: float | None
    level: str  # one of LEVELS, or "raw" for non-JSON output
    event: str
    text: str

    def columns(self) -> tuple[str, str, str, str]:
        """Elapsed time, level, event and text, each padded as the log pane shows it."""
        when = f"{self.elapsed:9.3f}s " if self.elapsed is not None else " " * 11
        return when, f"{self.level.upper():5} ", f"{self.event:15} ", self.text

    def render(self) -> str:
        """The plain text shown in the log pane (and matched by the filter)."""
        return "".join(self.columns())


@dataclass(slots=True)
class Step:
    """State of one timeline step: ``pending``, ``done``, ``skipped`` or ``failed``."""

    name: str
    state: str = "pending"
    elapsed: float | None = None
    note: str = ""


@dataclass(slots=True)
class SideResult:
    """How a side ended: exit code, MigrationResult name and meaning, reason."""

    code: int
    name: str
    meaning: str
    reason: str
    source: str  # "event" (the exit record), "process" or "launcher"

    @property
    def ok(self) -> bool:
        return self.code == 0


def _text(value: Any, limit: int = 200) -> str:
    """Short display form of an event field (lists and dicts as compact JSON)."""
    if value is None:
        return ""
    if isinstance(value, str):
        out = value
    elif isinstance(value, bool):
        out = "true" if value else "false"
    elif isinstance(value, (int, float)):
        out = str(value)
    else:
        out = json.dumps(value, separators=(",", ":"), default=str)
    return out if len(out) <= limit else out[: limit - 1] + "…"


def _level(value: Any) -> str:
    word = str(value).lower() if value is not None else "info"
    word = _LEVEL_ALIASES.get(word, word)
    return word if word in LEVELS else "info"


class SideState:
    """What one side (source or destination) has reported so far."""

    def __init__(self, role: str, log_capacity: int = LOG_CAPACITY) -> None:
        self.role = role
        self.where = "local"
        self.started = False  # a process was launched (or lines arrived)
        self.running = False
        self.t0: float | None = None
        self.steps: dict[str, Step] = {name: Step(name) for name, _ in STEPS}
        self.logs: deque[LogLine] = deque(maxlen=log_capacity)
        self.total_lines = 0
        self.malformed = 0
        self.config: dict[str, Any] = {}
        self.listening: tuple[str, int] | None = None
        self.quote: dict[str, Any] | None = None
        self.peer: dict[str, Any] | None = None
        self.policy_rows: list[RuleResult] = []  # one per policy_rule event
        self.policy: dict[str, Any] | None = None
        self.msk: dict[str, Any] | None = None
        self.result: SideResult | None = None
        self.problems: list[str] = []  # launcher-level failures, shown in the panes
        self.last_raw: str = ""
        # History: structured events always, log lines as a bounded tail.
        self._seq = 0
        self._key_lines: list[tuple[int, str]] = []
        self._tail_lines: deque[tuple[int, str]] = deque(maxlen=HISTORY_TAIL)

    # -- ingest -----------------------------------------------------------------
    def feed(self, line: str | dict[str, Any]) -> None:
        """Take one output line (or an already-parsed record)."""
        self.started = True
        self.total_lines += 1
        if isinstance(line, dict):
            record: dict[str, Any] | None = line
            raw = json.dumps(line, separators=(",", ":"), default=str)
        else:
            raw = line.rstrip("\r\n")
            if len(raw) > MAX_LINE:
                raw = raw[:MAX_LINE] + "…"
            record = _parse(raw)
        if record is None:
            self._keep(raw, structured=False)
            if raw.strip():
                self.malformed += 1
                self.last_raw = raw.strip()
            self.logs.append(LogLine(None, "raw", "-", raw))
            return
        event = str(record.get("event", "log"))
        self._keep(raw, structured=event != "log")
        self._record(event, record)

    def _keep(self, raw: str, *, structured: bool) -> None:
        self._seq += 1
        if structured and len(self._key_lines) < HISTORY_EVENTS:
            self._key_lines.append((self._seq, raw))
        else:
            self._tail_lines.append((self._seq, raw))

    def history_lines(self) -> list[str]:
        """The lines to store for this side, in arrival order (bounded)."""
        merged = sorted([*self._key_lines, *self._tail_lines])
        return [raw for _, raw in merged]

    def _elapsed(self, record: dict[str, Any]) -> float | None:
        ts = record.get("ts")
        if not isinstance(ts, (int, float)) or isinstance(ts, bool):
            return None
        if self.t0 is None:
            self.t0 = float(ts)
        return max(0.0, float(ts) - self.t0)

    def _mark(self, step: str, state: str, elapsed: float | None, note: str = "") -> None:
        target = self.steps[step]
        if target.state == "pending" or state == "failed":
            target.state, target.elapsed, target.note = state, elapsed, note

    def _record(self, event: str, rec: dict[str, Any]) -> None:
        elapsed = self._elapsed(rec)
        level = _level(rec.get("level"))
        self.logs.append(LogLine(elapsed, level, event, _text(rec.get("msg", ""), MAX_LINE)))
        if event == "config":
            self.config = rec
        elif event == "listening":
            self.listening = (_text(rec.get("ip")), as_int(rec.get("port"), 0))
        elif event == "connected":
            self._mark("connected", "done", elapsed, _text(rec.get("peer")))
        elif event == "tls_established":
            self._mark("TLS", "done", elapsed, _text(rec.get("cipher")))
        elif event == "quote_generated":
            self.quote = rec
            self._mark("quote", "done", elapsed, f"{_text(rec.get('source'))}")
        elif event == "peer_attested":
            self.peer = rec
            state, note = attestation_verdict(rec)
            self._mark("peer attested", state, elapsed, note)
        elif event == "policy_rule":
            self.policy_rows.append(RuleResult.from_event(rec, _text))
        elif event == "policy_decision":
            self.policy = rec
            state, note = policy_verdict(rec)
            self._mark("policy", state, elapsed, note)
        elif event == "msk_exchanged":
            self.msk = rec
            self._mark("MSK", "done", elapsed, _text(rec.get("key_sha256_8")))
        elif event == "exit":
            code = as_int(rec.get("code"), default=-1)
            name, meaning = MigrationResult.describe(code)
            name = _text(rec.get("result")) or name
            self.result = SideResult(code, name, meaning, _text(rec.get("reason"), 500), "event")
            self._finish(elapsed)

    def _finish(self, elapsed: float | None) -> None:
        """Close the timeline: ``done`` on success, else fail the first open step."""
        assert self.result is not None
        if self.result.ok:
            self._mark("done", "done", elapsed, self.result.name)
            return
        if any(step.state == "failed" for step in self.steps.values()):
            return  # the failing step is already marked (e.g. the policy decision)
        reason = self.result.reason or self.result.name
        for name, _ in STEPS:
            if self.steps[name].state == "pending":
                self._mark(name, "failed", elapsed, reason)
                break

    # -- process lifecycle ------------------------------------------------------
    def launched(self, where: str) -> None:
        """The process was started ``where``."""
        self.started = True
        self.running = True
        self.where = where

    def ended(self, code: int, transport: str = "local") -> None:
        """The process ended with ``code``; used when no ``exit`` event arrived."""
        self.running = False
        if self.result is not None:
            return
        if transport == "ssh" and code == SSH_FAILURE:
            detail = self.last_raw or "no output"
            self.result = SideResult(code, "SSHError",
                                     "ssh could not connect or authenticate, or the remote process was killed.",
                                     detail, "launcher")
        elif code == COMMAND_NOT_FOUND:
            self.result = SideResult(code, "CommandNotFound", "the migtd command was not found.",
                                     self.last_raw or "exit status 127", "launcher")
        else:
            name, meaning = MigrationResult.describe(code)
            reason = self.last_raw or "exited without an exit event"
            self.result = SideResult(code, name, meaning, reason, "process")
        self._finish(None)

    def failed_to_start(self, reason: str) -> None:
        """The launcher could not start the process at all (e.g. binary missing)."""
        self.started = True
        self.running = False
        self.problems.append(reason)
        self.logs.append(LogLine(None, "error", "launcher", reason))
        if self.result is None:
            self.result = SideResult(-1, "NotStarted", "the process could not be started.",
                                     reason, "launcher")
            self._finish(None)

    def problem(self, reason: str) -> None:
        """A launcher-level note (timeout waiting, stop requested) shown with the logs."""
        self.problems.append(reason)
        self.logs.append(LogLine(None, "warn", "console", reason))

    # -- derived views ----------------------------------------------------------
    def sorted_policy(self) -> list[RuleResult]:
        """Policy rows with failures first, otherwise in the order checked."""
        return sorted(self.policy_rows, key=lambda row: row.ok)


def as_int(value: Any, default: int) -> int:
    """An integer field, or ``default`` when a peer sent something else."""
    try:
        return int(value)
    except (TypeError, ValueError, OverflowError):
        return default


def as_list(value: Any) -> list[Any]:
    """A list field as a list; a scalar (a peer bug) becomes a one-item list."""
    if value is None or value == "":
        return []
    return list(value) if isinstance(value, (list, tuple)) else [value]


#: How migtd words a policy step it did not reach (docs/events.md).
NOT_EVALUATED = "not evaluated"


def attestation_verdict(rec: dict[str, Any]) -> tuple[str, str]:
    """Timeline state and note of a ``peer_attested`` record.

    A quote that failed verification (``failed_step`` set) is a failed step;
    one that was not verified at all (skip-RA) is a skipped one.
    """
    if rec.get("verified") is True:
        return "done", "verified"
    failed_step = _text(rec.get("failed_step"))
    if failed_step:
        return "failed", f"not verified: failed at {failed_step}"
    return "skipped", "not verified"


def policy_verdict(rec: dict[str, Any]) -> tuple[str, str]:
    """Timeline state and note of a ``policy_decision`` record.

    ``skipped`` with ``ok: true`` is skip-RA's accept-all ("skipped");
    ``skipped`` with ``ok: false`` is a peer refused before the policy step
    ("not evaluated (<reason>)").
    """
    if rec.get("skipped") is True:
        if rec.get("ok") is True:
            return "skipped", "skipped"
        reason = _text(rec.get("reason"))
        if reason.startswith(NOT_EVALUATED):
            reason = reason[len(NOT_EVALUATED):].lstrip(": ")
        return "skipped", f"{NOT_EVALUATED} ({reason})" if reason else NOT_EVALUATED
    if rec.get("ok") is True:
        return "done", "satisfied"
    return "failed", f"{len(as_list(rec.get('failed_rules')))} rule(s) failed"


def _parse(raw: str) -> dict[str, Any] | None:
    """A JSON object with an ``event`` or ``msg`` key, else ``None`` (plain line)."""
    text = raw.strip()
    if not text.startswith("{"):
        return None
    try:
        value = json.loads(text)
    except ValueError:
        return None
    if not isinstance(value, dict) or not ("event" in value or "msg" in value):
        return None
    return value


@dataclass
class Attestation:
    """One direction: the quote ``subject`` produced, as judged by ``verifier``."""

    subject: str
    verifier: str
    quote: dict[str, Any] | None
    judgment: dict[str, Any] | None

    @property
    def status(self) -> str:
        """``verified``, ``NOT VERIFIED`` (skip-RA), ``NOT VERIFIED: failed at <step>`` or ``pending``."""
        if self.judgment is None:
            return "pending"
        state, note = attestation_verdict(self.judgment)
        return note if state == "done" else note.replace("not verified", "NOT VERIFIED", 1)

    def rows(self) -> list[tuple[str, str]]:
        """Label/value pairs for the Attestation pane."""
        j = self.judgment or {}
        q = self.quote or {}
        rtmrs = as_list(j.get("rtmrs"))
        rows = [
            ("status", self.status),
            ("TCB status", _text(j.get("tcb_status"))),
            ("advisories", ", ".join(map(_text, as_list(j.get("advisories")))) or ("none" if j else "")),
            ("FMSPC", _text(j.get("fmspc"))),
            ("MRTD", _text(j.get("mrtd"))),
        ]
        for i in range(4):
            rows.append((f"RTMR{i}", _text(rtmrs[i]) if i < len(rtmrs) else ""))
        rows += [
            ("TEE TCB SVN", _text(j.get("tee_tcb_svn"))),
            ("quote source", _text(q.get("source"))),
            ("quote bytes", _text(j.get("quote_bytes", q.get("bytes")))),
            ("bypassed", ", ".join(map(_text, as_list(j.get("bypassed"))))),
        ]
        return rows


class RunModel:
    """Both sides of one run plus its parameters."""

    def __init__(self, params: dict[str, Any] | None = None,
                 log_capacity: int = LOG_CAPACITY) -> None:
        self.params: dict[str, Any] = dict(params or {})
        self.sides: dict[str, SideState] = {r: SideState(r, log_capacity) for r in ROLES}
        self.version = 0  # bumped on every change; the UI redraws when it moves

    def feed(self, role: str, line: str | dict[str, Any]) -> None:
        """One output line (or parsed record) of ``role``."""
        self.sides[role].feed(line)
        self.version += 1

    def feed_many(self, role: str, lines: Iterable[str | dict[str, Any]]) -> None:
        """Several lines of ``role``, counted as one change."""
        side = self.sides[role]
        for line in lines:
            side.feed(line)
        self.version += 1

    def launched(self, role: str, where: str) -> None:
        """``role``'s process was started ``where`` (``local`` or ``ssh HOST``)."""
        self.sides[role].launched(where)
        self.version += 1

    def ended(self, role: str, code: int, transport: str = "local") -> None:
        """``role``'s process ended with ``code`` (see :meth:`SideState.ended`)."""
        self.sides[role].ended(code, transport)
        self.version += 1

    def failed_to_start(self, role: str, reason: str) -> None:
        """``role``'s process could not be started at all."""
        self.sides[role].failed_to_start(reason)
        self.version += 1

    def problem(self, role: str, reason: str) -> None:
        """A launcher-level note for ``role`` (timeout, stop requested)."""
        self.sides[role].problem(reason)
        self.version += 1

    @property
    def mode(self) -> str:
        """Attestation mode from the parameters, else from the events."""
        if self.params.get("attestation"):
            return str(self.params["attestation"])
        for side in self.sides.values():
            if side.config.get("attestation"):
                return str(side.config["attestation"])
        return "unknown"

    @property
    def active_roles(self) -> list[str]:
        """The sides that were started (or sent lines), in :data:`ROLES` order."""
        return [r for r in ROLES if self.sides[r].started]

    def attestation_of(self, subject: str) -> Attestation:
        """How ``subject``'s quote fared with its peer (one direction)."""
        verifier = peer_of(subject)
        return Attestation(subject, verifier, self.sides[subject].quote, self.sides[verifier].peer)

    @property
    def msk_match(self) -> bool | None:
        """True/False when both sides logged a fingerprint, else None."""
        a, b = (self.sides[r].msk for r in ROLES)
        if not a or not b:
            return None
        return str(a.get("key_sha256_8", "")).upper() == str(b.get("key_sha256_8", "")).upper()

    @property
    def finished(self) -> bool:
        """Every started side has a result."""
        started = self.active_roles
        return bool(started) and all(self.sides[r].result is not None for r in started)

    @property
    def succeeded(self) -> bool:
        """Finished, every started side exited 0, and the MSK fingerprints do not differ."""
        started = self.active_roles
        return (self.finished and all(self.sides[r].result.ok for r in started)  # type: ignore[union-attr]
                and self.msk_match is not False)

    def summary(self) -> dict[str, Any]:
        """A JSON-able digest: results, steps, attestation, policy, MSK match."""
        out: dict[str, Any] = {"params": self.params, "mode": self.mode,
                               "msk_match": self.msk_match, "sides": {}}
        for role in self.active_roles:
            side = self.sides[role]
            res = side.result
            out["sides"][role] = {
                "where": side.where,
                "result": None if res is None else {
                    "code": res.code, "name": res.name, "meaning": res.meaning, "reason": res.reason},
                "steps": [{"name": s.name, "state": s.state, "elapsed": s.elapsed, "note": s.note}
                          for s in side.steps.values()],
                "attestation_of_peer": self.attestation_of(peer_of(role)).rows(),
                "policy": [row.as_event() for row in side.sorted_policy()],
                "policy_decision": side.policy,
                "msk_key_sha256_8": (side.msk or {}).get("key_sha256_8"),
                "lines": side.total_lines,
                "malformed_lines": side.malformed,
                "problems": list(side.problems),
            }
        return out
