"""The RA-TLS certificate: build MigTD's exact DER, parse a peer's tolerantly.

Building follows protocol.md §5.2 byte for byte (names, serial 1, validity
1970–9999, P-384 key, extensions keyUsage, EKU, event log, quote, optional
policy hash, each non-critical one with an explicit ``critical FALSE``).

Parsing keeps the TBS bytes exactly as received, because a verifier must
check the signature over what the peer signed, and exposes every extension
by OID with its critical flag, so attestation verifiers added later need no
DER knowledge of their own.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import TYPE_CHECKING, NamedTuple

from migtd import der
from migtd.errors import FormatError, SecureSessionError
from migtd.result import MigrationResult

if TYPE_CHECKING:  # keep `import migtd.ratls.certificate` free of cryptography
    from cryptography.hazmat.primitives.asymmetric.ec import EllipticCurvePrivateKey

# Object identifiers (protocol.md §5.2).
OID_ECDSA_SHA384 = "1.2.840.10045.4.3.3"
OID_EC_PUBLIC_KEY = "1.2.840.10045.2.1"
OID_SECP384R1 = "1.3.132.0.34"
OID_COUNTRY = "2.5.4.6"
OID_LOCALITY = "2.5.4.7"
OID_ORGANIZATION = "2.5.4.10"
OID_KEY_USAGE = "2.5.29.15"
OID_EXT_KEY_USAGE = "2.5.29.37"
OID_SERVER_AUTH = "1.3.6.1.5.5.7.3.1"
OID_CLIENT_AUTH = "1.3.6.1.5.5.7.3.2"
OID_MIGTD_EKU = "1.2.840.113741.1.5.5.1.1"
OID_QUOTE = "1.2.840.113741.1.5.5.1.2"
OID_EVENT_LOG = "1.2.840.113741.1.5.5.1.3"
OID_POLICY_HASH = "1.2.840.113741.1.5.5.1.4"
OID_TDREPORT = "1.2.840.113741.1.5.5.1.5"
OID_SERVTD_EXT = "1.2.840.113741.1.5.5.1.6"
OID_INIT_TDINFO = "1.2.840.113741.1.5.5.1.7"

#: keyUsage digitalSignature exactly as MigTD writes it: 0 unused bits, not `03 02 07 80`.
KEY_USAGE_VALUE = bytes.fromhex("03020080")
NOT_BEFORE = "19700101000000Z"
NOT_AFTER = "99991231235959Z"


def _name() -> bytes:
    """C=XX, L=Default City, O=Default Company Ltd, one attribute per RDN."""
    return der.seq(
        der.set_of(der.seq(der.oid(OID_COUNTRY), der.printable_string("XX"))),
        der.set_of(der.seq(der.oid(OID_LOCALITY), der.utf8_string("Default City"))),
        der.set_of(der.seq(der.oid(OID_ORGANIZATION), der.utf8_string("Default Company Ltd"))),
    )


def _extension(oid: str, value: bytes, critical: bool) -> bytes:
    # `critical` is always written, even when FALSE: that is MigTD's encoding.
    return der.seq(der.oid(oid), der.boolean(critical), der.octet_string(value))


def _sig_alg() -> bytes:
    return der.seq(der.oid(OID_ECDSA_SHA384))


def _migration_extensions(quote: bytes, event_log: bytes, policy_hash: bytes | None,
                          extra: Iterable[tuple[str, bytes]]) -> list[tuple[str, bytes]]:
    """Event log, quote, policy hash (v2 only), then ``extra``: HEAD's order."""
    exts = [(OID_EVENT_LOG, event_log), (OID_QUOTE, quote)]
    if policy_hash is not None:
        exts.append((OID_POLICY_HASH, policy_hash))
    return [*exts, *extra]


def build_tbs(public_point: bytes, quote: bytes, event_log: bytes, *,
              policy_hash: bytes | None = None,
              extra: Iterable[tuple[str, bytes]] = ()) -> bytes:
    """DER of a migration TBSCertificate for a 97-byte uncompressed P-384 point (unsigned)."""
    return tbs_with_extensions(public_point, _migration_extensions(quote, event_log, policy_hash, extra))


