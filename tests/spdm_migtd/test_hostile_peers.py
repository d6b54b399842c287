"""Hostile SPDM peers against a real ``migtd --key-exchange spdm``: the failure table of spdm.md §6.4.

The peer is this project's own SPDM stack on a plain loopback socket, run in
the test, with one transport write tampered, dropped, replayed, trickled or
never sent. Each case ends the real ``migtd`` with the code of the table (or,
where upstream reports Success although nothing was written, with the
failure's code: README "Differences"), one ``exit`` reason line, and no
traceback. ``--timeout`` is 1 s where the case is a deadline.
"""

from __future__ import annotations

import socket
import struct
import time
from collections.abc import Callable

import pytest

from migtd.result import MigrationResult as R
from migtd.spdm import NullAttestation, Requester, Responder
from migtd.spdm.codec import encode
from migtd.spdm.messages import ErrorResponse, GetVersion, Version

from .conftest import AZ_QUOTE

Tamper = Callable[[bytes], bytes | None]
#: Generous bound for a 1-second phase on a loaded 2-core machine (process start-up included).
BOUND = 10.0


class Keys:
    """A MigrationInfoExchange for the scripted peer: a random MSK, versions 0-0."""

    def __init__(self) -> None:
        import os

        self.key = os.urandom(32)

    def local_info(self):  # type: ignore[no-untyped-def]
        from migtd.spdm import MigrationInfo

        return MigrationInfo(self.key, 0, 0)

    def accept_peer_info(self, peer) -> None:  # type: ignore[no-untyped-def]
        pass


def frame(payload: bytes) -> bytes:
    return struct.pack("<I", len(payload)) + payload


def code(write: bytes) -> int:
    """The SPDM RequestResponseCode of a plain transport write (-1 for a secured record)."""
    return write[13] if write[6] == 1 else -1


def run_peer(sock: socket.socket, endpoint: Requester | Responder, tamper: Tamper | None = None,
             trickle: Callable[[bytes], bool] | None = None, timeout: float = 20) -> None:
    """Drive ``endpoint`` over ``sock`` (u32 frames), tampering with writes; stop when it is done or cut off."""
    deadline = time.monotonic() + timeout
    pending = b""
    if isinstance(endpoint, Requester):
        endpoint.start()
    while time.monotonic() < deadline:
        for write in endpoint.data_to_send():
            if trickle is not None and trickle(write):
                for byte in frame(write):          # one byte every 100 ms until migtd gives up
                    try:
                        sock.sendall(bytes([byte]))
                    except OSError:
                        return
                    time.sleep(0.1)
                return
            data = tamper(write) if tamper else write
            if data is None:
                continue
            try:
                sock.sendall(frame(data))
            except OSError:
                return
        if endpoint.done:
            return
        sock.settimeout(max(0.01, deadline - time.monotonic()))
        try:
            chunk = sock.recv(65536)
        except (TimeoutError, OSError):
            return
        if not chunk:
            endpoint.receive_eof()
            return
        pending += chunk
        while len(pending) >= 4 and len(pending) >= 4 + struct.unpack_from("<I", pending)[0]:
            n = struct.unpack_from("<I", pending)[0]
            endpoint.receive_data(pending[4:4 + n])
            pending = pending[4 + n:]


def requester(evidence: bytes = bytes(822)) -> Requester:
    att = NullAttestation(evidence=evidence)
    return Requester(attester=att, verifier=att, migration=Keys())


def responder(evidence: bytes = bytes(822)) -> Responder:
    att = NullAttestation(evidence=evidence)
    return Responder(attester=att, verifier=att, migration=Keys())


def flip_last(write: bytes) -> bytes:
    return write[:-1] + bytes([write[-1] ^ 1])


def first(pred: Callable[[bytes], bool], change: Callable[[bytes], bytes | None]) -> Tamper:
    """Apply ``change`` to the first write matching ``pred``."""
    done = []

    def tamper(write: bytes) -> bytes | None:
        if not done and pred(write):
            done.append(True)
            return change(write)
        return write
    return tamper


@pytest.fixture
def env(cases):  # type: ignore[no-untyped-def]
    return dict(cases("skip-ra", 1).env, MIGTD_TIMEOUT="10")


@pytest.fixture
def destination(procs, env, port, connect_to):  # type: ignore[no-untyped-def]
    """``attack(peer, tamper=..., timeout=...)``: a real destination, attacked by a scripted requester."""
    def attack(peer=None, tamper=None, trickle=None, timeout: str = "10", before=None):  # type: ignore[no-untyped-def]
        proc = procs.start(["-m", "dst", "-t", str(port)], dict(env, MIGTD_TIMEOUT=timeout))
        sock = connect_to(port)
        start = time.monotonic()
        if before is not None:
            before(sock)
        if peer is not None:
            run_peer(sock, peer, tamper, trickle)
            sock.close()  # a peer that is done goes away, as a MigTD process does
        done = procs.finish(proc, timeout=60)
        elapsed = time.monotonic() - start
        sock.close()
        done.clean()
        return done, elapsed
    return attack


