"""Which programs take which files: the tables the hostile-input tests run over.

Issue #11 sorts the failures it found into kinds; the tests of this folder
take every *entry point* (:data:`ENTRY_POINTS`: how to run it and read its
exit status and output) and every *command* of it (:data:`COMMANDS`: a good
invocation with each file argument named by a placeholder, what each file
argument is, and what an output may not be), and try each hostile thing on
each argument.

The entry points are ``migtd-tool`` (every command), ``migtd`` (the files its
environment names: ``MIGTD_POLICY_FILE``, ``MIGTD_ROOT_CA_FILE``,
``MIGTD_POLICY_ISSUER_CHAIN_FILE``, ``MIGTD_COLLATERAL_FILE``,
``MOCK_QUOTE_FILE``, and ``MIGTD_LOG_FILE`` as its output),
``migtd-console --replay`` (a saved run record) and ``./migtdemu.sh --both``
(its file options and ``MIGTD_COLLATERAL_FILE``; its log files, whose names
are fixed, and its numbers are in ``test_runner.py``). Adding another is
adding rows: an :class:`EntryPoint` (in process or as a subprocess) and
one :class:`Command` per way of calling it, whose ``argv``/``env`` name files
by ``{placeholder}`` (``migtd``'s ``MIGTD_POLICY_FILE`` is
``env={"MIGTD_POLICY_FILE": "{policy}"}``). A placeholder that is a key of
``inputs`` is replaced by a good file (:func:`tests.hostile.conftest.good_files`)
or, under test, by the hostile one; a key of ``outputs`` by a fresh path in the
test's folder; ``{scratch}`` by a folder of the test's own the program may use
(the console's settings and history).
"""

from __future__ import annotations

import contextlib
import io
import json
import os
import subprocess
import sys
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from migtd import paths


@dataclass(frozen=True)
class Outcome:
    """What a run left: its exit status and what it printed."""

    code: int
    stdout: str
    stderr: str


def stderr_lines(outcome: Outcome) -> list[str]:
    """The non-empty lines on stderr: for a tool, everything it says about an error."""
    return [line for line in outcome.stderr.splitlines() if line.strip()]


def printed_anything(outcome: Outcome) -> bool:
    """A tool did some work when it printed a result on stdout (errors go to stderr)."""
    return outcome.stdout != ""


def _migtd_records(outcome: Outcome) -> list[dict[str, object]]:
    """``migtd --log-format json``'s events (stderr); a line that is not one is kept as ``{"raw": line}``."""
    records: list[dict[str, object]] = []
    for line in outcome.stderr.splitlines():
        if not line.strip():
            continue
        try:
            record = json.loads(line)
        except ValueError:
            record = None
        records.append(record if isinstance(record, dict) else {"raw": line})
    return records


#: The first line of ``migtd``'s usage, which upstream prints after some refusals (a file not found).
MIGTD_USAGE = "MigTD AzCVMEmu Mode Usage:"


def migtd_error_lines(outcome: Outcome) -> list[str]:
    """The distinct sentences ``migtd`` says about a failure: a refusal printed on stdout (before its
    log starts, or with the usage after it, as upstream prints them), the ``exit`` event's reason,
    and any stderr line that is not an event (a traceback would be one)."""
    stdout = outcome.stdout.split(MIGTD_USAGE, 1)[0]
    lines = [line for line in stdout.splitlines() if line.strip()]
    for record in _migtd_records(outcome):
        if "raw" in record:
            lines.append(str(record["raw"]))
        elif record.get("event") == "exit" and record.get("code") != 0:
            lines.append(str(record.get("reason", record.get("msg", ""))))
    return list(dict.fromkeys(lines))


def migtd_configured(outcome: Outcome) -> bool:
    """``migtd`` went past its earlier checks (the ``config`` event) towards the network."""
    return any(record.get("event") == "config" for record in _migtd_records(outcome))


