"""The cryptography of MigTD's SPDM profile: SHA-384, HMAC/HKDF, P-384, AES-256-GCM.

HMAC and HKDF are built here on :func:`hmac.digest` (RFC 2104 / RFC 5869,
one OpenSSL call per block) so the key schedule is a few visible lines;
the tests check them against published vectors and against
``cryptography``'s own HKDF. ECDSA, ECDH and AES-GCM come from
``cryptography``. Signatures on the wire are raw ``r ‖ s`` (48 + 48 bytes,
big-endian), ECDHE shares are raw ``X ‖ Y`` (no ``04`` prefix), as spdm.md
§3.6 and §4.2 describe.
"""

from __future__ import annotations

import hashlib
import hmac

from cryptography.exceptions import InvalidSignature, InvalidTag
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.utils import decode_dss_signature, encode_dss_signature
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from migtd.spdm.constants import (
    AEAD_TAG_SIZE,
    EXCHANGE_DATA_SIZE,
    HASH_SIZE,
    SIGNATURE_SIZE,
    SIGNING_CONTEXT_SIZE,
    SIGNING_PREFIX,
)
from migtd.spdm.errors import AuthenticationError, DecodeError

_CURVE = ec.SECP384R1()
_ECDSA = ec.ECDSA(hashes.SHA384())
_COORD = 48


def sha384(data: bytes) -> bytes:
    return hashlib.sha384(data).digest()


def hmac_sha384(key: bytes, data: bytes) -> bytes:
    return hmac.digest(key, data, "sha384")


def hkdf_extract(salt: bytes, ikm: bytes) -> bytes:
    """RFC 5869 Extract with SHA-384: HMAC(salt, ikm); an empty salt means 48 zero bytes."""
    return hmac_sha384(salt or bytes(HASH_SIZE), ikm)


def hkdf_expand(prk: bytes, info: bytes, length: int) -> bytes:
    """RFC 5869 Expand with SHA-384: T(i) = HMAC(prk, T(i-1) ‖ info ‖ i), first ``length`` bytes."""
    if not 0 < length <= 255 * HASH_SIZE:
        raise ValueError(f"HKDF-Expand length {length} out of range")
    out = b""
    block = b""
    i = 1
    while len(out) < length:
        block = hmac_sha384(prk, block + info + bytes((i,)))
        out += block
        i += 1
    return out[:length]


def signing_message(context: bytes, transcript_hash: bytes) -> bytes:
    """DSP0274 1.2 M = prefix×4 ‖ zero pad ‖ context ‖ hash (148 bytes for SHA-384)."""
    if len(context) > SIGNING_CONTEXT_SIZE:
        raise ValueError("signing context longer than 36 bytes")
    return SIGNING_PREFIX + bytes(SIGNING_CONTEXT_SIZE - len(context)) + context + transcript_hash


# --- ECDSA P-384 -----------------------------------------------------------------


def generate_signing_key() -> ec.EllipticCurvePrivateKey:
    """A fresh P-384 key: MigTD makes one per session (spdm.md §5)."""
    return ec.generate_private_key(_CURVE)


def spki_of(key: ec.EllipticCurvePrivateKey | ec.EllipticCurvePublicKey) -> bytes:
    """DER SubjectPublicKeyInfo (120 bytes for P-384), as sent in the ExchangePubKey VDM."""
    pub = key.public_key() if isinstance(key, ec.EllipticCurvePrivateKey) else key
    return pub.public_bytes(serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)


def load_peer_spki(spki: bytes) -> ec.EllipticCurvePublicKey:
    """A peer's P-384 key from its SPKI; anything else (other curve, non-canonical DER) is refused."""
    try:
        key = serialization.load_der_public_key(spki)
    except (ValueError, TypeError) as exc:
        raise DecodeError("SubjectPublicKeyInfo", "key", 0, f"not a public key: {exc}") from None
    # cryptography raises UnsupportedAlgorithm for unknown key types; whatever else a hostile key
    # provokes must still end in a DecodeError, never a traceback
    except Exception as exc:  # noqa: BLE001 - see above
        raise DecodeError("SubjectPublicKeyInfo", "key", 0, f"unsupported key: {type(exc).__name__}") from None
    if not isinstance(key, ec.EllipticCurvePublicKey) or key.curve.name != _CURVE.name:
        raise DecodeError("SubjectPublicKeyInfo", "algorithm", 0, "not an ECDSA P-384 key")
    if spki_of(key) != spki:
        raise DecodeError("SubjectPublicKeyInfo", "encoding", 0, "not the canonical DER encoding")
    return key


def sign(key: ec.EllipticCurvePrivateKey, message: bytes) -> bytes:
    """ECDSA-SHA384 over ``message``, as raw r ‖ s (96 bytes)."""
    r, s = decode_dss_signature(key.sign(message, _ECDSA))
    return r.to_bytes(_COORD, "big") + s.to_bytes(_COORD, "big")


def verify(key: ec.EllipticCurvePublicKey, message: bytes, signature: bytes, what: str) -> None:
    """Check a raw r ‖ s signature; AuthenticationError naming ``what`` otherwise."""
    if len(signature) != SIGNATURE_SIZE:
        raise AuthenticationError(f"{what}: signature is {len(signature)} bytes, expected 96")
    r = int.from_bytes(signature[:_COORD], "big")
    s = int.from_bytes(signature[_COORD:], "big")
    try:
        key.verify(encode_dss_signature(r, s), message, _ECDSA)
    except (InvalidSignature, ValueError):
        raise AuthenticationError(f"{what}: signature does not verify") from None


# --- ECDHE secp384r1 ---------------------------------------------------------------


def generate_dhe_key() -> ec.EllipticCurvePrivateKey:
    return ec.generate_private_key(_CURVE)


def exchange_data(key: ec.EllipticCurvePrivateKey) -> bytes:
    """X ‖ Y of the public share (96 bytes, no 04 prefix)."""
    pt = key.public_key().public_bytes(serialization.Encoding.X962, serialization.PublicFormat.UncompressedPoint)
    return pt[1:]


def dhe_shared_secret(key: ec.EllipticCurvePrivateKey, peer_exchange_data: bytes, structure: str) -> bytes:
    """48-byte x-coordinate of the shared point; a share not on the curve is a DecodeError."""
    if len(peer_exchange_data) != EXCHANGE_DATA_SIZE:
        raise DecodeError(structure, "ExchangeData", 0, f"{len(peer_exchange_data)} bytes, expected 96")
    try:
        peer = ec.EllipticCurvePublicKey.from_encoded_point(_CURVE, b"\x04" + peer_exchange_data)
        return key.exchange(ec.ECDH(), peer)
    except ValueError:
        raise DecodeError(structure, "ExchangeData", 0, "not a point on secp384r1") from None


# --- AES-256-GCM --------------------------------------------------------------------


def aead_seal(key: bytes, nonce: bytes, plaintext: bytes, aad: bytes) -> bytes:
    """Ciphertext ‖ 16-byte tag."""
    return AESGCM(key).encrypt(nonce, plaintext, aad)


def aead_open(key: bytes, nonce: bytes, sealed: bytes, aad: bytes) -> bytes:
    """Plaintext, or AuthenticationError if the tag does not verify."""
    if len(sealed) < AEAD_TAG_SIZE:
        raise AuthenticationError("AEAD: ciphertext shorter than the tag")
    try:
        return AESGCM(key).decrypt(nonce, sealed, aad)
    except InvalidTag:
        raise AuthenticationError("AEAD: tag does not verify") from None


def constant_time_equal(a: bytes, b: bytes) -> bool:
    return hmac.compare_digest(a, b)
