"""The emulated VMM: hands out queued requests and takes status reports, in-process.

Upstream's emulator answers MigTD's WaitForRequest / ReportStatus vmcalls from
a FIFO without touching the network (§2.1–2.6). We keep the same shape: the
VMM side encodes each request into a real GHCI buffer and MigTD parses it
back, so the codecs are exercised on every run and a malformed request
produces the same result codes as upstream.
"""

from __future__ import annotations

import os
import struct
from collections import deque
from typing import NamedTuple

from migtd.emu.ghci import decode_buffer, encode_buffer, report_status_word, split_status_word
from migtd.emu.requests import ENABLE_LOG_AREA_BIT, GET_REPORT_BIT, Request
from migtd.result import MigrationResult

LOG_PAGE_SIZE = 4096
_LOG_PAGE_BASE = 0x7F00_0000_0000  # where the emulated shared log pages "live"


class StatusReport(NamedTuple):
    """What the VMM received for one request."""

    request_id: int
    pre_migration_status: int  # 0 success, 1 failure
    error_code: int
    data: bytes

    @property
    def kind(self) -> str:
        """Which request this answers, from the id bits 63/62 (as upstream's emulator logs it)."""
        if self.request_id & ENABLE_LOG_AREA_BIT:
            return "EnableLogArea response"
        if self.request_id & GET_REPORT_BIT:
            return "GetTDReport response"
        return "Migration/Report request response"


class EmulatedVmm:
    """FIFO of requests; each ReportStatus is decoded as the VMM would see it."""

    def __init__(self, requests: list[Request]) -> None:
        self._queue: deque[bytes] = deque(r.encode() for r in requests)

    def wait_for_request(self) -> bytes | None:
        """The next WaitForRequest buffer, or None when the queue is empty."""
        return self._queue.popleft() if self._queue else None

    def report_status(self, request_id: int, result: MigrationResult | int, data: bytes = b"") -> StatusReport:
        """MigTD's ReportStatus: encode the buffer and status word, decode them as the VMM."""
        word = report_status_word(result)
        buffer = encode_buffer(0, data)
        received = decode_buffer(buffer)
        status, code = split_status_word(word)
        return StatusReport(request_id, status, code, received.payload)


def log_area_response(num_vcpus: int) -> bytes:
    """EnableLogArea data: ``n u32 ‖ 0 u32 ‖ n × (page address u64 ‖ 4096 u64)`` (§8.2)."""
    out = struct.pack("<II", num_vcpus, 0)
    for i in range(num_vcpus):
        out += struct.pack("<QQ", _LOG_PAGE_BASE + i * LOG_PAGE_SIZE, LOG_PAGE_SIZE)
    return out


def enable_log_area(level: int) -> tuple[MigrationResult, bytes]:
    """MigTD's handling of EnableLogArea: levels 1–5 are valid (§8.2)."""
    if not 1 <= level <= 5:
        return MigrationResult.InvalidParameter, f"Invalid log level {level}".encode()
    return MigrationResult.Success, log_area_response(os.cpu_count() or 1)