@pytest.fixture
def source(procs, env, listener):  # type: ignore[no-untyped-def]
    """``attack(peer, tamper=...)``: a real source, attacked by a scripted responder."""
    def attack(peer=None, tamper=None, timeout: str = "10"):  # type: ignore[no-untyped-def]
        server, port = listener()
        proc = procs.start(["-m", "src", "-t", str(port)], dict(env, MIGTD_TIMEOUT=timeout))
        conn, _ = server.accept()
        start = time.monotonic()
        if peer is not None:
            run_peer(conn, peer, tamper)
            conn.close()
        done = procs.finish(proc, timeout=60)
        elapsed = time.monotonic() - start
        conn.close()
        done.clean()
        return done, elapsed
    return attack


# ------------------------------------------------------------------ against a real destination (responder)

def test_wrong_version_to_the_destination(destination) -> None:  # type: ignore[no-untyped-def]
    """GET_VERSION with a 1.1 header: ERROR VersionMismatch, the destination waits, the peer leaves → 6."""
    peer = requester()
    done, _ = destination(peer, tamper=first(lambda w: code(w) == 0x84, lambda w: w[:12] + b"\x11" + w[13:]))
    assert done.code == R.SecureSessionError
    assert peer.failure is not None and "VersionMismatch" in peer.failure.reason
    assert done.reason == ("SPDM transport failed in the negotiation phase: failed to read the length header: "
                           "connection closed by the peer")


@pytest.mark.parametrize("where, what", [(-1, "HMAC"), (60, "signature")])
def test_bad_finish_ends_the_destination_with_6_not_0(destination, where: int, what: str) -> None:  # type: ignore[no-untyped-def]
    """FINISH with a bad RequesterVerifyData or signature: DecryptError; upstream's D reports 0, ours 6."""
    peer = requester()
    done, _ = destination(peer, tamper=first(lambda w: code(w) == 0xE5,
                                             lambda w: w[:where] + bytes([w[where] ^ 1]) + w[where + 1:]
                                             if where >= 0 else flip_last(w)))
    assert done.code == R.SecureSessionError
    assert done.event("spdm_failed")["phase"] == "finish"
    assert "FINISH" in done.reason and ("does not verify" in done.reason or "signature" in done.reason)
    assert peer.result == R.SecureSessionError and "DecryptError" in peer.failure.reason
    assert not done.all("msk_exchanged")


def test_corrupted_secured_record_to_the_destination(destination) -> None:  # type: ignore[no-untyped-def]
    peer = requester()
    done, _ = destination(peer, tamper=first(lambda w: w[6] == 2, lambda w: w[:40] + bytes([w[40] ^ 0x80]) + w[41:]))
    assert done.code == R.SecureSessionError
    assert done.event("spdm_failed")["phase"] == "secured_exchange"
    assert not done.all("msk_exchanged")


def test_replayed_sequence_number_to_the_destination(destination) -> None:  # type: ignore[no-untyped-def]
    """END_SESSION replaced by a replay of the MSK record (sequence number 0 again) → 6, no ACK."""
    seen: list[bytes] = []

    def replay(write: bytes) -> bytes:
        if write[6] != 2:
            return write
        seen.append(write)
        return seen[0]

    peer = requester()
    done, _ = destination(peer, tamper=replay)
    assert done.code == R.SecureSessionError
    assert "secured record replayed: sequence 0, expected 1" in done.reason
    assert len(seen) == 2 and peer.result != R.Success


@pytest.mark.parametrize("case", ["truncated", "oversized"])
def test_bad_chunk_to_the_destination(destination, case: str) -> None:  # type: ignore[no-untyped-def]
    """A CHUNK_SEND that says more than it carries, or one above the 4016 bytes of chunk 0: ERROR, then 6."""
    peer = requester(AZ_QUOTE.read_bytes())  # 5006 bytes: the attestation request is chunked

    def bad(write: bytes) -> bytes:
        body = bytearray(write[12:])
        if case == "truncated":
            struct.pack_into("<I", body, 8, struct.unpack_from("<I", body, 8)[0] + 100)   # ChunkSize
        else:
            struct.pack_into("<I", body, 8, 4017)
            body += bytes(1)
        return write[:8] + struct.pack("<I", len(body)) + bytes(body)

    done, _ = destination(peer, tamper=first(lambda w: code(w) == 0x85, bad))
    assert done.code == R.SecureSessionError
    assert done.event("spdm_failed")["phase"] == "attestation"
    assert "CHUNK_SEND" in done.reason
    assert peer.failure is not None and "InvalidRequest" in peer.failure.reason


def test_oversized_transport_length_to_the_destination(destination) -> None:  # type: ignore[no-untyped-def]
    """A VmCall header announcing more than 4084 bytes is refused before its body is read."""
    def before(sock: socket.socket) -> None:
        sock.sendall(frame(struct.pack("<IHBBI", 0x4D445053, 0x0100, 1, 0, 5000)))

    done, _ = destination(before=before)
    assert done.code == R.SecureSessionError
    assert "4084" in done.reason


