"""What ``migtd`` refuses before it touches the network (issue #11, kinds 1, 5 and 6; README "Earlier checks").

* Kind 1 — an output is never an input: ``MIGTD_LOG_FILE`` naming any file of
  the run (by device and inode: the same path, a symlink, a hard link; the
  mode's default files included) is refused with exit 1 and the file is left
  untouched.
* Kind 5 — integers and durations in flags and environment variables follow
  one parser (Rust's rules): thousands of digits, Unicode digits,
  underscores are one line and exit 1, at once.
* Kind 6 — a malformed ``MOCK_QUOTE_FILE``, a migration-version range that
  does not fit the u16 wire field, rebinding without policy v2 or in a mode
  without rebinding: exit 1 before listening, one line.

Every case runs ``migtd``'s ``main`` in process as a destination with JSON
events; reaching the network would show as a ``listening`` event.
"""

from __future__ import annotations

import json
import os
import shutil
import time
from pathlib import Path

import pytest

from migtd import paths
from migtd.cli import main


@pytest.fixture
def env(tmp_path: Path) -> dict[str, str]:
    (tmp_path / "policy.json").write_text('{"id": "earlier-checks"}')
    (tmp_path / "root_ca.der").write_bytes(b"\x30\x03\x02\x01\x01")
    (tmp_path / "chain.pem").write_text("chain")
    return {"MIGTD_POLICY_FILE": str(tmp_path / "policy.json"), "MIGTD_ROOT_CA_FILE": str(tmp_path / "root_ca.der"),
            "MIGTD_POLICY_ISSUER_CHAIN_FILE": str(tmp_path / "chain.pem"), "MIGTD_ATTESTATION": "skip-ra",
            "MIGTD_LOG_FORMAT": "json", "MIGTD_TIMEOUT": "0.3"}


def run(capsys: pytest.CaptureFixture[str], argv: list[str], env: dict[str, str]) -> tuple[int, str, list[dict]]:
    start = time.monotonic()
    code = main(["-m", "dst", "-t", "0", *argv], env)
    assert time.monotonic() - start < 5  # refused at once, never after a network wait
    out, err = capsys.readouterr()
    assert "Traceback" not in out + err
    return code, out, [json.loads(line) for line in err.splitlines() if line.startswith("{")]


def refused_before_network(code: int, events: list[dict], reason_part: str) -> None:
    assert code == 1
    names = [e["event"] for e in events]
    assert "listening" not in names and "connected" not in names
    assert reason_part in events[-1]["reason"], events[-1]["reason"]


# ---------------------------------------------------------------- kind 1: outputs are never inputs

@pytest.mark.parametrize("var", ["MIGTD_POLICY_FILE", "MIGTD_ROOT_CA_FILE", "MIGTD_POLICY_ISSUER_CHAIN_FILE",
                                 "MIGTD_COLLATERAL_FILE", "MOCK_QUOTE_FILE"])
@pytest.mark.parametrize("how", ["same path", "symlink", "hard link"])
def test_log_file_naming_an_input_is_refused_and_the_input_kept(capsys, env, tmp_path, var, how) -> None:  # type: ignore[no-untyped-def]
    target = Path(env.get(var) or tmp_path / f"{var.lower()}.bin")
    if not target.exists():
        target.write_bytes(b"an input of the run")
    env[var] = str(target)
    before = target.read_bytes()
    log = tmp_path / "run.log"
    if how == "symlink":
        log.symlink_to(target)
    elif how == "hard link":
        os.link(target, log)
    else:
        log = target
    code, out, events = run(capsys, [], dict(env, MIGTD_LOG_FILE=str(log)))
    assert code == 1 and events == []
    assert "refusing to overwrite an input" in out and len(out.splitlines()) == 1
    assert target.read_bytes() == before


def test_log_file_naming_a_default_input_of_the_mode_is_refused(procs, env, tmp_path) -> None:  # type: ignore[no-untyped-def]
    """mock-report reads the mock QE's keys from MIGTD_CONFIG_DIR/mock: none of them may become the log.

    A process of its own: MIGTD_CONFIG_DIR is read from the process environment.
    """
    config = tmp_path / "config"
    shutil.copytree(paths.config_dir(), config)
    key = config / "mock" / "attestation_key.pem"
    before = key.read_bytes()
    run_env = {**os.environ, **env, "MIGTD_ATTESTATION": "mock-report", "MIGTD_CONFIG_DIR": str(config),
               "MIGTD_LOG_FILE": str(key)}
    done = procs.finish(procs.start(["-m", "dst", "-t", "0"], run_env))
    assert done.code == 1 and "is the mock QE file attestation_key.pem" in done.stdout, done.stdout + done.stderr
    assert key.read_bytes() == before


def test_a_log_file_that_is_no_input_is_written(capsys, env, tmp_path) -> None:  # type: ignore[no-untyped-def]
    log = tmp_path / "run.log"
    log.write_text("old content\n")
    code, _, _ = run(capsys, [], dict(env, MIGTD_LOG_FILE=str(log)))
    assert code == 5  # nobody connected within 0.3 s
    lines = log.read_text().splitlines()
    assert "old content" not in lines and json.loads(lines[-1])["event"] == "exit"


# ---------------------------------------------------------------- kind 5: one integer parser