@dataclass(frozen=True)
class EntryPoint:
    """A program: ``run(argv, env)`` runs it to completion with a deadline and returns its :class:`Outcome`.

    ``prefix`` is how every line it prints about an error starts; ``error_lines``
    picks those lines out of an outcome (a program that also logs progress,
    like ``migtd``, passes a function keeping only its error records).
    ``did_work`` tells whether a run got past refusing its inputs. ``wording``
    gives, by kind, the words a hostile-file message may hold instead where
    the program keeps upstream's (``migtd``: "Policy file not found: …" for the
    files upstream names, "does not exist" for the others).
    """

    name: str
    run: Callable[[Sequence[str], Mapping[str, str]], Outcome]
    prefix: str
    error_lines: Callable[[Outcome], list[str]] = stderr_lines
    did_work: Callable[[Outcome], bool] = printed_anything
    wording: Mapping[str, tuple[str, ...]] = field(default_factory=dict)

    def says(self, kind: str, text: str, default: str) -> bool:
        """Whether ``text`` holds the words for a ``kind`` hostile file (``default``, or this program's own)."""
        return any(words in text for words in self.wording.get(kind, (default,)))


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


def runner_error_lines(outcome: Outcome) -> list[str]:
    """What ``./migtdemu.sh`` says about a failure: its own ``Error:`` lines (not the hints after them),
    the reason of a ``migtd`` it ran in the foreground that failed, and any traceback."""
    lines = []
    for line in outcome.stderr.splitlines():
        if line.startswith("Error:") or "Traceback" in line:
            lines.append(line)
        elif "MigTD exiting with " in line and "MigTD exiting with 0 " not in line:
            lines.append(line[line.index("MigTD exiting with "):])
    return list(dict.fromkeys(lines))


def runner_migrated(outcome: Outcome) -> bool:
    """``./migtdemu.sh`` got past its checks: its destination listened and it started the source."""
    return "is now listening" in outcome.stdout


#: The runner script of the checkout.
RUNNER = Path(__file__).resolve().parents[2] / "migtdemu.sh"
#: In a runner row's argv, a fresh loopback port for that run (``--both`` binds it).
PORT = "@PORT@"


def _run_runner(argv: Sequence[str], env: Mapping[str, str]) -> Outcome:
    """``bash migtdemu.sh ARGV[1:]`` run from the folder ``ARGV[0]`` (where it writes its log files), as a
    user runs it: the operator's environment without MigTD variables, plus ``env``; a hang fails the test."""
    import socket

    folder, *args = argv
    Path(folder).mkdir(parents=True, exist_ok=True)
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = str(s.getsockname()[1])
    clean = {k: v for k, v in os.environ.items() if not k.startswith(("MIGTD_", "MOCK_QUOTE", "RUST_LOG", "TSS2_"))}
    proc = subprocess.run(["bash", str(RUNNER), *(port if a == PORT else a for a in args)], cwd=folder,
                          capture_output=True, text=True, timeout=120, env={**clean, **env},
                          stdin=subprocess.DEVNULL, check=False)
    return Outcome(proc.returncode, proc.stdout, proc.stderr)


def _tool_main(argv: list[str]) -> int:
    from migtd.tool.main import main

    return main(argv)


_BIN = Path(sys.executable).parent

ENTRY_POINTS: dict[str, EntryPoint] = {
    "migtd-tool": EntryPoint("migtd-tool", in_process(_tool_main), "migtd-tool"),
    "migtd-tool (executable)": EntryPoint(
        "migtd-tool (executable)", as_subprocess([str(_BIN / "migtd-tool")]), "migtd-tool"),
    # the engine: one line is its refusal (stdout) or its exit event's reason; "" because upstream's
    # messages have no program prefix
    "migtd": EntryPoint("migtd", as_subprocess([str(_BIN / "migtd")]), "", migtd_error_lines, migtd_configured,
                        {"missing": ("file not found", "does not exist")}),
    "migtd-console": EntryPoint("migtd-console", as_subprocess([str(_BIN / "migtd-console")]), "migtd-console"),
    # the runner: its refusals are "Error: …" (upstream's wording, "… file not found: …" for a missing
    # file), and a run that went ahead ends with the reason its failing migtd gave
    "migtdemu.sh": EntryPoint("migtdemu.sh", _run_runner, "", runner_error_lines, runner_migrated,
                              {"missing": ("file not found",)}),
}


