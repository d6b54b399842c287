"""The mock TD Quoting Enclave: turns any TD report into a valid v4 quote.

It does what Intel's TD QE does, with the mock PKI's keys: copy the TD report
into a TD10 quote body, sign header ‖ body with the attestation key, and
certify that key with a QE report (REPORTDATA = SHA-256(attestation key ‖
QE auth data)) signed by the PCK leaf key, followed by the PCK chain. The
result verifies with :func:`migtd.attest.verify.verify_quote` against the mock
root CA and mock collateral — the same code path as a real Azure quote.

Signatures are deterministic (RFC 6979), so one report always gives one quote.
"""

from __future__ import annotations

import dataclasses
import hashlib
from pathlib import Path
from typing import TYPE_CHECKING

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec

from migtd import paths
from migtd.attest.quote import (
    ATT_KEY_TYPE_ECDSA_P256,
    CERT_TYPE_PCK_CHAIN,
    INTEL_QE_VENDOR_ID,
    TEE_TYPE_TDX,
    QeCertData,
    QeReport,
    QuoteHeader,
    TdQuoteBody,
    encode_quote,
    signed_region,
)
from migtd.attest.tdreport import TdReport
from migtd.errors import ConfigError
from migtd.inputs import read_input
from migtd.mock import platform as mock_pki
from migtd.mock.platform import raw_signature

if TYPE_CHECKING:
    from migtd.mock.pki import MockPki

QE_AUTH_DATA = bytes(range(32))
#: Bounds on the mock QE's files: a PEM P-256 key is ~250 bytes, the PCK chain ~3 KiB.
KEY_FILE_MAX = 16 * 1024
CHAIN_FILE_MAX = 64 * 1024


def _load_key(path: Path) -> ec.EllipticCurvePrivateKey:
    data = read_input(path, "mock QE key", limit=KEY_FILE_MAX)
    try:
        key = serialization.load_pem_private_key(data, password=None)
    except (ValueError, TypeError) as exc:
        raise ConfigError(f"mock QE: {path} is not an unencrypted PEM private key ({exc})") from None
    if not isinstance(key, ec.EllipticCurvePrivateKey) or not isinstance(key.curve, ec.SECP256R1):
        raise ConfigError(f"mock QE: {path} is not a P-256 key")
    return key


class MockQE:
    """Quotes TD reports with the mock PKI's PCK and attestation keys."""

    def __init__(self, pck_chain_pem: bytes, pck_key: ec.EllipticCurvePrivateKey,
                 attestation_key: ec.EllipticCurvePrivateKey) -> None:
        self.pck_chain = pck_chain_pem.rstrip(b"\0") + b"\0"
        self._pck_key = pck_key
        self._att_key = attestation_key
        point = attestation_key.public_key().public_bytes(
            serialization.Encoding.X962, serialization.PublicFormat.UncompressedPoint)
        self.attestation_public_key = point[1:]
        report = QeReport(
            cpusvn=bytes(mock_pki.PCK_TCB_COMPONENTS), miscselect=bytes(4), isvextprodid=bytes(16),
            attributes=mock_pki.QE_ATTRIBUTES, mrenclave=mock_pki.QE_MRENCLAVE,
            mrsigner=mock_pki.QE_MRSIGNER, configid=bytes(64), isvprodid=mock_pki.QE_ISVPRODID,
            isvsvn=mock_pki.QE_ISVSVN, configsvn=0, isvfamilyid=bytes(16),
            report_data=hashlib.sha256(self.attestation_public_key + QE_AUTH_DATA).digest() + bytes(32))
        raw = report.to_bytes()
        # The QE report certifies the attestation key once; only the quote signature varies.
        self._cert_data = QeCertData(report, raw, raw_signature(pck_key, raw), QE_AUTH_DATA,
                                     CERT_TYPE_PCK_CHAIN, self.pck_chain)
        self._header = QuoteHeader(4, ATT_KEY_TYPE_ECDSA_P256, TEE_TYPE_TDX, bytes(4), INTEL_QE_VENDOR_ID,
                                   hashlib.sha256(self.pck_chain).digest()[:16] + bytes(4))

    @classmethod
    def load(cls, directory: Path | None = None) -> MockQE:
        """Load ``pck_chain.pem``, ``pck_key.pem``, ``attestation_key.pem`` (default ``config/mock``)."""
        d = Path(directory) if directory is not None else paths.mock_dir()
        chain = read_input(d / "pck_chain.pem", "mock QE PCK chain", limit=CHAIN_FILE_MAX)
        return cls(chain, _load_key(d / "pck_key.pem"), _load_key(d / "attestation_key.pem"))

    @classmethod
    def from_pki(cls, pki: MockPki) -> MockQE:
        """A QE over an in-memory :class:`~migtd.mock.pki.MockPki` (tests)."""
        return cls(pki.pck_chain_pem.encode(), pki.pck_key, pki.attestation_key)

    def quote(self, td_report: bytes, *, version: int = 4, td15: bool = False) -> bytes:
        """A quote of a 1024-byte TD report (raises FormatError on a bad report).

        v4 by default, as Intel's TD QE produces for TDX 1.0/1.5; ``version=5``
        gives a v5 quote with a TD10 body, or a TD15 body (TEE_TCB_SVN2 and
        MRSERVICETD from the report) with ``td15=True``.
        """
        if version not in (4, 5) or (td15 and version != 5):
            raise ValueError("mock QE quotes are v4, v5 (TD10) or v5 with td15=True")
        report = TdReport.parse(td_report)
        body = TdQuoteBody.from_td_report(report)
        if td15:
            body = dataclasses.replace(body, tee_tcb_svn2=report.tee_tcb_info.tee_tcb_svn2,
                                       mrservicetd=report.td_info.servtd_hash)
        header = self._header if version == 4 else dataclasses.replace(self._header, version=5)
        signature = raw_signature(self._att_key, signed_region(header, body))
        return encode_quote(header, body, signature, self.attestation_public_key, self._cert_data)
