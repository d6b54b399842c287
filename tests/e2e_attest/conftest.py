"""Fixtures for end-to-end attestation tests: real ``migtd`` processes in mock-report mode.

* ``procs`` starts ``migtd`` (or the misbehaving peer of ``bad_peer.py``) and
  kills whatever is still running when the test ends.
* ``mock_env`` is a clean environment for mock-report with policy v1, the
  default policy and the committed mock PKI.
* ``v2_policy`` builds a signed policy v2 whose embedded collaterals are the
  mock PKI's and whose ServTD TCB mapping knows the mock-qe MigTD (through
  :mod:`migtd.policy.generate_v2`), signed with the mock policy-signing key;
  ``v2_env`` writes it and turns it into an environment.

Helpers are fixtures because tests are imported with ``--import-mode=importlib``.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

from migtd import paths

if TYPE_CHECKING:
    from tests.conftest import Processes

HERE = Path(__file__).resolve().parent
MIGTD = [sys.executable, "-m", "migtd"]
BAD_PEER = [sys.executable, str(HERE / "bad_peer.py")]


@dataclass
class Finished:
    code: int
    stderr: str

    @property
    def events(self) -> list[dict[str, Any]]:
        return [json.loads(line) for line in self.stderr.splitlines() if line.startswith("{")]

    def all(self, name: str) -> list[dict[str, Any]]:
        return [e for e in self.events if e["event"] == name]

    def event(self, name: str) -> dict[str, Any]:
        found = self.all(name)
        assert found, f"no {name!r} event in:\n{self.stderr}"
        return found[-1]

    def warnings(self) -> list[str]:
        return [e["msg"] for e in self.events if e["level"] == "warn"]


class Procs:
    """Starts processes; the root ``processes`` fixture kills them at the end of the test."""

    def __init__(self, processes: Processes) -> None:
        self.processes = processes

    def start(self, args: list[str], env: dict[str, str], cmd: list[str] = MIGTD) -> subprocess.Popen[str]:
        return self.processes.popen(cmd + args, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)

    def finish(self, proc: subprocess.Popen[str], timeout: float = 40) -> Finished:
        _, err = proc.communicate(timeout=timeout)
        return Finished(proc.returncode, err)

    def pair(self, port: int, dst_env: dict[str, str], src_env: dict[str, str] | None = None, *,
             src_cmd: list[str] = MIGTD, dst_cmd: list[str] = MIGTD) -> tuple[Finished, Finished]:
        """Destination then source on ``port``; returns (source, destination)."""
        dst = self.start(["-m", "dst", "-t", str(port)], dst_env, dst_cmd)
        src = self.start(["-m", "src", "-t", str(port)], src_env or dst_env, src_cmd)
        return self.finish(src), self.finish(dst)


@pytest.fixture
def procs(processes: Processes) -> Procs:
    return Procs(processes)


def clean_env() -> dict[str, str]:
    return {k: v for k, v in os.environ.items()
            if not k.startswith(("MIGTD_", "MOCK_QUOTE", "RUST_LOG", "TSS2_"))}


@pytest.fixture
def mock_env() -> dict[str, str]:
    """mock-report, policy v1: default policy, mock root CA (collateral defaults to the mock PKI's)."""
    env = clean_env()
    env.update(MIGTD_ATTESTATION="mock-report", MIGTD_LOG_FORMAT="json", MIGTD_TIMEOUT="20",
               MIGTD_POLICY_FILE=str(paths.default_policy()), MIGTD_ROOT_CA_FILE=str(paths.mock_root_ca()))
    return env


@pytest.fixture
def write_policy(tmp_path: Path) -> Callable[[str, Any], str]:
    """Write a v1 policy document (object or raw text) and return its path."""
    def write(name: str, doc: Any) -> str:
        path = tmp_path / name
        path.write_text(doc if isinstance(doc, str) else json.dumps(doc, indent=4))
        return str(path)
    return write


# --------------------------------------------------------------------- policy v2

#: Rules every v2 test policy carries: TCB facts of the mock collateral and the MigTD identity.
V2_RULES: list[dict[str, Any]] = [
    {"global": {"tcb": {"tcbEvaluationDataNumber": {"operation": "greater-or-equal", "reference": "self"},
                        "tcbStatusAccepted": {"operation": "allow-list", "reference": ["UpToDate"]},
                        "tcbDate": {"operation": "greater-or-equal", "reference": "2024-01-01T00:00:00Z"}},
                "platform": {"fmspc": {"operation": "equal", "reference": "self"}},
                "crl": {"pckCrlNum": {"operation": "greater-or-equal", "reference": "self"},
                        "rootCaCrlNum": {"operation": "greater-or-equal", "reference": "self"}}}},
    {"servtd": {"migtdIdentity": {"isvsvn": {"operation": "greater-or-equal", "reference": "self"},
                                  "tcbStatusAccepted": {"operation": "allow-list", "reference": ["UpToDate"]}}}},
]


def build_v2_policy(*, svn: int = 1, policy: list[Any] | None = None, forward: list[Any] | None = None,
                    backward: list[Any] | None = None) -> bytes:
    """A signed v2 policy over the mock PKI's collaterals, signed by the committed mock policy key.

    The ServTD collateral (TD identity, and a TCB mapping that knows the
    mock-qe MigTD's MRTD/RTMR0/RTMR1 under the mock policy chain) comes from
    the project's generator (:mod:`migtd.policy.generate_v2`); the rules are
    :data:`V2_RULES` unless ``policy`` is given.
    """
    from migtd.attest import suppl as rpt
    from migtd.policy import jsontext
    from migtd.policy.generate_v2 import Signer, Signers, measurements_for, mock_facts, policy_data, servtd_collateral
    from migtd.policy.sign import sign_document

    mock = paths.mock_dir()
    signer = Signer.load(mock / "policy_signing_key.pem", mock / "policy_issuer_chain.pem")
    collateral_json = paths.mock_collateral().read_bytes()
    facts = mock_facts(collateral_json, paths.mock_root_ca().read_bytes())
    servtd = servtd_collateral(facts, Signers.single(signer), measurements_for(facts, [signer.chain_pem]),
                               rpt.iso8601(rpt.tcb_date_seconds(facts.verified_report)))
    data = policy_data(facts, collateral_json, servtd, policy_svn=svn, policy_id="E2E-ATTEST-POLICY")
    data["policy"] = V2_RULES if policy is None else policy
    data["forwardPolicy"] = forward
    data["backwardPolicy"] = backward
    return sign_document(jsontext.compact(data).encode("utf-8"), signer.key_pem, "policyData")


@pytest.fixture
def v2_env(tmp_path: Path) -> Callable[..., dict[str, str]]:
    """``v2_env(name, **policy_options)``: a mock-report, policy-v2 environment with its own policy file."""
    def make(name: str = "policy_v2.json", **options: Any) -> dict[str, str]:
        path = tmp_path / name
        path.write_bytes(build_v2_policy(**options))
        env = clean_env()
        env.update(MIGTD_ATTESTATION="mock-report", MIGTD_LOG_FORMAT="json", MIGTD_TIMEOUT="20",
                   MIGTD_POLICY_VERSION="2", MIGTD_POLICY_FILE=str(path),
                   MIGTD_POLICY_ISSUER_CHAIN_FILE=str(paths.mock_dir() / "policy_issuer_chain.pem"))
        return env
    return make


@pytest.fixture(scope="session")
def v2_policy() -> Callable[..., bytes]:
    """``v2_policy(**options)``: the signed policy bytes of :func:`build_v2_policy`."""
    return build_v2_policy
