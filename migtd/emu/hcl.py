"""Azure HCL attestation reports: parse the vTPM's NV blob, and build small ones for tests.

On an Azure TDX CVM the paravisor (HCL) answers a report request by writing an
"HCL report" into vTPM NV index 0x01400001. It wraps the TDX TDREPORT together
with a JSON "runtime claims" document, and the TDREPORT's REPORTDATA is
``SHA-256(runtime claims) || 32 zero bytes`` (attestation.md §6.3).

Layout (little-endian u32s)::

    [0..32)       header: "HCLA", version, report_size, request_type, status, reserved
    [32..1216)    hardware report area (TDX uses [32..1056), the rest is zero)
    [1216..1236)  hcl data header: data_size, version, report_type, hash_type, var_size
    [1236..)      runtime claims (UTF-8 JSON), then zero padding up to the NV size

Everything here is bytes in, values out: no TPM, no I/O. That keeps the parser
fuzzable and lets tests build valid blobs that fit swtpm's 2048-byte NV cap.
"""

from __future__ import annotations

import enum
import hashlib
import json
import struct
from dataclasses import dataclass

from migtd.attest.tdreport import REPORT_TYPE_TDX
from migtd.attest.tdreport import TDREPORT_SIZE as TD_REPORT_SIZE
from migtd.errors import FormatError
from migtd.inputs import InputError, load_json

SIGNATURE = b"HCLA"
HEADER_SIZE = 32
HW_REPORT_OFFSET = HEADER_SIZE
HW_REPORT_SIZE = 1184  # max(SNP report 1184, TDX report 1024)
HCL_DATA_OFFSET = HW_REPORT_OFFSET + HW_REPORT_SIZE  # 1216
HCL_DATA_HEADER_SIZE = 20
VAR_DATA_OFFSET = HCL_DATA_OFFSET + HCL_DATA_HEADER_SIZE  # 1236
FIXED_SIZE = VAR_DATA_OFFSET

#: Values the paravisor writes; the builder uses them so test blobs look real.
DEFAULT_VERSION = 2
DEFAULT_REQUEST_TYPE = 2
DEFAULT_HCL_DATA_VERSION = 1

_REPORT_DATA = slice(128, 192)

_STRUCT = "HCL report"


class HclReportType(enum.IntEnum):
    """Which hardware report the HCL wrapped (hcl data ``report_type``)."""

    SNP = 2
    TDX = 4


class HclHashType(enum.IntEnum):
    """Hash the paravisor used to bind the runtime claims into REPORTDATA."""

    SHA256 = 1
    SHA384 = 2
    SHA512 = 3


@dataclass(frozen=True)
class HclReport:
    """A parsed, validated HCL report holding a TDX TDREPORT."""

    version: int
    report_size: int
    request_type: int
    status: int
    hcl_data_version: int
    hash_type: HclHashType
    td_report: bytes
    runtime_claims: bytes

    @property
    def report_data(self) -> bytes:
        """The 64-byte REPORTDATA inside the TD report."""
        return self.td_report[_REPORT_DATA]

    def claims_bound(self) -> bool:
        """True when REPORTDATA is the hash of the runtime claims, as the paravisor makes it.

        A mismatch means the TD report and the claims did not come from the
        same request (or the blob was assembled by hand).
        """
        return self.report_data == claims_report_data(self.runtime_claims, self.hash_type)

    def user_data(self) -> bytes | None:
        """The ``user-data`` claim decoded from hex, or None when absent or unreadable.

        The paravisor copies the 64 bytes written to NV 0x01400002 into this
        claim (upper-case hex), which is how a caller can tell a fresh report
        from a stale one.
        """
        try:
            claims = load_json(self.runtime_claims, "runtime claims")
        except InputError:  # not UTF-8, not JSON, or nested deeper than any real claims document
            return None
        value = claims.get("user-data") if isinstance(claims, dict) else None
        if not isinstance(value, str):
            return None
        try:
            return bytes.fromhex(value)
        except ValueError:
            return None


