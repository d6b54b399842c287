"""The 12-byte VmCall SPDM header and the stream reader."""

from __future__ import annotations

import os

import pytest

from migtd.spdm.errors import DecodeError, LimitError
from migtd.spdm.transport import (
    HEADER_SIZE,
    Record,
    RecordReader,
    RecordType,
    decode_header,
    decode_record,
    encode_record,
)


def test_header_bytes() -> None:
    """spdm.md §2.1: "SPDM", version 0x0100, type, reserved, length."""
    assert encode_record(RecordType.SPDM, b"\x10\x84\x00\x00") == \
        bytes.fromhex("5350444d 0001 01 00 04000000 10840000".replace(" ", ""))
    assert encode_record(RecordType.SECURED, b"")[:12] == bytes.fromhex("5350444d000102 00 00000000".replace(" ", ""))
    rec = decode_record(encode_record(RecordType.SECURED, b"abc"))
    assert rec == Record(RecordType.SECURED, b"abc")


@pytest.mark.parametrize("offset,value,field", [
    (0, 0x54, "signature"), (3, 0x4E, "signature"), (4, 1, "version"), (5, 2, "version"),
    (6, 0, "message type"), (6, 3, "message type"), (7, 1, "reserved"),
])
def test_header_rejections(offset: int, value: int, field: str) -> None:
    data = bytearray(encode_record(RecordType.SPDM, b"abcd"))
    data[offset] = value
    with pytest.raises(DecodeError) as info:
        decode_header(bytes(data))
    assert info.value.field == field


def test_length_limit_is_judged_on_the_header_alone() -> None:
    hdr = encode_record(RecordType.SPDM, b"")[:8] + (4085).to_bytes(4, "little")
    with pytest.raises(LimitError):
        decode_header(hdr)
    decode_header(hdr[:8] + (4084).to_bytes(4, "little"))
    reader = RecordReader()
    reader.feed(encode_record(RecordType.SPDM, b"")[:8] + (0xFFFFFFFF).to_bytes(4, "little"))
    with pytest.raises(LimitError):
        reader.next_record()   # refused with 12 bytes buffered, not 4 GiB later


def test_decode_record_needs_the_exact_body() -> None:
    data = encode_record(RecordType.SPDM, b"abcd")
    with pytest.raises(DecodeError):
        decode_record(data[:-1])
    with pytest.raises(DecodeError):
        decode_record(data + b"x")
    with pytest.raises(DecodeError):
        decode_header(data[:11])


def test_reader_any_split_and_coalescing() -> None:
    records = [Record(RecordType.SPDM, os.urandom(n)) for n in (0, 1, 4, 100, 4084)] + \
              [Record(RecordType.SECURED, os.urandom(97))]
    stream = b"".join(encode_record(r.type, r.body) for r in records)
    for size in (1, 5, 12, 13, 4096, len(stream)):
        reader = RecordReader()
        got = []
        for i in range(0, len(stream), size):
            reader.feed(stream[i:i + size])
            while (rec := reader.next_record()) is not None:
                got.append(rec)
        assert got == records and reader.pending == 0


def test_reader_bounds_what_a_peer_may_send_ahead() -> None:
    reader = RecordReader(max_pending=100)
    reader.feed(bytes(100))
    with pytest.raises(LimitError):
        reader.feed(b"x")
    assert HEADER_SIZE == 12
