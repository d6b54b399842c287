"""PCK SGX extension (§2.6) and collateral JSON (§4.1) codecs."""

from __future__ import annotations

import dataclasses
import json

import pytest
from cryptography import x509

from migtd.attest.collateral import Collateral, QeIdentity, TcbInfo, split_signed_body
from migtd.attest.quote import parse_quote
from migtd.attest.sgx_ext import SGX_EXTENSION_OID, fmspc_of_extension, parse_sgx_extension
from migtd.errors import FormatError


def _leaf_ext(quote: bytes) -> bytes:
    chain = parse_quote(quote).cert_data.pck_chain.rstrip(b"\0")
    leaf = x509.load_pem_x509_certificates(chain)[0]
    return leaf.extensions.get_extension_for_oid(x509.ObjectIdentifier(SGX_EXTENSION_OID)).value.value


def test_real_pck_extension(azure):
    der = _leaf_ext(azure.quote)
    e = parse_sgx_extension(der)
    assert e.fmspc.hex().upper() == "90C06F000000" and e.pce_id == b"\0\0"
    assert e.tcb_components == (3, 3, 2, 2, 4, 1, 0, 5) + (0,) * 8
    assert e.pcesvn == 13 and e.cpusvn.hex() == "03030202040100050000000000000000"
    assert e.ppid.hex() == "03a5adc49b0e5ca94d6c96b5b120bf54" and e.sgx_type == 1
    assert e.platform_instance_id.hex() == "06825f546a6ee1e44a72b5b252c964d1"
    assert e.configuration == {"dynamicPlatform": True, "cachedKeys": False, "SMTEnabled": True}
    assert e.to_der() == der  # the encoder reproduces Intel's encoding byte for byte


@pytest.mark.parametrize("cut", [0, 1, 5, 40, 200, 553])
def test_truncated_extension_is_a_format_error(azure, cut):
    with pytest.raises(FormatError):
        parse_sgx_extension(_leaf_ext(azure.quote)[:cut])


def test_short_fmspc_is_named(azure):
    e = parse_sgx_extension(_leaf_ext(azure.quote))
    with pytest.raises(FormatError) as err:
        parse_sgx_extension(dataclasses.replace(e, fmspc=e.fmspc[:5]).to_der())
    assert err.value.field == "FMSPC"


def test_fmspc_alone(azure):
    """policy.md §3.10 reads only the FMSPC element: the other elements are not required."""
    der = _leaf_ext(azure.quote)
    assert fmspc_of_extension(der).hex().upper() == "90C06F000000"
    # SEQUENCE { SEQUENCE { OID 1.2.840.113741.1.13.1.4, OCTET STRING 90C06F000000 } }
    fmspc_only = bytes.fromhex("30163014060a2a864886f84d010d0104040690c06f000000")
    assert fmspc_of_extension(fmspc_only).hex().upper() == "90C06F000000"
    with pytest.raises(FormatError):
        parse_sgx_extension(fmspc_only)  # the full decoder still wants every element
    e = parse_sgx_extension(der)
    with pytest.raises(FormatError) as err:
        fmspc_of_extension(dataclasses.replace(e, fmspc=e.fmspc[:5]).to_der())
    assert err.value.field == "FMSPC"
    with pytest.raises(FormatError):
        fmspc_of_extension(der + b"\0")


def test_collateral_json(azure):
    c = azure.prod
    assert (c.major_version, c.minor_version, c.tee_type) == (1, 0, 129)
    assert len(c.platforms) == 13
    assert c.platform(bytes.fromhex("90c06f000000")).fmspc == "90C06F000000"
    assert c.platform(bytes(6)) is None
    assert Collateral.from_json(c.to_json()).digest == c.digest


def test_signed_body_is_the_exact_substring(azure):
    body = azure.thim.platform(bytes.fromhex("90C06F000000")).tcb_info
    text, sig = split_signed_body(body, "tcbInfo")
    assert body.startswith('{"tcbInfo":' + text.decode())
    assert body.endswith(f',"signature":"{sig.hex()}"}}')
    info = TcbInfo.from_signed_text(text)
    assert info.id == "TDX" and info.version == 3 and info.evaluation_data_number == 16
    assert info.fmspc.hex().upper() == "90C06F000000" and len(info.levels) == 2
    qe = QeIdentity.from_signed_text(split_signed_body(azure.prod.qe_identity, "enclaveIdentity")[0])
    assert qe.id == "TD_QE" and qe.mrsigner.hex().upper().startswith("DC9E2A7C") and qe.isvprodid == 2


@pytest.mark.parametrize("doc", [b"", b"[]", b"{}", b"\xff", b'{"majorVersion": "1"}'])
def test_bad_collateral_documents(doc):
    with pytest.raises(FormatError):
        Collateral.from_json(doc)


def test_bad_signed_body():
    with pytest.raises(FormatError):
        split_signed_body('{"tcbInfo":{},"signature":"zz"}', "tcbInfo")
    with pytest.raises(FormatError):
        split_signed_body(json.dumps({"other": {}}), "tcbInfo")
