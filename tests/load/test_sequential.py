"""Many migrations one after another leak nothing (issue #11, "Load and faults on loopback").

* 200 skip-RA migrations in this one test process, the engine in process:
  each destination on a thread (:func:`migtd.cli.runtime.run_logged`, since
  signal handlers can only be installed from the main thread), each source on
  the main thread through :func:`migtd.cli.runtime.main` itself, the process
  entry point, with ``MIGTD_LOG_FILE`` teeing its log to a file. After a
  warm-up, this process's open file descriptors (``/proc/self/fd``) must come
  back to the same count; the Python memory allocated during the runs and
  still held at the end (tracemalloc) may be at most :data:`TRACED_KIB_PER_RUN`
  per run, the live objects at most :data:`OBJECTS_PER_RUN` per run, and the
  resident memory (``VmRSS``, the coarse bound that also sees native memory)
  at most :data:`RSS_SLOPE_KIB` per run. A self-check runs the same loop with
  one socket per side retained (an engine that forgets to close its
  connection) and a 64 KiB buffer kept per run, and shows that the
  descriptor, tracemalloc and object measures catch it.
* Real ``migtd`` processes, sequentially: the test process's descriptors come
  back to the same count once each pair is reaped (pipes closed).
"""

from __future__ import annotations

import contextlib
import gc
import io
import json
import os
import threading
import tracemalloc
from collections.abc import Callable
from pathlib import Path
from typing import NamedTuple

import pytest

from migtd.cli import runtime
from migtd.cli.args import parse_args
from migtd.cli.config import merge_env
from migtd.events import EventLog
from tests.loopback import free_port

from .conftest import Procs

#: Measured runs, after :data:`WARM_UP` runs that fill caches and import lazily loaded modules.
RUNS = 200
WARM_UP = 20
#: Descriptors the process may hold more after the runs than before (none are expected; a leak
#: of one socket per run would be RUNS or more).
FD_SLACK = 2
#: Resident memory may grow this much per measured run on average (measured: under 1 KiB per run).
RSS_SLOPE_KIB = 16
#: Python memory allocated during the runs and still held at the end, per run on average.
TRACED_KIB_PER_RUN = 1
#: Live objects tracked by the garbage collector may grow this much per run on average.
OBJECTS_PER_RUN = 5
#: Each side's phase deadline: a stuck run fails the test in seconds, not minutes.
TIMEOUT = "15"




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


class Growth(NamedTuple):
    """What ``runs`` migrations left behind, measured after a warm-up."""

    fds: int          #: more open descriptors
    rss_kib: int      #: more resident memory (coarse: memory freed earlier and reused does not show)
    traced_kib: int   #: Python memory allocated during the runs and still held (tracemalloc: exact)
    objects: int      #: more objects tracked by the garbage collector


def measure(env: dict[str, str], tee: Path, runs: int, per_run: Callable[[], None] = lambda: None) -> Growth:
    """The :class:`Growth` over ``runs`` migrations after :data:`WARM_UP` ones."""
    for _ in range(WARM_UP):
        migrate_in_process(env, tee)
    gc.collect()
    fds, rss, objects = open_fds(), rss_kib(), len(gc.get_objects())
    tracemalloc.start()
    try:
        for _ in range(runs):
            migrate_in_process(env, tee)
            per_run()
        gc.collect()
        traced, _ = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    return Growth(open_fds() - fds, rss_kib() - rss, traced // 1024, len(gc.get_objects()) - objects)


def test_200_in_process_migrations_leak_nothing(skip_ra_env: dict[str, str], tmp_path: Path) -> None:
    grew = measure(skip_ra_env, tmp_path / "source.log", RUNS)
    print(f"after {RUNS} runs: {grew}")
    assert grew.fds <= FD_SLACK, f"{grew.fds} more open descriptors after {RUNS} migrations"
    assert grew.rss_kib <= RSS_SLOPE_KIB * RUNS, f"RSS grew {grew.rss_kib} KiB over {RUNS} migrations"
    assert grew.traced_kib <= TRACED_KIB_PER_RUN * RUNS, f"{grew.traced_kib} KiB still held after {RUNS} migrations"
    assert grew.objects <= OBJECTS_PER_RUN * RUNS, f"{grew.objects} more live objects after {RUNS} migrations"


def test_the_measures_catch_a_leak(skip_ra_env: dict[str, str], tmp_path: Path,
                                   monkeypatch: pytest.MonkeyPatch) -> None:
    """The same loop with a connection left open per side and 64 KiB kept per run fails the measures.

    Not RSS: in a process that has run many tests, kept memory often lands in
    pages freed earlier and still resident, so RSS is only the coarse bound
    (for native memory tracemalloc cannot see); tracemalloc sees every byte.
    """
    from migtd.transport import FramedStream

    kept: list[object] = []
    close = FramedStream.close
    monkeypatch.setattr(FramedStream, "close", lambda self: kept.append(self))
    runs = 20
    grew = measure(skip_ra_env, tmp_path / "source.log", runs, lambda: kept.append(bytearray(64 * 1024)))
    assert grew.fds >= 2 * runs > FD_SLACK
    assert grew.traced_kib >= 64 * runs > TRACED_KIB_PER_RUN * runs
    assert grew.objects > OBJECTS_PER_RUN * runs
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
