"""SPDM 1.2 chunking in both directions, with spdm-rs's sizes (spec/spdm.md §2.3).

A message longer than the receiver's DataTransferSize (DTS; MigTD: 4032)
travels in pieces that never enter the transcript:

* requester → responder: CHUNK_SEND / CHUNK_SEND_ACK (:class:`LargeRequestSender`
  on the requester, :class:`LargeRequestReceiver` on the responder);
* responder → requester: ERROR LargeResponse, then CHUNK_GET / CHUNK_RESPONSE
  (:class:`LargeResponseSender`, :class:`LargeResponseReceiver`).

Chunk 0 carries ``DTS − 16`` bytes and LargeMessageSize, later chunks
``DTS − 12``, the last one the remainder with LAST_CHUNK. Receivers check the
handle, the sequence, every ChunkSize and the announced total (≤ 65536)
before they keep a byte, and they only ever hold bytes actually received.
All classes are pure: messages in, messages out.
"""

from __future__ import annotations

from migtd.spdm import messages as m
from migtd.spdm.codec import encode
from migtd.spdm.constants import (
    CHUNK_RESPONSE_HEADER,
    CHUNK_RESPONSE_HEADER_FIRST,
    CHUNK_SEND_HEADER,
    CHUNK_SEND_HEADER_FIRST,
    DATA_TRANSFER_SIZE,
    MAX_SPDM_MSG_SIZE,
    MIN_DATA_TRANSFER_SIZE,
    ErrorCode,
)
from migtd.spdm.errors import DecodeError, LimitError, ProtocolError


def needs_chunking(message_len: int, local_dts: int, peer_dts: int) -> bool:
    """spdm-rs chunks when a message exceeds min(own DTS, peer DTS)."""
    return message_len > min(local_dts, peer_dts)


def _split(message: bytes, dts: int) -> list[tuple[int, bytes]]:
    """(seq, data) pieces: DTS−16 bytes first, then DTS−12."""
    first = dts - CHUNK_SEND_HEADER_FIRST
    rest = dts - CHUNK_SEND_HEADER
    pieces = [(0, message[:first])]
    pos = first
    seq = 1
    while pos < len(message):
        pieces.append((seq, message[pos:pos + rest]))
        pos += rest
        seq += 1
    return pieces


class LargeRequestSender:
    """Requester side of CHUNK_SEND: yields chunks, judges each reply."""

    def __init__(self, message: bytes, handle: int, dts: int, max_message: int = MAX_SPDM_MSG_SIZE) -> None:
        if dts < MIN_DATA_TRANSFER_SIZE:
            raise ValueError(f"DataTransferSize {dts} below {MIN_DATA_TRANSFER_SIZE}")
        if len(message) > max_message:
            raise LimitError("CHUNK_SEND", "LargeMessageSize", 0,
                             f"{len(message)}-byte message exceeds the peer's MaxSPDMmsgSize {max_message}")
        self.handle = handle & 0xFF
        self.message_size = len(message)
        self._pieces = _split(message, dts)
        self._next = 0

    @property
    def chunk_count(self) -> int:
        return len(self._pieces)

    def next_chunk(self) -> bytes:
        """The next CHUNK_SEND message."""
        if self._next >= len(self._pieces):
            raise ProtocolError("all chunks already sent")
        seq, data = self._pieces[self._next]
        last = self._next == len(self._pieces) - 1
        self._next += 1
        return encode(m.ChunkSend(self.handle, seq, data, last,
                                  self.message_size if seq == 0 else None))

    def on_reply(self, reply: m.Message) -> bytes | None:
        """None: send the next chunk. Bytes: the response to the large request (maybe an ERROR).

        A non-final chunk must be acknowledged with an empty CHUNK_SEND_ACK of
        the same handle and sequence; the final one with an ACK embedding the
        response, or a bare ERROR (LargeResponse, or any failure).
        """
        final = self._next == len(self._pieces)
        seq = self._pieces[self._next - 1][0]
        if isinstance(reply, m.ErrorResponse):
            if not final and reply.error_code == ErrorCode.LargeResponse:
                raise ProtocolError("LargeResponse before the last chunk was sent")
            return encode(reply)
        if not isinstance(reply, m.ChunkSendAck):
            raise ProtocolError(f"expected CHUNK_SEND_ACK, got {type(reply).__name__}")
        if reply.handle != self.handle or reply.seq != seq:
            raise ProtocolError(f"CHUNK_SEND_ACK for handle {reply.handle} chunk {reply.seq}, "
                                f"expected handle {self.handle} chunk {seq}")
        if final or reply.early_error:
            if not reply.response:
                raise DecodeError("CHUNK_SEND_ACK", "ResponseToLargeRequest", 6,
                                  "final or early-error acknowledgement embeds no response")
            return reply.response
        if reply.response:
            raise DecodeError("CHUNK_SEND_ACK", "ResponseToLargeRequest", 6,
                              "acknowledgement of a non-final chunk embeds a response")
        return None