@dataclass(frozen=True)
class FileInput:
    """A file the command reads.

    ``good`` names the fixture file (:func:`conftest.good_files`) a normal run uses.
    ``nested`` is the exit status when the file is a 100 000-level nested JSON
    array (``[[[...]]]``, 200 KB): the JSON decoder's answer for a JSON input,
    the size limit's or the binary parser's for the others. ``suffix`` is the
    file name ending the program needs to take the argument as a file (the
    console's ``--replay`` takes ``*.json`` as a file, anything else as a run
    id); ``folder_ok`` marks an argument for which a folder is a valid value
    (fleet evidence, an Ansible inventory), so the directory case does not
    apply. ``empty`` is the exit status of an empty file where one is valid
    (an ssh config); ``damaged`` the status where a file that cannot be used
    is recorded and the command goes on (fleet evidence: the host is marked
    not attested, with one warning line naming the file and the problem).
    """

    good: str
    nested: int
    suffix: str = ""
    folder_ok: bool = False
    empty: int | None = None
    damaged: int | None = None


@dataclass(frozen=True)
class Command:
    """One way of calling an entry point, with its file arguments.

    ``outputs`` maps an output placeholder to a file name in the test's folder
    (a name without a dot is a folder). ``same_outputs`` are pairs of outputs
    the command must refuse to write to one file. ``records`` are outputs that
    are the run's own log (``MIGTD_LOG_FILE``): written even when an input is
    refused, since the refusal is what they must record.
    """

    entry: str
    name: str
    argv: tuple[str, ...]
    inputs: Mapping[str, FileInput]
    outputs: Mapping[str, str] = field(default_factory=dict)
    env: Mapping[str, str] = field(default_factory=dict)
    same_outputs: tuple[tuple[str, str], ...] = ()
    good_code: int = 0
    records: tuple[str, ...] = ()

    def render(self, files: Mapping[str, Path]) -> tuple[list[str], dict[str, str]]:
        """``argv`` and ``env`` with every ``{placeholder}`` replaced by its path."""
        names = {k: str(v) for k, v in files.items()}
        return [a.format(**names) for a in self.argv], {k: v.format(**names) for k, v in self.env.items()}


