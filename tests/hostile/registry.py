"""Which programs take which files: the tables the hostile-input tests run over.

Issue #11 sorts the failures it found into kinds; the tests of this folder
take every *entry point* (:data:`ENTRY_POINTS`: how to run it and read its
exit status and output) and every *command* of it (:data:`COMMANDS`: a good
invocation with each file argument named by a placeholder, what each file
argument is, and what an output may not be), and try each hostile thing on
each argument.

Adding ``migtd``, ``migtd-console`` or ``./migtdemu.sh`` is adding rows: an
:class:`EntryPoint` (in process or as a subprocess) and one :class:`Command`
per way of calling it, whose ``argv``/``env`` name files by ``{placeholder}``
(``migtd``'s ``MIGTD_POLICY_FILE`` is ``env={"MIGTD_POLICY_FILE": "{policy}"}``).
A placeholder that is a key of ``inputs`` is replaced by a good file
(:func:`tests.hostile.conftest.good_files`) or, under test, by the hostile
one; a key of ``outputs`` by a fresh path in the test's folder.
"""

from __future__ import annotations

import contextlib
import io
import os
import subprocess
import sys
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path


@dataclass(frozen=True)
class Outcome:
    """What a run left: its exit status and what it printed."""

    code: int
    stdout: str
    stderr: str


def stderr_lines(outcome: Outcome) -> list[str]:
    """The non-empty lines on stderr: for a tool, everything it says about an error."""
    return [line for line in outcome.stderr.splitlines() if line.strip()]


@dataclass(frozen=True)
class EntryPoint:
    """A program: ``run(argv, env)`` runs it to completion with a deadline and returns its :class:`Outcome`.

    ``prefix`` is how every line it prints about an error starts; ``error_lines``
    picks those lines out of an outcome (a program that also logs progress,
    like ``migtd``, passes a function keeping only its error records).
    """

    name: str
    run: Callable[[Sequence[str], Mapping[str, str]], Outcome]
    prefix: str
    error_lines: Callable[[Outcome], list[str]] = stderr_lines


def in_process(main: Callable[[list[str]], int]) -> Callable[[Sequence[str], Mapping[str, str]], Outcome]:
    """Run a ``main(argv) -> int`` in this interpreter with stdout/stderr captured (fast, and a
    traceback shows up as the test's own exception)."""
    def run(argv: Sequence[str], env: Mapping[str, str]) -> Outcome:
        out, err = io.StringIO(), io.StringIO()
        saved = {k: os.environ.get(k) for k in env}
        os.environ.update(env)
        try:
            with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
                code = main(list(argv))
        finally:
            for k, v in saved.items():
                if v is None:
                    os.environ.pop(k, None)
                else:
                    os.environ[k] = v
        return Outcome(code, out.getvalue(), err.getvalue())
    return run


def as_subprocess(command: Sequence[str], *, timeout: float = 60.0
                  ) -> Callable[[Sequence[str], Mapping[str, str]], Outcome]:
    """Run the real executable; a run past ``timeout`` is a hang and fails the test."""
    def run(argv: Sequence[str], env: Mapping[str, str]) -> Outcome:
        proc = subprocess.run([*command, *argv], capture_output=True, text=True, timeout=timeout,
                              env={**os.environ, **env}, stdin=subprocess.DEVNULL, check=False)
        return Outcome(proc.returncode, proc.stdout, proc.stderr)
    return run


def _tool_main(argv: list[str]) -> int:
    from migtd.tool.main import main

    return main(argv)


ENTRY_POINTS: dict[str, EntryPoint] = {
    "migtd-tool": EntryPoint("migtd-tool", in_process(_tool_main), "migtd-tool"),
    "migtd-tool (executable)": EntryPoint(
        "migtd-tool (executable)", as_subprocess([str(Path(sys.executable).with_name("migtd-tool"))]), "migtd-tool"),
}


@dataclass(frozen=True)
class FileInput:
    """A file the command reads.

    ``good`` names the fixture file (:func:`conftest.good_files`) a normal run uses.
    ``nested`` is the exit status when the file is a 100 000-level nested JSON
    array (``[[[...]]]``, 200 KB): the JSON decoder's answer for a JSON input,
    the size limit's or the binary parser's for the others.
    """

    good: str
    nested: int


