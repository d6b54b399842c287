"""The X.509 work of DCAP verification, done once and no more than needed.

DCAP checks a handful of P-256 signatures over certificates and CRLs, and
looks one extension up in the PCK certificate. ``cryptography`` does each of
these, but generically: ``verify_directly_issued_by`` re-encodes the signed
part and parses both names every time, ``tbs_certlist_bytes`` re-encodes a
CRL, ``extensions`` decodes every extension. Here a certificate is kept with
its DER, and the few spans DCAP needs (signed part, issuer and subject names,
extensions) are located once by a small DER walker, so that:

* an issuer signature is one explicit check — the certificate's signature
  algorithm must be ECDSA, the issuer key an EC key, then one ECDSA verify
  over the signed bytes — with the issuer's public key decoded once and
  reused (:class:`Cert.key`);
* the issuer-name check compares the encoded names, as
  ``verify_directly_issued_by`` does; where DCAP asks whether two names are
  the same name (a self-issued root), :func:`same_name` compares them as
  ``Name.__eq__`` does without building ``Name`` objects for plain text names;
* a CRL's signature covers the TBS bytes sliced from its DER, and revocation is
  a lookup by serial number;
* the SGX extension is found by its OID without decoding the others (a
  duplicate of any extension is still refused, as ``cryptography`` does).

PEM chains are read by a fast path that accepts only plain, canonical PEM
(blocks of base64 lines separated by line breaks) and falls back to
``cryptography``'s loader for anything else, so what is accepted and rejected
is exactly what ``load_pem_x509_certificates`` accepts and rejects.

Every ECDSA check of the verifier goes through :func:`ecdsa_verify`. Inside
:func:`deferred_signatures` it only records the check and lets the caller go
on as if it held; :func:`signatures_hold` then runs the recorded checks back
to back. Nine checks in a row cost less than nine checks spread over a
verification (benchmarks/RESULTS.md) — most likely because OpenSSL's P-256
code works from a large precomputed table that the Python work between two
checks pushes out of the CPU caches. The verifier uses this only for an optimistic pass
whose result it keeps when every recorded check holds — then each check
returned what it would have returned at its place — and otherwise decides
again with every check in place (:mod:`migtd.attest.verify`).
"""

from __future__ import annotations

import binascii
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar

from cryptography import x509
from cryptography.exceptions import InvalidSignature, UnsupportedAlgorithm
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.types import PublicKeyTypes
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat
from cryptography.utils import Buffer
from cryptography.x509.oid import NameOID, SignatureAlgorithmOID

from migtd.attest.errors import QuoteVerificationError
from migtd.errors import FormatError

_S = "X.509"
#: What ``cryptography`` raises for an unparsable certificate (InvalidVersion is not a ValueError).
X509_ERRORS = (ValueError, x509.InvalidVersion)
#: What ``cryptography`` raises when it decodes a name it loaded without complaint: a ValueError,
#: or a TypeError for an attribute of an impossible type (a BIT STRING under an OID other than
#: x500UniqueIdentifier, found by fuzzing).
NAME_ERRORS = (ValueError, TypeError)
_VERIFY_ERRORS = (InvalidSignature, ValueError, TypeError, UnsupportedAlgorithm)

_SEQ, _OID, _BOOL, _OCTETS, _INT, _EXT_TAG, _VERSION_TAG = 0x30, 0x06, 0x01, 0x04, 0x02, 0xA3, 0xA0

#: SubjectPublicKeyInfo of a P-256 key up to its point: SEQUENCE { SEQUENCE { id-ecPublicKey,
#: prime256v1 }, BIT STRING (66 bytes: no unused bits, then 0x04 — uncompressed — and X‖Y) }.
_P256_SPKI_HEAD = bytes.fromhex("3059301306072a8648ce3d020106082a8648ce3d03010703420004")
_P256_POINT_AT = len(_P256_SPKI_HEAD) - 1     # the point starts at its 0x04
_P256_SPKI_SIZE = _P256_POINT_AT + 65

