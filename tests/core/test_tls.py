"""TLS 1.3 over memory BIOs, the skip-RA verifier and the quote retry (§5.1, §5.5–5.6, §5.8, §9.2).

Pins: TLS 1.3 only with TLS_AES_256_GCM_SHA384; the server demands a client
certificate; the peer certificate comes back byte-exact (Rust quirks
included); skip-RA checks only the MigTD EKU and the presence of the quote
and event-log extensions; quote retry = 5 more attempts, back-off from 20 ms.
"""

from __future__ import annotations

import pytest
from cryptography.hazmat.primitives.asymmetric import ec

from migtd import modes
from migtd.emu.quote_retry import FailureInjector, backoff_delays, quote_with_retry
from migtd.errors import AttestationError, ConfigError, SecureSessionError
from migtd.events import EventLog
from migtd.mock.providers import SkipRaProvider
from migtd.ratls import certificate as c
from migtd.ratls.evidence import evidence_from_certificate
from migtd.ratls.tls import TlsEngine
from migtd.verdict import SessionFacts, Verdict
from migtd.verifiers.skip_ra import SkipRaVerifier


def skip_ra_verdict(cert: bytes, is_client: bool) -> Verdict:
    """What a skip-RA MigTD concludes about a peer presenting ``cert``."""
    verifier = SkipRaVerifier()
    evidence = evidence_from_certificate(c.parse_certificate(cert), verifier.needs(is_client))
    return verifier.verify(evidence, SessionFacts(), is_client)


def _pump(client: TlsEngine, server: TlsEngine) -> None:
    for _ in range(10):
        c_done = client.step_handshake()
        server.feed(client.take_outgoing())
        s_done = server.step_handshake()
        client.feed(server.take_outgoing())
        if c_done and s_done:
            return
    raise AssertionError("handshake did not finish")


def _connected(ratls_identity) -> tuple[TlsEngine, TlsEngine, bytes, bytes]:
    """Client and server engines with fresh MigTD certificates, handshake done; also both certificates."""
    ck, ccert = ratls_identity()
    sk, scert = ratls_identity()
    client = TlsEngine(is_client=True, certificate_der=ccert, private_key=ck)
    server = TlsEngine(is_client=False, certificate_der=scert, private_key=sk)
    _pump(client, server)
    return client, server, ccert, scert


def test_handshake_parameters_and_peer_certificates_byte_exact(ratls_identity) -> None:
    client, server, ccert, scert = _connected(ratls_identity)
    assert (client.version, client.cipher) == ("TLSv1.3", "TLS_AES_256_GCM_SHA384")
    assert client.peer_certificate_der() == scert
    assert server.peer_certificate_der() == ccert
    client.write(b"A" * 40)
    server.feed(client.take_outgoing())
    assert server.read(40) == b"A" * 40


def test_server_requires_a_client_certificate(ratls_identity) -> None:
    sk, scert = ratls_identity()
    client = TlsEngine(is_client=True, certificate_der=b"", private_key=sk, send_certificate=False)
    server = TlsEngine(is_client=False, certificate_der=scert, private_key=sk)
    with pytest.raises(SecureSessionError, match="certificate"):
        _pump(client, server)


def test_skip_ra_verifier_accepts_migtd_cert_and_says_so(ratls_identity) -> None:
    _, cert = ratls_identity()
    verdict = skip_ra_verdict(cert, is_client=True)
    assert verdict.ok and verdict.attestation.verified is False and verdict.policy.skipped is True
    assert verdict.attestation.quote_bytes == 822
    assert any("NOT attested" in w for w in verdict.warnings)


def test_skip_ra_ignores_signature_and_contents() -> None:
    """§9.2: contents, policy hash and certificate signature are not checked."""
    key = ec.generate_private_key(ec.SECP384R1())
    tbs = c.build_tbs(c.public_point(key), b"junk quote", b"junk log")
    forged = c.assemble(tbs, b"\x30\x06\x02\x01\x01\x02\x01\x01")
    assert skip_ra_verdict(forged, is_client=False).ok


@pytest.mark.parametrize(("eku", "missing"), [
    (None, "extKeyUsage"),
    (["1.3.6.1.5.5.7.3.2"], "MigTD OID"),
    ([c.OID_MIGTD_EKU], "quote"),
])
def test_skip_ra_rejects_non_migtd_certificates(eku, missing, plain_identity) -> None:
    _, cert = plain_identity(eku)
    with pytest.raises(SecureSessionError, match=missing):
        skip_ra_verdict(cert, is_client=True)


