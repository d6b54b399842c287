"""RA-TLS certificate build and parse (protocol.md §5.2–5.4, §9.1 items 6–7, §9.2).

Pins: TBS field order and values of the §5.2 table (v3, serial 1,
ecdsa-with-SHA384 without parameters, C=XX PrintableString / L, O
UTF8String, GeneralizedTime 19700101000000Z–99991231235959Z, id-ecPublicKey
+ secp384r1, 97-byte point); extensions in HEAD order keyUsage (critical TRUE,
value ``03 02 00 80``), EKU (explicit FALSE, serverAuth, clientAuth, MigTD
OID), event log, quote, policy hash (v2 only); explicit ``critical FALSE``
(``01 01 00``); skip-RA quote = 822 zero bytes; §5.3 skip-RA event log.
"""

from __future__ import annotations

import hashlib

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec

from migtd import der, eventlog
from migtd.attest.tdreport import TdReport
from migtd.errors import FormatError, SecureSessionError
from migtd.mock.providers import SKIP_RA_QUOTE_SIZE, SkipRaProvider
from migtd.mock.report import mock_td_report
from migtd.ratls import certificate as c
from migtd.result import MigrationResult


@pytest.fixture(scope="module")
def key() -> ec.EllipticCurvePrivateKey:
    return ec.generate_private_key(ec.SECP384R1())


@pytest.fixture(scope="module")
def cert(key) -> bytes:
    return c.build_certificate(key, bytes(SKIP_RA_QUOTE_SIZE), eventlog.skip_ra_event_log())


def test_der_primitives() -> None:
    assert der.integer(1) == b"\x02\x01\x01"
    assert der.integer(128) == b"\x02\x02\x00\x80"
    assert der.encode_length(300) == b"\x82\x01\x2c"
    assert der.oid("1.2.840.113741.1.5.5.1.1") == bytes.fromhex("060b2a864886f84d0105050101")
    assert der.decode_oid(der.encode_oid_body("1.3.132.0.34")) == "1.3.132.0.34"
    assert der.boolean(False) == b"\x01\x01\x00"


def test_tbs_fields_in_spec_order(cert: bytes, key) -> None:
    top = der.read_one(cert, "t").children("t")
    tbs = top[0].children("t")
    assert tbs[0].raw == bytes.fromhex("a003020102")  # [0] EXPLICIT INTEGER 2
    assert tbs[1].raw == b"\x02\x01\x01"  # serial 1
    assert tbs[2].raw == bytes.fromhex("300a06082a8648ce3d040303")  # ecdsa-with-SHA384, no params
    name = (der.set_of(der.seq(der.oid("2.5.4.6"), b"\x13\x02XX"))
            + der.set_of(der.seq(der.oid("2.5.4.7"), b"\x0c\x0cDefault City"))
            + der.set_of(der.seq(der.oid("2.5.4.10"), b"\x0c\x13Default Company Ltd")))
    assert tbs[3].raw == der.seq(name) == tbs[5].raw
    assert tbs[4].raw == der.seq(b"\x18\x0f19700101000000Z", b"\x18\x0f99991231235959Z")
    point = c.public_point(key)
    assert tbs[6].raw == der.seq(der.seq(der.oid("1.2.840.10045.2.1"), der.oid("1.3.132.0.34")),
                                 b"\x03\x62\x00" + point)
    assert tbs[7].tag == 0xA3 and len(tbs) == 8
    assert top[1].raw == tbs[2].raw


def test_extensions_bytes_and_order(cert: bytes) -> None:
    ku = bytes.fromhex("300e0603551d0f0101ff0404") + bytes.fromhex("03020080")
    eku_value = der.seq(der.oid(c.OID_SERVER_AUTH), der.oid(c.OID_CLIENT_AUTH), der.oid(c.OID_MIGTD_EKU))
    eku = der.seq(der.oid("2.5.29.37"), b"\x01\x01\x00", der.octet_string(eku_value))
    assert ku + eku in cert
    parsed = c.parse_certificate(cert)
    assert parsed.extension_order == (c.OID_KEY_USAGE, c.OID_EXT_KEY_USAGE, c.OID_EVENT_LOG, c.OID_QUOTE)
    assert parsed.extension(c.OID_KEY_USAGE).critical is True
    for oid in parsed.extension_order[1:]:
        ext = parsed.extension(oid)
        assert ext.critical is False and ext.critical_explicit is True
    assert parsed.quote == bytes(822)
    assert parsed.event_log == eventlog.skip_ra_event_log()
    assert parsed.extended_key_usages() == [c.OID_SERVER_AUTH, c.OID_CLIENT_AUTH, c.OID_MIGTD_EKU]


def test_skip_ra_event_log_has_the_test_feature_event() -> None:
    log = eventlog.skip_ra_event_log()
    (ev,) = eventlog.parse_event_log(log)
    assert (ev.mr_index, ev.tag) == (3, 0x32)
    assert ev.digest == hashlib.sha384(b"test_disable_ra_and_accept_all").digest()
    assert len(log) == 72 + 66 + 8 + 30 + 1  # header, event header, tag+len, data, trailing byte


