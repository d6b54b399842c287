"""The collector: every due host's evidence over SSH, in parallel, each within its own deadline.

A host is due when it has no evidence yet, its last attempt failed, or its
evidence is older than ``stale_after`` (``refresh_all`` makes every host due).
Due hosts run at most ``concurrency`` at a time. Each gets one deadline for
everything — connecting, authenticating, running ``evidence collect``,
sending the result — so a host that trickles bytes cannot stretch it; at the
deadline its ssh process group is killed. Output is bounded (a host cannot
make the collector buffer more than :data:`MAX_OUTPUT` bytes).

Successful evidence is checked (format, digests, host name) before it is
written, atomically, as ``<host>.evidence.json``; ``fleet-state.json`` records
every host's last outcome (:mod:`migtd.fleet.state`) and is saved as the run
progresses, so an interrupted run keeps what it collected.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import re
import signal
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path

from migtd.errors import ConfigError
from migtd.fleet.evidence import Evidence, EvidenceError, iso, now_utc
from migtd.fleet.hosts import evidence_file_name
from migtd.fleet.inventory import Host, Inventory
from migtd.fleet.ssh import Failure, RemoteSettings, classify, remote_command, ssh_argv
from migtd.fleet.state import STATE_FILE, FleetState, HostState
from migtd.inputs import parse_seconds, refuse_input_as_output, write_atomic

#: Most bytes read from a host's stdout (an evidence file is at most 4 MiB) and stderr.
MAX_OUTPUT = 8 * 1024 * 1024
MAX_STDERR = 64 * 1024
#: Longest ssh ConnectTimeout: past it ssh itself reports the unreachable host (within the host's deadline).
CONNECT_TIMEOUT = 30.0
#: Seconds between state saves while collecting.
SAVE_INTERVAL = 2.0
_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400}



def parse_age(text: str) -> float:
    """``90``, ``30s``, ``15m``, ``24h``, ``7d`` → seconds (one-line ConfigError otherwise)."""
    m = re.fullmatch(r"\s*([0-9.+]+)\s*([smhd]?)\s*", text)
    value = parse_seconds(m.group(1), maximum=10 * 365 * 86400) if m else None
    if m is None or value is None:
        raise ConfigError(f"Invalid --refresh-stale value: {text}. Use a positive age like 90, 30m, 24h or 7d")
    return value * _UNITS[m.group(2) or "s"]


@dataclass
class CollectOptions:
    """How to collect (the ``fleet collect`` flags)."""

    out_dir: Path
    concurrency: int = 16
    timeout: float = 120.0
    stale_after: float = 86400.0
    refresh_all: bool = False
    ssh: str = "ssh"
    ssh_config: str | None = None
    ssh_options: list[str] = field(default_factory=list)
    remote_tool: str = "migtd-tool"
    attestation: str | None = None
    policy: str | None = None
    root_ca: str | None = None
    issuer_chain: str | None = None
    inventory_label: str = ""

    @property
    def remote(self) -> RemoteSettings:
        return RemoteSettings(self.remote_tool, self.attestation, self.policy, self.root_ca, self.issuer_chain)


@dataclass(frozen=True)
class HostOutcome:
    """One host's result in this run: collected, kept (fresh), or failed with a kind."""

    name: str
    status: str          # collected | fresh | failed
    kind: str = ""
    message: str = ""
    duration: float = 0.0


@dataclass(frozen=True)
class CollectProgress:
    """Reported after each host: how far the run is, and that host's outcome."""

    done: int
    total: int
    outcome: HostOutcome

    def line(self) -> str:
        """``[3/50] host: ok (0.8 s)`` or ``[4/50] host: FAILED kind: detail (1.2 s)``."""
        o = self.outcome
        verdict = "ok" if o.status == "collected" else f"FAILED {o.kind}: {o.message}"
        return f"[{self.done}/{self.total}] {o.name}: {verdict} ({o.duration:.1f} s)"


Report = Callable[[CollectProgress], None]


