"""A TCP relay between a ``migtd`` source and destination that records the conversation or cuts it.

The source connects to the relay, the relay connects to the destination and
forwards bytes both ways from one thread. It counts the bytes of each
direction (``"s2d"``: source to destination, ``"d2s"``: the other way). With
a cut ``(direction, k)`` it forwards exactly the first ``k`` bytes of that
direction, then calls ``on_cut(direction)`` (the test SIGKILLs the sender of
that direction there) and closes both connections: the receiver — the
survivor — has seen exactly ``k`` bytes of its peer's stream, whatever the
timing. Without a cut it records both streams to the end, so a test can lay
out the frames of a whole conversation and choose where to cut.
"""

from __future__ import annotations

import selectors
import socket
import struct
import threading
import time
from collections.abc import Callable

DIRECTIONS = ("s2d", "d2s")


class Relay:
    """One relayed connection (source → relay → destination on ``target_port``)."""

    def __init__(self, target_port: int, cut: tuple[str, int] | None = None,
                 on_cut: Callable[[str], None] | None = None, connect_timeout: float = 15.0) -> None:
        self.target_port = target_port
        self.cut = cut
        self.on_cut = on_cut
        self.connect_timeout = connect_timeout
        self.streams = {d: bytearray() for d in DIRECTIONS}
        self.cut_at: float | None = None  # time.monotonic() of the cut
        self.error: BaseException | None = None
        self._server = socket.socket()
        self._server.bind(("127.0.0.1", 0))
        self._server.listen(1)
        self._server.settimeout(connect_timeout)
        self.port: int = self._server.getsockname()[1]
        self._thread = threading.Thread(target=self._run, daemon=True, name=f"relay-{self.port}")
        self._thread.start()

    def join(self, timeout: float = 30) -> None:
        """Wait for the relay to finish; re-raise anything that went wrong in its thread."""
        self._thread.join(timeout)
        assert not self._thread.is_alive(), "relay still running"
        if self.error is not None:
            raise self.error

    # ------------------------------------------------------------------ thread
    def _run(self) -> None:
        try:
            src, _ = self._server.accept()
        except BaseException as exc:  # noqa: BLE001 - reported by join()
            self.error = exc
            self._server.close()
            return
        self._server.close()
        try:
            dst = self._connect()
            try:
                self._pump(src, dst)
            finally:
                dst.close()
        except BaseException as exc:  # noqa: BLE001 - reported by join()
            self.error = exc
        finally:
            src.close()

    def _connect(self) -> socket.socket:
        deadline = time.monotonic() + self.connect_timeout
        while True:
            try:
                return socket.create_connection(("127.0.0.1", self.target_port), timeout=2)
            except OSError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.01)

    def _pump(self, src: socket.socket, dst: socket.socket) -> None:
        sel = selectors.DefaultSelector()
        peers = {src: (dst, "s2d"), dst: (src, "d2s")}
        for sock in peers:
            sock.setblocking(True)
            sock.settimeout(30)
            sel.register(sock, selectors.EVENT_READ)
        open_reads = 2
        try:
            while open_reads:
                for key, _ in sel.select(timeout=60):
                    ready = key.fileobj
                    assert isinstance(ready, socket.socket)
                    other, direction = peers[ready]
                    try:
                        chunk = ready.recv(65536)
                    except OSError:
                        chunk = b""
                    if not chunk:  # one side finished: pass the end on, keep the other way open
                        sel.unregister(ready)
                        open_reads -= 1
                        try:
                            other.shutdown(socket.SHUT_WR)
                        except OSError:
                            pass
                        continue
                    if self._forward(other, direction, chunk):
                        return
        finally:
            sel.close()

    def _forward(self, other: socket.socket, direction: str, chunk: bytes) -> bool:
        """Forward ``chunk``; True when the cut happened (the caller closes both sockets)."""
        stream = self.streams[direction]
        if self.cut is not None and self.cut[0] == direction and len(stream) + len(chunk) > self.cut[1]:
            keep = chunk[:self.cut[1] - len(stream)]
            if keep:
                other.sendall(keep)
                stream += keep
            self.cut_at = time.monotonic()
            if self.on_cut is not None:
                self.on_cut(direction)
            return True
        try:
            other.sendall(chunk)
        except OSError:
            pass  # the receiver went away; its own exit says why
        stream += chunk
        return False


def frames(stream: bytes) -> list[tuple[int, int, bytes]]:
    """The transport frames of one direction: (start offset, end offset, payload); u32-LE length prefixes."""
    out = []
    at = 0
    while at + 4 <= len(stream):
        (n,) = struct.unpack_from("<I", stream, at)
        out.append((at, at + 4 + n, bytes(stream[at + 4:at + 4 + n])))
        at += 4 + n
    assert at == len(stream), "the stream does not end on a frame boundary"
    return out


def is_tls_record(payload: bytes) -> bool:
    """A frame that starts a TLS record (content type 20–23, legacy version 3.1 or 3.3)."""
    return len(payload) >= 5 and payload[0] in (20, 21, 22, 23) and payload[1:3] in (b"\x03\x01", b"\x03\x03")