#: The ECDSA signature algorithms and the ECDSA parameters to verify each with (built once).
_S_OID = SignatureAlgorithmOID
_ECDSA_BY_OID = {
    _S_OID.ECDSA_WITH_SHA1: ec.ECDSA(hashes.SHA1()), _S_OID.ECDSA_WITH_SHA224: ec.ECDSA(hashes.SHA224()),
    _S_OID.ECDSA_WITH_SHA256: ec.ECDSA(hashes.SHA256()), _S_OID.ECDSA_WITH_SHA384: ec.ECDSA(hashes.SHA384()),
    _S_OID.ECDSA_WITH_SHA512: ec.ECDSA(hashes.SHA512()), _S_OID.ECDSA_WITH_SHA3_224: ec.ECDSA(hashes.SHA3_224()),
    _S_OID.ECDSA_WITH_SHA3_256: ec.ECDSA(hashes.SHA3_256()), _S_OID.ECDSA_WITH_SHA3_384: ec.ECDSA(hashes.SHA3_384()),
    _S_OID.ECDSA_WITH_SHA3_512: ec.ECDSA(hashes.SHA3_512()),
}


# --------------------------------------------------------------------------- ECDSA checks

#: (key, signature, signed bytes, algorithm) of an ECDSA check.
Check = tuple[ec.EllipticCurvePublicKey | None, bytes, bytes, ec.ECDSA]
_SECP256R1 = ec.SECP256R1()


class Deferred:
    """What an optimistic pass took to hold: its ECDSA checks, and the P-256 points it took
    for valid keys (:func:`p256_key`)."""

    __slots__ = ("checks", "keys")

    def __init__(self) -> None:
        self.checks: list[Check] = []
        self.keys: list[_PointKey] = []


#: What the innermost :func:`deferred_signatures` of this thread or task recorded.
_PENDING: ContextVar[Deferred | None] = ContextVar("migtd_attest_pending_signatures", default=None)


class _PointKey(ec.EllipticCurvePublicKey):
    """A P-256 public key known by its uncompressed point, decoded on first use.

    Made only inside :func:`deferred_signatures`, where the point is taken to
    be a valid key; :func:`signatures_hold` decodes it (``from_encoded_point``
    refuses a point off the curve) before any check runs. Once decoded it
    stands for that key in every respect.
    """

    def __init__(self, point: bytes) -> None:
        self._point = point
        self._key: ec.EllipticCurvePublicKey | None = None

    def decoded(self) -> ec.EllipticCurvePublicKey:
        if self._key is None:
            self._key = ec.EllipticCurvePublicKey.from_encoded_point(_SECP256R1, self._point)
        return self._key

    @property
    def curve(self) -> ec.EllipticCurve:
        return _SECP256R1

    @property
    def key_size(self) -> int:
        return 256

    def public_numbers(self) -> ec.EllipticCurvePublicNumbers:
        return self.decoded().public_numbers()

    def public_bytes(self, encoding: Encoding, format: PublicFormat) -> bytes:
        return self.decoded().public_bytes(encoding, format)

    def verify(self, signature: Buffer, data: Buffer, signature_algorithm: ec.EllipticCurveSignatureAlgorithm) -> None:
        self.decoded().verify(signature, data, signature_algorithm)

    def __eq__(self, other: object) -> bool:
        return self.decoded() == (other.decoded() if isinstance(other, _PointKey) else other)

    def __hash__(self) -> int:
        return hash(self.decoded())

    def __copy__(self) -> _PointKey:
        return self

    def __deepcopy__(self, memo: dict[int, object]) -> _PointKey:
        return self


