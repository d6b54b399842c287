"""The 822-byte verified report (``servtd_tdx_quote_suppl_data``) both engines read.

Quote verification hands MigTD this packed blob; policy v1 compares its
fields between the two MigTDs, policy v2 derives TCB facts from it. Offsets
are spec/policy.md §1.2 (= attestation.md §3.6). Only slicing lives here, so
generators, evaluators and tests agree on one table.
"""

from __future__ import annotations

import datetime as _dt

REPORT_SIZE = 822

#: name -> (offset, length), in report order.
FIELDS: dict[str, tuple[int, int]] = {
    "reserved0": (0, 16),
    "MRSEAM": (16, 48),
    "MRSIGNERSEAM": (64, 48),
    "SEAM_ATTRIBUTES": (112, 8),
    "TD_ATTRIBUTES": (120, 8),
    "XFAM": (128, 8),
    "MRTD": (136, 48),
    "MRCONFIGID": (184, 48),
    "MROWNER": (232, 48),
    "MROWNERCONFIG": (280, 48),
    "RTMR0": (328, 48),
    "RTMR1": (376, 48),
    "RTMR2": (424, 48),
    "RTMR3": (472, 48),
    "REPORTDATA": (520, 64),
    "FMSPC": (584, 6),
    "TDX_TCB_COMPONENTS": (590, 16),
    "PCE_SVN": (606, 2),
    "SGX_TCB_COMPONENTS": (608, 16),
    "TDX_MODULE_MAJOR_VER": (624, 1),
    "TDX_MODULE_SVN": (625, 1),
    "QE_MISCSELECT": (626, 4),
    "reserved2": (630, 4),
    "QE_ATTRIBUTES": (634, 16),
    "reserved3": (650, 16),
    "QE_MRENCLAVE": (666, 32),
    "QE_MRSIGNER": (698, 32),
    "QE_ISVPRODID": (730, 2),
    "QE_ISVSVN": (732, 2),
    "TCB_DATE": (734, 8),
    "TCB_STATUS": (742, 32),
    "PLATFORM_TCB_DATE": (774, 8),
    "QE_TCB_DATE": (782, 8),
    "QE_TCB_STATUS": (790, 32),
}

RTMR_FIELDS = ("RTMR0", "RTMR1", "RTMR2", "RTMR3")


def field(report: bytes, name: str) -> bytes:
    """The raw bytes of one field (short reports give a short slice)."""
    off, size = FIELDS[name]
    return bytes(report[off:off + size])


def with_field(report: bytes, name: str, value: bytes) -> bytes:
    """A copy of ``report`` with one field replaced; ``value`` must fit exactly."""
    off, size = FIELDS[name]
    if len(value) != size:
        raise ValueError(f"{name} is {size} bytes, got {len(value)}")
    return bytes(report[:off]) + bytes(value) + bytes(report[off + size:])


def rtmrs(report: bytes) -> list[bytes]:
    """RTMR0..3 of the report, for event-log replay."""
    return [field(report, n) for n in RTMR_FIELDS]


def tcb_status(report: bytes) -> str:
    """TCB_STATUS up to the first NUL; raises UnicodeDecodeError for non-UTF-8."""
    raw = field(report, "TCB_STATUS").split(b"\0", 1)[0]
    return raw.decode("utf-8")


def tcb_date_seconds(report: bytes) -> int:
    """TCB_DATE as Unix seconds (u64 LE)."""
    return int.from_bytes(field(report, "TCB_DATE"), "little")


def iso8601(seconds: int) -> str:
    """Unix seconds -> ``YYYY-MM-DDTHH:MM:SSZ`` (UTC); ValueError when out of range."""
    try:
        stamp = _dt.datetime.fromtimestamp(seconds, _dt.timezone.utc)
    except (OverflowError, OSError, ValueError) as exc:
        raise ValueError(f"TCB date {seconds} is outside the representable range") from exc
    return stamp.strftime("%Y-%m-%dT%H:%M:%SZ")
