"""Signed JSON containers: ``{"<name>": <object>, "signature": "<hex DER>"}`` (§3.1).

Policy v2 signs the *raw bytes* of the inner value as they appear in the file,
with no canonicalisation at verification time. So the container is read with
:func:`migtd.policy.jsontext.top_level_spans`, which returns the exact byte
range of the signed value; re-indenting that value breaks the signature,
whitespace around it does not.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from migtd.policy import jsontext
from migtd.policy.errors import PolicyError, PolicyErrorKind

K = PolicyErrorKind


@dataclass(frozen=True)
class SignedContainer:
    """The signed value (raw bytes and parsed), and the signature's hex text."""

    name: str
    raw: bytes
    value: Any
    signature_hex: str


def parse_container(data: bytes | str, name: str, *, path: str = "",
                    kind: PolicyErrorKind = K.InvalidPolicy) -> SignedContainer:
    """Split a container into the raw signed value and the signature text.

    Unknown members are ignored; a missing member, a non-string signature or
    malformed JSON raise PolicyError of ``kind`` (InvalidPolicy for the
    policy itself).
    """
    where = path or name
    try:
        text = data.decode("utf-8") if isinstance(data, bytes) else data
        spans = jsontext.top_level_spans(text)
    except (UnicodeDecodeError, ValueError, RecursionError) as exc:
        raise PolicyError(kind, f"signed container is not valid JSON: {exc}", path=where) from None
    if name not in spans:
        raise PolicyError(kind, f'signed container has no "{name}"', path=where)
    if "signature" not in spans:
        raise PolicyError(kind, 'signed container has no "signature"', path=where)
    s0, s1 = spans["signature"]
    try:
        signature = jsontext.loads(text[s0:s1])
        v0, v1 = spans[name]
        raw_text = text[v0:v1]
        value = jsontext.loads(raw_text)
    except (ValueError, RecursionError) as exc:
        raise PolicyError(kind, f"signed container: {exc}", path=where) from None
    if not isinstance(signature, str):
        raise PolicyError(kind, "signature must be a string", path=f"{where}.signature")
    return SignedContainer(name, raw_text.encode("utf-8"), value, str(signature))


_HEX = frozenset("0123456789abcdefABCDEF")


def _is_hex(text: str) -> bool:
    return len(text) % 2 == 0 and all(c in _HEX for c in text)


def decode_signature(hex_text: str, *, path: str = "signature") -> bytes:
    """Hex (either case) -> DER bytes; InvalidParameter for empty/odd/non-hex (§3.1)."""
    if not hex_text or not _is_hex(hex_text):
        raise PolicyError(K.InvalidParameter, "signature must be a non-empty, even-length hex string",
                          path=path)
    return bytes.fromhex(hex_text)


def hex_to_bytes(text: str) -> bytes:
    """Strict hex decoding (``hex_string_to_bytes``): even length, hex digits only."""
    if not _is_hex(text):
        raise PolicyError(K.InvalidParameter, f'"{text}" is not an even-length hex string')
    return bytes.fromhex(text)
