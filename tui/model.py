"""The run model: everything the console shows, derived from event lines.

The model is pure (no I/O, no Textual): launchers hand it each output line of
a side as it arrives, and tell it when the process ended. From those it derives
the step timeline, the attestation of each direction, the policy rows, the
result of each side and whether the MSK fingerprints match. Replaying a saved
run is just feeding the same lines again, so live runs, replays and the unit
tests all exercise one code path.

Lines are read with :func:`migtd.events.decode_line` into the engine's own
event classes (``docs/events.md``), so the model works on typed events, never
on dictionaries whose keys might have drifted. A record that does not fit its
class is shown as one refused line with the reason and changes nothing else.

Memory stays bounded however much a side writes: log lines live in a ring
buffer, and the lines kept for history are the structured events plus the most
recent log lines.

The model itself posts nothing (it is pure so replays and tests need no app);
:class:`tui.runner.RunController`, which feeds it during a live run, posts a
message whenever it moved. ``version`` (the run) and each side's ``changes``
(its timeline, attestation, policy and result, not its log) let a screen redraw
only what moved.
"""

from __future__ import annotations

import json
from collections import deque
from collections.abc import Iterable
from dataclasses import dataclass
from operator import itemgetter
from typing import TYPE_CHECKING, Any, Self

from migtd.events import (
    BARE_LOG,
    Configured,
    Connected,
    EventDecodeError,
    Exited,
    Listening,
    Log,
    MskExchanged,
    PeerAttested,
    PolicyDecided,
    PolicyRuleChecked,
    QuoteGenerated,
    SpdmFailed,
    SpdmFinished,
    SpdmKeyExchanged,
    SpdmNegotiated,
    SpdmSessionEnded,
    TlsEstablished,
    decode_line,
)
from migtd.policy.decision import RuleResult
from migtd.result import MigrationResult

ROLES: tuple[str, str] = ("source", "destination")


_line = tuple.__new__


def peer_of(role: str) -> str:
    """The other side of a migration."""
    return "destination" if role == "source" else "source"


#: Timeline steps in display order, with the event that completes each one.
STEPS: tuple[tuple[str, str], ...] = (
    ("connected", "connected"),
    ("quote", "quote_generated"),  # the certificate carries the quote: it is made before the handshake
    ("TLS", "tls_established"),
    ("peer attested", "peer_attested"),
    ("policy", "policy_decision"),
    ("MSK", "msk_exchanged"),
    ("done", "exit"),
)

#: The timeline of an SPDM run (``--key-exchange spdm``): version/capabilities/algorithms, key
#: exchange, the attestation (quote, the peer's verdict, the policy), FINISH, the secured MSK (or
#: rebind-token) exchange, END_SESSION. The verdict steps are the RA-TLS ones, fed by the same events.
SPDM_STEPS: tuple[tuple[str, str], ...] = (
    ("connected", "connected"),
    ("negotiated", "spdm_negotiated"),
    ("key exchange", "spdm_key_exchanged"),
    ("quote", "quote_generated"),
    ("peer attested", "peer_attested"),
    ("policy", "policy_decision"),
    ("finish", "spdm_finished"),
    ("secured", "msk_exchanged"),
    ("end", "spdm_session_ended"),
    ("done", "exit"),
)

#: Timeline steps by ``--key-exchange``.
STEP_TABLES: dict[str, tuple[tuple[str, str], ...]] = {"ratls": STEPS, "spdm": SPDM_STEPS}

#: The SPDM steps an ``spdm_failed`` phase belongs to: the first still pending one fails; when all are
#: done already (a check after the verdict), the last one does.
SPDM_PHASE_STEPS: dict[str, tuple[str, ...]] = {
    "negotiation": ("negotiated",), "public_keys": ("key exchange",), "key_exchange": ("key exchange",),
    "attestation": ("quote", "peer attested", "policy"), "finish": ("finish",), "secured_exchange": ("secured",),
    "end_session": ("end",),
}

#: Levels in increasing verbosity; ``raw`` marks lines that were not JSON events (or were refused).
LEVELS: tuple[str, ...] = ("error", "warn", "info", "debug", "trace")

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


class LogLine(tuple):
    """One line of a side's log pane: elapsed seconds, level, event name, text.

    A tuple underneath: one is made per line of a flood, and a tuple is the
    cheapest immutable record Python makes (``tuple.__new__``, no ``__init__``).
    """

    __slots__ = ()

    def __new__(cls, elapsed: float | None, level: str, event: str, text: str) -> Self:
        return tuple.__new__(cls, (elapsed, level, event, text))

    if TYPE_CHECKING:
        elapsed: float | None
        level: str  # one of LEVELS, or "raw" for non-JSON output (or a refused record)
        event: str
        text: str
    else:
        elapsed = property(itemgetter(0))
        level = property(itemgetter(1))
        event = property(itemgetter(2))
        text = property(itemgetter(3))

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


