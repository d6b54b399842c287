"""``./migtdemu.sh``: its own outputs aimed at its inputs (kind 1) and hostile numbers (kind 5).

The runner writes fixed names where it runs (``dest_<op>_out.log``,
``migtd_<op>_{destination,source}.log`` with ``--both``; a generated policy v2
under ``config/AzCVMEmu/``), so its rows in ``registry.py`` cannot aim an
output at an input by path: here each of those names is made the policy
(or, for the generated policy, the initMigtdData) directly, through a
symlink or through a hard link. Each is refused before anything starts,
with one line, exit 1, and the input keeps its bytes.

Its numbers (``--request-id`` u64, ``--dest-port`` u16, ``--num-cpus`` at
most the CPUs there are) are read with Rust's rules by the run planner or
checked as text by the script: a hostile value is one short line naming the
option, exit 1, at once, nothing started. ``migtd-tool plan``, the planner the
script and the console share, refuses the same values and a hostile
``--timeout`` or ``--quote-failures`` the same way.
"""

from __future__ import annotations

import os
import time
from pathlib import Path

import pytest

from migtd import paths

from .helpers import assert_one_line
from .registry import ENTRY_POINTS, PORT, USAGE, Outcome

RUNNER = ENTRY_POINTS["migtdemu.sh"]
LOGS = ["dest_migration_out.log", "migtd_migration_destination.log", "migtd_migration_source.log"]


def _aim(folder: Path, name: str, target: Path, how: str) -> Path:
    """Make ``folder/name`` the file ``target`` (``same``: target is created there) and return it."""
    out = folder / name
    out.parent.mkdir(parents=True, exist_ok=True)
    if how == "same":
        out.write_bytes(target.read_bytes())
        return out
    if how == "symlink":
        out.symlink_to(target)
    else:
        os.link(target, out)
    return target


@pytest.mark.parametrize("how", ["same", "symlink", "hardlink"])
@pytest.mark.parametrize("name", LOGS)
def test_a_log_file_of_the_runner_is_the_policy(name: str, how: str, tmp_path: Path) -> None:
    folder = tmp_path / "run"
    kept = tmp_path / "policy.json"
    kept.write_bytes(paths.default_policy().read_bytes())
    policy = _aim(folder, name, kept, how)
    before = policy.read_bytes()
    outcome = RUNNER.run([str(folder), "--both", "--no-sudo", "-p", PORT, "--skip-ra", "--policy-file",
                          str(policy)], {})
    assert outcome.code == USAGE, (outcome.stderr, outcome.stdout[-300:])
    assert_one_line(outcome, RUNNER)
    assert f"{name} is the policy file" in outcome.stderr and "refusing to overwrite an input" in outcome.stderr
    assert policy.read_bytes() == before and not RUNNER.did_work(outcome)
    assert sorted(p.name for p in folder.iterdir()) == [name]   # nothing else was written


def test_the_generated_policy_is_another_input(tmp_path: Path) -> None:
    """The policy v2 the runner would generate into ./config/AzCVMEmu is the initMigtdData file."""
    folder = tmp_path / "run"
    init = folder / "config" / "AzCVMEmu" / "policy_v2_signed.json"
    init.parent.mkdir(parents=True)
    init.write_bytes(bytes(512))
    outcome = RUNNER.run([str(folder), "--both", "--no-sudo", "-p", PORT, "--policy-v2", "--mock-report",
                          "--init-migtd-data", str(init)], {})
    assert outcome.code == USAGE, outcome.stderr
    assert_one_line(outcome, RUNNER)
    assert "generated policy" in outcome.stderr and "refusing to overwrite an input" in outcome.stderr
    assert init.read_bytes() == bytes(512) and not RUNNER.did_work(outcome)