def test_missing_event_log_is_rejected() -> None:
    key = ec.generate_private_key(ec.SECP384R1())
    tbs = c.build_tbs(c.public_point(key), b"q", b"l")
    without_log = tbs.replace(c.der.oid(c.OID_EVENT_LOG), c.der.oid("1.2.840.113741.1.5.5.1.9"))
    cert = c.assemble(without_log, b"")
    with pytest.raises(SecureSessionError, match="event-log"):
        skip_ra_verdict(cert, is_client=True)


def test_unavailable_modes_are_config_errors() -> None:
    setup = modes.Setup("migration", 1, b"", b"", {}, 60.0)
    assert modes.resolve("skip-ra", {}).provider(setup).name == "skip-ra"
    assert isinstance(modes.resolve("skip_ra", {}).verifier(setup), SkipRaVerifier)
    with pytest.raises(ConfigError, match="attestation mode"):
        modes.resolve("tpm", {})


class _Flaky(SkipRaProvider):
    def __init__(self, failures: int) -> None:
        super().__init__()
        self.failures = failures
        self.calls = 0

    def quote(self, td_report: bytes) -> bytes:
        self.calls += 1
        if self.calls <= self.failures:
            raise AttestationError("busy")
        return super().quote(td_report)


def _quiet() -> EventLog:
    import io

    return EventLog("source", 1, stream=io.StringIO(), level="warn")


def test_retry_recovers_within_five_retries_with_doubling_backoff() -> None:
    slept: list[float] = []

    def fake_sleep(s: float) -> None:
        slept.append(s)

    provider = _Flaky(5)
    assert quote_with_retry(provider, bytes(1024), _quiet(), sleep=fake_sleep) == bytes(822)
    assert provider.calls == 6
    assert slept == pytest.approx([0.02, 0.04, 0.08, 0.16, 0.32]) == backoff_delays()


def test_retry_gives_up_after_six_attempts_with_code_7() -> None:
    def fake_sleep(s: float) -> None:
        return None

    with pytest.raises(AttestationError) as err:
        quote_with_retry(_Flaky(6), bytes(1024), _quiet(), sleep=fake_sleep)
    assert int(err.value.result) == 7


def test_failure_injection_logs_each_simulated_failure() -> None:
    import io

    stream = io.StringIO()
    log = EventLog("source", 1, stream=stream, level="warn")

    def fake_sleep(s: float) -> None:
        return None

    inj = FailureInjector.from_env({"MIGTD_QUOTE_FAILURES": "2"})
    quote_with_retry(SkipRaProvider(), bytes(1024), log, inj, sleep=fake_sleep)
    lines = [ln for ln in stream.getvalue().splitlines() if "Simulating quote failure" in ln]
    assert len(lines) == 2 and "attempt 1" in lines[0] and "attempt 2" in lines[1]
    with pytest.raises(ConfigError):
        FailureInjector.from_env({"MIGTD_QUOTE_FAILURES": "two"})


def _client_hello_extensions(ch: bytes) -> tuple[bytes, dict[int, bytes]]:
    p = 5 + 4 + 2 + 32
    p += 1 + ch[p]
    cs_len = int.from_bytes(ch[p:p + 2], "big")
    suites = ch[p + 2:p + 2 + cs_len]
    p += 2 + cs_len
    p += 1 + ch[p]
    end = p + 2 + int.from_bytes(ch[p:p + 2], "big")
    p += 2
    exts = {}
    while p < end:
        t, n = int.from_bytes(ch[p:p + 2], "big"), int.from_bytes(ch[p + 2:p + 4], "big")
        exts[t] = ch[p + 4:p + 4 + n]
        p += 4 + n
    return suites, exts


def test_client_hello_offers_exactly_what_a_rust_peer_needs(ratls_identity) -> None:
    """§5.1 / §9.1 item 4: only TLS 1.3, only 0x1302, only secp384r1 with a P-384 key share, SNI localhost."""
    key, cert = ratls_identity()
    engine = TlsEngine(is_client=True, certificate_der=cert, private_key=key)
    engine.step_handshake()
    suites, exts = _client_hello_extensions(engine.take_outgoing())
    assert suites == b"\x13\x02"
    assert exts[0x000A] == b"\x00\x02\x00\x18"          # supported_groups: secp384r1
    assert exts[0x002B] == b"\x02\x03\x04"              # supported_versions: TLS 1.3
    assert exts[0x0033][2:4] == b"\x00\x18" and exts[0x0033][4:6] == b"\x00\x61"  # 97-byte P-384 share
    assert exts[0x0000].endswith(b"\x00\x00\x09localhost")
    assert 0x0010 not in exts  # no ALPN


def test_exchange_information_arrives_in_one_read(ratls_identity) -> None:
    """§9.1 item 8: a Rust peer does a single read and needs all 40 bytes from it."""
    client, server, _, _ = _connected(ratls_identity)
    server.write(bytes(range(40)))
    client.feed(server.take_outgoing())
    assert client.read(65536) == bytes(range(40))
