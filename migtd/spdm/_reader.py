"""A bounds-checked little-endian reader that fails with DecodeError.

Every read checks the remaining length first, so a length field from the
peer is compared with the bytes actually received before anything is sliced
or allocated.
"""

from __future__ import annotations

import struct

from migtd.spdm.errors import DecodeError, LimitError

_U16 = struct.Struct("<H")
_U32 = struct.Struct("<I")
_U64 = struct.Struct("<Q")


class Reader:
    """Cursor over ``data``; ``structure`` names the message in error texts."""

    __slots__ = ("data", "pos", "structure")

    def __init__(self, data: bytes, structure: str, pos: int = 0) -> None:
        self.data = data
        self.pos = pos
        self.structure = structure

    def fail(self, field: str, problem: str) -> DecodeError:
        """A DecodeError at the current offset."""
        return DecodeError(self.structure, field, self.pos, problem)

    def remaining(self) -> int:
        return len(self.data) - self.pos

    def _need(self, n: int, field: str) -> None:
        if n > len(self.data) - self.pos:
            raise DecodeError(self.structure, field, self.pos,
                              f"truncated: needs {n} bytes, {len(self.data) - self.pos} left")

    def u8(self, field: str) -> int:
        self._need(1, field)
        v = self.data[self.pos]
        self.pos += 1
        return v

    def u16(self, field: str) -> int:
        self._need(2, field)
        (v,) = _U16.unpack_from(self.data, self.pos)
        self.pos += 2
        return v

    def u32(self, field: str) -> int:
        self._need(4, field)
        (v,) = _U32.unpack_from(self.data, self.pos)
        self.pos += 4
        return v

    def u64(self, field: str) -> int:
        self._need(8, field)
        (v,) = _U64.unpack_from(self.data, self.pos)
        self.pos += 8
        return v

    def take(self, n: int, field: str) -> bytes:
        """``n`` bytes; ``n`` may come from the peer, it is checked against what is there."""
        self._need(n, field)
        v = bytes(self.data[self.pos:self.pos + n])
        self.pos += n
        return v

    def zero(self, n: int, field: str) -> None:
        """``n`` reserved bytes that must be zero."""
        start = self.pos
        if any(self.take(n, field)):
            raise DecodeError(self.structure, field, start, "reserved bytes are not zero")

    def expect(self, value: int, got: int, field: str, at: int) -> None:
        if got != value:
            raise DecodeError(self.structure, field, at, f"is 0x{got:X}, expected 0x{value:X}")

    def limit(self, value: int, maximum: int, field: str, at: int) -> None:
        if value > maximum:
            raise LimitError(self.structure, field, at, f"{value} exceeds the limit of {maximum}")

    def rest(self) -> bytes:
        v = bytes(self.data[self.pos:])
        self.pos = len(self.data)
        return v

    def end(self) -> None:
        """No bytes may follow: every message of this profile has an exact length."""
        if self.pos != len(self.data):
            raise DecodeError(self.structure, "end", self.pos,
                              f"{len(self.data) - self.pos} unexpected trailing bytes")
