"""Known answers for the primitives of the key schedule and the secured records.

Each published value is checked twice: against this package's construction
(HMAC/HKDF built on ``hmac.digest``; AES-GCM through ``crypto.aead_*``) and
against ``cryptography``'s own implementation, so a wrong vector and a wrong
construction cannot hide each other.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives import hmac as c_hmac
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.utils import encode_dss_signature
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF, HKDFExpand

from migtd.spdm import crypto
from migtd.spdm.errors import AuthenticationError, DecodeError

VECTORS = Path(__file__).parent / "vectors"

# RFC 4231 §4, HMAC-SHA-384 (case 5's output is truncated to 128 bits in the RFC).
RFC4231 = [
    (bytes([0x0B] * 20), b"Hi There",
     "afd03944d84895626b0825f4ab46907f15f9dadbe4101ec682aa034c7cebc59cfaea9ea9076ede7f4af152e8b2fa9cb6"),
    (b"Jefe", b"what do ya want for nothing?",
     "af45d2e376484031617f78d2b58a6b1b9c7ef464f5a01b47e42ec3736322445e8e2240ca5e69e2c78b3239ecfab21649"),
    (bytes([0xAA] * 20), bytes([0xDD] * 50),
     "88062608d3e6ad8a0aa2ace014c8a86f0aa635d947ac9febe83ef4e55966144b2a5ab39dc13814b94e3ab6e101a34f27"),
    (bytes(range(1, 26)), bytes([0xCD] * 50),
     "3e8a69b7783c25851933ab6290af6ca77a9981480850009cc5577c6e1f573b4e6801dd23c4a7d679ccf8a386c674cffb"),
    (bytes([0x0C] * 20), b"Test With Truncation", "3abf34c3503b2a23a46efc619baef897"),
    (bytes([0xAA] * 131), b"Test Using Larger Than Block-Size Key - Hash Key First",
     "4ece084485813e9088d2c63a041bc5b44f9ef1012a2b588f3cd11f05033ac4c60c2ef6ab4030fe8296248df163f44952"),
    (bytes([0xAA] * 131),
     (b"This is a test using a larger than block-size key and a larger than block-size data. "
      b"The key needs to be hashed before being used by the HMAC algorithm."),
     "6617178e941f020d351e2f254e8fd32c602420feb0b8fb9adccebb82461e99c5a678cc31e799176d3860e6110c46523e"),
]

# McGrew & Viega, "The Galois/Counter Mode of Operation (GCM)", Appendix B, test cases 13–16 (AES-256).
_K15 = "feffe9928665731c6d6a8f9467308308feffe9928665731c6d6a8f9467308308"
_P15 = ("d9313225f88406e5a55909c5aff5269a86a7a9531534f7da2e4c303d8a318a72"
        "1c3c0c95956809532fcf0e2449a6b525b16aedf5aa0de657ba637b391aafd255")
_C15 = ("522dc1f099567d07f47f37a32a84427d643a8cdcbfe5c0c97598a2bd2555d1aa"
        "8cb08e48590dbb3da7b08b1056828838c5f61e6393ba7a0abcc9f662898015ad")
GCM = [
    ("13", "00" * 32, "00" * 12, "", "", "", "530f8afbc74536b9a963b4f1c4cb738b"),
    ("14", "00" * 32, "00" * 12, "00" * 16, "", "cea7403d4d606b6e074ec5d3baf39d18", "d0d1c8a799996bf0265b98b5d48ab919"),
    ("15", _K15, "cafebabefacedbaddecaf888", _P15, "", _C15, "b094dac5d93471bdec1a502270e3cc6c"),
    ("16", _K15, "cafebabefacedbaddecaf888", _P15[:120], "feedfacedeadbeeffeedfacedeadbeefabaddad2", _C15[:120],
     "76fc6ece0f4e1768cddf8853bb2d551b"),
]


@pytest.mark.parametrize("key,data,mac", RFC4231)
def test_hmac_sha384_rfc4231(key: bytes, data: bytes, mac: str) -> None:
    ours = crypto.hmac_sha384(key, data)
    h = c_hmac.HMAC(key, hashes.SHA384())
    h.update(data)
    theirs = h.finalize()
    assert ours == theirs
    assert ours[:len(mac) // 2].hex() == mac


def _wycheproof() -> list[dict[str, object]]:
    return json.loads((VECTORS / "hkdf_sha384_wycheproof.json").read_text())["tests"]


@pytest.mark.parametrize("case", _wycheproof(), ids=lambda c: f"tc{c['tcId']}")
def test_hkdf_sha384_wycheproof(case: dict) -> None:
    ikm, salt, info = (bytes.fromhex(case[k]) for k in ("ikm", "salt", "info"))
    okm = bytes.fromhex(case["okm"])
    ours = crypto.hkdf_expand(crypto.hkdf_extract(salt, ikm), info, case["size"])
    theirs = HKDF(hashes.SHA384(), case["size"], salt or None, info).derive(ikm)
    assert ours == theirs == okm


def test_hkdf_expand_agrees_with_cryptography_at_every_block_boundary() -> None:
    prk = os.urandom(48)
    for length in (1, 12, 32, 47, 48, 49, 95, 96, 97, 255 * 48):
        info = os.urandom(length % 40)
        assert crypto.hkdf_expand(prk, info, length) == HKDFExpand(hashes.SHA384(), length, info).derive(prk)
    with pytest.raises(ValueError):
        crypto.hkdf_expand(prk, b"", 255 * 48 + 1)
    with pytest.raises(ValueError):
        crypto.hkdf_expand(prk, b"", 0)


@pytest.mark.parametrize("tc,key,iv,pt,aad,ct,tag", GCM, ids=lambda v: v if len(v) == 2 else "")
def test_aes256_gcm_mcgrew_viega(tc: str, key: str, iv: str, pt: str, aad: str, ct: str, tag: str) -> None:
    k, n, p, a = (bytes.fromhex(x) for x in (key, iv, pt, aad))
    sealed = crypto.aead_seal(k, n, p, a)
    assert sealed == bytes.fromhex(ct + tag)
    assert AESGCM(k).encrypt(n, p, a) == sealed
    assert crypto.aead_open(k, n, sealed, a) == p
    for bad in (sealed[:-1] + bytes([sealed[-1] ^ 1]), sealed[:-16], bytes(3)):
        with pytest.raises(AuthenticationError):
            crypto.aead_open(k, n, bad, a)
    with pytest.raises(AuthenticationError):
        crypto.aead_open(k, n, sealed, a + b"x")


def test_signing_message_layout() -> None:
    """DSP0274 1.2 combined prefix: 64-byte version prefix, zero pad, 36-byte context, hash."""
    th = bytes(range(48))
    msg = crypto.signing_message(b"responder-key_exchange_rsp signing", th)
    assert len(msg) == 148
    assert msg[:64] == b"dmtf-spdm-v1.2.*dmtf-spdm-v1.2.*dmtf-spdm-v1.2.*dmtf-spdm-v1.2.*"
    assert msg[64:66] == b"\x00\x00" and msg[66:100] == b"responder-key_exchange_rsp signing"
    fin = crypto.signing_message(b"requester-finish signing", th)
    assert fin[64:76] == bytes(12) and fin[76:100] == b"requester-finish signing" and fin[100:] == th
    with pytest.raises(ValueError):
        crypto.signing_message(bytes(37), th)


def test_ecdsa_raw_signature_verifies_through_the_der_path() -> None:
    key = crypto.generate_signing_key()
    msg = os.urandom(148)
    sig = crypto.sign(key, msg)
    assert len(sig) == 96
    der = encode_dss_signature(int.from_bytes(sig[:48], "big"), int.from_bytes(sig[48:], "big"))
    key.public_key().verify(der, msg, ec.ECDSA(hashes.SHA384()))  # independent check
    crypto.verify(key.public_key(), msg, sig, "test")
    for bad in (sig[:-1] + bytes([sig[-1] ^ 1]), bytes(96), sig[:95]):
        with pytest.raises(AuthenticationError):
            crypto.verify(key.public_key(), msg, bad, "test")
    with pytest.raises(AuthenticationError):
        crypto.verify(crypto.generate_signing_key().public_key(), msg, sig, "test")


def test_ecdhe_shares_agree_and_bad_points_are_refused() -> None:
    a, b = crypto.generate_dhe_key(), crypto.generate_dhe_key()
    xa, xb = crypto.exchange_data(a), crypto.exchange_data(b)
    assert len(xa) == 96
    shared = crypto.dhe_shared_secret(a, xb, "t")
    assert shared == crypto.dhe_shared_secret(b, xa, "t") == b.exchange(ec.ECDH(), a.public_key())
    assert len(shared) == 48
    with pytest.raises(DecodeError):
        crypto.dhe_shared_secret(a, bytes(96), "t")
    with pytest.raises(DecodeError):
        crypto.dhe_shared_secret(a, xb[:-1] + bytes([xb[-1] ^ 1]), "t")
    with pytest.raises(DecodeError):
        crypto.dhe_shared_secret(a, xb[:95], "t")


def test_peer_spki_must_be_canonical_p384() -> None:
    key = crypto.generate_signing_key()
    spki = crypto.spki_of(key)
    assert len(spki) == 120 and spki.startswith(bytes.fromhex("3076301006072a8648ce3d020106052b8104002203620004"))
    assert crypto.spki_of(crypto.load_peer_spki(spki)) == spki
    p256 = crypto.spki_of(ec.generate_private_key(ec.SECP256R1()))
    for bad in (p256, spki[:-1], spki + b"\x00", b"", b"\x30\x00", bytes(120)):
        with pytest.raises(DecodeError):
            crypto.load_peer_spki(bad)
