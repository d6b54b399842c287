"""Many migrations one after another leak nothing (issue #11, "Load and faults on loopback").

* 200 skip-RA migrations in this one test process, the engine in process:
  each destination on a thread (:func:`migtd.cli.runtime.run_logged`, since
  signal handlers can only be installed from the main thread), each source on
  the main thread through :func:`migtd.cli.runtime.main` itself, the process
  entry point, with ``MIGTD_LOG_FILE`` teeing its log to a file. After a
  warm-up, this process's open file descriptors (``/proc/self/fd``) must come
  back to the same count, its resident memory (``VmRSS``) may grow by at most
  :data:`RSS_SLOPE_KIB` per run, and the live Python objects by at most
  :data:`OBJECTS_PER_RUN` per run. A self-check runs the same loop with one
  socket per side retained (an engine that forgets to close its connection)
  and a 64 KiB buffer kept per run, and shows that each measure catches it.
* Real ``migtd`` processes, sequentially: the test process's descriptors come
  back to the same count once each pair is reaped (pipes closed).
"""

from __future__ import annotations

import contextlib
import gc
import io
import json
import os
import socket
import threading
from collections.abc import Callable
from pathlib import Path

import pytest

from migtd.cli import runtime
from migtd.cli.args import parse_args
from migtd.cli.config import merge_env
from migtd.events import EventLog

from .conftest import Procs

#: Measured runs, after :data:`WARM_UP` runs that fill caches and import lazily loaded modules.
RUNS = 200
WARM_UP = 20
#: Descriptors the process may hold more after the runs than before (none are expected; a leak
#: of one socket per run would be RUNS or more).
FD_SLACK = 2
#: Resident memory may grow this much per measured run on average (measured: under 1 KiB per run).
RSS_SLOPE_KIB = 16
#: Live objects tracked by the garbage collector may grow this much per run on average.
OBJECTS_PER_RUN = 5
#: Each side's phase deadline: a stuck run fails the test in seconds, not minutes.
TIMEOUT = "15"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def open_fds() -> int:
    return len(os.listdir("/proc/self/fd"))


def rss_kib() -> int:
    with open("/proc/self/status", encoding="ascii") as status:
        for line in status:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    raise AssertionError("no VmRSS in /proc/self/status")


def events(text: str) -> list[dict]:
    return [json.loads(line) for line in text.splitlines() if line.startswith("{")]


def fingerprint(text: str) -> str:
    found = [e["key_sha256_8"] for e in events(text) if e["event"] == "msk_exchanged"]
    assert len(found) == 1, text
    return str(found[0])


def migrate_in_process(env: dict[str, str], tee: Path) -> None:
    """One skip-RA migration, both sides in this process; asserts both succeed with one MSK."""
    port = str(free_port())
    result: dict[str, object] = {}

    def destination() -> None:
        opts = merge_env(parse_args(["-m", "dst", "-t", port, "--timeout", TIMEOUT]), env)
        out = io.StringIO()
        log = EventLog(opts.role, opts.request_id, fmt="json", stream=out)
        try:
            result["code"], result["reason"] = runtime.run_logged(opts, env, log)
        finally:
            log.close()
            result["log"] = out.getvalue()

    thread = threading.Thread(target=destination, name="migtd-destination")
    thread.start()
    err = io.StringIO()
    with contextlib.redirect_stderr(err):
        code = runtime.main(["-m", "src", "-t", port, "--timeout", TIMEOUT], dict(env, MIGTD_LOG_FILE=str(tee)))
    thread.join(60)
    assert not thread.is_alive(), "the destination did not finish"
    assert code == 0, err.getvalue()
    assert result["code"] == 0, result
    assert fingerprint(err.getvalue()) == fingerprint(str(result["log"]))
    assert tee.read_text() == err.getvalue()  # the tee was written and closed


def measure(env: dict[str, str], tee: Path, runs: int, per_run: Callable[[], None] = lambda: None
            ) -> tuple[int, int, int]:
    """(descriptor growth, RSS growth in KiB, live-object growth) over ``runs`` migrations after a warm-up."""
    for _ in range(WARM_UP):
        migrate_in_process(env, tee)
    gc.collect()
    fds, rss, objects = open_fds(), rss_kib(), len(gc.get_objects())
    for _ in range(runs):
        migrate_in_process(env, tee)
        per_run()
    gc.collect()
    return open_fds() - fds, rss_kib() - rss, len(gc.get_objects()) - objects


def test_200_in_process_migrations_leak_nothing(skip_ra_env: dict[str, str], tmp_path: Path) -> None:
    fd_growth, rss_growth, object_growth = measure(skip_ra_env, tmp_path / "source.log", RUNS)
    print(f"after {RUNS} runs: {fd_growth:+d} fds, {rss_growth:+d} KiB RSS, {object_growth:+d} objects")
    assert fd_growth <= FD_SLACK, f"{fd_growth} more open descriptors after {RUNS} migrations"
    assert rss_growth <= RSS_SLOPE_KIB * RUNS, f"RSS grew {rss_growth} KiB over {RUNS} migrations"
    assert object_growth <= OBJECTS_PER_RUN * RUNS, f"{object_growth} more live objects after {RUNS} migrations"


def test_the_measures_catch_a_leak(skip_ra_env: dict[str, str], tmp_path: Path,
                                   monkeypatch: pytest.MonkeyPatch) -> None:
    """The same loop with a connection left open per side and 64 KiB kept per run fails every measure."""
    from migtd.transport import FramedStream

    kept: list[object] = []
    close = FramedStream.close
    monkeypatch.setattr(FramedStream, "close", lambda self: kept.append(self))
    runs = 20
    fd_growth, rss_growth, object_growth = measure(skip_ra_env, tmp_path / "source.log", runs,
                                                   lambda: kept.append(bytearray(64 * 1024)))
    assert fd_growth >= 2 * runs > FD_SLACK
    assert rss_growth > RSS_SLOPE_KIB * runs
    assert object_growth > OBJECTS_PER_RUN * runs
    for item in kept:
        if isinstance(item, FramedStream):
            close(item)


def test_sequential_processes_leave_no_descriptors(procs: Procs, skip_ra_env: dict[str, str]) -> None:
    """Real migtd pairs one after another: each reaped with its pipes closed, nothing left open here."""
    def pair() -> None:
        port = str(free_port())
        dst = procs.start(["-m", "dst", "-t", port, "--timeout", TIMEOUT], skip_ra_env)
        src = procs.start(["-m", "src", "-t", port, "--timeout", TIMEOUT], skip_ra_env)
        s, d = procs.finish(src), procs.finish(dst)
        assert (s.code, d.code) == (0, 0), s.stderr + d.stderr
        assert s.event("msk_exchanged")["key_sha256_8"] == d.event("msk_exchanged")["key_sha256_8"]

    pair()
    gc.collect()
    before = open_fds()
    for _ in range(8):
        pair()
    gc.collect()
    assert open_fds() - before <= FD_SLACK
