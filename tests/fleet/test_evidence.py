"""``migtd-tool evidence collect|show`` and the evidence file format.

Collection in each mode produces a file that verifies (mock QE: with the
committed mock PKI; azure: vTPM report from a real swtpm + quote from a local
IMDS), whose event log is exactly what a MigTD with that configuration
measures, and which never holds a private key.
"""

from __future__ import annotations

import base64
import json
import os
from pathlib import Path
from typing import Any

import pytest
from cryptography.hazmat.primitives import serialization

from migtd import eventlog, paths
from migtd.attest.collateral import load_collateral
from migtd.attest.verify import verify_quote
from migtd.fleet.evidence import Evidence, EvidenceError, load_evidence, report_data_for
from migtd.tool.main import main

MOCK = paths.mock_dir()


@pytest.fixture(autouse=True)
def _clean_env(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in list(os.environ):
        if name.startswith(("MIGTD_", "MOCK_QUOTE", "TSS2_")):
            monkeypatch.delenv(name)


def _verify(evidence: Evidence) -> Any:
    return verify_quote(evidence.quote, load_collateral(MOCK / "collateral.json"), (MOCK / "root_ca.der").read_bytes())


def test_mock_report_v1_evidence_is_what_a_migtd_presents(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "e.json"
    assert main(["evidence", "collect", "--out", str(out), "--attestation", "mock-report", "--host-name", "td-7"]) == 0
    assert "wrote" in capsys.readouterr().err
    ev = load_evidence(out)
    policy = paths.default_policy().read_bytes()
    root = (MOCK / "root_ca.der").read_bytes()
    assert (ev.host, ev.attestation, ev.quote_source, ev.policy_version) == ("td-7", "mock-report", "mock-qe", 1)
    assert ev.event_log == eventlog.v1_event_log(policy, root)
    assert ev.policy.size == len(policy) and ev.root_ca is not None and ev.issuer_chain is None
    v = _verify(ev)
    assert v.report_data == report_data_for("td-7", ev.collected_at) == ev.report_data
    assert eventlog.replay_rtmrs(eventlog.parse_event_log(ev.event_log)) == v.rtmrs
    # round trip, and show
    assert Evidence.from_json(ev.to_json()) == ev
    assert main(["evidence", "show", str(out), "--json"]) == 0
    shown = json.loads(capsys.readouterr().out)
    assert shown["event_log"]["replays_to_quote_rtmrs"] is True and shown["quote"]["version"] == 4


def test_v2_evidence_and_stdout(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    policy, chain = tmp_path / "p2.json", tmp_path / "chain.pem"
    assert main(["policy", "generate-v2", "--out", str(policy), "--chain-out", str(chain)]) == 0
    capsys.readouterr()
    assert main(["evidence", "collect", "--out", "-", "--attestation", "mock-report", "--policy", str(policy),
                 "--issuer-chain", str(chain), "--host-name", "v2host"]) == 0
    ev = Evidence.from_json(capsys.readouterr().out)
    assert ev.policy_version == 2 and ev.root_ca is None and ev.issuer_chain is not None
    assert ev.event_log == eventlog.v2_event_log(chain.read_bytes(), policy.read_bytes())
    _verify(ev)


def test_quote_file_mode_records_its_source(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["evidence", "collect", "--out", str(tmp_path / "q.json"), "--attestation", "mock-report",
                 "--mock-quote-file", str(MOCK / "sample_quote.bin")]) == 0
    ev = load_evidence(tmp_path / "q.json")
    assert ev.quote_source == "mock-quote-file" and ev.quote == (MOCK / "sample_quote.bin").read_bytes()


def test_azure_evidence_from_vtpm_and_imds(provisioned_swtpm: Any, imds: Any, tmp_path: Path,
                                           monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TSS2_TCTI", provisioned_swtpm.tcti)
    monkeypatch.setenv("MIGTD_IMDS_URL", imds.url)
    monkeypatch.setenv("MIGTD_VTPM_SETTLE", "0")
    out = tmp_path / "az.json"
    assert main(["evidence", "collect", "--out", str(out), "--attestation", "azure", "--root-ca",
                 str(MOCK / "root_ca.der"), "--host-name", "azure-1", "--timeout", "20"]) == 0
    ev = load_evidence(out)
    assert (ev.attestation, ev.quote_source) == ("azure", "azure-imds")
    assert len(imds.requests) == 1
    v = _verify(ev)
    # on Azure the paravisor, not MigTD, fixes REPORTDATA and the RTMRs: recorded, not bound
    assert v.report_data != ev.report_data
    assert eventlog.replay_rtmrs(eventlog.parse_event_log(ev.event_log)) != v.rtmrs


def _private_material() -> list[bytes]:
    found = []
    for name in ("pck_key.pem", "attestation_key.pem", "policy_signing_key.pem"):
        key = serialization.load_pem_private_key((MOCK / name).read_bytes(), None)
        value = key.private_numbers().private_value  # type: ignore[union-attr]
        raw = value.to_bytes((value.bit_length() + 7) // 8, "big")
        found += [raw, raw.hex().encode(), raw.hex().upper().encode(),
                  key.private_bytes(serialization.Encoding.DER, serialization.PrivateFormat.PKCS8,
                                    serialization.NoEncryption())]
    return found


def test_evidence_never_contains_a_private_key(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    outs = []
    for i, extra in enumerate(([], ["--policy", str(MOCK / "../policy.json")])):
        out = tmp_path / f"e{i}.json"
        assert main(["evidence", "collect", "--out", str(out), "--attestation", "mock-report", *extra]) == 0
        outs.append(out)
    secrets = _private_material()
    for out in outs:
        text = out.read_bytes()
        ev = load_evidence(out)
        assert b"PRIVATE KEY" not in text
        for blob in (text, ev.quote, ev.event_log, base64.b64decode(json.loads(text)["quote"]["data"])):
            for secret in secrets:
                assert secret not in blob
    # inputs holding a private key are refused before anything is written
    capsys.readouterr()
    for flag in ("--policy", "--root-ca"):
        bad = tmp_path / f"bad{flag}.json"
        assert main(["evidence", "collect", "--out", str(bad), "--attestation", "mock-report",
                     flag, str(MOCK / "pck_key.pem")]) == 1
        err = capsys.readouterr().err.strip().splitlines()
        assert len(err) == 1 and "contains a private key" in err[0] and not bad.exists()


def test_collect_errors_are_one_line_and_leave_outputs_alone(tmp_path: Path,
                                                            capsys: pytest.CaptureFixture[str]) -> None:
    keep = tmp_path / "old.json"
    keep.write_text("previous evidence")
    fifo = tmp_path / "fifo"
    os.mkfifo(fifo)
    junk = tmp_path / "junk.der"
    junk.write_bytes(b"\x30\x03\x02\x01\x01")
    cases = [
        (["--attestation", "azure"], 1, "root CA"),
        (["--attestation", "azure", "--root-ca", str(MOCK / "root_ca.der")], 4, "TPM"),
        (["--attestation", "mock-report", "--policy", str(fifo)], 1, "not a regular file"),
        (["--attestation", "mock-report", "--policy", str(tmp_path / "nope")], 1, "does not exist"),
        (["--attestation", "mock-report", "--root-ca", str(paths.default_policy())], 1, "4096-byte limit"),
        (["--attestation", "mock-report", "--root-ca", str(junk)], 1, "not an X.509"),
        (["--attestation", "mock-report", "--issuer-chain", str(MOCK / "policy_issuer_chain.pem")], 9, "policy"),
        (["--attestation", "mock-report", "--host-name", "bad name"], 1, "--host-name"),
        (["--attestation", "mock-report", "--timeout", "-1"], 1, "--timeout"),
        (["--attestation", "mock-report", "--policy-version", "2"], 1, "issuer chain"),
    ]
    for extra, code, needle in cases:
        assert main(["evidence", "collect", "--out", str(keep), *extra]) == code, extra
        err = capsys.readouterr().err.strip().splitlines()
        assert len(err) == 1 and needle in err[0], (extra, err)
        assert keep.read_text() == "previous evidence"
    bad = tmp_path / "bad.json"
    bad.write_text('{"format": "migtd-evidence", "format_version": 1}')
    assert main(["evidence", "show", str(bad)]) == 1
    err = capsys.readouterr().err.strip().splitlines()
    assert err == [f"migtd-tool: error: evidence file {bad}: host is missing"]
    with pytest.raises(EvidenceError, match="report_data is 3 bytes"):
        doc = json.loads(load_evidence_text())
        doc["report_data"] = "AABBCC"
        Evidence.from_dict(doc)


def load_evidence_text() -> str:
    """A well-formed evidence document (its blobs need not be a real quote and log)."""
    from migtd.fleet.evidence import FileDigest, now_utc

    now = now_utc()
    ev = Evidence("h", now, "t", "mock-report", "mock-qe", report_data_for("h", now), b"q" * 10, b"l" * 10, 1,
                  FileDigest.of(b"p"), FileDigest.of(b"r"))
    return ev.to_json().decode()
