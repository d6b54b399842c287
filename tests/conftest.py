"""Shared fixtures: where the vectors are, free ports, child processes."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parent.parent
VECTORS = ROOT.parent / "shared" / "vectors"


def vectors_dir() -> Path:
    """Return ``../shared/vectors``; skip without it, but fail under CI."""
    if VECTORS.is_dir():
        return VECTORS
    if os.environ.get("CI"):
        pytest.fail(f"test vectors missing at {VECTORS} (required when CI is set)")
    pytest.skip(f"test vectors not found at {VECTORS}")


@pytest.fixture(scope="session")
def vectors() -> Path:
    """``../shared/vectors`` (see :func:`vectors_dir`)."""
    return vectors_dir()


def free_port() -> int:
    """A loopback TCP port nobody listens on right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture
def port() -> int:
    """A free loopback port for this test."""
    return free_port()


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
