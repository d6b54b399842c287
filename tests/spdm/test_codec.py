"""SPDM message codecs: spec bytes, round trips and rejections for every message of the ladder."""

from __future__ import annotations

import os

import pytest

from migtd.spdm import codec
from migtd.spdm import messages as m
from migtd.spdm.constants import Code, ErrorCode
from migtd.spdm.errors import DecodeError, LimitError, UnknownMessageError, VersionError


def h(s: str) -> bytes:
    return bytes.fromhex(s.replace(" ", ""))


SAMPLES: list[m.Message] = [
    m.GetVersion(),
    m.Version(),
    m.Version((0x1000, 0x1100, 0x1200, 0x1300)),
    m.GetCapabilities(),
    m.Capabilities(),
    m.NegotiateAlgorithms(),
    m.Algorithms(),
    m.VendorDefinedRequest(4, bytes.fromhex("57010000"), b"\x00\x00\x01\x01" + os.urandom(20)),
    m.VendorDefinedResponse(4, bytes.fromhex("57010000"), b""),
    m.KeyExchange(os.urandom(32), os.urandom(96), bytes(16)),
    m.KeyExchangeRsp(os.urandom(32), os.urandom(96), bytes(12), os.urandom(96)),
    m.Finish(os.urandom(96), os.urandom(48)),
    m.Finish(b"", os.urandom(48), 0),
    m.FinishRsp(os.urandom(48)),
    m.EndSession(),
    m.EndSession(True),
    m.EndSessionAck(),
    m.ChunkSend(1, 0, os.urandom(4016), False, 6062),
    m.ChunkSend(1, 1, os.urandom(100), True),
    m.ChunkSendAck(1, 0),
    m.ChunkSendAck(1, 1, b"\x12\x7f\x0f\x00\x01"),
    m.ChunkSendAck(7, 3, b"\x12\x7e" + bytes(40), True),
    m.ChunkGet(1, 0),
    m.ChunkResponse(1, 0, os.urandom(4016), False, 5266),
    m.ChunkResponse(1, 1, os.urandom(10), True),
    m.ErrorResponse(ErrorCode.InvalidRequest),
    m.ErrorResponse(ErrorCode.VendorDefined, 7),
    m.ErrorResponse(ErrorCode.LargeResponse, 0, b"\x01"),
    m.ErrorResponse(ErrorCode.VersionMismatch, 0, b"", 0x10),
]


@pytest.mark.parametrize("msg", SAMPLES, ids=lambda x: type(x).__name__)
def test_round_trip(msg: m.Message) -> None:
    data = codec.encode(msg)
    assert codec.decode(data) == msg
    assert codec.encode(codec.decode(data)) == data


