"""Facts of the mock platform shared by the PKI generator (:mod:`.pki`) and the mock QE (:mod:`.qe`).

The QE signs with these values and the generated collateral certifies them,
so both must read them from one place. This module stays light: the mock
QE's run-time path imports it, while the certificate-building generator is
only needed by ``migtd-tool mock-pki`` and tests.
"""

from __future__ import annotations

import hashlib

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.utils import decode_dss_signature

#: CPUSVN components of the mock PCK certificate (those of the captured Azure quote's platform).
PCK_TCB_COMPONENTS = (3, 3, 2, 2, 4, 1, 0, 5) + (0,) * 8
PCK_PCESVN = 13
#: The mock TD quoting enclave's identity.
QE_MRENCLAVE = hashlib.sha256(b"MigTD-Py mock TD quoting enclave").digest()
QE_MRSIGNER = hashlib.sha256(b"MigTD-Py mock TD quoting enclave signer").digest()
QE_ISVPRODID = 2
QE_ISVSVN = 4
QE_ATTRIBUTES = bytes.fromhex("1500000000000000e700000000000000")


def raw_signature(key: ec.EllipticCurvePrivateKey, data: bytes) -> bytes:
    """ECDSA P-256/SHA-256 as 64-byte r||s (deterministic, RFC 6979)."""
    der = key.sign(data, ec.ECDSA(hashes.SHA256(), deterministic_signing=True))
    r, s = decode_dss_signature(der)
    return r.to_bytes(32, "big") + s.to_bytes(32, "big")
