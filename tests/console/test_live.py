"""Live tests: the console drives real ``migtd`` processes, locally and over SSH."""

from __future__ import annotations

import asyncio
import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.loopback import free_port
from tui.app import ConsoleApp
from tui.history import HistoryStore
from tui.launchers import SshLauncher
from tui.params import RunParams
from tui.widgets.panes import ResultBar, RunHeader

from .conftest import Sshd, plain, until

SIZE = (160, 48)


def migtd_bin() -> str:
    path = Path(sys.executable).with_name("migtd")
    if not path.exists():
        pytest.fail(f"{path} missing: pip install -e .")
    return str(path)


def skip_ra_params(**kw: object) -> RunParams:
    return RunParams(roles=["destination", "source"], attestation="skip-ra", migtd=migtd_bin(),
                     dest_port=free_port(), timeout=10, **kw)  # type: ignore[arg-type]


async def test_live_local_skip_ra_success(store: HistoryStore) -> None:
    app = ConsoleApp(skip_ra_params(), history=store)
    async with app.run_test(size=SIZE) as pilot:
        await until(pilot, lambda: app.model.finished and not app.running)
        await pilot.pause(0.2)
        model = app.model
        for role in ("source", "destination"):
            side = model.sides[role]
            assert side.result is not None and side.result.code == 0, side.result
            assert side.steps["MSK"].state == "done" and side.steps["done"].state == "done"
            assert side.steps["peer attested"].state == "skipped"  # skip-RA: not verified
        assert model.sides["destination"].listening is not None
        assert model.msk_match is True
        bar = plain(app.screen.query_one(ResultBar))
        assert "source: 0 Success" in bar and "fingerprints match" in bar
        assert "NOT ATTESTED" in plain(app.screen.query_one(RunHeader))
    assert [r.ok for r in store.list()] == [True]


async def test_live_ssh_destination_remote_source_local(sshd: Sshd, store: HistoryStore) -> None:
    params = skip_ra_params(dst_host=sshd.host, ssh_config=str(sshd.ssh_config),
                            remote_migtd=migtd_bin())
    app = ConsoleApp(params, history=store)
    async with app.run_test(size=SIZE) as pilot:
        await until(pilot, lambda: app.model.finished and not app.running)
        await pilot.pause(0.2)
        dst, src = app.model.sides["destination"], app.model.sides["source"]
        assert dst.where == "ssh migtd-test" and src.where == "local"
        assert dst.result is not None and dst.result.code == 0, (dst.result, list(dst.logs)[-5:])
        assert dst.result.source == "event"  # read from the remote exit record, not ssh's status
        assert src.result is not None and src.result.code == 0
        assert app.model.msk_match is True
        assert "destination: ssh migtd-test" in plain(app.screen.query_one(RunHeader))


async def test_ssh_remote_migtd_missing(sshd: Sshd, store: HistoryStore) -> None:
    params = RunParams(roles=["destination", "source"], attestation="skip-ra", migtd=migtd_bin(),
                       dest_port=free_port(), timeout=10, dst_host=sshd.host,
                       ssh_config=str(sshd.ssh_config), remote_migtd="/nonexistent/migtd")
    app = ConsoleApp(params, history=store)
    async with app.run_test(size=SIZE) as pilot:
        await until(pilot, lambda: app.model.finished and not app.running)
        dst, src = app.model.sides["destination"], app.model.sides["source"]
        assert dst.result is not None and dst.result.name == "CommandNotFound"
        assert "/nonexistent/migtd" in dst.result.reason
        assert src.result is not None and src.result.name == "NotStarted"


