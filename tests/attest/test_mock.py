"""Mock QE, the committed mock PKI, quote providers and trust anchors."""

from __future__ import annotations

import hashlib
import itertools
from datetime import UTC, datetime

import pytest
from cryptography import x509
from cryptography.hazmat.primitives.asymmetric import ec

from migtd import modes, paths
from migtd.attest.collateral import load_collateral
from migtd.attest.quote import parse_quote
from migtd.attest.tdreport import TdReport
from migtd.attest.verify import QuoteVerificationError, verify_quote
from migtd.errors import AttestationError, ConfigError
from migtd.eventlog import build_event_log, parse_event_log, replay_rtmrs, v1_event_log
from migtd.mock.providers import MOCK_MRTD, MockQeProvider, QuoteFileProvider
from migtd.mock.qe import MockQE
from migtd.result import MigrationResult


def test_committed_mock_pki_verifies_a_fresh_quote(sample_log):
    """config/mock works out of the box: load the QE, quote, verify with its root + collateral."""
    qe = MockQE.load()
    quote = qe.quote(MockQeProvider(qe).td_report(b"\x07" * 64, sample_log))
    root = paths.mock_root_ca().read_bytes()
    v = verify_quote(quote, load_collateral(paths.mock_collateral()), root)
    assert v.tcb_status == "UpToDate" and v.fmspc == paths.MOCK_FMSPC
    assert v.report_data == b"\x07" * 64 and v.mrtd == MOCK_MRTD
    # strict checks hold at any date of the mock validity period
    for year in (2024, 2030, 2049):
        verify_quote(quote, load_collateral(paths.mock_collateral()), root, at=datetime(year, 6, 1, tzinfo=UTC))
    sample = (paths.mock_dir() / "sample_quote.bin").read_bytes()
    assert verify_quote(sample, load_collateral(paths.mock_collateral()), root).tcb_status == "UpToDate"


def test_committed_pki_shape():
    d = paths.mock_dir()
    root = x509.load_der_x509_certificate(paths.mock_root_ca().read_bytes())
    assert root.not_valid_after_utc.year >= 2049 and root.not_valid_before_utc.year == 2024
    chain = x509.load_pem_x509_certificates((d / "policy_issuer_chain.pem").read_bytes())
    assert len(chain) == 3
    for cert, issuer in itertools.pairwise(chain):
        cert.verify_directly_issued_by(issuer)
        assert cert.signature_hash_algorithm.name == "sha384"
    for issuer in chain[1:]:
        assert issuer.extensions.get_extension_for_class(x509.BasicConstraints).value.ca
    from cryptography.hazmat.primitives.serialization import load_pem_private_key
    key = load_pem_private_key((d / "policy_signing_key.pem").read_bytes(), None)
    assert isinstance(key.curve, ec.SECP384R1)
    assert key.public_key().public_numbers() == chain[0].public_key().public_numbers()


def test_mock_quote_is_deterministic_and_carries_the_report(pki, provider, mock_quote, sample_log):
    report = provider.td_report(bytes(range(64)), sample_log)
    assert provider.quote(report) == mock_quote
    q = parse_quote(mock_quote)
    r = TdReport.parse(report)
    r.check_integrity()
    assert q.body.report_data == bytes(range(64)) and q.body.rtmrs == r.td_info.rtmrs
    assert q.header.version == 4 and len(mock_quote) < 8192


def test_mock_qe_provider_replays_the_event_log(provider):
    log = v1_event_log(b'{"policy": 1}', b"root-ca-bytes")
    rtmrs = replay_rtmrs(parse_event_log(log))
    report = TdReport.parse(provider.td_report(hashlib.sha384(b"key").digest() + bytes(16), log))
    assert list(report.td_info.rtmrs) == rtmrs and rtmrs[2] != bytes(48)
    assert report.report_data[:48] == hashlib.sha384(b"key").digest()
    empty = TdReport.parse(provider.td_report(bytes(64), build_event_log([])))
    assert all(r == bytes(48) for r in empty.td_info.rtmrs)


@pytest.mark.parametrize(("data", "log"), [(bytes(63), build_event_log([])), (bytes(64), b"garbage")])
def test_mock_qe_provider_bad_input(provider, data, log):
    with pytest.raises(AttestationError) as err:
        provider.td_report(data, log)
    assert err.value.result == MigrationResult.TdxModuleError


