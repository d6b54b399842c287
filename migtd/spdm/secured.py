"""DSP0277 1.2 secured records as MigTD uses them (spec/spdm.md §4.4).

::

    SessionID u32 ‖ SequenceNumber u64 LE ‖ Length u16 ‖ AEAD(AppLength u16 ‖ message) ‖ tag[16]

AAD is the first 14 bytes; the nonce is the direction's IV with its first 8
bytes XORed with the sequence number (little-endian); Length = 2 + n + 16.
MigTD's transport binding uses an 8-byte sequence number and no random
padding. Each direction has its own key, IV and counter, starting at 0 for
the data phase. A receiver accepts only the next expected sequence number,
so a replayed, dropped or reordered record is refused before decryption;
it counts the attempt like spdm-rs does (the counter moves on even when the
tag fails), which makes a session unusable after any bad record.
"""

from __future__ import annotations

import struct

from migtd.spdm import crypto
from migtd.spdm.constants import AEAD_TAG_SIZE, DATA_TRANSFER_SIZE
from migtd.spdm.errors import AuthenticationError, DecodeError, LimitError, SecuredRecordError
from migtd.spdm.key_schedule import DirectionKeys

HEADER = struct.Struct("<IQH")
HEADER_SIZE = HEADER.size  # 14 = AAD
APP_LENGTH = struct.Struct("<H")
MAX_SEQUENCE = 0xFFFF_FFFF_FFFF_FFFF  # refused, as in spdm-rs
#: smallest Length: the 2-byte application length plus the tag
MIN_LENGTH = APP_LENGTH.size + AEAD_TAG_SIZE


def session_id(req_half: int, rsp_half: int) -> int:
    """(RspSessionID << 16) | ReqSessionID."""
    return ((rsp_half & 0xFFFF) << 16) | (req_half & 0xFFFF)


def nonce(iv: bytes, sequence: int) -> bytes:
    """IV with bytes 0..7 XORed with the sequence number, little-endian."""
    seq = sequence.to_bytes(8, "little")
    return bytes(a ^ b for a, b in zip(iv[:8], seq, strict=False)) + iv[8:]


class RecordSealer:
    """Encrypts the messages of one direction."""

    __slots__ = ("_keys", "sequence", "session_id")

    def __init__(self, session_id: int, keys: DirectionKeys, first_sequence: int = 0) -> None:
        self.session_id = session_id
        self._keys = keys
        self.sequence = first_sequence

    def __repr__(self) -> str:
        return f"RecordSealer(session_id=0x{self.session_id:08X}, sequence={self.sequence})"

    def seal(self, message: bytes) -> bytes:
        """The record carrying ``message`` (body of a VmCall type-2 record)."""
        if self.sequence >= MAX_SEQUENCE:
            raise SecuredRecordError("secured record: sequence number exhausted")
        length = APP_LENGTH.size + len(message) + AEAD_TAG_SIZE
        if length > 0xFFFF:
            raise ValueError("message too long for one secured record")
        aad = HEADER.pack(self.session_id, self.sequence, length)
        sealed = crypto.aead_seal(self._keys.key, nonce(self._keys.iv, self.sequence),
                                  APP_LENGTH.pack(len(message)) + message, aad)
        self.sequence += 1
        return aad + sealed


class RecordOpener:
    """Decrypts and checks the records of one direction.

    ``max_message`` bounds the decrypted SPDM message (a Rust requester
    refuses more than its 4032-byte DataTransferSize).
    """

    __slots__ = ("_keys", "max_message", "sequence", "session_id")

    def __init__(self, session_id: int, keys: DirectionKeys, first_sequence: int = 0,
                 max_message: int = DATA_TRANSFER_SIZE) -> None:
        self.session_id = session_id
        self._keys = keys
        self.sequence = first_sequence
        self.max_message = max_message

    def __repr__(self) -> str:
        return f"RecordOpener(session_id=0x{self.session_id:08X}, sequence={self.sequence})"

    def open(self, record: bytes) -> bytes:
        """The SPDM message inside ``record``; SecuredRecordError/DecodeError otherwise."""
        if len(record) < HEADER_SIZE:
            raise DecodeError("secured record", "header", len(record), f"truncated: {len(record)} bytes")
        sid, seq, length = HEADER.unpack_from(record)
        if sid != self.session_id:
            raise SecuredRecordError(f"secured record for session 0x{sid:08X}, expected 0x{self.session_id:08X}")
        if length != len(record) - HEADER_SIZE:
            raise DecodeError("secured record", "Length", 12,
                              f"announces {length} bytes, {len(record) - HEADER_SIZE} present")
        if length < MIN_LENGTH:
            raise DecodeError("secured record", "Length", 12, f"{length} is shorter than {MIN_LENGTH}")
        expected = self.sequence
        if expected >= MAX_SEQUENCE:
            raise SecuredRecordError("secured record: sequence number exhausted")
        self.sequence += 1  # the attempt counts, as in spdm-rs: one bad record spoils the direction
        if seq != expected:
            what = "replayed" if seq < expected else "out of order"
            raise SecuredRecordError(f"secured record {what}: sequence {seq}, expected {expected}")
        try:
            plain = crypto.aead_open(self._keys.key, nonce(self._keys.iv, seq), record[HEADER_SIZE:],
                                     record[:HEADER_SIZE])
        except AuthenticationError as exc:
            raise SecuredRecordError(f"secured record {seq}: {exc}") from None
        (n,) = APP_LENGTH.unpack_from(plain)
        if n + APP_LENGTH.size > len(plain):
            raise DecodeError("secured record", "ApplicationDataLength", HEADER_SIZE,
                              f"announces {n} bytes, {len(plain) - 2} decrypted")
        if n > self.max_message:
            raise LimitError("secured record", "ApplicationDataLength", HEADER_SIZE,
                             f"{n} exceeds the limit of {self.max_message}")
        return plain[APP_LENGTH.size:APP_LENGTH.size + n]
