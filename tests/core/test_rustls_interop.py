"""Interoperability with rustls 0.23 — the TLS stack of the upstream Rust MigTD.

No Rust MigTD binary can be built here, so these tests use ``rtls`` (rustls
0.23 + rustls-webpki 0.103 compiled into a Python wheel) as the peer's TLS
stack and drive it exactly as a Rust MigTD drives its own: framed transport
(§3.2), TLS 1.3 with TLS_AES_256_GCM_SHA384 (§5.1), a certificate laid out as
MigTD's (§5.2), one 40-byte ExchangeInformation each way, all zero as a Rust
AzCVMEmu peer sends it (§4.6, §9.1 item 8).

What they pin: webpki accepts our certificate (explicit ``critical FALSE``,
keyUsage ``03 02 00 80``, MigTD EKU) in a strict chain check and our
CertificateVerify; a rustls client completes a migration against a real
``migtd`` destination (its client certificate is read and judged by us); a
rustls server completes one against a real ``migtd`` source. rtls cannot
request client certificates as a server, so the reverse mutual-auth leg is
covered by the pyOpenSSL tests instead.
"""

from __future__ import annotations

import base64

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec

from migtd import eventlog
from migtd.ratls import certificate as c
from migtd.ratls.tls import TlsEngine

rustls = pytest.importorskip("rtls._rustls", reason="rtls (rustls for Python) is a dev dependency")

CERT_NONE, CERT_REQUIRED = 0, 2
TLS13 = 0x0304


def identity() -> tuple[ec.EllipticCurvePrivateKey, bytes, bytes, bytes]:
    """A MigTD-style skip-RA certificate: (key, DER, PEM, PKCS#8 PEM key)."""
    key = ec.generate_private_key(ec.SECP384R1())
    der = c.build_certificate(key, bytes(822), eventlog.skip_ra_event_log())
    pem = b"-----BEGIN CERTIFICATE-----\n" + base64.encodebytes(der) + b"-----END CERTIFICATE-----\n"
    key_pem = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                serialization.NoEncryption())
    return key, der, pem, key_pem


def builder() -> object:
    b = rustls.RustlsConfigBuilder()
    b.set_min_version(TLS13)
    b.set_max_version(TLS13)
    b.set_cipher_suites(["TLS13_AES_256_GCM_SHA384"])
    return b


def feed_rustls(conn, data: bytes) -> None:
    while data:
        used = conn.read_tls(data)
        data = data[used:]
        conn.process_new_packets()


def pump_with_rustls_client(client, server: TlsEngine, rounds: int = 6) -> None:
    """Move handshake bytes between a rustls client and our server engine until both are done."""
    for _ in range(rounds):
        server.feed(client.write_tls())
        server.step_handshake()
        back = server.take_outgoing()
        if back:
            feed_rustls(client, back)
        if server.handshake_done and not client.is_handshaking():
            return


def test_webpki_accepts_our_certificate_and_certificate_verify() -> None:
    """Strict mode: our server certificate is the rustls client's only root, so webpki parses it,
    checks EKU serverAuth, validity and the signature chain, then our CertificateVerify."""
    key, der, _, _ = identity()
    _, _, client_pem, client_key = identity()
    b = builder()
    b.set_verify_mode(CERT_REQUIRED)
    b.set_check_hostname(False)
    b.add_root_cert_from_der(der)
    b.set_client_cert_chain_pem(client_pem, client_key)
    client = b.build_client_connection("localhost")
    server = TlsEngine(is_client=False, certificate_der=der, private_key=key)
    pump_with_rustls_client(client, server)
    assert server.handshake_done and not client.is_handshaking()
    assert client.negotiated_cipher_suite() == "TLS13_AES_256_GCM_SHA384"
    assert client.protocol_version() == TLS13
    assert client.peer_certificates()[0] == der
    # The rustls client sent its MigTD-style certificate and our server parsed it.
    peer = c.parse_certificate(server.peer_certificate_der())
    assert c.OID_MIGTD_EKU in peer.extended_key_usages()


