"""Issuer chains and signatures for policy v2 (spec/policy.md §3.1, §3.2).

Upstream's rules are narrow and we keep them exactly: each certificate is
checked against the next one's key with ECDSA P-384/SHA-384, the leaf key
verifies the signature, and nothing else (dates, key usage, the root's
self-signature, revocation) is looked at — trust in a chain comes from it
being measured and bound to MROWNER, and from comparing a peer's chains with
our own (:func:`validate_peer_chain`).
"""

from __future__ import annotations

import functools
import hashlib

from cryptography import x509
from cryptography.exceptions import InvalidSignature, UnsupportedAlgorithm
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import SignatureAlgorithmOID


class ChainError(ValueError):
    """A chain or signature check failed; the message says which step."""


def load_chain(pem: bytes) -> list[x509.Certificate]:
    """Every PEM CERTIFICATE block, leaf first; none or a malformed one -> ChainError."""
    try:
        certs = x509.load_pem_x509_certificates(bytes(pem))
    except ValueError as exc:
        raise ChainError(f"issuer chain: {exc}") from None
    if not certs:
        raise ChainError("issuer chain holds no certificate")
    return certs


def _public_key(cert: x509.Certificate, what: str) -> object:
    """The certificate's key; a malformed key or an algorithm cryptography does not know is a ChainError."""
    try:
        return cert.public_key()
    except (ValueError, UnsupportedAlgorithm) as exc:
        raise ChainError(f"{what}: unreadable public key ({exc})") from None


def _p384_key(cert: x509.Certificate, what: str) -> ec.EllipticCurvePublicKey:
    key = _public_key(cert, what)
    if not isinstance(key, ec.EllipticCurvePublicKey) or not isinstance(key.curve, ec.SECP384R1):
        raise ChainError(f"{what}: key is not an EC P-384 key")
    return key


def _require_sha384(cert: x509.Certificate, what: str) -> None:
    if cert.signature_algorithm_oid != SignatureAlgorithmOID.ECDSA_WITH_SHA384:
        raise ChainError(f"{what}: signature algorithm {cert.signature_algorithm_oid.dotted_string} "
                         "is not ecdsa-with-SHA384")


def verify_chain_links(certs: list[x509.Certificate]) -> None:
    """Check each certificate's signature with the next one's key."""
    for i in range(len(certs) - 1):
        child, parent = certs[i], certs[i + 1]
        _require_sha384(child, f"certificate {i}")
        key = _p384_key(parent, f"certificate {i + 1}")
        try:
            key.verify(child.signature, child.tbs_certificate_bytes, ec.ECDSA(hashes.SHA384()))
        except InvalidSignature:
            raise ChainError(f"certificate {i} is not signed by certificate {i + 1}") from None


def verify_signature(certs: list[x509.Certificate], message: bytes, signature_der: bytes) -> None:
    """ECDSA P-384/SHA-384 over ``message`` with the leaf key; the leaf must be ecdsa-with-SHA384."""
    leaf = certs[0]
    _require_sha384(leaf, "leaf certificate")
    key = _p384_key(leaf, "leaf certificate")
    try:
        key.verify(signature_der, message, ec.ECDSA(hashes.SHA384()))
    except (InvalidSignature, ValueError):
        raise ChainError("signature does not verify with the leaf certificate's key") from None


def verify_chain_and_signature(chain_pem: bytes, message: bytes, signature_der: bytes) -> None:
    """``verify_cert_chain_and_signature``: links, then the signature; ChainError on failure."""
    certs = load_chain(chain_pem)
    verify_chain_links(certs)
    verify_signature(certs, message, signature_der)


def _is_ca(cert: x509.Certificate, what: str) -> bool:
    try:
        return bool(cert.extensions.get_extension_for_class(x509.BasicConstraints).value.ca)
    except x509.ExtensionNotFound:
        return False
    except (ValueError, x509.DuplicateExtension) as exc:
        raise ChainError(f"{what}: unreadable extensions ({exc})") from None


def validate_peer_chain(local_pem: bytes, peer_pem: bytes) -> None:
    """A peer's chain must share our root and leaf subject, with CA intermediates (§3.2).

    A pure function of the two chains: an accepted pair is remembered (by
    content), so judging the same peer chain again verifies no signature.
    """
    _validate_peer_chain(bytes(local_pem), bytes(peer_pem))


@functools.lru_cache(maxsize=64)
def _validate_peer_chain(local_pem: bytes, peer_pem: bytes) -> None:
    local = load_chain(local_pem)
    peer = load_chain(peer_pem)
    verify_chain_links(peer)
    enc = serialization.Encoding.DER
    if local[-1].public_bytes(enc) != peer[-1].public_bytes(enc):
        raise ChainError("the peer's chain ends in a different root certificate")
    if local[0].subject.public_bytes() != peer[0].subject.public_bytes():
        raise ChainError("the peer's leaf subject differs from ours")
    for i, cert in enumerate(peer[1:], start=1):
        if not _is_ca(cert, f"the peer's certificate {i}"):
            raise ChainError(f"the peer's certificate {i} is not a CA (BasicConstraints cA missing)")


def signer_key_hash(chain_pem: bytes) -> bytes:
    """SHA-384 of the leaf's raw subjectPublicKey (the 97-byte uncompressed point)."""
    key = _public_key(load_chain(chain_pem)[0], "leaf certificate")
    if not isinstance(key, ec.EllipticCurvePublicKey):
        raise ChainError("leaf key is not an EC key")
    point = key.public_bytes(serialization.Encoding.X962, serialization.PublicFormat.UncompressedPoint)
    return hashlib.sha384(point).digest()
