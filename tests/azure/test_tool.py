"""``migtd-tool azure``: inspect HCL reports, build a mock one, provision a swtpm with it."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from migtd.emu import hcl
from migtd.emu.vtpm import HCL_REPORT_INDEX
from migtd.tool.main import main


def test_inspect_the_real_vector(vectors: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["azure", "hcl", str(vectors / "attestation" / "azure" / "hcl-report-tdx.bin"), "--json"]) == 0
    doc = json.loads(capsys.readouterr().out)
    assert doc["size"] == 2600 and doc["header"]["report_size"] == 2438
    assert doc["report_data_bound_to_claims"] is True
    assert doc["runtime_claims_keys"] == ["keys", "user-data", "vm-configuration"]
    assert doc["td_report"]["mrtd"].startswith("75F3ACC2") and doc["td_report"]["integrity"] == "ok"


def test_mock_hcl_provision_and_read_back_from_swtpm(swtpm: Any, tmp_path: Path,
                                                     capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "hcl.bin"
    assert main(["azure", "mock-hcl", "--out", str(out), "--user-data", "ab" * 64]) == 0
    blob = out.read_bytes()
    assert len(blob) <= 2048 and hcl.parse_hcl_report(blob).user_data() == b"\xab" * 64
    assert main(["azure", "provision", "--tcti", swtpm.tcti, str(out)]) == 0
    assert swtpm.read(HCL_REPORT_INDEX) == blob
    capsys.readouterr()
    assert main(["azure", "hcl", "--tcti", swtpm.tcti, "--json"]) == 0
    doc = json.loads(capsys.readouterr().out)
    assert doc["user_data"] == "AB" * 64 and doc["size"] == len(blob)
    assert doc["td_report"]["mrtd"].startswith("556FD5FC") and doc["td_report"]["integrity"] == "ok"


def test_errors_are_one_line_with_the_right_code(tmp_path: Path, swtpm: Any,
                                                 capsys: pytest.CaptureFixture[str]) -> None:
    junk = tmp_path / "junk.bin"
    junk.write_bytes(b"HCLA" + bytes(100))
    assert main(["azure", "hcl", str(junk)]) == 7
    assert main(["azure", "provision", "--tcti", swtpm.tcti, str(junk)]) == 7
    assert main(["azure", "hcl", str(tmp_path / "missing.bin")]) == 1
    assert main(["azure", "mock-hcl", "--out", str(tmp_path / "x"), "--user-data", "00"]) == 1
    tcti = swtpm.tcti
    swtpm.stop()
    assert main(["azure", "hcl", "--tcti", tcti]) == 4
    lines = capsys.readouterr().err.strip().splitlines()
    assert len(lines) == 5 and all(line.startswith("migtd-tool: error: ") for line in lines)
    assert "length at offset 0" in lines[0] and "missing.bin does not exist" in lines[2]
    assert f"TCTI '{tcti}'" in lines[4]
