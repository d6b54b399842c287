"""The Intel SGX extension of a PCK certificate (OID 1.2.840.113741.1.13.1).

``cryptography`` hands this extension over as raw DER
(``UnrecognizedExtension``), so this module carries a small DER reader for
the few types it uses (SEQUENCE, OID, OCTET STRING, INTEGER, ENUMERATED,
BOOLEAN): offsets only, no copies, as it runs for every quote verified. The
encoder the mock PKI uses to issue PCK leaves is :mod:`migtd.der`'s.
Layout per attestation.md §2.6. Errors are :class:`FormatError` with the
offset inside the extension value.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

from migtd.der import decode_oid, encode_oid_body, integer, oid, tlv
from migtd.errors import FormatError

SGX_EXTENSION_OID = "1.2.840.113741.1.13.1"
_S = "PCK SGX extension"

_SEQ, _OID, _OCTETS, _INT, _ENUM, _BOOL = 0x30, 0x06, 0x04, 0x02, 0x0A, 0x01


def _readtlv(data: bytes, off: int, end: int, what: str) -> tuple[int, int, int]:
    """Return (tag, value_start, value_end) of the TLV at ``off``."""
    if off + 2 > end:
        raise FormatError(_S, what, off, "truncated DER header")
    tag, first = data[off], data[off + 1]
    pos = off + 2
    if first < 0x80:
        length = first
    else:
        n = first & 0x7F
        if n == 0 or n > 4 or pos + n > end:
            raise FormatError(_S, what, off, "bad DER length")
        length = int.from_bytes(data[pos:pos + n], "big")
        pos += n
    if pos + length > end:
        raise FormatError(_S, what, off, f"value of {length} bytes runs past its container")
    return tag, pos, pos + length


def _children(data: bytes, start: int, end: int, what: str) -> list[tuple[int, int, int]]:
    out = []
    off = start
    while off < end:
        tag, vs, ve = _readtlv(data, off, end, what)
        out.append((tag, vs, ve))
        off = ve
    return out


def _oid_text(raw: bytes) -> str:
    """Dotted form of OID content octets for a message (hex when they do not decode)."""
    try:
        return decode_oid(raw)
    except ValueError:
        return raw.hex()


@dataclass(frozen=True)
class SgxExtension:
    """Decoded PCK SGX extension: platform identity and TCB the certificate attests."""

    ppid: bytes
    tcb_components: tuple[int, ...]  # 16 SGX TCB component SVNs
    pcesvn: int
    cpusvn: bytes
    pce_id: bytes
    fmspc: bytes
    sgx_type: int
    platform_instance_id: bytes | None = None
    configuration: dict[str, bool] = field(default_factory=dict)

    def to_der(self) -> bytes:
        """Encode as the extension value (used by the mock PKI)."""
        base = SGX_EXTENSION_OID
        tcb_items = [
            tlv(_SEQ, oid(f"{base}.2.{i + 1}") + integer(svn))
            for i, svn in enumerate(self.tcb_components)
        ]
        tcb_items.append(tlv(_SEQ, oid(f"{base}.2.17") + integer(self.pcesvn)))
        tcb_items.append(tlv(_SEQ, oid(f"{base}.2.18") + tlv(_OCTETS, self.cpusvn)))
        items = [
            tlv(_SEQ, oid(f"{base}.1") + tlv(_OCTETS, self.ppid)),
            tlv(_SEQ, oid(f"{base}.2") + tlv(_SEQ, b"".join(tcb_items))),
            tlv(_SEQ, oid(f"{base}.3") + tlv(_OCTETS, self.pce_id)),
            tlv(_SEQ, oid(f"{base}.4") + tlv(_OCTETS, self.fmspc)),
            tlv(_SEQ, oid(f"{base}.5") + integer(self.sgx_type, _ENUM)),
        ]
        if self.platform_instance_id is not None:
            items.append(tlv(_SEQ, oid(f"{base}.6") + tlv(_OCTETS, self.platform_instance_id)))
        if self.configuration:
            names = {"dynamicPlatform": 1, "cachedKeys": 2, "SMTEnabled": 3}
            cfg = b"".join(
                tlv(_SEQ, oid(f"{base}.7.{names[k]}") + tlv(_BOOL, b"\xff" if v else b"\x00"))
                for k, v in self.configuration.items())
            items.append(tlv(_SEQ, oid(f"{base}.7") + tlv(_SEQ, cfg)))
        return tlv(_SEQ, b"".join(items))


_CONFIG_NAMES = {b"\x01": "dynamicPlatform", b"\x02": "cachedKeys", b"\x03": "SMTEnabled"}
_COMPONENT_KEYS = tuple(bytes([i]) for i in range(1, 17))
# Content bytes of the extension's base OID; every element OID is this plus small arcs,
# so elements are keyed by the raw suffix bytes (no string decoding on the hot path).
_PREFIX = encode_oid_body(SGX_EXTENSION_OID)


def _iter_entries(der: bytes, start: int, end: int, what: str, prefix: bytes, *,
                  strict: bool = True) -> Iterator[tuple[bytes, tuple[int, int, int]]]:
    """(OID suffix, value TLV) of each element of a SEQUENCE OF SEQUENCE { OID, value }.

    ``strict``: an element of another shape, or whose OID is not under
    ``prefix``, is an error; otherwise it is skipped.
    """
    for _, es, ee in _children(der, start, end, what):
        kids = _children(der, es, ee, what)
        if len(kids) != 2 or kids[0][0] != _OID:
            if strict:
                raise FormatError(_S, what, es, "expected SEQUENCE { OID, value }")
            continue
        raw = der[kids[0][1]:kids[0][2]]
        if not raw.startswith(prefix):
            if strict:
                raise FormatError(_S, what, es, f"unexpected OID {_oid_text(raw)}")
            continue
        yield raw[len(prefix):], kids[1]


def _entries(der: bytes, start: int, end: int, what: str, prefix: bytes) -> dict[bytes, tuple[int, int, int]]:
    """Map OID suffix → value TLV for a SEQUENCE OF SEQUENCE { OID, value } (strict; a repeated
    OID keeps its last value).

    The same rules as :func:`_iter_entries` with ``strict=True``, in one loop
    that reads short-form headers inline (every element of a PCK extension
    has one): this runs for every PCK certificate verified.
    """
    out = {}
    plen = len(prefix)
    off = start
    while off < end:
        if off + 2 <= end and der[off + 1] < 0x80:
            es = off + 2
            ee = es + der[off + 1]
            if ee > end:
                _readtlv(der, off, end, what)  # raises with the precise problem
        else:
            _, es, ee = _readtlv(der, off, end, what)
        if es + 2 <= ee and der[es + 1] < 0x80:
            t1, s1 = der[es], es + 2
            e1 = s1 + der[es + 1]
            if e1 > ee:
                _readtlv(der, es, ee, what)
        elif es == ee:
            raise FormatError(_S, what, es, "expected SEQUENCE { OID, value }")
        else:
            t1, s1, e1 = _readtlv(der, es, ee, what)
        if e1 == ee:
            raise FormatError(_S, what, es, "expected SEQUENCE { OID, value }")
        if e1 + 2 <= ee and der[e1 + 1] < 0x80:
            value = (der[e1], e1 + 2, e1 + 2 + der[e1 + 1])
            if value[2] > ee:
                _readtlv(der, e1, ee, what)
        else:
            value = _readtlv(der, e1, ee, what)
        if value[2] != ee:
            _children(der, value[2], ee, what)  # a malformed extra element is reported as such
            raise FormatError(_S, what, es, "expected SEQUENCE { OID, value }")
        if t1 != _OID:
            raise FormatError(_S, what, es, "expected SEQUENCE { OID, value }")
        raw = der[s1:e1]
        if raw[:plen] != prefix:
            raise FormatError(_S, what, es, f"unexpected OID {_oid_text(raw)}")
        out[raw[plen:]] = value
        off = ee
    return out


def _outer(der: bytes) -> tuple[int, int]:
    """Value bounds of the extension's outer SEQUENCE."""
    tag, vs, ve = _readtlv(der, 0, len(der), "extension")
    if tag != _SEQ:
        raise FormatError(_S, "extension", 0, f"expected SEQUENCE, got tag {tag:#04x}")
    return vs, ve


