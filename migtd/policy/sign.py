"""Signing JSON documents the way upstream's json-signer does (spec/policy.md §3.11).

The signature covers the input bytes exactly, and verifiers check the raw
bytes of the value in the signed file. So the signer insists that its input
already is the compact, order-preserving serialisation: otherwise the file a
human edits and the bytes that were signed would differ silently. Output is
``{"<name>":<input>,"signature":"<UPPER-HEX DER>"}`` with no trailing newline.
"""

from __future__ import annotations

from cryptography.exceptions import InvalidSignature, UnsupportedAlgorithm
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec

from migtd.policy import jsontext
from migtd.policy.errors import PolicyError, PolicyErrorKind
from migtd.policy.v2.container import decode_signature, parse_container
from migtd.result import MigrationResult

K = PolicyErrorKind


def _usage(message: str) -> PolicyError:
    return PolicyError(K.InvalidParameter, message, result=MigrationResult.InvalidParameter)


def check_canonical(data: bytes) -> str:
    """Return the text if it is compact canonical JSON; explain the first difference otherwise."""
    try:
        text = bytes(data).decode("utf-8")
        value = jsontext.loads(text)
    except (UnicodeDecodeError, ValueError) as exc:
        raise _usage(f"input is not JSON: {exc}") from None
    canon = jsontext.compact(value)
    if canon != text:
        at = next((i for i, (a, b) in enumerate(zip(canon, text)) if a != b), min(len(canon), len(text)))
        raise _usage(f"input is not canonical compact JSON (first difference at character {at}); "
                     "write it without whitespace and without a trailing newline, e.g. with `jq -c . | tr -d '\\n'`")
    return text


def load_private_key(pem: bytes) -> ec.EllipticCurvePrivateKey:
    """A P-384 private key from PEM (PKCS#8 or SEC1)."""
    try:
        key = serialization.load_pem_private_key(bytes(pem), password=None)
    except (ValueError, TypeError, UnsupportedAlgorithm) as exc:
        raise _usage(f"cannot read the private key: {exc}") from None
    if not isinstance(key, ec.EllipticCurvePrivateKey) or not isinstance(key.curve, ec.SECP384R1):
        raise _usage("the signing key must be an EC P-384 key")
    return key


def sign_document(data: bytes, key_pem: bytes, name: str = "policyData") -> bytes:
    """Sign canonical JSON ``data`` with ECDSA P-384/SHA-384 and wrap it in a container."""
    text = check_canonical(data)
    key = load_private_key(key_pem)
    signature = key.sign(text.encode("utf-8"), ec.ECDSA(hashes.SHA384()))
    return ("{" + jsontext.compact(name) + ":" + text + ',"signature":"' + signature.hex().upper() + '"}'
            ).encode("utf-8")


def verify_with_public_key(signed: bytes, public_key_pem: bytes, name: str = "policyData") -> None:
    """json-signer ``--verify``: exactly ``name`` and ``signature``, signature over the raw value."""
    container = parse_container(signed, name)
    value = jsontext.loads(bytes(signed).decode("utf-8"))
    if set(value) != {name, "signature"}:
        raise PolicyError(K.InvalidPolicy, f'a signed file holds exactly "{name}" and "signature"')
    sig = decode_signature(container.signature_hex)
    try:
        key = serialization.load_pem_public_key(bytes(public_key_pem))
    except (ValueError, UnsupportedAlgorithm) as exc:
        raise _usage(f"cannot read the verification key: {exc}") from None
    if not isinstance(key, ec.EllipticCurvePublicKey):
        raise _usage("the verification key must be an EC key")
    try:
        key.verify(sig, container.raw, ec.ECDSA(hashes.SHA384()))
    except InvalidSignature:
        raise PolicyError(K.SignatureVerificationFailed, "signature does not verify") from None
