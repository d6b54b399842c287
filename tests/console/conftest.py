"""Fixtures for the console tests: recorded streams, isolated XDG dirs, sshd."""

from __future__ import annotations

import io
import os
import shutil
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from rich.console import Console
from textual.widgets import Static

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


def free_port() -> int:
    """A loopback TCP port nobody listens on right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


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


class Sshd:
    """A running OpenSSH server on loopback and an ssh_config that reaches it."""

    def __init__(self, root: Path, port: int, ssh_config: Path, host: str) -> None:
        self.root = root
        self.port = port
        self.ssh_config = ssh_config
        self.host = host


def _keygen(path: Path) -> None:
    subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", str(path)], check=True,
                   stdout=subprocess.DEVNULL, timeout=30)


@pytest.fixture
def sshd(tmp_path: Path) -> Iterator[Sshd]:
    """A real ``sshd -D`` with generated host and user keys on a free loopback port."""
    binary = Path("/usr/sbin/sshd")
    if not binary.exists() or shutil.which("ssh") is None or shutil.which("ssh-keygen") is None:
        if os.environ.get("CI"):
            pytest.fail("openssh-server/openssh-client missing (required when CI is set)")
        pytest.skip("openssh-server or openssh-client not installed")
    privsep = Path("/run/sshd")  # compiled-in privilege-separation directory
    if not privsep.is_dir():
        try:
            privsep.mkdir(mode=0o755, parents=True)
        except OSError as exc:
            if os.environ.get("CI"):
                pytest.fail(f"cannot create sshd's {privsep}: {exc} (required when CI is set)")
            pytest.skip(f"cannot create {privsep}: {exc}")
    root = tmp_path / "sshd"
    root.mkdir()
    _keygen(root / "host_key")
    _keygen(root / "user_key")
    (root / "authorized_keys").write_text((root / "user_key.pub").read_text())
    port = free_port()
    config = root / "sshd_config"
    config.write_text("\n".join([
        "ListenAddress 127.0.0.1",
        f"HostKey {root / 'host_key'}",
        f"PidFile {root / 'sshd.pid'}",
        f"AuthorizedKeysFile {root / 'authorized_keys'}",
        "StrictModes no",
        "PermitRootLogin yes",
        "PubkeyAuthentication yes",
        "PasswordAuthentication no",
        "KbdInteractiveAuthentication no",
        "UsePAM no",
        "PrintMotd no",
        "PrintLastLog no",
        "",
    ]))
    user = os.environ.get("USER") or "root"
    ssh_config = root / "ssh_config"
    ssh_config.write_text("\n".join([
        "Host migtd-test",
        "  HostName 127.0.0.1",
        f"  Port {port}",
        f"  User {user}",
        f"  IdentityFile {root / 'user_key'}",
        "  IdentitiesOnly yes",
        f"  UserKnownHostsFile {root / 'known_hosts'}",
        "  StrictHostKeyChecking no",
        "  LogLevel ERROR",
        "",
    ]))
    log = open(root / "sshd.log", "wb")  # noqa: SIM115 - closed below, after sshd
    proc = subprocess.Popen([str(binary), "-D", "-e", "-f", str(config), "-p", str(port)],
                            stdout=subprocess.DEVNULL, stderr=log)
    try:
        deadline = time.monotonic() + 10
        while True:
            if proc.poll() is not None:
                pytest.fail(f"sshd exited: {(root / 'sshd.log').read_text()[-500:]}")
            try:
                socket.create_connection(("127.0.0.1", port), timeout=0.5).close()
                break
            except OSError:
                if time.monotonic() > deadline:
                    pytest.fail("sshd did not listen within 10 s")
                time.sleep(0.05)
        yield Sshd(root, port, ssh_config, "migtd-test")
    finally:
        proc.terminate()
        try:
            proc.wait(5)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(5)
        log.close()