@pytest.mark.parametrize("msg", SAMPLES, ids=lambda x: type(x).__name__)
def test_every_truncation_and_any_trailing_byte_is_rejected(msg: m.Message) -> None:
    data = codec.encode(msg)
    step = max(1, len(data) // 64)  # the 4 KiB chunks: every 64th prefix, plus the edges
    for cut in sorted(set(range(0, len(data), step)) | {len(data) - 1}):
        prefix = data[:cut]
        # an ACK's embedded response / an ERROR's extended data is variable: a prefix is another message
        fixed = 6 if isinstance(msg, m.ChunkSendAck) else 4
        variable = isinstance(msg, (m.ChunkSendAck, m.ErrorResponse)) and cut >= fixed
        bare_large_response = (isinstance(msg, m.ErrorResponse) and msg.error_code == ErrorCode.LargeResponse
                               and cut == 4)
        if variable and not bare_large_response:
            continue
        with pytest.raises(DecodeError):
            codec.decode(prefix)
    if not isinstance(msg, (m.ChunkSendAck, m.ErrorResponse)):
        with pytest.raises(DecodeError):
            codec.decode(data + b"\x00")


def test_spec_bytes_of_the_fixed_messages() -> None:
    """spdm.md §3.1–3.3 and §10."""
    assert codec.encode(m.GetVersion()) == h("10 84 00 00")
    assert codec.encode(m.Version()) == h("10 04 00 00 00 01 00 12")
    caps = h("C0 83 03 00 C0 0F 00 00 00 00 01 00")
    assert codec.encode(m.GetCapabilities()) == h("12 E1 00 00 00 00 00 00") + caps
    assert codec.encode(m.Capabilities()) == h("12 61 00 00 00 00 00 00") + caps
    alg_structs = h("02 20 10 00 03 20 02 00 04 20 80 00 05 20 01 00")
    neg = codec.encode(m.NegotiateAlgorithms())
    assert len(neg) == 48
    assert neg == h("12 E3 04 00 30 00 00 02 80 00 00 00 02 00 00 00") + bytes(16) + alg_structs
    alg = codec.encode(m.Algorithms())
    assert len(alg) == 52
    assert alg == (h("12 63 04 00 34 00 00 02") + bytes(4) + h("80 00 00 00 02 00 00 00") + bytes(16)
                   + alg_structs)
    assert codec.encode(m.EndSession()) == h("12 EC 00 00")
    assert codec.encode(m.EndSessionAck()) == h("12 6C 00 00")
    assert codec.encode(m.ChunkGet(1, 1)) == h("12 86 00 01 01 00")
    assert codec.encode(m.ChunkSendAck(1, 0)) == h("12 05 00 01 00 00")
    assert codec.encode(m.ErrorResponse(ErrorCode.LargeResponse, 0, b"\x01")) == h("12 7F 0F 00 01")


def test_sizes_of_the_session_messages() -> None:
    ke = codec.encode(m.KeyExchange(bytes(32), bytes(96), bytes(16)))
    assert len(ke) == 154 and ke[:8] == h("12 E4 00 FF FD FF 00 00")
    kr = m.KeyExchangeRsp(bytes(32), bytes(96), bytes(12), bytes(96))
    assert len(codec.encode(kr)) == 246 and codec.encode(kr)[:8] == h("12 64 00 00 FD FF 01 0F")
    assert len(codec.key_exchange_rsp_body(kr)) == 150
    fin = codec.encode(m.Finish(bytes(96), bytes(48)))
    assert len(fin) == 148 and fin[:4] == h("12 E5 01 FF")
    assert codec.finish_header(True, 0xFF) == fin[:4]
    assert len(codec.encode(m.FinishRsp(bytes(48)))) == 52
    first = codec.encode(m.ChunkSend(1, 0, bytes(4016), False, 6062))
    assert len(first) == 4032 and first[:16] == h("12 85 00 01 00 00 00 00 B0 0F 00 00 AE 17 00 00")
    later = codec.encode(m.ChunkSend(1, 1, bytes(5), True))
    assert later[:12] == h("12 85 01 01 01 00 00 00 05 00 00 00")


@pytest.mark.parametrize("data,exc", [
    (b"", DecodeError),
    (b"\x10", DecodeError),
    (h("10 99 00 00"), UnknownMessageError),
    (h("12 84 00 00"), VersionError),          # GET_VERSION must be 1.0
    (h("11 04 00 00 00 01 00 12"), VersionError),
    (h("10 E1 00 00") + bytes(16), VersionError),  # everything after VERSION is 1.2
    (h("13 E5 01 FF") + bytes(144), VersionError),
    (h("11 7F 01 00"), VersionError),          # ERROR: 1.0 or 1.2 only
])
def test_header_rejections(data: bytes, exc: type) -> None:
    with pytest.raises(exc):
        codec.decode(data)


def _flip(data: bytes, offset: int, value: int) -> bytes:
    return data[:offset] + bytes((value,)) + data[offset + 1:]


@pytest.mark.parametrize("msg,offset,value,field", [
    (m.GetVersion(), 2, 1, "Param1"),
    (m.GetVersion(), 3, 1, "Param2"),
    (m.Version(), 4, 1, "Reserved"),
    (m.GetCapabilities(), 4, 1, "Reserved"),
    (m.GetCapabilities(), 6, 1, "Reserved"),
    (m.Capabilities(), 7, 0x80, "Reserved"),
    (m.NegotiateAlgorithms(), 3, 1, "Param2"),
    (m.NegotiateAlgorithms(), 20, 1, "Reserved"),
    (m.NegotiateAlgorithms(), 30, 1, "Reserved"),
    (m.Algorithms(), 22, 1, "Reserved"),       # the bytes spdm-rs reads as a PQC field
    (m.Algorithms(), 31, 1, "Reserved"),
    (m.Algorithms(), 35, 1, "Reserved"),
    (m.VendorDefinedRequest(4, b"\x57\x01\x00\x00", b""), 2, 0x80, "Param1"),
    (m.KeyExchange(bytes(32), bytes(96), bytes(16)), 7, 1, "Reserved"),
    (m.KeyExchangeRsp(bytes(32), bytes(96), bytes(12), bytes(96)), 3, 1, "Param2"),
    (m.Finish(bytes(96), bytes(48)), 2, 0x03, "Param1"),
    (m.FinishRsp(bytes(48)), 2, 1, "Param1"),
    (m.EndSession(), 2, 0x02, "Param1"),
    (m.EndSessionAck(), 3, 1, "Param2"),
    (m.ChunkSend(1, 1, b"x"), 2, 0x02, "Param1"),
    (m.ChunkSend(1, 1, b"x"), 6, 1, "Reserved"),
    (m.ChunkResponse(1, 1, b"x"), 7, 1, "Reserved"),
    (m.ChunkSendAck(1, 1), 2, 0x80, "Param1"),
    (m.ChunkGet(1, 1), 2, 1, "Param1"),
])
def test_reserved_fields_and_bits_must_be_zero(msg: m.Message, offset: int, value: int, field: str) -> None:
    with pytest.raises(DecodeError) as info:
        codec.decode(_flip(codec.encode(msg), offset, value))
    assert info.value.field == field


def test_bad_lengths_and_counts() -> None:
    ver = codec.encode(m.Version())
    with pytest.raises(DecodeError, match="no version entries"):
        codec.decode(_flip(ver, 5, 0))
    with pytest.raises(LimitError):                    # count says 9 entries, one is there
        codec.decode(_flip(ver, 5, 9))
    with pytest.raises(DecodeError, match="invalid version"):
        codec.decode(ver[:6] + h("00 09"))
    neg = codec.encode(m.NegotiateAlgorithms())
    with pytest.raises(DecodeError, match="Length"):
        codec.decode(_flip(neg, 4, 0x31))
    with pytest.raises(DecodeError, match="AlgStructs"):
        codec.decode(_flip(neg, 2, 7))                 # 7 > 6 AlgStructs
    with pytest.raises(DecodeError, match="ExtAsymCount"):
        codec.decode(_flip(neg, 28, 1))
    with pytest.raises(DecodeError, match="ascending"):
        codec.decode(neg[:32] + neg[36:40] + neg[32:36] + neg[40:])
    with pytest.raises(DecodeError, match="unknown algorithm type"):
        codec.decode(_flip(neg, 44, 9))
    with pytest.raises(DecodeError, match="AlgCount"):
        codec.decode(_flip(neg, 33, 0x21))
    alg = codec.encode(m.Algorithms())
    with pytest.raises(DecodeError, match="ExtHashSelCount"):
        codec.decode(_flip(alg, 33, 1))
    vdm = codec.encode(m.VendorDefinedRequest(4, b"\x57\x01\x00\x00", b"abc"))
    with pytest.raises(DecodeError, match="announces 4 payload bytes, 3 present"):
        codec.decode(_flip(vdm, 11, 4))
    with pytest.raises(DecodeError):                   # vendor id length runs past the message
        codec.decode(_flip(vdm, 6, 200))
    ke = codec.encode(m.KeyExchange(bytes(32), bytes(96), bytes(16)))
    with pytest.raises(LimitError):                    # OpaqueDataLength above DSP0274's 1024
        codec.decode(ke[:136] + h("01 04") + bytes(1025))
    with pytest.raises(DecodeError):                   # opaque length says 17, 16 there
        codec.decode(_flip(ke, 136, 17))


def test_chunk_sizes_are_checked_before_use() -> None:
    c0 = codec.encode(m.ChunkSend(1, 0, bytes(100), False, 5000))
    with pytest.raises(DecodeError, match="announces 101 bytes, 100 present"):
        codec.decode(c0[:8] + (101).to_bytes(4, "little") + c0[12:])
    with pytest.raises(LimitError):                    # LargeMessageSize beyond MaxSPDMmsgSize: refused at once
        codec.decode(c0[:12] + (65537).to_bytes(4, "little") + c0[16:])
    with pytest.raises(DecodeError):                   # a 4 GiB claim on a 116-byte message
        codec.decode(c0[:8] + b"\xff\xff\xff\xff" + c0[12:])
    with pytest.raises(LimitError):
        codec.decode(codec.encode(m.ChunkSendAck(1, 1)) + bytes(65537))


def test_error_message_rules() -> None:
    with pytest.raises(DecodeError, match="LargeResponse without its handle"):
        codec.decode(h("12 7F 0F 00"))
    with pytest.raises(LimitError):                    # 4 + 33 bytes: longer than a Rust requester keeps
        codec.decode(h("12 7F 01 00") + bytes(33))
    assert codec.decode(h("12 7F 01 00") + bytes(32)) == m.ErrorResponse(1, 0, bytes(32))


def test_encode_refuses_what_cannot_be_encoded() -> None:
    with pytest.raises(TypeError):
        codec.encode("not a message")  # type: ignore[arg-type]
    with pytest.raises(ValueError):
        codec.encode(m.ChunkSend(1, 0, b"x"))          # chunk 0 without LargeMessageSize
    with pytest.raises(ValueError):
        codec.encode(m.ChunkSend(1, 2, b"x", large_message_size=9))
    with pytest.raises(ValueError):
        codec.encode(m.Version(tuple(range(0x1000, 0x1000 + 256))))


def test_codes_cover_the_ladder() -> None:
    assert {type(s).code for s in SAMPLES} == set(Code)


@pytest.mark.parametrize("msg", SAMPLES, ids=lambda x: type(x).__name__)
def test_every_message_refuses_a_wrong_version(msg: m.Message) -> None:
    data = codec.encode(msg)
    for bad in (0x00, 0x11, 0x13, 0x20) + ((0x12,) if data[0] == 0x10 and data[1] != Code.ERROR else (0x10,)
                                           if data[1] != Code.ERROR else ()):
        with pytest.raises(VersionError):
            codec.decode(bytes([bad]) + data[1:])
