"""ExchangeInformation and migration-version negotiation (protocol.md §4.4–4.5).

Each side sends one 40-byte record inside the secure session: ``key[32] ‖
min_ver u16 ‖ max_ver u16 ‖ reserved[4] = 0``. The receiver rejects non-zero
reserved bytes (InvalidParameter), then both sides compute the same version
from the source's export range and the destination's import range.
:func:`agree` is the whole step once the peer's 40 bytes are in. Pure
functions only; the record travels in TLS today and in an SPDM secured
message later, unchanged.
"""

from __future__ import annotations

import hashlib
import struct
from typing import NamedTuple

from migtd.errors import MigtdError
from migtd.result import MigrationResult

EXCHANGE_INFO = struct.Struct("<32sHH4s")
EXCHANGE_INFO_SIZE = EXCHANGE_INFO.size  # 40


class ExchangeInformation(NamedTuple):
    """One side's record: its migration key and its version range (export or import)."""

    key: bytes
    min_ver: int
    max_ver: int

    def __repr__(self) -> str:  # never print the key, even in a traceback
        return f"ExchangeInformation(key=<{len(self.key)} bytes>, min_ver={self.min_ver}, max_ver={self.max_ver})"

    def encode(self) -> bytes:
        """The 40 wire bytes; a local version that does not fit in u16 is InvalidParameter."""
        if len(self.key) != 32:
            raise ValueError("the MSK is 32 bytes")
        for v in (self.min_ver, self.max_ver):
            if not 0 <= v <= 0xFFFF:
                raise MigtdError(f"local migration version {v} does not fit in 16 bits",
                                 MigrationResult.InvalidParameter)
        return EXCHANGE_INFO.pack(self.key, self.min_ver, self.max_ver, bytes(4))

    @classmethod
    def decode(cls, data: bytes) -> ExchangeInformation:
        """Parse the peer's 40 bytes: a short record is NetworkError, non-zero reserved InvalidParameter."""
        if len(data) != EXCHANGE_INFO_SIZE:
            raise MigtdError(f"ExchangeInformation is {len(data)} bytes, expected 40",
                             MigrationResult.NetworkError)
        key, lo, hi, reserved = EXCHANGE_INFO.unpack(data)
        if any(reserved):
            raise MigtdError("peer ExchangeInformation has non-zero reserved bytes",
                             MigrationResult.InvalidParameter)
        return cls(key, lo, hi)


def negotiate_version(local: tuple[int, int], remote: tuple[int, int], *, is_source: bool) -> int:
    """Agreed migration version, or InvalidParameter when the ranges do not meet.

    The source's range is the export range and the destination's the import
    range, whichever side computes it.
    """
    export, imp = (local, remote) if is_source else (remote, local)
    (min_e, max_e), (min_i, max_i) = export, imp
    if min_e > max_e or min_i > max_i or max_e < min_i or max_i < min_e:
        raise MigtdError(f"incompatible migration versions: export {min_e}-{max_e}, import {min_i}-{max_i}",
                         MigrationResult.InvalidParameter)
    return min(max_e, max_i)


def key_fingerprint(key: bytes) -> str:
    """First 8 bytes of SHA-256 of a key, upper-case hex: safe to log, enough to compare."""
    return hashlib.sha256(key).digest()[:8].hex().upper()


class Agreement(NamedTuple):
    """What the exchange settled: the peer's key (for MIG_DEC_KEY), the version, the source's key."""

    peer_key: bytes
    version: int
    source_key: bytes

    def __repr__(self) -> str:  # never print a key, even in a traceback
        return f"Agreement(version={self.version}, source_key={key_fingerprint(self.source_key)})"


def agree(local: ExchangeInformation, peer_record: bytes, *, is_source: bool) -> Agreement:
    """The peer's 40 bytes decoded and the version negotiated (§4.1 steps 6 and 8)."""
    peer = ExchangeInformation.decode(peer_record)
    version = negotiate_version((local.min_ver, local.max_ver), (peer.min_ver, peer.max_ver), is_source=is_source)
    return Agreement(peer.key, version, local.key if is_source else peer.key)
