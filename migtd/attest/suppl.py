"""The 822-byte supplemental data a verified quote yields: one codec for writer and readers.

Intel's servtd quote verification library hands MigTD a packed
``servtd_tdx_quote_suppl_data`` (attestation.md §3.6 = policy.md §1.2); our
DCAP verifier produces the same bytes (:meth:`SupplementalData.encode`) and
both policy engines read them (:func:`field`, :func:`tcb_status`, … or
:meth:`SupplementalData.decode`). :data:`FIELDS` is the one layout table: the
encoder is checked against it, the readers slice by it.

This module imports nothing but the project's error type, so ``policy`` can
depend on it without ``attest`` ever depending on ``policy``.

The readers are lenient on purpose: :func:`field` of a short report is a short
slice, because policy v1 judges a truncated peer report itself (with its own
error kind). :meth:`SupplementalData.decode` is the strict form.
"""

from __future__ import annotations

import datetime as _dt
import struct
from dataclasses import dataclass

from migtd.errors import FormatError

SIZE = 822
#: The name the policy engines use for :data:`SIZE`.
REPORT_SIZE = SIZE
#: The TD10 quote body occupies [0..584); a v5 TD15 body contributes only its first 584 bytes.
TD10_BODY_SIZE = 584
#: TCB_STATUS and QE_TCB_STATUS are 32-byte fields: ASCII, NUL-padded; a status name of 32
#: characters or more (``TDRelaunchAdvisedConfigurationNeeded`` has 36) fills the field and
#: is cut there, as a C writer copying into ``char[32]`` does.
STATUS_SIZE = 32
_S = "supplemental data"

#: name -> (offset, length), in report order.
FIELDS: dict[str, tuple[int, int]] = {
    "reserved0": (0, 16),            # TEE_TCB_SVN of the quote body
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
    "reserved2": (630, 4),           # QE identity miscselectMask
    "QE_ATTRIBUTES": (634, 16),
    "reserved3": (650, 16),          # QE identity attributesMask
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

#: :class:`SupplementalData`'s fields in order, packed: the same layout as :data:`FIELDS`
#: from FMSPC on (a test checks every offset against the table).
_LAYOUT = struct.Struct("<584s6s16sH16sBB4s4s16s16s32s32sHHQ32sQQ32s")


# --------------------------------------------------------------------------- readers


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
    """TCB_STATUS up to the first NUL; :class:`FormatError` when that is not UTF-8."""
    raw = field(report, "TCB_STATUS").split(b"\0", 1)[0]
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise FormatError(_S, "TCB_STATUS", FIELDS["TCB_STATUS"][0] + exc.start, "is not UTF-8") from None


def tcb_date_seconds(report: bytes) -> int:
    """TCB_DATE as Unix seconds (u64 LE)."""
    return int.from_bytes(field(report, "TCB_DATE"), "little")


def iso8601(seconds: int) -> str:
    """Unix seconds -> ``YYYY-MM-DDTHH:MM:SSZ`` (UTC); :class:`FormatError` when out of range."""
    try:
        stamp = _dt.datetime.fromtimestamp(seconds, _dt.UTC)
    except (OverflowError, OSError, ValueError):
        raise FormatError(_S, "TCB_DATE", FIELDS["TCB_DATE"][0],
                          f"{seconds} is outside the representable range of dates") from None
    return stamp.strftime("%Y-%m-%dT%H:%M:%SZ")


# --------------------------------------------------------------------------- the typed record


def _status_field(status: str) -> bytes:
    raw = status.encode("ascii")[:STATUS_SIZE]
    return raw + bytes(STATUS_SIZE - len(raw))


def _status_text(raw: bytes, name: str) -> str:
    text = raw.split(b"\0", 1)[0]
    try:
        return text.decode("ascii")
    except UnicodeDecodeError:
        raise FormatError(_S, name, FIELDS[name][0], "is not ASCII text") from None


@dataclass(frozen=True, slots=True)
class SupplementalData:
    """Every field of the 822 bytes, as values.

    The verifier fills it from the quote, the PCK certificate and the matched
    TCB levels (attestation.md §3.6 says which comes from where); the dates
    are Unix seconds, the statuses their names.
    """

    td10_body: bytes                  # [0..584): TD10 quote body verbatim
    fmspc: bytes
    tdx_tcb_components: bytes         # matched TDX TCB level's 16 SVNs
    pce_svn: int
    sgx_tcb_components: bytes         # matched TDX TCB level's 16 SGX SVNs
    tdx_module_major_ver: int
    tdx_module_svn: int               # matched module level's ISVSVN (0 for major version 0)
    qe_miscselect: bytes              # QE MISCSELECT & miscselectMask
    qe_miscselect_mask: bytes
    qe_attributes: bytes              # QE ATTRIBUTES & attributesMask
    qe_attributes_mask: bytes
    qe_mrenclave: bytes
    qe_mrsigner: bytes
    qe_isvprodid: int
    qe_isvsvn: int                    # matched QE identity level's ISVSVN
    tcb_date: int
    tcb_status: str
    platform_tcb_date: int
    qe_tcb_date: int
    qe_tcb_status: str

    def encode(self) -> bytes:
        """The packed 822 bytes; a value that does not fit its field is a ValueError."""
        for name, value, size in (("td10_body", self.td10_body, TD10_BODY_SIZE), ("FMSPC", self.fmspc, 6),
                                  ("TDX_TCB_COMPONENTS", self.tdx_tcb_components, 16),
                                  ("SGX_TCB_COMPONENTS", self.sgx_tcb_components, 16),
                                  ("QE_MISCSELECT", self.qe_miscselect, 4), ("reserved2", self.qe_miscselect_mask, 4),
                                  ("QE_ATTRIBUTES", self.qe_attributes, 16), ("reserved3", self.qe_attributes_mask, 16),
                                  ("QE_MRENCLAVE", self.qe_mrenclave, 32), ("QE_MRSIGNER", self.qe_mrsigner, 32)):
            if len(value) != size:
                raise ValueError(f"{name} is {size} bytes, got {len(value)}")
        try:
            status, qe_status = _status_field(self.tcb_status), _status_field(self.qe_tcb_status)
        except UnicodeEncodeError:
            raise ValueError("a TCB status is not ASCII") from None
        try:
            return _LAYOUT.pack(
                self.td10_body, self.fmspc, self.tdx_tcb_components, self.pce_svn, self.sgx_tcb_components,
                self.tdx_module_major_ver, self.tdx_module_svn, self.qe_miscselect, self.qe_miscselect_mask,
                self.qe_attributes, self.qe_attributes_mask, self.qe_mrenclave, self.qe_mrsigner, self.qe_isvprodid,
                self.qe_isvsvn, self.tcb_date, status, self.platform_tcb_date, self.qe_tcb_date, qe_status)
        except struct.error as exc:
            raise ValueError(f"a value does not fit its field: {exc}") from None

    @classmethod
    def decode(cls, report: bytes) -> SupplementalData:
        """Exactly 822 bytes back into values; :class:`FormatError` for any other length
        or a status that is not ASCII."""
        report = bytes(report)
        if len(report) != SIZE:
            raise FormatError(_S, "length", 0, f"must be {SIZE} bytes, got {len(report)}")
        values = list(_LAYOUT.unpack(report))
        values[16] = _status_text(values[16], "TCB_STATUS")
        values[19] = _status_text(values[19], "QE_TCB_STATUS")
        return cls(*values)
