"""A real OpenSSH server on a loopback port for the tests (and ``benchmarks/fleet_collect.py``).

One ``sshd -D`` with generated host and user keys, and an ``ssh_config`` to
which a test adds as many ``Host`` entries as it likes: each an alias reaching
that server, a closed port (unreachable) or a key the server does not know
(auth refused). ``MaxStartups`` is raised so 16 parallel connections are not
dropped by sshd's default 10:30:100 throttle. The ``sshd_fleet`` fixture
(tests/conftest.py) starts one per test.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import time
from pathlib import Path

from tests.loopback import free_port


def _keygen(path: Path) -> None:
    subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", str(path)], check=True,
                   stdout=subprocess.DEVNULL, timeout=30)


class SshdServer:
    """A running sshd and an ssh_config with one ``Host`` entry per test host (``host``: the first)."""

    def __init__(self, root: Path, port: int) -> None:
        self.root = root
        self.port = port
        self.ssh_config = root / "ssh_config"
        self.user = os.environ.get("USER") or "root"
        self.entries: list[str] = []
        self.host: str | None = None
        self._write()

    def _write(self) -> None:
        self.ssh_config.write_text("\n".join(self.entries) + "\n")

    def add(self, name: str, *, port: int | None = None, key: Path | None = None) -> None:
        """A Host entry ``name`` → 127.0.0.1 (our sshd, or ``port``), with our user key (or ``key``)."""
        self.host = self.host or name
        self.entries.append("\n".join([
            f"Host {name}",
            "  HostName 127.0.0.1",
            f"  Port {port or self.port}",
            f"  User {self.user}",
            f"  IdentityFile {key or self.root / 'user_key'}",
            "  IdentitiesOnly yes",
            f"  UserKnownHostsFile {self.root / 'known_hosts'}",
            "  StrictHostKeyChecking no",
            "  LogLevel ERROR",
            "",
        ]))
        self._write()

    def remove(self, name: str) -> None:
        """Drop the Host entry ``name`` (a host that goes away between two collections)."""
        self.entries = [e for e in self.entries if not e.startswith(f"Host {name}\n")]
        self._write()

    @property
    def stranger_key(self) -> Path:
        """A key sshd does not accept (for auth-refused hosts)."""
        path = self.root / "stranger_key"
        if not path.exists():
            _keygen(path)
        return path


class SshdUnavailable(Exception):
    """sshd cannot be run here (binary missing, privilege-separation folder not creatable)."""


def start_sshd(root: Path) -> tuple[SshdServer, subprocess.Popen[bytes]]:
    """Start ``sshd -D`` with fresh host and user keys in ``root``, on a free loopback port.

    Used by the fixture and by ``benchmarks/fleet_collect.py``; the caller stops the process.
    """
    binary = Path("/usr/sbin/sshd")
    if not binary.exists() or shutil.which("ssh") is None or shutil.which("ssh-keygen") is None:
        raise SshdUnavailable("openssh-server or openssh-client not installed")
    privsep = Path("/run/sshd")
    if not privsep.is_dir():
        try:
            privsep.mkdir(mode=0o755, parents=True)
        except OSError as exc:
            raise SshdUnavailable(f"cannot create sshd's {privsep}: {exc}") from None
    root.mkdir(parents=True, exist_ok=True)
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
        "MaxStartups 100:30:200",
        "MaxAuthTries 3",
        "",
    ]))
    log = open(root / "sshd.log", "wb")  # noqa: SIM115 - sshd keeps it; closed with the process
    proc = subprocess.Popen([str(binary), "-D", "-e", "-f", str(config), "-p", str(port)],
                            stdout=subprocess.DEVNULL, stderr=log)
    log.close()
    deadline = time.monotonic() + 10
    while True:
        if proc.poll() is not None:
            raise RuntimeError(f"sshd exited: {(root / 'sshd.log').read_text()[-500:]}")
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.5).close()
            return SshdServer(root, port), proc
        except OSError:
            if time.monotonic() > deadline:
                proc.kill()
                proc.wait(5)
                raise RuntimeError("sshd did not listen within 10 s") from None
            time.sleep(0.05)


def stop_sshd(proc: subprocess.Popen[bytes]) -> None:
    """Terminate sshd (kill after 5 s) and reap it."""
    proc.terminate()
    try:
        proc.wait(5)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait(5)
