"""The optimistic first pass of a fresh verification decides exactly as checks in place do.

``verify_quote`` without cached collateral records its ECDSA checks, runs them
together at the end and keeps the result only when all hold; otherwise it
verifies again with every check in place (``migtd.attest.verify._verify_fresh``).
These tests pin that the kept result is the in-place result, that a failed
check never lets a later error of the optimistic pass through, and that the
collateral cache ends up as it did before.
"""

from __future__ import annotations

import base64
import dataclasses

import pytest
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

from migtd.attest import verify as verify_mod
from migtd.attest.certs import Deferred, deferred_signatures, ecdsa_verify, p256_key, signatures_hold
from migtd.attest.collateral_cache import CollateralCache
from migtd.attest.verify import QuoteVerificationError, verify_quote

QUOTE_SIGNATURE_AT = 48 + 584 + 4   # v4 header, TD10 body, signature data length
AZURE_FMSPC = "90C06F000000"


@pytest.fixture
def in_place(monkeypatch):
    """Switch the optimistic pass off: every check where it stands, as before it existed."""
    def off() -> None:
        monkeypatch.setattr(verify_mod, "_verify_fresh", lambda *args: None)
    return off


@pytest.fixture
def recorded(monkeypatch):
    """The number of checks each optimistic pass ran together."""
    counts: list[int] = []
    real = verify_mod.signatures_hold

    def spy(pending):
        counts.append(len(pending.checks))
        return real(pending)
    monkeypatch.setattr(verify_mod, "signatures_hold", spy)
    return counts


def _tcb_info_edit(collateral, old: str, new: str):
    """The collateral with one edit in the TCB info of the Azure quote's platform."""
    platforms = list(collateral.platforms)
    i = next(i for i, p in enumerate(platforms) if p.fmspc == AZURE_FMSPC)
    assert old in platforms[i].tcb_info
    platforms[i] = dataclasses.replace(platforms[i], tcb_info=platforms[i].tcb_info.replace(old, new, 1))
    return dataclasses.replace(collateral, platforms=tuple(platforms))


def test_fresh_pass_gives_the_in_place_result(azure, recorded, in_place):
    fresh = verify_quote(azure.quote, azure.prod, azure.root_ca, cache=None)
    assert recorded == [9]          # root CRL, PCK CRL, PCK CA, TCB signer, TCB info, QE identity, PCK, QE report, quote
    in_place()
    placed = verify_quote(azure.quote, azure.prod, azure.root_ca, cache=None)
    assert recorded == [9]
    assert fresh == placed and fresh.report == placed.report == azure.expected_prod


def test_failed_check_is_decided_in_place(azure, recorded, in_place):
    # The edit breaks the TCB info signature *and* its content (v2 is refused after the
    # signature check). The optimistic pass meets the content error first; the answer must
    # still be the signature, as with the check in place.
    bad = _tcb_info_edit(azure.prod, '"version":3', '"version":2')
    with pytest.raises(QuoteVerificationError) as fresh:
        verify_quote(azure.quote, bad, azure.root_ca, cache=None)
    assert recorded == []           # the optimistic pass ended in an error before its checks ran
    in_place()
    with pytest.raises(QuoteVerificationError) as placed:
        verify_quote(azure.quote, bad, azure.root_ca, cache=None)
    assert fresh.value.step == placed.value.step == "tcb_info_signature"
    assert str(fresh.value) == str(placed.value)


def test_failed_check_alone_is_decided_in_place(azure, recorded):
    quote = bytearray(azure.quote)
    quote[QUOTE_SIGNATURE_AT + 5] ^= 1
    with pytest.raises(QuoteVerificationError) as err:
        verify_quote(bytes(quote), azure.prod, azure.root_ca, cache=None)
    assert err.value.step == "quote_signature"
    assert recorded == [9]          # all ran, one failed, then decided again in place


