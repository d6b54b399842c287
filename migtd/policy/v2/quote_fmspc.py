"""FMSPC straight from a quote's PCK certificate (spec/policy.md §3.10).

A v2 MigTD must pick the collateral entry for a peer *before* verifying its
quote, so it reads the FMSPC from the first PEM certificate embedded in the
quote (the PCK leaf) without any other parsing.
"""

from __future__ import annotations

import base64

from cryptography import x509

from migtd.policy.errors import PolicyError, PolicyErrorKind

_BEGIN = b"-----BEGIN CERTIFICATE-----\n"
_END = b"-----END CERTIFICATE-----\n"
SGX_EXTENSION_OID = x509.ObjectIdentifier("1.2.840.113741.1.13.1")
FMSPC_OID = "1.2.840.113741.1.13.1.4"


def _der_items(data: bytes) -> list[tuple[int, bytes]]:
    """Split DER TLVs (short and long lengths) into (tag, value)."""
    out = []
    i = 0
    while i < len(data):
        if i + 2 > len(data):
            raise ValueError("truncated DER")
        tag, length = data[i], data[i + 1]
        i += 2
        if length & 0x80:
            n = length & 0x7F
            if n == 0 or n > 4 or i + n > len(data):
                raise ValueError("bad DER length")
            length = int.from_bytes(data[i:i + n], "big")
            i += n
        if i + length > len(data):
            raise ValueError("truncated DER value")
        out.append((tag, data[i:i + length]))
        i += length
    return out


def _oid_text(value: bytes) -> str:
    first = value[0]
    arcs = [min(first // 40, 2), first - 40 * min(first // 40, 2)]
    n = 0
    for b in value[1:]:
        n = (n << 7) | (b & 0x7F)
        if not b & 0x80:
            arcs.append(n)
            n = 0
    return ".".join(map(str, arcs))


def fmspc_from_quote(quote: bytes) -> bytes:
    """The 6-byte FMSPC of the quote's PCK certificate; InvalidQuote on any failure."""
    try:
        start = quote.index(_BEGIN)
        end = quote.index(_END, start)
        body = quote[start + len(_BEGIN):end]
        der = base64.b64decode(b"".join(body.split()), validate=True)
        cert = x509.load_der_x509_certificate(der)
        ext = cert.extensions.get_extension_for_oid(SGX_EXTENSION_OID).value
        raw = ext.value  # type: ignore[attr-defined]
        (tag, seq), = _der_items(raw)
        for tag, item in _der_items(seq):
            parts = _der_items(item)
            if len(parts) == 2 and parts[0][0] == 0x06 and _oid_text(parts[0][1]) == FMSPC_OID:
                if parts[1][0] == 0x04 and len(parts[1][1]) == 6:
                    return parts[1][1]
                break
    except (ValueError, x509.ExtensionNotFound, IndexError, TypeError) as exc:
        raise PolicyError(PolicyErrorKind.InvalidQuote, f"no FMSPC in the quote's PCK certificate ({exc})") from None
    raise PolicyError(PolicyErrorKind.InvalidQuote, "no FMSPC in the quote's PCK certificate")
