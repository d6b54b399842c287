"""TDX DCAP quotes, versions 4 and 5 (attestation.md §2).

``parse_quote`` turns bytes into a :class:`Quote` with every field of the
header, the TD report body, the signature data, the QE report certification
data (type 6) and its nested PCK certificate chain (type 5). A malformed
quote raises :class:`~migtd.errors.FormatError` naming the field and its
absolute offset; no other exception type escapes.

Bytes after the signature data are not part of the quote and are ignored
(the real Azure vector carries 70 trailing zero bytes).

The encoders (``to_bytes``) exist for the mock QE, which assembles quotes from
these same types so parse and build cannot drift apart.
"""

from __future__ import annotations

import dataclasses
import struct
from dataclasses import dataclass

from migtd.attest._reader import Reader
from migtd.attest.tdreport import TdInfo, TdReport, TeeTcbInfo
from migtd.errors import FormatError

HEADER_SIZE = 48
TD10_BODY_SIZE = 584
TD15_BODY_SIZE = 648
QE_REPORT_SIZE = 384
INTEL_QE_VENDOR_ID = bytes.fromhex("939a7233f79c4ca9940a0db3957f0607")
ATT_KEY_TYPE_ECDSA_P256 = 2
TEE_TYPE_TDX = 0x81
CERT_TYPE_QE_REPORT = 6
CERT_TYPE_PCK_CHAIN = 5
BODY_TYPE_TD10 = 2
BODY_TYPE_TD15 = 3
_BODY_SIZES = {BODY_TYPE_TD10: TD10_BODY_SIZE, BODY_TYPE_TD15: TD15_BODY_SIZE}
_S = "quote"


@dataclass(frozen=True)
class QuoteHeader:
    version: int
    att_key_type: int
    tee_type: int
    reserved: bytes
    qe_vendor_id: bytes
    user_data: bytes

    def to_bytes(self) -> bytes:
        return (self.version.to_bytes(2, "little") + self.att_key_type.to_bytes(2, "little")
                + self.tee_type.to_bytes(4, "little") + self.reserved + self.qe_vendor_id
                + self.user_data)

    @classmethod
    def read(cls, r: Reader) -> QuoteHeader:
        return cls(r.u16("header.version"), r.u16("header.att_key_type"), r.u32("header.tee_type"),
                   r.take(4, "header.reserved"), r.take(16, "header.qe_vendor_id"),
                   r.take(20, "header.user_data"))


@dataclass(frozen=True)
class TdQuoteBody:
    """TD10 body (584 bytes) or TD15 body (648 bytes: + TEE_TCB_SVN2, MRSERVICETD)."""

    tee_tcb_svn: bytes
    mrseam: bytes
    mrsignerseam: bytes
    seam_attributes: bytes
    td_attributes: bytes
    xfam: bytes
    mrtd: bytes
    mrconfigid: bytes
    mrowner: bytes
    mrownerconfig: bytes
    rtmrs: tuple[bytes, bytes, bytes, bytes]
    report_data: bytes
    tee_tcb_svn2: bytes | None = None
    mrservicetd: bytes | None = None

    def to_bytes(self) -> bytes:
        out = (self.tee_tcb_svn + self.mrseam + self.mrsignerseam + self.seam_attributes
               + self.td_attributes + self.xfam + self.mrtd + self.mrconfigid + self.mrowner
               + self.mrownerconfig + b"".join(self.rtmrs) + self.report_data)
        if self.tee_tcb_svn2 is not None:
            out += self.tee_tcb_svn2 + (self.mrservicetd or bytes(48))
        return out

    @classmethod
    def read(cls, r: Reader, td15: bool) -> TdQuoteBody:
        f = "body."
        tee_tcb_svn = r.take(16, f + "TEE_TCB_SVN")
        mrseam = r.take(48, f + "MRSEAM")
        mrsignerseam = r.take(48, f + "MRSIGNERSEAM")
        seam_attributes = r.take(8, f + "SEAMATTRIBUTES")
        td_attributes = r.take(8, f + "TDATTRIBUTES")
        xfam = r.take(8, f + "XFAM")
        mrtd = r.take(48, f + "MRTD")
        mrconfigid = r.take(48, f + "MRCONFIGID")
        mrowner = r.take(48, f + "MROWNER")
        mrownerconfig = r.take(48, f + "MROWNERCONFIG")
        rtmrs = tuple(r.take(48, f"{f}RTMR{i}") for i in range(4))
        report_data = r.take(64, f + "REPORTDATA")
        svn2 = r.take(16, f + "TEE_TCB_SVN2") if td15 else None
        mrservicetd = r.take(48, f + "MRSERVICETD") if td15 else None
        return cls(tee_tcb_svn, mrseam, mrsignerseam, seam_attributes, td_attributes, xfam, mrtd,
                   mrconfigid, mrowner, mrownerconfig, rtmrs, report_data,  # type: ignore[arg-type]
                   svn2, mrservicetd)

    @classmethod
    def from_td_report(cls, report: TdReport) -> TdQuoteBody:
        """The TD10 body a QE derives from a TD report (§2.2 "source" column)."""
        t, i = report.tee_tcb_info, report.td_info
        return cls(t.tee_tcb_svn, t.mrseam, t.mrsignerseam, t.attributes, i.attributes, i.xfam,
                   i.mrtd, i.mrconfigid, i.mrowner, i.mrownerconfig, i.rtmrs, report.report_data)