def fmspc_of_extension(der: bytes) -> bytes:
    """Only the FMSPC element (``…1.13.1.4``, a 6-byte OCTET STRING) of the extension value.

    Unlike :func:`parse_sgx_extension` nothing else is required: elements of
    another shape or OID are passed over and the first FMSPC element decides.
    Raises :class:`FormatError` when the value is not one DER SEQUENCE or has
    no well-formed FMSPC.
    """
    der = bytes(der)
    vs, ve = _outer(der)
    if ve != len(der):
        raise FormatError(_S, "extension", ve, f"{len(der) - ve} bytes after the SEQUENCE")
    for key, (tag, s, e) in _iter_entries(der, vs, ve, "entry", _PREFIX, strict=False):
        if key == b"\x04":
            if tag != _OCTETS or e - s != 6:
                raise FormatError(_S, "FMSPC", s, "not a 6-byte OCTET STRING")
            return der[s:e]
    raise FormatError(_S, "FMSPC", vs, "missing")


def _canonical_tcb_pattern() -> re.Pattern[bytes]:
    """The TCB SEQUENCE's content as Intel encodes it, each value captured (one-byte INTEGERs)."""
    head = re.escape(b"\x06\x0b" + _PREFIX + b"\x02")
    parts = [b"\x30\x10" + head + re.escape(bytes([i])) + b"\x02\x01([\x00-\x7f])" for i in range(1, 18)]
    parts.append(b"\x30\x1f" + head + b"\x12\x04\x10(.{16})")
    return re.compile(b"".join(parts), re.DOTALL)


