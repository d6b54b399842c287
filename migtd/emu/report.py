"""A mock TDREPORT (1024 bytes) for modes that have no real TD report source.

Layout (protocol.md §2.4): REPORTMACSTRUCT [0..256) with REPORTDATA at 128
and MAC at 224, TEE_TCB_INFO [256..495), reserved [495..512), TDINFO
[512..1024). The two info hashes are recomputed so the report is internally
consistent, and the MAC is 32 × 0xBB like upstream's mock reports. This is a
stand-in for skip-RA only; it attests nothing.
"""

from __future__ import annotations

import hashlib

TDREPORT_SIZE = 1024
REPORT_TYPE_TDX = bytes([0x81, 0x00, 0x01, 0x00])  # type, subtype, version, reserved
REPORTDATA_OFFSET = 128
TEE_TCB_INFO = slice(256, 495)
TDINFO = slice(512, 1024)
MOCK_MAC = bytes([0xBB]) * 32


def mock_td_report(report_data: bytes, tdinfo: bytes = bytes(512), tee_tcb_info: bytes = bytes(239)) -> bytes:
    """A structurally valid TDREPORT carrying ``report_data`` (≤ 64 bytes, zero-padded)."""
    if len(report_data) > 64:
        raise ValueError("REPORTDATA is at most 64 bytes")
    if len(tdinfo) != 512 or len(tee_tcb_info) != 239:
        raise ValueError("TDINFO is 512 bytes and TEE_TCB_INFO 239 bytes")
    mac_struct = (REPORT_TYPE_TDX + bytes(12) + bytes(16)
                  + hashlib.sha384(tee_tcb_info).digest() + hashlib.sha384(tdinfo).digest()
                  + report_data.ljust(64, b"\0") + bytes(32) + MOCK_MAC)
    report = mac_struct + tee_tcb_info + bytes(17) + tdinfo
    assert len(report) == TDREPORT_SIZE
    return report


def report_data_of(report: bytes) -> bytes:
    """The 64-byte REPORTDATA of a TDREPORT."""
    return bytes(report[REPORTDATA_OFFSET:REPORTDATA_OFFSET + 64])
