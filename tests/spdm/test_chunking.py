"""CHUNK_SEND / CHUNK_GET machinery with spdm-rs's sizes, and its limits."""

from __future__ import annotations

import os

import pytest

from migtd.spdm import codec
from migtd.spdm import messages as m
from migtd.spdm.chunking import (
    LargeRequestReceiver,
    LargeRequestSender,
    LargeResponseReceiver,
    LargeResponseSender,
    needs_chunking,
)
from migtd.spdm.errors import DecodeError, LimitError, ProtocolError


def send_all(message: bytes, dts: int = 4032) -> tuple[list[m.ChunkSend], bytes | None]:
    sender = LargeRequestSender(message, 1, dts)
    receiver = LargeRequestReceiver(dts)
    chunks = []
    whole = None
    for i in range(sender.chunk_count):
        c = codec.decode(sender.next_chunk())
        assert isinstance(c, m.ChunkSend)
        chunks.append(c)
        whole = receiver.accept(c)
        reply = codec.decode(receiver.ack(c, b"\x12\x7e" + bytes(30) if whole else b""))
        out = sender.on_reply(reply)
        assert (out is None) == (i < sender.chunk_count - 1)
    return chunks, whole


def test_spdm_rs_sizes() -> None:
    """spdm.md §2.3/§10: 4016 bytes in chunk 0, 4020 after, remainder last."""
    msg = os.urandom(6062)
    chunks, whole = send_all(msg)
    assert whole == msg
    assert [len(c.data) for c in chunks] == [4016, 2046]
    assert chunks[0].large_message_size == 6062 and not chunks[0].last and chunks[1].last
    assert [len(codec.encode(c)) for c in chunks] == [4032, 2058]
    chunks, whole = send_all(os.urandom(20000))
    assert [len(c.data) for c in chunks] == [4016, 4020, 4020, 4020, 3924] and whole is not None
    assert [c.seq for c in chunks] == [0, 1, 2, 3, 4] and {c.handle for c in chunks} == {1}
    assert needs_chunking(4033, 4032, 4096) and not needs_chunking(4032, 4032, 4096)
    assert needs_chunking(1000, 4032, 999)


@pytest.mark.parametrize("size", [4033, 4036, 8036, 8037, 65536])
def test_boundaries(size: int) -> None:
    msg = os.urandom(size)
    assert send_all(msg)[1] == msg


def test_sender_refuses_oversized_and_judges_acks() -> None:
    with pytest.raises(LimitError):
        LargeRequestSender(bytes(65537), 1, 4032)
    s = LargeRequestSender(bytes(9000), 3, 4032)
    s.next_chunk()
    with pytest.raises(ProtocolError):
        s.on_reply(m.ChunkSendAck(4, 0))                     # other handle
    with pytest.raises(ProtocolError):
        s.on_reply(m.ChunkSendAck(3, 1))                     # other chunk
    with pytest.raises(DecodeError):
        s.on_reply(m.ChunkSendAck(3, 0, b"\x12\x7f\x01\x00"))  # response before the end
    with pytest.raises(ProtocolError):
        s.on_reply(m.ErrorResponse(0x0F, 0, b"\x01"))        # LargeResponse before the end
    with pytest.raises(ProtocolError):
        s.on_reply(m.Capabilities())
    assert s.on_reply(m.ErrorResponse(0x01)) == b"\x12\x7f\x01\x00"  # the caller reports it
    assert s.on_reply(m.ChunkSendAck(3, 0)) is None
    s.next_chunk()
    s.next_chunk()
    with pytest.raises(DecodeError, match="embeds no response"):  # spec revision 2: 6-byte final ACK
        s.on_reply(m.ChunkSendAck(3, 2))
    assert s.on_reply(m.ChunkSendAck(3, 2, b"\x12\x7f\x0f\x00\x01")) == b"\x12\x7f\x0f\x00\x01"
    with pytest.raises(ProtocolError):
        s.next_chunk()


def _chunks(size: int = 9000) -> list[m.ChunkSend]:
    s = LargeRequestSender(os.urandom(size), 1, 4032)
    return [codec.decode(s.next_chunk()) for _ in range(s.chunk_count)]  # type: ignore[misc]