def _as_line(record: dict[str, Any]) -> str:
    """The JSON line a parsed record stands for (tests and tools hand the model dicts)."""
    return json.dumps(record, separators=(",", ":"), default=str)


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


class SideState:
    """What one side (source or destination) has reported so far."""

    def __init__(self, role: str, log_capacity: int = LOG_CAPACITY, key_exchange: str = "ratls") -> None:
        self.role = role
        self.where = "local"
        self.started = False  # a process was launched (or lines arrived)
        self.running = False
        self.t0: float | None = None
        #: The timeline's steps in display order (RA-TLS or SPDM, :data:`STEP_TABLES`).
        self.step_table = STEP_TABLES.get(key_exchange, STEPS)
        self.steps: dict[str, Step] = {name: Step(name) for name, _ in self.step_table}
        self.logs: deque[LogLine] = deque(maxlen=log_capacity)
        self.appended = 0  # LogLines ever appended to ``logs`` (the pane's cursor)
        self.changes = 0  # bumped whenever anything but the log moved
        self.total_lines = 0
        self.malformed = 0  # lines that were not records, or records refused
        self.config: Configured | None = None
        self.listening: tuple[str, int] | None = None
        self.quote: QuoteGenerated | None = None
        self.peer: PeerAttested | None = None
        self.policy_rows: list[RuleResult] = []  # one per policy_rule event
        self.policy: PolicyDecided | None = None
        self.msk: MskExchanged | None = None
        self.result: SideResult | None = None
        self.problems: list[str] = []  # launcher-level failures, shown in the panes
        self.last_raw: str = ""
        # History: structured events always, log lines as a bounded tail.
        self._seq = 0
        self._key_lines: list[tuple[int, str]] = []
        self._tail_lines: deque[tuple[int, str]] = deque(maxlen=HISTORY_TAIL)

    # -- ingest -----------------------------------------------------------------
    def feed(self, line: str) -> None:
        """Take one output line (without or with its line ending)."""
        self.started = True
        self.total_lines += 1
        raw = line.rstrip("\r\n")
        if len(raw) > MAX_LINE:
            raw = raw[:MAX_LINE] + "…"
        self._seq = seq = self._seq + 1
        try:
            record = decode_line(raw)
        except EventDecodeError as exc:
            self._remember(raw, structured=True)
            self.malformed += 1
            self._log(LogLine(None, "raw", "refused", f"{exc} · {raw.strip()}"))
            return
        if record is None:
            self._remember(raw, structured=False)
            if raw.strip():
                self.malformed += 1
                self.last_raw = raw.strip()
            self._log(LogLine(None, "raw", "-", raw))
            return
        ts, level, _, _, name, msg, event = record
        t0 = self.t0
        if t0 is None:
            self.t0 = t0 = ts
        self.logs.append(_line(LogLine, (ts - t0 if ts > t0 else 0.0, level, name, msg)))
        self.appended += 1
        if event is BARE_LOG:  # the flood case: a free-text line, kept in the history's tail
            self._tail_lines.append((seq, raw))
            return
        self._remember(raw, structured=type(event) is not Log)
        if event is not None and type(event) is not Log:
            self._apply(event, ts - t0 if ts > t0 else 0.0)

    def _log(self, line: LogLine) -> None:
        self.logs.append(line)
        self.appended += 1

    def _remember(self, raw: str, *, structured: bool) -> None:
        if structured and len(self._key_lines) < HISTORY_EVENTS:
            self._key_lines.append((self._seq, raw))
        else:
            self._tail_lines.append((self._seq, raw))

    def history_lines(self) -> list[str]:
        """The lines to store for this side, in arrival order (bounded)."""
        merged = sorted([*self._key_lines, *self._tail_lines])
        return [raw for _, raw in merged]

    def _mark(self, step: str, state: str, elapsed: float | None, note: str = "") -> None:
        target = self.steps[step]
        if target.state == "pending" or state == "failed":
            target.state, target.elapsed, target.note = state, elapsed, note

    def _apply(self, event: object, elapsed: float) -> None:
        """What a structured event changes: the timeline, the panes, the result.

        ``changes`` moves only when one of those did: the ``request`` and
        ``report_status`` records a flood is full of are shown in the log alone.
        """
        match event:
            case Configured():
                self.config = event
                self._use_steps(event.key_exchange or "ratls")
            case Listening(ip=ip, port=port):
                self.listening = (ip, port)
            case Connected(peer=peer):
                self._mark("connected", "done", elapsed, peer)
            case TlsEstablished(cipher=cipher):
                self._mark("TLS", "done", elapsed, cipher)
            case QuoteGenerated(source=source):
                self.quote = event
                self._mark("quote", "done", elapsed, source)
            case PeerAttested():
                self.peer = event
                state, note = attestation_verdict(event)
                self._mark("peer attested", state, elapsed, note)
            case PolicyRuleChecked():
                self.policy_rows.append(RuleResult(event.section, event.field, event.operation, event.reference,
                                                   event.local, event.actual, event.ok, event.reason))
            case PolicyDecided():
                self.policy = event
                state, note = policy_verdict(event)
                self._mark("policy", state, elapsed, note)
            case MskExchanged(key_sha256_8=fingerprint):
                self.msk = event
                self._mark("secured" if "secured" in self.steps else "MSK", "done", elapsed, fingerprint)
            case SpdmNegotiated(version=version):
                self._mark("negotiated", "done", elapsed, f"SPDM {version}")
            case SpdmKeyExchanged(session_id=session):
                self._mark("key exchange", "done", elapsed, session)
            case SpdmFinished():
                self._mark("finish", "done", elapsed, "secured session")
            case SpdmSessionEnded():
                self._mark("secured", "done", elapsed, "rebind token")  # a migration marked it with the MSK
                self._mark("end", "done", elapsed, "END_SESSION")
            case SpdmFailed(phase=phase, reason=reason):
                self._fail_phase(phase, elapsed, reason)
            case Exited(code=code, result=result, reason=reason):
                name, meaning = MigrationResult.describe(code)
                self.result = SideResult(code, result or name, meaning, _text(reason, 500), "event")
                self._finish(elapsed)
            case _:
                return
        self.changes += 1

    def _use_steps(self, key_exchange: str) -> None:
        """The run says which protocol it speaks: take its timeline while nothing but pending is on it."""
        table = STEP_TABLES.get(key_exchange, STEPS)
        if table is self.step_table or any(step.state != "pending" for step in self.steps.values()):
            return
        self.step_table = table
        self.steps = {name: Step(name) for name, _ in table}

    def _fail_phase(self, phase: str, elapsed: float, reason: str) -> None:
        """``spdm_failed``: fail the step of that SPDM phase (see :data:`SPDM_PHASE_STEPS`)."""
        names = [n for n in SPDM_PHASE_STEPS.get(phase, ()) if n in self.steps]
        if not names:
            return
        pending = [n for n in names if self.steps[n].state == "pending"]
        target = pending[0] if pending else ("peer attested" if "peer attested" in names else names[-1])
        self._mark(target, "failed", elapsed, _text(reason))

    def _finish(self, elapsed: float | None) -> None:
        """Close the timeline: ``done`` on success, else fail the first open step."""
        assert self.result is not None
        if self.result.ok:
            self._mark("done", "done", elapsed, self.result.name)
            return
        if any(step.state == "failed" for step in self.steps.values()):
            return  # the failing step is already marked (e.g. the policy decision)
        reason = self.result.reason or self.result.name
        for name, _ in self.step_table:
            if self.steps[name].state == "pending":
                self._mark(name, "failed", elapsed, reason)
                break

    # -- process lifecycle ------------------------------------------------------
    def launched(self, where: str) -> None:
        """The process was started ``where``."""
        self.started = True
        self.running = True
        self.where = where
        self.changes += 1

    def ended(self, code: int, transport: str = "local") -> None:
        """The process ended with ``code``; used when no ``exit`` event arrived."""
        self.running = False
        self.changes += 1
        if self.result is not None:
            return
        if transport == "ssh" and code == SSH_FAILURE and self.t0 is not None:
            # The remote migtd had been writing records, so ssh did connect: the connection (or the
            # remote process) went away mid-run and the side's own exit record never arrived.
            detail = self.last_raw or "no output"
            self.result = SideResult(code, "SSHError",
                                     "the SSH connection was lost mid-run (or the remote migtd was killed); "
                                     "its own result never arrived.", detail, "launcher")
            self._log(LogLine(None, "error", "console", f"SSH connection lost mid-run: {detail}"))
        elif transport == "ssh" and code == SSH_FAILURE:
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
        self.changes += 1
        self.problems.append(reason)
        self._log(LogLine(None, "error", "launcher", reason))
        if self.result is None:
            self.result = SideResult(-1, "NotStarted", "the process could not be started.",
                                     reason, "launcher")
            self._finish(None)

    def problem(self, reason: str) -> None:
        """A launcher-level note (timeout waiting, stop requested) shown with the logs."""
        self.changes += 1
        self.problems.append(reason)
        self._log(LogLine(None, "warn", "console", reason))

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


