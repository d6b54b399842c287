"""Quote v4/v5 codec and upstream's mock TD report derivation (attestation.md §2, §5.1, §8.1)."""

from __future__ import annotations

import pytest

from migtd.attest.quote import (
    HEADER_SIZE,
    QuoteHeader,
    encode_quote,
    parse_quote,
    td_report_from_quote,
)
from migtd.errors import FormatError


def test_real_quote_parses_as_spec_8_1(azure):
    q = parse_quote(azure.quote)
    assert len(azure.quote) == 5006 and q.size == 4936
    h = q.header
    assert (h.version, h.att_key_type, h.tee_type, h.reserved) == (4, 2, 0x81, bytes(4))
    assert h.qe_vendor_id.hex() == "939a7233f79c4ca9940a0db3957f0607"
    assert h.user_data.hex() == "530be354a4eddd6fed43ab0e2997776300000000"
    b = q.body
    assert b.tee_tcb_svn.hex() == "07010300000000000000000000000000"
    assert b.mrseam.hex().startswith("49b66faa451d19eb")
    assert b.mrsignerseam == bytes(48) and b.seam_attributes == bytes(8)
    assert b.td_attributes == bytes(8) and b.xfam.hex() == "e718060000000000"
    assert b.mrtd.hex().startswith("556fd5fcbf8a8c5a") and b.mrtd.hex().endswith("a0241507")
    assert b.rtmrs[0] == b.rtmrs[1] and b.rtmrs[0].hex().startswith("518923b0")
    assert b.rtmrs[2].hex().startswith("114a31af") and b.rtmrs[3] == bytes(48)
    assert b.report_data == bytes(64) and b.tee_tcb_svn2 is None
    assert q.signature.hex().startswith("34bfe121ad1510b0") and q.signature.hex().endswith("abdb4200")
    assert q.attestation_key.hex().startswith("63d8bc5936bf248d")
    assert q.cert_data_type == 6
    cd = q.cert_data
    assert cd.qe_auth_data == bytes(range(32))
    assert cd.pck_cert_type == 5 and len(cd.pck_chain) == 3678 and cd.pck_chain.endswith(b"-----\n\0")
    qr = cd.qe_report
    assert qr.mrenclave.hex().startswith("e5a3a7b5") and qr.mrsigner.hex().startswith("dc9e2a7c")
    assert (qr.isvprodid, qr.isvsvn, qr.miscselect) == (2, 6, bytes(4))
    assert qr.attributes.hex() == "1500000000000000e700000000000000"
    assert q.signed_region == azure.quote[:632]


def test_trailing_bytes_are_ignored(azure):
    assert parse_quote(azure.quote[:4936]) == parse_quote(azure.quote)


def test_encode_is_the_inverse_of_parse(azure):
    q = parse_quote(azure.quote)
    assert encode_quote(q.header, q.body, q.signature, q.attestation_key, q.cert_data) == azure.quote[:4936]


def _as_v5(v4: bytes, body_type: int) -> bytes:
    q = parse_quote(v4)
    header = QuoteHeader(5, q.header.att_key_type, q.header.tee_type, q.header.reserved,
                         q.header.qe_vendor_id, q.header.user_data)
    body = q.body.to_bytes()
    if body_type == 3:
        body += b"\x22" * 16 + b"\x33" * 48
    rest = v4[632:q.size]
    return header.to_bytes() + body_type.to_bytes(2, "little") + len(body).to_bytes(4, "little") + body + rest


@pytest.mark.parametrize("body_type", [2, 3])
def test_v5_quotes_parse(azure, body_type):
    data = _as_v5(azure.quote, body_type)
    q = parse_quote(data)
    assert q.version == 5 and q.body_type == body_type
    assert q.body.mrtd == parse_quote(azure.quote).body.mrtd
    size = 584 if body_type == 2 else 648
    assert q.signed_region == data[:HEADER_SIZE + 6 + size]
    if body_type == 3:
        assert q.body.tee_tcb_svn2 == b"\x22" * 16 and q.body.mrservicetd == b"\x33" * 48
        report = td_report_from_quote(data)
        assert report[912:960] == b"\x33" * 48      # SERVTD_HASH from MRSERVICETD
        assert report[384:400] == bytes(16)         # TEE_TCB_SVN2 stays zero, as upstream
        assert report[2] == 5                       # REPORTMACSTRUCT.version = quote version


def test_v5_wrong_body_size_names_the_field(azure):
    data = bytearray(_as_v5(azure.quote, 2))
    data[50] ^= 1
    with pytest.raises(FormatError) as err:
        parse_quote(bytes(data))
    assert err.value.field == "body_size" and err.value.offset == 50


def test_mock_td_report_matches_upstream_vector(azure):
    assert td_report_from_quote(azure.quote) == azure.mock_td_report


@pytest.mark.parametrize(("cut", "field"), [
    (10, "header.reserved"), (100, "body.MRSEAM"), (120, "body.MRSIGNERSEAM"), (634, "signature_data_len"),
    (700, "signature_data_len"),
])
def test_truncation_names_field_and_offset(azure, cut, field):
    with pytest.raises(FormatError) as err:
        parse_quote(azure.quote[:cut])
    assert err.value.field == field
    assert "offset" in str(err.value)


def test_unknown_version_and_cert_types(azure):
    bad = bytearray(azure.quote)
    bad[0] = 3
    with pytest.raises(FormatError, match="header.version"):
        parse_quote(bytes(bad))
    bad = bytearray(azure.quote)
    bad[636 + 128] = 7  # certification data type
    with pytest.raises(FormatError) as err:
        parse_quote(bytes(bad))
    assert (err.value.field, err.value.offset) == ("cert_data_type", 764)
    bad = bytearray(azure.quote)
    bad[636 + 134 + 450 + 32] = 4  # nested PCK chain type
    with pytest.raises(FormatError, match="pck_cert_type"):
        parse_quote(bytes(bad))