@dataclass(frozen=True)
class Command:
    """One way of calling an entry point, with its file arguments.

    ``outputs`` maps an output placeholder to a file name in the test's folder.
    ``output_inputs`` lists, per output placeholder, the input placeholders that
    output is aimed at by the kind-1 test (all of them by default). ``same_outputs``
    are pairs of outputs the command must refuse to write to one file.
    """

    entry: str
    name: str
    argv: tuple[str, ...]
    inputs: Mapping[str, FileInput]
    outputs: Mapping[str, str] = field(default_factory=dict)
    env: Mapping[str, str] = field(default_factory=dict)
    same_outputs: tuple[tuple[str, str], ...] = ()
    good_code: int = 0

    def render(self, files: Mapping[str, Path]) -> tuple[list[str], dict[str, str]]:
        """``argv`` and ``env`` with every ``{placeholder}`` replaced by its path."""
        names = {k: str(v) for k, v in files.items()}
        return [a.format(**names) for a in self.argv], {k: v.format(**names) for k, v in self.env.items()}


# The exit statuses, by name (MigrationResult).
OK, USAGE, ATTEST, UNSATISFIED, INVALID_POLICY = 0, 1, 7, 8, 9

_T = "migtd-tool"

COMMANDS: list[Command] = [
    Command(_T, "quote inspect", ("quote", "inspect", "{quote}"),
            {"quote": FileInput("quote", ATTEST)}),
    Command(_T, "quote verify", ("quote", "verify", "{quote}", "--collateral", "{collateral}",
                                 "--root-ca", "{root_ca}"),
            {"quote": FileInput("quote", ATTEST), "collateral": FileInput("collateral", USAGE),
             "root_ca": FileInput("root_ca", USAGE)}),
    Command(_T, "policy check (v1, quotes and event logs)",
            ("policy", "check", "--policy", "{policy}", "--local", "{local}", "--peer", "{peer}",
             "--collateral", "{collateral}", "--root-ca", "{root_ca}", "--local-events", "{local_events}",
             "--peer-events", "{peer_events}", "--role", "source", "--strict-rtmr"),
            {"policy": FileInput("policy_v1", INVALID_POLICY), "local": FileInput("quote_v1", ATTEST),
             "peer": FileInput("quote_v1", ATTEST), "collateral": FileInput("collateral", USAGE),
             "root_ca": FileInput("root_ca", USAGE), "local_events": FileInput("events_v1", UNSATISFIED),
             "peer_events": FileInput("events_v1", UNSATISFIED)}),
    Command(_T, "policy check (v2, quotes, embedded collaterals)",
            ("policy", "check", "--policy", "{policy}", "--issuer-chain", "{chain}", "--local", "{local}",
             "--peer", "{peer}", "--peer-policy", "{peer_policy}", "--peer-issuer-chain", "{peer_chain}",
             "--local-events", "{local_events}", "--peer-events", "{peer_events}", "--role", "destination",
             "--strict-rtmr"),
            {"policy": FileInput("policy_v2", INVALID_POLICY), "chain": FileInput("chain_v2", USAGE),
             "local": FileInput("quote_v2", UNSATISFIED), "peer": FileInput("quote_v2", UNSATISFIED),
             "peer_policy": FileInput("policy_v2", INVALID_POLICY), "peer_chain": FileInput("chain_v2", USAGE),
             "local_events": FileInput("events_v2", OK), "peer_events": FileInput("events_v2", UNSATISFIED)}),
    Command(_T, "policy check (v1, verified reports)",
            ("policy", "check", "--policy", "{policy}", "--local", "{local}", "--peer", "{peer}", "--role", "source"),
            {"policy": FileInput("template_v1", INVALID_POLICY), "local": FileInput("report", USAGE),
             "peer": FileInput("report", USAGE)}),
    Command(_T, "policy check (v2, quotes, --collateral and --root-ca)",
            ("policy", "check", "--policy", "{policy}", "--issuer-chain", "{chain}", "--local", "{local}",
             "--peer", "{peer}", "--collateral", "{collateral}", "--root-ca", "{root_ca}", "--role", "source"),
            {"policy": FileInput("policy_v2", INVALID_POLICY), "chain": FileInput("chain_v2", USAGE),
             "local": FileInput("quote_v2", UNSATISFIED), "peer": FileInput("quote_v2", UNSATISFIED),
             "collateral": FileInput("collateral", USAGE), "root_ca": FileInput("root_ca", USAGE)}),
    Command(_T, "policy verify", ("policy", "verify", "--policy", "{policy}", "--issuer-chain", "{chain}"),
            {"policy": FileInput("policy_v2", INVALID_POLICY), "chain": FileInput("chain_v2", USAGE)}),
    Command(_T, "policy sign", ("policy", "sign", "--key", "{key}", "--chain", "{chain}", "{input}", "{output}"),
            {"key": FileInput("signing_key", USAGE), "chain": FileInput("signing_chain", USAGE),
             "input": FileInput("canonical_json", USAGE)},
            outputs={"output": "signed.json"}),
    Command(_T, "policy generate", ("policy", "generate", "--from", "{report}", "--template", "{template}",
                                    "{output}"),
            {"report": FileInput("report", USAGE), "template": FileInput("template_v1", INVALID_POLICY)},
            outputs={"output": "generated.json"}),
    Command(_T, "policy generate-v2",
            ("policy", "generate-v2", "--quote", "{quote}", "--collateral", "{collateral}", "--root-ca", "{root_ca}",
             "--out", "{out}", "--chain-out", "{chain_out}", "--key-out", "{key_out}", "--new-chain"),
            {"quote": FileInput("quote", USAGE), "collateral": FileInput("collateral", USAGE),
             "root_ca": FileInput("root_ca", USAGE)},
            outputs={"out": "policy_v2.json", "chain_out": "chain.pem", "key_out": "key.pem"},
            same_outputs=(("out", "chain_out"), ("chain_out", "key_out"), ("out", "key_out"))),
    Command(_T, "policy generate-rotation",
            ("policy", "generate-rotation", "--variant", "policy", "--quote", "{quote}", "--collateral",
             "{collateral}", "--root-ca", "{root_ca}", "--out-dir", "{out_dir}"),
            {"quote": FileInput("quote", USAGE), "collateral": FileInput("collateral", USAGE),
             "root_ca": FileInput("root_ca", USAGE)},
            outputs={"out_dir": "rotation"}),
    Command(_T, "azure hcl", ("azure", "hcl", "{hcl}"), {"hcl": FileInput("hcl", USAGE)}),
    Command(_T, "azure provision", ("azure", "provision", "--tcti", "swtpm:host=127.0.0.1,port=1", "{hcl}"),
            {"hcl": FileInput("hcl", USAGE)}, good_code=4),
    Command(_T, "azure mock-hcl", ("azure", "mock-hcl", "--out", "{out}"), {}, outputs={"out": "hcl.bin"}),
    Command(_T, "collateral fetch",
            ("collateral", "fetch", "{quote}", "--root-ca", "{root_ca}", "--pccs", "http://127.0.0.1:1",
             "--out", "{out}", "--timeout", "2"),
            {"quote": FileInput("quote", USAGE), "root_ca": FileInput("root_ca", USAGE)},
            outputs={"out": "collateral.json"}, good_code=5),
    Command(_T, "mock-pki", ("mock-pki", "--out", "{out_dir}"), {}, outputs={"out_dir": "pki"}),
]


def command(name: str) -> Command:
    """The row called ``name``."""
    for c in COMMANDS:
        if c.name == name:
            return c
    raise KeyError(name)


#: Every integer or duration flag of every command: (command name, flag, bits or "seconds").
INTEGER_FLAGS: list[tuple[str, str, int | str]] = [
    ("policy generate-v2", "--policy-svn", 32),
    ("policy generate-v2", "--forward-min-isvsvn", 16),
    ("policy generate-rotation", "--policy-svn", 32),
    ("policy generate-rotation", "--forward-min-isvsvn", 16),
    ("collateral fetch", "--timeout", "seconds"),
]