@dataclass
class CollectSummary:
    """The run's outcomes, in host-name order."""

    outcomes: list[HostOutcome]
    elapsed: float
    extra_hosts: int = 0   # hosts in the state file but not in this inventory (kept)

    @property
    def failed(self) -> list[HostOutcome]:
        return [o for o in self.outcomes if o.status == "failed"]

    @property
    def complete(self) -> bool:
        """True when no host failed in this run."""
        return not self.failed

    def text(self) -> str:
        """The summary ``fleet collect`` prints: counts, then one line per failed host."""
        n = {s: sum(1 for o in self.outcomes if o.status == s) for s in ("collected", "fresh", "failed")}
        lines = [(f"{len(self.outcomes)} hosts: {n['collected']} collected, {n['fresh']} fresh (kept), "
                  f"{n['failed']} failed ({self.elapsed:.1f} s)")]
        if self.extra_hosts:
            lines.append(f"{self.extra_hosts} host(s) of the state file are not in this inventory (kept)")
        if self.failed:
            width = max(len(o.name) for o in self.failed)
            lines.append(f"{'host':<{width}}  {'error':<17}  detail")
            lines += [f"{o.name:<{width}}  {o.kind:<17}  {o.message}" for o in self.failed]
        return "\n".join(lines)


def due(state: HostState | None, out_dir: Path, now: datetime, options: CollectOptions) -> bool:
    """Whether a host must be (re)collected in this run."""
    if options.refresh_all or state is None or not state.ok or not state.evidence:
        return True
    collected = state.collected_time()
    if collected is None or now - collected > timedelta(seconds=options.stale_after):
        return True
    return not (out_dir / state.evidence).is_file()


async def _read(stream: asyncio.StreamReader, limit: int, sink: bytearray, keep_tail: bool) -> bool:
    """Read to EOF into ``sink``; False when more than ``limit`` bytes came (stdout) — stderr keeps its tail."""
    while True:
        chunk = await stream.read(65536)
        if not chunk:
            return True
        sink += chunk
        if len(sink) > limit:
            if not keep_tail:
                return False
            del sink[:len(sink) - limit]


def _kill(proc: asyncio.subprocess.Process) -> None:
    try:
        os.killpg(proc.pid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError):
        with contextlib.suppress(ProcessLookupError):
            proc.kill()


async def run_ssh(argv: list[str], timeout: float) -> tuple[int | None, bytes, str, bool, bool]:
    """Run one ssh; (status, stdout, stderr, timed out, output too large). Never outlives ``timeout``."""
    proc = await asyncio.create_subprocess_exec(*argv, stdin=asyncio.subprocess.DEVNULL,
                                                stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
                                                start_new_session=True)
    assert proc.stdout is not None and proc.stderr is not None
    out, err = bytearray(), bytearray()
    timed_out = too_large = False
    try:
        async with asyncio.timeout(timeout):
            results = await asyncio.gather(_read(proc.stdout, MAX_OUTPUT, out, False),
                                           _read(proc.stderr, MAX_STDERR, err, True))
            if not results[0]:
                too_large = True
                _kill(proc)
            await proc.wait()
    except TimeoutError:
        timed_out = True
        _kill(proc)
    finally:
        if proc.returncode is None:
            _kill(proc)
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(5):
                    await proc.wait()
    return proc.returncode, bytes(out), err.decode("utf-8", "replace"), timed_out, too_large


async def collect_host(host: Host, options: CollectOptions) -> tuple[Evidence | None, Failure | None, int | None]:
    """Collect one host's evidence (or say why not)."""
    settings = options.remote.for_host(host)
    argv = ssh_argv(host, remote_command(host, settings), ssh=options.ssh, ssh_config=options.ssh_config,
                    options=options.ssh_options, connect_timeout=min(options.timeout, CONNECT_TIMEOUT))
    try:
        status, out, err, timed_out, too_large = await run_ssh(argv, options.timeout)
    except OSError as exc:
        return None, Failure("ssh_error", f"cannot run {options.ssh}: {exc.strerror or exc}"), None
    if too_large:
        return None, Failure("collection_failed", f"the host sent more than {MAX_OUTPUT} bytes"), status
    failure = classify(status, err, timed_out=timed_out, timeout=options.timeout, tool=settings.tool)
    if failure is not None:
        return None, failure, status
    try:
        evidence = Evidence.from_json(out, f"evidence from {host.name}")
    except EvidenceError as exc:
        return None, Failure("collection_failed", exc.message), status
    if evidence.host != host.name:
        return None, Failure("collection_failed", f"the host answered with evidence for {evidence.host!r}"), status
    return evidence, None, status