def tbs_with_extensions(public_point: bytes, extensions: Iterable[tuple[str, bytes]]) -> bytes:
    """TBSCertificate with keyUsage and EKU first, then ``extensions`` (non-critical) in order."""
    if len(public_point) != 97 or public_point[0] != 0x04:
        raise ValueError("public key must be a 97-byte uncompressed P-384 point")
    eku = der.seq(der.oid(OID_SERVER_AUTH), der.oid(OID_CLIENT_AUTH), der.oid(OID_MIGTD_EKU))
    encoded = [
        _extension(OID_KEY_USAGE, KEY_USAGE_VALUE, True),
        _extension(OID_EXT_KEY_USAGE, eku, False),
        *(_extension(o, v, False) for o, v in extensions),
    ]
    spki = der.seq(der.seq(der.oid(OID_EC_PUBLIC_KEY), der.oid(OID_SECP384R1)),
                   der.bit_string(public_point))
    return der.seq(
        der.explicit(0, der.integer(2)),
        der.integer(1),
        _sig_alg(),
        _name(),
        der.seq(der.generalized_time(NOT_BEFORE), der.generalized_time(NOT_AFTER)),
        _name(),
        spki,
        der.explicit(3, der.seq(*encoded)),
    )


def assemble(tbs: bytes, signature: bytes) -> bytes:
    """Certificate = SEQUENCE { tbs, ecdsa-with-SHA384, BIT STRING signature }."""
    return der.seq(tbs, _sig_alg(), der.bit_string(signature))


def public_point(private_key: EllipticCurvePrivateKey) -> bytes:
    """The 97-byte uncompressed point of a P-384 key (what REPORTDATA binds)."""
    from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

    return private_key.public_key().public_bytes(Encoding.X962, PublicFormat.UncompressedPoint)


def _sign(private_key: EllipticCurvePrivateKey, extensions: Sequence[tuple[str, bytes]]) -> bytes:
    from cryptography.hazmat.primitives import hashes
    from cryptography.hazmat.primitives.asymmetric import ec

    if not isinstance(private_key.curve, ec.SECP384R1):
        # a wrong curve is a wrong value of the right type; the session maps ValueError to its error
        raise ValueError("MigTD certificates use a P-384 key")  # noqa: TRY004 - see above
    tbs = tbs_with_extensions(public_point(private_key), extensions)
    return assemble(tbs, private_key.sign(tbs, ec.ECDSA(hashes.SHA384())))


def build_certificate(private_key: EllipticCurvePrivateKey, quote: bytes, event_log: bytes, *,
                      policy_hash: bytes | None = None,
                      extra: Sequence[tuple[str, bytes]] = ()) -> bytes:
    """Self-signed migration RA-TLS certificate DER, laid out as a Rust MigTD lays it out."""
    return _sign(private_key, _migration_extensions(quote, event_log, policy_hash, extra))


def build_rebind_certificate(private_key: EllipticCurvePrivateKey, event_log: bytes, td_report: bytes, *,
                             policy_hash: bytes, servtd_ext: bytes | None = None,
                             init_tdinfo: bytes | None = None) -> bytes:
    """Rebinding certificate (§7): a TDREPORT instead of a quote; the old MigTD adds
    SERVTD_EXT and its initial TDINFO."""
    exts = [(OID_EVENT_LOG, event_log), (OID_TDREPORT, td_report), (OID_POLICY_HASH, policy_hash)]
    if servtd_ext is not None:
        exts.append((OID_SERVTD_EXT, servtd_ext))
    if init_tdinfo is not None:
        exts.append((OID_INIT_TDINFO, init_tdinfo))
    return _sign(private_key, exts)


# ---------------------------------------------------------------- parsing

class Extension(NamedTuple):
    """One X.509 extension as received (a Rust peer writes ``critical FALSE`` explicitly)."""

    oid: str
    critical: bool
    value: bytes  # extnValue OCTET STRING contents
    critical_explicit: bool  # whether the BOOLEAN was present in the encoding


