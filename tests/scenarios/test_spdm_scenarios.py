"""migtdemu.sh with upstream's ``--features spdm_attestation`` and ``igvm-attest``, run as a user runs it.

Each case starts ``./migtdemu.sh --features ... --both`` in a fresh working
directory on a free port, like tests/scenarios/test_runner_scenarios.py, and
judges the run by its exit status and the JSON events in the per-side log
files it leaves (``migtd_<op>_{source,destination}.log``). The features
combine with every mode, policy version and operation, as upstream's runner
allows (spec/spdm.md §0).
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from migtd import paths

ROOT = Path(__file__).resolve().parents[2]
SCRIPT = ROOT / "migtdemu.sh"
TOOL = Path(sys.executable).with_name("migtd-tool")
VECTORS = Path(__file__).resolve().parents[1] / "vectors" / "attestation"
RUN_TIMEOUT = 60


def _run(cmd: list[str], cwd: Path, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    proc = subprocess.Popen(cmd, cwd=cwd, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                            start_new_session=True)
    try:
        out, _ = proc.communicate(timeout=RUN_TIMEOUT)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        out, _ = proc.communicate()
        pytest.fail(f"{' '.join(cmd)} did not finish within {RUN_TIMEOUT} s:\n{out}")
    return subprocess.CompletedProcess(cmd, proc.returncode, out, "")


def script(args: list[str], cwd: Path, port: int, env_extra: dict[str, str] | None = None) -> tuple[int, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("MIGTD_", "RUST_LOG", "MOCK_QUOTE"))}
    env.update(MIGTD_LOG_FORMAT="json", **(env_extra or {}))
    done = _run(["bash", str(SCRIPT), *args, "--both", "--dest-port", str(port)], cwd, env)
    return done.returncode, done.stdout


def events(cwd: Path, side: str, operation: str = "migration") -> dict[str, list[dict[str, Any]]]:
    out: dict[str, list[dict[str, Any]]] = {}
    for line in (cwd / f"migtd_{operation}_{side}.log").read_text().splitlines():
        if line.startswith("{"):
            record = json.loads(line)
            out.setdefault(record["event"], []).append(record)
    return out


def spdm_ok(cwd: Path, out: str, operation: str = "migration") -> dict[str, dict[str, list[dict[str, Any]]]]:
    assert f"SUCCESS: ({operation}) completed!" in out, out
    assert "Key exchange: SPDM 1.2 with MigTD's vendor-defined messages (spdm_attestation)" in out
    sides = {side: events(cwd, side, operation) for side in ("source", "destination")}
    for side, ev in sides.items():
        assert ev["exit"][0]["code"] == 0
        assert ev["config"][0]["key_exchange"] == "spdm"
        assert "tls_established" not in ev
        for name in ("spdm_negotiated", "spdm_key_exchanged", "spdm_evidence_exchanged", "spdm_finished",
                     "spdm_session_ended"):
            assert name in ev, (side, name)
    if operation == "migration":
        assert sides["source"]["msk_exchanged"][0]["key_sha256_8"] == \
            sides["destination"]["msk_exchanged"][0]["key_sha256_8"]
    return sides


def test_skip_ra_over_spdm(tmp_path: Path, port: int) -> None:
    code, out = script(["--skip-ra", "--features", "spdm_attestation"], tmp_path, port)
    assert code == 0, out
    spdm_ok(tmp_path, out)


def test_mock_report_policy_v1_over_spdm(tmp_path: Path, port: int) -> None:
    """Upstream's feature list form: test_mock_report and spdm_attestation together."""
    code, out = script(["--features", "AzCVMEmu,test_mock_report,spdm_attestation"], tmp_path, port)
    assert code == 0, out
    sides = spdm_ok(tmp_path, out)
    for ev in sides.values():
        assert ev["peer_attested"][0]["verified"] is True and ev["peer_attested"][0]["bypassed"] == []
        assert ev["spdm_evidence_exchanged"][0]["chunks_sent"] >= 2


def test_generated_policy_v2_over_spdm_with_igvm(tmp_path: Path, port: int) -> None:
    code, out = script(["--policy-v2", "--mock-report", "--features", "spdm_attestation,igvm-attest"], tmp_path, port)
    assert code == 0, out
    assert "Quote request: IGVM GetQuote buffer (igvm-attest)" in out
    assert "Policy generated successfully from mock report data" in out
    sides = spdm_ok(tmp_path, out)
    for ev in sides.values():
        assert ev["quote_generated"][0]["via"] == "igvm"
        assert ev["policy_decision"][0]["ok"] is True and ev["policy_decision"][0]["policy_version"] == 2


def test_captured_azure_quote_over_spdm(tmp_path: Path, port: int) -> None:
    code, out = script(["--mock-report", "--features", "spdm_attestation",
                        "--mock-quote-file", str(VECTORS / "az_migtd_quote.blob"),
                        "--root-ca-file", str(paths.intel_root_ca())], tmp_path, port,
                       {"MIGTD_COLLATERAL_FILE": str(VECTORS / "collateral_azure_thim.json")})
    assert code == 0, out
    for ev in spdm_ok(tmp_path, out).values():
        assert ev["peer_attested"][0]["bypassed"] == ["reportdata_binding", "event_log_replay"]
        assert ev["quote_generated"][0]["bytes"] == 5006


def test_rebind_prepare_over_spdm(tmp_path: Path, port: int) -> None:
    subprocess.run([str(TOOL), "policy", "generate-v2", "--out", "p.json", "--chain-out", "c.pem"], cwd=tmp_path,
                   check=True, capture_output=True, timeout=RUN_TIMEOUT)
    code, out = script(["--operation", "rebind-prepare", "--skip-ra", "--features", "spdm_attestation",
                        "--policy-file", "p.json", "--policy-issuer-chain-file", "c.pem"], tmp_path, port)
    assert code == 0, out
    sides = spdm_ok(tmp_path, out, "rebind-prepare")
    assert any("Rebinding token accepted" in e["msg"] for e in sides["destination"]["log"])


def test_igvm_with_ratls_and_mock_quote_retry(tmp_path: Path, port: int) -> None:
    """igvm-attest on its own is RA-TLS (upstream's CI combination), here with mock_quote_retry."""
    code, out = script(["--mock-report", "--mock-quote-retry", "--features", "igvm-attest"], tmp_path, port)
    assert code == 0, out
    assert "Key exchange: RA-TLS" in out and "Quote request: IGVM GetQuote buffer (igvm-attest)" in out
    for side in ("source", "destination"):
        ev = events(tmp_path, side)
        assert "tls_established" in ev and ev["quote_generated"][0]["via"] == "igvm"
        busy = [e for e in ev["log"] if e["msg"].startswith("get_quote_igvm: quote service busy")]
        assert len(busy) == 5
