"""Shared fixtures: where the vectors are, free ports, child processes; no skips under CI."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

if TYPE_CHECKING:
    from tests.sshd import SshdServer

ROOT = Path(__file__).resolve().parent.parent
#: The test data that are facts (real quote, collaterals, upstream policies), each
#: folder with a PROVENANCE.md; part of the repository, so every clone has them.
VECTORS = Path(__file__).resolve().parent / "vectors"


@pytest.fixture(scope="session")
def vectors() -> Path:
    """``tests/vectors`` (see its PROVENANCE.md files)."""
    return VECTORS


# ---------------------------------------------------------------- no skips under CI

def _skip_reason(report: pytest.CollectReport | pytest.TestReport) -> str:
    longrepr = report.longrepr
    text = str(longrepr[2]) if isinstance(longrepr, tuple) and len(longrepr) == 3 else str(longrepr)
    return text.removeprefix("Skipped: ")


def _fail_skip_under_ci(report: pytest.CollectReport | pytest.TestReport) -> None:
    """With ``CI`` set, a skipped test (or module) is a failure: CI must run everything."""
    if report.skipped and os.environ.get("CI") and not hasattr(report, "wasxfail"):
        report.longrepr = f"skipped under CI, where every test must run: {_skip_reason(report)}"
        report.outcome = "failed"


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> Iterator[None]:
    outcome = yield
    _fail_skip_under_ci(outcome.get_result())  # type: ignore[attr-defined]


@pytest.hookimpl(hookwrapper=True)
def pytest_make_collect_report(collector: pytest.Collector) -> Iterator[None]:
    outcome = yield
    _fail_skip_under_ci(outcome.get_result())  # type: ignore[attr-defined]




@pytest.fixture
def port() -> int:
    """A free loopback port for this test."""
    from tests.loopback import free_port  # here: tests/packaging copies this file alone into a scratch tree

    return free_port()


@pytest.fixture
def connect_to() -> Iterator[Any]:
    """Connect to a ``migtd`` destination, retrying until it listens (15 s); closed at the end."""
    import time

    opened: list[socket.socket] = []

    def _connect(port: int, timeout: float = 15) -> socket.socket:
        deadline = time.monotonic() + timeout
        while True:
            try:
                s = socket.create_connection(("127.0.0.1", port), timeout=2)
                opened.append(s)
                return s
            except OSError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.02)

    yield _connect
    for s in opened:
        s.close()


@pytest.fixture
def listener() -> Iterator[Any]:
    """A listening loopback socket standing in for a destination (accept waits 20 s); closed at the end."""
    socks: list[socket.socket] = []

    def _listen() -> tuple[socket.socket, int]:
        s = socket.socket()
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        s.bind(("127.0.0.1", 0))
        s.listen(1)
        s.settimeout(20)
        socks.append(s)
        return s, s.getsockname()[1]

    yield _listen
    for s in socks:
        s.close()


class Processes:
    """Child processes a test started; whatever still runs when the test ends is killed."""

    def __init__(self) -> None:
        self.running: list[subprocess.Popen[str]] = []

    def popen(self, cmd: list[str], **kwargs: Any) -> subprocess.Popen[str]:
        """``subprocess.Popen(cmd, text=True, **kwargs)``, remembered for the clean-up."""
        proc = subprocess.Popen(cmd, text=True, **kwargs)
        self.running.append(proc)
        return proc

    def kill_all(self) -> None:
        """SIGKILL whatever still runs and reap it (no zombie, no open pipes)."""
        for proc in self.running:
            if proc.poll() is None:
                proc.send_signal(signal.SIGKILL)
                proc.communicate(timeout=5)


@pytest.fixture
def processes() -> Iterator[Processes]:
    """A :class:`Processes` that kills its children at teardown (areas build their ``procs`` on it)."""
    p = Processes()
    try:
        yield p
    finally:
        p.kill_all()


# Each area keeps its tests (and any conftest.py of its own) in tests/<area>/.
# Modules are imported with --import-mode=importlib, so file names only need
# to be unique within their folder.


@pytest.fixture
def sshd_fleet(tmp_path: Path) -> Iterator[SshdServer]:
    """A real ``sshd -D`` with generated host and user keys on a free loopback port (tests/sshd.py)."""
    from tests.sshd import SshdUnavailable, start_sshd, stop_sshd

    try:
        server, proc = start_sshd(tmp_path / "sshd")
    except SshdUnavailable as exc:
        if os.environ.get("CI"):
            pytest.fail(f"{exc} (required when CI is set)")
        pytest.skip(str(exc))
    except RuntimeError as exc:
        pytest.fail(str(exc))
    try:
        yield server
    finally:
        stop_sshd(proc)