@dataclass(frozen=True)
class QeReport:
    """SGX REPORT_BODY of the Quoting Enclave (§2.5, 384 bytes)."""

    cpusvn: bytes
    miscselect: bytes
    isvextprodid: bytes
    attributes: bytes
    mrenclave: bytes
    mrsigner: bytes
    configid: bytes
    isvprodid: int
    isvsvn: int
    configsvn: int
    isvfamilyid: bytes
    report_data: bytes

    def to_bytes(self) -> bytes:
        return (self.cpusvn + self.miscselect + bytes(12) + self.isvextprodid + self.attributes
                + self.mrenclave + bytes(32) + self.mrsigner + bytes(32) + self.configid
                + self.isvprodid.to_bytes(2, "little") + self.isvsvn.to_bytes(2, "little")
                + self.configsvn.to_bytes(2, "little") + bytes(42) + self.isvfamilyid
                + self.report_data)

    @classmethod
    def read(cls, r: Reader) -> QeReport:
        f = "qe_report."
        cpusvn = r.take(16, f + "CPUSVN")
        miscselect = r.take(4, f + "MISCSELECT")
        r.take(12, f + "reserved1")
        isvextprodid = r.take(16, f + "ISVEXTPRODID")
        attributes = r.take(16, f + "ATTRIBUTES")
        mrenclave = r.take(32, f + "MRENCLAVE")
        r.take(32, f + "reserved2")
        mrsigner = r.take(32, f + "MRSIGNER")
        r.take(32, f + "reserved3")
        configid = r.take(64, f + "CONFIGID")
        isvprodid = r.u16(f + "ISVPRODID")
        isvsvn = r.u16(f + "ISVSVN")
        configsvn = r.u16(f + "CONFIGSVN")
        r.take(42, f + "reserved4")
        isvfamilyid = r.take(16, f + "ISVFAMILYID")
        report_data = r.take(64, f + "REPORTDATA")
        return cls(cpusvn, miscselect, isvextprodid, attributes, mrenclave, mrsigner, configid,
                   isvprodid, isvsvn, configsvn, isvfamilyid, report_data)


@dataclass(frozen=True)
class QeCertData:
    """Certification data type 6: QE report, its signature, auth data, PCK chain."""

    qe_report: QeReport
    qe_report_raw: bytes
    qe_report_signature: bytes
    qe_auth_data: bytes
    pck_cert_type: int
    pck_chain: bytes  # PEM, leaf first, as carried (usually ends in one NUL)

    def to_bytes(self) -> bytes:
        return (self.qe_report_raw + self.qe_report_signature
                + len(self.qe_auth_data).to_bytes(2, "little") + self.qe_auth_data
                + self.pck_cert_type.to_bytes(2, "little")
                + len(self.pck_chain).to_bytes(4, "little") + self.pck_chain)


@dataclass(frozen=True)
class Quote:
    """A parsed TDX quote. ``signed_region`` is exactly what the attestation key signed."""

    header: QuoteHeader
    body_type: int          # 2 (TD10) or 3 (TD15); v4 quotes are always TD10
    body: TdQuoteBody
    signature: bytes        # r||s, 64 bytes, big-endian
    attestation_key: bytes  # X||Y, 64 bytes, big-endian
    cert_data_type: int
    cert_data: QeCertData
    signed_region: bytes
    size: int               # bytes used; trailing bytes beyond this are ignored

    @property
    def version(self) -> int:
        return self.header.version


def _read_header_and_body(data: bytes) -> tuple[Reader, QuoteHeader, int, TdQuoteBody]:
    r = Reader(data, _S)
    header = QuoteHeader.read(r)
    if header.version == 4:
        body_type = BODY_TYPE_TD10
    elif header.version == 5:
        body_type = r.u16("body_type")
        size_off = r.offset
        body_size = r.u32("body_size")
        expected = _BODY_SIZES.get(body_type)
        if expected is None:
            raise FormatError(_S, "body_type", size_off - 2,
                              f"{body_type} is not a TD report body (2 = TD10, 3 = TD15)")
        if body_size != expected:
            raise FormatError(_S, "body_size", size_off,
                              f"{body_size} does not match body type {body_type} ({expected})")
    else:
        raise FormatError(_S, "header.version", 0, f"{header.version} is not a TDX quote version (4 or 5)")
    body = TdQuoteBody.read(r, body_type == BODY_TYPE_TD15)
    return r, header, body_type, body


