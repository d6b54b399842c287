"""Parameters, launchers and the run controller, with real subprocesses."""

from __future__ import annotations

import asyncio
import json
import shlex
import shutil
import time
from pathlib import Path

import pytest

from migtd import paths
from tests.loopback import free_port
from tui.launchers import LaunchError, LocalLauncher, SshLauncher, make_launcher, ssh_argv
from tui.launchers.base import pump
from tui.model import RunModel
from tui.params import RunParams, build_parser, params_from_args
from tui.runner import RunController


def parse(*args: str) -> RunParams:
    return params_from_args(build_parser().parse_args(list(args)), "/opt/bin/migtd")


@pytest.fixture
def files(tmp_path: Path) -> dict[str, str]:
    """Existing files for the flags that name one (the planner checks local inputs before anything starts)."""
    out = {}
    for name in ("root.der", "collateral.json", "a.json", "p2.json", "chain.pem", "q.bin"):
        (tmp_path / name).write_bytes(b"x")
        out[name] = str(tmp_path / name)
    return out


def test_defaults_mirror_the_runner_script(files, capsys) -> None:  # type: ignore[no-untyped-def]
    p = parse("--root-ca-file", files["root.der"], "--collateral-file", files["collateral.json"])
    assert p.roles == ["source"] and p.attestation == "azure" and p.timeout == 60.0
    assert (p.request_id, p.dest_ip, p.dest_port) == (1, "127.0.0.1", 8001)
    assert p.env("source")["MIGTD_POLICY_FILE"] == str(paths.default_policy())
    assert p.argv("source") == ["--role", "source", "--request-id", "1", "--operation", "migration",
                                "--attestation", "azure", "--dest-ip", "127.0.0.1", "--dest-port", "8001",
                                "--timeout", "60", "--log-format", "json"]
    with pytest.raises(SystemExit) as exc:  # azure without its collateral: refused before anything starts
        parse("--root-ca-file", files["root.der"])
    assert exc.value.code == 1
    err = capsys.readouterr().err
    assert err.startswith("migtd-console: ") and "--collateral-file" in err and len(err.splitlines()) == 1


def test_both_mock_report_env_and_per_side_policy(files) -> None:  # type: ignore[no-untyped-def]
    p = parse("--both", "--mock-report", "--dest-port", "9100", "--src-policy-file", files["a.json"],
              "--request-id", "7")
    assert p.roles == ["destination", "source"]
    src, dst = p.env("source"), p.env("destination")
    assert src["MIGTD_POLICY_FILE"] == files["a.json"]
    assert dst["MIGTD_POLICY_FILE"] == str(paths.default_policy())
    assert src["MIGTD_ROOT_CA_FILE"] == str(paths.mock_root_ca())
    assert src["MIGTD_COLLATERAL_FILE"] == str(paths.mock_collateral())
    assert "--attestation" in p.argv("source") and "mock-report" in p.argv("source")
    assert p.argv("destination")[:2] == ["--role", "destination"]


def test_mock_quote_file_implies_mock_report_and_modes_exclusive(files, capsys) -> None:  # type: ignore[no-untyped-def]
    ok = parse("--mock-quote-file", files["q.bin"], "--collateral-file", files["collateral.json"],
               "--root-ca-file", files["root.der"])
    assert ok.attestation == "mock-report" and ok.env("source")["MOCK_QUOTE_FILE"] == files["q.bin"]
    assert ok.env("source")["MIGTD_COLLATERAL_FILE"] == files["collateral.json"]
    with pytest.raises(SystemExit) as exc:  # the captured quote's collateral is required, never the mock one
        parse("--mock-quote-file", files["q.bin"], "--root-ca-file", files["root.der"])
    assert exc.value.code == 1
    assert "--mock-quote-file needs the collateral" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        build_parser().parse_args(["--skip-ra", "--mock-report"])
    with pytest.raises(SystemExit):
        build_parser().parse_args(["--dest-port", "70000"])