def test_webpki_rejects_a_tampered_certificate() -> None:
    """Control for the test above: the same check fails when the signature is broken."""
    key, der, _, _ = identity()
    broken = der[:-2] + bytes([der[-2] ^ 1]) + der[-1:]
    b = builder()
    b.set_verify_mode(CERT_REQUIRED)
    b.set_check_hostname(False)
    b.add_root_cert_from_der(broken)
    client = b.build_client_connection("localhost")
    server = TlsEngine(is_client=False, certificate_der=broken, private_key=key)
    with pytest.raises(Exception, match="BadSignature"):
        pump_with_rustls_client(client, server)


def drive_client(peer, conn) -> None:
    """rustls client over the framed transport until the handshake completes."""
    while conn.is_handshaking():
        out = conn.write_tls()
        if out:
            peer.send_frame(out)
        if conn.is_handshaking():
            frame = peer.recv_frame()
            assert frame is not None, "migtd closed the connection during the handshake"
            feed_rustls(conn, frame)
    out = conn.write_tls()
    if out:
        peer.send_frame(out)


def test_rustls_source_migrates_with_a_migtd_destination(procs, cfg_env, port, connect_to, fake_peer) -> None:
    """A rustls client playing the Rust source: 40 zero bytes out, 40 bytes back, version 0."""
    dst = procs.start(["-m", "dst", "-t", str(port), "--timeout", "10"], cfg_env)
    peer = fake_peer(connect_to(port))
    _, _, pem, key_pem = identity()
    b = builder()
    b.set_verify_mode(CERT_NONE)
    b.set_check_hostname(False)
    b.set_client_cert_chain_pem(pem, key_pem)
    conn = b.build_client_connection("localhost")
    drive_client(peer, conn)
    conn.write_plaintext(bytes(40))
    peer.send_frame(conn.write_tls())
    # A Rust MigTD does ONE read and needs all 40 bytes from it (§4.1 step 6): everything we
    # send after the handshake (tickets, then the record) must come in the next frame.
    frame = peer.recv_frame()
    assert frame is not None
    feed_rustls(conn, frame)
    record = conn.read_plaintext(65536)
    assert len(record) == 40
    peer.close()
    done = procs.finish(dst)
    assert done.code == 0, done.stderr
    assert record[32:40] == bytes(8)  # min 0, max 0, reserved zero
    assert done.event("msk_exchanged")["mig_version"] == 0
    # The destination logs the fingerprint of the key the (Rust) source sent: 32 zero bytes.
    from migtd.protocol.msk import key_fingerprint

    assert done.event("msk_exchanged")["key_sha256_8"] == key_fingerprint(bytes(32))


def test_rustls_destination_migrates_with_a_migtd_source(procs, cfg_env, listener, fake_peer) -> None:
    """A rustls server playing the Rust destination against a real migtd source."""
    server, port = listener()
    src = procs.start(["-m", "src", "-t", str(port), "--timeout", "10"], cfg_env)
    peer = fake_peer(server.accept()[0])
    _, _, pem, key_pem = identity()
    b = builder()
    b.set_server_cert_chain_pem(pem, key_pem)
    conn = b.build_server_connection()
    while conn.is_handshaking():
        frame = peer.recv_frame()
        assert frame is not None
        feed_rustls(conn, frame)
        out = conn.write_tls()
        if out:
            peer.send_frame(out)
    # Our Finished flight and the ExchangeInformation record travel together: the single
    # read a Rust destination makes right after the handshake sees all 40 bytes.
    record = conn.read_plaintext(65536)
    conn.write_plaintext(bytes(40))
    peer.send_frame(conn.write_tls())
    done = procs.finish(src)
    peer.close()
    assert done.code == 0, done.stderr
    assert len(record) == 40 and record[36:] == bytes(4)
    assert done.event("tls_established")["cipher"] == "TLS_AES_256_GCM_SHA384"