_U16 = struct.Struct("<H").unpack_from
_U32 = struct.Struct("<I").unpack_from
_HEADER = struct.Struct("<HHI4s16s20s").unpack_from
_QE_IDS = struct.Struct("<HHH").unpack_from


def _body_at(data: bytes, o: int, td15: bool) -> TdQuoteBody:
    """The TD report body at ``o`` (the caller has checked it is all there)."""
    return TdQuoteBody(
        data[o:o + 16], data[o + 16:o + 64], data[o + 64:o + 112], data[o + 112:o + 120],
        data[o + 120:o + 128], data[o + 128:o + 136], data[o + 136:o + 184], data[o + 184:o + 232],
        data[o + 232:o + 280], data[o + 280:o + 328],
        (data[o + 328:o + 376], data[o + 376:o + 424], data[o + 424:o + 472], data[o + 472:o + 520]),
        data[o + 520:o + 584],
        data[o + 584:o + 600] if td15 else None, data[o + 600:o + 648] if td15 else None)


def _parse_well_formed(data: bytes) -> Quote | None:
    """The quote, when every size and type in it is as expected; ``None`` sends the caller
    to the field-by-field parser, which names what is wrong. Same result either way."""
    n = len(data)
    if n < HEADER_SIZE + 6:
        return None
    version, key_type, tee_type, reserved, vendor, user = _HEADER(data, 0)
    if version == 4:
        body_type, o = BODY_TYPE_TD10, HEADER_SIZE
    elif version == 5:
        body_type, o = _U16(data, HEADER_SIZE)[0], HEADER_SIZE + 6
        if _BODY_SIZES.get(body_type) != _U32(data, HEADER_SIZE + 2)[0]:
            return None
    else:
        return None
    td15 = body_type == BODY_TYPE_TD15
    signed_end = o + (TD15_BODY_SIZE if td15 else TD10_BODY_SIZE)
    s = signed_end + 4            # signature data
    if s + 134 + QE_REPORT_SIZE + 66 > n:
        return None
    sig_end = s + _U32(data, signed_end)[0]
    if sig_end > n or _U16(data, s + 128)[0] != CERT_TYPE_QE_REPORT or s + 134 + _U32(data, s + 130)[0] != sig_end:
        return None
    q = s + 134                   # QE report
    a = q + QE_REPORT_SIZE + 64   # QE auth data size
    auth_end = a + 2 + _U16(data, a)[0]
    if auth_end + 6 > sig_end or _U16(data, auth_end)[0] != CERT_TYPE_PCK_CHAIN \
            or auth_end + 6 + _U32(data, auth_end + 2)[0] != sig_end:
        return None
    isvprodid, isvsvn, configsvn = _QE_IDS(data, q + 256)
    qe_raw = data[q:q + QE_REPORT_SIZE]
    qe_report = QeReport(data[q:q + 16], data[q + 16:q + 20], data[q + 32:q + 48], data[q + 48:q + 64],
                         data[q + 64:q + 96], data[q + 128:q + 160], data[q + 192:q + 256], isvprodid, isvsvn,
                         configsvn, data[q + 304:q + 320], data[q + 320:q + 384])
    return Quote(
        header=QuoteHeader(version, key_type, tee_type, reserved, vendor, user), body_type=body_type,
        body=_body_at(data, o, td15), signature=data[s:s + 64], attestation_key=data[s + 64:s + 128],
        cert_data_type=CERT_TYPE_QE_REPORT,
        cert_data=QeCertData(qe_report, qe_raw, data[a - 64:a], data[a + 2:auth_end], CERT_TYPE_PCK_CHAIN,
                             data[auth_end + 6:sig_end]),
        signed_region=data[:signed_end], size=sig_end)


