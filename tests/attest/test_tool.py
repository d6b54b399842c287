"""``migtd-tool quote inspect|verify`` and ``migtd-tool mock-pki``.

Most cases call the tool's ``main()`` in-process (fast); one runs the installed
``migtd-tool`` entry point to prove the command is wired up.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

from migtd import paths
from migtd.tool.main import main


def _tool() -> str:
    candidate = Path(sys.executable).with_name("migtd-tool")
    return str(candidate) if candidate.exists() else (shutil.which("migtd-tool") or "migtd-tool")


def _verify_args(azure, quote: Path, collateral: str = "collateral_production_fmspc.json") -> list[str]:
    return ["quote", "verify", str(quote), "--collateral", str(azure.dir / collateral),
            "--root-ca", str(paths.intel_root_ca())]


def test_inspect_json_has_every_part(azure, capsys):
    assert main(["quote", "inspect", str(azure.dir / "az_migtd_quote.blob"), "--json"]) == 0
    info = json.loads(capsys.readouterr().out)
    assert info["header"]["version"] == 4 and info["header"]["tee_type"] == "0x81"
    assert info["trailing_bytes"] == 70 and info["quote_size"] == 4936
    assert info["body"]["mrtd"].startswith("556FD5FC")
    assert info["qe_report"]["isvsvn"] == 6 and info["qe_auth_data"].startswith("000102")
    assert len(info["pck_chain"]) == 3 and "SGX PCK Certificate" in info["pck_chain"][0]["subject"]
    assert info["sgx_extension"]["fmspc"] == "90C06F000000"
    assert info["sgx_extension"]["tcb_components"][:8] == [3, 3, 2, 2, 4, 1, 0, 5]


def test_inspect_text(azure, capsys):
    assert main(["quote", "inspect", str(azure.dir / "az_migtd_quote.blob")]) == 0
    out = capsys.readouterr().out
    assert "qe_vendor_id: 939A7233F79C4CA9940A0DB3957F0607" in out and "pcesvn: 13" in out


def test_inspect_garbage_is_one_line_exit_7(tmp_path, capsys):
    bad = tmp_path / "bad.bin"
    bad.write_bytes(b"\x04\x00\x02\x00" + bytes(20))
    assert main(["quote", "inspect", str(bad)]) == 7
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "offset" in err


def test_verify_ok_and_json(azure, capsys):
    assert main(_verify_args(azure, azure.dir / "az_migtd_quote.blob")) == 0
    out = capsys.readouterr().out
    assert "tcb_status: UpToDate" in out and "fmspc: 90C06F000000" in out and "advisories: (none)" in out
    assert main(_verify_args(azure, azure.dir / "az_migtd_quote.blob", "collateral_azure_thim.json")
                + ["--json"]) == 0
    fields = json.loads(capsys.readouterr().out)
    assert fields["tcb_status"] == "UpToDate" and fields["collateral_expired"] is True
    assert fields["verification_time"] == "2025-03-29T06:09:15Z" and fields["time_rule"] == "midpoint"


def test_verify_at(azure, capsys):
    args = _verify_args(azure, azure.dir / "az_migtd_quote.blob")
    assert main(args + ["--at", "2025-11-20T00:00:00Z"]) == 0
    capsys.readouterr()
    assert main(args + ["--at", "2026-01-01T00:00:00Z"]) == 7
    assert "failed at time" in capsys.readouterr().err
    assert main(args + ["--at", "yesterday"]) == 1


def test_verify_failure_names_step(azure, tmp_path, capsys):
    bad = tmp_path / "bad.bin"
    data = bytearray(azure.quote)
    data[700] ^= 1
    bad.write_bytes(bytes(data))
    assert main(_verify_args(azure, bad)) == 7
    assert "failed at qe_report_data" in capsys.readouterr().err
    assert main(_verify_args(azure, bad) + ["--json"]) == 7
    assert json.loads(capsys.readouterr().out) == {
        "verified": False, "step": "qe_report_data",
        "error": "QE REPORTDATA is not SHA-256 of the attestation key and QE auth data"}


def test_verify_missing_files_exit_1(azure, tmp_path, capsys):
    assert main(_verify_args(azure, tmp_path / "none.bin")) == 1
    args = ["quote", "verify", str(azure.dir / "az_migtd_quote.blob"), "--collateral", str(tmp_path / "c.json"),
            "--root-ca", str(paths.intel_root_ca())]
    assert main(args) == 1
    assert "c.json" in capsys.readouterr().err
    (tmp_path / "c.json").write_text('{"majorVersion": 1}')
    assert main(args) == 1
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "c.json" in err and "platforms" in err


def test_mock_pki_command_end_to_end(tmp_path):
    """The installed entry point generates a PKI whose sample quote verifies."""
    out = tmp_path / "pki"
    run = subprocess.run([_tool(), "mock-pki", "--out", str(out)], check=False, capture_output=True, text=True,
                         timeout=60)
    assert run.returncode == 0, run.stderr
    for name in ("root_ca.der", "collateral.json", "pck_chain.pem", "pck_key.pem", "attestation_key.pem",
                 "policy_issuer_chain.pem", "policy_signing_key.pem", "sample_quote.bin"):
        assert (out / name).is_file(), name
    again = subprocess.run([_tool(), "mock-pki", "--out", str(out)], check=False, capture_output=True, text=True,
                           timeout=60)
    assert again.returncode == 1 and "--force" in again.stderr
    assert main(["quote", "verify", str(out / "sample_quote.bin"), "--collateral", str(out / "collateral.json"),
                 "--root-ca", str(out / "root_ca.der")]) == 0