def p256_key(point: bytes) -> ec.EllipticCurvePublicKey:
    """The P-256 key of an uncompressed point (``0x04‖X‖Y``); ``ValueError`` when it is not one.
    Inside :func:`deferred_signatures` the point is taken for a valid key, decoded and
    confirmed by :func:`signatures_hold`."""
    pending = _PENDING.get()
    if pending is None:
        return ec.EllipticCurvePublicKey.from_encoded_point(_SECP256R1, point)
    key = _PointKey(point)
    pending.keys.append(key)
    return key


def ecdsa_verify(key: ec.EllipticCurvePublicKey | None, signature: bytes, data: bytes,
                 algorithm: ec.ECDSA) -> None:
    """``key.verify(signature, data, algorithm)``; inside :func:`deferred_signatures`, recorded
    for :func:`signatures_hold` instead (and taken to hold for now)."""
    pending = _PENDING.get()
    if pending is None:
        key.verify(signature, data, algorithm)  # type: ignore[union-attr]  # None: AttributeError, a failure
    else:
        pending.checks.append((key, signature, data, algorithm))


@contextmanager
def deferred_signatures() -> Iterator[Deferred]:
    """Record the ECDSA checks (and P-256 keys) made inside the block (see the module docstring)."""
    pending = Deferred()
    token = _PENDING.set(pending)
    try:
        yield pending
    finally:
        _PENDING.reset(token)


def signatures_hold(pending: Deferred) -> bool:
    """Whether every key taken for valid is one and every recorded check holds, run one after the other."""
    try:
        for point_key in pending.keys:
            point_key.decoded()
        for key, signature, data, algorithm in pending.checks:
            key.verify(signature, data, algorithm)  # type: ignore[union-attr]
    except (AttributeError, *_VERIFY_ERRORS):
        return False
    return True


# --------------------------------------------------------------------------- DER spans


def _tlv(data: bytes, off: int, end: int) -> tuple[int, int, int]:
    """(tag, value start, value end) of the element at ``off`` (definite lengths only)."""
    if off + 2 > end:
        raise FormatError(_S, "DER", off, "truncated element")
    tag, first = data[off], data[off + 1]
    pos = off + 2
    if first < 0x80:
        length = first
    else:
        n = first & 0x7F
        if n == 0 or n > 4 or pos + n > end:
            raise FormatError(_S, "DER", off, "bad length")
        length = int.from_bytes(data[pos:pos + n], "big")
        pos += n
    if pos + length > end:
        raise FormatError(_S, "DER", off, f"{length} bytes run past their container")
    return tag, pos, pos + length


def _children(data: bytes, start: int, end: int) -> list[tuple[int, int, int, int]]:
    """(tag, element start, value start, value end) of each element in [start, end)."""
    out = []
    off = start
    while off < end:
        if off + 2 <= end and data[off + 1] < 0x80 and off + 2 + data[off + 1] <= end:  # short form, inline
            ve = off + 2 + data[off + 1]
            out.append((data[off], off, off + 2, ve))
        else:
            tag, vs, ve = _tlv(data, off, end)
            out.append((tag, off, vs, ve))
        off = ve
    return out


# --------------------------------------------------------------------------- certificates