class ParsedCertificate(NamedTuple):
    """What a verifier needs from a peer certificate, with the bytes as received."""

    der: bytes
    tbs: bytes
    version: int
    serial: int
    tbs_signature_algorithm: str
    signature_algorithm: str
    signature: bytes
    issuer: bytes  # raw DER of the Name
    subject: bytes
    spki_algorithm: str
    spki_parameters: str | None
    public_key: bytes  # BIT STRING contents without the unused-bits byte
    extensions: dict[str, Extension] = {}  # noqa: RUF012 - always given by the parser
    extension_order: tuple[str, ...] = ()

    def extension(self, oid: str) -> Extension | None:
        """The extension with ``oid``, or None when the certificate has none."""
        return self.extensions.get(oid)

    def extended_key_usages(self) -> list[str]:
        """OIDs listed in extKeyUsage (empty if absent); raises on a malformed value."""
        ext = self.extensions.get(OID_EXT_KEY_USAGE)
        if ext is None:
            return []
        item = der.read_one(ext.value, "extKeyUsage")
        if item.tag != der.SEQUENCE:
            raise _bad("extKeyUsage", 0, "value is not a SEQUENCE")
        out = []
        for child in item.children("extKeyUsage"):
            if child.tag != der.OID:
                raise _bad("extKeyUsage", child.offset, "member is not an OID")
            try:
                out.append(der.decode_oid(child.content))
            except ValueError as exc:
                raise _bad("extKeyUsage", child.offset, str(exc)) from None
        return out

    @property
    def quote(self) -> bytes | None:
        ext = self.extensions.get(OID_QUOTE)
        return ext.value if ext else None

    @property
    def event_log(self) -> bytes | None:
        ext = self.extensions.get(OID_EVENT_LOG)
        return ext.value if ext else None

    @property
    def policy_hash(self) -> bytes | None:
        ext = self.extensions.get(OID_POLICY_HASH)
        return ext.value if ext else None


def _bad(fieldname: str, offset: int, problem: str) -> FormatError:
    return FormatError("certificate", fieldname, offset, problem, MigrationResult.SecureSessionError)


def _expect(item: der.Tlv, tag: int, fieldname: str) -> der.Tlv:
    if item.tag != tag:
        raise _bad(fieldname, item.offset, f"expected tag {tag:#04x}, found {item.tag:#04x}")
    return item


def _alg(item: der.Tlv, fieldname: str) -> tuple[str, str | None]:
    parts = _expect(item, der.SEQUENCE, fieldname).children("certificate")
    if not parts:
        raise _bad(fieldname, item.offset, "empty AlgorithmIdentifier")
    algorithm = der.decode_oid(_expect(parts[0], der.OID, fieldname).content)
    param = der.decode_oid(parts[1].content) if len(parts) > 1 and parts[1].tag == der.OID else None
    return algorithm, param


def parse_certificate(data: bytes) -> ParsedCertificate:
    """Decode an X.509 certificate, tolerating the Rust encoder's non-DER habits.

    Raises :class:`FormatError` (→ SecureSessionError) naming the field and
    byte offset where the structure is broken.
    """
    try:
        return _parse(bytes(data))
    except ValueError as exc:  # OID/INTEGER content errors from the DER helpers
        raise _bad("content", 0, str(exc)) from None


