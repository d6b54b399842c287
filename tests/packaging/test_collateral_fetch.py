"""``migtd-tool collateral fetch`` and ``MIGTD_COLLATERAL_SOURCE`` against a local PCS stand-in.

The stand-in (conftest) serves the shipped collaterals on the PCS v4 paths;
what comes back must verify the real Azure quote exactly as the file does.
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest

from migtd import paths
from migtd.attest.collateral import load_collateral
from migtd.attest.verify import verify_quote
from migtd.tool.main import main as tool_main

from .conftest import PCK_CRL, QE, ROOT_CRL_DER, TCB, Fault

TOOL = str(Path(sys.executable).with_name("migtd-tool"))
MIGTD = str(Path(sys.executable).with_name("migtd"))


@pytest.fixture
def att(vectors: Path) -> Path:
    return vectors / "attestation"


def fetch(capsys: pytest.CaptureFixture[str], *args: object) -> tuple[int, str, str]:
    code = tool_main(["collateral", "fetch", *map(str, args)])
    out, err = capsys.readouterr()
    return code, out, err


def same_verdict(quote: bytes, fetched: Path, original: Path) -> dict[str, Any]:
    """Verify with both collaterals; everything the verifier reports must be equal."""
    root = paths.intel_root_ca().read_bytes()
    a = verify_quote(quote, load_collateral(fetched), root)
    b = verify_quote(quote, load_collateral(original), root)
    assert a.report == b.report and a.event_fields() == b.event_fields()
    assert (a.tcb_status, a.advisories, a.collateral_expired, a.verification_time) == \
        (b.tcb_status, b.advisories, b.collateral_expired, b.verification_time)
    return a.event_fields()


@pytest.mark.parametrize("name", ["collateral_production_fmspc.json", "collateral_azure_thim.json"])
def test_pccs_fetch_verifies_the_real_quote_like_the_file(pcs_stand_in, att: Path, tmp_path: Path,
                                                          capsys: pytest.CaptureFixture[str], name: str) -> None:
    server = pcs_stand_in.start((att / name).read_bytes())
    out = tmp_path / "fetched.json"
    code, stdout, err = fetch(capsys, att / "az_migtd_quote.blob", "--pccs", server.url, "--out", out)
    assert code == 0, err
    assert "FMSPC 90C06F000000 (platform CA)" in stdout
    assert sorted(r.split("?")[0] for r in server.requests) == sorted(
        [PCK_CRL, TCB, QE, "/sgx/certification/v4/rootcacrl"])
    assert f"{PCK_CRL}?ca=platform&encoding=der" in server.requests
    assert f"{TCB}?fmspc=90C06F000000" in server.requests
    assert same_verdict((att / "az_migtd_quote.blob").read_bytes(), out, att / name)["tcb_status"] == "UpToDate"
    doc = json.loads(out.read_bytes())
    assert [p["fmspc"] for p in doc["platforms"]] == ["90C06F000000"] and doc["teeType"] == 0x81


@pytest.mark.parametrize("flag", ["--pcs", "--thim"])
def test_pcs_and_thim_read_the_root_crl_where_told(pcs_stand_in, att: Path, tmp_path: Path,
                                                   capsys: pytest.CaptureFixture[str], flag: str) -> None:
    server = pcs_stand_in.start((att / "collateral_production_fmspc.json").read_bytes())
    out = tmp_path / "c.json"
    code, stdout, err = fetch(capsys, att / "az_migtd_quote.blob", flag, server.url, "--out", out,
                              "--root-ca-crl-url", server.url + ROOT_CRL_DER, "--json")
    assert code == 0, err
    summary = json.loads(stdout)
    assert summary["source"] == flag[2:] and summary["fmspc"] == "90C06F000000" and summary["expired"] is True
    assert ROOT_CRL_DER in server.requests
    same_verdict((att / "az_migtd_quote.blob").read_bytes(), out, att / "collateral_production_fmspc.json")


def test_pcs_default_root_crl_is_the_roots_distribution_point() -> None:
    from migtd.attest.pcs import Platform, make_source, requests_for

    reqs = requests_for(make_source("pcs"), Platform(bytes.fromhex("90C06F000000"), "processor"),
                        paths.intel_root_ca().read_bytes())
    assert [r.url for r in reqs] == [
        "https://api.trustedservices.intel.com/sgx/certification/v4/pckcrl?ca=processor&encoding=der",
        "https://api.trustedservices.intel.com/tdx/certification/v4/tcb?fmspc=90C06F000000",
        "https://api.trustedservices.intel.com/tdx/certification/v4/qe/identity",
        "https://certificates.trustedservices.intel.com/IntelSGXRootCA.der",
    ]
    assert make_source("thim", "useast").base_url == "https://useast.thim.azure.net"
    assert make_source("pccs", "https://p:8081/sgx/certification/v4/").base_url == "https://p:8081"


def test_cache_until_next_update(pcs_stand_in, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """The mock PKI's collateral is valid to 2049: fetched once, then served from the cache."""
    server = pcs_stand_in.start(paths.mock_collateral().read_bytes())
    args = [paths.sample_quote(), "--pccs", server.url, "--root-ca", paths.mock_root_ca()]
    code, stdout, err = fetch(capsys, *args, "--out", tmp_path / "a.json")
    assert code == 0 and "(cached)" in stdout, err
    assert len(server.requests) == 4
    code, stdout, _ = fetch(capsys, *args, "--out", tmp_path / "b.json")
    assert code == 0 and "(from the cache)" in stdout and len(server.requests) == 4
    assert (tmp_path / "a.json").read_bytes() == (tmp_path / "b.json").read_bytes()
    cached = list(paths.collateral_cache_dir().glob("pccs-90C06F000000-platform-*.json"))
    assert len(cached) == 1
    code, stdout, _ = fetch(capsys, *args, "--out", tmp_path / "c.json", "--refresh")
    assert code == 0 and "(cached)" in stdout and len(server.requests) == 8
    # a damaged cache file is ignored and replaced
    cached[0].write_text("{not json")
    code, stdout, _ = fetch(capsys, *args, "--out", tmp_path / "d.json")
    assert code == 0 and "(cached)" in stdout and len(server.requests) == 12