async def test_ssh_auth_refused(sshd: Sshd, store: HistoryStore, tmp_path: Path) -> None:
    """A key the server does not know: BatchMode makes it fail at once, not prompt."""
    other = tmp_path / "other_key"
    await asyncio.to_thread(subprocess.run, ["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", str(other)],
                            check=True, stdout=subprocess.DEVNULL, timeout=30)
    alt = tmp_path / "ssh_config"
    alt.write_text(sshd.ssh_config.read_text().replace(str(sshd.root / "user_key"), str(other)))
    params = RunParams(roles=["destination"], attestation="skip-ra", dest_port=free_port(),
                       dst_host=sshd.host, ssh_config=str(alt), remote_migtd=migtd_bin())
    app = ConsoleApp(params, history=store)
    async with app.run_test(size=SIZE) as pilot:
        await until(pilot, lambda: app.model.finished and not app.running)
        dst = app.model.sides["destination"]
        assert dst.result is not None and dst.result.name == "SSHError"
        assert "Permission denied" in dst.result.reason


async def test_live_port_in_use(store: HistoryStore) -> None:
    """The destination cannot bind: its reason is shown and the source never starts."""
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        params = skip_ra_params()
        params.dest_port = busy.getsockname()[1]
        app = ConsoleApp(params, history=store)
        async with app.run_test(size=SIZE) as pilot:
            await until(pilot, lambda: app.model.finished and not app.running)
            await pilot.pause(0.2)
            dst, src = app.model.sides["destination"], app.model.sides["source"]
            assert dst.result is not None and dst.result.code == 1
            assert "address already in use" in dst.result.reason
            assert src.result is not None and src.result.name == "NotStarted"
            assert "address already in use" in plain(app.screen.query_one(ResultBar))


async def test_live_hung_peer_times_out(store: HistoryStore) -> None:
    """A peer that accepts and never answers: migtd's --timeout ends the run (exit 5)."""
    with socket.socket() as silent:
        silent.bind(("127.0.0.1", 0))
        silent.listen()
        params = RunParams(roles=["source"], attestation="skip-ra", migtd=migtd_bin(),
                           dest_port=silent.getsockname()[1], timeout=2)
        app = ConsoleApp(params, history=store)
        async with app.run_test(size=SIZE) as pilot:
            await until(pilot, lambda: app.model.finished and not app.running, timeout=20)
            await pilot.pause(0.2)
            src = app.model.sides["source"]
            assert src.result is not None and src.result.code == 5
            assert src.result.name == "NetworkError" and "within 2 s" in src.result.reason
            assert src.steps["connected"].state == "done" and src.steps["TLS"].state == "failed"
            bar = plain(app.screen.query_one(ResultBar))
            assert "5 NetworkError" in bar and "did not answer in time" in bar


async def test_ssh_stop_interrupts_the_remote_migtd(sshd: Sshd, store: HistoryStore) -> None:
    """Stopping interrupts the remote migtd through its pty; its exit event still arrives."""
    params = RunParams(roles=["destination"], attestation="skip-ra", migtd=migtd_bin(),
                       dest_port=free_port(), timeout=30, dst_host=sshd.host,
                       ssh_config=str(sshd.ssh_config), remote_migtd=migtd_bin())
    app = ConsoleApp(params, history=store)
    async with app.run_test(size=SIZE) as pilot:
        await until(pilot, lambda: app.model.sides["destination"].listening is not None, timeout=20)
        await pilot.press("x")
        await until(pilot, lambda: app.model.finished and not app.running, timeout=20)
        dst = app.model.sides["destination"]
        assert dst.result is not None and dst.result.source == "event", dst.result
        assert dst.result.code == 5 and "terminated by SIGINT" in dst.result.reason
        assert "stopped by the operator" in dst.problems
    # The remote listener is gone: the port can be bound again.
    deadline = time.monotonic() + 10
    while True:
        try:
            with socket.socket() as probe:
                probe.bind(("127.0.0.1", params.dest_port))
            break
        except OSError:
            assert time.monotonic() < deadline, "remote migtd still holds its port"
            await asyncio.sleep(0.1)