def parse_hcl_report(blob: bytes) -> HclReport:
    """Validate an HCL report and return its parts.

    Raises :class:`~migtd.errors.FormatError` naming the field and offset for
    every structural problem, so a user can see *what* the vTPM handed back
    instead of getting a bad TD report further down the line.
    """
    size = len(blob)
    if size < FIXED_SIZE:
        raise FormatError(_STRUCT, "length", 0,
                          f"{size} bytes, an HCL report has at least {FIXED_SIZE}")
    if blob[:4] != SIGNATURE:
        raise FormatError(_STRUCT, "signature", 0,
                          f"expected 'HCLA' (48434c41), found {blob[:4].hex()}")
    version, report_size, request_type, status = struct.unpack_from("<4I", blob, 4)
    data_size, data_version, report_type, hash_type, var_size = struct.unpack_from(
        "<5I", blob, HCL_DATA_OFFSET)

    if report_type != HclReportType.TDX:
        known = {int(t): t.name for t in HclReportType}
        name = known.get(report_type, "unknown")
        raise FormatError(_STRUCT, "hcl_data.report_type", HCL_DATA_OFFSET + 8,
                          f"{report_type} ({name}), expected {int(HclReportType.TDX)} (TDX)")
    if hash_type not in {int(t) for t in HclHashType}:
        raise FormatError(_STRUCT, "hcl_data.report_data_hash_type", HCL_DATA_OFFSET + 12,
                          f"unknown hash type {hash_type}")
    var_end = VAR_DATA_OFFSET + var_size
    if var_end > size:
        raise FormatError(_STRUCT, "hcl_data.variable_data_size", HCL_DATA_OFFSET + 16,
                          f"{var_size} bytes of runtime claims do not fit in a {size}-byte blob")
    if data_size != HCL_DATA_HEADER_SIZE + var_size:
        raise FormatError(_STRUCT, "hcl_data.data_size", HCL_DATA_OFFSET,
                          f"{data_size} != {HCL_DATA_HEADER_SIZE} + variable_data_size {var_size}")
    if report_size != HCL_DATA_OFFSET + data_size:
        raise FormatError(_STRUCT, "report_size", 8,
                          f"{report_size} != {HCL_DATA_OFFSET} + hcl_data.data_size {data_size}")

    td_report = bytes(blob[HW_REPORT_OFFSET:HW_REPORT_OFFSET + TD_REPORT_SIZE])
    if td_report[0] != REPORT_TYPE_TDX:
        raise FormatError(_STRUCT, "td_report.report_type", HW_REPORT_OFFSET,
                          f"0x{td_report[0]:02x}, expected 0x81 (TDX)")
    return HclReport(
        version=version,
        report_size=report_size,
        request_type=request_type,
        status=status,
        hcl_data_version=data_version,
        hash_type=HclHashType(hash_type),
        td_report=td_report,
        runtime_claims=bytes(blob[VAR_DATA_OFFSET:var_end]),
    )


def claims_report_data(runtime_claims: bytes,
                       hash_type: HclHashType = HclHashType.SHA256) -> bytes:
    """REPORTDATA the paravisor derives from runtime claims: digest, zero-padded to 64 bytes."""
    algorithm = {HclHashType.SHA256: "sha256", HclHashType.SHA384: "sha384",
                 HclHashType.SHA512: "sha512"}[hash_type]
    return hashlib.new(algorithm, runtime_claims).digest().ljust(64, b"\0")


def runtime_claims(user_data: bytes, vm_unique_id: str = "00000000-0000-0000-0000-000000000000") -> bytes:
    """A compact runtime-claims document shaped like Azure's (keys, vm-configuration, user-data).

    The real document carries two RSA JWKs and is about 1.2 KB; this one keeps
    the same keys but stays small so a whole HCL blob fits in swtpm's NV cap.
    """
    doc = {
        "keys": [],
        "vm-configuration": {
            "console-enabled": False,
            "secure-boot": True,
            "tpm-enabled": True,
            "tpm-persisted": True,
            "vmUniqueId": vm_unique_id,
        },
        "user-data": user_data.hex().upper(),
    }
    return json.dumps(doc, separators=(",", ":")).encode("utf-8")


def build_hcl_report(td_report: bytes, claims: bytes, *, bind_claims: bool = True,
                     pad_to: int | None = None, status: int = 0) -> bytes:
    """Assemble a layout-valid HCL report around ``td_report``.

    With ``bind_claims`` the TD report's REPORTDATA is replaced by
    ``SHA-256(claims) || 0*32``, exactly what the paravisor does; the
    REPORTDATA sits outside both TDREPORT hashes, so the report stays
    self-consistent. ``pad_to`` zero-pads the blob like a real NV index.
    """
    if len(td_report) != TD_REPORT_SIZE:
        raise ValueError(f"a TD report is {TD_REPORT_SIZE} bytes, got {len(td_report)}")
    report = bytearray(td_report)
    if bind_claims:
        report[_REPORT_DATA] = claims_report_data(claims)
    data_size = HCL_DATA_HEADER_SIZE + len(claims)
    out = bytearray()
    out += SIGNATURE
    out += struct.pack("<4I", DEFAULT_VERSION, HCL_DATA_OFFSET + data_size,
                       DEFAULT_REQUEST_TYPE, status)
    out += bytes(12)
    out += report + bytes(HW_REPORT_SIZE - TD_REPORT_SIZE)
    out += struct.pack("<5I", data_size, DEFAULT_HCL_DATA_VERSION, HclReportType.TDX,
                       HclHashType.SHA256, len(claims))
    out += claims
    if pad_to is not None:
        if pad_to < len(out):
            raise ValueError(f"cannot pad a {len(out)}-byte HCL report to {pad_to} bytes")
        out += bytes(pad_to - len(out))
    return bytes(out)
