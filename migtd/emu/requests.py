"""The VMM requests of the emulated flow: queue contents and payload codecs.

Protocol.md §2.1 fixes which requests a run queues (EnableLogArea,
GetTDReport, StartMigration, with request-id bits 63/62 set on the first
two); §2.3–2.4 fix their payloads and how MigTD validates them, including
the optional 512-byte initMigtdData after the start request's 56-byte header
(:mod:`migtd.emu.init_data`). Encoding
(the VMM side) and parsing (the MigTD side) are both here so tests can
check one against the other and against the spec's tables.
"""

from __future__ import annotations

import enum
import struct
from typing import NamedTuple

from migtd.emu.ghci import VMM_SUCCESS, GhciBuffer, decode_buffer, encode_buffer, wait_for_request_status
from migtd.errors import MigtdError
from migtd.result import MigrationResult

ENABLE_LOG_AREA_BIT = 1 << 63
GET_REPORT_BIT = 1 << 62
LOG_LEVEL_INFO = 3
MIGRATION_REPORTDATA_TAG = b"MIGTD_MIGRATION"
REBINDING_REPORTDATA_TAG = b"MIGTD_REBINDING"
#: REPORTDATA MigTD actually uses for GetTDReport at HEAD (the request's is only logged).
HOST_REPORT_DATA = b"HostRequestedMigTDReport" + bytes(40)

MIGRATION_INFO = struct.Struct("<QBB6s4QQ")  # 56 bytes
MIGRATION_INFO_SIZE = MIGRATION_INFO.size
INIT_TD_INFO_SIZE = 512


class Operation(enum.IntEnum):
    """``DataStatusOperation``: byte 1 of a WaitForRequest status word."""

    StartMigration = 1
    StartRebinding = 2
    GetTDReport = 3
    EnableLogArea = 4
    GetMigtdData = 5


class RequestError(MigtdError):
    """A malformed or unsupported request; MigTD reports ``result`` for ``request_id``."""

    def __init__(self, message: str, result: MigrationResult, request_id: int) -> None:
        super().__init__(message, result)
        self.request_id = request_id


class MigrationInfo(NamedTuple):
    """MigtdMigrationInformation (StartMigration / StartRebinding payload)."""

    request_id: int
    is_source: bool
    uuid: tuple[int, int, int, int]
    binding_handle: int
    operation_byte: int = 0  # byte 10; the emulator puts the rebind operation there
    has_init_data: int = 0
    init_td_info: bytes = b""

    def encode(self) -> bytes:
        """The 56-byte structure (plus the 512-byte init TDINFO when present), as the VMM writes it."""
        reserved = bytes([self.operation_byte]) + bytes(5)
        body = MIGRATION_INFO.pack(self.request_id, 1 if self.is_source else 0, self.has_init_data,
                                   reserved, *self.uuid, self.binding_handle)
        return body + self.init_td_info


class Request(NamedTuple):
    """One request as the VMM queues it and as MigTD understands it."""

    operation: Operation
    request_id: int
    report_data: bytes = b""  # GetTDReport / GetMigtdData (64 bytes)
    log_level: int = 0  # EnableLogArea
    migration: MigrationInfo | None = None  # StartMigration / StartRebinding

    def payload(self) -> bytes:
        """Payload bytes the VMM writes (§2.3)."""
        if self.operation == Operation.EnableLogArea:
            return struct.pack("<QB7s", self.request_id, self.log_level, bytes(7))
        if self.operation in (Operation.GetTDReport, Operation.GetMigtdData):
            return struct.pack("<Q", self.request_id) + self.report_data
        assert self.migration is not None
        return self.migration.encode()

    def encode(self) -> bytes:
        """The whole GHCI buffer of the WaitForRequest answer."""
        return encode_buffer(wait_for_request_status(self.operation), self.payload())


def report_data_for(request_id: int, tag: bytes) -> bytes:
    """``R`` LE ‖ tag ‖ zeros, 64 bytes (§2.1)."""
    return (struct.pack("<Q", request_id) + tag).ljust(64, b"\0")


def _queue(request_id: int, report_op: Operation, tag: bytes, start_op: Operation,
           info: MigrationInfo) -> list[Request]:
    """EnableLogArea (bit 63), the report request (bit 62, REPORTDATA tagged), then the start request."""
    return [
        Request(Operation.EnableLogArea, request_id | ENABLE_LOG_AREA_BIT, log_level=LOG_LEVEL_INFO),
        Request(report_op, request_id | GET_REPORT_BIT, report_data=report_data_for(request_id, tag)),
        Request(start_op, request_id, migration=info),
    ]


def _info(request_id: int, is_source: bool, uuid: tuple[int, int, int, int], binding_handle: int,
          init_td_info: bytes | None, operation_byte: int = 0) -> MigrationInfo:
    """The start request's payload; with ``init_td_info`` (initMigtdData) appended and ``has_init_data`` = 1."""
    if init_td_info is None:
        return MigrationInfo(request_id, is_source, uuid, binding_handle, operation_byte)
    if len(init_td_info) != INIT_TD_INFO_SIZE:
        raise ValueError(f"initMigtdData is {INIT_TD_INFO_SIZE} bytes")
    return MigrationInfo(request_id, is_source, uuid, binding_handle, operation_byte, 1, bytes(init_td_info))


