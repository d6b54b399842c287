"""The vTPM report source against a real swtpm provisioned like an Azure vTPM."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Callable
from typing import Any

import pytest

from migtd.emu import hcl, vtpm
from migtd.emu.vtpm import (
    HCL_REPORT_INDEX,
    REPORT_DATA_INDEX,
    Vtpm,
    VtpmError,
    VtpmReportSource,
    check_device,
)
from migtd.errors import ConfigError
from migtd.result import MigrationResult


def _source(tpm: Any, log: Any = None, **kw: Any) -> VtpmReportSource:
    kw.setdefault("settle", 0.0)
    kw.setdefault("retry_wait", 0.0)
    return VtpmReportSource(Vtpm(tpm.tcti, log), **kw)


def test_report_comes_from_the_hcl_index(provisioned_swtpm: Any, logs: Any) -> None:
    data = bytes(range(64))
    report = _source(provisioned_swtpm, logs.log).hcl_report(data)
    expected = hcl.parse_hcl_report(provisioned_swtpm.read(HCL_REPORT_INDEX))
    assert report == expected
    assert report.td_report[0] == 0x81 and len(report.td_report) == 1024
    assert report.claims_bound()
    # the caller's data went to the index the paravisor watches
    assert provisioned_swtpm.read(REPORT_DATA_INDEX) == data
    steps = [r.get("step") for r in logs.records() if r["level"] == "debug"]
    assert {"open", "write report data (NV 0x01400002)", "read HCL report (NV 0x01400001)"} <= set(steps)
    assert all(isinstance(r["ms"], float) for r in logs.records() if "ms" in r)


def test_wrong_size_report_data_index_is_redefined(provisioned_swtpm: Any) -> None:
    provisioned_swtpm.vtpm().provision(REPORT_DATA_INDEX, b"\x07" * 32)
    assert len(provisioned_swtpm.read(REPORT_DATA_INDEX)) == 32
    _source(provisioned_swtpm).hcl_report(b"\x09" * 64)
    assert provisioned_swtpm.read(REPORT_DATA_INDEX) == b"\x09" * 64


def test_existing_right_size_index_is_reused(provisioned_swtpm: Any) -> None:
    source = _source(provisioned_swtpm)
    source.hcl_report(b"\x01" * 64)
    source.hcl_report(b"\x02" * 64)
    assert provisioned_swtpm.read(REPORT_DATA_INDEX) == b"\x02" * 64


def test_index_larger_than_one_nv_read_is_read_in_chunks(swtpm: Any, make_hcl: Callable[..., bytes]) -> None:
    blob = make_hcl(pad_to=2048)  # swtpm's NV index maximum; reads are capped at 1024
    swtpm.provision_hcl(blob)
    vt = Vtpm(swtpm.tcti)
    with vt.session() as ctx:
        assert vt.nv_buffer_max(ctx) == 1024
    assert swtpm.read(HCL_REPORT_INDEX) == blob
    assert _source(swtpm).hcl_report(bytes(64)).td_report == blob[32:1056]


def test_fresh_report_returns_without_waiting(swtpm: Any, make_hcl: Callable[..., bytes], logs: Any) -> None:
    data = b"\xc3" * 64
    swtpm.provision_hcl(make_hcl(user_data=data))  # what the paravisor writes for this data
    started = time.monotonic()
    report = _source(swtpm, logs.log, settle=5.0).hcl_report(data)
    assert time.monotonic() - started < 1.0
    assert report.user_data() == data
    assert not logs.messages("warn")


def test_stale_report_waits_for_settle_then_warns(provisioned_swtpm: Any, logs: Any) -> None:
    started = time.monotonic()
    report = _source(provisioned_swtpm, logs.log, settle=0.6).hcl_report(b"\xee" * 64)
    assert time.monotonic() - started >= 0.6
    assert report.user_data() == bytes(64)
    [warning] = logs.messages("warn")
    assert "stale report" in warning


def test_bad_hcl_report_is_retried_then_reported(swtpm: Any, make_hcl: Callable[..., bytes], logs: Any) -> None:
    swtpm.provision_hcl(b"XCLA" + make_hcl()[4:])
    with pytest.raises(VtpmError) as info:
        _source(swtpm, logs.log, attempts=3).hcl_report(bytes(64))
    assert "after 3 attempts" in info.value.message and "signature" in info.value.message
    assert info.value.result == MigrationResult.TdxModuleError
    assert len(logs.messages("warn")) == 3


def test_missing_hcl_index_names_it(swtpm: Any) -> None:
    with pytest.raises(VtpmError, match="NV index 0x01400001 is not defined"):
        _source(swtpm).hcl_report(bytes(64))


def test_report_data_must_be_64_bytes(provisioned_swtpm: Any) -> None:
    with pytest.raises(VtpmError, match="REPORTDATA must be 64 bytes, got 48"):
        _source(provisioned_swtpm).hcl_report(bytes(48))


def test_no_tpm_listening_names_the_tcti(swtpm: Any) -> None:
    tcti = swtpm.tcti
    swtpm.stop()
    with pytest.raises(VtpmError) as info:
        _source(swtpm).probe()
    assert info.value.message.startswith(f"cannot open the TPM through TCTI '{tcti}'")
    assert "\n" not in info.value.message


def test_missing_device_names_the_path() -> None:
    with pytest.raises(VtpmError) as info:
        check_device("device:/dev/no-such-tpmrm9")
    assert "no TPM device at /dev/no-such-tpmrm9 (TSS2_TCTI=device:/dev/no-such-tpmrm9)" in info.value.message
    assert "--mock-report" in info.value.message


def test_unreadable_device_says_permission_denied(tmp_path: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    node = tmp_path / "tpmrm0"
    node.write_bytes(b"")
    node.chmod(0o600)
    # Tests may run as root, for whom every file is accessible: ask os.access for a non-root view.
    monkeypatch.setattr(vtpm.os, "access", lambda path, mode: False)
    with pytest.raises(VtpmError) as info:
        check_device(f"device:{node}")
    assert info.value.message.startswith(f"permission denied opening {node} (owned by ")
    assert "run as root or as a member of group" in info.value.message


def test_other_tctis_are_not_checked_as_files() -> None:
    check_device("swtpm:host=127.0.0.1,port=1")
    check_device("mssim:host=localhost")


def test_missing_package_is_one_line_config_error(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "tpm2_pytss", None)  # makes `import tpm2_pytss` raise ImportError
    with pytest.raises(ConfigError) as info:
        vtpm.load_tss()
    assert "pip install 'migtd-py[azure]'" in info.value.message and "--mock-report" in info.value.message
    assert info.value.result == MigrationResult.InvalidParameter


def test_tpm2_pytss_is_imported_lazily() -> None:
    code = ("import sys, migtd.emu.azure, migtd.emu.vtpm, migtd.emu.imds, migtd.emu.hcl, "
            "migtd.emu.quote_provider, migtd.cli; print('tpm2_pytss' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], check=False, capture_output=True, text=True, timeout=60,
                         env={**os.environ, "PYTHONDONTWRITEBYTECODE": "1"})
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "False"
