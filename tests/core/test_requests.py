"""Emulated VMM requests and GHCI buffers (protocol.md §2.1–2.6).

Pins: §2.1 queue order and request-id bits 63/62 and the REPORTDATA
``R LE ‖ "MIGTD_MIGRATION" ‖ zeros``; §2.2 buffer header ``status u64 ‖ length
u32``; §2.3 status word ``01 op 00…`` and payload sizes 56/72/16; §2.4 step 3
result codes (11 VMM status, 12 unknown/unsupported op, 1 bad length or
reserved bytes); §2.5 ReportStatus bit field.
"""

from __future__ import annotations

import struct

import pytest

from migtd.emu import ghci
from migtd.emu.requests import (
    MigrationInfo,
    Operation,
    Request,
    RequestError,
    migration_queue,
    parse_request,
    rebinding_queue,
)
from migtd.emu.vmm import EmulatedVmm, enable_log_area, log_area_response
from migtd.errors import MigtdError
from migtd.result import MigrationResult

UUID = (1, 2, 3, 4)


def test_migration_queue_order_ids_and_payloads() -> None:
    q = migration_queue(0x2A, True, UUID, 0x1234)
    assert [r.operation for r in q] == [Operation.EnableLogArea, Operation.GetTDReport, Operation.StartMigration]
    assert [r.request_id for r in q] == [0x8000_0000_0000_002A, 0x4000_0000_0000_002A, 0x2A]
    # EnableLogArea payload: id, level 3, 7 reserved zero bytes.
    assert q[0].payload() == struct.pack("<Q", 0x8000_0000_0000_002A) + b"\x03" + bytes(7)
    # GetTDReport REPORTDATA: R LE ‖ MIGTD_MIGRATION ‖ 41 zeros.
    rd = q[1].payload()[8:]
    assert len(rd) == 64 and rd == struct.pack("<Q", 0x2A) + b"MIGTD_MIGRATION" + bytes(41)
    mig = q[2].payload()
    assert len(mig) == 56
    assert mig == (struct.pack("<Q", 0x2A) + b"\x01\x00" + bytes(6)
                   + struct.pack("<4Q", *UUID) + struct.pack("<Q", 0x1234))


def test_destination_flag_is_zero_and_rebind_queue_uses_getmigtddata() -> None:
    assert migration_queue(1, False, UUID, 5)[2].payload()[8] == 0
    q = rebinding_queue(7, True, UUID, 5, finalize=True)
    assert [r.operation for r in q] == [Operation.EnableLogArea, Operation.GetMigtdData, Operation.StartRebinding]
    assert q[1].payload()[16:31] == b"MIGTD_REBINDING"
    assert q[2].payload()[10] == 1  # the emulator's rebind operation byte


def test_wait_for_request_buffer_header_bytes() -> None:
    buf = migration_queue(1, True, UUID, 0x1234)[2].encode()
    assert buf[:12] == bytes([0x01, 0x01, 0, 0, 0, 0, 0, 0]) + struct.pack("<I", 56)
    assert len(buf) == 4096  # one page: 12 + 56 bytes
    assert ghci.buffer_pages(4084) == 1 and ghci.buffer_pages(4085) == 2


@pytest.mark.parametrize("req", migration_queue(9, True, UUID, 0xABC), ids=lambda r: r.operation.name)
def test_each_request_roundtrips_through_the_buffer(req: Request) -> None:
    assert parse_request(req.encode()) == req


def test_empty_buffer_means_keep_waiting() -> None:
    assert parse_request(bytes(4096)) is None


def _buf(status: int, payload: bytes) -> bytes:
    return ghci.encode_buffer(status, payload)


