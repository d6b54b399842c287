"""Emulated TDCS / global-system fields: where the MSK and versions live.

MigTD reads its own key from ``MIG_ENC_KEY`` (4 words), writes the peer's
into ``MIG_DEC_KEY`` and the agreed version into ``MIG_VERSION``; it reads the
GSM export/import version range with ``sys_rd``. Upstream's emulator returns
zeros for all of those (§4.6). We differ on purpose in one way: the local
key is 32 random bytes per run (``MIGTD_EMU_MSK=zero`` restores upstream's
all-zero key). The version range defaults to 0–0 so a Rust peer
interoperates; ``MIGTD_EMU_MIG_VERSION=MIN-MAX`` overrides it.
"""

from __future__ import annotations

import os
import struct
from collections.abc import Mapping

from migtd.errors import ConfigError

MIG_DEC_KEY = 0x9810000300000010
MIG_ENC_KEY = 0x9810000300000018
MIG_VERSION = 0x9810000100000020
MIN_EXPORT_VERSION = 0x2000000100000001
MAX_EXPORT_VERSION = 0x2000000100000002
MIN_IMPORT_VERSION = 0x2000000100000003
MAX_IMPORT_VERSION = 0x2000000100000004
SERVTD_ATTR = 0x1910000300000202

Uuid = tuple[int, int, int, int]


class FieldStore:
    """The TDCS words of every (binding handle, target UUID) plus the GSM fields."""

    def __init__(self, *, msk: bytes, version_range: tuple[int, int]) -> None:
        if len(msk) != 32:
            raise ValueError("the MSK is 32 bytes")
        self._tdcs: dict[tuple[int, Uuid, int], int] = {}
        self._sys: dict[int, int] = {}
        self._msk = msk
        #: Tokens approved by TDG.SERVTD.REBIND.APPROVE (emulated), per (binding, uuid).
        self.approved_rebind: dict[tuple[int, Uuid], bytes] = {}
        lo, hi = version_range
        for field in (MIN_EXPORT_VERSION, MIN_IMPORT_VERSION):
            self._sys[field] = lo
        for field in (MAX_EXPORT_VERSION, MAX_IMPORT_VERSION):
            self._sys[field] = hi

    def servtd_rd(self, binding: int, uuid: Uuid, field: int) -> int:
        """Value of a TDCS word; MIG_ENC_KEY words come from this run's MSK."""
        key = (binding, uuid, field)
        if key in self._tdcs:
            return self._tdcs[key]
        if MIG_ENC_KEY <= field < MIG_ENC_KEY + 4:
            i = field - MIG_ENC_KEY
            return int.from_bytes(self._msk[8 * i:8 * i + 8], "little")
        return 0

    def servtd_wr(self, binding: int, uuid: Uuid, field: int, value: int) -> None:
        """Set one 64-bit TDCS word."""
        if not 0 <= value < 1 << 64:
            raise ValueError("TDCS words are 64-bit")
        self._tdcs[(binding, uuid, field)] = value

    def approve_rebind(self, binding: int, uuid: Uuid, token: bytes) -> None:
        """Emulated TDG.SERVTD.REBIND.APPROVE: remember the token the old MigTD handed out."""
        self.approved_rebind[(binding, uuid)] = token

    def sys_rd(self, field: int) -> int:
        """A global-system (GSM) field such as the export/import version range; 0 if unset."""
        return self._sys.get(field, 0)

    def read_bytes(self, binding: int, uuid: Uuid, base: int, words: int) -> bytes:
        """``words`` consecutive little-endian TDCS words from ``base``, as bytes."""
        return b"".join(struct.pack("<Q", self.servtd_rd(binding, uuid, base + i)) for i in range(words))

    def write_bytes(self, binding: int, uuid: Uuid, base: int, data: bytes) -> None:
        """Store ``data`` in consecutive words from ``base`` (a short last word is zero-padded)."""
        for i in range(0, len(data), 8):
            self.servtd_wr(binding, uuid, base + i // 8, int.from_bytes(data[i:i + 8].ljust(8, b"\0"), "little"))

    def read_key(self, binding: int, uuid: Uuid, base: int) -> bytes:
        """Four consecutive words as the 32-byte key they hold."""
        return self.read_bytes(binding, uuid, base, 4)

    def write_key(self, binding: int, uuid: Uuid, base: int, key: bytes) -> None:
        """Store a 32-byte key in four consecutive words."""
        if len(key) != 32:
            raise ValueError("a TDCS key is 32 bytes")
        self.write_bytes(binding, uuid, base, key)

def parse_version_range(text: str) -> tuple[int, int]:
    """``MIN-MAX`` (or a single number): two u16 versions with MIN ≤ MAX (ExchangeInformation carries u16)."""
    from migtd.inputs import parse_uint

    parts = text.strip().split("-")
    values = [parse_uint(p.strip(), 16) for p in parts] if len(parts) in (1, 2) else [None]
    if any(v is None for v in values):
        raise ConfigError(f"Invalid MIGTD_EMU_MIG_VERSION value: {text}. Use MIN-MAX with versions from 0 to "
                          "65535, e.g. 0-0")
    lo, hi = values[0], values[-1]
    assert lo is not None and hi is not None
    if lo > hi:
        raise ConfigError(f"Invalid MIGTD_EMU_MIG_VERSION value: {text}. MIN is above MAX")
    return lo, hi


def version_range_from_env(env: Mapping[str, str]) -> tuple[int, int]:
    """``MIGTD_EMU_MIG_VERSION`` (default 0-0, what upstream's emulator reports)."""
    raw = env.get("MIGTD_EMU_MIG_VERSION")
    return parse_version_range(raw) if raw else (0, 0)


def msk_from_env(env: Mapping[str, str]) -> bytes:
    """This run's migration key: 32 random bytes, or upstream's all-zero key with ``MIGTD_EMU_MSK=zero``."""
    msk_mode = env.get("MIGTD_EMU_MSK", "random").strip().lower()
    if msk_mode == "zero":
        return bytes(32)
    if msk_mode in ("", "random"):
        return os.urandom(32)
    raise ConfigError(f"Invalid MIGTD_EMU_MSK value: {msk_mode}. Use 'random' or 'zero'")


def store_from_env(env: Mapping[str, str]) -> FieldStore:
    """Field store for this run, honouring ``MIGTD_EMU_MSK`` and ``MIGTD_EMU_MIG_VERSION``."""
    return FieldStore(msk=msk_from_env(env), version_range=version_range_from_env(env))