def test_remote_command_line_is_quoted() -> None:
    # the destination runs on h: its paths are h's and are not checked here
    p = parse("--both", "--skip-ra", "--dst-host", "root@h", "--dst-policy-file", "/p a/policy.json",
              "--remote-migtd", "/r/migtd")
    cmd = p.command_line("destination")
    words = shlex.split(cmd)
    assert words[0] == "env" and "MIGTD_POLICY_FILE=/p a/policy.json" in words
    assert "/r/migtd" in words and words[words.index("--role") + 1] == "destination"
    launcher = make_launcher("destination", p)
    assert isinstance(launcher, SshLauncher) and launcher.where == "ssh root@h"
    assert isinstance(make_launcher("source", p), LocalLauncher)
    argv = ssh_argv("h", "true", ssh_config="/c", options=["Port=2222"])
    assert argv[:4] == ["ssh", "-tt", "-o", "BatchMode=yes"]
    assert argv[argv.index("-F") + 1] == "/c" and "Port=2222" in argv and argv[-2:] == ["--", "true"]


async def test_pump_splits_lines_crlf_and_bad_utf8() -> None:
    reader = asyncio.StreamReader()
    reader.feed_data(b"one\r\ntw")
    reader.feed_data(b"o\n\xff bad\nlast")
    reader.feed_eof()
    got: list[list[str]] = []
    await pump(reader, got.append)
    assert [line for chunk in got for line in chunk] == ["one", "two", "\ufffd bad", "last"]
    assert len(got) == 2  # one list per read (all that was buffered), then the unterminated tail


async def test_local_launcher_streams_both_pipes_and_exit_code() -> None:
    launcher = LocalLauncher("source", ["sh", "-c", "echo out; echo err >&2; exit 3"], {"X": "1"})
    got: list[str] = []
    await launcher.start(got.extend)
    assert await launcher.wait() == 3
    assert sorted(got) == ["err", "out"]


async def test_missing_program_is_a_launch_error() -> None:
    launcher = LocalLauncher("source", ["/nonexistent/migtd"], {})
    with pytest.raises(LaunchError, match="program not found"):
        await launcher.start(lambda _: None)