HOSTILE = ["-1", "", " 1", "1_000", "0x10", "１２", "٣", "1e3", "9" * 5000, "+", "nan"]
#: Through the script, a few of each kind (every value goes through the planner in process below).
THROUGH_SCRIPT = ["", "１２", "0x10", "9" * 5000]
NUMBERS = [("--request-id", "Invalid request ID", [*THROUGH_SCRIPT, str(2**64)]),
           ("--dest-port", "Invalid destination port", [*THROUGH_SCRIPT, "65536"]),
           ("--num-cpus", "--num-cpus", [*HOSTILE, "4096"])]
CASES = [(flag, words, value) for flag, words, values in NUMBERS for value in values]


def _short_and_clear(outcome: Outcome, words: str) -> None:
    assert outcome.code == USAGE, outcome.stderr
    assert_one_line(outcome, RUNNER)
    line = RUNNER.error_lines(outcome)[0]
    assert words in line or "Requested" in line, line
    assert len(line) < 300, f"{len(line)}-character line"


@pytest.mark.parametrize("flag,words,value", CASES, ids=[f"{f}|{v[:12]!r}" for f, _, v in CASES])
def test_hostile_runner_number(flag: str, words: str, value: str, tmp_path: Path) -> None:
    started = time.monotonic()
    outcome = RUNNER.run([str(tmp_path), "--skip-ra", "--both", "--no-sudo", "-p", PORT, flag, value]
                         if flag != "--dest-port" else [str(tmp_path), "--skip-ra", "--both", "--no-sudo", flag, value],
                         {})
    _short_and_clear(outcome, words)
    assert time.monotonic() - started < 10 and not RUNNER.did_work(outcome)
    assert list(tmp_path.iterdir()) == []


PLAN_NUMBERS = [("--request-id", "Invalid request ID"), ("--dest-port", "Invalid destination port"),
                ("--timeout", "Invalid timeout"), ("--quote-failures", "Invalid quote failure count")]
#: Durations follow migtd.inputs.parse_seconds (surrounding blanks are allowed there, as for MIGTD_TIMEOUT).
HOSTILE_SECONDS = ["0", "-1", "", "nan", "inf", "1e3", "１", "1_0", "9" * 5000, "0x10", "86401"]
PLAN_CASES = [(flag, words, value) for flag, words in PLAN_NUMBERS
              for value in (HOSTILE_SECONDS if flag == "--timeout" else [*HOSTILE, "1" + "0" * 30])]


@pytest.mark.parametrize("flag,words,value", PLAN_CASES, ids=[f"{f}|{v[:12]!r}" for f, _, v in PLAN_CASES])
def test_hostile_planner_number(flag: str, words: str, value: str) -> None:
    tool = ENTRY_POINTS["migtd-tool"]
    outcome = tool.run(["plan", "--skip-ra", "--role", "source", f"{flag}={value}"], {})
    assert outcome.code == USAGE, outcome.stderr
    assert "Traceback" not in outcome.stderr and outcome.stdout == ""
    lines = outcome.stderr.splitlines()
    assert len(lines) == 1 and lines[0].startswith(f"Error: {words}: ") and len(lines[0]) < 300, lines


@pytest.mark.parametrize("depth,code,words", [
    (200, 9, "InvalidPolicyError): policy: invalid JSON: JSON nested deeper than 128 levels"),
    (100_000, 6, "SecureSessionError): TLS handshake failed: excessive message size")])
def test_a_deeply_nested_policy_v1_in_a_real_run(depth: int, code: int, words: str, tmp_path: Path) -> None:
    """mock-report puts the policy v1 in each certificate's event log: nested 200 levels it reaches the
    peer's judgement (9, the kind-8 verdict); 200 KB long it makes the handshake message too large (6)."""
    policy = tmp_path / "nested.json"
    policy.write_text("[" * depth + "]" * depth)
    outcome = RUNNER.run([str(tmp_path / "run"), "--both", "--no-sudo", "-p", PORT, "--mock-report",
                          "--policy-file", str(policy)], {})
    assert outcome.code == code, (outcome.stderr[-600:], outcome.stdout[-300:])
    assert_one_line(outcome, RUNNER)
    assert words in RUNNER.error_lines(outcome)[0] and RUNNER.did_work(outcome)
