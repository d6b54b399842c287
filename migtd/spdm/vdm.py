"""MigTD's vendor-defined messages (spec/spdm.md §3.4–3.9, §7, §9.3).

Inside VENDOR_DEFINED_REQUEST/RESPONSE (StandardID 4 = IANA, VendorID
``57 01 00 00`` = Intel) MigTD carries a "VdmMessage": ``major 0 · minor 0 ·
op · element count`` followed by elements ``type u16 · length u32 · bytes``.
Each op has a fixed element list; this module gives each op a small frozen
class and checks, on decode, the versions, the op, the exact count, every
element's type in order, every fixed length, and that nothing follows the
last element. Element lengths are compared with the bytes present before
anything is sliced.
"""

from __future__ import annotations

import enum
import struct
from typing import Any, ClassVar

from migtd.spdm import messages as m
from migtd.spdm._reader import Reader
from migtd.spdm._record import record
from migtd.spdm.codec import encode
from migtd.spdm.errors import DecodeError

STANDARD_ID_IANA = 4
VENDOR_ID_INTEL = bytes((0x57, 0x01, 0x00, 0x00))  # IANA PEN 343, u32 LE
VDM_MAJOR = 0
VDM_MINOR = 0
MAX_PUBLIC_KEY = 4096


class Op(enum.IntEnum):
    """VdmMessage op codes."""

    ExchangePubKeyReq = 0x01
    ExchangePubKeyRsp = 0x02
    ExchangeMigrationAttestInfoReq = 0x03
    ExchangeMigrationAttestInfoRsp = 0x04
    ExchangeMigrationInfoReq = 0x05
    ExchangeMigrationInfoRsp = 0x06
    ExchangeRebindAttestInfoReq = 0x07
    ExchangeRebindAttestInfoRsp = 0x08
    ExchangeRebindInfoReq = 0x09
    ExchangeRebindInfoRsp = 0x0A


class Element(enum.IntEnum):
    """VdmMessage element types."""

    PubKeyMy = 0x0001
    TdReportMy = 0x0002
    QuoteMy = 0x0003
    EventLogMy = 0x0004
    MigPolicyMy = 0x0005
    SerVtdExt = 0x0010
    TdReportInit = 0x0012
    EventLogInit = 0x0014
    MigrationExportVersion = 0x0081
    MigrationImportVersion = 0x0082
    ForwardMigrationSessionKey = 0x0083
    BackwardMigrationSessionKey = 0x0084
    RebindSessionToken = 0x0085


SERVTD_EXT_SIZE = 272
TDINFO_SIZE = 512
TDREPORT_SIZE = 1024
POLICY_HASH_SIZE = 48
VERSION_ELEMENT_SIZE = 4
SESSION_KEY_SIZE = 32
REBIND_TOKEN_SIZE = 32

#: Fixed element sizes (None: variable, bounded by the message).
_SIZES: dict[Element, int | None] = {
    Element.PubKeyMy: None, Element.TdReportMy: TDREPORT_SIZE, Element.QuoteMy: None,
    Element.EventLogMy: None, Element.MigPolicyMy: POLICY_HASH_SIZE, Element.SerVtdExt: SERVTD_EXT_SIZE,
    Element.TdReportInit: TDINFO_SIZE, Element.EventLogInit: None,
    Element.MigrationExportVersion: VERSION_ELEMENT_SIZE, Element.MigrationImportVersion: VERSION_ELEMENT_SIZE,
    Element.ForwardMigrationSessionKey: SESSION_KEY_SIZE, Element.BackwardMigrationSessionKey: SESSION_KEY_SIZE,
    Element.RebindSessionToken: REBIND_TOKEN_SIZE,
}


def _hidden(n: int) -> str:
    return f"<{n} bytes>"


@record
class PubKeyRequest:
    """Op 0x01: the source's SubjectPublicKeyInfo (DER, 120 bytes for P-384)."""

    spki: bytes
    op: ClassVar[Op] = Op.ExchangePubKeyReq
    layout: ClassVar[tuple[Element, ...]] = (Element.PubKeyMy,)


@record
class PubKeyResponse:
    spki: bytes
    op: ClassVar[Op] = Op.ExchangePubKeyRsp
    layout: ClassVar[tuple[Element, ...]] = (Element.PubKeyMy,)


