"""Kind 5 of issue #11: every integer or duration flag of every command, given hostile numbers.

Each value below is refused by argparse through :func:`migtd.inputs.uint_arg`
or :func:`migtd.inputs.seconds_arg` with exit 1 and one line naming the flag
(Rust's ``from_str`` rules: ASCII digits, one optional ``+``, range-checked;
thousands of digits cost nothing), before any file is read.
"""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from .helpers import assert_one_line, files_for
from .registry import ENTRY_POINTS, INTEGER_FLAGS, USAGE, command

HOSTILE_INTEGERS = ["-1", "", " 1", "1 ", "1_000", "0x10", "１２", "٣", "1e3", "9" * 5000, "+", "++1", "nan"]
HOSTILE_SECONDS = ["0", "-1", "", "nan", "inf", "1e3", "１", "1_0", "9" * 5000, "0x10"]


def _hostile(bits: int | str, low: int, high: int) -> list[str]:
    """The hostile values of one flag: the fixed lists, then just outside its range on each side."""
    if bits == "seconds":
        return [*HOSTILE_SECONDS, str(high + 1)]
    return [*HOSTILE_INTEGERS, str(high + 1), *([str(low - 1)] if low > 0 else [])]


CASES = [(n, f, v) for n, f, bits, low, high in INTEGER_FLAGS for v in _hostile(bits, low, high)]


@pytest.mark.parametrize("name,flag,value", CASES, ids=[f"{n}|{f}|{v[:12]!r}" for n, f, v in CASES])
def test_hostile_number(name: str, flag: str, value: str, good_files: dict[str, Path], tmp_path: Path) -> None:
    cmd = command(name)
    files = files_for(cmd, good_files, tmp_path)
    argv, env = cmd.render(files)
    entry = ENTRY_POINTS[cmd.entry]
    started = time.monotonic()
    outcome = entry.run([*argv, f"{flag}={value}"], env)
    assert outcome.code == USAGE, outcome.stderr
    assert_one_line(outcome, entry)
    assert f"argument {flag}" in outcome.stderr and len(outcome.stderr) < 400
    assert time.monotonic() - started < 5
    for out in cmd.outputs:
        assert not files[out].exists()


@pytest.mark.parametrize("value,expected", [("4294967295", 4294967295), ("+7", 7), ("007", 7)])
def test_rust_rules_accept_what_rust_accepts(value: str, expected: int) -> None:
    from migtd.inputs import uint_arg

    assert uint_arg(32)(value) == expected