def parse_quote(data: bytes) -> Quote:
    """Parse a v4 or v5 TDX quote; raise :class:`FormatError` on any malformation.

    Structure is checked here (sizes, certification data types, that nested
    sizes add up); values (key type, TEE type, vendor) are left to the
    verifier so ``quote inspect`` can still show an unusual quote.
    """
    data = bytes(data)
    quote = _parse_well_formed(data)
    if quote is not None:
        return quote
    r, header, body_type, body = _read_header_and_body(data)
    signed_end = r.offset
    sig_len_off = r.offset
    sig_len = r.u32("signature_data_len")
    sig_end = r.offset + sig_len
    if sig_end > len(data):
        raise FormatError(_S, "signature_data_len", sig_len_off,
                          f"{sig_len} bytes run past the end ({len(data)} bytes)")
    s = Reader(data, _S, r.offset, sig_end)
    signature = s.take(64, "quote_signature")
    attestation_key = s.take(64, "attestation_key")
    cert_type_off = s.offset
    cert_type = s.u16("cert_data_type")
    if cert_type != CERT_TYPE_QE_REPORT:
        raise FormatError(_S, "cert_data_type", cert_type_off,
                          f"{cert_type} is not QE report certification data (6)")
    cert_size_off = s.offset
    cert_size = s.u32("cert_data_size")
    if s.offset + cert_size != sig_end:
        raise FormatError(_S, "cert_data_size", cert_size_off,
                          f"{cert_size} does not fill signature data (ends at {s.offset + cert_size}, "
                          f"signature data ends at {sig_end})")
    qe_off = s.offset
    qe_report = QeReport.read(s)
    qe_raw = data[qe_off:qe_off + QE_REPORT_SIZE]
    qe_sig = s.take(64, "qe_report_signature")
    auth_len = s.u16("qe_auth_data_size")
    auth = s.take(auth_len, "qe_auth_data")
    pck_type_off = s.offset
    pck_type = s.u16("pck_cert_type")
    if pck_type != CERT_TYPE_PCK_CHAIN:
        raise FormatError(_S, "pck_cert_type", pck_type_off,
                          f"{pck_type} is not a PCK certificate chain (5)")
    pck_size_off = s.offset
    pck_size = s.u32("pck_cert_data_size")
    if s.offset + pck_size != sig_end:
        raise FormatError(_S, "pck_cert_data_size", pck_size_off,
                          f"{pck_size} does not end where the certification data ends")
    chain = s.take(pck_size, "pck_cert_chain")
    return Quote(
        header=header, body_type=body_type, body=body, signature=signature,
        attestation_key=attestation_key, cert_data_type=cert_type,
        cert_data=QeCertData(qe_report, qe_raw, qe_sig, auth, pck_type, chain),
        signed_region=data[:signed_end], size=sig_end,
    )


def signed_region(header: QuoteHeader, body: TdQuoteBody) -> bytes:
    """Header ‖ body as the attestation key signs them; v5 adds the body type and size."""
    raw = body.to_bytes()
    if header.version == 5:
        body_type = BODY_TYPE_TD15 if body.tee_tcb_svn2 is not None else BODY_TYPE_TD10
        return header.to_bytes() + body_type.to_bytes(2, "little") + len(raw).to_bytes(4, "little") + raw
    return header.to_bytes() + raw


def encode_quote(header: QuoteHeader, body: TdQuoteBody, signature: bytes,
                 attestation_key: bytes, cert_data: QeCertData) -> bytes:
    """Assemble a quote: the inverse of :func:`parse_quote` (v4, or v5 with a TD10/TD15 body)."""
    cert = cert_data.to_bytes()
    sig_data = signature + attestation_key + CERT_TYPE_QE_REPORT.to_bytes(2, "little") \
        + len(cert).to_bytes(4, "little") + cert
    return signed_region(header, body) + len(sig_data).to_bytes(4, "little") + sig_data


def td_report_from_quote(data: bytes) -> bytes:
    """The TD report upstream's mock-report mode derives from a quote (§5.1).

    Used with ``MOCK_QUOTE_FILE``: TDINFO and TEE_TCB_INFO are copied from the
    quote body, VALID = 1, TEE_TCB_SVN2 = 0, REPORTMACSTRUCT.version = the
    *quote* version, CPUSVN = TEE_TCB_SVN, MAC = 32 x 0xBB, hashes recomputed.
    Only the header and body need to be present.
    """
    _, header, _, body = _read_header_and_body(bytes(data))
    tee = TeeTcbInfo(valid=(1).to_bytes(8, "little"), tee_tcb_svn=body.tee_tcb_svn,
                     mrseam=body.mrseam, mrsignerseam=body.mrsignerseam,
                     attributes=body.seam_attributes, tee_tcb_svn2=bytes(16))
    info = TdInfo(attributes=body.td_attributes, xfam=body.xfam, mrtd=body.mrtd,
                  mrconfigid=body.mrconfigid, mrowner=body.mrowner,
                  mrownerconfig=body.mrownerconfig, rtmrs=body.rtmrs,
                  servtd_hash=body.mrservicetd if body.mrservicetd is not None else bytes(48))
    report = TdReport.build(report_data=body.report_data, tee_tcb_info=tee, td_info=info,
                            cpusvn=body.tee_tcb_svn, report_version=header.version,
                            mac=b"\xbb" * 32)
    return dataclasses.replace(report, report_type=header.tee_type & 0xFF).to_bytes()
