"""migtd.paths: shipped data found through importlib.resources, the pinned Intel root CA, the defaults."""

from __future__ import annotations

import hashlib
import os
import subprocess
import sys
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.x509.oid import NameOID

from migtd import paths
from migtd.tool.main import main as tool_main

ROOT = Path(__file__).resolve().parents[2]
#: SHA-256 of the DER of Intel's SGX Provisioning Certification Root CA, as
#: ``openssl x509 -fingerprint -sha256`` prints it for Intel's published file.
INTEL_ROOT_FINGERPRINT = "44:A0:19:6B:2B:99:F8:89:B8:E1:49:E9:5B:80:7A:35:0E:74:24:96:43:99:E8:85:A7:CB:B8:CC:FA:B6:74:D3"


def test_shipped_intel_root_ca_is_pinned() -> None:
    der = paths.intel_root_ca().read_bytes()
    cert = x509.load_der_x509_certificate(der)
    from cryptography.hazmat.primitives import hashes
    from cryptography.hazmat.primitives.serialization import Encoding

    assert cert.fingerprint(hashes.SHA256()).hex() == INTEL_ROOT_FINGERPRINT.replace(":", "").lower()
    assert hashlib.sha256(der).hexdigest() == paths.INTEL_ROOT_CA_SHA256 == cert.fingerprint(hashes.SHA256()).hex()
    assert cert.public_bytes(Encoding.DER) == der  # the file is the DER, nothing around it
    assert cert.subject.get_attributes_for_oid(NameOID.COMMON_NAME)[0].value == "Intel SGX Root CA"
    cert.verify_directly_issued_by(cert)  # self-signed


def test_fingerprint_is_in_the_readme() -> None:
    readme = (ROOT / "README.md").read_text()
    assert INTEL_ROOT_FINGERPRINT in readme
    assert "https://certificates.trustedservices.intel.com/Intel_SGX_Provisioning_Certification_RootCA.der" in readme


def test_config_lives_in_the_package(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("MIGTD_CONFIG_DIR", raising=False)
    shipped = paths.shipped_config_dir()
    assert paths.config_dir() == shipped
    # a checkout: migtd/_config is the link to the config/ folder users see
    assert shipped == (ROOT / "config").resolve()
    # the folder importlib.resources names for the package data (paths does not import it: start-up cost)
    from importlib.resources import files

    assert shipped == Path(str(files("migtd").joinpath("_config"))).resolve()
    for get in paths.LOCATIONS.values():
        if get is not paths.collateral_cache_dir:
            assert get().exists(), get
    assert paths.default_root_ca("azure") == paths.intel_root_ca()
    assert paths.default_root_ca("mock-report") is None and paths.default_root_ca("skip-ra") is None


def test_migtd_config_dir_overrides(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("MIGTD_CONFIG_DIR", str(tmp_path))
    assert paths.default_policy() == tmp_path / "policy.json"
    assert paths.mock_root_ca() == tmp_path / "mock" / "root_ca.der"
    assert paths.intel_root_ca() == tmp_path / paths.INTEL_ROOT_CA_NAME


def test_cache_dir_follows_xdg(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    assert paths.collateral_cache_dir() == tmp_path / "migtd-py" / "collateral"


def test_python_m_migtd_paths() -> None:
    env = {k: v for k, v in os.environ.items() if k != "MIGTD_CONFIG_DIR"}
    done = subprocess.run([sys.executable, "-m", "migtd.paths", "config-dir", "intel-root-ca"],
                          capture_output=True, text=True, timeout=60, env=env, check=False)
    assert done.returncode == 0 and done.stdout.split() == [str(paths.config_dir()), str(paths.intel_root_ca())]
    done = subprocess.run([sys.executable, "-m", "migtd.paths", "nope"], capture_output=True, text=True,
                          timeout=60, env=env, check=False)
    assert done.returncode == 1 and len(done.stderr.strip().splitlines()) == 1 and "nope" in done.stderr


def test_tool_paths(capsys: pytest.CaptureFixture[str]) -> None:
    assert tool_main(["paths"]) == 0
    listed = dict(line.split("\t") for line in capsys.readouterr().out.splitlines())
    assert listed["intel-root-ca"] == str(paths.intel_root_ca()) and set(listed) == set(paths.LOCATIONS)
    assert tool_main(["paths", "bogus"]) == 1
    err = capsys.readouterr().err
    assert "bogus" in err and len(err.strip().splitlines()) == 1


def test_quote_verify_defaults_to_the_shipped_root(vectors: Path, capsys: pytest.CaptureFixture[str]) -> None:
    att = vectors / "attestation"
    code = tool_main(["quote", "verify", str(att / "az_migtd_quote.blob"),
                      "--collateral", str(att / "collateral_production_fmspc.json")])
    assert code == 0 and "tcb_status: UpToDate" in capsys.readouterr().out
    # and --root-ca still wins: the pre-production root does not anchor this quote
    code = tool_main(["quote", "verify", str(att / "az_migtd_quote.blob"),
                      "--collateral", str(att / "collateral_production_fmspc.json"),
                      "--root-ca", str(att / "Intel_SGX_Provisioning_Certification_RootCA_preproduction.cer")])
    assert code == 7


def test_azure_mode_defaults_to_the_shipped_root(vectors: Path) -> None:
    """MIGTD_ROOT_CA_FILE unset: migtd's start-up checks and the peer verifier take the shipped Intel root."""
    import io

    from migtd import modes
    from migtd.cli.args import Options
    from migtd.cli.config import load_files
    from migtd.events import EventLog

    env = {"MIGTD_POLICY_FILE": str(paths.default_policy()),
           "MIGTD_COLLATERAL_FILE": str(vectors / "attestation" / "collateral_production_fmspc.json")}
    out = io.StringIO()
    opts = Options()
    opts.attestation, opts.policy_version = "azure", 1
    files = load_files(opts, env, EventLog("source", 1, stream=out))
    assert files.root_ca == paths.intel_root_ca().read_bytes()
    assert "using the shipped Intel SGX root CA" in out.getvalue()
    assert modes.resolve("azure", env).trust_anchors(1, env).root_ca_der == paths.intel_root_ca().read_bytes()


def test_other_modes_still_require_the_root_ca() -> None:
    """Upstream parity: mock-report (and skip-RA) without MIGTD_ROOT_CA_FILE stop with usage, exit 1."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("MIGTD_")}
    env["MIGTD_POLICY_FILE"] = str(paths.default_policy())
    for mode in ("mock-report", "skip-ra"):
        done = subprocess.run([str(Path(sys.executable).with_name("migtd")), "--attestation", mode, "-m", "dst",
                               "-t", "0", "--timeout", "5"], capture_output=True, text=True, timeout=60, env=env, check=False)
        assert done.returncode == 1, done.stderr
        assert "MIGTD_ROOT_CA_FILE environment variable not set" in done.stdout
