"""Transport framing (protocol.md §3.2–3.4).

Pins: §3.2 "u32 LE length ‖ payload", nothing else added; §3.3 chunks of at
most 65 524 bytes (0x10000 − 12); §3.4 a zero-length frame is fatal; our own
16 MiB inbound cap; §9.1 item 2 "frame boundaries are meaningless".
"""

from __future__ import annotations

import struct

import pytest
from hypothesis import given
from hypothesis import strategies as st

from migtd.errors import NetworkError
from migtd.result import MigrationResult
from migtd.transport import MAX_CHUNK, MAX_FRAME, FrameDecoder, encode_frames


def test_single_frame_is_length_prefix_then_payload() -> None:
    assert encode_frames(b"\x16\x03\x01") == b"\x03\x00\x00\x00\x16\x03\x01"


def test_max_chunk_is_16_pages_minus_ghci_header() -> None:
    assert MAX_CHUNK == 65524


def test_large_send_is_split_at_65524() -> None:
    data = bytes(range(256)) * 300  # 76 800 bytes
    wire = encode_frames(data)
    assert wire[:4] == struct.pack("<I", 65524)
    assert wire[4 + 65524:8 + 65524] == struct.pack("<I", len(data) - 65524)
    assert wire[4:4 + 65524] + wire[8 + 65524:] == data


def test_exact_multiple_gives_no_empty_tail_frame() -> None:
    wire = encode_frames(bytes(2 * 65524))
    assert len(wire) == 2 * (4 + 65524)


def test_empty_send_produces_no_frame() -> None:
    assert encode_frames(b"") == b""


def test_decoder_handles_split_and_coalesced_input() -> None:
    dec = FrameDecoder()
    wire = encode_frames(b"hello") + encode_frames(b"world!")
    assert dec.feed(wire[:3]) == []
    assert dec.feed(wire[3:12]) == [b"hello"]
    assert dec.feed(wire[12:]) == [b"world!"]
    assert dec.pending == 0


def test_zero_length_frame_is_rejected() -> None:
    with pytest.raises(NetworkError) as err:
        FrameDecoder().feed(b"\x00\x00\x00\x00")
    assert err.value.result == MigrationResult.NetworkError
    assert "zero-length" in err.value.message


def test_oversized_length_is_rejected_before_the_payload_arrives() -> None:
    with pytest.raises(NetworkError, match="limit"):
        FrameDecoder().feed(struct.pack("<I", MAX_FRAME + 1))
    assert FrameDecoder().feed(struct.pack("<I", MAX_FRAME)) == []  # at the cap: waits for data


@given(st.binary(min_size=1, max_size=200_000), st.integers(min_value=1, max_value=97))
def test_roundtrip_any_payload_any_split(data: bytes, step: int) -> None:
    wire = encode_frames(data)
    dec = FrameDecoder()
    got = b""
    for i in range(0, len(wire), step * 997):
        got += b"".join(dec.feed(wire[i:i + step * 997]))
    assert got == data
