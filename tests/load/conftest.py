"""Fixtures for the load and fault tests: clean skip-RA environments and real ``migtd`` processes.

Helpers are fixtures (or live in this package's modules) because tests are
imported with ``--import-mode=importlib``.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

from migtd import paths

if TYPE_CHECKING:
    from tests.conftest import Processes

MIGTD = [sys.executable, "-m", "migtd"]


def clean_env() -> dict[str, str]:
    """This process's environment without anything that steers ``migtd``."""
    return {k: v for k, v in os.environ.items()
            if not k.startswith(("MIGTD_", "MOCK_QUOTE", "RUST_LOG", "TSS2_"))}


@pytest.fixture
def skip_ra_env(tmp_path: Path) -> dict[str, str]:
    """skip-RA, policy v1: a small policy and root CA file of our own, JSON events."""
    policy = tmp_path / "policy.json"
    policy.write_text('{"id": "load-test-policy"}')
    root = tmp_path / "root_ca.der"
    root.write_bytes(b"\x30\x03\x02\x01\x01")
    env = clean_env()
    env.update(MIGTD_POLICY_FILE=str(policy), MIGTD_ROOT_CA_FILE=str(root), MIGTD_ATTESTATION="skip-ra",
               MIGTD_LOG_FORMAT="json")
    return env


@pytest.fixture
def skip_ra_v2_env(skip_ra_env: dict[str, str], tmp_path: Path) -> dict[str, str]:
    """skip-RA with policy v2: the pre-session exchange runs before TLS (skip-RA checks only the policy hash)."""
    chain = tmp_path / "issuer_chain.pem"
    chain.write_text("issuer chain of the load tests")
    return dict(skip_ra_env, MIGTD_POLICY_VERSION="2", MIGTD_POLICY_ISSUER_CHAIN_FILE=str(chain))


@pytest.fixture
def mock_report_env() -> dict[str, str]:
    """mock-report, policy v1: the default policy and the committed mock PKI (full DCAP path)."""
    env = clean_env()
    env.update(MIGTD_ATTESTATION="mock-report", MIGTD_LOG_FORMAT="json",
               MIGTD_POLICY_FILE=str(paths.default_policy()), MIGTD_ROOT_CA_FILE=str(paths.mock_root_ca()))
    return env


@dataclass
class Finished:
    """A ``migtd`` process that ended: its status and its JSON event log (stderr)."""

    code: int
    stderr: str

    @property
    def events(self) -> list[dict[str, Any]]:
        return [json.loads(line) for line in self.stderr.splitlines() if line.startswith("{")]

    def names(self) -> list[str]:
        return [e["event"] for e in self.events]

    def event(self, name: str) -> dict[str, Any]:
        found = [e for e in self.events if e["event"] == name]
        assert found, f"no {name!r} event in:\n{self.stderr}"
        return found[-1]


class Procs:
    """Starts ``migtd`` processes; the root ``processes`` fixture kills what still runs at the end."""

    def __init__(self, processes: Processes) -> None:
        self.processes = processes

    def start(self, args: list[str], env: dict[str, str]) -> subprocess.Popen[str]:
        return self.processes.popen(MIGTD + args, env=env, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                                    stderr=subprocess.PIPE)

    def finish(self, proc: subprocess.Popen[str], timeout: float = 60) -> Finished:
        _, err = proc.communicate(timeout=timeout)
        return Finished(proc.returncode, err)


@pytest.fixture
def procs(processes: Processes) -> Procs:
    return Procs(processes)