# The exit statuses, by name (MigrationResult; 3 is fleet collect's "some hosts have no evidence").
OK, USAGE, INCOMPLETE, NETWORK, ATTEST, UNSATISFIED, INVALID_POLICY = 0, 1, 3, 5, 7, 8, 9

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
    Command(_T, "evidence collect",
            ("evidence", "collect", "--out", "{out}", "--attestation", "mock-report", "--policy", "{policy}",
             "--root-ca", "{root_ca}", "--mock-quote-file", "{quote}", "--host-name", "h1"),
            {"policy": FileInput("policy_v1", INVALID_POLICY), "root_ca": FileInput("root_ca", USAGE),
             "quote": FileInput("quote", USAGE)},
            outputs={"out": "h1.evidence.json"}),
    Command(_T, "evidence show", ("evidence", "show", "{evidence}"), {"evidence": FileInput("evidence", USAGE)}),
    Command(_T, "fleet hosts", ("fleet", "hosts", "-i", "{inventory}", "--inventory-reader", "builtin"),
            {"inventory": FileInput("inventory", USAGE, folder_ok=True)}),
    Command(_T, "fleet collect",
            ("fleet", "collect", "-i", "{inventory}", "--inventory-reader", "builtin", "-F", "{ssh_config}",
             "--out-dir", "{out_dir}", "--timeout", "20", "--quiet"),
            # an empty ssh config is a valid one, and ssh itself judges (and names, per host) a bad one
            {"inventory": FileInput("inventory", USAGE, folder_ok=True),
             "ssh_config": FileInput("ssh_config", INCOMPLETE, empty=INCOMPLETE)},
            outputs={"out_dir": "collected"}, good_code=INCOMPLETE),   # the one host's sshd port is closed
    Command(_T, "fleet matrix",
            ("fleet", "matrix", "{evidence}", "--policy", "{policy}", "--root-ca", "{root_ca}", "--collateral",
             "{collateral}", "--json", "{json_out}", "--csv", "{csv_out}", "--quiet", "--jobs", "1"),
            {"evidence": FileInput("evidence", OK, folder_ok=True, damaged=OK),
             "policy": FileInput("policy_v1", INVALID_POLICY),
             "root_ca": FileInput("root_ca", USAGE), "collateral": FileInput("collateral", USAGE)},
            outputs={"json_out": "matrix.json", "csv_out": "matrix.csv"}, same_outputs=(("json_out", "csv_out"),)),
    Command(_T, "fleet diff",
            ("fleet", "diff", "{evidence}", "--before", "{before}", "--after", "{after}", "--root-ca", "{root_ca}",
             "--collateral", "{collateral}", "--markdown", "{md_out}", "--json", "{json_out}", "--quiet",
             "--jobs", "1"),
            {"evidence": FileInput("evidence", OK, folder_ok=True, damaged=OK),
             "before": FileInput("policy_v1", INVALID_POLICY),
             "after": FileInput("template_v1", INVALID_POLICY), "root_ca": FileInput("root_ca", USAGE),
             "collateral": FileInput("collateral", USAGE)},
            outputs={"md_out": "diff.md", "json_out": "diff.json"}, same_outputs=(("md_out", "json_out"),)),
    Command(_T, "fleet synth", ("fleet", "synth", "--out-dir", "{out_dir}", "--hosts", "2", "--profiles", "1"), {},
            outputs={"out_dir": "synth"}),
]

# ``migtd`` as a destination on an ephemeral port with a 1-second deadline: a good start ends in
# NetworkError (5, nobody connected); every refused input ends at once, before the network, in 1
# (or 9 for an own v2 policy that does not verify). A v1 policy is only parsed when a peer is judged
# (upstream reads it then): a nested one still ends in 5 here, and in 9 with a peer (kind 8).
_M = "migtd"
_MIGTD = ("-m", "dst", "--attestation", "mock-report", "-t", "0", "--timeout", "1", "--log-format", "json")
_LOG = {"MIGTD_LOG_FILE": "{log}"}

COMMANDS += [
    Command(_M, "migtd (policy v1)", _MIGTD,
            {"policy": FileInput("policy_v1", NETWORK), "root_ca": FileInput("root_ca", USAGE),
             "collateral": FileInput("collateral", USAGE)},
            outputs={"log": "migtd.log"}, records=("log",), good_code=NETWORK,
            env={"MIGTD_POLICY_FILE": "{policy}", "MIGTD_ROOT_CA_FILE": "{root_ca}",
                 "MIGTD_COLLATERAL_FILE": "{collateral}", **_LOG}),
    Command(_M, "migtd (MOCK_QUOTE_FILE)", _MIGTD,
            {"quote": FileInput("quote", USAGE), "root_ca": FileInput("root_ca", USAGE),
             "collateral": FileInput("collateral", USAGE)},
            outputs={"log": "migtd.log"}, records=("log",), good_code=NETWORK,
            env={"MIGTD_POLICY_FILE": str(paths.default_policy()), "MOCK_QUOTE_FILE": "{quote}",
                 "MIGTD_ROOT_CA_FILE": "{root_ca}",
                 "MIGTD_COLLATERAL_FILE": "{collateral}", **_LOG}),
    Command(_M, "migtd (policy v2)", (*_MIGTD, "--policy-version", "2"),
            {"policy": FileInput("policy_v2", INVALID_POLICY), "chain": FileInput("chain_v2", USAGE)},
            outputs={"log": "migtd.log"}, records=("log",), good_code=NETWORK,
            env={"MIGTD_POLICY_FILE": "{policy}", "MIGTD_POLICY_ISSUER_CHAIN_FILE": "{chain}", **_LOG}),
    # the console replaying a saved run, headless, quitting at once (q): 0 for a run that succeeded
    Command("migtd-console", "migtd-console --replay", ("--replay", "{record}"),
            {"record": FileInput("run_record", USAGE, suffix=".json")},
            env={"XDG_STATE_HOME": "{scratch}/state", "XDG_CONFIG_HOME": "{scratch}/config",
                 "XDG_DATA_HOME": "{scratch}/data", "TEXTUAL_DRIVER": "textual.drivers.headless_driver:HeadlessDriver",
                 "TEXTUAL_PRESS": "q"}),
]