class Cert:
    """A certificate with its DER and the spans DCAP verification reads (located on first use)."""

    __slots__ = ("_cn", "_extensions", "_issuer_name", "_key", "_self_issued", "_spki", "_subject_name", "_tbs",
                 "der", "x509")

    def __init__(self, der: bytes, cert: x509.Certificate) -> None:
        self.der = der
        self.x509 = cert
        self._tbs: bytes | None = None
        self._key: ec.EllipticCurvePublicKey | None = None
        self._cn: str | None = None
        self._self_issued: bool | None = None

    def _locate(self) -> None:
        """Find the signed part and the fields DCAP reads, walking the TBSCertificate once.

        Only the TBSCertificate's first element (the signed part) is read from the
        outer SEQUENCE: ``cryptography`` has parsed the whole certificate already.
        """
        der = self.der
        _, outer_s, outer_e = _tlv(der, 0, len(der))
        _, tbs_vs, tbs_ve = _tlv(der, outer_s, outer_e)
        # [0] version, serialNumber, signature, issuer, validity, subject, subjectPublicKeyInfo, [1], [2], [3]
        spans: list[tuple[int, int]] = []
        extensions = None
        off = tbs_vs
        while off < tbs_ve:
            tag, vs, ve = _tlv(der, off, tbs_ve)
            if tag == _EXT_TAG and extensions is None and len(spans) >= 6:
                extensions = (vs, ve)
            if tag != _VERSION_TAG or spans:
                spans.append((off, ve))
            off = ve
        if len(spans) < 6:
            raise FormatError(_S, "TBSCertificate", tbs_vs, "too few fields")
        self._issuer_name = der[spans[2][0]:spans[2][1]]
        self._subject_name = der[spans[4][0]:spans[4][1]]
        self._spki = der[spans[5][0]:spans[5][1]]
        self._extensions = extensions
        self._tbs = der[outer_s:tbs_ve]

    @property
    def tbs(self) -> bytes:
        """The signed TBSCertificate bytes."""
        if self._tbs is None:
            self._locate()
        return self._tbs  # type: ignore[return-value]

    @property
    def issuer_name(self) -> bytes:
        """The encoded issuer Name."""
        if self._tbs is None:
            self._locate()
        return self._issuer_name

    @property
    def subject_name(self) -> bytes:
        """The encoded subject Name."""
        if self._tbs is None:
            self._locate()
        return self._subject_name

    @property
    def spki(self) -> bytes:
        """The encoded SubjectPublicKeyInfo."""
        if self._tbs is None:
            self._locate()
        return self._spki

    @classmethod
    def from_der(cls, der: bytes) -> Cert:
        """Parse one DER certificate; ``ValueError`` (or ``InvalidVersion``) when it does not parse."""
        der = bytes(der)
        cert = x509.load_der_x509_certificate(der)
        self = cls(der, cert)
        try:
            self._locate()
        except FormatError as exc:  # cryptography parsed it, so this cannot happen; keep the error class
            raise ValueError(exc.message) from None
        return self

    @property
    def key(self) -> ec.EllipticCurvePublicKey | None:
        """The EC public key (decoded once), or ``None`` when the key is not an EC key.

        A P-256 key in its usual encoding (named curve, uncompressed point) is
        built from the point, which is cheaper than ``public_key()``'s generic
        SubjectPublicKeyInfo decoding and accepts and rejects the same points
        (both check the point is on the curve); any other key is left to
        ``public_key()``.
        """
        if self._key is None:
            spki = self.spki
            key: PublicKeyTypes
            try:
                if len(spki) == _P256_SPKI_SIZE and spki.startswith(_P256_SPKI_HEAD):
                    key = p256_key(spki[_P256_POINT_AT:])
                else:
                    key = self.x509.public_key()
            except (ValueError, UnsupportedAlgorithm):
                return None
            if not isinstance(key, ec.EllipticCurvePublicKey):
                return None
            self._key = key
        return self._key

    def point(self) -> bytes:
        """The public key as an uncompressed EC point (``b""`` for a non-EC key)."""
        key = self.key
        return key.public_bytes(Encoding.X962, PublicFormat.UncompressedPoint) if key is not None else b""

    def same_key(self, anchor: Cert) -> bool:
        """Whether this certificate holds ``anchor``'s EC public key (identical key encodings
        decide at once; otherwise the decoded points are compared)."""
        if self.spki == anchor.spki:
            return anchor.key is not None
        mine = self.point()
        return bool(mine) and mine == anchor.point()

    def common_name(self) -> str:
        """The first subject CN ("" when there is none or the name does not decode).

        Read from the encoded name when its CN is a UTF8String, PrintableString
        or IA5String that decodes cleanly; any other case is left to
        ``cryptography``'s name parser, which decides as before.
        """
        if self._cn is None:
            found = _first_cn(self.subject_name)
            if found is None:
                try:
                    attrs = self.x509.subject.get_attributes_for_oid(NameOID.COMMON_NAME)
                    found = str(attrs[0].value) if attrs else ""
                except NAME_ERRORS:
                    found = ""
            self._cn = found
        return self._cn

    def extension(self, oid_der: bytes) -> bytes | None:
        """The value (OCTET STRING content) of the extension whose OID content bytes are ``oid_der``.

        ``None`` when absent; :class:`FormatError` for malformed extensions or
        any extension OID that occurs twice.
        """
        if self._tbs is None:
            self._locate()
        if self._extensions is None:
            return None
        start, end = self._extensions
        der = self.der
        tag, seq_s, seq_e = _tlv(der, start, end)
        if tag != _SEQ:
            raise FormatError(_S, "extensions", start, "not a SEQUENCE")
        seen: set[bytes] = set()
        found = None
        for etag, _, es, ee in _children(der, seq_s, seq_e):
            parts = _children(der, es, ee) if etag == _SEQ else []
            if not 2 <= len(parts) <= 3 or parts[0][0] != _OID or parts[-1][0] != _OCTETS \
                    or (len(parts) == 3 and parts[1][0] != _BOOL):
                raise FormatError(_S, "extension", es, "expected SEQUENCE { OID, [BOOLEAN], OCTET STRING }")
            oid = der[parts[0][2]:parts[0][3]]
            if oid in seen:
                raise FormatError(_S, "extension", es, "an extension occurs twice")
            seen.add(oid)
            if oid == oid_der:
                found = der[parts[-1][2]:parts[-1][3]]
        return found


