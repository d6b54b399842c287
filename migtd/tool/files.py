"""Shared by the ``migtd-tool`` commands: file access (an unreadable input or
unwritable output is one clear line, exit 1) and the plain-text tree printer."""

from __future__ import annotations

from pathlib import Path
from typing import Any

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


def print_tree(obj: Any, indent: int = 0) -> None:
    """Print JSON-ready values as an indented ``key: value`` tree.

    Non-empty dicts and lists holding dicts or lists nest (list items as
    ``[i]``); a list of plain values is printed on one line, space-separated.
    """
    pad = "  " * indent
    if isinstance(obj, dict):
        for key, value in obj.items():
            if (isinstance(value, dict) and value) or \
                    (isinstance(value, list) and any(isinstance(x, (dict, list)) for x in value)):
                print(f"{pad}{key}:")
                print_tree(value, indent + 1)
            elif isinstance(value, list):
                print(f"{pad}{key}: {' '.join(map(str, value))}")
            else:
                print(f"{pad}{key}: {value}")
    elif isinstance(obj, list):
        for i, value in enumerate(obj):
            print(f"{pad}[{i}]")
            print_tree(value, indent + 1)
    else:
        print(f"{pad}{obj}")