def migration_queue(request_id: int, is_source: bool, uuid: tuple[int, int, int, int],
                    binding_handle: int, init_td_info: bytes | None = None) -> list[Request]:
    """EnableLogArea → GetTDReport → StartMigration for ``--operation migration``."""
    return _queue(request_id, Operation.GetTDReport, MIGRATION_REPORTDATA_TAG, Operation.StartMigration,
                  _info(request_id, is_source, uuid, binding_handle, init_td_info))


def rebinding_queue(request_id: int, is_source: bool, uuid: tuple[int, int, int, int],
                    binding_handle: int, finalize: bool, init_td_info: bytes | None = None) -> list[Request]:
    """EnableLogArea → GetMigtdData → StartRebinding for the rebind operations."""
    return _queue(request_id, Operation.GetMigtdData, REBINDING_REPORTDATA_TAG, Operation.StartRebinding,
                  _info(request_id, is_source, uuid, binding_handle, init_td_info, 1 if finalize else 0))


def parse_request(buf: bytes, *, policy_v2: bool = False) -> Request | None:
    """MigTD's reading of a WaitForRequest buffer (§2.4 step 3).

    Returns None for "nothing yet" (status and length zero). Raises
    :class:`RequestError` carrying the code MigTD reports: 11 for a VMM
    failure status, 12 for an unknown or unsupported operation, 1 for a
    wrong length or non-zero reserved bytes.
    """
    try:
        head = decode_buffer(buf)
    except MigtdError as exc:
        raise RequestError(exc.message, MigrationResult.InvalidParameter, 0) from None
    if head.status == 0 and not head.payload:
        return None
    rid = int.from_bytes(head.payload[:8].ljust(8, b"\0"), "little")
    if head.status_byte != VMM_SUCCESS:
        raise RequestError(f"VMM status byte {head.status_byte:#04x} is not success",
                           MigrationResult.VmmInternalError, rid)
    try:
        op = Operation(head.operation)
    except ValueError:
        raise RequestError(f"unknown operation {head.operation}",
                           MigrationResult.UnsupportedOperationError, rid) from None
    if op in (Operation.StartRebinding, Operation.GetMigtdData) and not policy_v2:
        raise RequestError(f"{op.name} needs a policy v2 MigTD",
                           MigrationResult.UnsupportedOperationError, rid)
    return _parse_payload(op, head, rid, policy_v2)


def _bad(op: Operation, rid: int, problem: str) -> RequestError:
    return RequestError(f"{op.name} request: {problem}", MigrationResult.InvalidParameter, rid)


def _parse_payload(op: Operation, head: GhciBuffer, rid: int, policy_v2: bool) -> Request:
    data = head.payload
    if op == Operation.EnableLogArea:
        if len(data) != 16:
            raise _bad(op, rid, f"payload is {len(data)} bytes, expected 16")
        if any(data[9:16]):
            raise _bad(op, rid, "reserved bytes 9..16 are not zero")
        return Request(op, rid, log_level=data[8])
    if op in (Operation.GetTDReport, Operation.GetMigtdData):
        if len(data) == 8:
            return Request(op, rid, report_data=bytes(64))
        if len(data) != 72:
            raise _bad(op, rid, f"payload is {len(data)} bytes, expected 8 or 72")
        return Request(op, rid, report_data=data[8:72])
    sizes = (MIGRATION_INFO_SIZE, MIGRATION_INFO_SIZE + INIT_TD_INFO_SIZE) if policy_v2 else (MIGRATION_INFO_SIZE,)
    if len(data) not in sizes:
        raise _bad(op, rid, f"payload is {len(data)} bytes, expected {' or '.join(map(str, sizes))}")
    _, source, has_init, reserved, u0, u1, u2, u3, binding = MIGRATION_INFO.unpack_from(data, 0)
    if has_init not in (0, 1) or (has_init == 1) != (len(data) > MIGRATION_INFO_SIZE):
        raise _bad(op, rid, f"has_init_data is {has_init} for a {len(data)}-byte payload")
    # StartRebinding: byte 10 says prepare (0) or finalize (1), as the emulator writes it.
    # Upstream's MigTD dropped the two-phase model and rejects the 1 (protocol.md §7); we keep it.
    rebind_op = reserved[0] if op == Operation.StartRebinding else 0
    if rebind_op > 1 or any(reserved[1:] if op == Operation.StartRebinding else reserved):
        raise _bad(op, rid, "reserved bytes 10..16 are not zero" if op != Operation.StartRebinding
                   else "byte 10 (rebind operation) is not 0 or 1, or reserved bytes 11..16 are not zero")
    info = MigrationInfo(rid, source == 1, (u0, u1, u2, u3), binding, rebind_op, has_init,
                         data[MIGRATION_INFO_SIZE:])
    return Request(op, rid, migration=info)
