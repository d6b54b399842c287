"""TDREPORT_STRUCT: the 1024-byte report a TD obtains from TDG.MR.REPORT.

Three parts (attestation.md §1): REPORTMACSTRUCT [0..256), TEE_TCB_INFO
[256..495) plus 17 reserved bytes, and TDINFO_STRUCT [512..1024). The MAC is
CPU-keyed and cannot be checked in software; what *can* be checked is that the
two hashes in REPORTMACSTRUCT match the other two parts (§1.4), which is what
MigTD's rebinding path does with a peer's raw report.

The same types are used to build reports: the mock QE provider fills in
:class:`TdInfo` and :class:`TeeTcbInfo` and :meth:`TdReport.build` computes the
hashes, so a built report always passes :meth:`TdReport.check_integrity`.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field

from migtd.attest._reader import Reader
from migtd.errors import FormatError

TDREPORT_SIZE = 1024
TEE_TCB_INFO_SIZE = 239
TDINFO_SIZE = 512
REPORT_TYPE_TDX = 0x81
_STRUCT = "TDREPORT"


@dataclass(frozen=True)
class TeeTcbInfo:
    """TEE_TCB_INFO: which TDX module (SEAM) produced the report, and its SVNs."""

    valid: bytes = bytes(8)
    tee_tcb_svn: bytes = bytes(16)
    mrseam: bytes = bytes(48)
    mrsignerseam: bytes = bytes(48)
    attributes: bytes = bytes(8)
    tee_tcb_svn2: bytes = bytes(16)

    def to_bytes(self) -> bytes:
        """The 239 hashed bytes (reserved tail zero)."""
        out = (self.valid + self.tee_tcb_svn + self.mrseam + self.mrsignerseam
               + self.attributes + self.tee_tcb_svn2)
        return out + bytes(TEE_TCB_INFO_SIZE - len(out))

    @classmethod
    def parse(cls, data: bytes, base: int = 256) -> TeeTcbInfo:
        r = Reader(data, _STRUCT, base)
        return cls(
            valid=r.take(8, "TEE_TCB_INFO.VALID"),
            tee_tcb_svn=r.take(16, "TEE_TCB_INFO.TEE_TCB_SVN"),
            mrseam=r.take(48, "TEE_TCB_INFO.MRSEAM"),
            mrsignerseam=r.take(48, "TEE_TCB_INFO.MRSIGNERSEAM"),
            attributes=r.take(8, "TEE_TCB_INFO.ATTRIBUTES"),
            tee_tcb_svn2=r.take(16, "TEE_TCB_INFO.TEE_TCB_SVN2"),
        )


@dataclass(frozen=True)
class TdInfo:
    """TDINFO_STRUCT: the TD's own measurements and configuration."""

    attributes: bytes = bytes(8)
    xfam: bytes = bytes(8)
    mrtd: bytes = bytes(48)
    mrconfigid: bytes = bytes(48)
    mrowner: bytes = bytes(48)
    mrownerconfig: bytes = bytes(48)
    rtmrs: tuple[bytes, bytes, bytes, bytes] = field(default=(bytes(48),) * 4)
    servtd_hash: bytes = bytes(48)

    def to_bytes(self) -> bytes:
        out = (self.attributes + self.xfam + self.mrtd + self.mrconfigid + self.mrowner
               + self.mrownerconfig + b"".join(self.rtmrs) + self.servtd_hash)
        return out + bytes(TDINFO_SIZE - len(out))

    @classmethod
    def parse(cls, data: bytes, base: int = 512) -> TdInfo:
        r = Reader(data, _STRUCT, base)
        attributes = r.take(8, "TDINFO.ATTRIBUTES")
        xfam = r.take(8, "TDINFO.XFAM")
        mrtd = r.take(48, "TDINFO.MRTD")
        mrconfigid = r.take(48, "TDINFO.MRCONFIGID")
        mrowner = r.take(48, "TDINFO.MROWNER")
        mrownerconfig = r.take(48, "TDINFO.MROWNERCONFIG")
        rtmrs = tuple(r.take(48, f"TDINFO.RTMR{i}") for i in range(4))
        servtd_hash = r.take(48, "TDINFO.SERVTD_HASH")
        return cls(attributes, xfam, mrtd, mrconfigid, mrowner, mrownerconfig,
                   rtmrs, servtd_hash)  # type: ignore[arg-type]