class LargeRequestReceiver:
    """Responder side of CHUNK_SEND: reassembles one large request.

    :meth:`accept` returns None while more chunks are due and the whole
    request after the last one. Any violation raises DecodeError (answered
    with ERROR InvalidRequest) and drops what was collected.
    """

    def __init__(self, dts: int = DATA_TRANSFER_SIZE, max_message: int = MAX_SPDM_MSG_SIZE) -> None:
        self.dts = dts
        self.max_message = max_message
        self._buf: bytearray | None = None
        self._size = 0
        self._handle = 0
        self._seq = 0

    @property
    def active(self) -> bool:
        return self._buf is not None

    def reset(self) -> None:
        self._buf = None

    def _fail(self, field: str, problem: str) -> DecodeError:
        self.reset()
        return DecodeError("CHUNK_SEND", field, 0, problem)

    def accept(self, chunk: m.ChunkSend) -> bytes | None:
        if chunk.seq == 0:
            self.reset()
            if chunk.last:
                raise self._fail("Param1", "chunk 0 marked as the last chunk")
            size = chunk.large_message_size or 0
            if not self.dts < size <= self.max_message:
                raise self._fail("LargeMessageSize", f"{size} is not in ({self.dts}, {self.max_message}]")
            if len(chunk.data) > self.dts - CHUNK_SEND_HEADER_FIRST:
                raise self._fail("ChunkSize", f"{len(chunk.data)} exceeds {self.dts - CHUNK_SEND_HEADER_FIRST}")
            if len(chunk.data) < MIN_DATA_TRANSFER_SIZE - CHUNK_SEND_HEADER_FIRST:
                raise self._fail("ChunkSize", f"{len(chunk.data)}-byte first chunk is too small")
            self._buf = bytearray(chunk.data)
            self._size = size
            self._handle = chunk.handle
            self._seq = 0
            return None
        if self._buf is None:
            raise self._fail("ChunkSeqNo", f"chunk {chunk.seq} without chunk 0")
        if chunk.handle != self._handle:
            raise self._fail("Param2", f"handle {chunk.handle}, expected {self._handle}")
        if chunk.seq != self._seq + 1:
            raise self._fail("ChunkSeqNo", f"{chunk.seq}, expected {self._seq + 1}")
        if len(chunk.data) > self.dts - CHUNK_SEND_HEADER:
            raise self._fail("ChunkSize", f"{len(chunk.data)} exceeds {self.dts - CHUNK_SEND_HEADER}")
        total = len(self._buf) + len(chunk.data)
        if total > self._size:
            raise self._fail("ChunkSize", f"chunks overrun LargeMessageSize {self._size}")
        if not chunk.last and len(chunk.data) < MIN_DATA_TRANSFER_SIZE - CHUNK_SEND_HEADER:
            raise self._fail("ChunkSize", f"{len(chunk.data)}-byte non-final chunk is too small")
        if chunk.last != (total == self._size):
            raise self._fail("Param1", f"LAST_CHUNK={chunk.last} after {total} of {self._size} bytes")
        self._buf += chunk.data
        self._seq = chunk.seq
        if chunk.last:
            whole = bytes(self._buf)
            self.reset()
            return whole
        return None

    def ack(self, chunk: m.ChunkSend, response: bytes = b"") -> bytes:
        """CHUNK_SEND_ACK for ``chunk`` (embedding ``response`` after the last chunk)."""
        return encode(m.ChunkSendAck(chunk.handle, chunk.seq, response))


