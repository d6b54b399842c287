"""A hostile or broken peer must end the run with the right code, one line, no traceback.

Pins: §3.4 zero-length frame fatal; our 16 MiB frame cap; §3.5 transport
failures during TLS → SecureSessionError (6), timeouts → NetworkError (5);
§5.1 server demands a client certificate; §5.6/§9.2 MigTD EKU and quote /
event-log extensions required even in skip-RA; §4.1 step 6 short
ExchangeInformation read → 5 and non-zero reserved bytes → 1; §5.5 a
rejected peer gets nothing more from us (no ExchangeInformation).
"""

from __future__ import annotations

import struct

import pytest

from migtd.ratls.tls import TlsEngine


def clean(done, code: int, reason_part: str) -> None:
    assert done.code == code, done.stderr
    assert "Traceback" not in done.stderr
    exit_event = done.event("exit")
    assert exit_event["code"] == code
    assert reason_part in exit_event["reason"], exit_event["reason"]


@pytest.fixture
def dst(procs, cfg_env, port, connect_to, fake_peer):
    """Start a migtd destination and hand back (process, connected fake source)."""
    proc = procs.start(["-m", "dst", "-t", str(port), "--timeout", "5"], cfg_env)
    peer = fake_peer(connect_to(port))
    yield proc, peer
    peer.close()


def test_peer_closes_during_tls(procs, dst, ratls_identity) -> None:
    proc, peer = dst
    key, cert = ratls_identity()
    engine = TlsEngine(is_client=True, certificate_der=cert, private_key=key)
    engine.step_handshake()
    peer.send_frame(engine.take_outgoing())  # ClientHello
    assert peer.recv_frame()  # ServerHello … Finished
    peer.close()
    clean(procs.finish(proc), 6, "connection closed by the peer")


def test_garbage_frames(procs, dst) -> None:
    proc, peer = dst
    peer.send_frame(b"this is not TLS at all" * 10)
    clean(procs.finish(proc), 6, "TLS handshake failed")


def test_zero_length_frame(procs, dst) -> None:
    proc, peer = dst
    peer.send_raw(b"\x00\x00\x00\x00")
    clean(procs.finish(proc), 6, "zero-length frame")


def test_oversized_length(procs, dst) -> None:
    proc, peer = dst
    peer.send_raw(struct.pack("<I", 0xFFFFFFFF))
    clean(procs.finish(proc), 6, "above the 16777216-byte limit")


def test_truncated_frame_then_close(procs, dst) -> None:
    proc, peer = dst
    peer.send_raw(struct.pack("<I", 100) + b"\x16\x03\x01")
    peer.close()
    clean(procs.finish(proc), 6, "connection closed after 3 of 100 bytes")


def test_no_client_certificate(procs, dst, ratls_identity) -> None:
    proc, peer = dst
    key, _ = ratls_identity()
    engine = TlsEngine(is_client=True, certificate_der=b"", private_key=key, send_certificate=False)
    assert peer.drive_handshake(engine)  # TLS 1.3: the client finishes first
    peer.send_frame(peer.pending)
    clean(procs.finish(proc), 6, "peer did not return a certificate")


def test_client_certificate_without_migtd_eku(procs, dst, plain_identity) -> None:
    proc, peer = dst
    key, cert = plain_identity()
    engine = TlsEngine(is_client=True, certificate_der=cert, private_key=key)
    assert peer.drive_handshake(engine)
    engine.write(bytes(40))
    peer.send_frame(peer.pending + engine.take_outgoing())
    done = procs.finish(proc)
    clean(done, 6, "lacks the MigTD OID")
    assert done.event("tls_established")
    assert "msk_exchanged" not in [e["event"] for e in done.events]
    # The destination sent nothing after rejecting us: the socket just closes.
    assert peer.recv_frame() is None


@pytest.fixture
def src(procs, cfg_env, listener, fake_peer):
    """Start a migtd source against our listening socket; (process, accepted fake destination)."""
    server, port = listener()
    proc = procs.start(["-m", "src", "-t", str(port), "--timeout", "5"], cfg_env)
    conn, _ = server.accept()
    peer = fake_peer(conn)
    yield proc, peer
    peer.close()


def _serve_tls(peer, identity) -> TlsEngine:
    key, cert = identity
    engine = TlsEngine(is_client=False, certificate_der=cert, private_key=key)
    assert peer.drive_handshake(engine)
    if peer.pending:  # OpenSSL's TLS 1.3 NewSessionTickets, encrypted before any app data
        peer.send_frame(peer.pending)
    return engine


def test_server_certificate_without_migtd_eku(procs, src, plain_identity) -> None:
    proc, peer = src
    key, cert = plain_identity()
    engine = TlsEngine(is_client=False, certificate_der=cert, private_key=key)
    assert not peer.drive_handshake(engine)  # the source verifies, rejects, sends nothing more
    clean(procs.finish(proc), 6, "lacks the MigTD OID")


def _read_app(peer, engine: TlsEngine) -> bytes:
    from migtd.ratls.tls import WantMore

    while True:
        try:
            return engine.read(40)
        except WantMore:
            frame = peer.recv_frame()
            assert frame is not None
            engine.feed(frame)


def test_nonzero_reserved_bytes_from_peer_is_1(procs, src, ratls_identity) -> None:
    proc, peer = src
    engine = _serve_tls(peer, ratls_identity())
    assert len(_read_app(peer, engine)) == 40
    engine.write(bytes(36) + b"\x01\x00\x00\x00")
    peer.send_frame(engine.take_outgoing())
    clean(procs.finish(proc), 1, "reserved bytes")


def test_short_exchange_information_is_5(procs, src, ratls_identity) -> None:
    proc, peer = src
    engine = _serve_tls(peer, ratls_identity())
    assert len(_read_app(peer, engine)) == 40
    engine.write(bytes(39))
    peer.send_frame(engine.take_outgoing())
    peer.close()
    clean(procs.finish(proc), 5, "short ExchangeInformation")


def test_good_fake_destination_succeeds_like_a_rust_peer(procs, src, ratls_identity) -> None:
    """A peer behaving like Rust (40 zero bytes, version 0–0) completes the migration."""
    proc, peer = src
    engine = _serve_tls(peer, ratls_identity())
    record = _read_app(peer, engine)
    assert record[32:] == bytes(8)  # min 0, max 0, reserved 0 by default
    engine.write(bytes(40))
    peer.send_frame(engine.take_outgoing())
    done = procs.finish(proc)
    assert done.code == 0
    assert done.event("msk_exchanged")["mig_version"] == 0