def test_cache_ends_up_as_before(azure, recorded):
    cache = CollateralCache()
    quote = bytearray(azure.quote)
    quote[QUOTE_SIGNATURE_AT + 5] ^= 1
    with pytest.raises(QuoteVerificationError):
        verify_quote(bytes(quote), azure.prod, azure.root_ca, cache=cache)
    assert (azure.prod, azure.root_ca) in cache and len(cache) == 1   # the collateral itself verified
    cache.clear()
    verify_quote(azure.quote, azure.prod, azure.root_ca, cache=cache)
    assert (azure.prod, azure.root_ca) in cache and len(cache) == 1
    recorded.clear()
    again = verify_quote(azure.quote, azure.prod, azure.root_ca, cache=cache)
    assert recorded == [] and again.report == azure.expected_prod   # warm: checks in place, none deferred


def test_deferred_block_records_instead_of_raising():
    key = ec.generate_private_key(ec.SECP256R1())
    algorithm = ec.ECDSA(hashes.SHA256())
    good = key.sign(b"signed", algorithm)
    with deferred_signatures() as pending:
        ecdsa_verify(key.public_key(), good, b"signed", algorithm)
        ecdsa_verify(key.public_key(), good, b"not what was signed", algorithm)   # recorded, no raise
        ecdsa_verify(None, good, b"signed", algorithm)
    assert len(pending.checks) == 3 and pending.keys == []

    def holds(checks) -> bool:
        part = Deferred()
        part.checks = checks
        return signatures_hold(part)
    assert holds(pending.checks[:1]) and not holds(pending.checks[:2]) and not holds(pending.checks[2:])
    ecdsa_verify(key.public_key(), good, b"signed", algorithm)   # outside the block: checked at once
    with pytest.raises(InvalidSignature):
        ecdsa_verify(key.public_key(), good, b"not what was signed", algorithm)


def test_deferred_keys_are_confirmed():
    key = ec.generate_private_key(ec.SECP256R1())
    algorithm = ec.ECDSA(hashes.SHA256())
    point = key.public_key().public_bytes(Encoding.X962, PublicFormat.UncompressedPoint)
    off_curve = point[:-1] + bytes([point[-1] ^ 1])
    with pytest.raises(ValueError):
        p256_key(off_curve)                           # outside a block: refused at once
    with deferred_signatures() as pending:
        taken = p256_key(off_curve)                   # inside: taken for a key, to be confirmed
        good = p256_key(point)
        ecdsa_verify(good, key.sign(b"signed", algorithm), b"signed", algorithm)
    assert isinstance(taken, ec.EllipticCurvePublicKey) and len(pending.keys) == 2
    assert not signatures_hold(pending)              # the off-curve point fails the confirmation
    pending.keys.remove(taken)
    assert signatures_hold(pending)
    assert good == key.public_key() and good.public_bytes(Encoding.X962, PublicFormat.UncompressedPoint) == point


def test_off_curve_pck_key_is_decided_in_place(azure, in_place):
    # A PCK certificate whose key is not on the curve: its SubjectPublicKeyInfo is the usual one, so
    # the optimistic pass takes the point for a key; the confirmation refuses it, and the answer is
    # the in-place one.
    from migtd.attest.certs import _P256_SPKI_HEAD
    from migtd.attest.quote import parse_quote
    chain = parse_quote(azure.quote).cert_data.pck_chain
    first = chain.split(b"-----END CERTIFICATE-----")[0].split(b"-----BEGIN CERTIFICATE-----")[1]
    der = base64.b64decode(first)
    at = der.index(_P256_SPKI_HEAD) + len(_P256_SPKI_HEAD)
    bad_der = der[:at + 40] + bytes([der[at + 40] ^ 1]) + der[at + 41:]
    text = base64.b64encode(bad_der)
    quote = azure.quote.replace(first, b"\n" + b"\n".join(text[i:i + 64] for i in range(0, len(text), 64)) + b"\n")
    assert len(quote) == len(azure.quote) and quote != azure.quote
    with pytest.raises(QuoteVerificationError) as fresh:
        verify_quote(quote, azure.prod, azure.root_ca, cache=None)
    in_place()
    with pytest.raises(QuoteVerificationError) as placed:
        verify_quote(quote, azure.prod, azure.root_ca, cache=None)
    assert (fresh.value.step, str(fresh.value)) == (placed.value.step, str(placed.value))
