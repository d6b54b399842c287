"""The verifier's X.509 shortcuts decide exactly as the generic ``cryptography`` calls they replace.

``check_issued_by`` against ``verify_directly_issued_by``, ``Crl.signed_by``
against ``is_signature_valid``, ``same_name`` against ``Name.__eq__``, the
CN and extension readers against ``cryptography``'s parsed objects, and the
PEM fast path against ``load_pem_x509_certificates``.
"""

from __future__ import annotations

import datetime as dt

import pytest
from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.x509.oid import NameOID

from migtd.attest.certs import (
    Cert,
    check_issued_by,
    load_crl,
    load_pem_chain,
    pck_chain_roles,
    same_name,
    self_issued,
    signing_chain_roles,
)
from migtd.attest.errors import QuoteVerificationError
from migtd.attest.quote import parse_quote
from migtd.attest.sgx_ext import SGX_EXTENSION_OID
from migtd.der import encode_oid_body

T0 = dt.datetime(2024, 1, 1, tzinfo=dt.UTC)


def _name(*rdns: list[x509.NameAttribute]) -> x509.Name:
    return x509.Name([x509.RelativeDistinguishedName(r) for r in rdns])


def _cert(subject: x509.Name, issuer: x509.Name, key, signer, hash_alg=None) -> Cert:  # type: ignore[no-untyped-def]
    hash_alg = hash_alg or hashes.SHA256()
    c = (x509.CertificateBuilder().subject_name(subject).issuer_name(issuer).public_key(key.public_key())
         .serial_number(7).not_valid_before(T0).not_valid_after(T0 + dt.timedelta(days=9))
         .sign(signer, hash_alg))
    return Cert.from_der(c.public_bytes(serialization.Encoding.DER))


def _cn(text: str, tag: x509.name._ASN1Type = x509.name._ASN1Type.UTF8String) -> x509.NameAttribute:
    return x509.NameAttribute(NameOID.COMMON_NAME, text, _type=tag)


P256 = ec.generate_private_key(ec.SECP256R1())
OTHER = ec.generate_private_key(ec.SECP256R1())
RSA = rsa.generate_private_key(public_exponent=65537, key_size=2048)
ISSUER = _name([_cn("Issuer CA")])


def _cryptography_says(cert: Cert, issuer: Cert) -> bool:
    try:
        cert.x509.verify_directly_issued_by(issuer.x509)
    except (ValueError, TypeError, InvalidSignature):
        return False
    return True


def _ours_says(cert: Cert, issuer: Cert) -> bool:
    try:
        check_issued_by(cert, issuer, "pck_chain", "certificate")
    except QuoteVerificationError:
        return False
    return True


@pytest.mark.parametrize("case", ["ok", "sha384", "wrong key", "wrong issuer name", "printable vs utf8 issuer",
                                  "rsa issuer key"])
def test_check_issued_by_matches_verify_directly_issued_by(case):
    issuer_key, signer, issuer_name_in_cert, hash_alg = P256, P256, ISSUER, hashes.SHA256()
    issuer_subject = ISSUER
    if case == "sha384":
        hash_alg = hashes.SHA384()
    elif case == "wrong key":
        signer = OTHER
    elif case == "wrong issuer name":
        issuer_name_in_cert = _name([_cn("Someone Else")])
    elif case == "printable vs utf8 issuer":
        issuer_subject = _name([_cn("Issuer CA", x509.name._ASN1Type.PrintableString)])
    elif case == "rsa issuer key":
        issuer_key = signer = RSA
    issuer = _cert(issuer_subject, issuer_subject, issuer_key, issuer_key)
    leaf = _cert(_name([_cn("Leaf")]), issuer_name_in_cert, P256, signer, hash_alg)
    expected = _cryptography_says(leaf, issuer)
    if case == "rsa issuer key":
        assert expected is True and _ours_says(leaf, issuer) is False   # ours wants an EC issuer, as DCAP does
    else:
        assert _ours_says(leaf, issuer) is expected
    assert expected is (case in ("ok", "sha384", "rsa issuer key"))   # cryptography compares encoded names


