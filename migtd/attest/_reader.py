"""A bounds-checked cursor over bytes for the binary codecs.

Every read names the field it is reading, so a short or malformed buffer
becomes one :class:`~migtd.errors.FormatError` saying which field at which
offset, instead of an ``IndexError`` or ``struct.error`` deep in a parser.
"""

from __future__ import annotations

from migtd.errors import FormatError


class Reader:
    """Sequential reader; ``offset`` is absolute within the original buffer."""

    __slots__ = ("data", "end", "offset", "structure")

    def __init__(self, data: bytes, structure: str, offset: int = 0, end: int | None = None) -> None:
        self.data = data
        self.offset = offset
        self.structure = structure
        self.end = len(data) if end is None else end

    def fail(self, field: str, problem: str, offset: int | None = None) -> FormatError:
        """Build (not raise) the error for ``field`` so callers can ``raise`` it."""
        return FormatError(self.structure, field, self.offset if offset is None else offset, problem)

    def take(self, n: int, field: str) -> bytes:
        if n < 0 or self.offset + n > self.end:
            have = max(self.end - self.offset, 0)
            raise self.fail(field, f"need {n} bytes, only {have} left")
        chunk = self.data[self.offset:self.offset + n]
        self.offset += n
        return chunk

    def u16(self, field: str) -> int:
        return int.from_bytes(self.take(2, field), "little")

    def u32(self, field: str) -> int:
        return int.from_bytes(self.take(4, field), "little")

    def u64(self, field: str) -> int:
        return int.from_bytes(self.take(8, field), "little")