def test_silence_past_the_timeout(destination) -> None:  # type: ignore[no-untyped-def]
    done, elapsed = destination(timeout="1", before=lambda sock: time.sleep(0))
    assert done.code == R.NetworkError
    assert done.reason.startswith("the SPDM handshake and peer verification did not complete in time: "
                                  "no data from the peer within 1 s")
    assert "SPDM phase: negotiation" in done.reason
    assert elapsed < BOUND


def test_trickled_get_version(destination) -> None:  # type: ignore[no-untyped-def]
    """GET_VERSION (20 bytes with its frame) one byte every 100 ms: the handshake phase ends at 1 s."""
    peer = requester()
    done, elapsed = destination(peer, trickle=lambda w: code(w) == 0x84, timeout="1")
    assert done.code == R.NetworkError
    assert "the SPDM handshake and peer verification did not complete in time: the peer sent only" in done.reason
    assert elapsed < BOUND


def test_trickle_in_the_secured_exchange(destination) -> None:  # type: ignore[no-untyped-def]
    """A good handshake, then the MSK record a byte at a time: the key-exchange phase has its own 1 s."""
    peer = requester()
    done, elapsed = destination(peer, trickle=lambda w: w[6] == 2, timeout="1")
    assert done.code == R.NetworkError
    assert "the SPDM key exchange did not complete in time: the peer sent only" in done.reason
    assert "SPDM phase: secured_exchange" in done.reason
    assert done.all("spdm_finished") and not done.all("msk_exchanged")
    assert elapsed < BOUND


# ------------------------------------------------------------------ against a real source (requester)

def test_wrong_version_to_the_source(source) -> None:  # type: ignore[no-untyped-def]
    """VERSION listing only 1.1: the source cannot negotiate → 6."""
    peer = responder()
    done, _ = source(peer, tamper=first(lambda w: code(w) == 0x04,
                                        lambda w: w[:12] + encode(Version(entries=(0x1100,)))))
    assert done.code == R.SecureSessionError
    assert done.event("spdm_failed")["phase"] == "negotiation"


def test_bad_key_exchange_signature_to_the_source(source) -> None:  # type: ignore[no-untyped-def]
    peer = responder()
    done, _ = source(peer, tamper=first(lambda w: code(w) == 0x64, flip_last))
    assert done.code == R.SecureSessionError
    assert "KEY_EXCHANGE_RSP" in done.reason and done.event("spdm_failed")["phase"] == "key_exchange"
    assert not done.all("quote_generated")


def test_bad_finish_rsp_hmac_to_the_source(source) -> None:  # type: ignore[no-untyped-def]
    peer = responder()
    done, _ = source(peer, tamper=first(lambda w: code(w) == 0x65, flip_last))
    assert done.code == R.SecureSessionError
    assert "ResponderVerifyData" in done.reason


def test_corrupted_secured_record_to_the_source(source) -> None:  # type: ignore[no-untyped-def]
    peer = responder()
    done, _ = source(peer, tamper=first(lambda w: w[6] == 2, flip_last))
    assert done.code == R.SecureSessionError
    assert done.event("spdm_failed")["phase"] == "secured_exchange" and not done.all("msk_exchanged")


def test_oversized_chunk_response_to_the_source(source) -> None:  # type: ignore[no-untyped-def]
    """The destination's answer is large (5006-byte quote); its first CHUNK_RESPONSE is above the DataTransferSize."""
    peer = responder(AZ_QUOTE.read_bytes())
    done, _ = source(peer, tamper=first(lambda w: code(w) == 0x06, lambda w: w + bytes(100)))
    assert done.code == R.SecureSessionError
    assert done.event("spdm_failed")["phase"] == "attestation"


def test_silent_destination(source) -> None:  # type: ignore[no-untyped-def]
    done, elapsed = source(timeout="1")
    assert done.code == R.NetworkError
    assert "the SPDM handshake and peer verification did not complete in time" in done.reason
    assert elapsed < BOUND


@pytest.mark.parametrize("data, expected", [(0, R.SecureSessionError), (8, R.PolicyUnsatisfiedError),
                                            (200, R.SecureSessionError)])
def test_vendor_defined_error_from_the_destination(source, data: int, expected: R) -> None:  # type: ignore[no-untyped-def]
    """ERROR 0xFF/n instead of the attestation answer: n is the code, but 0 (upstream: Success) is 6."""
    peer = responder()
    error = encode(ErrorResponse(0xFF, data, b"", 0x12))
    done, _ = source(peer, tamper=first(lambda w: code(w) == 0x7E and w[12 + 15] == 0x04,
                                        lambda w: w[:8] + struct.pack("<I", len(error)) + error))
    assert done.code == expected
    assert done.code != 0 and not done.all("msk_exchanged")
    if data == 8:
        assert "the peer refused with PolicyUnsatisfiedError (8; SPDM ERROR VendorDefined)" in done.reason


def test_plain_get_version_is_what_a_source_sends_first(source) -> None:  # type: ignore[no-untyped-def]
    """Sanity of the harness: a well-behaved scripted destination lets the real source succeed."""
    peer = responder()
    done, _ = source(peer)
    assert done.code == 0 and peer.result == R.Success
    assert encode(GetVersion()) == b"\x10\x84\x00\x00"
