"""FMSPC straight from a quote's PCK certificate (spec/policy.md §3.10).

A v2 MigTD must pick the collateral entry for a peer *before* verifying its
quote, so it reads the FMSPC from the first PEM certificate embedded in the
quote (the PCK leaf) without any other parsing. The SGX extension itself is
read by :func:`migtd.attest.sgx_ext.fmspc_of_extension`, the attestation
code's reader; here every failure becomes ``InvalidQuote``.
"""

from __future__ import annotations

import base64

from cryptography import x509

from migtd.attest.sgx_ext import SGX_EXTENSION_OID, fmspc_of_extension
from migtd.errors import FormatError
from migtd.policy.errors import PolicyError, PolicyErrorKind

_BEGIN = b"-----BEGIN CERTIFICATE-----\n"
_END = b"-----END CERTIFICATE-----\n"
_SGX_OID = x509.ObjectIdentifier(SGX_EXTENSION_OID)


def fmspc_from_quote(quote: bytes) -> bytes:
    """The 6-byte FMSPC of the quote's PCK certificate; InvalidQuote on any failure."""
    try:
        start = quote.index(_BEGIN)
        end = quote.index(_END, start)
        body = quote[start + len(_BEGIN):end]
        der = base64.b64decode(b"".join(body.split()), validate=True)
        cert = x509.load_der_x509_certificate(der)
        ext = cert.extensions.get_extension_for_oid(_SGX_OID).value
        return fmspc_of_extension(ext.value)  # type: ignore[attr-defined]
    except (ValueError, FormatError, x509.ExtensionNotFound, x509.DuplicateExtension, TypeError) as exc:
        raise PolicyError(PolicyErrorKind.InvalidQuote, f"no FMSPC in the quote's PCK certificate ({exc})") from None