# ``./migtdemu.sh --both`` (a whole migration on a fresh port, from the test's folder): the planner
# refuses every hostile file before anything starts, with migtd's own limits (exit 1), except where
# only migtd can judge the content: a nested collateral or mock quote (migtd refuses it at start-up;
# the runner reports the destination's reason and code), a nested own policy v2 (9, the same way),
# and a nested policy v1, which is valid to the planner and to migtd's start-up but, 200 KB long,
# travels in each side's certificate (its event log) and makes the TLS handshake message too large
# (6, "excessive message size"; rustls's limit for one handshake message is 64 KiB as well).
SECURE_SESSION = 6
_R = "migtdemu.sh"
_BOTH = ("{scratch}", "--both", "--no-sudo", "-p", PORT)
_COLLATERAL = {"MIGTD_COLLATERAL_FILE": "{collateral}"}

COMMANDS += [
    Command(_R, "migtdemu.sh --mock-report", (*_BOTH, "--mock-report", "--policy-file", "{policy}",
                                              "--root-ca-file", "{root_ca}"),
            {"policy": FileInput("policy_v1", SECURE_SESSION), "root_ca": FileInput("root_ca", USAGE),
             "collateral": FileInput("collateral", USAGE)}, env=_COLLATERAL),
    Command(_R, "migtdemu.sh --mock-quote-file", (*_BOTH, "--mock-quote-file", "{quote}",
                                                  "--root-ca-file", str(paths.mock_root_ca())),
            {"quote": FileInput("quote", USAGE)}, env={"MIGTD_COLLATERAL_FILE": str(paths.mock_collateral())}),
    Command(_R, "migtdemu.sh --policy-v2 --mock-report",
            (*_BOTH, "--policy-v2", "--mock-report", "--policy-file", "{policy}",
             "--policy-issuer-chain-file", "{chain}"),
            {"policy": FileInput("policy_v2", INVALID_POLICY), "chain": FileInput("chain_v2", USAGE)}),
]


def command(name: str) -> Command:
    """The row called ``name``."""
    for c in COMMANDS:
        if c.name == name:
            return c
    raise KeyError(name)


#: Every integer or duration flag of every ``migtd-tool`` command:
#: (command name, flag, bits or "seconds", smallest and largest accepted value).
INTEGER_FLAGS: list[tuple[str, str, int | str, int, int]] = [
    ("policy generate-v2", "--policy-svn", 32, 0, 2**32 - 1),
    ("policy generate-v2", "--forward-min-isvsvn", 16, 0, 2**16 - 1),
    ("policy generate-rotation", "--policy-svn", 32, 0, 2**32 - 1),
    ("policy generate-rotation", "--forward-min-isvsvn", 16, 0, 2**16 - 1),
    ("collateral fetch", "--timeout", "seconds", 0, 3600),
    ("evidence collect", "--timeout", "seconds", 0, 86400),
    ("fleet collect", "--concurrency", 32, 1, 1024),
    ("fleet collect", "--timeout", "seconds", 0, 86400),
    ("fleet matrix", "--jobs", 32, 1, 64),
    ("fleet diff", "--jobs", 32, 1, 64),
    ("fleet synth", "--hosts", 32, 1, 100_000),
    ("fleet synth", "--profiles", 32, 1, 10_000),
    ("fleet synth", "--seed", 32, 0, 2**32 - 1),
]
