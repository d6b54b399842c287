"""Fixtures for the core-engine tests: config files, real migtd processes, a fake peer.

Helpers are exposed as fixtures because tests are imported with
``--import-mode=importlib`` (no sibling-module imports).
"""

from __future__ import annotations

import json
import os
import socket
import struct
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

if TYPE_CHECKING:
    from tests.conftest import Processes

MIGTD = [sys.executable, "-m", "migtd"]
CLIENT_AUTH, SERVER_AUTH = "1.3.6.1.5.5.7.3.2", "1.3.6.1.5.5.7.3.1"


@pytest.fixture
def ratls_identity():
    """Factory: a fresh P-384 key and a skip-RA MigTD certificate for it (822-byte zero quote)."""
    from cryptography.hazmat.primitives.asymmetric import ec

    from migtd import eventlog
    from migtd.ratls import certificate

    def make():
        key = ec.generate_private_key(ec.SECP384R1())
        return key, certificate.build_certificate(key, bytes(822), eventlog.skip_ra_event_log())

    return make


@pytest.fixture
def plain_identity():
    """Factory: a well-formed self-signed certificate that is not a MigTD one.

    ``eku`` lists its extKeyUsage OIDs (default clientAuth, serverAuth); None leaves the extension out.
    """
    import datetime

    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec

    def make(eku=(CLIENT_AUTH, SERVER_AUTH)):
        key = ec.generate_private_key(ec.SECP384R1())
        name = x509.Name([x509.NameAttribute(x509.NameOID.COMMON_NAME, "not-migtd")])
        t = datetime.datetime(2024, 1, 1, tzinfo=datetime.UTC)
        b = (x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(key.public_key())
             .serial_number(2).not_valid_before(t).not_valid_after(t + datetime.timedelta(days=9)))
        if eku is not None:
            b = b.add_extension(x509.ExtendedKeyUsage([x509.ObjectIdentifier(o) for o in eku]), False)
        return key, b.sign(key, hashes.SHA384()).public_bytes(serialization.Encoding.DER)

    return make


@pytest.fixture
def cfg_env(tmp_path: Path) -> dict[str, str]:
    """A clean environment with our own non-empty policy and root CA files (skip-RA)."""
    policy = tmp_path / "policy.json"
    policy.write_text('{"id": "test-policy"}')
    root = tmp_path / "root_ca.der"
    root.write_bytes(b"\x30\x03\x02\x01\x01")
    env = {k: v for k, v in os.environ.items()
           if not k.startswith(("MIGTD_", "MOCK_QUOTE", "RUST_LOG"))}
    env.update(MIGTD_POLICY_FILE=str(policy), MIGTD_ROOT_CA_FILE=str(root),
               MIGTD_ATTESTATION="skip-ra", MIGTD_LOG_FORMAT="json")
    return env


@dataclass
class Finished:
    code: int
    stdout: str
    stderr: str

    @property
    def events(self) -> list[dict]:
        out = []
        for line in self.stderr.splitlines():
            if line.startswith("{"):
                out.append(json.loads(line))
        return out

    def event(self, name: str) -> dict:
        found = [e for e in self.events if e["event"] == name]
        assert found, f"no {name!r} event in:\n{self.stderr}"
        return found[-1]


class Procs:
    """Starts migtd processes; the root ``processes`` fixture kills them at the end of the test."""

    def __init__(self, processes: Processes) -> None:
        self.processes = processes

    def start(self, args: list[str], env: dict[str, str]) -> subprocess.Popen[str]:
        return self.processes.popen(MIGTD + args, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE)

    def finish(self, proc: subprocess.Popen[str], timeout: float = 30) -> Finished:
        out, err = proc.communicate(timeout=timeout)
        return Finished(proc.returncode, out, err)


@pytest.fixture
def procs(processes: Processes) -> Procs:
    return Procs(processes)


class FakePeer:
    """A hand-driven peer on a plain socket: raw frames, or a TLS engine we control."""

    def __init__(self, sock: socket.socket) -> None:
        self.sock = sock
        self.sock.settimeout(10)
        self._buf = b""

    def send_raw(self, data: bytes) -> None:
        self.sock.sendall(data)

    def send_frame(self, payload: bytes) -> None:
        self.sock.sendall(struct.pack("<I", len(payload)) + payload)

    def recv_frame(self) -> bytes | None:
        """Next frame payload, or None at EOF."""
        while len(self._buf) < 4 or len(self._buf) < 4 + struct.unpack_from("<I", self._buf)[0]:
            try:
                chunk = self.sock.recv(65536)
            except (ConnectionError, TimeoutError):
                return None
            if not chunk:
                return None
            self._buf += chunk
        n = struct.unpack_from("<I", self._buf)[0]
        payload, self._buf = self._buf[4:4 + n], self._buf[4 + n:]
        return payload

    def drive_handshake(self, engine, max_rounds: int = 20) -> bool:
        """Run ``engine`` until its handshake completes; False if the peer went away."""
        for _ in range(max_rounds):
            try:
                done = engine.step_handshake()
            except Exception:
                out = engine.take_outgoing()
                if out:
                    self.send_frame(out)
                raise
            out = engine.take_outgoing()
            if out and not done:
                self.send_frame(out)
            if done:
                self.pending = out
                return True
            data = self.recv_frame()
            if data is None:
                return False
            engine.feed(data)
        return False

    def close(self) -> None:
        self.sock.close()


@pytest.fixture
def fake_peer() -> Iterator[type[FakePeer]]:
    yield FakePeer
