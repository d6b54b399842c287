"""migtdemu.sh refuses bad option combinations the way the upstream runner does.

Each case runs the real script as a user would and checks the exit status and
the one-line error; none of them needs a migration to happen.
"""

from __future__ import annotations

import os
import socket
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
SCRIPT = ROOT / "migtdemu.sh"


def run(args: list[str], cwd: Path, timeout: float = 30) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if k != "MIGTD_COLLATERAL_FILE"}
    return subprocess.run(["bash", str(SCRIPT), *args], cwd=cwd, check=False, capture_output=True,
                          text=True, timeout=timeout, env=env)


@pytest.mark.parametrize("args, message", [
    (["--skip-ra", "--mock-report", "--both"], "--skip-ra and --mock-report options are mutually exclusive"),
    (["--role", "middle"], "Role must be 'source' or 'destination', got: middle"),
    (["--num-cpus", "0"], "--num-cpus must be at least 1, got: 0"),
    (["--num-cpus", "two"], "--num-cpus must be a positive integer, got: two"),
    (["--num-cpus", "4096"], "Requested 4096 CPUs but only"),
    (["--num-cpus", "08"], "Requested 08 CPUs but only"),           # not octal
    (["--num-cpus", "000"], "--num-cpus must be at least 1, got: 000"),
    (["--num-cpus", "9" * 3000], "Requested 9999"),                # no arithmetic overflow
    (["--skip-ra", "--request-id", "\u0663"], "Invalid request ID: \u0663"),
    (["--skip-ra", "--dest-port", "1" * 3000], "Invalid destination port: 1111"),
    (["--operation", "teleport"], "Operation must be 'migration', 'rebind-prepare', or 'rebind-finalize', got: teleport"),
    (["--frobnicate"], "Unknown option --frobnicate"),
    (["--features", "spdm_attestation,igvm-attest,no_such_feature"], "unknown feature 'no_such_feature'"),
    (["--features", "no_such_feature"], "unknown feature 'no_such_feature'"),
    (["--log-level", "loud"], "--log-level must be one of"),
    (["--policy-v2", "--skip-ra"], "you must explicitly specify a policy file with --policy-file"),
    (["--policy-v2", "--skip-ra", "--policy-file", "p.json"],
     "you must specify a policy issuer chain file with --policy-issuer-chain-file"),
    (["--skip-ra", "--policy-file", "does-not-exist.json"], "Source Policy file not found: does-not-exist.json"),
    (["--mock-report", "--root-ca-file", "nope.der"], "Root CA file not found: nope.der"),
    (["--mock-report", "--mock-quote-file", "nope.bin"], "Mock Quote file not found: "),
    (["--policy-v2", "--mock-report", "--mock-quote-file", "nope.bin"],
     "a policy generated from --mock-quote-file needs the collateral of the quote's platform"),
])
def test_rejected(args: list[str], message: str, tmp_path: Path) -> None:
    proc = run(args, tmp_path)
    assert proc.returncode == 1, proc.stdout + proc.stderr
    assert message in proc.stderr
    assert "Traceback" not in proc.stdout + proc.stderr


def test_help_lists_every_upstream_option(tmp_path: Path) -> None:
    proc = run(["--help"], tmp_path)
    assert proc.returncode == 0
    for option in ("--role", "--request-id", "--operation", "--dest-ip", "--dest-port", "--policy-file",
                   "--root-ca-file", "--policy-issuer-chain-file", "--src-policy-file",
                   "--src-policy-issuer-chain-file", "--dst-policy-file", "--dst-policy-issuer-chain-file",
                   "--debug", "--release", "--policy-v2", "--skip-ra", "--mock-report", "--mock-quote-file",
                   "--mock-quote-retry", "--skip-policy-generation", "--both", "--no-sudo", "--features",
                   "--log-level", "--num-cpus", "--help"):
        assert option in proc.stdout, option


def test_mock_quote_file_implies_mock_report(tmp_path: Path) -> None:
    quote = tmp_path / "q.bin"
    quote.write_bytes(b"\x04")
    proc = run(["--mock-quote-file", "q.bin", "--skip-ra"], tmp_path)
    assert "automatically enabling --mock-report" in proc.stdout
    assert f"Converted relative path to absolute: {tmp_path}/q.bin" in proc.stdout
    assert proc.returncode == 1
    assert "mutually exclusive" in proc.stderr


def test_port_in_use_is_reported_before_starting(tmp_path: Path) -> None:
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen(1)
        port = busy.getsockname()[1]
        proc = run(["--skip-ra", "--both", "--dest-port", str(port)], tmp_path)
    assert proc.returncode == 1
    assert f"port {port} is already in use" in proc.stderr