def _parse(data: bytes) -> ParsedCertificate:
    outer = der.read_one(data, "certificate")
    parts = _expect(outer, der.SEQUENCE, "Certificate").children("certificate")
    if len(parts) != 3:
        raise _bad("Certificate", outer.offset, f"expected 3 elements, found {len(parts)}")
    tbs_item, alg_item, sig_item = parts
    _expect(tbs_item, der.SEQUENCE, "tbsCertificate")
    sig_alg, _ = _alg(alg_item, "signatureAlgorithm")
    sig_bits = _expect(sig_item, der.BIT_STRING, "signatureValue").content
    if not sig_bits:
        raise _bad("signatureValue", sig_item.offset, "empty BIT STRING")

    fields = tbs_item.children("certificate")
    idx = 0
    version = 0
    if fields and fields[0].tag == der.context(0):
        inner = der.read_one(fields[0].content, "certificate.version")
        version = der.decode_integer(_expect(inner, der.INTEGER, "version").content)
        idx = 1
    if len(fields) < idx + 6:
        raise _bad("tbsCertificate", tbs_item.offset, "too few fields")
    serial = der.decode_integer(_expect(fields[idx], der.INTEGER, "serialNumber").content)
    tbs_alg, _ = _alg(fields[idx + 1], "signature")
    issuer = _expect(fields[idx + 2], der.SEQUENCE, "issuer").raw
    _expect(fields[idx + 3], der.SEQUENCE, "validity")
    subject = _expect(fields[idx + 4], der.SEQUENCE, "subject").raw
    spki_parts = _expect(fields[idx + 5], der.SEQUENCE, "subjectPublicKeyInfo").children("certificate")
    if len(spki_parts) != 2:
        raise _bad("subjectPublicKeyInfo", fields[idx + 5].offset, "expected algorithm and key")
    spki_alg, spki_param = _alg(spki_parts[0], "subjectPublicKeyInfo.algorithm")
    key_bits = _expect(spki_parts[1], der.BIT_STRING, "subjectPublicKey").content
    if not key_bits:
        raise _bad("subjectPublicKey", spki_parts[1].offset, "empty BIT STRING")

    extensions: dict[str, Extension] = {}
    order: list[str] = []
    for item in fields[idx + 6:]:
        if item.tag in (der.context(1, False), der.context(2, False), der.context(1), der.context(2)):
            continue  # issuer/subject unique IDs: allowed, unused
        if item.tag != der.context(3):
            raise _bad("tbsCertificate", item.offset, f"unexpected field tag {item.tag:#04x}")
        ext_seq = der.read_one(item.content, "certificate.extensions")
        for ext in _expect(ext_seq, der.SEQUENCE, "extensions").children("certificate"):
            parsed = _parse_extension(ext)
            if parsed.oid in extensions:
                raise _bad("extensions", ext.offset, f"duplicate extension {parsed.oid}")
            extensions[parsed.oid] = parsed
            order.append(parsed.oid)
    return ParsedCertificate(
        der=data, tbs=tbs_item.raw, version=version, serial=serial,
        tbs_signature_algorithm=tbs_alg, signature_algorithm=sig_alg,
        signature=sig_bits[1:], issuer=issuer, subject=subject,
        spki_algorithm=spki_alg, spki_parameters=spki_param, public_key=key_bits[1:],
        extensions=extensions, extension_order=tuple(order),
    )


def _parse_extension(item: der.Tlv) -> Extension:
    parts = _expect(item, der.SEQUENCE, "Extension").children("certificate")
    if len(parts) not in (2, 3):
        raise _bad("Extension", item.offset, f"expected 2 or 3 elements, found {len(parts)}")
    ext_oid = der.decode_oid(_expect(parts[0], der.OID, "extnID").content)
    critical = False
    explicit = len(parts) == 3
    if explicit:
        flag = _expect(parts[1], der.BOOLEAN, "critical")
        if len(flag.content) != 1:
            raise _bad("critical", flag.offset, "BOOLEAN must be one byte")
        critical = flag.content != b"\x00"
    value = _expect(parts[-1], der.OCTET_STRING, "extnValue").content
    return Extension(ext_oid, critical, value, explicit)


def verify_self_signature(cert: ParsedCertificate) -> None:
    """Check the ECDSA-P384-SHA384 signature over the TBS bytes with the cert's own key.

    Raises :class:`SecureSessionError` on any mismatch (wrong algorithm,
    curve, malformed point or a bad signature).
    """
    from cryptography.exceptions import InvalidSignature
    from cryptography.hazmat.primitives import hashes
    from cryptography.hazmat.primitives.asymmetric import ec

    if cert.signature_algorithm != OID_ECDSA_SHA384 or cert.tbs_signature_algorithm != OID_ECDSA_SHA384:
        raise SecureSessionError(f"certificate signature algorithm {cert.signature_algorithm} is not ecdsa-with-SHA384")
    if cert.spki_algorithm != OID_EC_PUBLIC_KEY or cert.spki_parameters != OID_SECP384R1:
        raise SecureSessionError("certificate key is not an EC P-384 key")
    try:
        key = ec.EllipticCurvePublicKey.from_encoded_point(ec.SECP384R1(), cert.public_key)
    except ValueError:
        raise SecureSessionError("certificate public key is not a valid P-384 point") from None
    try:
        key.verify(cert.signature, cert.tbs, ec.ECDSA(hashes.SHA384()))
    except InvalidSignature:
        raise SecureSessionError("certificate self-signature does not verify") from None
