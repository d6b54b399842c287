"""A small DER writer and a tolerant DER reader, just enough for RA-TLS certificates
(and the writer for the PCK SGX extension of the mock PKI, :mod:`migtd.attest.sgx_ext`).

Why our own: MigTD's certificates encode non-critical extensions with an
explicit ``critical FALSE`` and keyUsage as ``03 02 00 80``. Neither is
canonical DER, so python-``cryptography`` will not emit them and refuses to
load them. Writing them ourselves keeps our certificate byte-identical to
what a Rust MigTD produces, and reading them ourselves lets us accept a Rust
peer's certificate.

The reader is strict about structure (lengths must fit, no indefinite form)
and lenient about canonical-form rules (default values, bit-string padding),
which is exactly the tolerance the Rust encoder needs.
"""

from __future__ import annotations

from typing import NamedTuple

from migtd.errors import FormatError
from migtd.result import MigrationResult

# Universal tags used by X.509.
BOOLEAN = 0x01
INTEGER = 0x02
BIT_STRING = 0x03
OCTET_STRING = 0x04
NULL = 0x05
OID = 0x06
ENUMERATED = 0x0A
UTF8_STRING = 0x0C
PRINTABLE_STRING = 0x13
UTC_TIME = 0x17
GENERALIZED_TIME = 0x18
SEQUENCE = 0x30
SET = 0x31


def context(n: int, constructed: bool = True) -> int:
    """Tag byte of a context-specific ``[n]`` (n < 31)."""
    return 0x80 | (0x20 if constructed else 0) | n


# ---------------------------------------------------------------- writing

