"""The emulated VMM transport: ``u32 LE length ‖ payload`` frames over one TCP connection.

Wire rules (protocol.md §3): a send is split into frames of at most 65 524
bytes; a zero-length frame is never sent and is fatal when received; frame
boundaries mean nothing to the receiver (the payload is a byte stream). We
add one rule of our own: an inbound length above :data:`MAX_FRAME` is
refused before anything is allocated, so a hostile length cannot exhaust
memory.

The encoder (:func:`encode_frames`) and the length check are pure; the
asyncio half (:class:`FramedStream`, :func:`listen_once`, :func:`connect`)
only moves bytes and puts a timeout on every wait.
"""

from __future__ import annotations

import asyncio
import errno
import struct
import time
from collections.abc import Callable

from migtd.errors import ConfigError, NetworkError

#: Largest frame a Rust MigTD sends: 16 pages minus the 12-byte GHCI header.
MAX_CHUNK = 0x10000 - 12
#: Largest inbound frame we accept (Rust accepts up to 4 GiB; nothing legitimate comes close).
MAX_FRAME = 16 * 1024 * 1024
_LEN = struct.Struct("<I")


class TransportTimeout(NetworkError):
    """A network wait ran past ``--timeout``: always NetworkError (5), whatever the phase."""


def encode_frames(data: bytes) -> bytes:
    """Frame ``data`` for the wire; empty data produces no frame at all."""
    view = memoryview(data)
    out = bytearray()
    for start in range(0, len(view), MAX_CHUNK):
        piece = view[start:start + MAX_CHUNK]
        out += _LEN.pack(len(piece))
        out += piece
    return bytes(out)


def _check_length(length: int) -> None:
    """Refuse a zero-length frame (§3.4) or one above :data:`MAX_FRAME`, before reading its payload."""
    if length == 0:
        raise NetworkError("peer sent a zero-length frame (not allowed by the transport)")
    if length > MAX_FRAME:
        raise NetworkError(f"peer announced a {length}-byte frame, above the {MAX_FRAME}-byte limit")


class FramedStream:
    """A connected peer: send byte strings as frames, receive payload bytes.

    Every receive waits at most ``timeout`` seconds and raises
    :class:`NetworkError` on timeout, EOF or a socket error.
    """

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter, timeout: float) -> None:
        self._reader = reader
        self._writer = writer
        self.timeout = timeout
        peer = writer.get_extra_info("peername")
        self.peer = f"{peer[0]}:{peer[1]}" if peer else "?"

    async def send(self, data: bytes) -> None:
        """Write ``data`` as ≤ 65 524-byte frames and wait until the kernel took it."""
        if not data:
            return
        try:
            self._writer.write(encode_frames(data))
            await asyncio.wait_for(self._writer.drain(), self.timeout)
        except TimeoutError:
            raise TransportTimeout(f"peer did not accept data within {self.timeout:g} s") from None
        except (ConnectionError, OSError) as exc:
            raise NetworkError(f"sending to the peer failed: {_oserror(exc)}") from None

    async def recv(self) -> bytes:
        """The payload of the next frame (at least one byte)."""
        header = await self._read_exactly(4, "length header")
        (length,) = _LEN.unpack(header)
        _check_length(length)
        return await self._read_exactly(length, "data payload")

    async def _read_exactly(self, n: int, what: str) -> bytes:
        try:
            return await asyncio.wait_for(self._reader.readexactly(n), self.timeout)
        except TimeoutError:
            raise TransportTimeout(f"no data from the peer within {self.timeout:g} s "
                               f"(waiting for the {what})") from None
        except asyncio.IncompleteReadError as exc:
            got = len(exc.partial)
            detail = "connection closed by the peer" if got == 0 else f"connection closed after {got} of {n} bytes"
            raise NetworkError(f"failed to read the {what}: {detail}") from None
        except (ConnectionError, OSError) as exc:
            raise NetworkError(f"failed to read the {what}: {_oserror(exc)}") from None

    async def close(self) -> None:
        """Close without any goodbye bytes, as MigTD does (no FIN handshake wait)."""
        self._writer.close()
        try:
            await asyncio.wait_for(self._writer.wait_closed(), 1.0)
        except (TimeoutError, ConnectionError, OSError):
            pass  # closing is best effort; the process is about to exit


def _oserror(exc: BaseException) -> str:
    if isinstance(exc, OSError) and exc.strerror:
        return exc.strerror
    return str(exc) or exc.__class__.__name__


async def listen_once(ip: str, port: int, timeout: float,
                      on_listening: Callable[[str, int], None] | None = None) -> FramedStream:
    """Bind ``ip:port``, accept exactly one connection, stop listening.

    Bind failures are configuration errors (exit 1, like upstream); no
    connection within ``timeout`` is a :class:`NetworkError`.
    ``on_listening(host, port)`` is called once the port is bound.
    """
    loop = asyncio.get_running_loop()
    accepted: asyncio.Future[tuple[asyncio.StreamReader, asyncio.StreamWriter]] = loop.create_future()

    def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        if accepted.done():
            writer.close()  # only one peer per run
        else:
            accepted.set_result((reader, writer))

    try:
        server = await asyncio.start_server(handle, host=ip.strip("[]"), port=port, backlog=1,
                                            reuse_address=True)
    except OSError as exc:
        reason = "address already in use" if exc.errno == errno.EADDRINUSE else _oserror(exc)
        raise ConfigError(f"Failed to bind TCP listener on {ip}:{port}: {reason}") from None
    try:
        if on_listening is not None:
            bound = server.sockets[0].getsockname()[1] if server.sockets else port
            on_listening(ip, bound)  # the real port, so `--dest-port 0` is usable
        try:
            reader, writer = await asyncio.wait_for(accepted, timeout)
        except TimeoutError:
            raise TransportTimeout(f"no source connected to {ip}:{port} within {timeout:g} s") from None
    finally:
        server.close()
    return FramedStream(reader, writer, timeout)


async def connect(ip: str, port: int, timeout: float, retry_interval: float = 0.02) -> FramedStream:
    """Connect to the destination, retrying refused attempts until ``timeout``.

    Upstream tries once; retrying is wire-compatible and lets both sides be
    started together. Still refused at the deadline: exit 1 like upstream.
    """
    deadline = time.monotonic() + timeout
    host = ip.strip("[]")
    last = "timed out"
    while True:
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            break
        try:
            reader, writer = await asyncio.wait_for(asyncio.open_connection(host, port), remaining)
            return FramedStream(reader, writer, timeout)
        except TimeoutError:
            last = "timed out"
            break
        except OSError as exc:
            last = _oserror(exc)
            if exc.errno not in (errno.ECONNREFUSED, errno.ECONNRESET, errno.ECONNABORTED,
                                 errno.EHOSTUNREACH, errno.ENETUNREACH, errno.ETIMEDOUT, None):
                break  # name resolution and the like will not fix themselves
        await asyncio.sleep(min(retry_interval, max(0.0, deadline - time.monotonic())))
    raise ConfigError(f"Failed to connect to destination server at {ip}:{port}: {last}")