def test_receiver_rejections() -> None:
    c0, c1, c2 = _chunks()
    cases = [
        ([c1], "without chunk 0"),
        ([c0, c2], "ChunkSeqNo"),
        ([c0, m.ChunkSend(2, 1, c1.data)], "handle"),
        ([m.ChunkSend(1, 0, c0.data, True, 9000)], "last chunk"),
        ([m.ChunkSend(1, 0, c0.data, False, 65537)], "LargeMessageSize"),
        ([m.ChunkSend(1, 0, c0.data, False, 4032)], "LargeMessageSize"),     # would fit in one message
        ([m.ChunkSend(1, 0, c0.data + b"x", False, 9000)], "ChunkSize"),
        ([m.ChunkSend(1, 0, bytes(10), False, 9000)], "too small"),
        ([c0, m.ChunkSend(1, 1, c1.data + b"x")], "ChunkSize"),
        ([c0, m.ChunkSend(1, 1, bytes(10))], "too small"),
        ([c0, c1, m.ChunkSend(1, 2, c2.data + bytes(1), True)], "overrun"),
        ([c0, c1, m.ChunkSend(1, 2, c2.data[:-1], True)], "LAST_CHUNK"),
        ([c0, c1, m.ChunkSend(1, 2, c2.data, False)], "LAST_CHUNK"),
    ]
    for sequence, what in cases:
        r = LargeRequestReceiver()
        with pytest.raises(DecodeError, match=what):
            for c in sequence:
                r.accept(c)
        assert not r.active  # state dropped after a violation
    r = LargeRequestReceiver()
    r.accept(c0)
    r.accept(c0)      # a new chunk 0 restarts the transfer
    r.accept(c1)
    assert r.accept(c2) is not None


def test_large_response_round_trip_and_limits() -> None:
    msg = os.urandom(5266)
    sender = LargeResponseSender(msg, 1, 4032)
    assert sender.announcement(0x12) == b"\x12\x7f\x0f\x00\x01"
    rx = LargeResponseReceiver(1)
    whole = None
    while whole is None:
        get = codec.decode(rx.request())
        assert isinstance(get, m.ChunkGet)
        whole = rx.accept(codec.decode(sender.serve(get)))
    assert whole == msg and sender.done and rx.chunks == 2
    with pytest.raises(DecodeError):
        sender.serve(m.ChunkGet(1, 2))                       # nothing left
    s2 = LargeResponseSender(msg, 5, 4032)
    with pytest.raises(DecodeError, match="handle"):
        s2.serve(m.ChunkGet(4, 0))
    with pytest.raises(DecodeError, match="ChunkSeqNo"):
        s2.serve(m.ChunkGet(5, 1))


def test_response_receiver_rejections() -> None:
    good0 = m.ChunkResponse(1, 0, bytes(4016), False, 5000)
    cases = [
        ([m.ChunkResponse(2, 0, bytes(4016), False, 5000)], DecodeError, "handle"),
        ([m.ChunkResponse(1, 1, bytes(10), True)], DecodeError, "ChunkSeqNo"),
        ([m.ChunkResponse(1, 0, bytes(4016), False, 65537)], LimitError, "LargeMessageSize"),
        ([m.ChunkResponse(1, 0, bytes(4017), False, 5000)], LimitError, "ChunkSize"),
        ([good0, m.ChunkResponse(1, 1, bytes(985), True)], DecodeError, "overrun"),
        ([good0, m.ChunkResponse(1, 1, bytes(983), True)], DecodeError, "LAST_CHUNK"),
        ([good0, m.ChunkResponse(1, 1, bytes(20), False)], DecodeError, "non-final"),
        ([m.ChunkResponse(1, 0, bytes(4016), True, 5000)], DecodeError, "LAST_CHUNK"),
        ([m.Capabilities()], ProtocolError, "expected CHUNK_RESPONSE"),
    ]
    for sequence, exc, what in cases:
        rx = LargeResponseReceiver(1)
        with pytest.raises(exc, match=what):
            for c in sequence:
                rx.accept(c)
    rx = LargeResponseReceiver(1)
    assert rx.accept(m.ErrorResponse(0x01)) == b"\x12\x7f\x01\x00"
