"""Command-line parity with upstream (protocol.md §1.2–1.5) and our additions.

Pins: every option's long/short form, aliases and defaults (§1.2 table);
the exact one-line messages on stdout followed by the usage and exit 1 for a
bad value; "Unknown argument: X" then usage and exit 0; an option lacking its
value is unknown; -h/--help exit 0 before env checks; §1.4 env/file messages
and limits; §1.3 help sections. Additions: --attestation, --policy-version,
--log-format, --timeout, --version and their MIGTD_* twins.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from migtd.cli import main
from migtd.cli.args import USAGE, CliExit, parse_args
from migtd.cli.config import merge_env
from migtd.inputs import parse_uint as rust_uint


def run(capsys, argv: list[str], env: dict[str, str]) -> tuple[int, list[str], str]:
    code = main(argv, env)
    out, err = capsys.readouterr()
    return code, out.splitlines(), err


def test_defaults() -> None:
    o = merge_env(parse_args([]), {})
    assert (o.request_id, o.is_source, o.operation, o.uuid, o.binding, o.dest_ip, o.dest_port) == (
        1, True, "migration", (1, 2, 3, 4), 0x1234, "127.0.0.1", 8001)
    assert (o.attestation, o.policy_version, o.log_format, o.timeout) == ("azure", 1, "text", 60.0)


@pytest.mark.parametrize(("argv", "attr", "value"), [
    (["-r", "42"], "request_id", 42), (["--request-id", "+7"], "request_id", 7),
    (["--request-id", "18446744073709551615"], "request_id", 2**64 - 1),
    (["-m", "dst"], "is_source", False), (["--role", "TARGET"], "is_source", False),
    (["--role", "Destination"], "is_source", False), (["-m", "src"], "is_source", True),
    (["-o", "mig"], "operation", "migration"), (["--operation", "RP"], "operation", "rebind-prepare"),
    (["-o", "rebind_finalize"], "operation", "rebind-finalize"), (["-o", "rf"], "operation", "rebind-finalize"),
    (["-u", "9", "8", "7", "4294967295"], "uuid", (9, 8, 7, 2**32 - 1)),
    (["-b", "0xFF"], "binding", 255), (["--binding", "0Xff"], "binding", 255), (["-b", "255"], "binding", 255),
    (["-d", "10.0.0.1"], "dest_ip", "10.0.0.1"), (["--dest-ip", "::1"], "dest_ip", "::1"),
    (["-t", "65535"], "dest_port", 65535), (["--dest-port", "1"], "dest_port", 1),
    (["-r", "1", "-r", "2"], "request_id", 2),  # later occurrences win
    (["--attestation", "skip-ra"], "attestation", "skip-ra"),
    (["--attestation", "MOCK-REPORT"], "attestation", "mock-report"),
    (["--policy-version", "2"], "policy_version", 2), (["--log-format", "json"], "log_format", "json"),
    (["--timeout", "2.5"], "timeout", 2.5),
])
def test_each_flag(argv: list[str], attr: str, value: object) -> None:
    assert getattr(parse_args(argv), attr) == value


@pytest.mark.parametrize(("argv", "line"), [
    (["-r", "0x10"], "Invalid request ID value: 0x10"),
    (["-r", "-1"], "Invalid request ID value: -1"),
    (["-r", "18446744073709551616"], "Invalid request ID value: 18446744073709551616"),
    (["-m", "sideways"], "Invalid role value: sideways. Use 'source' or 'destination'"),
    (["-o", "copy"], "Invalid operation: copy. Use 'migration', 'rebind-prepare', or 'rebind-finalize'"),
    (["-u", "1", "2", "3", "4294967296"], "Invalid UUID values. Expected 4 unsigned integers"),
    (["-u", "1", "2", "x", "4"], "Invalid UUID values. Expected 4 unsigned integers"),
    (["-b", "0xZZ"], "Invalid binding handle value: 0xZZ"),
    (["-b", "12ab"], "Invalid binding handle value: 12ab"),
    (["-t", "65536"], "Invalid destination port value: 65536"),
    (["--attestation", "tpm"], "Invalid attestation mode: tpm. Use 'azure', 'mock-report' or 'skip-ra'"),
    (["--policy-version", "3"], "Invalid policy version: 3. Use 1 or 2"),
    (["--log-format", "xml"], "Invalid log format: xml. Use 'text' or 'json'"),
    (["--timeout", "0"], "Invalid timeout: 0. Use a number of seconds between 0 and 86400"),
])
def test_bad_values_print_one_line_usage_and_exit_1(capsys, argv: list[str], line: str) -> None:
    code, out, err = run(capsys, argv, {})
    assert code == 1
    assert out[0] == line
    assert out[1] == "MigTD AzCVMEmu Mode Usage:"
    assert "Traceback" not in err


def test_unknown_arguments_are_all_listed_then_usage_exit_0(capsys) -> None:
    code, out, _ = run(capsys, ["--frobnicate", "-r", "5", "extra"], {})
    assert code == 0
    assert out[:3] == ["Unknown argument: --frobnicate", "Unknown argument: extra", "MigTD AzCVMEmu Mode Usage:"]


@pytest.mark.parametrize("argv", [["-r"], ["--dest-port"], ["-u", "1", "2", "3"], ["--timeout"]])
def test_option_without_its_value_is_unknown(capsys, argv: list[str]) -> None:
    code, out, _ = run(capsys, argv, {})
    assert code == 0 and out[0] == f"Unknown argument: {argv[0]}"


@pytest.mark.parametrize("flag", ["-h", "--help"])
def test_help_exits_0_before_env_checks(capsys, flag: str) -> None:
    code, out, _ = run(capsys, [flag], {})
    assert code == 0
    text = "\n".join(out)
    for section in ("MigTD AzCVMEmu Mode Usage:", "Required Environment Variables:",
                    "Command Line Options:", "Examples:", "MigTD-Py Options:"):
        assert section in text
    for opt in ("--request-id", "--role", "--operation", "--uuid", "--binding", "--dest-ip",
                "--dest-port", "--help", "--attestation", "--policy-version", "--log-format",
                "--timeout", "--version", "MIGTD_POLICY_FILE", "MIGTD_ROOT_CA_FILE",
                "MIGTD_POLICY_ISSUER_CHAIN_FILE", "MIGTD_LOG_FILE", "MOCK_QUOTE_FILE"):
        assert opt in text
    assert text + "\n" == USAGE


def test_help_names_every_environment_variable_the_engine_reads() -> None:
    """Each MIGTD_*/MOCK_*/TSS2_*/RUST_* name the engine's code mentions is in --help (not migtd-tool's)."""
    import re
    from pathlib import Path

    import migtd

    root = Path(migtd.__file__).parent
    names = set()
    for path in root.rglob("*.py"):
        if "tool" not in path.relative_to(root).parts:
            names |= set(re.findall(r'(?<![\w.])"((?:MIGTD|MOCK|TSS2|RUST)_[A-Z0-9_]+)"', path.read_text()))
    assert {"MIGTD_IMDS_URL", "TSS2_TCTI", "MIGTD_VTPM_SETTLE"} <= names
    assert sorted(n for n in names if n not in USAGE) == []


def test_help_keeps_scanning_like_upstream(capsys) -> None:
    code, out, _ = run(capsys, ["-h", "-m", "sideways"], {})
    assert code == 1 and out[0].startswith("Invalid role value: sideways")
    code, out, _ = run(capsys, ["--help", "-r", "5", "--bogus"], {})
    assert code == 0 and out[0] == "Unknown argument: --bogus"


def test_version(capsys) -> None:
    code, out, _ = run(capsys, ["--version"], {})
    assert code == 0 and out[0].startswith("migtd 0.1.0")


def test_rust_uint_rules() -> None:
    assert rust_uint("+5", 8) == 5 and rust_uint("255", 8) == 255
    assert rust_uint("256", 8) is None and rust_uint("", 8) is None and rust_uint("+", 8) is None
    assert rust_uint(" 5", 8) is None and rust_uint("5_0", 16) is None
    assert rust_uint("fF", 16, 16) == 255


def test_env_twins_and_bad_env_values(capsys) -> None:
    o = merge_env(parse_args([]), {"MIGTD_ATTESTATION": "skip-ra", "MIGTD_POLICY_VERSION": "2",
                                   "MIGTD_LOG_FORMAT": "json", "MIGTD_TIMEOUT": "3"})
    assert (o.attestation, o.policy_version, o.log_format, o.timeout) == ("skip-ra", 2, "json", 3.0)
    o = merge_env(parse_args(["--attestation", "azure"]), {"MIGTD_ATTESTATION": "skip-ra"})
    assert o.attestation == "azure"  # the flag wins
    with pytest.raises(CliExit) as err:
        merge_env(parse_args([]), {"MIGTD_TIMEOUT": "soon"})
    assert err.value.code == 1 and err.value.lines[0].startswith("Invalid MIGTD_TIMEOUT value: soon")


@pytest.fixture
def files(tmp_path: Path) -> dict[str, str]:
    (tmp_path / "p.json").write_text("{}")
    (tmp_path / "ca.der").write_bytes(b"\x30\x00")
    (tmp_path / "chain.pem").write_text("chain")
    return {"MIGTD_POLICY_FILE": str(tmp_path / "p.json"), "MIGTD_ROOT_CA_FILE": str(tmp_path / "ca.der"),
            "MIGTD_ATTESTATION": "skip-ra", "MIGTD_TIMEOUT": "0.5",
            "MIGTD_POLICY_ISSUER_CHAIN_FILE": str(tmp_path / "chain.pem")}


@pytest.mark.parametrize(("drop", "change", "line"), [
    ("MIGTD_POLICY_FILE", {}, "MIGTD_POLICY_FILE environment variable not set"),
    ("MIGTD_ROOT_CA_FILE", {}, "MIGTD_ROOT_CA_FILE environment variable not set"),
    (None, {"MIGTD_POLICY_FILE": "/nonexistent/p.json"}, "Policy file not found: /nonexistent/p.json"),
    (None, {"MIGTD_ROOT_CA_FILE": "/nonexistent/ca"}, "Root CA file not found: /nonexistent/ca"),
])
def test_missing_env_or_file_prints_upstream_line_and_usage(capsys, files, drop, change, line) -> None:
    env = dict(files, **change)
    env.pop(drop or "", None)
    code, out, err = run(capsys, ["-m", "dst", "-t", "1"], env)  # port 1 would fail to bind: never reached
    assert code == 1
    assert out[0] == line and out[1] == "MigTD AzCVMEmu Mode Usage:"
    assert "Failed to bind" not in err and "TCP server started" not in err


def test_policy_v2_needs_issuer_chain_not_root_ca(capsys, files) -> None:
    env = dict(files, MIGTD_POLICY_ISSUER_CHAIN_FILE="/nonexistent/chain")
    code, out, _ = run(capsys, ["--policy-version", "2"], env)
    assert code == 1 and out[0] == "Policy issuer chain file not found: /nonexistent/chain"
    env.pop("MIGTD_POLICY_ISSUER_CHAIN_FILE")
    code, out, err = run(capsys, ["--policy-version", "2"], env)
    assert code == 1 and out == [] and "MIGTD_POLICY_ISSUER_CHAIN_FILE environment variable not set" in err


@pytest.mark.parametrize(("var", "content", "problem"), [
    ("MIGTD_POLICY_FILE", b"", "is empty"),
    ("MIGTD_ROOT_CA_FILE", b"x" * 4097, "above the 4096-byte limit"),
    ("MOCK_QUOTE_FILE", b"", "is empty"),
])
def test_file_rules(capsys, files, tmp_path, var, content, problem) -> None:
    bad = tmp_path / "bad.bin"
    bad.write_bytes(content)
    code, _, err = run(capsys, [], dict(files, **{var: str(bad)}))
    assert code == 1 and problem in err and "Failed to initialize file-based emulation" in err


def test_directory_is_not_a_regular_file(capsys, files, tmp_path) -> None:
    code, _, err = run(capsys, [], dict(files, MIGTD_POLICY_FILE=str(tmp_path)))
    assert code == 1 and "is not a regular file" in err


def test_empty_ip_is_exit_1(capsys, files) -> None:
    code, _, err = run(capsys, ["-d", ""], files)
    assert code == 1 and "IP address cannot be empty" in err


def test_bad_emulation_env_is_exit_1(capsys, files) -> None:
    for var, val in (("MIGTD_EMU_MIG_VERSION", "a-b"), ("MIGTD_EMU_MSK", "weak"), ("MIGTD_QUOTE_FAILURES", "x")):
        code, _, err = run(capsys, [], dict(files, **{var: val}))
        assert code == 1 and var in err


def test_azure_without_a_tpm_is_one_line_before_networking(capsys, files, port) -> None:
    """An attestation mode that cannot start fails at set-up: one line, its code, no connect attempt."""
    from migtd import paths

    # a complete configuration (azure names its collateral), but nothing listens on TPM port 1
    env = dict(files, TSS2_TCTI="swtpm:host=127.0.0.1,port=1", MIGTD_COLLATERAL_FILE=str(paths.mock_collateral()))
    code, _, err = run(capsys, ["--attestation", "azure", "-m", "src", "-t", str(port)], env)
    # 4 (TdxModuleError) from the vTPM; 1 with the install hint where tpm2-pytss is absent
    assert (code, "cannot open the TPM" in err) == (4, True) or (code, "needs tpm2-pytss" in err) == (1, True)
    assert "Traceback" not in err and len([ln for ln in err.splitlines() if ln.startswith("ERROR")]) == 2
    assert "Failed to connect" not in err and "Connected to peer" not in err


def test_json_config_error_still_ends_with_exit_event(capsys, files) -> None:
    env = dict(files, MIGTD_LOG_FORMAT="json")
    env.pop("MIGTD_POLICY_FILE")
    code, _, err = run(capsys, [], env)
    events = [json.loads(line) for line in err.splitlines()]
    assert code == 1 and events[0]["event"] == "start" and events[-1]["event"] == "exit"
    assert events[-1]["code"] == 1 and events[-1]["result"] == "InvalidParameter"


def test_refused_connection_is_exit_1_after_retrying_until_timeout(capsys, files, port) -> None:
    import time

    start = time.monotonic()
    code, _, err = run(capsys, ["-m", "src", "-t", str(port)], files)  # MIGTD_TIMEOUT=0.5
    assert code == 1 and f"Failed to connect to destination server at 127.0.0.1:{port}" in err
    assert 0.4 < time.monotonic() - start < 5


def test_port_in_use_is_exit_1(capsys, files) -> None:
    import socket

    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen(1)
        code, _, err = run(capsys, ["-m", "dst", "-t", str(busy.getsockname()[1])], files)
    assert code == 1 and "address already in use" in err


def test_log_file_tee(capsys, files, tmp_path) -> None:
    log = tmp_path / "run.log"
    env = dict(files, MIGTD_LOG_FILE=str(log))
    env.pop("MIGTD_POLICY_FILE")
    code, _, err = run(capsys, [], env)
    assert code == 1 and log.read_text() == err
    code, out, _ = run(capsys, [], dict(env, MIGTD_LOG_FILE=str(tmp_path / "no" / "dir.log")))
    assert code == 1 and out[0].startswith("Cannot open MIGTD_LOG_FILE")


def test_log_file_write_failure_keeps_the_run_and_its_exit_code(capsys, files) -> None:
    """/dev/full opens but every write fails (ENOSPC): one warning on stderr, the run goes on."""
    env = dict(files, MIGTD_LOG_FILE="/dev/full")
    env.pop("MIGTD_POLICY_FILE")
    code, _, err = run(capsys, [], env)
    assert code == 1 and "Traceback" not in err
    assert "MIGTD_LOG_FILE: write failed" in err and "MigTD exiting with 1" in err.splitlines()[-1]


@pytest.mark.parametrize("cmd", [[sys.executable, "-m", "migtd"], ["migtd"]])
def test_entry_points_exit_status(cmd: list[str]) -> None:
    if cmd == ["migtd"]:
        cmd = [str(Path(sys.executable).with_name("migtd"))]
    done = subprocess.run(cmd + ["-m", "bogus"], check=False, capture_output=True, text=True, timeout=30)
    assert done.returncode == 1 and done.stdout.startswith("Invalid role value: bogus")
    assert done.stderr == ""


def test_closed_stdout_and_stderr_never_give_a_traceback(files, tmp_path) -> None:
    """`migtd -h >&-` and `migtd 2>&-` (console launchers may close pipes early)."""
    shell = subprocess.run(["sh", "-c", '"$0" -m migtd -h >&- 2>"$1"; echo $?', sys.executable,
                            str(tmp_path / "err.txt")], check=False, capture_output=True, text=True, timeout=30)
    assert shell.stdout.strip() == "0" and (tmp_path / "err.txt").read_text() == ""
    log = tmp_path / "tee.log"
    env = dict(os.environ, **files, MIGTD_LOG_FILE=str(log))
    shell = subprocess.run(["sh", "-c", '"$0" -m migtd -m dst -t 0 --timeout 0.3 2>&-; echo $?', sys.executable],
                           check=False, capture_output=True, text=True, timeout=30, env=env)
    assert shell.stdout.strip() == "5"
    assert "no source connected" in log.read_text().splitlines()[-1]