@pytest.mark.parametrize(("a", "b"), [
    (_name([_cn("A")]), _name([_cn("A")])),
    (_name([_cn("A")]), _name([_cn("A", x509.name._ASN1Type.PrintableString)])),
    (_name([_cn("A")]), _name([_cn("B")])),
    (_name([_cn("A"), x509.NameAttribute(NameOID.ORGANIZATION_NAME, "O")]),
     _name([x509.NameAttribute(NameOID.ORGANIZATION_NAME, "O"), _cn("A")])),           # one multi-valued RDN
    (_name([_cn("A")], [x509.NameAttribute(NameOID.ORGANIZATION_NAME, "O")]),
     _name([x509.NameAttribute(NameOID.ORGANIZATION_NAME, "O")], [_cn("A")])),         # RDN order matters
    (_name([_cn("A")]), _name([_cn("A", x509.name._ASN1Type.BMPString)])),              # left to cryptography
])
def test_same_name_matches_cryptography(a, b):
    x = _cert(a, a, P256, P256)
    y = _cert(b, b, P256, P256)
    assert same_name(x, False, y, False) is (a == b)
    assert self_issued(x)


def test_readers_match_cryptography(azure, mock_quote):
    oid = encode_oid_body(SGX_EXTENSION_OID)
    for quote in (azure.quote, mock_quote):
        pem = parse_quote(quote).cert_data.pck_chain
        ours = load_pem_chain(pem, "pck_chain", 3)
        theirs = x509.load_pem_x509_certificates(pem.rstrip(b"\0"))
        for c, t in zip(ours, theirs):
            assert c.der == t.public_bytes(serialization.Encoding.DER)
            assert c.tbs == t.tbs_certificate_bytes
            assert c.common_name() == t.subject.get_attributes_for_oid(NameOID.COMMON_NAME)[0].value
            try:
                expected = t.extensions.get_extension_for_oid(x509.ObjectIdentifier(SGX_EXTENSION_OID)).value.value
            except x509.ExtensionNotFound:
                expected = None
            assert c.extension(oid) == expected
            assert self_issued(c) is (t.issuer == t.subject)


def test_pem_fast_path_and_fallback_agree(azure):
    pem = parse_quote(azure.quote).cert_data.pck_chain
    crlf = pem.replace(b"\n", b"\r\n")
    noisy = b"comment line\n" + pem                      # not canonical: cryptography's loader decides
    for variant in (pem, crlf, noisy):
        assert [c.der for c in load_pem_chain(variant, "pck_chain", 3)] == \
            [c.public_bytes(serialization.Encoding.DER) for c in x509.load_pem_x509_certificates(variant.rstrip(b"\0"))]
    with pytest.raises(QuoteVerificationError) as err:
        load_pem_chain(pem.replace(b"MII", b"MI!", 1), "pck_chain", 3)
    assert err.value.step == "pck_chain"


def test_chain_roles_ignore_order(azure):
    leaf, ca, root = load_pem_chain(parse_quote(azure.quote).cert_data.pck_chain, "pck_chain", 3)
    for order in ([leaf, ca, root], [root, ca, leaf], [ca, root, leaf]):
        assert pck_chain_roles(order, "pck_chain") == (leaf, ca, root)
    assert signing_chain_roles([root, ca], "tcb_info", "TCB info") == (ca, root)
    for bad in ([leaf, ca, leaf], [leaf, root, root], [ca, ca, root]):
        with pytest.raises(QuoteVerificationError) as err:
            pck_chain_roles(bad, "pck_chain")
        assert err.value.step == "pck_chain"
    with pytest.raises(QuoteVerificationError):
        signing_chain_roles([leaf, ca], "tcb_info", "TCB info")


def test_crl_signed_by_matches_is_signature_valid(azure, pki):
    crl = load_crl(azure.prod.root_ca_crl, "root CA CRL")
    root = x509.load_der_x509_certificate(azure.root_ca)
    assert crl.signed_by(root.public_key()) is crl.x509.is_signature_valid(root.public_key()) is True
    assert crl.signed_by(pki.root.public_key()) is crl.x509.is_signature_valid(pki.root.public_key()) is False
    pck = load_crl(azure.prod.pck_crl, "PCK CRL")
    assert pck.number == 1 and pck.tbs == pck.x509.tbs_certlist_bytes
    revoked = next(iter(pck.x509))
    assert pck.revokes(revoked.serial_number) and not pck.revokes(revoked.serial_number + 1)
    as_hex = load_crl(pck.x509.public_bytes(serialization.Encoding.DER).hex(), "PCK CRL")
    assert as_hex.tbs == pck.tbs
    with pytest.raises(QuoteVerificationError) as err:
        load_crl(azure.prod.pck_crl[:200], "PCK CRL")
    assert err.value.step == "crl"