class LargeResponseSender:
    """Responder side of CHUNK_GET: serves one large response announced by ERROR LargeResponse."""

    def __init__(self, message: bytes, handle: int, dts: int) -> None:
        self.handle = handle & 0xFF
        self._message = message
        self._dts = dts
        self._pos = 0
        self._seq = 0

    def announcement(self, version: int) -> bytes:
        """ERROR LargeResponse carrying this response's handle."""
        return encode(m.ErrorResponse(ErrorCode.LargeResponse, 0, bytes((self.handle,)), version))

    @property
    def done(self) -> bool:
        return self._pos >= len(self._message)

    def serve(self, get: m.ChunkGet) -> bytes:
        """The CHUNK_RESPONSE for ``get``; ProtocolError/DecodeError for a wrong handle or sequence."""
        if get.handle != self.handle:
            raise DecodeError("CHUNK_GET", "Param2", 3, f"handle {get.handle}, expected {self.handle}")
        if get.seq != self._seq or self.done:
            raise DecodeError("CHUNK_GET", "ChunkSeqNo", 4, f"{get.seq}, expected {self._seq}")
        room = self._dts - (CHUNK_RESPONSE_HEADER_FIRST if self._seq == 0 else CHUNK_RESPONSE_HEADER)
        data = self._message[self._pos:self._pos + room]
        self._pos += len(data)
        msg = m.ChunkResponse(self.handle, self._seq, data, self.done,
                              len(self._message) if self._seq == 0 else None)
        self._seq += 1
        return encode(msg)


class LargeResponseReceiver:
    """Requester side of CHUNK_GET: asks for chunks and reassembles the response."""

    def __init__(self, handle: int, dts: int = DATA_TRANSFER_SIZE, max_message: int = MAX_SPDM_MSG_SIZE) -> None:
        self.handle = handle
        self.dts = dts
        self.max_message = max_message
        self._buf = bytearray()
        self._size = 0
        self._seq = 0
        self.chunks = 0

    def request(self) -> bytes:
        """The CHUNK_GET for the next chunk."""
        return encode(m.ChunkGet(self.handle, self._seq))

    def accept(self, reply: m.Message) -> bytes | None:
        """None: ask for the next chunk. Bytes: the reassembled response."""
        if isinstance(reply, m.ErrorResponse):
            return encode(reply)  # the caller reports it
        if not isinstance(reply, m.ChunkResponse):
            raise ProtocolError(f"expected CHUNK_RESPONSE, got {type(reply).__name__}")
        if reply.handle != self.handle:
            raise DecodeError("CHUNK_RESPONSE", "Param2", 3, f"handle {reply.handle}, expected {self.handle}")
        if reply.seq != self._seq:
            raise DecodeError("CHUNK_RESPONSE", "ChunkSeqNo", 4, f"{reply.seq}, expected {self._seq}")
        header = CHUNK_RESPONSE_HEADER_FIRST if reply.seq == 0 else CHUNK_RESPONSE_HEADER
        if reply.seq == 0:
            size = reply.large_message_size or 0
            if not MIN_DATA_TRANSFER_SIZE - 6 <= size <= self.max_message:
                raise LimitError("CHUNK_RESPONSE", "LargeMessageSize", 12,
                                 f"{size} is not in [36, {self.max_message}]")
            self._size = size
        if len(reply.data) > self.dts - header:
            raise LimitError("CHUNK_RESPONSE", "ChunkSize", 8, f"{len(reply.data)} exceeds {self.dts - header}")
        total = len(self._buf) + len(reply.data)
        if total > self._size:
            raise DecodeError("CHUNK_RESPONSE", "ChunkSize", 8, f"chunks overrun LargeMessageSize {self._size}")
        if not reply.last and len(reply.data) < MIN_DATA_TRANSFER_SIZE - header:
            raise DecodeError("CHUNK_RESPONSE", "ChunkSize", 8, f"{len(reply.data)}-byte non-final chunk")
        if reply.last != (total == self._size):
            raise DecodeError("CHUNK_RESPONSE", "Param1", 2,
                              f"LAST_CHUNK={reply.last} after {total} of {self._size} bytes")
        self._buf += reply.data
        self._seq += 1
        self.chunks += 1
        return bytes(self._buf) if reply.last else None

