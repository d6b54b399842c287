"""Every protocol phase completes within ``--timeout``, however the peer paces its bytes (issue #11, kind 2).

A real ``migtd`` faces a fake peer that makes progress by a trickle — one
byte every 100 ms, far below any per-read timeout — in each phase: the
pre-session exchange, the TLS handshake (ClientHello and the server's
flight), and the key exchange. Each phase has ``--timeout`` seconds (1 s
here) from its start; the run must end with NetworkError (5) naming the
phase, well before the trickle would have finished, with one line and no
traceback. The silent cases (no source, no data) are in test_e2e.
"""

from __future__ import annotations

import struct
import threading
import time

from migtd.ratls.tls import TlsEngine

TIMEOUT = "1"
#: Generous bound for a 1-second phase on a loaded 2-core machine (process start-up included).
BOUND = 8.0


class Trickle:
    """Sends ``data`` one byte every ``gap`` seconds from a thread until told to stop or the peer goes."""

    def __init__(self, sock, data: bytes, gap: float = 0.1) -> None:  # type: ignore[no-untyped-def]
        self.sock = sock
        self.data = data
        self.gap = gap
        self.stop = threading.Event()
        self.sent = 0
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.thread.start()

    def _run(self) -> None:
        for byte in self.data:
            if self.stop.wait(self.gap):
                return
            try:
                self.sock.sendall(bytes([byte]))
            except OSError:
                return
            self.sent += 1

    def close(self) -> None:
        self.stop.set()
        self.thread.join(5)


def timed_out(done, phase: str) -> None:  # type: ignore[no-untyped-def]
    assert done.code == 5, done.stderr
    assert "Traceback" not in done.stderr
    reason = done.event("exit")["reason"]
    assert f"{phase} did not complete in time: the peer sent only" in reason, reason


def frame(payload: bytes) -> bytes:
    return struct.pack("<I", len(payload)) + payload


def test_pre_session_trickle(procs, cfg_env, port, connect_to, tmp_path) -> None:  # type: ignore[no-untyped-def]
    chain = tmp_path / "chain.pem"
    chain.write_text("chain")
    env = dict(cfg_env, MIGTD_POLICY_VERSION="2", MIGTD_POLICY_ISSUER_CHAIN_FILE=str(chain))
    proc = procs.start(["-m", "dst", "-t", str(port), "--timeout", TIMEOUT], env)
    sock = connect_to(port)
    hello = frame(bytes.fromhex("FF00000008000000")) + frame(b"MGTD\x00\x01\x00\x01")
    trickle = Trickle(sock, hello * 4)  # 3.2 s of bytes, each well within any per-read timeout
    start = time.monotonic()
    done = procs.finish(proc, timeout=30)
    elapsed = time.monotonic() - start
    trickle.close()
    timed_out(done, "the pre-session exchange")
    assert trickle.sent < len(hello) * 4 and elapsed < BOUND


def test_client_hello_trickle(procs, cfg_env, port, connect_to, ratls_identity) -> None:  # type: ignore[no-untyped-def]
    """The destination's TLS handshake: a ClientHello one byte every 100 ms."""
    key, cert = ratls_identity()
    engine = TlsEngine(is_client=True, certificate_der=cert, private_key=key)
    engine.step_handshake()
    client_hello = frame(engine.take_outgoing())
    assert len(client_hello) > 40  # 4+ s of trickling at 100 ms per byte
    proc = procs.start(["-m", "dst", "-t", str(port), "--timeout", TIMEOUT], cfg_env)
    sock = connect_to(port)
    trickle = Trickle(sock, client_hello)
    start = time.monotonic()
    done = procs.finish(proc, timeout=30)
    elapsed = time.monotonic() - start
    trickle.close()
    timed_out(done, "the TLS handshake and peer verification")
    assert trickle.sent < len(client_hello) and elapsed < BOUND


def test_server_flight_trickle(procs, cfg_env, listener, fake_peer, ratls_identity) -> None:  # type: ignore[no-untyped-def]
    """The source's TLS handshake: a fake destination answers its ClientHello a byte at a time."""
    server, port = listener()
    proc = procs.start(["-m", "src", "-t", str(port), "--timeout", TIMEOUT], cfg_env)
    peer = fake_peer(server.accept()[0])
    key, cert = ratls_identity()
    engine = TlsEngine(is_client=False, certificate_der=cert, private_key=key)
    engine.feed(peer.recv_frame())
    assert not engine.step_handshake()
    flight = frame(engine.take_outgoing())
    trickle = Trickle(peer.sock, flight)
    start = time.monotonic()
    done = procs.finish(proc, timeout=30)
    elapsed = time.monotonic() - start
    trickle.close()
    peer.close()
    timed_out(done, "the TLS handshake and peer verification")
    assert elapsed < BOUND


def test_key_exchange_trickle(procs, cfg_env, listener, fake_peer, ratls_identity) -> None:  # type: ignore[no-untyped-def]
    """After a good handshake, the fake destination sends its ExchangeInformation record a byte at a time."""
    server, port = listener()
    proc = procs.start(["-m", "src", "-t", str(port), "--timeout", TIMEOUT], cfg_env)
    peer = fake_peer(server.accept()[0])
    key, cert = ratls_identity()
    engine = TlsEngine(is_client=False, certificate_der=cert, private_key=key)
    assert peer.drive_handshake(engine)
    if peer.pending:
        peer.send_frame(peer.pending)
    engine.write(bytes(40))
    record = frame(engine.take_outgoing())
    trickle = Trickle(peer.sock, record)
    start = time.monotonic()
    done = procs.finish(proc, timeout=30)
    elapsed = time.monotonic() - start
    trickle.close()
    peer.close()
    timed_out(done, "the key exchange")
    assert done.event("tls_established") and elapsed < BOUND
    assert "msk_exchanged" not in [e["event"] for e in done.events]
