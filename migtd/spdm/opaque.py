"""DSP0277 secured-message opaque data in OpaqueDataFmt1 (spec/spdm.md §3.6).

KEY_EXCHANGE carries the requester's SupportedVersionList, KEY_EXCHANGE_RSP
the responder's VersionSelection::

    TotalElements u8 · reserved[3]
    element: ID u8 = 0 (DMTF) · VendorIDLen u8 = 0 · OpaqueElementDataLen u16 ·
             SMDataVersion u8 = 1 · SMDataID u8 · data · zero padding to 4 bytes

SMDataID 0 = VersionSelection (version u16), 1 = SupportedVersionList
(count u8, versions u16 × count).
"""

from __future__ import annotations

import struct

from migtd.spdm._reader import Reader
from migtd.spdm._record import record
from migtd.spdm.constants import SECURED_MESSAGE_VERSION_12
from migtd.spdm.errors import DecodeError

SM_DATA_VERSION = 1
SM_VERSION_SELECTION = 0
SM_SUPPORTED_VERSION_LIST = 1
DMTF_ID = 0


@record
class SecuredMessageOpaque:
    """The one DMTF secured-message element: which kind, and the versions it names."""

    data_id: int
    versions: tuple[int, ...]


def _element(data: bytes) -> bytes:
    head = struct.pack("<BBH", DMTF_ID, 0, len(data)) + data
    return head + bytes(-len(head) % 4)


def encode_supported_versions(versions: tuple[int, ...] = (SECURED_MESSAGE_VERSION_12,)) -> bytes:
    """KEY_EXCHANGE opaque data (16 bytes for MigTD)."""
    data = bytes((SM_DATA_VERSION, SM_SUPPORTED_VERSION_LIST, len(versions))) + b"".join(
        struct.pack("<H", v) for v in versions)
    return bytes((1, 0, 0, 0)) + _element(data)


def encode_version_selection(version: int = SECURED_MESSAGE_VERSION_12) -> bytes:
    """KEY_EXCHANGE_RSP opaque data (12 bytes for MigTD)."""
    return bytes((1, 0, 0, 0)) + _element(bytes((SM_DATA_VERSION, SM_VERSION_SELECTION)) + struct.pack("<H", version))


def decode(opaque: bytes) -> SecuredMessageOpaque:
    """Find and decode the DMTF secured-message element (other elements are skipped)."""
    r = Reader(opaque, "OpaqueData")
    total = r.u8("TotalElements")
    r.zero(3, "Reserved")
    found: SecuredMessageOpaque | None = None
    for _ in range(total):
        start = r.pos
        ident = r.u8("ID")
        vendor_len = r.u8("VendorIDLen")
        r.take(vendor_len, "VendorID")
        at = r.pos
        n = r.u16("OpaqueElementDataLen")
        data = r.take(n, "OpaqueElementData")
        r.zero(-(r.pos - start) % 4, "AlignPadding")
        if ident != DMTF_ID or vendor_len != 0:
            continue
        e = Reader(data, "OpaqueElementData")
        e.expect(SM_DATA_VERSION, e.u8("SMDataVersion"), "SMDataVersion", 0)
        sm_id = e.u8("SMDataID")
        if sm_id == SM_VERSION_SELECTION:
            versions: tuple[int, ...] = (e.u16("SelectedVersion"),)
        elif sm_id == SM_SUPPORTED_VERSION_LIST:
            count = e.u8("VersionCount")
            if count == 0:
                raise DecodeError("OpaqueElementData", "VersionCount", 2, "empty version list")
            versions = tuple(e.u16("VersionsList") for _ in range(count))
        else:
            raise DecodeError("OpaqueElementData", "SMDataID", 1, f"unknown SMDataID {sm_id}")
        e.end()
        if found is not None:
            raise DecodeError("OpaqueData", "ID", at, "more than one secured-message element")
        found = SecuredMessageOpaque(sm_id, versions)
    r.end()
    if found is None:
        raise DecodeError("OpaqueData", "TotalElements", 0, "no DMTF secured-message element")
    return found