_CN_OID = b"\x55\x04\x03"
_PRINTABLE = frozenset(b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789 '()+,-./:=?")


def _first_cn(name: bytes) -> str | None:
    """The first CN of an encoded Name, or ``None`` to let ``cryptography`` decide."""
    found = _first_cn_at(name, single_valued=False)
    return found[1] if found is not None else None


def _first_cn_at(name: bytes, *, single_valued: bool) -> tuple[int, str] | None:
    """(RDN index, text) of the first CN of an encoded Name; ``None`` when there is none, its
    value is not plain text, or (``single_valued``) an RDN up to it holds more than one attribute.
    Walks the RDNs one by one and stops at the CN (first in Intel's names)."""
    try:
        tag, off, end = _tlv(name, 0, len(name))
        if tag != _SEQ or end != len(name):
            return None
        index = 0
        while off < end:
            set_tag, ss, se = _tlv(name, off, end)
            if set_tag != 0x31:
                return None
            atvs = _children(name, ss, se)
            if single_valued and len(atvs) != 1:
                return None
            for atv_tag, _, as_, ae in atvs:
                oid_tag, os_, oe = _tlv(name, as_, ae)
                vtag, value_s, value_e = _tlv(name, oe, ae)
                if atv_tag != _SEQ or oid_tag != _OID or value_e != ae:
                    return None
                if name[os_:oe] != _CN_OID:
                    continue
                raw = name[value_s:value_e]
                if vtag == 0x0C:                       # UTF8String
                    return index, raw.decode("utf-8")
                if vtag == 0x13 and _PRINTABLE.issuperset(raw):   # PrintableString
                    return index, raw.decode("ascii")
                if vtag == 0x16 and raw.isascii():     # IA5String
                    return index, raw.decode("ascii")
                return None
            off = se
            index += 1
    except (FormatError, UnicodeDecodeError):
        return None
    return None


def check_issued_by(cert: Cert, issuer: Cert, step: str, what: str) -> None:
    """What ``cert.verify_directly_issued_by(issuer)`` checks, for ECDSA issuers.

    The certificate's encoded issuer name must be the issuer's encoded subject
    name, its signature algorithm ECDSA with a hash ``cryptography`` knows,
    and the signature must verify with the issuer's EC key over the signed bytes.
    """
    if cert.issuer_name != issuer.subject_name:   # cryptography compares the encoded names, so do we
        raise QuoteVerificationError(step, f"{what} is not signed by its issuer (issuer name mismatch)")
    key = issuer.key
    try:
        algorithm = _ECDSA_BY_OID.get(cert.x509.signature_algorithm_oid)
        if key is None or algorithm is None:
            raise InvalidSignature("not an ECDSA signature by an EC key")
        ecdsa_verify(key, cert.x509.signature, cert.tbs, algorithm)
    except _VERIFY_ERRORS as exc:
        raise QuoteVerificationError(step, f"{what} is not signed by its issuer ({exc or 'bad signature'})") from None


_BEGIN_CERT, _END_CERT = b"-----BEGIN CERTIFICATE-----", b"-----END CERTIFICATE-----"


def _canonical_pem_bodies(data: bytes) -> list[bytes] | None:
    """The base64 text (line breaks included) of each block if ``data`` is nothing but plain PEM
    certificate blocks (line breaks between and around them, base64 lines inside); else ``None``."""
    pieces = data.split(_END_CERT)
    if pieces[-1].strip(b"\r\n"):
        return None
    bodies = []
    for piece in pieces[:-1]:
        piece = piece.lstrip(b"\r\n")
        if not piece.startswith(_BEGIN_CERT):
            return None
        body = piece[len(_BEGIN_CERT):]
        if not body.startswith((b"\n", b"\r\n")) or not body.endswith(b"\n") or b"-" in body:
            return None
        bodies.append(body)
    return bodies


def _from_canonical_pem(data: bytes, known: dict[bytes, Cert], learn: bool) -> list[Cert] | None:
    """The certificates of plain PEM, reusing ``known`` ones; ``None`` when the text is not plain."""
    bodies = _canonical_pem_bodies(data)
    if not bodies:
        return None
    certs = []
    for body in bodies:
        cert = known.get(body)
        if cert is None:
            try:
                der = binascii.a2b_base64(body.replace(b"\r", b"").replace(b"\n", b""), strict_mode=True)
            except binascii.Error:
                return None
            cert = known.get(der) or Cert.from_der(der)
            if learn:
                known[body] = cert
        certs.append(cert)
    return certs


def load_pem_chain(pem: bytes | str, step: str, count: int, known: dict[bytes, Cert] | None = None,
                   learn: bool = False) -> list[Cert]:
    """Exactly ``count`` certificates from a PEM chain (a trailing NUL is ignored).

    ``known`` holds certificates already parsed (the trust anchor, the
    collateral's CAs), keyed by their DER and by the base64 text of their PEM
    block: a block seen before is neither decoded nor parsed again.
    ``learn`` adds this chain's certificates to ``known``.
    """
    data = pem.encode() if isinstance(pem, str) else bytes(pem)
    data = data.rstrip(b"\0")
    known = {} if known is None else known
    try:
        certs = _from_canonical_pem(data, known, learn)
        if certs is None:                  # not plain PEM after all: cryptography's loader decides
            certs = [known.get(d) or Cert.from_der(d) for d in
                     (c.public_bytes(Encoding.DER) for c in x509.load_pem_x509_certificates(data))]
    except X509_ERRORS as exc:
        raise QuoteVerificationError(step, f"certificate chain does not parse: {exc}") from None
    if len(certs) != count:
        raise QuoteVerificationError(step, f"expected {count} certificates, found {len(certs)}")
    if learn:
        for cert in certs:
            known.setdefault(cert.der, cert)
    return certs


_TEXT_TAGS = frozenset({0x0C, 0x13, 0x16})   # UTF8String, PrintableString, IA5String


def _name_key(name: bytes) -> tuple[frozenset[tuple[bytes, bytes]], ...] | None:
    """An encoded Name as ``cryptography`` compares names — RDNs in order, each a set of
    (attribute OID, value) — or ``None`` when a value is of a type whose text is not its bytes."""
    try:
        tag, vs, ve = _tlv(name, 0, len(name))
        if tag != _SEQ or ve != len(name):
            return None
        rdns = []
        for set_tag, _, ss, se in _children(name, vs, ve):
            if set_tag != 0x31:
                return None
            atvs = set()
            for atv_tag, _, as_, ae in _children(name, ss, se):
                parts = _children(name, as_, ae)
                if atv_tag != _SEQ or len(parts) != 2 or parts[0][0] != _OID or parts[1][0] not in _TEXT_TAGS:
                    return None
                value = name[parts[1][2]:parts[1][3]]
                if parts[1][0] == 0x13 and not _PRINTABLE.issuperset(value) \
                        or parts[1][0] == 0x16 and not value.isascii():
                    return None
                value.decode("utf-8")
                atvs.add((name[parts[0][2]:parts[0][3]], value))
            rdns.append(frozenset(atvs))
        return tuple(rdns)
    except (FormatError, UnicodeDecodeError):
        return None


def same_name(a: Cert, a_issuer: bool, b: Cert, b_issuer: bool) -> bool:
    """Whether a name of ``a`` equals a name of ``b`` (``*_issuer``: issuer, else subject), as
    ``cryptography`` compares names: the encodings first, then name by name (UTF-8, Printable
    and IA5 text compare by their bytes), and ``cryptography`` itself for any other value type."""
    na = a.issuer_name if a_issuer else a.subject_name
    nb = b.issuer_name if b_issuer else b.subject_name
    if na == nb:
        return True
    ka, kb = _name_key(na), _name_key(nb)
    if ka is not None and kb is not None:
        return ka == kb
    try:
        return (a.x509.issuer if a_issuer else a.x509.subject) == (b.x509.issuer if b_issuer else b.x509.subject)
    except NAME_ERRORS:
        return False


def self_issued(cert: Cert) -> bool:
    """Whether subject and issuer are the same name.

    Shortcut for the usual certificate, issued by another: when both names
    start with single-valued RDNs up to their first CN and those CNs differ
    (in text or position), the names differ under any comparison. Decided
    once per certificate (the root is asked about in every chain).
    """
    found = cert._self_issued
    if found is None:
        found = cert._self_issued = _self_issued(cert)
    return found


def _self_issued(cert: Cert) -> bool:
    if cert.issuer_name == cert.subject_name:
        return True
    a = _first_cn_at(cert.issuer_name, single_valued=True)
    b = _first_cn_at(cert.subject_name, single_valued=True)
    if a is not None and b is not None and a != b:
        return False
    return same_name(cert, True, cert, False)


def pck_chain_roles(certs: list[Cert], step: str) -> tuple[Cert, Cert, Cert]:
    """(PCK certificate, PCK CA, root) of a quote's chain, found as Intel's library finds them.

    Intel does not rely on the order: the root is the (last) self-issued
    certificate, the CA the first other certificate whose CN contains "CA",
    the PCK certificate the (last) one whose CN contains "SGX PCK Certificate".
    """
    issued_by_self = [self_issued(c) for c in certs]
    roots = [c for c, own in zip(certs, issued_by_self) if own]
    cas = [c for c, own in zip(certs, issued_by_self) if not own and "CA" in c.common_name()]
    leaves = [c for c in certs if "SGX PCK Certificate" in c.common_name()]
    if not roots:
        raise QuoteVerificationError(step, "the PCK chain has no self-issued root CA certificate")
    if not cas:
        raise QuoteVerificationError(step, "the PCK chain has no PCK CA certificate (a CN containing 'CA')")
    if not leaves:
        raise QuoteVerificationError(step, "the PCK chain has no SGX PCK Certificate")
    return leaves[-1], cas[0], roots[-1]


def signing_chain_roles(certs: list[Cert], step: str, what: str) -> tuple[Cert, Cert]:
    """(signing certificate, root) of a two-certificate chain, in either order (the root is self-issued)."""
    first, second = certs
    if self_issued(second):
        return first, second
    if self_issued(first):
        return second, first
    raise QuoteVerificationError(step, f"{what} issuer chain has no self-issued root CA certificate")


def load_anchor(data: bytes) -> Cert:
    """The configured trust anchor, DER or PEM (its self-signature is not checked: it is trusted)."""
    try:
        if data.lstrip().startswith(b"-----BEGIN"):
            return Cert.from_der(x509.load_pem_x509_certificate(data).public_bytes(Encoding.DER))
        return Cert.from_der(data)
    except X509_ERRORS as exc:
        raise QuoteVerificationError("root_ca", f"trusted root CA does not parse: {exc}") from None
    except FormatError as exc:
        raise QuoteVerificationError("root_ca", f"trusted root CA does not parse: {exc.message}") from None


# --------------------------------------------------------------------------- CRLs


class Crl:
    """A CRL with the bytes its signature covers."""

    __slots__ = ("_number", "tbs", "x509")

    def __init__(self, crl: x509.CertificateRevocationList, der: bytes) -> None:
        self.x509 = crl
        _, outer_s, outer_e = _tlv(der, 0, len(der))
        _, _, tbs_end = _tlv(der, outer_s, outer_e)   # cryptography parsed the rest
        self.tbs = der[outer_s:tbs_end]
        self._number: int | None | bool = False   # False: not decoded yet

    @property
    def number(self) -> int | None:
        """The CRL Number extension (``None`` when absent or malformed), decoded once."""
        if self._number is False:
            try:
                self._number = int(self.x509.extensions.get_extension_for_class(x509.CRLNumber).value.crl_number)
            except (x509.ExtensionNotFound, x509.DuplicateExtension, ValueError, TypeError):
                self._number = None
        return self._number

    def signed_by(self, key: ec.EllipticCurvePublicKey | None) -> bool:
        """What ``is_signature_valid(key)`` decides, for EC keys (an ECDSA signature required)."""
        crl = self.x509
        try:
            algorithm = _ECDSA_BY_OID.get(crl.signature_algorithm_oid)
            if key is None or algorithm is None:
                return False
            ecdsa_verify(key, crl.signature, self.tbs, algorithm)
        except _VERIFY_ERRORS:
            return False
        return True

    def revokes(self, serial: int) -> bool:
        """Whether the CRL lists ``serial``."""
        return self.x509.get_revoked_certificate_by_serial_number(serial) is not None


_CRL_BEGIN, _CRL_END = b"-----BEGIN X509 CRL-----\n", b"-----END X509 CRL-----"


def _canonical_pem_crl(data: bytes) -> bytes | None:
    """The DER of a plain PEM CRL (one block, base64 lines, nothing around it), else ``None``."""
    body = data.rstrip(b"\r\n")
    if not (body.startswith(_CRL_BEGIN) and body.endswith(_CRL_END)):
        return None
    body = body[len(_CRL_BEGIN):-len(_CRL_END)]
    if b"-" in body:
        return None
    try:
        return binascii.a2b_base64(body.replace(b"\r", b"").replace(b"\n", b""), strict_mode=True)
    except binascii.Error:
        return None


def load_crl(text: str, what: str) -> Crl:
    """A CRL given as PEM (what MigTD's collateral holds) or as hex of its DER (Intel also accepts that)."""
    try:
        if "-----BEGIN" in text:
            data = text.encode()
            der = _canonical_pem_crl(data)
            if der is not None:
                return Crl(x509.load_der_x509_crl(der), der)
            crl = x509.load_pem_x509_crl(data)
            return Crl(crl, crl.public_bytes(Encoding.DER))
        der = bytes.fromhex(text.strip())
        return Crl(x509.load_der_x509_crl(der), der)
    except (ValueError, FormatError) as exc:
        problem = exc.message if isinstance(exc, FormatError) else str(exc)
        raise QuoteVerificationError("crl", f"{what} does not parse: {problem}") from None
