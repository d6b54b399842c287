"""Assertions every hostile-input test shares: one line, the right status, no traceback, nothing lost."""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from pathlib import Path

from .registry import Command, EntryPoint, Outcome


def assert_one_line(outcome: Outcome, entry: EntryPoint) -> None:
    """No traceback anywhere; an error is one line on stderr, or (``policy check``) the verdict on stdout."""
    assert "Traceback" not in outcome.stderr and "Traceback" not in outcome.stdout, outcome.stderr
    lines = entry.error_lines(outcome)
    assert len(lines) <= 1, f"more than one error line: {outcome.stderr!r}"
    if lines:
        assert lines[0].startswith(entry.prefix), lines[0]
    elif outcome.code != 0:
        # a policy verdict: the rule table on stdout ends with the decision and its exit status
        assert f"exit {outcome.code} (" in outcome.stdout, (outcome.code, outcome.stdout[-300:])


def digests(paths: Mapping[str, Path]) -> dict[str, str]:
    """SHA-256 of every regular file among ``paths`` (to prove an input was not touched)."""
    return {k: hashlib.sha256(p.read_bytes()).hexdigest() for k, p in paths.items() if p.is_file()}


def files_for(command: Command, good: Mapping[str, Path], folder: Path) -> dict[str, Path]:
    """Good inputs, fresh output paths and the ``scratch`` folder for ``command``."""
    files = {k: good[i.good] for k, i in command.inputs.items()}
    files.update({k: folder / name for k, name in command.outputs.items()})
    files["scratch"] = folder / "scratch"
    return files


def said(outcome: Outcome) -> str:
    """Everything a run printed (``migtd`` prints refusals made before its log starts on stdout)."""
    return outcome.stderr + outcome.stdout
