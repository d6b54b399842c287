"""A thin blocking-socket driver around the sans-I/O endpoints, over a real loopback TCP connection.

This is the shape the engine integration takes: u32-LE length-prefixed frames
(protocol.md §3.2), one frame per write from ``data_to_send()``, frame
payloads fed to ``receive_data()`` as a byte stream, one deadline for the
whole exchange that a trickling peer cannot extend.
"""

from __future__ import annotations

import socket
import struct
import threading
import time

from migtd.errors import MigtdError
from migtd.result import MigrationResult
from migtd.spdm import Requester, Responder

from .helpers import Info, QuoteAttestation, quote_blob


def drive(endpoint: Requester | Responder, sock: socket.socket, timeout: float) -> MigrationResult:
    deadline = time.monotonic() + timeout
    pending = b""                       # bytes of an incomplete u32 frame
    if isinstance(endpoint, Requester):
        endpoint.start()
    while True:
        for write in endpoint.data_to_send():
            sock.sendall(struct.pack("<I", len(write)) + write)
        if endpoint.done:
            break
        left = deadline - time.monotonic()
        if left <= 0:
            endpoint.abort(MigtdError("SPDM exchange timed out", MigrationResult.NetworkError))
            continue
        sock.settimeout(left)
        try:
            data = sock.recv(65536)
        except TimeoutError:
            continue
        if not data:
            endpoint.receive_eof()
            continue
        pending += data
        while len(pending) >= 4:
            (n,) = struct.unpack_from("<I", pending)
            if len(pending) < 4 + n:
                break
            endpoint.receive_data(pending[4:4 + n])
            pending = pending[4 + n:]
    assert endpoint.result is not None
    return endpoint.result


def _tcp_pair() -> tuple[socket.socket, socket.socket]:
    with socket.create_server(("127.0.0.1", 0)) as server:
        client = socket.create_connection(server.getsockname())
        conn, _ = server.accept()
    return client, conn


def test_migration_over_loopback_tcp_with_u32_frames() -> None:
    blob = quote_blob()
    ra, rb = QuoteAttestation(blob), QuoteAttestation(blob)
    ia, ib = Info(), Info()
    req = Requester(attester=ra, verifier=ra, migration=ia)
    rsp = Responder(attester=rb, verifier=rb, migration=ib)
    src, dst = _tcp_pair()
    results: dict[str, MigrationResult] = {}
    t = threading.Thread(target=lambda: results.setdefault("dst", drive(rsp, dst, 30)))
    t.start()
    results["src"] = drive(req, src, 30)
    t.join(30)
    src.close()
    dst.close()
    assert results == {"src": MigrationResult.Success, "dst": MigrationResult.Success}
    assert ia.peer is not None and ia.peer.key == ib.key


def test_a_silent_peer_meets_the_deadline() -> None:
    ra = QuoteAttestation(quote_blob())
    req = Requester(attester=ra, verifier=ra, migration=Info())
    src, dst = _tcp_pair()
    start = time.monotonic()
    try:
        assert drive(req, src, 0.5) == MigrationResult.NetworkError
    finally:
        src.close()
        dst.close()
    assert 0.4 < time.monotonic() - start < 10
    assert req.failure is not None and req.failure.reason == "SPDM exchange timed out"