#: How migtd words a policy step it did not reach (docs/events.md).
NOT_EVALUATED = "not evaluated"


def attestation_verdict(rec: PeerAttested) -> tuple[str, str]:
    """Timeline state and note of a ``peer_attested`` event.

    A quote that failed verification (``failed_step`` set) is a failed step;
    one that was not verified at all (skip-RA) is a skipped one.
    """
    if rec.verified:
        return "done", "verified"
    if rec.failed_step:
        return "failed", f"not verified: failed at {_text(rec.failed_step)}"
    return "skipped", "not verified"


def policy_verdict(rec: PolicyDecided) -> tuple[str, str]:
    """Timeline state and note of a ``policy_decision`` event.

    ``skipped`` with ``ok: true`` is skip-RA's accept-all ("skipped");
    ``skipped`` with ``ok: false`` is a peer refused before the policy step
    ("not evaluated (<reason>)").
    """
    if rec.skipped:
        if rec.ok:
            return "skipped", "skipped"
        reason = _text(rec.reason)
        if reason.startswith(NOT_EVALUATED):
            reason = reason[len(NOT_EVALUATED):].lstrip(": ")
        return "skipped", f"{NOT_EVALUATED} ({reason})" if reason else NOT_EVALUATED
    if rec.ok:
        return "done", "satisfied"
    return "failed", f"{len(rec.failed_rules)} rule(s) failed"


