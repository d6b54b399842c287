"""File access for ``migtd-tool``: an unreadable input or unwritable output is one clear line (exit 1)."""

from __future__ import annotations

from pathlib import Path

from migtd.errors import ConfigError


def read_file(path: Path, what: str) -> bytes:
    """The bytes of ``path``; ``what`` names it in the error ("cannot read <what> <path>: ...")."""
    try:
        return path.read_bytes()
    except OSError as exc:
        raise ConfigError(f"cannot read {what} {path}: {exc.strerror or exc}") from None


def write_file(path: Path, data: bytes, *, parents: bool = False) -> None:
    """Write ``data`` to ``path`` (creating its folder first when ``parents``)."""
    try:
        if parents:
            path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data)
    except OSError as exc:
        raise ConfigError(f"cannot write {path}: {exc.strerror or exc}") from None
