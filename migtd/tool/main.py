"""Entry point of ``migtd-tool``.

Each command group lives in a module named ``migtd/tool/<group>_cmd.py`` that
exposes ``register(subparsers)``; the groups are discovered here so adding one
touches no shared file. Handlers import their heavy dependencies lazily, and
every :class:`~migtd.errors.MigtdError` becomes one line on stderr and the
matching exit status. A usage error (unknown flag, bad integer) is one line
too, with exit 1 (InvalidParameter) like every other bad input: argparse's
own status 2 would read as MigrationResult Unsupported.
"""

from __future__ import annotations

import argparse
import importlib
import os
import pkgutil
import sys
import typing

import migtd
import migtd.tool
from migtd.completion import add_conventions
from migtd.errors import MigtdError
from migtd.result import MigrationResult


class ToolParser(argparse.ArgumentParser):
    """argparse with one-line usage errors and exit status 1; subparsers inherit the class."""

    def error(self, message: str) -> typing.NoReturn:
        self.exit(int(MigrationResult.InvalidParameter),
                  f"{self.prog}: error: {message} (see {self.prog} --help)\n")


def build_parser() -> argparse.ArgumentParser:
    """The ``migtd-tool`` parser with every ``*_cmd`` group registered."""
    parser = ToolParser(
        prog="migtd-tool",
        description="Inspect and verify TD quotes, check and sign migration policies, "
                    "and generate the mock PKI used by --attestation mock-report.",
    )
    parser.add_argument("--version", action="version", version=f"migtd-tool {migtd.__version__}")
    sub = parser.add_subparsers(dest="group", metavar="COMMAND")
    for info in sorted(pkgutil.iter_modules(migtd.tool.__path__), key=lambda m: m.name):
        if info.name.endswith("_cmd"):
            module = importlib.import_module(f"migtd.tool.{info.name}")
            module.register(sub)
    return add_conventions(parser, version=False)


def main(argv: list[str] | None = None) -> int:
    """Run one command; return its exit status (a MigtdError's result, 1 for I/O errors)."""
    parser = build_parser()
    try:
        args = parser.parse_args(argv)
    except SystemExit as stop:  # --help, --version, or a usage error already printed: return its status
        return stop.code if isinstance(stop.code, int) else int(stop.code is not None)
    func = getattr(args, "func", None)
    if func is None:
        parser.print_help()
        return 1
    try:
        return int(func(args) or 0)
    except MigtdError as exc:
        print(f"migtd-tool: error: {exc.message}", file=sys.stderr)
        return int(exc.result)
    except BrokenPipeError:
        # The reader went away (``migtd-tool ... | head``): end quietly, as a
        # process killed by SIGPIPE would, instead of reporting an error.
        sys.stdout = open(os.devnull, "w")  # noqa: SIM115 - keeps the interpreter's final flush quiet
        return 128 + 13
    except OSError as exc:
        where = f"{exc.filename}: " if exc.filename else ""
        print(f"migtd-tool: error: {where}{exc.strerror or exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        return 130
    except (RecursionError, MemoryError) as exc:  # a bound missed somewhere: still one line, never a traceback
        print(f"migtd-tool: error: input too large or too deeply nested ({type(exc).__name__})", file=sys.stderr)
        return int(MigrationResult.InvalidParameter)


if __name__ == "__main__":
    sys.exit(main())