def test_expired_collateral_is_not_cached(pcs_stand_in, att: Path, tmp_path: Path,
                                          capsys: pytest.CaptureFixture[str]) -> None:
    server = pcs_stand_in.start((att / "collateral_production_fmspc.json").read_bytes())
    for _ in range(2):
        code, stdout, _ = fetch(capsys, att / "az_migtd_quote.blob", "--pccs", server.url, "--out", tmp_path / "c.json")
        assert code == 0 and "not cached: already past its nextUpdate" in stdout
    assert len(server.requests) == 8


# ---------------------------------------------------------------- failures: one line, the right status

def one_line(err: str) -> str:
    lines = err.strip().splitlines()
    assert len(lines) == 1 and "Traceback" not in err, err
    return lines[0]


def closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_unreachable(att: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, _, err = fetch(capsys, att / "az_migtd_quote.blob", "--pccs", f"http://127.0.0.1:{closed_port()}",
                         "--out", tmp_path / "c.json")
    assert code == 5 and "cannot reach" in one_line(err)
    assert not (tmp_path / "c.json").exists()


@pytest.mark.parametrize("path,fault,status,words", [
    (TCB, Fault(status=503, body=b"busy"), 5, "TCB info: HTTP 503"),
    (TCB, Fault(status=404), 5, "HTTP 404"),
    (QE, Fault(body=b"<html>not json</html>"), 7, "QE identity from"),
    (TCB, Fault(body=b'{"tcbInfo": {"id": "TDX"}, "signature": "00"}'), 7, "signature"),
    (PCK_CRL, Fault(body=b"\x30\x03garbage"), 7, "not a CRL"),
    (TCB, Fault(headers={}), 7, "no TCB-Info-Issuer-Chain header"),
])
def test_bad_answers(pcs_stand_in, att: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str],
                     path: str, fault: Fault, status: int, words: str) -> None:
    server = pcs_stand_in.start((att / "collateral_production_fmspc.json").read_bytes())
    server.faults[path] = fault
    code, _, err = fetch(capsys, att / "az_migtd_quote.blob", "--pccs", server.url, "--out", tmp_path / "c.json")
    assert code == status and words in one_line(err), err
    assert not (tmp_path / "c.json").exists()


def test_wrong_issuer_chain(pcs_stand_in, att: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """A chain that ends at Intel's pre-production root is refused against the production root."""
    server = pcs_stand_in.start((att / "collateral_production_fmspc.json").read_bytes())
    sandbox = json.loads((att / "collateral_pre_production_fmspc.json").read_bytes())
    import urllib.parse

    server.faults[QE] = Fault(headers={"SGX-Enclave-Identity-Issuer-Chain":
                                       urllib.parse.quote(sandbox["qeIdentityIssuerChain"])})
    code, _, err = fetch(capsys, att / "az_migtd_quote.blob", "--pccs", server.url, "--out", tmp_path / "c.json")
    assert code == 7 and "does not end at the trusted root CA" in one_line(err)


def test_trickling_server_cannot_outlast_the_deadline(pcs_stand_in, att: Path, tmp_path: Path,
                                                     capsys: pytest.CaptureFixture[str]) -> None:
    server = pcs_stand_in.start((att / "collateral_production_fmspc.json").read_bytes())
    server.faults[TCB] = Fault(trickle=0.05)  # ~12 KB at 20 bytes/s: minutes
    started = time.monotonic()
    code, _, err = fetch(capsys, att / "az_migtd_quote.blob", "--pccs", server.url, "--out", tmp_path / "c.json",
                         "--timeout", "1.5")
    assert code == 5 and "no complete answer" in one_line(err)
    assert time.monotonic() - started < 5


@pytest.mark.parametrize("extra,words", [
    (["--timeout", "soon"], "--timeout"),
    (["--pccs", "ftp://pccs.example"], "http:// or https://"),
    (["--thim", "us east"], "neither a URL nor an Azure region"),
    (["--pccs", "http://127.0.0.1:1", "--root-ca-crl-url", "file:///etc/passwd"], "--root-ca-crl-url"),
    (["--root-ca", "/nonexistent/root.der"], "root CA"),
])
def test_bad_flags_are_exit_1(att: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str],
                              extra: list[str], words: str) -> None:
    code, _, err = fetch(capsys, att / "az_migtd_quote.blob", "--out", tmp_path / "c.json", *extra)
    assert code == 1 and words in one_line(err)