@record
class MigrationAttestRequest:
    """Op 0x03: the source's evidence (spdm.md §3.7)."""

    quote: bytes
    event_log: bytes
    policy_hash: bytes
    servtd_ext: bytes
    init_tdinfo: bytes
    op: ClassVar[Op] = Op.ExchangeMigrationAttestInfoReq
    layout: ClassVar[tuple[Element, ...]] = (Element.QuoteMy, Element.EventLogMy, Element.MigPolicyMy,
                                             Element.SerVtdExt, Element.TdReportInit)


@record
class MigrationAttestResponse:
    quote: bytes
    event_log: bytes
    policy_hash: bytes
    op: ClassVar[Op] = Op.ExchangeMigrationAttestInfoRsp
    layout: ClassVar[tuple[Element, ...]] = (Element.QuoteMy, Element.EventLogMy, Element.MigPolicyMy)


@record
class RebindAttestRequest:
    """Op 0x07: like 0x03 with a TDREPORT instead of a quote (spdm.md §7)."""

    td_report: bytes
    event_log: bytes
    policy_hash: bytes
    servtd_ext: bytes
    init_tdinfo: bytes
    op: ClassVar[Op] = Op.ExchangeRebindAttestInfoReq
    layout: ClassVar[tuple[Element, ...]] = (Element.TdReportMy, Element.EventLogMy, Element.MigPolicyMy,
                                             Element.SerVtdExt, Element.TdReportInit)


@record
class RebindAttestResponse:
    td_report: bytes
    event_log: bytes
    policy_hash: bytes
    op: ClassVar[Op] = Op.ExchangeRebindAttestInfoRsp
    layout: ClassVar[tuple[Element, ...]] = (Element.TdReportMy, Element.EventLogMy, Element.MigPolicyMy)


@record
class MigrationInfoRequest:
    """Op 0x05 (secured): export version range and the forward MSK."""

    min_version: int
    max_version: int
    key: bytes = b""
    op: ClassVar[Op] = Op.ExchangeMigrationInfoReq
    layout: ClassVar[tuple[Element, ...]] = (Element.MigrationExportVersion, Element.ForwardMigrationSessionKey)

    def __repr__(self) -> str:  # the key never reaches a log
        return (f"MigrationInfoRequest(min_version={self.min_version}, max_version={self.max_version}, "
                f"key={_hidden(len(self.key))})")


@record
class MigrationInfoResponse:
    """Op 0x06 (secured): import version range and the backward MSK."""

    min_version: int
    max_version: int
    key: bytes = b""
    op: ClassVar[Op] = Op.ExchangeMigrationInfoRsp
    layout: ClassVar[tuple[Element, ...]] = (Element.MigrationImportVersion, Element.BackwardMigrationSessionKey)

    def __repr__(self) -> str:
        return (f"MigrationInfoResponse(min_version={self.min_version}, max_version={self.max_version}, "
                f"key={_hidden(len(self.key))})")


@record
class RebindInfoRequest:
    """Op 0x09 (secured): the 32-byte rebind session token."""

    token: bytes
    op: ClassVar[Op] = Op.ExchangeRebindInfoReq
    layout: ClassVar[tuple[Element, ...]] = (Element.RebindSessionToken,)

    def __repr__(self) -> str:
        return f"RebindInfoRequest(token={_hidden(len(self.token))})"


@record
class RebindInfoResponse:
    """Op 0x0A (secured): no elements."""

    op: ClassVar[Op] = Op.ExchangeRebindInfoRsp
    layout: ClassVar[tuple[Element, ...]] = ()


VdmBody = (PubKeyRequest | PubKeyResponse | MigrationAttestRequest | MigrationAttestResponse
           | RebindAttestRequest | RebindAttestResponse | MigrationInfoRequest | MigrationInfoResponse
           | RebindInfoRequest | RebindInfoResponse)

REQUEST_OPS = frozenset({Op.ExchangePubKeyReq, Op.ExchangeMigrationAttestInfoReq, Op.ExchangeMigrationInfoReq,
                         Op.ExchangeRebindAttestInfoReq, Op.ExchangeRebindInfoReq})
BY_OP: dict[int, type] = {cls.op: cls for cls in (
    PubKeyRequest, PubKeyResponse, MigrationAttestRequest, MigrationAttestResponse, RebindAttestRequest,
    RebindAttestResponse, MigrationInfoRequest, MigrationInfoResponse, RebindInfoRequest, RebindInfoResponse)}


