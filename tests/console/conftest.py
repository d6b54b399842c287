"""Fixtures for the console tests: recorded streams, isolated XDG dirs, sshd."""

from __future__ import annotations

import io
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from rich.console import Console
from textual.widgets import Static

from tests.sshd import SshdServer
from tui.history import HistoryStore, Retention
from tui.record import RunRecord

DATA = Path(__file__).resolve().parent / "data"

#: Parameters of the recorded runs (fixed so snapshots never change).
RECORDED_PARAMS = {
    "roles": ["destination", "source"], "request_id": 1, "dest_ip": "127.0.0.1",
    "dest_port": 8001, "policy_version": 1, "src_host": None, "dst_host": None,
}
RECORDED_T0 = 1764130000.0


def stream(name: str, role: str) -> list[str]:
    """Lines of ``data/<name>.<role>.jsonl`` exactly as a process wrote them."""
    return (DATA / f"{name}.{role}.jsonl").read_text(encoding="utf-8").splitlines()


def recorded_run(name: str, mode: str, *, exits: dict[str, int] | None = None,
                 transport: dict[str, str] | None = None, dst_host: str | None = None,
                 launch_errors: dict[str, str] | None = None, run_id: str | None = None) -> RunRecord:
    """A history record built from recorded streams (as the app saves them)."""
    params = dict(RECORDED_PARAMS, attestation=mode, dst_host=dst_host)
    rec = RunRecord(run_id or f"20251126-040640-{name[:4]}", RECORDED_T0, params)
    for role in ("source", "destination"):
        path = DATA / f"{name}.{role}.jsonl"
        if path.exists():
            rec.lines[role] = stream(name, role)
    for role, code in (exits or {}).items():
        t = (transport or {}).get(role, "local")
        rec.exits[role] = {"code": code, "transport": t,
                           "where": f"ssh {dst_host}" if t == "ssh" else "local"}
    rec.launch_errors = dict(launch_errors or {})
    return rec


def plain(widget: Static) -> str:
    """The text a Static currently shows."""
    console = Console(width=200, file=io.StringIO(), record=True, color_system=None)
    console.print(widget.content)
    return console.export_text()


async def until(pilot: Any, cond: Callable[[], bool], timeout: float = 40.0) -> None:
    """Let the app run until ``cond()`` holds; fail after ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while not cond():
        if time.monotonic() > deadline:
            raise AssertionError(f"condition not reached within {timeout:g} s")
        await pilot.pause(0.05)




@pytest.fixture
def xdg(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Point platformdirs' user data, config and state dirs at a temporary folder."""
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "data"))
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "config"))
    monkeypatch.setenv("XDG_STATE_HOME", str(tmp_path / "state"))
    return tmp_path


@pytest.fixture
def store(xdg: Path) -> HistoryStore:
    """The default store in the temporary XDG dirs, without the age limit: the recorded runs
    carry fixed (old) start times so snapshots never change."""
    return HistoryStore(retention=Retention(keep_days=0))


@pytest.fixture
def fake_migtd(tmp_path: Path) -> str:
    """An executable that runs tests/console/fake_migtd.py (scenario via env)."""
    script = tmp_path / "fake-migtd"
    script.write_text(f"#!/bin/sh\nexec {sys.executable} {Path(__file__).parent / 'fake_migtd.py'} \"$@\"\n")
    script.chmod(0o755)
    return str(script)


#: The real sshd of tests/sshd.py, with one ``Host`` entry (``host``) that reaches it.
Sshd = SshdServer


@pytest.fixture
def sshd(sshd_fleet: SshdServer) -> SshdServer:
    """A real ``sshd -D`` on a free loopback port and an ssh_config whose ``migtd-test`` reaches it."""
    sshd_fleet.add("migtd-test")
    return sshd_fleet