@dataclass
class Attestation:
    """One direction: the quote ``subject`` produced, as judged by ``verifier``."""

    subject: str
    verifier: str
    quote: QuoteGenerated | None
    judgment: PeerAttested | None

    @property
    def status(self) -> str:
        """``verified``, ``NOT VERIFIED`` (skip-RA), ``NOT VERIFIED: failed at <step>`` or ``pending``."""
        if self.judgment is None:
            return "pending"
        state, note = attestation_verdict(self.judgment)
        return note if state == "done" else note.replace("not verified", "NOT VERIFIED", 1)

    def rows(self) -> list[tuple[str, str]]:
        """Label/value pairs for the Attestation pane."""
        j, q = self.judgment, self.quote
        rtmrs = j.rtmrs if j is not None else ()
        rows = [
            ("status", self.status),
            ("TCB status", _text(j.tcb_status) if j else ""),
            ("advisories", (", ".join(map(_text, j.advisories)) or "none") if j else ""),
            ("FMSPC", _text(j.fmspc) if j else ""),
            ("MRTD", _text(j.mrtd) if j else ""),
        ]
        for i in range(4):
            rows.append((f"RTMR{i}", _text(rtmrs[i]) if i < len(rtmrs) else ""))
        quote_bytes = j.quote_bytes if j is not None else (q.bytes if q is not None else None)
        rows += [
            ("TEE TCB SVN", _text(j.tee_tcb_svn) if j else ""),
            ("quote source", _text(q.source) if q else ""),
            ("quote bytes", _text(quote_bytes)),
            ("bypassed", ", ".join(map(_text, j.bypassed)) if j else ""),
        ]
        return rows


class RunModel:
    """Both sides of one run plus its parameters."""

    def __init__(self, params: dict[str, Any] | None = None,
                 log_capacity: int = LOG_CAPACITY) -> None:
        self.params: dict[str, Any] = dict(params or {})
        key_exchange = str(self.params.get("key_exchange") or "ratls")
        self.sides: dict[str, SideState] = {r: SideState(r, log_capacity, key_exchange) for r in ROLES}
        self.version = 0  # bumped on every change; the UI redraws when it moves

    def feed(self, role: str, line: str | dict[str, Any]) -> None:
        """One output line of ``role`` (a dict is written as the JSON line it stands for)."""
        self.sides[role].feed(line if isinstance(line, str) else _as_line(line))
        self.version += 1

    def feed_many(self, role: str, lines: Iterable[str]) -> None:
        """Several lines of ``role`` (one read of its output), counted as one change."""
        feed = self.sides[role].feed
        for line in lines:
            feed(line)
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
            if side.config is not None and side.config.attestation:
                return side.config.attestation
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
        return a.key_sha256_8.upper() == b.key_sha256_8.upper()

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
                "policy_decision": side.policy.fields() if side.policy is not None else None,
                "msk_key_sha256_8": side.msk.key_sha256_8 if side.msk is not None else None,
                "lines": side.total_lines,
                "malformed_lines": side.malformed,
                "problems": list(side.problems),
            }
        return out
