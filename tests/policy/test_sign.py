"""json-signer equivalent: sign → verify round trips, canonical-form refusal, tampering."""

from __future__ import annotations

import json

import pytest

from migtd.policy import jsontext
from migtd.policy.errors import PolicyError
from migtd.policy.sign import check_canonical, sign_document, verify_with_public_key
from migtd.policy.v2.chain import ChainError, verify_chain_and_signature
from migtd.policy.v2.container import decode_signature, parse_container
from migtd.result import MigrationResult

DATA = {"id": "A", "version": "2.0", "policySvn": 7, "policy": [{"global": {}}], "note": "é \u0001 \"q\""}
CANON = jsontext.compact(DATA).encode()


@pytest.mark.parametrize("which", ["chain3", "chain2"])
def test_round_trip(request: pytest.FixtureRequest, which: str) -> None:
    key, chain, certs = request.getfixturevalue(which)
    signed = sign_document(CANON, key)
    assert signed.startswith(b'{"policyData":' + CANON + b',"signature":"') and signed.endswith(b'"}')
    container = parse_container(signed, "policyData")
    assert container.raw == CANON and container.value == DATA
    assert container.signature_hex == container.signature_hex.upper()
    verify_chain_and_signature(chain, container.raw, decode_signature(container.signature_hex))
    from cryptography.hazmat.primitives import serialization
    pub = certs[0].public_key().public_bytes(serialization.Encoding.PEM,
                                             serialization.PublicFormat.SubjectPublicKeyInfo)
    verify_with_public_key(signed, pub)


def test_reserialised_json_fails(chain3) -> None:  # type: ignore[no-untyped-def]
    key, chain, _ = chain3
    signed = json.loads(sign_document(CANON, key))
    pretty = json.dumps(signed, indent=2).encode()          # same values, policyData re-indented
    container = parse_container(pretty, "policyData")
    assert container.value == DATA
    with pytest.raises(ChainError):
        verify_chain_and_signature(chain, container.raw, decode_signature(container.signature_hex))
    spaced = b'  {\n "policyData" : ' + CANON + b' ,\n"signature": "' + signed["signature"].encode() + b'"\n}\n'
    c2 = parse_container(spaced, "policyData")               # whitespace outside the value is fine
    verify_chain_and_signature(chain, c2.raw, decode_signature(c2.signature_hex))


def test_tampered_value_fails(chain3) -> None:  # type: ignore[no-untyped-def]
    key, chain, _ = chain3
    signed = sign_document(CANON, key).replace(b'"policySvn":7', b'"policySvn":8')
    c = parse_container(signed, "policyData")
    with pytest.raises(ChainError):
        verify_chain_and_signature(chain, c.raw, decode_signature(c.signature_hex))


def test_wrong_chain_fails(chain3, chain2) -> None:  # type: ignore[no-untyped-def]
    signed = sign_document(CANON, chain3[0])
    c = parse_container(signed, "policyData")
    with pytest.raises(ChainError):
        verify_chain_and_signature(chain2[1], c.raw, decode_signature(c.signature_hex))


def test_broken_chain_link_fails(chain_factory) -> None:  # type: ignore[no-untyped-def]
    key, chain, _ = chain_factory(3)
    _, other, _ = chain_factory(3)
    certs = chain.split(b"-----END CERTIFICATE-----\n")
    others = other.split(b"-----END CERTIFICATE-----\n")
    spliced = certs[0] + b"-----END CERTIFICATE-----\n" + others[1] + b"-----END CERTIFICATE-----\n" \
        + others[2] + b"-----END CERTIFICATE-----\n"
    c = parse_container(sign_document(CANON, key), "policyData")
    with pytest.raises(ChainError, match="not signed by"):
        verify_chain_and_signature(spliced, c.raw, decode_signature(c.signature_hex))


@pytest.mark.parametrize("text", [json.dumps(DATA).encode(), CANON + b"\n", b' ' + CANON,
                                  json.dumps(DATA, ensure_ascii=True, separators=(",", ":")).encode()])
def test_non_canonical_input_is_refused(text: bytes, chain3) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(PolicyError) as err:
        sign_document(text, chain3[0])
    assert "canonical" in err.value.message and err.value.result is MigrationResult.InvalidParameter


def test_canonical_input_is_accepted() -> None:
    assert check_canonical(CANON) == CANON.decode()


def test_non_p384_key_is_refused() -> None:
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    key = ec.generate_private_key(ec.SECP256R1()).private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    with pytest.raises(PolicyError, match="P-384"):
        sign_document(CANON, key)


def test_unreadable_keys_are_usage_errors(chain3) -> None:  # type: ignore[no-untyped-def]
    signed = sign_document(CANON, chain3[0])
    for bad in (b"not a key", b"-----BEGIN PUBLIC KEY-----\nAAAA\n-----END PUBLIC KEY-----\n"):
        with pytest.raises(PolicyError) as err:
            verify_with_public_key(signed, bad)
        assert err.value.result is MigrationResult.InvalidParameter
        with pytest.raises(PolicyError) as err:
            sign_document(CANON, bad)
        assert err.value.result is MigrationResult.InvalidParameter
