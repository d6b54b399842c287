"""A mock TDREPORT (1024 bytes) for skip-RA, which has no real TD report source.

Built with :class:`migtd.attest.tdreport.TdReport` (layout: protocol.md §2.4,
attestation.md §1): all-zero TEE_TCB_INFO and TDINFO with their hashes
computed, report version 1 and a MAC of 32 × 0xBB like upstream's mock
reports. It attests nothing.
"""

from __future__ import annotations

from migtd.attest.tdreport import TdInfo, TdReport, TeeTcbInfo

MOCK_MAC = bytes([0xBB]) * 32


def mock_td_report(report_data: bytes) -> bytes:
    """A structurally valid TDREPORT carrying ``report_data`` (≤ 64 bytes, zero-padded)."""
    if len(report_data) > 64:
        raise ValueError("REPORTDATA is at most 64 bytes")
    return TdReport.build(report_data=bytes(report_data).ljust(64, b"\0"), tee_tcb_info=TeeTcbInfo(),
                          td_info=TdInfo(), report_version=1, mac=MOCK_MAC).to_bytes()

