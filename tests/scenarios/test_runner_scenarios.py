"""migtdemu.sh end to end: the upstream CI scenarios, run the way a user runs them.

Every case starts ``./migtdemu.sh ... --both`` in a fresh working directory on a
free port and judges the run by its exit status and by the evidence in the
files the script leaves there: ``migtd_<op>_{source,destination}.log`` (each
side's MIGTD_LOG_FILE) and ``dest_<op>_out.log`` (the destination's output).
Most cases ask for JSON events (``MIGTD_LOG_FORMAT=json``, honoured by both
sides) so the assertions read fields, not prose; the first case checks the
plain text a user sees.

Policies v2 come from ``migtd-tool policy generate-v2`` / ``generate-rotation``,
written into the test's directory, never into the project.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from migtd import paths

ROOT = Path(__file__).resolve().parents[2]
SCRIPT = ROOT / "migtdemu.sh"
#: The tool installed next to the interpreter running the tests (the project venv in CI).
TOOL = Path(sys.executable).with_name("migtd-tool")
RUN_TIMEOUT = 60


@dataclass
class Run:
    """One script run: exit status, console output, and the per-side logs it left."""

    code: int
    out: str
    cwd: Path
    operation: str

    def log_text(self, side: str) -> str:
        return (self.cwd / f"migtd_{self.operation}_{side}.log").read_text()

    def events(self, side: str) -> list[dict[str, Any]]:
        return [json.loads(line) for line in self.log_text(side).splitlines() if line.startswith("{")]

    def named(self, side: str, event: str) -> list[dict[str, Any]]:
        return [e for e in self.events(side) if e["event"] == event]

    def exit_code(self, side: str) -> int:
        (exit_event,) = self.named(side, "exit")
        return int(exit_event["code"])

    def messages(self, side: str) -> list[str]:
        return [e["msg"] for e in self.events(side)]


def _run(cmd: list[str], cwd: Path, env: dict[str, str], timeout: float) -> subprocess.CompletedProcess[str]:
    """Run in its own process group so a hung run can be stopped with everything it started."""
    proc = subprocess.Popen(cmd, cwd=cwd, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                            start_new_session=True)
    try:
        out, _ = proc.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        out, _ = proc.communicate()
        pytest.fail(f"{' '.join(cmd)} did not finish within {timeout} s:\n{out}")
    return subprocess.CompletedProcess(cmd, proc.returncode, out, "")


def script(args: list[str], cwd: Path, port: int, *, json_logs: bool = True, operation: str = "migration",
           timeout: float = RUN_TIMEOUT, env_extra: dict[str, str] | None = None) -> Run:
    env = dict(os.environ)
    env.pop("RUST_LOG", None)
    env.pop("MIGTD_COLLATERAL_FILE", None)
    env.update(env_extra or {})
    if json_logs:
        env["MIGTD_LOG_FORMAT"] = "json"
    else:
        env.pop("MIGTD_LOG_FORMAT", None)
    proc = _run(["bash", str(SCRIPT), *args, "--both", "--dest-port", str(port)], cwd, env, timeout)
    return Run(proc.returncode, proc.stdout, cwd, operation)


def tool(args: list[str], cwd: Path) -> str:
    proc = _run([str(TOOL), *args], cwd, dict(os.environ), RUN_TIMEOUT)
    assert proc.returncode == 0, proc.stdout
    return proc.stdout


def v2_files(cwd: Path, *extra: str) -> list[str]:
    """Generate a signed policy v2 + chain in ``cwd``; return the script options naming them."""
    tool(["policy", "generate-v2", "--out", "policy.json", "--chain-out", "chain.pem", *extra], cwd)
    return ["--policy-v2", "--policy-file", "policy.json", "--policy-issuer-chain-file", "chain.pem"]


def both_ok(run: Run) -> None:
    assert run.code == 0, run.out
    assert run.exit_code("source") == 0 and run.exit_code("destination") == 0
    assert f"SUCCESS: ({run.operation}) completed!" in run.out
    assert (run.cwd / f"dest_{run.operation}_out.log").stat().st_size > 0


def key_fingerprints(run: Run) -> tuple[str, str]:
    (src,) = run.named("source", "msk_exchanged")
    (dst,) = run.named("destination", "msk_exchanged")
    return src["key_sha256_8"], dst["key_sha256_8"]


def rules(run: Run, side: str) -> dict[str, bool]:
    return {f"{e['section']}.{e['field']}": e["ok"] for e in run.named(side, "policy_rule")}


# --------------------------------------------------------------------------- migrations

def test_skip_ra_both_plain_text(tmp_path: Path, port: int) -> None:
    run = script(["--skip-ra"], tmp_path, port, json_logs=False)
    assert run.code == 0, run.out
    assert "Skip RA mode: enabled" in run.out and "Using migtd from" in run.out
    for side in ("source", "destination"):
        text = run.log_text(side)
        assert "SKIP-RA: the peer was NOT attested" in text
        assert "Migration key exchange successful!" in text
        assert "MigTD exiting with 0 (Success)" in text
    assert "TCP server started successfully on: 127.0.0.1:" in (tmp_path / "dest_migration_out.log").read_text()


def test_mock_report_both_v1(tmp_path: Path, port: int) -> None:
    run = script(["--mock-report"], tmp_path, port)
    both_ok(run)
    for side in ("source", "destination"):
        (attested,) = run.named(side, "peer_attested")
        assert attested["verified"] is True and attested["fmspc"] == "90C06F000000"
        assert attested["bypassed"] == []  # mock QE: REPORTDATA binding and replay are checked
        (decision,) = run.named(side, "policy_decision")
        assert decision["ok"] is True and decision["policy_version"] == 1
    src_key, dst_key = key_fingerprints(run)
    assert src_key == dst_key


def test_policy_v2_generated_from_mock_report(tmp_path: Path, port: int) -> None:
    run = script(["--policy-v2", "--mock-report"], tmp_path, port)
    both_ok(run)
    assert "Policy generated successfully from mock report data" in run.out
    # where upstream's runner writes them, so its help examples naming these paths work
    assert (tmp_path / "config" / "AzCVMEmu" / "policy_v2_signed.json").is_file()
    assert (tmp_path / "config" / "AzCVMEmu" / "policy_issuer_chain.pem").is_file()
    assert not list(tmp_path.glob("generated_*"))
    assert not (paths.config_dir() / "AzCVMEmu").exists()
    for side in ("source", "destination"):
        assert "Pre-Session-Message Version: 0x0100" in run.messages(side)
        checked = rules(run, side)
        assert checked["integrity.policy_hash"] and checked["chains.policy_issuer_chain"]
        assert checked["global.tcb.tcbDate"] and checked["servtd.migtdIdentity.isvsvn"]
        assert all(checked.values())
    assert "policySvn.policySvn" in rules(run, "source")  # only the source checks the destination's SVN
    src_key, dst_key = key_fingerprints(run)
    assert src_key == dst_key
    # run again in the same folder: the policy is generated anew over the last run's files
    again = script(["--policy-v2", "--mock-report"], tmp_path, port)
    both_ok(again)
    assert "Policy generated successfully from mock report data" in again.out


@pytest.mark.parametrize("variant, rotated", [
    ("none", ()),
    ("policy", ("policy",)),
    ("policy-mapping", ("policy", "mapping")),
    ("all", ("policy", "mapping", "identity")),
])
def test_policy_v2_key_rotation(tmp_path: Path, port: int, variant: str, rotated: tuple[str, ...]) -> None:
    out = tool(["policy", "generate-rotation", "--variant", variant, "--out-dir", "."], tmp_path)
    signers = {}
    for line in out.splitlines():
        if line[:3] in ("a: ", "b: "):
            words = line[3:].replace(",", "").split()
            signers[line[0]] = {words[i]: words[i + 2] for i in range(0, len(words), 3)}
    for role in ("policy", "mapping", "identity"):
        assert (signers["a"][role] != signers["b"][role]) == (role in rotated), (role, out)
    chain_a = (tmp_path / "policy_issuer_chain_a.pem").read_bytes()
    chain_b = (tmp_path / "policy_issuer_chain_b.pem").read_bytes()
    assert (chain_a != chain_b) == ("policy" in rotated)
    run = script(["--policy-v2", "--mock-report",
                  "--src-policy-file", "policy_v2_signed_a.json", "--src-policy-issuer-chain-file",
                  "policy_issuer_chain_a.pem",
                  "--dst-policy-file", "policy_v2_signed_b.json", "--dst-policy-issuer-chain-file",
                  "policy_issuer_chain_b.pem"], tmp_path, port)
    both_ok(run)
    assert "Source issuer chain: policy_issuer_chain_a.pem" in run.out
    assert "Dest issuer chain: policy_issuer_chain_b.pem" in run.out
    for side in ("source", "destination"):
        checked = rules(run, side)
        for chain in ("policy_issuer_chain", "servtd_identity_issuer_chain", "servtd_tcb_mapping_issuer_chain"):
            assert checked[f"chains.{chain}"] is True
        assert all(checked.values())


def test_mock_quote_retry_five_failures_then_success(tmp_path: Path, port: int) -> None:
    run = script(["--mock-report", "--mock-quote-retry"], tmp_path, port)
    both_ok(run)
    assert "Mock quote retry: first 5 quote requests fail" in run.out
    for side in ("source", "destination"):
        failures = [m for m in run.messages(side) if m.startswith("Simulating quote failure")]
        assert failures == [f"Simulating quote failure (attempt {i} of 6)" for i in range(1, 6)]
        (generated,) = run.named(side, "quote_generated")
        assert generated["source"] == "mock-qe"


# --------------------------------------------------------------------------- rebinding

def test_rebind_prepare_skip_ra(tmp_path: Path, port: int) -> None:
    run = script(["--operation", "rebind-prepare", "--skip-ra", *v2_files(tmp_path)], tmp_path, port,
                 operation="rebind-prepare")
    both_ok(run)
    assert "Rebinding token sent; TDG.SERVTD.REBIND.APPROVE emulated" in run.messages("source")
    assert any(m.startswith("Rebinding token accepted; SERVTD_REBIND_ACCEPT_TOKEN")
               for m in run.messages("destination"))
    kinds = [e["kind"] for e in run.named("source", "request")]
    assert kinds == ["EnableLogArea", "GetMigtdData", "StartRebinding"]


def test_rebind_prepare_mock_report(tmp_path: Path, port: int) -> None:
    run = script(["--operation", "rebind-prepare", "--mock-report", "--policy-v2"], tmp_path, port,
                 operation="rebind-prepare")
    both_ok(run)
    for side in ("source", "destination"):
        (attested,) = run.named(side, "peer_attested")
        assert attested["verified"] is True and attested["evidence"] == "tdreport"
        assert attested["mrtd"].startswith("556FD5FC")
        checked = rules(run, side)
        assert checked["integrity.event_log_replay"] and checked["chains.policy_issuer_chain"]
        assert checked["integrity.MigTdPolicy"] and all(checked.values())
    # only the new MigTD checks the old one's init TDINFO against its SERVTD_EXT
    (ext_rule,) = [e for e in run.named("destination", "policy_rule") if e["field"] == "servtd_ext_hash"]
    assert ext_rule["ok"] and ext_rule["actual"].startswith("SHA-384(")
    assert "servtd_ext_hash" not in str(run.named("source", "policy_rule"))
    assert "policySvn.policySvn" in rules(run, "source")


@pytest.mark.parametrize("mode", ["--skip-ra", "--mock-report"])
def test_rebind_finalize_clears_the_token_on_both_sides(tmp_path: Path, port: int, mode: str) -> None:
    run = script(["--operation", "rebind-finalize", mode, *v2_files(tmp_path)], tmp_path, port,
                 operation="rebind-finalize")
    both_ok(run)
    assert ("Rebinding session token cleared (the approved token of TDG.SERVTD.REBIND.APPROVE is released)"
            in run.messages("source"))
    assert "Rebinding session token cleared (SERVTD_REBIND_ACCEPT_TOKEN zeroed)" in run.messages("destination")
    for side in ("source", "destination"):
        (status,) = [e for e in run.named(side, "report_status") if e["kind"] == "StartRebinding"]
        assert status["code"] == 0


# --------------------------------------------------------------------------- negatives

def test_policies_with_different_roots_are_rejected_with_8(tmp_path: Path, port: int) -> None:
    tool(["policy", "generate-v2", "--out", "mine.json", "--chain-out", "mine.pem"], tmp_path)
    tool(["policy", "generate-v2", "--new-chain", "--out", "other.json", "--chain-out", "other.pem"], tmp_path)
    run = script(["--policy-v2", "--mock-report",
                  "--src-policy-file", "mine.json", "--src-policy-issuer-chain-file", "mine.pem",
                  "--dst-policy-file", "other.json", "--dst-policy-issuer-chain-file", "other.pem"], tmp_path, port)
    assert run.code == 8, run.out
    assert run.exit_code("source") == 8  # the source judges first (it is the TLS client) and refuses
    (decision,) = run.named("source", "policy_decision")
    assert decision["ok"] is False and decision["failed_rules"] == ["chains.policy_issuer_chain"]
    assert "different root" in decision["reason"]
    assert run.exit_code("destination") != 0
    assert "FAILURE: (migration) failed (source exit code: 8" in run.out
    assert "Last 100 lines of destination output" in run.out


def test_forward_policy_the_destination_cannot_meet_is_rejected_with_8(tmp_path: Path, port: int) -> None:
    tool(["policy", "generate-v2", "--out", "strict.json", "--chain-out", "chain.pem",
          "--forward-min-isvsvn", "2"], tmp_path)
    tool(["policy", "generate-v2", "--out", "plain.json", "--chain-out", "chain.pem"], tmp_path)
    run = script(["--policy-v2", "--mock-report", "--policy-issuer-chain-file", "chain.pem",
                  "--src-policy-file", "strict.json", "--dst-policy-file", "plain.json"], tmp_path, port)
    assert run.code == 8, run.out
    assert run.exit_code("source") == 8
    (decision,) = run.named("source", "policy_decision")
    assert decision["failed_rules"] == ["servtd.migtdIdentity.isvsvn"] and decision["kind"] == "SvnMismatch"


def test_rebind_prepare_mock_report_refuses_a_peer_with_another_root(tmp_path: Path, port: int) -> None:
    tool(["policy", "generate-v2", "--out", "mine.json", "--chain-out", "mine.pem"], tmp_path)
    tool(["policy", "generate-v2", "--new-chain", "--out", "other.json", "--chain-out", "other.pem"], tmp_path)
    run = script(["--operation", "rebind-prepare", "--mock-report",
                  "--src-policy-file", "mine.json", "--src-policy-issuer-chain-file", "mine.pem",
                  "--dst-policy-file", "other.json", "--dst-policy-issuer-chain-file", "other.pem"], tmp_path, port,
                 operation="rebind-prepare")
    assert run.code == 8, run.out
    assert run.exit_code("source") == 8
    assert not [m for m in run.messages("destination") if m.startswith("Rebinding token accepted")]


# --------------------------------------------------------------------------- upstream's captured quote

@pytest.mark.parametrize("operation, extra", [
    ("migration", []),
    ("migration", ["--policy-v2"]),
    ("rebind-prepare", []),
])
def test_mock_quote_file_from_upstream(tmp_path: Path, port: int, vectors: Path, operation: str,
                                       extra: list[str]) -> None:
    """MOCK_QUOTE_FILE = the captured Azure quote, verified against Intel's root and the THIM collateral.

    With policy v2 the generated policy pins that quote's facts and embeds the
    collateral; the quote cannot bind our keys, so both sides say they skip it.
    """
    att = vectors / "attestation"
    run = script(["--operation", operation, "--mock-report", *extra,
                  "--mock-quote-file", str(att / "az_migtd_quote.blob"),
                  "--root-ca-file", str(paths.intel_root_ca())],
                 tmp_path, port, operation=operation,
                 env_extra={"MIGTD_COLLATERAL_FILE": str(att / "collateral_azure_thim.json")})
    both_ok(run)
    for side in ("source", "destination"):
        assert "AzCVMEmu mode: Skipping public key verification in TD report" in run.messages(side)
        (attested,) = run.named(side, "peer_attested")
        assert attested["verified"] is True and "reportdata_binding" in attested["bypassed"]
        checked = rules(run, side)
        assert checked and all(checked.values())     # rules were evaluated, and all passed
    if operation == "migration":
        (generated,) = run.named("source", "quote_generated")
        assert generated["source"] == "mock-quote-file"
        assert run.named("source", "peer_attested")[0]["fmspc"] == "90C06F000000"
    if extra or operation != "migration":
        assert "facts from quote" in run.out


def test_rebind_prepare_mock_report_with_rotated_chains(tmp_path: Path, port: int) -> None:
    """Old and new MigTD run policies signed by different leaves of one root (all three rotated)."""
    tool(["policy", "generate-rotation", "--variant", "all", "--out-dir", "."], tmp_path)
    run = script(["--operation", "rebind-prepare", "--mock-report",
                  "--src-policy-file", "policy_v2_signed_a.json", "--src-policy-issuer-chain-file",
                  "policy_issuer_chain_a.pem",
                  "--dst-policy-file", "policy_v2_signed_b.json", "--dst-policy-issuer-chain-file",
                  "policy_issuer_chain_b.pem"], tmp_path, port, operation="rebind-prepare")
    both_ok(run)
    for side in ("source", "destination"):
        checked = rules(run, side)
        assert checked["chains.policy_issuer_chain"] and checked["chains.servtd_tcb_mapping_issuer_chain"]
        assert all(checked.values())
