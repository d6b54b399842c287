"""The policy-v2 pre-session exchange as a state machine (protocol.md §4.2).

Both sides run the same sequence, sending without waiting for the peer:
HELLO (header then payload), the peer's HELLO checked, PRE_SESSION_DATA
(header then the ``len ‖ policy ‖ len ‖ issuer chain`` blob), the peer's
blob received, START_SESSION, the peer's START_SESSION checked. Each element
we send is one write (one frame, or more above 65 524 bytes), exactly as
upstream writes them.

:class:`PreSession` is fed with :meth:`~PreSession.receive_data` (any
chunking: frame boundaries mean nothing) and answers with
:meth:`~PreSession.next_event`; :meth:`~PreSession.writes` hands over what
to send. Bytes that follow the peer's START_SESSION belong to the TLS
session and are kept in :attr:`~PreSession.trailing_data`. Any violation is
InvalidParameter (1), as upstream maps it.
"""

from __future__ import annotations

import struct
from typing import NamedTuple

from migtd.errors import MigtdError
from migtd.result import MigrationResult

#: The only pre-session version there is (HEAD).
VERSION = 0x0100
HELLO_HEADER = bytes.fromhex("FF00000008000000")
HELLO = b"MGTD" + struct.pack("<HH", VERSION, VERSION)
START_SESSION = bytes.fromhex("0200000000000000")
TYPE_DATA, TYPE_START, TYPE_HELLO = 0x01, 0x02, 0xFF
_HEADER = struct.Struct("<BxxxI")

#: Largest pre-session blob accepted: a 1 MiB policy, an 8 KiB issuer chain and two lengths
#: (the file limits of protocol.md §1.4), so a hostile length cannot make us buffer gigabytes.
MAX_PEER_BLOB = 1024 * 1024 + 8192 + 8


class NeedData(NamedTuple):
    """Nothing more can be decided until more bytes arrive."""


class PeerHello(NamedTuple):
    """The peer's HELLO was accepted; ``version`` is the negotiated one (always 0x0100)."""

    version: int


class PeerData(NamedTuple):
    """The peer's pre-session blob (its policy and issuer chain), checked for shape."""

    blob: bytes


class SessionStart(NamedTuple):
    """The peer's START_SESSION arrived: the exchange is over, TLS begins."""


Event = NeedData | PeerHello | PeerData | SessionStart
NEED_DATA = NeedData()


def _fail(problem: str) -> MigtdError:
    return MigtdError(f"pre-session: {problem}", MigrationResult.InvalidParameter)


def build_blob(policy: bytes, issuer_chain: bytes) -> bytes:
    """``len ‖ policy ‖ len ‖ issuer chain`` (u32 LE lengths)."""
    return struct.pack("<I", len(policy)) + policy + struct.pack("<I", len(issuer_chain)) + issuer_chain


def parse_blob(blob: bytes) -> tuple[bytes, bytes]:
    """The two parts of a peer blob: exact length, both non-empty; else InvalidParameter."""
    parts = []
    offset = 0
    for name in ("policy", "issuer chain"):
        if len(blob) - offset < 4:
            raise _fail(f"peer data runs past the end (no length of its {name})")
        (size,) = struct.unpack_from("<I", blob, offset)
        offset += 4
        if size > len(blob) - offset:
            raise _fail(f"peer data runs past the end ({name} of {size} bytes)")
        parts.append(blob[offset:offset + size])
        offset += size
    if offset != len(blob):
        raise _fail(f"peer data has {len(blob) - offset} trailing bytes")
    policy, chain = parts
    if not policy or not chain:
        raise _fail(f"peer data has an empty {'policy' if not policy else 'issuer chain'}")
    return policy, chain


class PreSession:
    """One side of the exchange; ``blob`` is our own :func:`build_blob`."""

    def __init__(self, blob: bytes) -> None:
        self._blob = blob
        self._buf = bytearray()
        self._state = "hello"
        self._writes: list[bytes] = [HELLO_HEADER, HELLO]
        self._body_len: int | None = None
        self.peer_blob: bytes | None = None

    @property
    def done(self) -> bool:
        """True once the peer's START_SESSION was received."""
        return self._state == "done"

    def writes(self) -> list[bytes]:
        """What to send now, one element per write; empties the queue."""
        out, self._writes = self._writes, []
        return out

    def receive_data(self, data: bytes) -> None:
        """Bytes from the peer, in any chunking."""
        self._buf += data

    @property
    def trailing_data(self) -> bytes:
        """Bytes received after the peer's START_SESSION (the start of its TLS data)."""
        return bytes(self._buf) if self.done else b""

    def _take(self, n: int) -> bytes | None:
        if len(self._buf) < n:
            return None
        out = bytes(self._buf[:n])
        del self._buf[:n]
        return out

    def next_event(self) -> Event:
        """The next thing that happened, or :data:`NEED_DATA`; raises on a protocol violation."""
        if self._state == "hello":
            if self._body_len is None:
                head = self._take(8)
                if head is None:
                    return NEED_DATA
                kind, length = _HEADER.unpack(head)
                if kind != TYPE_HELLO or length != 8:
                    raise _fail("expected a HELLO header")
                self._body_len = 8
            hello = self._take(8)
            if hello is None:
                return NEED_DATA
            peer_lo, peer_hi = struct.unpack_from("<HH", hello, 4)
            if hello[:4] != b"MGTD" or max(VERSION, peer_lo) > min(VERSION, peer_hi):
                raise _fail("bad HELLO magic or no common version")
            self._state, self._body_len = "data", None
            self._writes += [_HEADER.pack(TYPE_DATA, len(self._blob)), self._blob]
            return PeerHello(VERSION)
        if self._state == "data":
            if self._body_len is None:
                head = self._take(8)
                if head is None:
                    return NEED_DATA
                kind, length = _HEADER.unpack(head)
                if kind != TYPE_DATA:
                    raise _fail("expected PRE_SESSION_DATA")
                if length > MAX_PEER_BLOB:
                    raise _fail(f"peer data of {length} bytes exceeds the {MAX_PEER_BLOB}-byte limit")
                self._body_len = length
            blob = self._take(self._body_len)
            if blob is None:
                return NEED_DATA
            parse_blob(blob)
            self.peer_blob = blob
            self._state, self._body_len = "start", None
            self._writes.append(START_SESSION)
            return PeerData(blob)
        if self._state == "start":
            head = self._take(8)
            if head is None:
                return NEED_DATA
            kind, length = _HEADER.unpack(head)
            if kind != TYPE_START or length != 0:
                raise _fail("expected START_SESSION")
            self._state = "done"
            return SessionStart()
        raise _fail("the exchange is already over")