def _values(body: VdmBody) -> list[bytes]:
    if isinstance(body, (MigrationInfoRequest, MigrationInfoResponse)):
        return [struct.pack("<HH", body.min_version, body.max_version), body.key]
    if isinstance(body, (PubKeyRequest, PubKeyResponse)):
        return [body.spki]
    if isinstance(body, (MigrationAttestRequest, RebindAttestRequest)):
        first = body.quote if isinstance(body, MigrationAttestRequest) else body.td_report
        return [first, body.event_log, body.policy_hash, body.servtd_ext, body.init_tdinfo]
    if isinstance(body, (MigrationAttestResponse, RebindAttestResponse)):
        first = body.quote if isinstance(body, MigrationAttestResponse) else body.td_report
        return [first, body.event_log, body.policy_hash]
    if isinstance(body, RebindInfoRequest):
        return [body.token]
    return []


def encode_payload(body: VdmBody) -> bytes:
    """The VdmMessage bytes (ReqLength/RspLength worth) of ``body``."""
    values = _values(body)
    out = [bytes((VDM_MAJOR, VDM_MINOR, body.op, len(values)))]
    for etype, value in zip(body.layout, values, strict=False):
        size = _SIZES[etype]
        if size is not None and len(value) != size:
            raise ValueError(f"{etype.name} must be {size} bytes, got {len(value)}")
        out.append(struct.pack("<HI", etype, len(value)))
        out.append(value)
    return b"".join(out)


def encode_message(body: VdmBody) -> bytes:
    """The complete SPDM VENDOR_DEFINED_REQUEST/RESPONSE message carrying ``body``."""
    payload = encode_payload(body)
    if body.op in REQUEST_OPS:
        return encode(m.VendorDefinedRequest(STANDARD_ID_IANA, VENDOR_ID_INTEL, payload))
    return encode(m.VendorDefinedResponse(STANDARD_ID_IANA, VENDOR_ID_INTEL, payload))


def check_vendor(msg: m.VendorDefinedRequest | m.VendorDefinedResponse) -> None:
    """StandardID must be IANA and VendorID Intel's (spdm.md §3.4)."""
    name = type(msg).__name__
    if msg.standard_id != STANDARD_ID_IANA:
        raise DecodeError(name, "StandardID", 4, f"{msg.standard_id}, expected 4 (IANA)")
    if msg.vendor_id != VENDOR_ID_INTEL:
        raise DecodeError(name, "VendorID", 7, f"{msg.vendor_id.hex()}, expected 57010000 (Intel)")


def peek_op(payload: bytes) -> int:
    """The op code of a VdmMessage (after checking its version bytes)."""
    r = Reader(payload, "VdmMessage")
    r.expect(VDM_MAJOR, r.u8("major version"), "major version", 0)
    r.expect(VDM_MINOR, r.u8("minor version"), "minor version", 1)
    return r.u8("op code")


def decode_payload(payload: bytes, expected: Any) -> VdmBody:
    """Decode a VdmMessage that must be of class ``expected`` (one of this module's ops)."""
    r = Reader(payload, f"VdmMessage {expected.__name__}")
    r.expect(VDM_MAJOR, r.u8("major version"), "major version", 0)
    r.expect(VDM_MINOR, r.u8("minor version"), "minor version", 1)
    r.expect(expected.op, r.u8("op code"), "op code", 2)
    layout: tuple[Element, ...] = expected.layout
    r.expect(len(layout), r.u8("element count"), "element count", 3)
    values = []
    for etype in layout:
        at = r.pos
        r.expect(etype, r.u16("element type"), f"{etype.name} type", at)
        lat = r.pos
        length = r.u32(f"{etype.name} length")
        size = _SIZES[etype]
        if size is not None and length != size:
            raise DecodeError(r.structure, f"{etype.name} length", lat, f"{length}, expected {size}")
        if etype is Element.PubKeyMy:
            # upstream: the key element must fill the rest of the payload exactly, ≤ 4096 bytes
            if length != r.remaining():
                raise DecodeError(r.structure, "PubKeyMy length", lat,
                                  f"{length}, but {r.remaining()} payload bytes follow")
            r.limit(length, MAX_PUBLIC_KEY, "PubKeyMy length", lat)
        values.append(r.take(length, etype.name))
    r.end()
    if expected in (MigrationInfoRequest, MigrationInfoResponse):
        lo, hi = struct.unpack("<HH", values[0])
        return expected(lo, hi, values[1])
    return expected(*values)
