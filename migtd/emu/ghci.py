"""GHCI 1.5 shared-buffer codec (protocol.md §2.2) and the ReportStatus word (§2.5).

Every emulated vmcall-raw service exchanges a buffer ``status u64 ‖ length u32
‖ payload``. MigTD writes ``status = 0``; the (emulated) VMM overwrites the
header on completion: byte 0 = 1 for success, byte 1 = the operation code of a
WaitForRequest answer. Pure functions only.
"""

from __future__ import annotations

import struct
from typing import NamedTuple

from migtd.errors import FormatError, MigtdError
from migtd.result import MigrationResult

HEADER = struct.Struct("<QI")
HEADER_SIZE = HEADER.size  # 12
PAGE = 4096

VMM_SUCCESS = 0x01
VMM_NOT_COMPLETED = 0x02
VMM_CANCEL_SUBSTATUS = 0x03


class GhciBuffer(NamedTuple):
    """A decoded shared buffer: the status word the VMM wrote and the payload."""

    status: int
    payload: bytes

    @property
    def status_byte(self) -> int:
        """Byte 0: 1 when the VMM completed the call."""
        return self.status & 0xFF

    @property
    def operation(self) -> int:
        """Byte 1: the operation of a WaitForRequest answer."""
        return (self.status >> 8) & 0xFF


def buffer_pages(payload_len: int) -> int:
    """Pages MigTD allocates for a buffer carrying ``payload_len`` bytes."""
    return max(1, -(-(HEADER_SIZE + payload_len) // PAGE))


def encode_buffer(status: int, payload: bytes, *, pages: int | None = None) -> bytes:
    """Header + payload, zero-padded to whole pages (as the shared memory is)."""
    body = HEADER.pack(status, len(payload)) + payload
    size = (pages if pages is not None else buffer_pages(len(payload))) * PAGE
    if len(body) > size:
        raise ValueError(f"{len(payload)}-byte payload does not fit in {size // PAGE} page(s)")
    return body + bytes(size - len(body))


def decode_buffer(buf: bytes) -> GhciBuffer:
    """Read header and payload; a length running past the buffer is InvalidParameter."""
    if len(buf) < HEADER_SIZE:
        raise FormatError("GHCI buffer", "header", 0, f"need {HEADER_SIZE} bytes, have {len(buf)}",
                          MigrationResult.InvalidParameter)
    status, length = HEADER.unpack_from(buf, 0)
    if HEADER_SIZE + length > len(buf):
        raise FormatError("GHCI buffer", "length", 8,
                          f"payload of {length} bytes runs past the {len(buf)}-byte buffer",
                          MigrationResult.InvalidParameter)
    return GhciBuffer(status, bytes(buf[HEADER_SIZE:HEADER_SIZE + length]))


def wait_for_request_status(operation: int) -> int:
    """Status word the VMM writes when answering WaitForRequest with ``operation``."""
    return VMM_SUCCESS | (operation << 8)


def report_status_word(result: MigrationResult | int) -> int:
    """ReportStatus argument: bits 0–7 failure flag, bits 8–15 the MigrationResult."""
    try:
        code = MigrationResult(int(result))
    except ValueError:
        raise MigtdError(f"{result} is not a MigrationResult; status not reported",
                         MigrationResult.InvalidParameter) from None
    if code == MigrationResult.Success:
        return 0
    return 1 | ((int(code) & 0xFF) << 8)


def split_status_word(word: int) -> tuple[int, int]:
    """(pre_migration_status, error_code) of a ReportStatus word."""
    return word & 0xFF, (word >> 8) & 0xFF
