"""Kinds 3 and 4 of issue #11: every file argument of every command, given every hostile file.

A FIFO with no writer, ``/dev/zero``, a directory, a 2 GB sparse file, a
missing and an empty file are each refused with exit 1 and one line naming
the file and the problem, before a byte is read (so nothing hangs or fills
memory); a 100 000-level nested JSON array ends in the status the table
gives for that argument (the JSON decoder's for a JSON input, the size
limit's or the binary parser's otherwise), never a RecursionError. No
output is written by a command whose input was refused, except the run's
own log (``MIGTD_LOG_FILE``), which records the refusal.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from .conftest import FILE_KINDS
from .helpers import assert_one_line, files_for, said
from .registry import COMMANDS, ENTRY_POINTS, USAGE, FileInput, command

CASES = [(c.name, arg, kind) for c in COMMANDS for arg, i in c.inputs.items() for kind in [*FILE_KINDS, "nested_json"]
         if not (kind == "directory" and i.folder_ok)]


@pytest.mark.timeout(60)
@pytest.mark.parametrize("name,arg,kind", CASES, ids=[f"{n}|{a}|{k}" for n, a, k in CASES])
def test_hostile_file_input(name: str, arg: str, kind: str, good_files: dict[str, Path],
                            hostile_sets: dict[str, dict[str, Path]], tmp_path: Path) -> None:
    cmd = command(name)
    entry = ENTRY_POINTS[cmd.entry]
    files = files_for(cmd, good_files, tmp_path)
    files[arg] = hostile_sets[cmd.inputs[arg].suffix][kind]
    argv, env = cmd.render(files)
    outcome = entry.run(argv, env)
    expected = _expected(cmd.inputs[arg], kind)
    assert outcome.code == expected, (outcome.code, outcome.stderr[-800:], outcome.stdout[-400:])
    taken = expected == cmd.good_code   # a value the command takes (an empty ssh config, a damaged host)
    if taken:
        assert "Traceback" not in said(outcome)
        # at most one line about it (a warning); the command's own status lines ("wrote …") aside
        assert len([line for line in entry.error_lines(outcome) if line.startswith(entry.prefix)]) <= 1
    else:
        assert_one_line(outcome, entry)
    named = kind in FILE_KINDS and (not taken or cmd.inputs[arg].damaged is not None)
    if named:  # the one line names the file and what is wrong with it
        assert entry.says(kind, said(outcome), FILE_KINDS[kind]) and str(files[arg]) in said(outcome)
    if expected == USAGE:
        assert not entry.did_work(outcome)
    for out in cmd.outputs:
        if out in cmd.records:   # the run's log: it holds the refusal, never another file's bytes
            assert (not files[out].exists() or kind not in FILE_KINDS
                    or entry.says(kind, files[out].read_text(), FILE_KINDS[kind]))
        elif not taken:          # refused: nothing written
            assert not files[out].exists() or files[out].is_dir() and not any(files[out].iterdir()), out


def _expected(arg: FileInput, kind: str) -> int:
    """The exit status the table gives ``kind`` of hostile file on this argument."""
    if kind == "empty" and arg.empty is not None:
        return arg.empty
    if arg.damaged is not None and kind != "missing":
        return arg.damaged
    return USAGE if kind in FILE_KINDS else arg.nested


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
    """The TCB info and QE identity are JSON documents held as strings: their depth is bounded too,
    by every reader of a collateral file (the tool, the fleet matrix, migtd at start-up)."""
    import json

    doc = json.loads(good_files["collateral"].read_text())
    deep = "[" * 100_000 + "]" * 100_000
    if field == "tcbInfo":
        doc["platforms"][0]["tcbInfo"] = deep
    else:
        doc["qeIdentity"] = deep
    coll = tmp_path / "collateral.json"
    coll.write_text(json.dumps(doc))
    for name in ("quote verify", "policy check (v1, quotes and event logs)", "policy generate-v2",
                 "fleet matrix", "migtd (policy v1)"):
        cmd = command(name)
        entry = ENTRY_POINTS[cmd.entry]
        files = files_for(cmd, good_files, tmp_path)
        files["collateral"] = coll
        outcome = entry.run(*cmd.render(files))
        assert outcome.code == USAGE and "nested deeper than 128 levels" in said(outcome), (name, outcome.stderr)
        assert_one_line(outcome, entry)
        assert not entry.did_work(outcome)   # migtd: refused at start-up, before listening
