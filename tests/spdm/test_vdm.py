"""MigTD's vendor-defined messages: spec bytes, every op round trip, every rejection."""

from __future__ import annotations

import os
import struct

import pytest

from migtd.spdm import codec, crypto, vdm
from migtd.spdm import messages as m
from migtd.spdm.errors import DecodeError, LimitError

SPKI = crypto.spki_of(crypto.generate_signing_key())

BODIES: list[vdm.VdmBody] = [
    vdm.PubKeyRequest(SPKI),
    vdm.PubKeyResponse(SPKI),
    vdm.MigrationAttestRequest(os.urandom(822), os.urandom(177), os.urandom(48), bytes(272), os.urandom(512)),
    vdm.MigrationAttestResponse(os.urandom(5006), b"", os.urandom(48)),
    vdm.RebindAttestRequest(os.urandom(1024), os.urandom(10), os.urandom(48), os.urandom(272), os.urandom(512)),
    vdm.RebindAttestResponse(os.urandom(1024), os.urandom(10), os.urandom(48)),
    vdm.MigrationInfoRequest(0, 0, bytes(32)),
    vdm.MigrationInfoResponse(1, 0xFFFF, os.urandom(32)),
    vdm.RebindInfoRequest(os.urandom(32)),
    vdm.RebindInfoResponse(),
]


@pytest.mark.parametrize("body", BODIES, ids=lambda b: type(b).__name__)
def test_round_trip_through_the_spdm_message(body: vdm.VdmBody) -> None:
    data = vdm.encode_message(body)
    msg = codec.decode(data)
    assert isinstance(msg, (m.VendorDefinedRequest, m.VendorDefinedResponse))
    assert (body.op in vdm.REQUEST_OPS) == isinstance(msg, m.VendorDefinedRequest)
    vdm.check_vendor(msg)
    assert vdm.peek_op(msg.payload) == body.op
    assert vdm.decode_payload(msg.payload, type(body)) == body


def test_spec_bytes() -> None:
    """spdm.md §3.5, §3.9, §7 and §10."""
    pk = vdm.encode_message(vdm.PubKeyRequest(SPKI))
    assert len(pk) == 143
    assert pk[:23] == bytes.fromhex("12FE0000 0400 04 57010000 8200 00000101 0100 78000000".replace(" ", ""))
    assert pk[23:] == SPKI
    rsp_head = bytes.fromhex("127E00000400045701000082000000 0201".replace(" ", ""))
    assert vdm.encode_message(vdm.PubKeyResponse(SPKI))[:17] == rsp_head
    info = vdm.encode_message(vdm.MigrationInfoRequest(0, 0, bytes(32)))
    assert len(info) == 65
    head = bytes.fromhex("3400 00000502 8100 04000000 00000000 8300 20000000".replace(" ", ""))
    assert info[11:] == head + bytes(32)
    rebind_rsp = bytes.fromhex("127E0000040004570100000400 00000A00".replace(" ", ""))
    assert vdm.encode_message(vdm.RebindInfoResponse()) == rebind_rsp
    assert len(vdm.encode_message(vdm.RebindInfoRequest(bytes(32)))) == 13 + 4 + 6 + 32
    # request = 879 + quote + event log, response = 83 + quote + event log (§3.7)
    req = vdm.encode_message(vdm.MigrationAttestRequest(bytes(822), bytes(177), bytes(48), bytes(272), bytes(512)))
    rsp = vdm.encode_message(vdm.MigrationAttestResponse(bytes(822), bytes(177), bytes(48)))
    assert (len(req), len(rsp)) == (1878, 1082)


def _payload(body: vdm.VdmBody) -> bytes:
    return vdm.encode_payload(body)


def _flip(data: bytes, offset: int, value: int) -> bytes:
    return data[:offset] + bytes((value,)) + data[offset + 1:]


@pytest.mark.parametrize("offset,value,field", [
    (0, 1, "major version"), (1, 1, "minor version"), (2, 0x02, "op code"), (3, 2, "element count"),
    (4, 0x02, "PubKeyMy type"),
])
def test_header_and_element_checks(offset: int, value: int, field: str) -> None:
    with pytest.raises(DecodeError) as info:
        vdm.decode_payload(_flip(_payload(vdm.PubKeyRequest(SPKI)), offset, value), vdm.PubKeyRequest)
    assert info.value.field == field


