"""The project's own SGX/TDX test PKI: a mock of Intel's, with real signatures.

``MockPki.generate()`` creates, with fresh keys:

* a root CA and a "PCK Platform CA" under it, and a PCK leaf carrying a real
  SGX extension (FMSPC :data:`migtd.paths.MOCK_FMSPC`, the same SVNs as the
  captured Azure quote's platform);
* a "TCB Signing" certificate and, signed with it, a TDX TCB info and a TD_QE
  identity in the exact PCS body format, plus a root CA CRL and a PCK CRL —
  all assembled into upstream MigTD's collateral JSON;
* the mock QE's attestation key;
* a P-384 policy-signing chain (root → intermediate → leaf, ecdsa-with-SHA384,
  CA basic constraints on the issuers) for signed policies v2 (policy.md §3.2).

Everything is valid from 2024-01-01 to 2049-12-31, so MigTD's midpoint time
rule and strict checks at any date in between both accept it. The TCB info has
an UpToDate, an OutOfDate (with advisories) and a Revoked platform level, so
tests can reach each status by choosing TEE_TCB_SVN.

``write(dir)`` stores what the mock QE and the verifier need (``root_ca.der``,
``root_ca.pem``, ``collateral.json``, ``pck_chain.pem``, ``pck_key.pem``, ``attestation_key.pem``,
``policy_issuer_chain.pem``, ``policy_signing_key.pem``). CA private keys are
not written: nothing at run time signs collateral.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from migtd.attest.collateral import Collateral, PlatformCollateral
from migtd.attest.sgx_ext import SGX_EXTENSION_OID, SgxExtension
from migtd.mock.platform import (
    PCK_PCESVN,
    PCK_TCB_COMPONENTS,
    QE_ISVPRODID,
    QE_ISVSVN,
    QE_MRSIGNER,
    raw_signature,
)
from migtd.paths import MOCK_FMSPC

NOT_BEFORE = datetime(2024, 1, 1, tzinfo=UTC)
NOT_AFTER = datetime(2049, 12, 31, tzinfo=UTC)

MOCK_ADVISORY = "MOCK-SA-0001"

_ISO = "%Y-%m-%dT%H:%M:%SZ"


def _name(cn: str) -> x509.Name:
    return x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, cn),
                      x509.NameAttribute(NameOID.ORGANIZATION_NAME, "MigTD-Py Mock"),
                      x509.NameAttribute(NameOID.COUNTRY_NAME, "US")])


def _key(curve: ec.EllipticCurve) -> ec.EllipticCurvePrivateKey:
    return ec.generate_private_key(curve)


def _cert(subject: str, key: ec.EllipticCurvePrivateKey, issuer: x509.Certificate | None,
          issuer_key: ec.EllipticCurvePrivateKey, *, ca: bool, path_len: int | None = None,
          extra: list[x509.ExtensionType] | None = None,
          hash_alg: hashes.SHA256 | hashes.SHA384 | None = None) -> x509.Certificate:
    name = _name(subject)
    builder = (x509.CertificateBuilder()
               .subject_name(name)
               .issuer_name(issuer.subject if issuer else name)
               .public_key(key.public_key())
               .serial_number(x509.random_serial_number())
               .not_valid_before(NOT_BEFORE).not_valid_after(NOT_AFTER)
               .add_extension(x509.BasicConstraints(ca=ca, path_length=path_len if ca else None), critical=True)
               .add_extension(x509.KeyUsage(digital_signature=not ca, content_commitment=False,
                                            key_encipherment=False, data_encipherment=False,
                                            key_agreement=False, key_cert_sign=ca, crl_sign=ca,
                                            encipher_only=False, decipher_only=False), critical=True)
               .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False))
    if issuer is not None:
        builder = builder.add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_public_key(issuer_key.public_key()), critical=False)
    for ext in extra or []:
        builder = builder.add_extension(ext, critical=False)
    return builder.sign(issuer_key, hash_alg or hashes.SHA256())


def _crl(issuer: x509.Certificate, key: ec.EllipticCurvePrivateKey,
         revoked: list[int]) -> x509.CertificateRevocationList:
    builder = (x509.CertificateRevocationListBuilder()
               .issuer_name(issuer.subject).last_update(NOT_BEFORE).next_update(NOT_AFTER)
               .add_extension(x509.CRLNumber(1), critical=False))
    for serial in revoked:
        builder = builder.add_revoked_certificate(
            x509.RevokedCertificateBuilder().serial_number(serial).revocation_date(NOT_BEFORE).build())
    return builder.sign(key, hashes.SHA256())


def pem(*certs: x509.Certificate) -> str:
    return "".join(c.public_bytes(serialization.Encoding.PEM).decode() for c in certs)


def pcs_body(key: ec.EllipticCurvePrivateKey, name: str, inner: dict[str, Any]) -> str:
    """A PCS-style body ``{"<name>":{...},"signature":"<hex>"}`` signed over the inner text."""
    text = json.dumps(inner, separators=(",", ":"))
    signature = raw_signature(key, text.encode()).hex()
    return f'{{"{name}":{text},"signature":"{signature}"}}'


def _comps(svns: tuple[int, ...] | list[int]) -> list[dict[str, int]]:
    return [{"svn": s} for s in svns]


def tcb_info_document(fmspc: bytes = MOCK_FMSPC) -> dict[str, Any]:
    """The mock TDX TCB info (v3): three platform levels, TDX_01 and TDX_03 modules."""
    sgx = list(PCK_TCB_COMPONENTS)
    zero48 = "00" * 48

    def level(tdx: list[int], date: str, status: str, adv: list[str] | None = None) -> dict[str, Any]:
        out: dict[str, Any] = {"tcb": {"sgxtcbcomponents": _comps(sgx), "pcesvn": PCK_PCESVN,
                                       "tdxtcbcomponents": _comps(tdx + [0] * (16 - len(tdx)))},
                               "tcbDate": date, "tcbStatus": status}
        if adv:
            out["advisoryIDs"] = adv
        return out

    def module(mid: str, levels: list[tuple[int, str, str]]) -> dict[str, Any]:
        return {"id": mid, "mrsigner": zero48, "attributes": "0000000000000000",
                "attributesMask": "FFFFFFFFFFFFFFFF",
                "tcbLevels": [{"tcb": {"isvsvn": svn}, "tcbDate": date, "tcbStatus": st}
                              for svn, date, st in levels]}

    return {
        "id": "TDX", "version": 3, "issueDate": NOT_BEFORE.strftime(_ISO),
        "nextUpdate": NOT_AFTER.strftime(_ISO), "fmspc": fmspc.hex().upper(), "pceId": "0000",
        "tcbType": 0, "tcbEvaluationDataNumber": 18,
        "tdxModule": {"mrsigner": zero48, "attributes": "0000000000000000",
                      "attributesMask": "FFFFFFFFFFFFFFFF"},
        "tdxModuleIdentities": [
            module("TDX_03", [(3, "2024-11-13T00:00:00Z", "UpToDate")]),
            module("TDX_01", [(6, "2024-11-13T00:00:00Z", "UpToDate"),
                              (2, "2023-08-09T00:00:00Z", "OutOfDate")]),
        ],
        "tcbLevels": [
            level([5, 0, 3], "2024-11-13T00:00:00Z", "UpToDate"),
            level([5, 0, 2], "2024-03-13T00:00:00Z", "OutOfDate", [MOCK_ADVISORY]),
            level([0, 0, 1], "2023-01-01T00:00:00Z", "Revoked", [MOCK_ADVISORY]),
        ],
    }


def qe_identity_document() -> dict[str, Any]:
    """The mock TD_QE identity (v2) matching :data:`QE_MRSIGNER` and friends."""
    return {
        "id": "TD_QE", "version": 2, "issueDate": NOT_BEFORE.strftime(_ISO),
        "nextUpdate": NOT_AFTER.strftime(_ISO), "tcbEvaluationDataNumber": 18,
        "miscselect": "00000000", "miscselectMask": "FFFFFFFF",
        "attributes": "11000000000000000000000000000000",
        "attributesMask": "FBFFFFFFFFFFFFFF0000000000000000",
        "mrsigner": QE_MRSIGNER.hex().upper(), "isvprodid": QE_ISVPRODID,
        "tcbLevels": [{"tcb": {"isvsvn": QE_ISVSVN}, "tcbDate": "2024-11-13T00:00:00Z", "tcbStatus": "UpToDate"}],
    }


def _key_pem(key: ec.EllipticCurvePrivateKey) -> bytes:
    return key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                             serialization.NoEncryption())


@dataclass
class MockPki:
    """One generated mock PKI, keys included (in memory)."""

    root_key: ec.EllipticCurvePrivateKey
    root: x509.Certificate
    pck_ca_key: ec.EllipticCurvePrivateKey
    pck_ca: x509.Certificate
    pck_key: ec.EllipticCurvePrivateKey
    pck: x509.Certificate
    tcb_key: ec.EllipticCurvePrivateKey
    tcb_signer: x509.Certificate
    attestation_key: ec.EllipticCurvePrivateKey
    policy_chain: list[x509.Certificate]     # leaf, intermediate, root
    policy_key: ec.EllipticCurvePrivateKey
    collateral: Collateral

    @classmethod
    def generate(cls, *, revoke_pck: bool = False, fmspc: bytes = MOCK_FMSPC) -> MockPki:
        """Fresh keys and certificates; ``revoke_pck`` lists the PCK leaf in the PCK CRL."""
        root_key, pck_ca_key, pck_key, tcb_key, att_key = (_key(ec.SECP256R1()) for _ in range(5))
        root = _cert("MigTD-Py Mock SGX Root CA", root_key, None, root_key, ca=True)
        pck_ca = _cert("MigTD-Py Mock SGX PCK Platform CA", pck_ca_key, root, root_key, ca=True, path_len=0)
        ext = SgxExtension(
            ppid=hashlib.sha256(b"mock ppid" + fmspc).digest()[:16],
            tcb_components=PCK_TCB_COMPONENTS, pcesvn=PCK_PCESVN, cpusvn=bytes(PCK_TCB_COMPONENTS),
            pce_id=b"\0\0", fmspc=fmspc, sgx_type=1,
            platform_instance_id=hashlib.sha256(b"mock platform" + fmspc).digest()[:16],
            configuration={"dynamicPlatform": True, "cachedKeys": False, "SMTEnabled": True})
        sgx = x509.UnrecognizedExtension(x509.ObjectIdentifier(SGX_EXTENSION_OID), ext.to_der())
        pck = _cert("MigTD-Py Mock SGX PCK Certificate", pck_key, pck_ca, pck_ca_key, ca=False, extra=[sgx])
        tcb_signer = _cert("MigTD-Py Mock SGX TCB Signing", tcb_key, root, root_key, ca=False)
        root_crl = _crl(root, root_key, [])
        pck_crl = _crl(pck_ca, pck_ca_key, [pck.serial_number] if revoke_pck else [])

        p384 = ec.SECP384R1()
        pol_root_key, pol_int_key, pol_leaf_key = _key(p384), _key(p384), _key(p384)
        sha384 = hashes.SHA384()
        pol_root = _cert("MigTD-Py Mock Policy Root CA", pol_root_key, None, pol_root_key, ca=True,
                         hash_alg=sha384)
        pol_int = _cert("MigTD-Py Mock Policy Intermediate CA", pol_int_key, pol_root, pol_root_key,
                        ca=True, path_len=0, hash_alg=sha384)
        pol_leaf = _cert("MigTD-Py Mock Policy Signer", pol_leaf_key, pol_int, pol_int_key, ca=False,
                         hash_alg=sha384)

        signing_chain = pem(tcb_signer, root)
        collateral = Collateral(
            major_version=1, minor_version=0, tee_type=0x81, root_ca=pem(root),
            pck_crl_issuer_chain=pem(pck_ca, root),
            root_ca_crl=root_crl.public_bytes(serialization.Encoding.PEM).decode(),
            pck_crl=pck_crl.public_bytes(serialization.Encoding.PEM).decode(),
            platforms=(PlatformCollateral(fmspc.hex().upper(), signing_chain,
                                          pcs_body(tcb_key, "tcbInfo", tcb_info_document(fmspc))),),
            qe_identity_issuer_chain=signing_chain,
            qe_identity=pcs_body(tcb_key, "enclaveIdentity", qe_identity_document()),
        )
        return cls(root_key, root, pck_ca_key, pck_ca, pck_key, pck, tcb_key, tcb_signer, att_key,
                   [pol_leaf, pol_int, pol_root], pol_leaf_key, collateral)

    @property
    def root_ca_der(self) -> bytes:
        return self.root.public_bytes(serialization.Encoding.DER)

    @property
    def pck_chain_pem(self) -> str:
        return pem(self.pck, self.pck_ca, self.root)

    def write(self, out: Path) -> list[Path]:
        """Write the run-time files into ``out`` (created if needed); return their paths."""
        out.mkdir(parents=True, exist_ok=True)
        files = {
            "root_ca.der": self.root_ca_der,
            "root_ca.pem": pem(self.root).encode(),
            "collateral.json": self.collateral.to_json(),
            "pck_chain.pem": self.pck_chain_pem.encode(),
            "pck_key.pem": _key_pem(self.pck_key),
            "attestation_key.pem": _key_pem(self.attestation_key),
            "policy_issuer_chain.pem": pem(*self.policy_chain).encode(),
            "policy_signing_key.pem": _key_pem(self.policy_key),
        }
        written = []
        for name, data in files.items():
            path = out / name
            path.write_bytes(data)
            written.append(path)
        return written