@pytest.mark.parametrize(("argv", "line"), [
    (["-r", "1" * 5000], "Invalid request ID value: 1111"),
    (["-r", "\u0663"], "Invalid request ID value: \u0663"),
    (["-t", "\u0661\u0662"], "Invalid destination port value: \u0661\u0662"),
    (["-u", "1", "2", "3", "\u0664"], "Invalid UUID values. Expected 4 unsigned integers"),
    (["-b", "0x" + "f" * 3000], "Invalid binding handle value: 0xfff"),
    (["-b", "1_000"], "Invalid binding handle value: 1_000"),
    (["--timeout", "\u0661"], "Invalid timeout: \u0661."),
    (["--timeout", "1_0"], "Invalid timeout: 1_0."),
    (["--timeout", "9" * 5000], "Invalid timeout: 9999"),
    (["--timeout", "nan"], "Invalid timeout: nan."),
])
def test_hostile_numbers_in_flags_are_one_line_and_exit_1(capsys, env, argv, line) -> None:  # type: ignore[no-untyped-def]
    start = time.monotonic()
    code = main(argv, env)
    out, err = capsys.readouterr()
    assert code == 1 and out.splitlines()[0].startswith(line)
    assert "Traceback" not in out + err and time.monotonic() - start < 2


@pytest.mark.parametrize(("var", "value"), [
    ("MIGTD_TIMEOUT", "\u0663"), ("MIGTD_TIMEOUT", "1" * 5000),
    ("MIGTD_QUOTE_FAILURES", "\u00b2"), ("MIGTD_QUOTE_FAILURES", "9" * 5000),
    ("MIGTD_EMU_MIG_VERSION", "\u0663-\u0664"), ("MIGTD_EMU_MIG_VERSION", "0-" + "9" * 5000),
])
def test_hostile_numbers_in_the_environment_are_one_line_and_exit_1(capsys, env, var, value) -> None:  # type: ignore[no-untyped-def]
    start = time.monotonic()
    code = main(["-m", "dst", "-t", "0"], dict(env, **{var: value}))
    out, err = capsys.readouterr()
    assert code == 1 and var in out + err
    assert "Traceback" not in out + err and time.monotonic() - start < 2
    assert '"event":"listening"' not in err


# ---------------------------------------------------------------- kind 6: checked before the network

@pytest.mark.parametrize("mode", ["mock-report", "skip-ra"])
def test_malformed_mock_quote_file_is_refused_before_listening(capsys, env, tmp_path, mode) -> None:  # type: ignore[no-untyped-def]
    junk = tmp_path / "quote.bin"
    junk.write_bytes(b"\x04\x00" + bytes(28))
    extra = {"MIGTD_COLLATERAL_FILE": str(paths.mock_collateral())} if mode == "mock-report" else {}
    code, _, events = run(capsys, [], dict(env, MIGTD_ATTESTATION=mode, MOCK_QUOTE_FILE=str(junk), **extra))
    refused_before_network(code, events, "is not a TD quote")


def test_a_good_mock_quote_file_passes_the_check(capsys, env, tmp_path) -> None:  # type: ignore[no-untyped-def]
    quote = tmp_path / "quote.bin"
    quote.write_bytes((paths.mock_dir() / "sample_quote.bin").read_bytes())
    code, _, events = run(capsys, [], dict(env, MOCK_QUOTE_FILE=str(quote)))
    assert code == 5 and "listening" in [e["event"] for e in events]  # it got as far as waiting for a peer


@pytest.mark.parametrize(("value", "problem"), [("0-65536", "from 0 to 65535"), ("70000", "from 0 to 65535"),
                                                ("3-1", "MIN is above MAX"), ("1-2-3", "MIN-MAX")])
def test_version_range_must_fit_the_wire_before_listening(capsys, env, value, problem) -> None:  # type: ignore[no-untyped-def]
    code, _, events = run(capsys, [], dict(env, MIGTD_EMU_MIG_VERSION=value))
    refused_before_network(code, events, problem)


def test_the_largest_version_range_is_accepted(capsys, env) -> None:  # type: ignore[no-untyped-def]
    code, _, events = run(capsys, [], dict(env, MIGTD_EMU_MIG_VERSION="0-65535"))
    assert code == 5 and "listening" in [e["event"] for e in events]


@pytest.mark.parametrize(("argv", "extra", "problem"), [
    (["-o", "rebind-prepare"], {}, "needs --policy-version 2"),
    (["-o", "rf"], {}, "needs --policy-version 2"),
])
def test_rebinding_that_cannot_work_is_refused_before_listening(capsys, env, argv, extra, problem) -> None:  # type: ignore[no-untyped-def]
    code, _, events = run(capsys, argv, dict(env, **extra))
    refused_before_network(code, events, problem)


def test_azure_without_its_collateral_is_refused_before_listening(capsys, env) -> None:  # type: ignore[no-untyped-def]
    code, _, events = run(capsys, ["--attestation", "azure"], env)
    refused_before_network(code, events, "MIGTD_COLLATERAL_FILE must name the collateral")


def test_a_collateral_source_stands_in_for_the_collateral_and_is_checked_before_listening(  # type: ignore[no-untyped-def]
        capsys, env, tmp_path) -> None:
    quote = tmp_path / "quote.bin"
    quote.write_bytes((paths.mock_dir() / "sample_quote.bin").read_bytes())
    captured = dict(env, MIGTD_ATTESTATION="mock-report", MOCK_QUOTE_FILE=str(quote),
                    MIGTD_ROOT_CA_FILE=str(paths.mock_root_ca()))
    code, _, events = run(capsys, [], captured)
    refused_before_network(code, events, "MIGTD_COLLATERAL_FILE must name its collateral")
    code, _, events = run(capsys, [], dict(captured, MIGTD_COLLATERAL_SOURCE="ftp://nowhere"))
    refused_before_network(code, events, "Invalid MIGTD_COLLATERAL_SOURCE")
    code, _, events = run(capsys, [], dict(captured, MIGTD_COLLATERAL_SOURCE="pccs:https://127.0.0.1:1"))
    assert code == 5 and "listening" in [e["event"] for e in events]  # fetched per quote, once a peer connects