def test_mock_qe_rejects_a_bad_report(provider):
    with pytest.raises(AttestationError):
        provider.quote(bytes(100))


def test_quote_file_provider_matches_upstream(azure, sample_log):
    p = QuoteFileProvider(azure.dir / "az_migtd_quote.blob")
    assert p.name == "mock-quote-file"
    assert p.td_report(b"\x01" * 64, sample_log) == azure.mock_td_report
    assert p.quote(azure.mock_td_report) == azure.quote
    assert p.quote(bytes(1024)) == azure.quote  # same bytes every call, whatever is asked


def test_quote_file_provider_errors(tmp_path, sample_log):
    missing = QuoteFileProvider(tmp_path / "nope.bin")
    with pytest.raises(AttestationError) as err:
        missing.td_report(bytes(64), sample_log)
    assert err.value.result == MigrationResult.TdxModuleError
    with pytest.raises(AttestationError) as err:
        missing.quote(bytes(1024))
    assert err.value.result == MigrationResult.MutualAttestationError
    junk = tmp_path / "junk.bin"
    junk.write_bytes(b"\x09" * 30)
    with pytest.raises(AttestationError, match="junk.bin"):
        QuoteFileProvider(junk).td_report(bytes(64), sample_log)


def load_trust(env):
    """Policy v1 trust anchors of mock-report (the MOCK_QUOTE_FILE variant when the env names a quote)."""
    return modes.resolve("mock-report", env).trust_anchors(1, env)


def test_trust_anchors(azure):
    t = load_trust({})
    assert t.root_ca_der == paths.mock_root_ca().read_bytes() and t.collateral.platform(paths.MOCK_FMSPC)
    with pytest.raises(ConfigError, match="MIGTD_ROOT_CA_FILE"):
        load_trust({"MOCK_QUOTE_FILE": "x"})
    real = load_trust({"MOCK_QUOTE_FILE": "x",
                       "MIGTD_ROOT_CA_FILE": str(paths.intel_root_ca()),
                       "MIGTD_COLLATERAL_FILE": str(azure.dir / "collateral_azure_thim.json")})
    assert verify_quote(azure.quote, real.collateral, real.root_ca_der).tcb_status == "UpToDate"
    with pytest.raises(ConfigError):
        load_trust({"MIGTD_COLLATERAL_FILE": "/nonexistent/collateral.json"})
    with pytest.raises(ConfigError):
        load_trust({"MIGTD_COLLATERAL_FILE": str(azure.dir / "az_migtd_quote.blob")})


@pytest.mark.parametrize("td15", [False, True])
def test_v5_quotes_verify(pki, td15):
    """v5 quotes (TD10 and TD15 bodies) go through the same procedure; the report keeps 584 body bytes."""
    from migtd.attest.tdreport import TdInfo, TeeTcbInfo

    tee = TeeTcbInfo(tee_tcb_svn=bytes.fromhex("07010300000000000000000000000000"), tee_tcb_svn2=b"\x05" * 16)
    info = TdInfo(mrtd=b"\x42" * 48, servtd_hash=b"\x24" * 48)
    report = TdReport.build(report_data=b"\x01" * 64, tee_tcb_info=tee, td_info=info).to_bytes()
    quote = MockQE.from_pki(pki).quote(report, version=5, td15=td15)
    q = parse_quote(quote)
    assert q.version == 5 and q.body_type == (3 if td15 else 2)
    v = verify_quote(quote, pki.collateral, pki.root_ca_der)
    assert v.tcb_status == "UpToDate" and v.mrtd == b"\x42" * 48
    assert v.report[:584] == quote[54:54 + 584]
    if td15:
        assert q.body.mrservicetd == b"\x24" * 48 and q.body.tee_tcb_svn2 == b"\x05" * 16
    tampered = bytearray(quote)
    tampered[54 + 600 if td15 else 54 + 500] ^= 1  # MRSERVICETD (TD15) / REPORTDATA (TD10)
    with pytest.raises(QuoteVerificationError) as err:
        verify_quote(bytes(tampered), pki.collateral, pki.root_ca_der)
    assert err.value.step == "quote_signature"
