"""``migtd-tool policy ...`` end to end: exit codes, rule table, JSON, generate/sign/verify."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest

from migtd import paths
from migtd.attest import suppl as rpt
from migtd.eventlog import v1_event_log
from migtd.tool.main import main

T = "src/policy/test"


def run(capsys: pytest.CaptureFixture[str], *argv: object) -> tuple[int, str, str]:
    code = main(["policy", *map(str, argv)])
    out, err = capsys.readouterr()
    return code, out, err


def check_args(policy: Path, local: Path, peer: Path, *extra: object) -> list[object]:
    return ["check", "--policy", policy, "--local", local, "--peer", peer, "--role", "source", *extra]


def test_check_pass_and_fail(pvec: Path, tmp_path: Path, report_dat: bytes, capsys) -> None:  # type: ignore[no-untyped-def]
    rep = pvec / T / "report.dat"
    code, out, _ = run(capsys, *check_args(pvec / T / "policy_full1.json", rep, rep))
    assert code == 0 and "satisfied (19 rules checked)" in out and "pass  MigTD.TDINFO.MRTD" in out
    peer = tmp_path / "peer.dat"
    peer.write_bytes(rpt.with_field(report_dat, "MRTD", b"\x01" * 48))
    code, out, _ = run(capsys, *check_args(pvec / T / "policy_full1.json", rep, peer))
    assert code == 8 and "FAIL  MigTD.TDINFO.MRTD" in out and "UnqualifiedMigTdInfo" in out
    code, out, _ = run(capsys, *check_args(pvec / T / "policy_005.json", rep, rep))
    assert code == 9 and "InvalidPolicy" in out


def test_check_json(pvec: Path, capsys) -> None:  # type: ignore[no-untyped-def]
    rep = pvec / T / "report.dat"
    code, out, _ = run(capsys, *check_args(pvec / T / "policy_010.json", rep, rep, "--json"))
    doc = json.loads(out)
    assert code == 8 and doc["ok"] is False and doc["kind"] == "PlatformNotFound" and doc["code"] == 8
    assert doc["failed_rules"] == ["Platform.fmspc"]
    assert set(doc["rules"][0]) == {"section", "field", "operation", "reference", "local", "actual", "ok",
                                    "reason", "path"}


def test_check_bad_inputs_are_one_line(pvec: Path, tmp_path: Path, capsys) -> None:  # type: ignore[no-untyped-def]
    rep = pvec / T / "report.dat"
    short = tmp_path / "short.dat"
    short.write_bytes(b"\0" * 100)
    code, _, err = run(capsys, *check_args(pvec / T / "policy_001.json", rep, short))
    assert code == 1 and "--collateral" in err and "Traceback" not in err and len(err.strip().splitlines()) == 1
    code, _, err = run(capsys, *check_args(tmp_path / "missing.json", rep, rep))
    assert code == 1 and "missing.json" in err and len(err.strip().splitlines()) == 1
    bad_root = tmp_path / "root.pem"
    bad_root.write_bytes(b"-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n")
    quote = paths.sample_quote()
    code, _, err = run(capsys, *check_args(pvec / T / "policy_001.json", quote, rep, "--collateral",
                                           paths.mock_collateral(), "--root-ca", bad_root))
    # a root CA that is not a certificate is a configuration error, as in ``migtd`` (exit 1, not 7)
    assert code == 1 and "not an X.509 certificate" in err and len(err.strip().splitlines()) == 1


def test_check_quote_inputs_with_events(vectors: Path, tmp_path: Path, capsys) -> None:  # type: ignore[no-untyped-def]
    """The real Azure quote on both sides, verified with --collateral/--root-ca, default policy + logs."""
    att = vectors / "attestation"
    policy = paths.default_policy()
    root = paths.intel_root_ca()
    log = tmp_path / "events.bin"
    log.write_bytes(v1_event_log(policy.read_bytes(), root.read_bytes()))
    quote = att / "az_migtd_quote.blob"
    code, out, _ = run(capsys, *check_args(policy, quote, quote, "--collateral", att / "collateral_azure_thim.json",
                                           "--root-ca", root, "--local-events", log, "--peer-events", log))
    assert code == 0, out
    assert "tolerated" in out
    code, out, _ = run(capsys, *check_args(policy, quote, quote, "--collateral", att / "collateral_azure_thim.json",
                                           "--root-ca", root, "--local-events", log, "--peer-events", log,
                                           "--strict-rtmr"))
    assert code == 8 and "InvalidEventLog" in out


def test_generate_then_check(pvec: Path, tmp_path: Path, report_dat: bytes, capsys) -> None:  # type: ignore[no-untyped-def]
    rep = pvec / T / "report.dat"
    out_policy = tmp_path / "generated.json"
    code, out, _ = run(capsys, "generate", "--from", rep, out_policy)
    assert code == 0 and out_policy.exists()
    doc = json.loads(out_policy.read_text())
    assert doc["policy"][0]["fmspc"] == "30806F000000"
    assert doc["policy"][3]["MigTD"]["TDINFO"]["MRTD"]["reference"] == rpt.field(report_dat, "MRTD").hex().upper()
    log = tmp_path / "log.bin"
    log.write_bytes(v1_event_log(out_policy.read_bytes(), b"root"))
    code, out, _ = run(capsys, *check_args(out_policy, rep, rep, "--local-events", log, "--peer-events", log))
    assert code == 0, out


def test_generate_from_template(pvec: Path, tmp_path: Path, report_dat: bytes, capsys) -> None:  # type: ignore[no-untyped-def]
    other = tmp_path / "other.dat"
    other.write_bytes(rpt.with_field(rpt.with_field(report_dat, "FMSPC", bytes.fromhex("90C06F000000")),
                                     "PCE_SVN", (13).to_bytes(2, "little")))
    out_policy = tmp_path / "from_template.json"
    code, _, _ = run(capsys, "generate", "--from", other, "--template", pvec / T / "policy_full1.json", out_policy)
    assert code == 0
    doc = json.loads(out_policy.read_text())
    assert doc["id"] == json.loads((pvec / T / "policy_full1.json").read_text())["id"]
    assert doc["policy"][0]["fmspc"] == "90C06F000000"
    assert doc["policy"][0]["Platform"]["TcbInfo"]["pcesvn"]["reference"] == 13
    assert doc["policy"][4]["MigTD"]["TDINFO"]["MRTD"]["reference"] == "self"    # "self" kept
    code, out, _ = run(capsys, *check_args(out_policy, other, other))
    assert code == 0, out
    code, out, _ = run(capsys, *check_args(out_policy, pvec / T / "report.dat", pvec / T / "report.dat"))
    assert code == 8 and "PlatformNotFound" in out
    code, _, err = run(capsys, "generate", "--from", pvec / T / "policy_005.json", tmp_path / "x.json")
    assert code == 1 and "822 bytes" in err
    code, _, err = run(capsys, "generate", "--from", other, "--template", pvec / T / "policy_005.json",
                       tmp_path / "x.json")
    assert code == 9 and "invalid JSON" in err


def test_sign_verify_and_check_v2(pvec: Path, tmp_path: Path, chain3, bundle, capsys) -> None:  # type: ignore[no-untyped-def]
    key, chain, _ = chain3
    (tmp_path / "key.pem").write_bytes(key)
    (tmp_path / "chain.pem").write_bytes(chain)
    # a full policy built with the test helper, then its policyData re-signed through the CLI
    base = json.loads((pvec / "src/policy/test/policy_v2/policy_data.json").read_bytes())
    sc = base["servtdCollateral"]
    signed = json.loads(bundle({**base, "policy": []}, key, chain, td_identity=sc["servtdIdentity"]["tdIdentity"],
                               tcb_mapping=sc["servtdTcbMapping"]["tdTcbMapping"]))
    data_file = tmp_path / "policy_data.json"
    data_file.write_text(json.dumps(signed["policyData"], separators=(",", ":"), ensure_ascii=False))
    code, out, _ = run(capsys, "sign", "--key", tmp_path / "key.pem", "--chain", tmp_path / "chain.pem",
                       data_file, tmp_path / "signed.json")
    assert code == 0, out
    code, out, _ = run(capsys, "verify", "--policy", tmp_path / "signed.json", "--issuer-chain",
                       tmp_path / "chain.pem")
    assert code == 0 and "policySvn 1" in out
    rep = pvec / T / "report.dat"
    code, out, _ = run(capsys, *check_args(tmp_path / "signed.json", rep, rep, "--issuer-chain",
                                           tmp_path / "chain.pem"))
    # report.dat's engine is not in the policy's TCB mapping: the mandatory deny refuses it
    assert code == 8 and "UnqualifiedMigTdInfo" in out and "mandatory.migtd_tcb_status" in out
    # non-canonical input and a key that is not the chain's leaf are refused with exit 1
    pretty = tmp_path / "pretty.json"
    pretty.write_text(json.dumps(signed["policyData"], indent=1))
    code, _, err = run(capsys, "sign", "--key", tmp_path / "key.pem", "--chain", tmp_path / "chain.pem",
                       pretty, tmp_path / "x.json")
    assert code == 1 and "canonical" in err
    other_key, _, _ = chain_factory_key()
    (tmp_path / "other.pem").write_bytes(other_key)
    code, _, err = run(capsys, "sign", "--key", tmp_path / "other.pem", "--chain", tmp_path / "chain.pem",
                       data_file, tmp_path / "x.json")
    assert code == 1 and "not the key of the leaf" in err
    code, _, err = run(capsys, "verify", "--policy", tmp_path / "signed.json", "--issuer-chain",
                       pvec / "config/templates/policy_issuer_chain.pem")
    # our own policy failing to verify is InvalidPolicyError (9), as at ``migtd`` start-up
    assert code == 9 and "signature" in err


def chain_factory_key() -> tuple[bytes, bytes, list]:
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    key = ec.generate_private_key(ec.SECP384R1())
    return key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                             serialization.NoEncryption()), b"", []


def test_installed_entry_point(pvec: Path) -> None:
    """The real ``migtd-tool`` executable: exit status is the MigrationResult."""
    import sys
    tool = Path(sys.executable).with_name("migtd-tool")
    if not tool.exists():
        pytest.fail(f"{tool} is not installed (pip install -e .)")
    rep = pvec / T / "report.dat"
    proc = subprocess.run([str(tool), "policy", "check", "--policy", str(pvec / T / "policy_010.json"),
                           "--local", str(rep), "--peer", str(rep), "--role", "destination"],
                          check=False, capture_output=True, text=True, timeout=60)
    assert proc.returncode == 8 and "PlatformNotFound" in proc.stdout and not proc.stderr
