"""AzureQuoteProvider end to end on one side: swtpm report → local IMDS quote → DCAP verify.

Also the start-up behaviour of ``migtd --attestation azure`` as a real process:
a missing package, a TPM that is not there, a bad IMDS URL, each one line and
the right exit code.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from migtd import modes, paths
from migtd.attest.collateral import load_collateral
from migtd.attest.quote import parse_quote
from migtd.attest.tdreport import TdReport
from migtd.attest.verify import verify_quote
from migtd.emu import hcl
from migtd.emu.azure import AzureQuoteProvider
from migtd.emu.vtpm import VtpmError
from migtd.errors import AttestationError, ConfigError
from migtd.result import MigrationResult


def _provider(tpm: Any, imds: Any, log: Any = None, **kw: Any) -> AzureQuoteProvider:
    return AzureQuoteProvider(tpm.tcti, imds.url, 5.0, log, settle=0.0, retry_wait=0.0, **kw)


def test_report_and_quote_verify_against_the_mock_pki(provisioned_swtpm: Any, imds: Any, logs: Any) -> None:
    provider = _provider(provisioned_swtpm, imds, logs.log)
    assert provider.name == "azure-imds"
    report_data = bytes(range(48)) + bytes(16)
    td_report = provider.td_report(report_data, b"ignored event log")
    TdReport.parse(td_report).check_integrity()
    # As on Azure, REPORTDATA is bound to the runtime claims, not to the caller's data.
    hcl_blob = provisioned_swtpm.read(0x01400001)
    claims = hcl.parse_hcl_report(hcl_blob).runtime_claims
    assert td_report[128:192] == hcl.claims_report_data(claims)

    quote = provider.quote(td_report)
    assert parse_quote(quote).body.report_data == td_report[128:192]
    verified = verify_quote(quote, load_collateral(paths.mock_dir() / "collateral.json"),
                            (paths.mock_dir() / "root_ca.der").read_bytes())
    assert verified.tcb_status == "UpToDate"
    assert len(imds.requests) == 1
    assert json.loads(imds.requests[0].body)["report"]


def test_provider_reports_imds_failures_as_attestation_errors(provisioned_swtpm: Any, imds: Any) -> None:
    provider = _provider(provisioned_swtpm, imds)
    report = provider.td_report(bytes(64), b"")
    imds.script = [(400, b'{"error":"bad report"}')]
    with pytest.raises(AttestationError) as info:
        provider.quote(report)
    assert info.value.result == MigrationResult.MutualAttestationError
    assert "HTTP 400" in info.value.message


def test_from_options_reads_the_environment(provisioned_swtpm: Any, imds: Any) -> None:
    env = {"TSS2_TCTI": provisioned_swtpm.tcti, "MIGTD_IMDS_URL": imds.url, "MIGTD_VTPM_SETTLE": "0"}
    provider = modes.resolve("azure", env).provider(modes.Setup("migration", 1, b"", b"", env, 60.0))
    assert isinstance(provider, AzureQuoteProvider)
    assert (provider.tcti, provider.imds_url, provider.reports.settle) == (provisioned_swtpm.tcti, imds.url, 0.0)
    assert provider.quote(provider.td_report(bytes(64), b""))


def test_defaults_are_azures(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("TSS2_TCTI", "MIGTD_IMDS_URL"):
        monkeypatch.delenv(name, raising=False)
    provider = AzureQuoteProvider(probe=False)
    assert provider.tcti == "device:/dev/tpmrm0"
    assert provider.imds_url == "http://169.254.169.254/acc/tdquote"
    assert provider.reports.settle == 3.0


@pytest.mark.parametrize("value", ["soon", "-1", "nan", "inf", "1e400", "1" * 5000, "\u0663", "1_0", "601"])
def test_bad_settle_value_is_a_config_error(value: str) -> None:
    with pytest.raises(ConfigError, match=f"Invalid MIGTD_VTPM_SETTLE value: {value}"):
        AzureQuoteProvider.from_options(env={"MIGTD_VTPM_SETTLE": value, "TSS2_TCTI": "swtpm:port=1"})


def test_unreachable_tpm_fails_at_construction(swtpm: Any, imds: Any) -> None:
    swtpm.stop()
    with pytest.raises(VtpmError, match="cannot open the TPM through TCTI 'swtpm:host=127.0.0.1"):
        _provider(swtpm, imds)


# ----------------------------------------------------------------- as a process

def _migtd_env(tmp_path: Path, **extra: str) -> dict[str, str]:
    policy = tmp_path / "policy.json"
    policy.write_text('{"id": "azure-start-up-test"}')
    env = {k: v for k, v in os.environ.items()
           if not k.startswith(("MIGTD_", "MOCK_QUOTE", "RUST_LOG", "TSS2_"))}
    # a complete azure configuration (its collateral named), so what fails is the TPM or IMDS under test
    env.update(MIGTD_POLICY_FILE=str(policy), MIGTD_ROOT_CA_FILE=str(paths.mock_dir() / "root_ca.der"),
               MIGTD_COLLATERAL_FILE=str(paths.mock_collateral()), MIGTD_ATTESTATION="azure",
               MIGTD_LOG_FORMAT="json", **extra)
    return env


def _run_migtd(env: dict[str, str], port: int) -> tuple[int, list[dict[str, Any]], str]:
    proc = subprocess.run([sys.executable, "-m", "migtd", "-m", "dst", "-t", str(port)], env=env,
                          check=False, capture_output=True, text=True, timeout=60)
    events = [json.loads(line) for line in proc.stderr.splitlines() if line.startswith("{")]
    return proc.returncode, events, proc.stdout + proc.stderr


def test_migtd_without_a_tpm_exits_4_naming_the_tcti(tmp_path: Path, port: int) -> None:
    tcti = f"swtpm:host=127.0.0.1,port={port}"  # nothing listens there
    code, events, text = _run_migtd(_migtd_env(tmp_path, TSS2_TCTI=tcti), port)
    assert code == MigrationResult.TdxModuleError, text
    errors = [e["msg"] for e in events if e["level"] == "error"]
    assert any(f"cannot open the TPM through TCTI '{tcti}'" in m for m in errors), text
    assert "Traceback" not in text


def test_migtd_without_tpm2_pytss_exits_1_with_the_install_hint(tmp_path: Path, port: int) -> None:
    blocker = tmp_path / "blocked" / "tpm2_pytss"
    blocker.mkdir(parents=True)
    (blocker / "__init__.py").write_text("raise ImportError('No module named tpm2_pytss (simulated)')\n")
    env = _migtd_env(tmp_path, PYTHONPATH=str(blocker.parent))
    code, _, text = _run_migtd(env, port)
    assert code == MigrationResult.InvalidParameter, text
    assert "pip install 'migtd-py[azure]'" in text and "--mock-report" in text
    assert "Traceback" not in text


def test_migtd_with_a_bad_imds_url_exits_1(tmp_path: Path, port: int, provisioned_swtpm: Any) -> None:
    env = _migtd_env(tmp_path, TSS2_TCTI=provisioned_swtpm.tcti, MIGTD_IMDS_URL="file:///etc/passwd")
    code, _, text = _run_migtd(env, port)
    assert code == MigrationResult.InvalidParameter, text
    assert "Invalid MIGTD_IMDS_URL value: file:///etc/passwd" in text
