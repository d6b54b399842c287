"""The command-line conventions ``migtd-tool`` and ``migtd-console`` share.

Shell completion uses ``shtab``: it writes a *static* completion script from
the argparse parser, once, so pressing TAB never starts Python. The dynamic
alternative (argcomplete) re-runs the program on every TAB, and the console
imports Textual on start-up, which makes each completion visibly slow. Enable
it with, for example, ``eval "$(migtd-tool --print-completion bash)"`` in
``~/.bashrc`` (``zsh`` and ``tcsh`` work the same way).

``migtd`` keeps its upstream-parity hand-written parser and gets neither.
"""

from __future__ import annotations

import argparse

import migtd

SHELLS = ("bash", "zsh", "tcsh")


def add_conventions(parser: argparse.ArgumentParser, *, version: bool = True) -> argparse.ArgumentParser:
    """Add ``--version`` (unless the parser has it) and ``--print-completion SHELL``; returns ``parser``."""
    if version:
        parser.add_argument("--version", action="version", version=f"{parser.prog} {migtd.__version__}")
    try:
        import shtab
    except ImportError:  # a dependency, but a broken install must still run the program
        return parser
    shtab.add_argument_to(parser, "--print-completion",
                          help=f"print a shell completion script ({', '.join(SHELLS)}) and exit")
    return parser