def test_public_key_element_must_fill_the_payload_and_stay_small() -> None:
    p = _payload(vdm.PubKeyRequest(SPKI))
    with pytest.raises(DecodeError, match="payload bytes follow"):
        vdm.decode_payload(p + b"\x00", vdm.PubKeyRequest)
    with pytest.raises(DecodeError, match="payload bytes follow"):
        vdm.decode_payload(p[:-1], vdm.PubKeyRequest)
    big = bytes(4097)
    with pytest.raises(LimitError):
        vdm.decode_payload(b"\x00\x00\x01\x01" + struct.pack("<HI", 1, len(big)) + big, vdm.PubKeyRequest)


def test_fixed_sizes_are_enforced_both_ways() -> None:
    good = vdm.MigrationAttestRequest(b"q", b"e", bytes(48), bytes(272), bytes(512))
    p = _payload(good)
    # MigPolicyMy length field (at 4 + 6+1 + 6+1 + 2) set to 47
    at = 4 + 7 + 7 + 2
    with pytest.raises(DecodeError, match="MigPolicyMy length"):
        vdm.decode_payload(p[:at] + struct.pack("<I", 47) + p[at + 4:], vdm.MigrationAttestRequest)
    with pytest.raises(ValueError):
        vdm.encode_payload(vdm.MigrationAttestRequest(b"q", b"e", bytes(48), bytes(271), bytes(512)))
    with pytest.raises(ValueError):
        vdm.encode_payload(vdm.MigrationInfoRequest(0, 0, bytes(31)))
    with pytest.raises(ValueError):
        vdm.encode_payload(vdm.RebindAttestResponse(bytes(1023), b"", bytes(48)))
    with pytest.raises(ValueError):
        vdm.encode_payload(vdm.RebindInfoRequest(bytes(33)))


def test_element_length_beyond_the_payload_is_refused_without_allocating() -> None:
    p = _payload(vdm.MigrationAttestResponse(b"quote", b"log", bytes(48)))
    huge = p[:6] + struct.pack("<I", 0xFFFFFFF0) + p[10:]
    with pytest.raises(DecodeError, match="truncated"):
        vdm.decode_payload(huge, vdm.MigrationAttestResponse)


def test_trailing_bytes_and_wrong_class() -> None:
    p = _payload(vdm.MigrationInfoResponse(0, 0, bytes(32)))
    with pytest.raises(DecodeError, match="trailing"):
        vdm.decode_payload(p + b"\x00", vdm.MigrationInfoResponse)
    with pytest.raises(DecodeError, match="op code"):
        vdm.decode_payload(p, vdm.MigrationInfoRequest)
    with pytest.raises(DecodeError):
        vdm.decode_payload(b"\x00\x00", vdm.RebindInfoResponse)
    assert vdm.decode_payload(b"\x00\x00\x0a\x00", vdm.RebindInfoResponse) == vdm.RebindInfoResponse()


def test_vendor_and_standard_id() -> None:
    good = m.VendorDefinedRequest(4, vdm.VENDOR_ID_INTEL, b"")
    vdm.check_vendor(good)
    with pytest.raises(DecodeError, match="IANA"):
        vdm.check_vendor(m.VendorDefinedRequest(3, vdm.VENDOR_ID_INTEL, b""))
    with pytest.raises(DecodeError, match="Intel"):
        vdm.check_vendor(m.VendorDefinedResponse(4, b"\x58\x01\x00\x00", b""))
    with pytest.raises(DecodeError, match="Intel"):
        vdm.check_vendor(m.VendorDefinedResponse(4, b"\x57\x01\x00", b""))


def test_secrets_stay_out_of_repr() -> None:
    key = bytes(range(32))
    for obj in (vdm.MigrationInfoRequest(0, 0, key), vdm.MigrationInfoResponse(0, 0, key), vdm.RebindInfoRequest(key)):
        assert key.hex() not in repr(obj) and str(key) not in repr(obj) and "32 bytes" in repr(obj)
