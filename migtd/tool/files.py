"""Shared by the ``migtd-tool`` commands: the files a command reads and writes, and the tree printer.

Every file a command reads goes through :class:`Files` (that is,
:func:`migtd.inputs.read_input`: a regular file, no larger than the limit of
its kind, opened without blocking), and every file it writes is checked
against all of them first: a command never opens one of its own inputs for
writing, and two outputs never name the same file. Outputs are written
atomically (:func:`migtd.inputs.write_atomic`), so an interrupted command
leaves the old file or the new one, never half of one.

The size limits are the engine's where the engine reads the same kind of file
(policy, issuer chain, root CA), so a file ``migtd`` refuses as too large the
tool refuses too, with the same exit status 1.
"""

from __future__ import annotations

import os
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from migtd.inputs import InputError, read_input, refuse_duplicate_outputs, refuse_input_as_output, write_atomic

#: ``migtd``'s own limits (migtd/cli/config.py: POLICY_MAX, ISSUER_CHAIN_MAX, ROOT_CA_MAX; a test pins them).
POLICY_LIMIT = 1024 * 1024
ISSUER_CHAIN_LIMIT = 8192
ROOT_CA_LIMIT = 4096
#: A TDX quote is a few KiB (upstream TD_QUOTE_SIZE is 8 KiB); MOCK_QUOTE_FILE's limit in ``migtd``.
QUOTE_LIMIT = 1 << 20
#: A verified report is 822 bytes, a quote a few KiB: ``--local``/``--peer`` take either.
REPORT_LIMIT = QUOTE_LIMIT
#: ``migtd``'s collateral limit (migtd/attest/trust.py: COLLATERAL_MAX); real collaterals are about 30 KiB.
COLLATERAL_LIMIT = 4 << 20
#: A CC event log as a certificate extension carries it (a few KiB in practice).
EVENT_LOG_LIMIT = 1 << 20
#: A PEM private key or certificate chain handed to ``policy sign``.
PEM_LIMIT = 64 * 1024
#: Azure's HCL report NV index is about 2.6 KiB; swtpm caps an index at 2 KiB.
HCL_LIMIT = 64 * 1024

Named = tuple[str, "str | os.PathLike[str] | None"]


class Files:
    """The inputs and outputs of one command.

    ``inputs``/``outputs`` name every file argument up front (``(label,
    path)``, ``None`` for an option not given) so :meth:`check` can refuse an
    output that is an input, or two outputs that are one file, before any
    work is done; :meth:`read` and :meth:`write` then do the I/O.
    """

    def __init__(self, inputs: Iterable[Named] = (), outputs: Iterable[Named] = ()) -> None:
        self.inputs: list[Named] = [i for i in inputs if i[1] is not None]
        self.outputs: list[Named] = [o for o in outputs if o[1] is not None]
        self.check()

    def check(self) -> None:
        """Exit 1 if an output is one of the inputs (same device and inode), a directory, or two outputs coincide."""
        for label, path in self.outputs:
            assert path is not None
            refuse_input_as_output(path, self.inputs, label)
            if os.path.isdir(path):
                raise InputError(f"{label} {os.fspath(path)} is a directory, not a file to write")
        refuse_duplicate_outputs(self.outputs)

    def read(self, path: str | os.PathLike[str], what: str, limit: int) -> bytes:
        """The bytes of the regular file ``path`` (at most ``limit``); recorded as an input."""
        if all(os.fspath(path) != os.fspath(p) for _, p in self.inputs if p is not None):
            self.inputs.append((what, path))
        return read_input(path, what, limit=limit)

    def write(self, path: str | os.PathLike[str], data: bytes, what: str, *, mode: int | None = None,
              parents: bool = False) -> None:
        """Write ``data`` to ``path`` atomically, never onto one of the inputs."""
        write_atomic(path, data, what, self.inputs, mode=mode, parents=parents)


def read_collateral(files: Files, path: str | os.PathLike[str], what: str = "collateral file") -> tuple[bytes, Any]:
    """A collateral file as bytes and parsed; every problem is a usage error (exit 1), as in ``migtd``.

    The checks are ``migtd``'s own (:func:`migtd.attest.trust.parse_collateral`),
    the TCB info and QE identity held as strings inside it depth-bounded too,
    so a 100 000-level array hidden in one is one line, not a RecursionError,
    and the same exit status from both programs.
    """
    from migtd.attest.trust import parse_collateral

    data = files.read(path, what, COLLATERAL_LIMIT)
    return data, parse_collateral(data, f"{what} {os.fspath(path)}")


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


__all__ = [
    "COLLATERAL_LIMIT",
    "EVENT_LOG_LIMIT",
    "HCL_LIMIT",
    "ISSUER_CHAIN_LIMIT",
    "PEM_LIMIT",
    "POLICY_LIMIT",
    "QUOTE_LIMIT",
    "REPORT_LIMIT",
    "ROOT_CA_LIMIT",
    "Files",
    "Path",
    "print_tree",
]