@dataclass(frozen=True)
class TdReport:
    """A parsed (or built) TDREPORT_STRUCT."""

    report_type: int
    report_subtype: int
    report_version: int
    cpusvn: bytes
    tee_tcb_info_hash: bytes
    tee_info_hash: bytes
    report_data: bytes
    mac: bytes
    tee_tcb_info: TeeTcbInfo
    td_info: TdInfo
    #: The bytes this report was parsed from (empty for a built one); reserved
    #: areas are kept here so integrity checks hash what was actually received.
    raw: bytes = field(default=b"", compare=False, repr=False)

    @classmethod
    def build(cls, *, report_data: bytes, tee_tcb_info: TeeTcbInfo, td_info: TdInfo,
              cpusvn: bytes = bytes(16), report_version: int = 0,
              mac: bytes = bytes(32)) -> TdReport:
        """A report whose two hashes are computed from the given parts."""
        if len(report_data) != 64:
            raise FormatError(_STRUCT, "REPORTDATA", 128, f"must be 64 bytes, got {len(report_data)}")
        return cls(
            report_type=REPORT_TYPE_TDX, report_subtype=0, report_version=report_version,
            cpusvn=cpusvn,
            tee_tcb_info_hash=hashlib.sha384(tee_tcb_info.to_bytes()).digest(),
            tee_info_hash=hashlib.sha384(td_info.to_bytes()).digest(),
            report_data=report_data, mac=mac, tee_tcb_info=tee_tcb_info, td_info=td_info,
        )

    @classmethod
    def parse(cls, data: bytes) -> TdReport:
        """Parse exactly 1024 bytes; anything else is a :class:`FormatError`."""
        data = bytes(data)
        if len(data) != TDREPORT_SIZE:
            raise FormatError(_STRUCT, "length", 0, f"must be {TDREPORT_SIZE} bytes, got {len(data)}")
        r = Reader(data, _STRUCT)
        report_type, subtype, version = r.take(1, "type")[0], r.take(1, "subtype")[0], r.take(1, "version")[0]
        r.take(13, "reserved")
        cpusvn = r.take(16, "CPUSVN")
        tcb_hash = r.take(48, "TEE_TCB_INFO_HASH")
        info_hash = r.take(48, "TEE_INFO_HASH")
        report_data = r.take(64, "REPORTDATA")
        r.take(32, "reserved")
        mac = r.take(32, "MAC")
        return cls(report_type, subtype, version, cpusvn, tcb_hash, info_hash, report_data, mac,
                   TeeTcbInfo.parse(data), TdInfo.parse(data), raw=data)

    def to_bytes(self) -> bytes:
        if self.raw:
            return self.raw
        mac_struct = (bytes([self.report_type, self.report_subtype, self.report_version])
                      + bytes(13) + self.cpusvn + self.tee_tcb_info_hash + self.tee_info_hash
                      + self.report_data + bytes(32) + self.mac)
        return mac_struct + self.tee_tcb_info.to_bytes() + bytes(17) + self.td_info.to_bytes()

    def check_integrity(self) -> None:
        """Check the §1.4 software-checkable hashes; raise :class:`FormatError` if off.

        This is the part of MigTD's ``verify_tdreport`` that does not need the
        CPU: both hashes must match and TEE_INFO_HASH must not be all zero.
        """
        data = self.to_bytes()
        if hashlib.sha384(data[256:495]).digest() != self.tee_tcb_info_hash:
            raise FormatError(_STRUCT, "TEE_TCB_INFO_HASH", 32, "does not match SHA-384 of TEE_TCB_INFO")
        if not any(self.tee_info_hash):
            raise FormatError(_STRUCT, "TEE_INFO_HASH", 80, "is all zero")
        if hashlib.sha384(data[512:1024]).digest() != self.tee_info_hash:
            raise FormatError(_STRUCT, "TEE_INFO_HASH", 80, "does not match SHA-384 of TDINFO")