@pytest.mark.parametrize(("issuer", "subject"), [
    (_name([_cn("Issuer CA")]), _name([_cn("Leaf")])),
    (_name([_cn("Same")]), _name([_cn("Same", x509.name._ASN1Type.PrintableString)])),
    (_name([_cn("A"), _cn("B")]), _name([_cn("B"), _cn("A")])),           # two CNs in one RDN, either order
    (_name([x509.NameAttribute(NameOID.ORGANIZATION_NAME, "O")], [_cn("A")]),
     _name([x509.NameAttribute(NameOID.ORGANIZATION_NAME, "O")], [_cn("B")])),
    (_name([x509.NameAttribute(NameOID.ORGANIZATION_NAME, "O")]), _name([x509.NameAttribute(NameOID.ORGANIZATION_NAME, "O")])),
])
def test_self_issued_matches_name_equality(issuer, subject):
    cert = _cert(subject, issuer, P256, P256)
    assert self_issued(cert) is (cert.x509.issuer == cert.x509.subject)


def test_known_certificates_are_reused(azure):
    pem = parse_quote(azure.quote).cert_data.pck_chain
    known: dict = {}
    first = load_pem_chain(pem, "pck_chain", 3, known, learn=True)
    again = load_pem_chain(pem, "pck_chain", 3, known)
    assert all(a is b for a, b in zip(first, again))
    assert {c.der for c in first} <= set(known)


#: A certificate the fuzzer derived from a mock PCK certificate: ``cryptography`` loads it, but
#: decoding its issuer raises TypeError (a BIT STRING attribute under an OID other than
#: x500UniqueIdentifier) — which once escaped the verifier as a traceback.
BITSTRING_NAME_CERT = bytes.fromhex(
    "3082028f30820234a003020102021422650cd65a9d3489f383b49552bf501b392706ac300a06082a8648ce3d040302306831"
    "1a301806035504030c11496e74656c2053475820526f6f74204341311a3018060355040a0c11496e74656c20436f72706f72"
    "6174696f6e3114301206035504070c0b53616e746120436c617261310b300906035504080c024341310b3009060355040603"
    "025553301e170d3138303532313130343531305a170d3439313233313233353935395a3068311a301806035504030c11496e"
    "74656c2053475820526f6f74204341311a3018060355040a0c11496e74656c20436f72706f726174696f6e31143012060355"
    "04070c0b53616e746120436c617261310b300906035504080c024341310b30090603550406130255533059301306072a8648"
    "ce3d020106082a8648ce3d030107034200040ba9c4c0c0c86193a3fe23d6b02cda10a8bbd4e88e48b4458561a36e705525f5"
    "67918e2edc88e40d860bd0cc4ee26aacc988e505a953558c453f6b0904ae7394a381bb3081b8301f0603551d230418301680"
    "1422650cd65a9d3489f383b49552bf501b392706ac30520603551d1f044b30493047a045a043864168747470733a2f2f6365"
    "727469666963617465732e7472757374656473657276696365732e696e74656c2e636f6d2f496e74656c534758526f6f7443"
    "412e646572301d0603551d0e0416041422650cd65a9d3489f383b49552bf501b392706ac300e0603551d0f0101ff04040302"
    "010630120603551d130101ff040830060101ff020101300a06082a8648ce3d0403020349003046022100e5bfe50911f92f42"
    "8920dc368a302ee3d12ec5867ff622ec6497f78060c13c20022100e09d25ac7a0cb3e5e8e68fec5fa3bd416c47440bd95063"
    "9d450edcbea4576aa2"
)


def test_a_name_cryptography_cannot_decode_is_not_a_crash(azure, mock_quote, pki):
    cert = Cert.from_der(BITSTRING_NAME_CERT)
    with pytest.raises(TypeError):
        _ = cert.x509.issuer                               # what the shortcuts must not let escape
    assert self_issued(cert) in (True, False)
    assert isinstance(cert.common_name(), str)
    pem = x509.load_der_x509_certificate(BITSTRING_NAME_CERT).public_bytes(serialization.Encoding.PEM)
    chain = parse_quote(mock_quote).cert_data.pck_chain
    blocks = chain.split(b"-----END CERTIFICATE-----\n")
    import dataclasses

    from migtd.attest.quote import encode_quote
    from migtd.attest.verify import verify_quote
    q = parse_quote(mock_quote)
    for bad_chain in (pem + blocks[1] + b"-----END CERTIFICATE-----\n" + blocks[2] + b"-----END CERTIFICATE-----\n\0",
                      blocks[0] + b"-----END CERTIFICATE-----\n" + pem + blocks[2] + b"-----END CERTIFICATE-----\n\0"):
        quote = encode_quote(q.header, q.body, q.signature, q.attestation_key,
                             dataclasses.replace(q.cert_data, pck_chain=bad_chain))
        with pytest.raises(QuoteVerificationError):
            verify_quote(quote, pki.collateral, pki.root_ca_der)
