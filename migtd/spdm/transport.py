"""The 12-byte VmCall SPDM header and an incremental reader (spec/spdm.md §2.1).

MigTD prefixes every SPDM message (type 1) or DSP0277 secured record
(type 2) with ``"SPDM" · version 0x0100 · type · reserved 0 · length u32``
and hands header and body to the transport as one write. The receiver treats
the connection as a byte stream, so :class:`RecordReader` takes bytes in any
split and yields whole records. A header is judged as soon as its 12 bytes
are in (signature, version, type, reserved, length ≤ 4084), so an announced
length is refused before a single body byte is buffered.
"""

from __future__ import annotations

import enum
import struct

from migtd.spdm._record import record
from migtd.spdm.constants import MAX_TRANSPORT_BODY
from migtd.spdm.errors import DecodeError, LimitError

HEADER = struct.Struct("<IHBBI")
HEADER_SIZE = HEADER.size  # 12
SIGNATURE = 0x4D445053     # bytes "SPDM"
TRANSPORT_VERSION = 0x0100


class RecordType(enum.IntEnum):
    """VmCall message type byte."""

    SPDM = 1       # plain SPDM message
    SECURED = 2    # DSP0277 secured record


@record
class Record:
    """One transport unit: its type and body."""

    type: RecordType
    body: bytes


def encode_record(rtype: RecordType, body: bytes) -> bytes:
    """Header + body, as one transport write."""
    if len(body) > 0xFFFFFFFF:
        raise ValueError("record body does not fit a u32 length")
    return HEADER.pack(SIGNATURE, TRANSPORT_VERSION, int(rtype), 0, len(body)) + body


def decode_header(data: bytes, max_body: int = MAX_TRANSPORT_BODY) -> tuple[RecordType, int]:
    """(type, body length) of a 12-byte header; DecodeError for anything a Rust peer refuses."""
    if len(data) < HEADER_SIZE:
        raise DecodeError("VmCall header", "header", len(data), f"truncated: {len(data)} of 12 bytes")
    sig, ver, rtype, reserved, length = HEADER.unpack_from(data)
    if sig != SIGNATURE:
        raise DecodeError("VmCall header", "signature", 0, f"0x{sig:08X}, expected 0x{SIGNATURE:08X} ('SPDM')")
    if ver != TRANSPORT_VERSION:
        raise DecodeError("VmCall header", "version", 4, f"0x{ver:04X}, expected 0x0100")
    if rtype not in (1, 2):
        raise DecodeError("VmCall header", "message type", 6, f"{rtype}, expected 1 (SPDM) or 2 (secured)")
    if reserved:
        raise DecodeError("VmCall header", "reserved", 7, f"0x{reserved:02X}, expected 0")
    if length > max_body:
        raise LimitError("VmCall header", "length", 8, f"{length} exceeds the limit of {max_body}")
    return RecordType(rtype), length


def decode_record(data: bytes, max_body: int = MAX_TRANSPORT_BODY) -> Record:
    """Exactly one record (header + body, nothing after it)."""
    rtype, length = decode_header(data, max_body)
    if len(data) != HEADER_SIZE + length:
        raise DecodeError("VmCall record", "length", 8,
                          f"header announces {length} body bytes, {len(data) - HEADER_SIZE} present")
    return Record(rtype, bytes(data[HEADER_SIZE:]))


class RecordReader:
    """Reassemble records from a byte stream split anywhere.

    ``max_pending`` bounds what a peer may send ahead of the protocol (a
    request/response peer never has more than one record in flight; a little
    slack allows for a coalesced frame).
    """

    def __init__(self, max_body: int = MAX_TRANSPORT_BODY, max_pending: int = 4 * (MAX_TRANSPORT_BODY + 12)
                 ) -> None:
        self._buf = bytearray()
        self._max_body = max_body
        self._max_pending = max_pending
        self._need: int | None = None  # body length of the record being read, once its header is judged
        self._type = RecordType.SPDM

    def feed(self, data: bytes) -> None:
        """Append bytes from the stream."""
        if len(self._buf) + len(data) > self._max_pending:
            raise LimitError("VmCall stream", "pending bytes", len(self._buf),
                             f"peer sent more than {self._max_pending} bytes ahead of the protocol")
        self._buf += data

    def next_record(self) -> Record | None:
        """The next complete record, or None until more bytes arrive."""
        if self._need is None:
            if len(self._buf) < HEADER_SIZE:
                return None
            self._type, self._need = decode_header(bytes(self._buf[:HEADER_SIZE]), self._max_body)
        if len(self._buf) < HEADER_SIZE + self._need:
            return None
        end = HEADER_SIZE + self._need
        body = bytes(self._buf[HEADER_SIZE:end])
        del self._buf[:end]
        rec = Record(self._type, body)
        self._need = None
        return rec

    @property
    def pending(self) -> int:
        """Bytes received but not yet returned as a record."""
        return len(self._buf)
