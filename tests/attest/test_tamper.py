"""Tampering: every altered part of a quote or its trust chain is rejected, naming the step.

The real Azure quote is verified with production collateral under MigTD's
midpoint time rule (no wall-clock dependence); the mock-PKI cases build the
bad collateral (revoked PCK, wrong signing key, ...) with a fresh mock PKI.
"""

from __future__ import annotations

import dataclasses

import pytest
from cryptography.hazmat.primitives.asymmetric import ec

from migtd.attest.collateral import PlatformCollateral
from migtd.attest.quote import parse_quote
from migtd.attest.tdreport import TdInfo, TdReport, TeeTcbInfo
from migtd.attest.verify import QuoteVerificationError, verify_quote
from migtd.mock.pki import MockPki, pcs_body, qe_identity_document, tcb_info_document
from migtd.mock.qe import MockQE

# Offsets in a v4 quote with 32 bytes of QE auth data (both the Azure and mock quotes).
SIG_DATA = 636
QE_REPORT = SIG_DATA + 134
QE_REPORT_SIG = QE_REPORT + 384
QE_AUTH = QE_REPORT_SIG + 64 + 2
PCK_CHAIN = QE_AUTH + 32 + 6

FLIPS = [
    ("header.user_data", 30, "quote_signature"),
    ("header.reserved", 9, "quote_signature"),
    ("body.mrtd", 200, "quote_signature"),
    ("body.report_data", 600, "quote_signature"),
    ("quote_signature", SIG_DATA + 5, "quote_signature"),
    ("attestation_key", SIG_DATA + 64 + 7, "qe_report_data"),
    ("qe_report", QE_REPORT + 100, "qe_report_signature"),
    ("qe_report.report_data", QE_REPORT + 330, "qe_report_signature"),
    ("qe_report_signature", QE_REPORT_SIG + 10, "qe_report_signature"),
    ("qe_auth_data", QE_AUTH + 3, "qe_report_data"),
]


def _flip(data: bytes, off: int) -> bytes:
    out = bytearray(data)
    out[off] ^= 0x01
    return bytes(out)


def _flip_pck_leaf(data: bytes) -> bytes:
    """Change one base64 character in the middle of the PCK leaf certificate."""
    off = PCK_CHAIN + 400
    out = bytearray(data)
    while not (chr(out[off]).isalnum() or chr(out[off]) in "+/"):
        off += 1  # skip a line break
    out[off] = ord("A") if out[off] != ord("A") else ord("B")
    return bytes(out)


def _check_offsets(quote: bytes) -> None:
    q = parse_quote(quote)
    assert len(q.cert_data.qe_auth_data) == 32
    assert quote[PCK_CHAIN:PCK_CHAIN + 27] == b"-----BEGIN CERTIFICATE-----"


@pytest.mark.parametrize(("part", "off", "step"), FLIPS, ids=[f[0] for f in FLIPS])
def test_azure_quote_flip(azure, part, off, step):
    _check_offsets(azure.quote)
    with pytest.raises(QuoteVerificationError) as err:
        verify_quote(_flip(azure.quote, off), azure.prod, azure.root_ca)
    assert err.value.step == step, err.value


@pytest.mark.parametrize(("part", "off", "step"), FLIPS, ids=[f[0] for f in FLIPS])
def test_mock_quote_flip(pki, mock_quote, part, off, step):
    _check_offsets(mock_quote)
    verify_quote(mock_quote, pki.collateral, pki.root_ca_der)  # the untouched quote verifies
    with pytest.raises(QuoteVerificationError) as err:
        verify_quote(_flip(mock_quote, off), pki.collateral, pki.root_ca_der)
    assert err.value.step == step, err.value


def test_azure_pck_chain_flip(azure):
    with pytest.raises(QuoteVerificationError) as err:
        verify_quote(_flip_pck_leaf(azure.quote), azure.prod, azure.root_ca)
    assert err.value.step == "pck_chain"


def test_mock_pck_chain_flip(pki, mock_quote):
    with pytest.raises(QuoteVerificationError) as err:
        verify_quote(_flip_pck_leaf(mock_quote), pki.collateral, pki.root_ca_der)
    assert err.value.step == "pck_chain"


def test_header_value_checks(azure):
    bad = bytearray(azure.quote)
    bad[2] = 3  # attestation key type P-384
    with pytest.raises(QuoteVerificationError) as err:
        verify_quote(bytes(bad), azure.prod, azure.root_ca)
    assert err.value.step == "header"
    bad = _flip(azure.quote, 12)  # QE vendor id
    with pytest.raises(QuoteVerificationError) as err:
        verify_quote(bad, azure.prod, azure.root_ca)
    assert err.value.step == "header"


def test_wrong_root_ca(azure, pki, mock_quote):
    with pytest.raises(QuoteVerificationError) as err:
        verify_quote(mock_quote, pki.collateral, azure.root_ca)
    assert err.value.step in ("crl", "root_ca")
    with pytest.raises(QuoteVerificationError) as err:
        verify_quote(azure.quote, pki.collateral, pki.root_ca_der)
    assert err.value.step == "root_ca"
    other = MockPki.generate()
    with pytest.raises(QuoteVerificationError) as err:
        verify_quote(mock_quote, other.collateral, other.root_ca_der)
    assert err.value.step == "root_ca"


