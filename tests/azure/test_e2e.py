"""Two real ``migtd`` processes in azure mode, each on its own swtpm, quoting through a local IMDS.

Each side's TD report comes from its swtpm's HCL report, its quote from the
fake IMDS (mock QE), and each verifies the other's quote with the mock PKI as
root CA and collateral, with the AzCVMEmu bypasses (REPORTDATA binding and
RTMR replay) that azure mode applies. Then the MSK is exchanged.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from migtd import paths

if TYPE_CHECKING:
    from tests.conftest import Processes

MIGTD = [sys.executable, "-m", "migtd"]


@dataclass
class Run:
    code: int
    stderr: str

    @property
    def events(self) -> list[dict[str, Any]]:
        return [json.loads(line) for line in self.stderr.splitlines() if line.startswith("{")]

    def event(self, name: str) -> dict[str, Any]:
        found = [e for e in self.events if e["event"] == name]
        assert found, f"no {name!r} event in:\n{self.stderr}"
        return found[-1]


def _env(tpm: Any, imds: Any, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items()
           if not k.startswith(("MIGTD_", "MOCK_QUOTE", "RUST_LOG", "TSS2_"))}
    env.update(
        MIGTD_ATTESTATION="azure", MIGTD_LOG_FORMAT="json",
        TSS2_TCTI=tpm.tcti, MIGTD_IMDS_URL=imds.url, MIGTD_VTPM_SETTLE="0",
        MIGTD_POLICY_FILE=str(paths.config_dir() / "policy.json"),
        MIGTD_ROOT_CA_FILE=str(paths.mock_dir() / "root_ca.der"),
        MIGTD_COLLATERAL_FILE=str(paths.mock_dir() / "collateral.json"),
        **extra)
    return env


def _pair(processes: Processes, port: int, dst_env: dict[str, str],
          src_env: dict[str, str]) -> tuple[Run, Run]:
    """Destination then source on ``port`` (the ``processes`` fixture reaps them); returns (source, destination)."""
    dst, src = (processes.popen(MIGTD + ["-m", role, "-t", str(port)], env=env,
                                stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
                for role, env in (("dst", dst_env), ("src", src_env)))
    _, src_err = src.communicate(timeout=60)
    _, dst_err = dst.communicate(timeout=60)
    return Run(src.returncode, src_err), Run(dst.returncode, dst_err)


def test_two_azure_migtds_attest_each_other(provisioned_swtpm: Any, second_swtpm: Any, imds: Any,
                                            port: int, processes: Processes) -> None:
    src, dst = _pair(processes, port, _env(provisioned_swtpm, imds, RUST_LOG="debug"), _env(second_swtpm, imds))
    assert (src.code, dst.code) == (0, 0), src.stderr + dst.stderr
    for run in (src, dst):
        assert run.event("quote_generated")["source"] == "azure-imds"
        attested = run.event("peer_attested")
        assert attested["verified"] is True
        assert attested["tcb_status"] == "UpToDate"
        # The swtpm's REPORTDATA is SHA-256 of the runtime claims, as on Azure: binding and
        # RTMR replay cannot hold, so azure mode bypasses them and says so.
        assert set(attested["bypassed"]) >= {"reportdata_binding", "event_log_replay"}
        assert run.event("policy_decision")["ok"] is True
        assert run.event("exit")["code"] == 0
        assert "Traceback" not in run.stderr
    assert src.event("msk_exchanged")["key_sha256_8"] == dst.event("msk_exchanged")["key_sha256_8"]
    assert len(imds.requests) == 2
    # RUST_LOG=debug on the destination: each TPM step and the IMDS call are timed in its log.
    steps = {e.get("step") for e in dst.events if e["level"] == "debug"}
    assert {"open", "write report data (NV 0x01400002)", "read HCL report (NV 0x01400001)",
            "imds_quote"} <= steps
    assert not [e for e in src.events if e["level"] == "debug"]


def test_quote_retry_hook_in_azure_mode(provisioned_swtpm: Any, second_swtpm: Any, imds: Any,
                                        port: int, processes: Processes) -> None:
    src, dst = _pair(processes, port, _env(provisioned_swtpm, imds),
                     _env(second_swtpm, imds, MIGTD_QUOTE_FAILURES="3"))
    assert (src.code, dst.code) == (0, 0), src.stderr + dst.stderr
    simulated = [e for e in src.events if "Simulating quote failure" in e["msg"]]
    assert len(simulated) == 3
    assert not [e for e in dst.events if "Simulating quote failure" in e["msg"]]
    assert len(imds.requests) == 2  # simulated failures never reach IMDS
    assert src.event("msk_exchanged")["key_sha256_8"] == dst.event("msk_exchanged")["key_sha256_8"]


def test_imds_outage_is_ridden_out(provisioned_swtpm: Any, second_swtpm: Any, imds: Any, port: int,
                                   processes: Processes) -> None:
    imds.fail_first = 2
    src, dst = _pair(processes, port, _env(provisioned_swtpm, imds), _env(second_swtpm, imds))
    assert (src.code, dst.code) == (0, 0), src.stderr + dst.stderr
    assert len(imds.requests) == 4
    retried = [e["msg"] for run in (src, dst) for e in run.events
               if e["level"] == "warn" and e["msg"].startswith("IMDS quote request attempt")]
    assert len(retried) == 2 and all("HTTP 503" in m for m in retried)