async def test_controller_starts_destination_first_then_source(fake_migtd: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("FAKE_MIGTD_SCENARIO", "replay:mock_success")
    params = RunParams(roles=["destination", "source"], attestation="mock-report", migtd=fake_migtd)
    model = RunModel(params.to_dict())
    controller = RunController(params, model)
    await asyncio.wait_for(controller.run(), 20)
    dst, src = model.sides["destination"], model.sides["source"]
    assert dst.result.code == 0 and src.result.code == 0  # type: ignore[union-attr]
    assert model.msk_match is True and model.succeeded
    assert controller.exits["source"]["code"] == 0


async def test_destination_exiting_early_keeps_source_unstarted(tmp_path: Path) -> None:
    script = tmp_path / "early"
    script.write_text("#!/bin/sh\necho 'Policy file not found: /nope' >&2\nexit 1\n")
    script.chmod(0o755)
    params = RunParams(attestation="skip-ra", roles=["destination", "source"], migtd=str(script))
    model = RunModel(params.to_dict())
    await asyncio.wait_for(RunController(params, model).run(), 20)
    dst, src = model.sides["destination"], model.sides["source"]
    assert dst.result.code == 1 and dst.result.reason == "Policy file not found: /nope"  # type: ignore[union-attr]
    assert src.result.name == "NotStarted"  # type: ignore[union-attr]
    assert "exited before listening" in src.result.reason  # type: ignore[union-attr]


async def test_stop_ends_a_hung_side(fake_migtd: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("FAKE_MIGTD_SCENARIO", "hang")
    params = RunParams(attestation="skip-ra", roles=["destination"], migtd=fake_migtd)
    model = RunModel(params.to_dict())
    controller = RunController(params, model)
    task = asyncio.create_task(controller.run())
    for _ in range(200):
        if model.sides["destination"].listening:
            break
        await asyncio.sleep(0.02)
    t0 = time.monotonic()
    await controller.stop()
    await asyncio.wait_for(task, 10)
    assert time.monotonic() - t0 < 5
    dst = model.sides["destination"]
    assert dst.result.code == 10 and "signal 15" in dst.result.reason  # type: ignore[union-attr]
    assert "stopped by the operator" in dst.problems


@pytest.mark.skipif(shutil.which("ssh") is None, reason="ssh client not installed")
async def test_ssh_unreachable_host_is_reported() -> None:
    port = free_port()  # nothing listens there
    params = RunParams(attestation="skip-ra", roles=["destination"], dst_host="127.0.0.1",
                       ssh_options=[f"Port={port}", "StrictHostKeyChecking=no",
                                    "UserKnownHostsFile=/dev/null"])
    model = RunModel(params.to_dict())
    await asyncio.wait_for(RunController(params, model).run(), 30)
    dst = model.sides["destination"]
    assert dst.result is not None and dst.result.name == "SSHError" and dst.result.code == 255
    assert "Connection refused" in dst.result.reason
    assert json.dumps(model.summary())  # serialisable for reports


async def test_watchdog_stops_a_side_that_never_exits(fake_migtd: str,
                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("FAKE_MIGTD_SCENARIO", "hang")
    monkeypatch.setattr("tui.runner.WATCHDOG_MARGIN", 0.5)
    params = RunParams(attestation="skip-ra", roles=["source"], migtd=fake_migtd, timeout=0.5, listen_timeout=0.5)
    model = RunModel(params.to_dict())
    t0 = time.monotonic()
    await asyncio.wait_for(RunController(params, model).run(), 20)
    assert time.monotonic() - t0 < 10
    src = model.sides["source"]
    assert any(p.startswith("no exit after 3 s") for p in src.problems), src.problems  # 4 phases × 0.5 + 0.5 + 0.5
    assert src.result.code == 10  # type: ignore[union-attr]  # its own exit record on SIGTERM


async def test_destination_that_never_listens_blocks_the_source(tmp_path: Path) -> None:
    script = tmp_path / "silent"
    script.write_text("#!/bin/sh\nexec sleep 30\n")
    script.chmod(0o755)
    params = RunParams(attestation="skip-ra", roles=["destination", "source"], migtd=str(script), listen_timeout=0.5)
    model = RunModel(params.to_dict())
    t0 = time.monotonic()
    await asyncio.wait_for(RunController(params, model).run(), 20)
    assert time.monotonic() - t0 < 8
    dst, src = model.sides["destination"], model.sides["source"]
    assert "did not report listening within 0 s" not in dst.problems
    assert any("did not report listening" in p for p in dst.problems)
    assert dst.result.code == 143  # type: ignore[union-attr]  # SIGTERM, reported as 128+15
    assert src.result.name == "NotStarted"  # type: ignore[union-attr]
    assert "did not listen within" in src.result.reason  # type: ignore[union-attr]


def test_policy_v2_and_log_level_reach_the_environment(files) -> None:  # type: ignore[no-untyped-def]
    p = parse("--both", "--mock-report", "--policy-v2", "--policy-file", files["p2.json"],
              "--policy-issuer-chain-file", files["chain.pem"], "--log-level", "debug",
              "--mock-quote-file", files["q.bin"], "--timeout", "2.5")
    env = p.env("destination")
    assert env["MIGTD_POLICY_FILE"] == files["p2.json"]
    assert env["MIGTD_POLICY_ISSUER_CHAIN_FILE"] == files["chain.pem"]
    assert "MIGTD_ROOT_CA_FILE" not in env and "MIGTD_COLLATERAL_FILE" not in env  # v2 embeds its collaterals
    assert env["RUST_LOG"] == "debug" and env["MOCK_QUOTE_FILE"] == files["q.bin"]
    argv = p.argv("destination")
    assert argv[argv.index("--policy-version") + 1] == "2"
    assert argv[argv.index("--timeout") + 1] == "2.5"
