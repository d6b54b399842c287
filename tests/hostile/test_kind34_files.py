"""Kinds 3 and 4 of issue #11: every file argument of every command, given every hostile file.

A FIFO with no writer, ``/dev/zero``, a directory, a 2 GB sparse file, a
missing and an empty file are each refused with exit 1 and one line naming
the file and the problem, before a byte is read (so nothing hangs or fills
memory); a 100 000-level nested JSON array ends in the status the table
gives for that argument (the JSON decoder's for a JSON input, the size
limit's or the binary parser's otherwise), never a RecursionError. No
output is written by a command whose input was refused.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from .conftest import FILE_KINDS
from .helpers import assert_one_line, files_for
from .registry import COMMANDS, ENTRY_POINTS, USAGE, command

CASES = [(c.name, arg, kind) for c in COMMANDS for arg in c.inputs for kind in [*FILE_KINDS, "nested_json"]]


@pytest.mark.timeout(60)
@pytest.mark.parametrize("name,arg,kind", CASES, ids=[f"{n}|{a}|{k}" for n, a, k in CASES])
def test_hostile_file_input(name: str, arg: str, kind: str, good_files: dict[str, Path],
                            hostile_files: dict[str, Path], tmp_path: Path) -> None:
    cmd = command(name)
    entry = ENTRY_POINTS[cmd.entry]
    files = files_for(cmd, good_files, tmp_path)
    files[arg] = hostile_files[kind]
    argv, env = cmd.render(files)
    outcome = entry.run(argv, env)
    expected = USAGE if kind in FILE_KINDS else cmd.inputs[arg].nested
    assert outcome.code == expected, (outcome.code, outcome.stderr, outcome.stdout[-400:])
    assert_one_line(outcome, entry)
    if kind in FILE_KINDS:
        assert FILE_KINDS[kind] in outcome.stderr and str(hostile_files[kind]) in outcome.stderr
    for out in cmd.outputs:
        assert not files[out].exists() or files[out].is_dir() and not any(files[out].iterdir()), out


@pytest.mark.timeout(120)
@pytest.mark.parametrize("kind", [*FILE_KINDS, "nested_json"])
def test_the_real_executable_never_hangs(kind: str, good_files: dict[str, Path], hostile_files: dict[str, Path],
                                         tmp_path: Path) -> None:
    """The installed ``migtd-tool`` process, for the policy and the issuer chain of ``policy verify``."""
    cmd = command("policy verify")
    entry = ENTRY_POINTS["migtd-tool (executable)"]
    for arg in cmd.inputs:
        files = files_for(cmd, good_files, tmp_path)
        files[arg] = hostile_files[kind]
        argv, env = cmd.render(files)
        outcome = entry.run(argv, env)   # as_subprocess: a hang past its deadline fails here
        assert outcome.code == (USAGE if kind in FILE_KINDS else cmd.inputs[arg].nested)
        assert_one_line(outcome, entry)
        assert len(outcome.stderr.splitlines()) == 1


@pytest.mark.timeout(120)
@pytest.mark.parametrize("name", [c.name for c in COMMANDS])
def test_the_good_invocation_works(name: str, good_files: dict[str, Path], tmp_path: Path) -> None:
    """Each row's baseline really runs (so a hostile case fails because of its one hostile file)."""
    cmd = command(name)
    files = files_for(cmd, good_files, tmp_path)
    outcome = ENTRY_POINTS[cmd.entry].run(*cmd.render(files))
    assert outcome.code == cmd.good_code, (outcome.stderr, outcome.stdout[-400:])
    assert "Traceback" not in outcome.stderr


@pytest.mark.parametrize("field", ["tcbInfo", "qeIdentity"])
def test_nested_json_inside_a_collateral_string(field: str, good_files: dict[str, Path], tmp_path: Path) -> None:
    """The TCB info and QE identity are JSON documents held as strings: their depth is bounded too."""
    import json

    doc = json.loads(good_files["collateral"].read_text())
    deep = "[" * 100_000 + "]" * 100_000
    if field == "tcbInfo":
        doc["platforms"][0]["tcbInfo"] = deep
    else:
        doc["qeIdentity"] = deep
    coll = tmp_path / "collateral.json"
    coll.write_text(json.dumps(doc))
    entry = ENTRY_POINTS["migtd-tool"]
    for name in ("quote verify", "policy check (v1, quotes and event logs)", "policy generate-v2"):
        cmd = command(name)
        files = files_for(cmd, good_files, tmp_path)
        files["collateral"] = coll
        outcome = entry.run(*cmd.render(files))
        assert outcome.code == USAGE and "nested deeper than 128 levels" in outcome.stderr, (name, outcome.stderr)
        assert_one_line(outcome, entry)