@pytest.mark.parametrize(("status", "payload", "code"), [
    (0x02 | (1 << 8), struct.pack("<Q", 5) + bytes(48), MigrationResult.VmmInternalError),
    (0x01 | (9 << 8), struct.pack("<Q", 5), MigrationResult.UnsupportedOperationError),
    (0x01 | (2 << 8), struct.pack("<Q", 5) + bytes(48), MigrationResult.UnsupportedOperationError),
    (0x01 | (5 << 8), struct.pack("<Q", 5), MigrationResult.UnsupportedOperationError),
    (0x01 | (1 << 8), struct.pack("<Q", 5) + bytes(40), MigrationResult.InvalidParameter),
    (0x01 | (3 << 8), struct.pack("<Q", 5) + bytes(10), MigrationResult.InvalidParameter),
    (0x01 | (4 << 8), struct.pack("<Q", 5) + b"\x03" + bytes(6), MigrationResult.InvalidParameter),
    (0x01 | (4 << 8), struct.pack("<Q", 5) + b"\x03" + b"\x00\x00\x01" + bytes(4), MigrationResult.InvalidParameter),
])
def test_malformed_requests_give_the_upstream_codes(status: int, payload: bytes, code: MigrationResult) -> None:
    with pytest.raises(RequestError) as err:
        parse_request(_buf(status, payload))
    assert err.value.result == code
    assert err.value.request_id == 5


def test_nonzero_reserved_bytes_in_migration_info_are_invalid() -> None:
    info = MigrationInfo(3, True, UUID, 1, operation_byte=1)  # what rebind-finalize produces
    req = Request(Operation.StartMigration, 3, migration=info)
    with pytest.raises(RequestError) as err:
        parse_request(req.encode())
    assert err.value.result == MigrationResult.InvalidParameter


def test_has_init_data_needs_policy_v2_and_512_bytes() -> None:
    info = MigrationInfo(3, True, UUID, 1, has_init_data=1, init_td_info=bytes(512))
    buf = Request(Operation.StartMigration, 3, migration=info).encode()
    with pytest.raises(RequestError):
        parse_request(buf)
    parsed = parse_request(buf, policy_v2=True)
    assert parsed is not None and parsed.migration is not None and parsed.migration.has_init_data == 1


def test_gettdreport_accepts_id_only_payload() -> None:
    parsed = parse_request(_buf(0x01 | (3 << 8), struct.pack("<Q", 5)))
    assert parsed is not None and parsed.report_data == bytes(64)


def test_length_past_buffer_end_is_invalid_parameter() -> None:
    buf = struct.pack("<QI", 0x0101, 5000) + bytes(4084)
    with pytest.raises(RequestError) as err:
        parse_request(buf)
    assert err.value.result == MigrationResult.InvalidParameter


def test_report_status_word_bits() -> None:
    assert ghci.report_status_word(MigrationResult.Success) == 0
    assert ghci.report_status_word(MigrationResult.SecureSessionError) == 0x0601
    assert ghci.split_status_word(0x0C01) == (1, 12)
    with pytest.raises(MigtdError, match="not a MigrationResult") as err:
        ghci.report_status_word(77)
    assert err.value.result == MigrationResult.InvalidParameter


def test_vmm_records_reports_and_classifies_by_id_bits() -> None:
    vmm = EmulatedVmm(migration_queue(1, True, UUID, 1))
    assert vmm.wait_for_request() is not None
    r = vmm.report_status(1 | (1 << 63), MigrationResult.Success, b"abc")
    assert (r.pre_migration_status, r.error_code, r.data, r.kind) == (0, 0, b"abc", "EnableLogArea response")
    r = vmm.report_status(1, MigrationResult.NetworkError)
    assert (r.pre_migration_status, r.error_code, r.kind) == (1, 5, "Migration/Report request response")


def test_log_area_response_layout_and_level_validation() -> None:
    data = log_area_response(2)
    assert len(data) == 8 + 2 * 16 and data[:8] == struct.pack("<II", 2, 0)
    assert struct.unpack_from("<Q", data, 16)[0] == 4096
    assert enable_log_area(0)[0] == MigrationResult.InvalidParameter
    assert enable_log_area(6)[0] == MigrationResult.InvalidParameter
    assert enable_log_area(3)[0] == MigrationResult.Success