def encode_length(n: int) -> bytes:
    """Definite-length encoding: short form below 128, long form otherwise."""
    if n < 0x80:
        return bytes([n])
    body = n.to_bytes((n.bit_length() + 7) // 8, "big")
    return bytes([0x80 | len(body)]) + body


def tlv(tag: int, content: bytes) -> bytes:
    """One element: tag byte, definite length, content."""
    return bytes([tag]) + encode_length(len(content)) + content


def seq(*items: bytes) -> bytes:
    """SEQUENCE of already-encoded ``items``."""
    return tlv(SEQUENCE, b"".join(items))


def set_of(*items: bytes) -> bytes:
    """SET of already-encoded ``items`` (in the order given; MigTD's names have one per set)."""
    return tlv(SET, b"".join(items))


def integer(value: int, tag: int = INTEGER) -> bytes:
    """Two's-complement minimal INTEGER (a leading 0 keeps positives positive); ``tag`` for ENUMERATED."""
    length = max(1, (value.bit_length() + 8) // 8)
    return tlv(tag, value.to_bytes(length, "big", signed=True))


def boolean(value: bool) -> bytes:
    """BOOLEAN, TRUE as 0xFF."""
    return tlv(BOOLEAN, b"\xff" if value else b"\x00")


def octet_string(value: bytes) -> bytes:
    """OCTET STRING."""
    return tlv(OCTET_STRING, value)


def bit_string(value: bytes, unused_bits: int = 0) -> bytes:
    """BIT STRING with ``unused_bits`` in its first content byte."""
    return tlv(BIT_STRING, bytes([unused_bits]) + value)


def utf8_string(value: str) -> bytes:
    """UTF8String."""
    return tlv(UTF8_STRING, value.encode("utf-8"))


def printable_string(value: str) -> bytes:
    """PrintableString (ASCII)."""
    return tlv(PRINTABLE_STRING, value.encode("ascii"))


def generalized_time(value: str) -> bytes:
    """GeneralizedTime from its text form, e.g. ``19700101000000Z``."""
    return tlv(GENERALIZED_TIME, value.encode("ascii"))


def explicit(n: int, inner: bytes) -> bytes:
    """``[n] EXPLICIT`` wrapper around an encoded element."""
    return tlv(context(n), inner)


def encode_oid_body(dotted: str) -> bytes:
    """Content octets of an OBJECT IDENTIFIER in dotted form."""
    try:
        arcs = [int(a) for a in dotted.split(".")]
    except ValueError:
        raise ValueError(f"not a dotted OID: {dotted!r}") from None
    if len(arcs) < 2 or arcs[0] > 2 or (arcs[0] < 2 and arcs[1] >= 40) or min(arcs) < 0:
        raise ValueError(f"not a valid OID: {dotted!r}")
    out = bytearray()
    for arc in [arcs[0] * 40 + arcs[1], *arcs[2:]]:
        chunk = [arc & 0x7F]
        arc >>= 7
        while arc:
            chunk.append(0x80 | (arc & 0x7F))
            arc >>= 7
        out += bytes(reversed(chunk))
    return bytes(out)


def oid(dotted: str) -> bytes:
    """OBJECT IDENTIFIER from dotted form."""
    return tlv(OID, encode_oid_body(dotted))


# ---------------------------------------------------------------- reading

class Tlv(NamedTuple):
    """One decoded element; ``raw`` is the full encoding as it appeared."""

    tag: int
    content: bytes
    raw: bytes
    offset: int  # where the element started in the outermost buffer

    @property
    def constructed(self) -> bool:
        """Whether the tag's constructed bit is set (the content holds elements)."""
        return bool(self.tag & 0x20)

    def children(self, structure: str) -> list[Tlv]:
        """Decode the content of a constructed element as a list of elements."""
        if not self.constructed:
            raise FormatError(structure, f"tag {self.tag:#04x}", self.offset, "not a constructed element",
                              MigrationResult.SecureSessionError)
        header = len(self.raw) - len(self.content)
        return read_all(self.content, structure, self.offset + header)


def read_tlv(data: bytes, offset: int, structure: str, base: int = 0) -> Tlv:
    """Decode the element starting at ``offset``; errors name the absolute offset."""
    where = base + offset

    def bad(problem: str) -> FormatError:
        return FormatError(structure, "DER element", where, problem, MigrationResult.SecureSessionError)

    if offset >= len(data):
        raise bad("truncated: no tag byte")
    tag = data[offset]
    if tag & 0x1F == 0x1F:
        raise bad("multi-byte tags are not used in certificates")
    if offset + 1 >= len(data):
        raise bad("truncated: no length byte")
    first = data[offset + 1]
    pos = offset + 2
    if first < 0x80:
        length = first
    elif first == 0x80:
        raise bad("indefinite length is not allowed")
    else:
        count = first & 0x7F
        if count > 4 or pos + count > len(data):
            raise bad(f"length of {count} bytes is unsupported or truncated")
        length = int.from_bytes(data[pos:pos + count], "big")
        pos += count
    end = pos + length
    if end > len(data):
        raise bad(f"element of {length} bytes runs past the end ({len(data) - pos} available)")
    return Tlv(tag, bytes(data[pos:end]), bytes(data[offset:end]), where)


def read_all(data: bytes, structure: str, base: int = 0) -> list[Tlv]:
    """Decode consecutive elements that exactly fill ``data``."""
    items: list[Tlv] = []
    off = 0
    while off < len(data):
        item = read_tlv(data, off, structure, base)
        items.append(item)
        off += len(item.raw)
    return items


def read_one(data: bytes, structure: str) -> Tlv:
    """Decode exactly one element that spans all of ``data``."""
    item = read_tlv(data, 0, structure)
    if len(item.raw) != len(data):
        raise FormatError(structure, "DER element", len(item.raw),
                          f"{len(data) - len(item.raw)} trailing bytes after the element",
                          MigrationResult.SecureSessionError)
    return item


def decode_oid(body: bytes) -> str:
    """Dotted form of OBJECT IDENTIFIER content octets."""
    if not body or body[-1] & 0x80:
        raise ValueError("truncated OID")
    arcs: list[int] = []
    value = 0
    for b in body:
        value = (value << 7) | (b & 0x7F)
        if not b & 0x80:
            arcs.append(value)
            value = 0
    first = arcs[0]
    head = [0, first] if first < 40 else [1, first - 40] if first < 80 else [2, first - 80]
    return ".".join(str(a) for a in head + arcs[1:])


def decode_integer(body: bytes) -> int:
    """Value of INTEGER content octets (two's complement); ValueError when empty."""
    if not body:
        raise ValueError("empty INTEGER")
    return int.from_bytes(body, "big", signed=True)