async def collect_hosts(inventory: Inventory, options: CollectOptions, *, report: Report | None = None,
                        now: datetime | None = None) -> CollectSummary:
    """Collect every due host of ``inventory`` into ``options.out_dir`` (see module doc)."""
    started = time.monotonic()
    out_dir = options.out_dir
    try:
        out_dir.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise ConfigError(f"cannot create --out-dir {out_dir}: {exc.strerror or exc}") from None
    state_path = out_dir / STATE_FILE
    state = FleetState.load(state_path) if state_path.exists() else FleetState()
    state.inventory = options.inventory_label or state.inventory
    inputs = [("inventory", options.inventory_label or None), ("ssh config file", options.ssh_config)]
    refuse_input_as_output(state_path, inputs, "state file")
    now = now or now_utc()
    todo = [h for h in inventory.hosts if due(state.hosts.get(h.name), out_dir, now, options)]
    todo_names = {h.name for h in todo}
    for h in todo:
        refuse_input_as_output(out_dir / evidence_file_name(h.name), inputs, "evidence file")
    outcomes: dict[str, HostOutcome] = {}
    for h in inventory.hosts:
        entry = state.hosts.setdefault(h.name, HostState(h.name))
        entry.address, entry.user, entry.port, entry.groups = h.address, h.user, h.port, list(h.groups)
        if h.name not in todo_names:
            outcomes[h.name] = HostOutcome(h.name, "fresh")
    extra = len(set(state.hosts) - {h.name for h in inventory.hosts})
    gate = asyncio.Semaphore(options.concurrency)
    done = 0
    last_save = time.monotonic()

    async def one(host: Host) -> None:
        nonlocal done, last_save
        async with gate:
            t0 = time.monotonic()
            attempted = now_utc()
            evidence, failure, status = await collect_host(host, options)
            duration = time.monotonic() - t0
        entry = state.hosts[host.name]
        entry.attempted_at, entry.duration, entry.exit_status = iso(attempted), round(duration, 3), status
        if evidence is not None:
            name = evidence_file_name(host.name)
            try:
                write_atomic(out_dir / name, evidence.to_json(), "evidence file", inputs)
            except ConfigError as exc:
                failure = Failure("collection_failed", exc.message)
            else:
                entry.status, entry.error_kind, entry.error = "ok", "", ""
                entry.evidence, entry.collected_at = name, iso(evidence.collected_at)
                outcomes[host.name] = HostOutcome(host.name, "collected", duration=duration)
        if failure is not None:
            entry.status, entry.error_kind, entry.error = "failed", failure.kind, failure.message
            outcomes[host.name] = HostOutcome(host.name, "failed", failure.kind, failure.message, duration)
        done += 1
        if report is not None:
            report(CollectProgress(done, len(todo), outcomes[host.name]))
        if time.monotonic() - last_save > SAVE_INTERVAL:
            last_save = time.monotonic()
            state.save(state_path, now_utc(), inputs)

    try:
        await asyncio.gather(*(one(h) for h in todo))
    finally:
        state.save(state_path, now_utc(), inputs)
    ordered = [outcomes[h.name] for h in inventory.hosts]
    return CollectSummary(ordered, time.monotonic() - started, extra)


def collect_fleet(inventory: Inventory, options: CollectOptions, *, report: Report | None = None) -> CollectSummary:
    """:func:`collect_hosts` from synchronous code (the command line)."""
    if options.concurrency < 1:
        raise ConfigError("--concurrency must be at least 1")
    return asyncio.run(collect_hosts(inventory, options, report=report))
