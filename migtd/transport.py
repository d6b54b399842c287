"""The emulated VMM transport: ``u32 LE length ‖ payload`` frames over one TCP connection.

Wire rules (protocol.md §3): a send is split into frames of at most 65 524
bytes; a zero-length frame is never sent and is fatal when received; frame
boundaries mean nothing to the receiver (the payload is a byte stream). We
add one rule of our own: an inbound length above :data:`MAX_FRAME` is
refused before anything is allocated, so a hostile length cannot exhaust
memory.

The encoder (:func:`encode_frames`) and the length check are pure. The rest
is a thin layer of blocking sockets (the flow of one MigTD is strictly
sequential, so there is nothing for an event loop to do): every wait is
bounded by the current phase's :class:`Deadline`, which a peer cannot push
back by trickling bytes — each read gets only the time left in the phase,
not a fresh timeout.
"""

from __future__ import annotations

import errno
import socket
import struct
import time
from collections.abc import Callable

from migtd.errors import ConfigError, NetworkError

#: Largest frame a Rust MigTD sends: 16 pages minus the 12-byte GHCI header.
MAX_CHUNK = 0x10000 - 12
#: Largest inbound frame we accept (Rust accepts up to 4 GiB; nothing legitimate comes close).
MAX_FRAME = 16 * 1024 * 1024
_LEN = struct.Struct("<I")
#: First pause between connection attempts while the destination is not listening yet (doubles to 50 ms).
FIRST_RETRY = 0.001
MAX_RETRY = 0.05


class TransportTimeout(NetworkError):
    """A phase ran past its deadline (``--timeout``): always NetworkError (5), whatever the phase."""


def encode_frames(data: bytes) -> bytes:
    """Frame ``data`` for the wire; empty data produces no frame at all."""
    view = memoryview(data)
    out = bytearray()
    for start in range(0, len(view), MAX_CHUNK):
        piece = view[start:start + MAX_CHUNK]
        out += _LEN.pack(len(piece))
        out += piece
    return bytes(out)


def check_length(length: int) -> None:
    """Refuse a zero-length frame (§3.4) or one above :data:`MAX_FRAME`, before reading its payload."""
    if length == 0:
        raise NetworkError("peer sent a zero-length frame (not allowed by the transport)")
    if length > MAX_FRAME:
        raise NetworkError(f"peer announced a {length}-byte frame, above the {MAX_FRAME}-byte limit")


class Deadline:
    """The moment by which one protocol phase must be complete.

    Created when the phase starts; every wait inside the phase gets only what
    is left, so a peer sending one byte per second cannot extend the phase.
    """

    __slots__ = ("at", "phase", "received", "seconds")

    def __init__(self, phase: str, seconds: float) -> None:
        self.phase = phase
        self.seconds = seconds
        self.at = time.monotonic() + seconds
        #: Bytes received during the phase (tells a silent peer from a trickling one).
        self.received = 0

    def remaining(self) -> float:
        """Seconds left (never negative)."""
        return max(0.0, self.at - time.monotonic())

    def expired(self, waiting_for: str) -> TransportTimeout:
        """The error for a phase that ran out of time while ``waiting_for`` something."""
        what = (f"no data from the peer within {self.seconds:g} s" if self.received == 0
                else f"the peer sent only {self.received} bytes in {self.seconds:g} s")
        return TransportTimeout(f"{self.phase} did not complete in time: {what} (waiting for the {waiting_for})")

    def check(self, waiting_for: str) -> float:
        """The time left; :class:`TransportTimeout` when there is none."""
        left = self.remaining()
        if left <= 0:
            raise self.expired(waiting_for)
        return left


class FramedStream:
    """A connected peer: send byte strings as frames, receive payload bytes, under the phase deadline.

    :meth:`begin` starts a phase; until the first call every wait has
    ``timeout`` seconds from when the stream was made.
    """

    def __init__(self, sock: socket.socket, timeout: float) -> None:
        self._sock = sock
        self.timeout = timeout
        self.deadline = Deadline("the exchange", timeout)
        try:
            peer = sock.getpeername()
            self.peer = f"{peer[0]}:{peer[1]}"
        except (OSError, IndexError, TypeError):
            self.peer = "?"

    def begin(self, phase: str) -> Deadline:
        """Start ``phase``: from now it has ``timeout`` seconds, however the peer paces its bytes."""
        self.deadline = Deadline(phase, self.timeout)
        return self.deadline

    def send(self, data: bytes) -> None:
        """Write ``data`` as ≤ 65 524-byte frames (one ``sendall``), within the phase deadline."""
        if not data:
            return
        try:
            self._sock.settimeout(self.deadline.check("peer to accept our data"))
            self._sock.sendall(encode_frames(data))
        except TimeoutError:
            raise TransportTimeout(f"{self.deadline.phase} did not complete in time: the peer did not accept "
                                   f"data within {self.deadline.seconds:g} s") from None
        except OSError as exc:
            raise NetworkError(f"sending to the peer failed: {_oserror(exc)}") from None

    def recv(self) -> bytes:
        """The payload of the next frame (at least one byte)."""
        (length,) = _LEN.unpack(self._read_exactly(4, "length header"))
        check_length(length)
        return self._read_exactly(length, "data payload")

    def _read_exactly(self, n: int, what: str) -> bytes:
        buf = bytearray(n)
        view = memoryview(buf)
        got = 0
        while got < n:
            try:
                self._sock.settimeout(self.deadline.check(what))
                count = self._sock.recv_into(view[got:])
            except TimeoutError:
                raise self.deadline.expired(what) from None
            except OSError as exc:
                raise NetworkError(f"failed to read the {what}: {_oserror(exc)}") from None
            if count == 0:
                detail = "connection closed by the peer" if got == 0 else f"connection closed after {got} of {n} bytes"
                raise NetworkError(f"failed to read the {what}: {detail}")
            got += count
            self.deadline.received += count
        return bytes(buf)

    def close(self) -> None:
        """Close without any goodbye bytes, as MigTD does."""
        try:
            self._sock.close()
        except OSError:
            pass  # closing is best effort; the process is about to exit


