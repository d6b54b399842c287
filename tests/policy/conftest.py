"""Fixtures for the policy tests: the policy vector folder and report.dat.

The vectors are ``tests/vectors/policy`` (upstream files at their upstream
paths, plus ``derived/``); see the PROVENANCE.md files there.
"""

from __future__ import annotations

from pathlib import Path

import pytest


@pytest.fixture(scope="session")
def pvec(vectors: Path) -> Path:
    """``vectors/policy``: upstream files at their upstream paths, plus derived/."""
    return vectors / "policy"


@pytest.fixture(scope="session")
def report_dat(pvec: Path) -> bytes:
    return (pvec / "src/policy/test/report.dat").read_bytes()


# --------------------------------------------------------------------------- test PKI

import datetime as _dt
from collections.abc import Callable

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID


def _name(cn: str) -> x509.Name:
    return x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, cn)])


def make_chain(depth: int = 3, *, intermediate_ca: bool = True, leaf_cn: str = "Test Policy Signer",
               root_key: ec.EllipticCurvePrivateKey | None = None,
               root_cert: x509.Certificate | None = None) -> tuple[bytes, bytes, list[x509.Certificate]]:
    """A P-384 chain (root → [intermediate →] leaf), ecdsa-with-SHA384 throughout.

    Returns (leaf private key PKCS#8 PEM, chain PEM leaf-first, certificates).
    Passing ``root_key``/``root_cert`` builds another leaf under the same root.
    """
    now = _dt.datetime(2025, 1, 1, tzinfo=_dt.UTC)

    def cert(subject: str, key: ec.EllipticCurvePrivateKey, issuer: str, issuer_key: ec.EllipticCurvePrivateKey,
             ca: bool | None) -> x509.Certificate:
        b = (x509.CertificateBuilder().subject_name(_name(subject)).issuer_name(_name(issuer))
             .public_key(key.public_key()).serial_number(x509.random_serial_number())
             .not_valid_before(now).not_valid_after(now + _dt.timedelta(days=3650)))
        if ca is not None:
            b = b.add_extension(x509.BasicConstraints(ca=ca, path_length=None), critical=True)
        return b.sign(issuer_key, hashes.SHA384())

    rkey = root_key or ec.generate_private_key(ec.SECP384R1())
    root = root_cert or cert("Test Root CA", rkey, "Test Root CA", rkey, True)
    certs = [root]
    parent_key, parent_cn = rkey, root.subject.rfc4514_string().removeprefix("CN=")
    if depth >= 3:
        ikey = ec.generate_private_key(ec.SECP384R1())
        inter = cert("Test Intermediate CA", ikey, parent_cn, parent_key, True if intermediate_ca else None)
        certs.insert(0, inter)
        parent_key, parent_cn = ikey, "Test Intermediate CA"
    lkey = ec.generate_private_key(ec.SECP384R1())
    leaf = cert(leaf_cn, lkey, parent_cn, parent_key, None)
    certs.insert(0, leaf)
    pem = b"".join(c.public_bytes(serialization.Encoding.PEM) for c in certs)
    key_pem = lkey.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                 serialization.NoEncryption())
    return key_pem, pem, certs


@pytest.fixture(scope="session")
def chain3() -> tuple[bytes, bytes, list[x509.Certificate]]:
    """root → intermediate (cA) → leaf."""
    return make_chain(3)


@pytest.fixture(scope="session")
def chain2() -> tuple[bytes, bytes, list[x509.Certificate]]:
    """root → leaf."""
    return make_chain(2)


@pytest.fixture(scope="session")
def chain_factory() -> Callable[..., tuple[bytes, bytes, list[x509.Certificate]]]:
    return make_chain


def signed_bundle(policy_data: dict, key_pem: bytes, chain_pem: bytes, *, td_identity: dict,
                  tcb_mapping: dict, identity_key: bytes | None = None, identity_chain: bytes | None = None
                  ) -> bytes:
    """A complete signed v2 policy: ServTD documents signed, merged, policyData signed.

    Mirrors build_policy_v2.sh: the identity and mapping are json-signed
    (with ``identity_key``/``identity_chain`` when given, else the policy key),
    embedded with their chains, then the compact policyData is signed.
    """
    import json

    from migtd.policy.sign import sign_document

    def compact(v: object) -> bytes:
        return json.dumps(v, separators=(",", ":"), ensure_ascii=False).encode()

    ikey, ichain = identity_key or key_pem, identity_chain or chain_pem
    ident = json.loads(sign_document(compact(td_identity), ikey, "tdIdentity"))
    mapping = json.loads(sign_document(compact(tcb_mapping), ikey, "tdTcbMapping"))
    data = dict(policy_data)
    data["servtdCollateral"] = {"majorVersion": 1, "minorVersion": 0, "servtdIdentity": ident,
                                "servtdIdentityIssuerChain": ichain.decode(), "servtdTcbMapping": mapping,
                                "servtdTcbMappingIssuerChain": ichain.decode()}
    return sign_document(compact(data), key_pem, "policyData")


@pytest.fixture(scope="session")
def bundle() -> Callable[..., bytes]:
    return signed_bundle