async def test_ssh_stop_falls_back_to_hangup(sshd: Sshd) -> None:
    """A remote process that ignores Ctrl-C still ends: ssh goes, the pty hangs up."""
    launcher = SshLauncher("destination", sshd.host, "trap '' INT; echo pid=$$; exec sleep 60",
                           ssh_config=str(sshd.ssh_config))
    lines: list[str] = []
    await launcher.start(lines.extend)
    deadline = time.monotonic() + 15
    while not any(line.startswith("pid=") for line in lines):
        assert time.monotonic() < deadline, f"remote command did not start: {lines}"
        await asyncio.sleep(0.05)
    pid = int(next(line for line in lines if line.startswith("pid="))[4:])
    t0 = time.monotonic()
    await launcher.stop()
    await launcher.wait()
    assert time.monotonic() - t0 < 10
    while True:  # the remote (here: local) process is gone after the hangup
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            break
        assert time.monotonic() - t0 < 15, f"remote process {pid} survived the stop"
        await asyncio.sleep(0.1)


async def test_live_local_mock_report_success(store: HistoryStore) -> None:
    """Full attestation both ways against the mock PKI: panes filled, all rules pass."""
    params = RunParams(roles=["destination", "source"], attestation="mock-report",
                       migtd=migtd_bin(), dest_port=free_port(), timeout=10)
    app = ConsoleApp(params, history=store)
    async with app.run_test(size=SIZE) as pilot:
        await until(pilot, lambda: app.model.finished and not app.running)
        await pilot.pause(0.2)
        model = app.model
        for role in ("source", "destination"):
            side = model.sides[role]
            assert side.result is not None and side.result.code == 0, (role, side.result)
            assert all(step.state == "done" for step in side.steps.values()), side.steps
            assert side.policy_rows and all(row.ok for row in side.policy_rows)
            att = dict(model.attestation_of(role).rows())
            assert att["status"] == "verified" and att["quote source"] == "mock-qe"
            assert att["FMSPC"] == "90C06F000000" and len(att["MRTD"]) == 96
        assert model.msk_match is True
        header = plain(app.screen.query_one(RunHeader))
        assert "mock-report" in header and "NOT ATTESTED" not in header


async def test_live_policy_v2_rejection_shows_the_failing_rule(store: HistoryStore,
                                                               tmp_path: Path) -> None:
    """The source demands a newer peer than the destination is: exit 8, failing rule first."""
    tool = str(Path(sys.executable).with_name("migtd-tool"))
    for args in (["--out", "strict.json", "--chain-out", "chain.pem", "--forward-min-isvsvn", "2"],
                 ["--out", "plain.json", "--chain-out", "chain.pem"]):
        done = await asyncio.to_thread(subprocess.run, [tool, "policy", "generate-v2", *args], cwd=tmp_path,
                                       check=False, capture_output=True, text=True, timeout=60)
        assert done.returncode == 0, done.stdout + done.stderr
    params = RunParams(roles=["destination", "source"], attestation="mock-report",
                       migtd=migtd_bin(), dest_port=free_port(), timeout=10, policy_version=2,
                       src_policy_file=str(tmp_path / "strict.json"),
                       dst_policy_file=str(tmp_path / "plain.json"),
                       policy_issuer_chain_file=str(tmp_path / "chain.pem"))
    app = ConsoleApp(params, history=store)
    async with app.run_test(size=SIZE) as pilot:
        await until(pilot, lambda: app.model.finished and not app.running)
        await pilot.pause(0.2)
        src = app.model.sides["source"]
        assert src.result is not None and src.result.code == 8
        assert src.result.name == "PolicyUnsatisfiedError"
        first = src.sorted_policy()[0]
        assert not first.ok and f"{first.section}.{first.field}" == "servtd.migtdIdentity.isvsvn"
        assert src.steps["policy"].state == "failed"
        assert app.model.sides["destination"].result.code != 0  # type: ignore[union-attr]
        bar = plain(app.screen.query_one(ResultBar))
        assert "8 PolicyUnsatisfiedError" in bar