def test_revoked_pck_is_rejected():
    revoked = MockPki.generate(revoke_pck=True)
    quote = MockQE.from_pki(revoked).quote(_report())
    with pytest.raises(QuoteVerificationError) as err:
        verify_quote(quote, revoked.collateral, revoked.root_ca_der)
    assert err.value.step == "revoked"


def test_tcb_info_signed_by_wrong_key(pki, mock_quote):
    stranger = ec.generate_private_key(ec.SECP256R1())
    p = pki.collateral.platforms[0]
    forged = PlatformCollateral(p.fmspc, p.tcb_info_issuer_chain, pcs_body(stranger, "tcbInfo", tcb_info_document()))
    with pytest.raises(QuoteVerificationError) as err:
        verify_quote(mock_quote, dataclasses.replace(pki.collateral, platforms=(forged,)), pki.root_ca_der)
    assert err.value.step == "tcb_info_signature"


def test_tcb_info_text_altered_after_signing(pki, mock_quote):
    p = pki.collateral.platforms[0]
    altered = PlatformCollateral(p.fmspc, p.tcb_info_issuer_chain, p.tcb_info.replace('"Revoked"', '"UpToDate"'))
    assert altered.tcb_info != p.tcb_info  # the signed text really changed
    with pytest.raises(QuoteVerificationError) as err:
        verify_quote(mock_quote, dataclasses.replace(pki.collateral, platforms=(altered,)), pki.root_ca_der)
    assert err.value.step == "tcb_info_signature"


def test_qe_identity_signed_by_wrong_key(pki, mock_quote):
    stranger = ec.generate_private_key(ec.SECP256R1())
    forged = dataclasses.replace(pki.collateral,
                                 qe_identity=pcs_body(stranger, "enclaveIdentity", qe_identity_document()))
    with pytest.raises(QuoteVerificationError) as err:
        verify_quote(mock_quote, forged, pki.root_ca_der)
    assert err.value.step == "qe_identity_signature"


def test_qe_identity_mismatch(pki, mock_quote):
    doc = qe_identity_document()
    doc["mrsigner"] = "00" * 32
    other = dataclasses.replace(pki.collateral, qe_identity=pcs_body(pki.tcb_key, "enclaveIdentity", doc))
    with pytest.raises(QuoteVerificationError) as err:
        verify_quote(mock_quote, other, pki.root_ca_der)
    assert err.value.step == "qe_identity_match"


def _report(svn: str = "07010300000000000000000000000000", mrsignerseam: bytes = bytes(48)) -> bytes:
    tee = TeeTcbInfo(tee_tcb_svn=bytes.fromhex(svn), mrsignerseam=mrsignerseam)
    return TdReport.build(report_data=bytes(64), tee_tcb_info=tee, td_info=TdInfo()).to_bytes()


@pytest.mark.parametrize(("svn", "status", "advisories"), [
    ("07010300000000000000000000000000", "UpToDate", []),
    ("07010200000000000000000000000000", "OutOfDate", ["MOCK-SA-0001"]),   # platform level 2
    ("03010300000000000000000000000000", "OutOfDate", []),                 # module level isvsvn 2
    ("03030300000000000000000000000000", "UpToDate", []),                  # module TDX_03
])
def test_tcb_statuses_that_pass(pki, svn, status, advisories):
    v = verify_quote(MockQE.from_pki(pki).quote(_report(svn)), pki.collateral, pki.root_ca_der)
    assert (v.tcb_status, v.advisories) == (status, advisories)
    assert v.report[742:742 + len(status)] == status.encode()


@pytest.mark.parametrize(("svn", "step"), [
    ("07010100000000000000000000000000", "tcb_status"),   # Revoked platform level
    ("07010000000000000000000000000000", "tcb_level"),    # below every platform level
    ("01010300000000000000000000000000", "module_tcb"),   # module SVN below every level
    ("07020300000000000000000000000000", "tdx_module"),   # no TDX_02 identity
])
def test_tcb_statuses_that_fail(pki, svn, step):
    with pytest.raises(QuoteVerificationError) as err:
        verify_quote(MockQE.from_pki(pki).quote(_report(svn)), pki.collateral, pki.root_ca_der)
    assert err.value.step == step


def test_module_signer_mismatch(pki):
    quote = MockQE.from_pki(pki).quote(_report(mrsignerseam=b"\x01" * 48))
    with pytest.raises(QuoteVerificationError) as err:
        verify_quote(quote, pki.collateral, pki.root_ca_der)
    assert err.value.step == "tdx_module"


def test_error_maps_to_exit_7(azure):
    with pytest.raises(QuoteVerificationError) as err:
        verify_quote(_flip(azure.quote, SIG_DATA), azure.prod, azure.root_ca)
    assert int(err.value.result) == 7
    assert "quote_signature" in str(err.value)