def _oserror(exc: BaseException) -> str:
    if isinstance(exc, OSError) and exc.strerror:
        return exc.strerror
    return str(exc) or exc.__class__.__name__


def _nodelay(sock: socket.socket) -> socket.socket:
    """Frames are written whole; Nagle would only hold the last one back."""
    try:
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    except OSError:
        pass
    return sock


class Listener:
    """A bound listening socket for exactly one peer (upstream drops the listener after one accept)."""

    def __init__(self, ip: str, port: int) -> None:
        """Bind ``ip:port``; failure is a configuration error (exit 1, like upstream)."""
        self.ip = ip
        host = ip.strip("[]")
        try:
            family, kind, proto, _, address = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM,
                                                                  flags=socket.AI_PASSIVE)[0]
            sock = socket.socket(family, kind, proto)
        except OSError as exc:
            raise ConfigError(f"Failed to bind TCP listener on {ip}:{port}: {_oserror(exc)}") from None
        try:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            sock.bind(address)
            sock.listen(1)
        except OSError as exc:
            sock.close()
            reason = "address already in use" if exc.errno == errno.EADDRINUSE else _oserror(exc)
            raise ConfigError(f"Failed to bind TCP listener on {ip}:{port}: {reason}") from None
        self._sock = sock
        #: The real port, so `--dest-port 0` is usable.
        self.port: int = sock.getsockname()[1]

    def accept(self, timeout: float) -> FramedStream:
        """The first peer to connect within ``timeout`` seconds; then stop listening."""
        try:
            self._sock.settimeout(timeout)
            conn, _ = self._sock.accept()
        except TimeoutError:
            raise TransportTimeout(f"no source connected to {self.ip}:{self.port} within {timeout:g} s") from None
        except OSError as exc:
            raise NetworkError(f"accepting a connection on {self.ip}:{self.port} failed: {_oserror(exc)}") from None
        finally:
            self.close()
        return FramedStream(_nodelay(conn), timeout)

    def close(self) -> None:
        """Stop listening (later connection attempts are refused)."""
        self._sock.close()


def listen_once(ip: str, port: int, timeout: float,
                on_listening: Callable[[str, int], None] | None = None) -> FramedStream:
    """Bind ``ip:port``, accept exactly one connection, stop listening.

    ``on_listening(host, port)`` is called once the port is bound.
    """
    listener = Listener(ip, port)
    if on_listening is not None:
        on_listening(ip, listener.port)
    return listener.accept(timeout)


def connect(ip: str, port: int, timeout: float) -> FramedStream:
    """Connect to the destination, retrying refused attempts until ``timeout``.

    Upstream tries once; retrying is wire-compatible and lets both sides be
    started together. The pause between attempts starts at 1 ms (the
    destination usually binds within milliseconds) and doubles up to 50 ms.
    Still refused at the deadline: exit 1 like upstream.
    """
    deadline = time.monotonic() + timeout
    host = ip.strip("[]")
    last = "timed out"
    pause = FIRST_RETRY
    while True:
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            break
        try:
            sock = socket.create_connection((host, port), timeout=remaining)
            return FramedStream(_nodelay(sock), timeout)
        except TimeoutError:
            last = "timed out"
            break
        except OSError as exc:
            last = _oserror(exc)
            if exc.errno not in (errno.ECONNREFUSED, errno.ECONNRESET, errno.ECONNABORTED,
                                 errno.EHOSTUNREACH, errno.ENETUNREACH, errno.ETIMEDOUT, None):
                break  # name resolution and the like will not fix themselves
        time.sleep(min(pause, max(0.0, deadline - time.monotonic())))
        pause = min(pause * 2, MAX_RETRY)
    raise ConfigError(f"Failed to connect to destination server at {ip}:{port}: {last}")