def test_policy_hash_and_extra_extensions_follow(key) -> None:
    der_bytes = c.build_certificate(key, b"q", b"l", policy_hash=bytes(48), extra=[(c.OID_TDREPORT, b"r")])
    parsed = c.parse_certificate(der_bytes)
    assert parsed.extension_order[-2:] == (c.OID_POLICY_HASH, c.OID_TDREPORT)
    assert parsed.policy_hash == bytes(48)


def test_parsed_fields_expose_tbs_signature_and_key(cert: bytes, key) -> None:
    p = c.parse_certificate(cert)
    assert p.version == 2 and p.serial == 1
    assert p.signature_algorithm == p.tbs_signature_algorithm == c.OID_ECDSA_SHA384
    assert (p.spki_algorithm, p.spki_parameters) == (c.OID_EC_PUBLIC_KEY, c.OID_SECP384R1)
    assert p.public_key == c.public_point(key)
    key.public_key().verify(p.signature, p.tbs, ec.ECDSA(hashes.SHA384()))
    c.verify_self_signature(p)


def test_python_cryptography_refuses_it_but_openssl_loads_it(cert: bytes) -> None:
    """Why we carry our own parser (§5.2 "Encoding peculiarities")."""
    with pytest.raises(ValueError):
        x509.load_der_x509_certificate(cert).extensions  # noqa: B018
    from OpenSSL import crypto

    loaded = crypto.load_certificate(crypto.FILETYPE_ASN1, cert)
    assert crypto.dump_certificate(crypto.FILETYPE_ASN1, loaded) == cert


def test_tampered_tbs_fails_self_signature(cert: bytes) -> None:
    i = cert.index(b"Default City")
    bad = cert[:i] + b"Xefault City" + cert[i + 12:]
    with pytest.raises(SecureSessionError):
        c.verify_self_signature(c.parse_certificate(bad))


def test_parses_a_canonical_certificate_from_python_cryptography(key) -> None:
    """Minimal-DER certificates (no explicit FALSE, minimal keyUsage) parse too."""
    import datetime

    name = x509.Name([x509.NameAttribute(x509.NameOID.COMMON_NAME, "peer")])
    now = datetime.datetime(2024, 1, 1, tzinfo=datetime.UTC)
    built = (x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(key.public_key())
             .serial_number(7).not_valid_before(now).not_valid_after(now + datetime.timedelta(days=1))
             .add_extension(x509.KeyUsage(True, False, False, False, False, False, False, False, False), True)
             .add_extension(x509.ExtendedKeyUsage([x509.ObjectIdentifier(c.OID_MIGTD_EKU)]), False)
             .sign(key, hashes.SHA384()))
    p = c.parse_certificate(built.public_bytes(serialization.Encoding.DER))
    assert p.serial == 7
    assert p.extension(c.OID_EXT_KEY_USAGE).critical_explicit is False
    assert p.extended_key_usages() == [c.OID_MIGTD_EKU]
    c.verify_self_signature(p)


@pytest.mark.parametrize("mutate", [
    lambda d: d[:-1],                       # truncated
    lambda d: d + b"\x00",                  # trailing garbage
    lambda d: b"\x31" + d[1:],              # SET instead of SEQUENCE
    lambda d: d[:1] + b"\x80" + d[2:],      # indefinite length
    lambda d: b"",
    lambda d: b"\x30\x03\x02\x01\x01",
])
def test_malformed_input_is_a_format_error_with_session_code(cert: bytes, mutate) -> None:
    with pytest.raises(FormatError) as err:
        c.parse_certificate(mutate(cert))
    assert err.value.result == MigrationResult.SecureSessionError


def test_skip_ra_provider_and_mock_report() -> None:
    p = SkipRaProvider()
    rd = hashlib.sha384(b"k").digest() + bytes(16)
    report = p.td_report(rd, b"")
    parsed = TdReport.parse(report)
    assert (parsed.report_type, parsed.report_data, parsed.mac) == (0x81, rd, b"\xBB" * 32)
    parsed.check_integrity()  # both info hashes match the (zero) TEE_TCB_INFO and TDINFO
    assert p.quote(report) == bytes(822) and p.name == "skip-ra"
    assert mock_td_report(b"x")[128:130] == b"x\x00"


def test_skip_ra_report_from_mock_quote_file_matches_upstream(vectors) -> None:
    """§1.4: skip-RA builds use MOCK_QUOTE_FILE for the TD report only (quote stays 822 zeros)."""
    from migtd import modes

    quote = vectors / "attestation" / "az_migtd_quote.blob"  # the bytes of upstream's Rust array QUOTE
    expected = (vectors / "attestation" / "derived" / "mock_td_report_from_QUOTE.bin").read_bytes()
    env = {"MOCK_QUOTE_FILE": str(quote)}
    provider = modes.resolve("skip-ra", env).provider(modes.Setup("migration", 1, b"", b"", env, 60.0))
    assert provider.td_report(bytes(64), b"") == expected
    assert provider.quote(expected) == bytes(822)