_CANONICAL_TCB = _canonical_tcb_pattern()


def _tcb_entries(der: bytes, ts: int, te: int, small_int: Any) -> tuple[list[int], int, bytes]:
    """Component SVNs, PCESVN and CPUSVN from the TCB SEQUENCE's entries, in any order."""
    tcb = _entries(der, ts, te, "TCB entry", _PREFIX + b"\x02")
    comps = []
    for i, key in enumerate(_COMPONENT_KEYS, 1):
        item = tcb.get(key)
        if item is None or item[0] != _INT:
            raise FormatError(_S, f"TCB.comp{i:02d}", ts, "missing or not an INTEGER")
        _, s, e = item
        comps.append(der[s] if e - s == 1 and der[s] < 0x80 else small_int(_INT, s, e, f"TCB.comp{i:02d}"))
    item = tcb.get(b"\x11")
    if item is None or item[0] != _INT:
        raise FormatError(_S, "TCB.pcesvn", ts, "missing or not an INTEGER")
    pcesvn = small_int(*item, "TCB.pcesvn")
    item = tcb.get(b"\x12")
    if item is None or item[0] != _OCTETS or item[2] - item[1] != 16:
        raise FormatError(_S, "TCB.cpusvn", ts, "missing or not a 16-byte OCTET STRING")
    return comps, pcesvn, der[item[1]:item[2]]


def parse_sgx_extension(der: bytes) -> SgxExtension:
    """Decode the extension value; every required element must be present."""
    return _parse_sgx_extension(der, _CANONICAL_TCB)


def _parse_sgx_extension(der: bytes, canonical_tcb: re.Pattern[bytes] | None) -> SgxExtension:
    """:func:`parse_sgx_extension`; ``canonical_tcb`` None reads the TCB entries one by one even
    when they are in Intel's layout (the fuzz harness checks both readers agree)."""
    der = bytes(der)
    vs, ve = _outer(der)
    values = _entries(der, vs, ve, "entry", _PREFIX)

    def want(key: bytes, tag_: int, name: str, size: int | None = None) -> tuple[int, int, int]:
        if key not in values:
            raise FormatError(_S, name, vs, "missing")
        t, s, e = values[key]
        if t != tag_:
            raise FormatError(_S, name, s, f"wrong ASN.1 tag {t:#04x}")
        if size is not None and e - s != size:
            raise FormatError(_S, name, s, f"must be {size} bytes, got {e - s}")
        return t, s, e

    def octets(key: bytes, name: str, size: int) -> bytes:
        _, s, e = want(key, _OCTETS, name, size)
        return der[s:e]

    def small_int(tag_: int, s: int, e: int, name: str) -> int:
        if e - s < 1 or e - s > 4 or der[s] & 0x80:
            raise FormatError(_S, name, s, "not a small non-negative integer")
        return int.from_bytes(der[s:e], "big")

    _, ts, te = want(b"\x02", _SEQ, "TCB")
    canonical = canonical_tcb.fullmatch(der, ts, te) if canonical_tcb is not None else None
    if canonical is not None:   # the usual layout: 16 one-byte SVNs, PCESVN, CPUSVN, in order
        groups = canonical.groups()
        comps, pcesvn, cpusvn = list(b"".join(groups[:16])), groups[16][0], groups[17]
    else:
        comps, pcesvn, cpusvn = _tcb_entries(der, ts, te, small_int)
    _, ss, se = want(b"\x05", _ENUM, "sgxType")
    instance = octets(b"\x06", "platformInstanceId", 16) if b"\x06" in values else None
    config: dict[str, bool] = {}
    if b"\x07" in values and values[b"\x07"][0] == _SEQ:
        _, cs, ce = values[b"\x07"]
        for key, (t, s, e) in _entries(der, cs, ce, "configuration entry", _PREFIX + b"\x07").items():
            if t == _BOOL:
                config[_CONFIG_NAMES.get(key, key.hex())] = any(der[s:e])
    return SgxExtension(
        ppid=octets(b"\x01", "PPID", 16), tcb_components=tuple(comps), pcesvn=pcesvn, cpusvn=cpusvn,
        pce_id=octets(b"\x03", "PCE-ID", 2), fmspc=octets(b"\x04", "FMSPC", 6),
        sgx_type=small_int(_ENUM, ss, se, "sgxType"), platform_instance_id=instance,
        configuration=config,
    )