def test_bad_quote_and_output_that_is_an_input(tmp_path: Path, att: Path, capsys: pytest.CaptureFixture[str]) -> None:
    junk = tmp_path / "junk.bin"
    junk.write_bytes(b"\x04\x00" + bytes(100))
    code, _, err = fetch(capsys, junk, "--pccs", "http://127.0.0.1:1", "--out", tmp_path / "c.json")
    assert code == 1 and "quote" in one_line(err)
    quote = tmp_path / "q.bin"
    quote.write_bytes((att / "az_migtd_quote.blob").read_bytes())
    code, _, err = fetch(capsys, quote, "--pccs", "http://127.0.0.1:1", "--out", quote)
    assert code == 1 and "refusing to overwrite an input" in one_line(err)
    assert quote.read_bytes() == (att / "az_migtd_quote.blob").read_bytes()


def test_installed_command_exit_status(att: Path, tmp_path: Path) -> None:
    """The console script itself: one line on stderr and exit 5 for an unreachable service."""
    done = subprocess.run([TOOL, "collateral", "fetch", str(att / "az_migtd_quote.blob"), "--pccs",
                           f"http://127.0.0.1:{closed_port()}", "--out", str(tmp_path / "c.json")],
                          capture_output=True, text=True, timeout=60, check=False)
    assert done.returncode == 5 and one_line(done.stderr).startswith("migtd-tool: error: ")


# ---------------------------------------------------------------- migtd: MIGTD_COLLATERAL_SOURCE

def _events(stderr: str) -> list[dict[str, Any]]:
    return [json.loads(line) for line in stderr.splitlines() if line.startswith("{")]


def _pair(env: dict[str, str], port: int) -> tuple[tuple[int, str], tuple[int, str]]:
    dst = subprocess.Popen([MIGTD, "-m", "dst", "-t", str(port)], env=env, text=True,
                           stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        src = subprocess.run([MIGTD, "-m", "src", "-t", str(port)], env=env, text=True,
                             stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, timeout=60, check=False)
        _, dst_err = dst.communicate(timeout=60)
    finally:
        if dst.poll() is None:
            dst.kill()
            dst.communicate()
    return (src.returncode, src.stderr), (dst.returncode, dst_err)


def _source_env(att: Path, source: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("MIGTD_", "MOCK_QUOTE", "RUST_LOG"))}
    env.update(MIGTD_ATTESTATION="mock-report", MIGTD_LOG_FORMAT="json", MIGTD_TIMEOUT="20",
               MIGTD_POLICY_FILE=str(paths.default_policy()), MIGTD_ROOT_CA_FILE=str(paths.intel_root_ca()),
               MOCK_QUOTE_FILE=str(att / "az_migtd_quote.blob"), MIGTD_COLLATERAL_SOURCE=source)
    return env


def test_migtd_fetches_collateral_from_the_source(pcs_stand_in, att: Path, port: int) -> None:
    """Upstream's real quote on both sides, collateral from the PCCS stand-in instead of a file."""
    server = pcs_stand_in.start((att / "collateral_azure_thim.json").read_bytes())
    (s_code, s_err), (d_code, d_err) = _pair(_source_env(att, f"pccs:{server.url}"), port)
    assert (s_code, d_code) == (0, 0), s_err + d_err
    for err in (s_err, d_err):
        attested = [e for e in _events(err) if e["event"] == "peer_attested"][-1]
        assert attested["verified"] is True and attested["tcb_status"] == "UpToDate"
    # one fetch per process (the local quote's, reused for the peer's: same platform)
    assert sum(r.startswith(TCB) for r in server.requests) == 2


def test_migtd_unreachable_source_is_an_attestation_failure(att: Path, port: int) -> None:
    (s_code, s_err), (d_code, d_err) = _pair(_source_env(att, f"pccs:http://127.0.0.1:{closed_port()}"), port)
    assert (s_code, d_code) == (7, 7), s_err + d_err
    reason = [e for e in _events(s_err) if e["event"] == "exit"][-1]["reason"]
    assert "cannot fetch collateral from pccs" in reason and "cannot reach" in reason


def test_migtd_bad_source_value_is_exit_1_before_listening(att: Path, port: int) -> None:
    env = _source_env(att, "ftp:somewhere")
    done = subprocess.run([MIGTD, "-m", "dst", "-t", str(port)], env=env, text=True, capture_output=True, timeout=60, check=False)
    assert done.returncode == 1
    events = _events(done.stderr)
    assert not any(e["event"] == "listening" for e in events)
    assert "MIGTD_COLLATERAL_SOURCE" in events[-1]["reason"]
