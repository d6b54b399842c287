"""The Fleet screen's collect key (g) against a real sshd on loopback.

Every inventory host is an ``ssh_config`` alias: ``good1`` and ``good2``
reach the server and run the real ``migtd-tool evidence collect``
(mock-report); ``notool`` names a ``migtd_tool`` that does not exist on the
host; ``down`` points at a closed port. The screen must name each host's state
in its table, write the evidence with the collector, reload the matrix when
the run ends, and on a second ``g`` refresh only the hosts that failed.
"""

from __future__ import annotations

import sys
import time
from pathlib import Path
from typing import Any

import pytest
from textual.widgets import ProgressBar, Static

from migtd.errors import MigtdError
from migtd.fleet.state import STATE_FILE, FleetState
from tests.loopback import free_port
from tui import fleet
from tui.app import ConsoleApp, build_console_parser
from tui.history import HistoryStore
from tui.params import RunParams
from tui.screens.collect import CollectScreen, age_text
from tui.screens.fleet import FleetScreen
from tui.widgets.collect import CollectTable

from .conftest import Sshd, plain, until

SIZE = (160, 40)
TOOL = str(Path(sys.executable).with_name("migtd-tool"))
#: A loopback port nothing listens on (tcpmux): its refusal reads the same on every machine.
CLOSED_PORT = 1


def write_inventory(path: Path, extra: str = "") -> Path:
    path.write_text("\n".join([
        "[east]", "good1", "good2",
        "[west]", "notool migtd_tool=/nonexistent/bin/migtd-tool", "down",
        extra,
        "[all:vars]", f"migtd_tool={TOOL}", "migtd_attestation=mock-report", ""]))
    return path


def collect_app(sshd: Sshd, store: HistoryStore, inventory: Path, folder: Path, **settings: Any) -> ConsoleApp:
    params = RunParams(ssh_config=str(sshd.ssh_config))
    collect = fleet.CollectSettings(**{"concurrency": 4, "timeout": 60.0, **settings})
    request = fleet.request_for(params, (str(folder),), inventory=str(inventory), workers=1, collect=collect)
    return ConsoleApp(params, history=store, autostart=False, fleet=request)


def fleet_screen(app: ConsoleApp) -> FleetScreen:
    screen = app.get_screen("fleet")
    assert isinstance(screen, FleetScreen)
    return screen


async def collect(pilot: Any, app: ConsoleApp, key: str = "g", timeout: float = 90) -> CollectScreen:
    """Press ``key`` on the Fleet screen; wait for the run to end and the matrix to be reloaded."""
    await until(pilot, lambda: isinstance(app.screen, FleetScreen) and app.screen.status != "loading…", 60)
    await pilot.press(key)
    await until(pilot, lambda: isinstance(app.screen, CollectScreen) and app.screen.finished, timeout)
    screen = app.screen
    assert isinstance(screen, CollectScreen)
    fs = fleet_screen(app)
    await until(pilot, lambda: fs.status != "loading…", 60)
    return screen


async def test_collect_key_names_every_host_state_and_reloads_the_matrix(
        sshd: Sshd, store: HistoryStore, tmp_path: Path) -> None:
    for alias in ("good1", "good2", "notool"):
        sshd.add(alias)
    sshd.add("down", port=free_port())
    sshd.add("stranger", key=sshd.stranger_key)
    inventory = write_inventory(tmp_path / "hosts.ini", "stranger")
    folder = tmp_path / "fleet"
    app = collect_app(sshd, store, inventory, folder)
    async with app.run_test(size=SIZE) as pilot:
        await until(pilot, lambda: isinstance(app.screen, FleetScreen) and app.screen.status != "loading…", 60)
        # the folder does not exist yet: the load fails in one line that points at g
        assert "g collects the inventory's evidence" in fleet_screen(app).status
        screen = await collect(pilot, app)
        table = screen.query_one(CollectTable)
        assert table.states() == {"good1": "collected", "good2": "collected", "notool": "migtd-tool missing",
                                  "down": "unreachable", "stranger": "auth refused"}
        errors = {str(k.value): table.get_cell(k, "error").plain for k in table.rows}
        assert errors["good1"] == errors["good2"] == ""
        assert "/nonexistent/bin/migtd-tool not found on the host" in errors["notool"]
        assert "Connection refused" in errors["down"]
        assert "Permission denied" in errors["stranger"]
        assert "5 hosts: 2 collected, 0 fresh (skipped), 3 failed" in screen.status
        assert plain(screen.query_one("#collect-count", Static)).strip() == "5/5 collected or failed"
        assert screen.query_one(ProgressBar).percentage == 1.0
        # the collector wrote the evidence and the state file; the matrix behind was reloaded from them
        assert (folder / "good1.evidence.json").is_file() and (folder / "good2.evidence.json").is_file()
        state = FleetState.load(folder / STATE_FILE)
        assert {n: h.error_kind for n, h in state.hosts.items()} == {
            "good1": "", "good2": "", "notool": "tool_missing", "down": "unreachable", "stranger": "auth_refused"}
        fs = fleet_screen(app)
        assert fs.loaded is not None
        m = fs.loaded.matrix
        assert sorted(h.name for h in m.hosts) == ["down", "good1", "good2", "notool", "stranger"]
        assert {h.name for h in m.hosts if h.problem_kind} == {"down", "notool", "stranger"}
        assert "5 hosts in" in fs.status
        # escape goes back to the reloaded matrix
        await pilot.press("escape")
        assert app.screen is fs

        # "down" comes up; g again refreshes only the failed hosts (good1, good2 are kept untouched)
        mtimes = {h: (folder / f"{h}.evidence.json").stat().st_mtime_ns for h in ("good1", "good2")}
        sshd.remove("down")
        sshd.add("down")
        screen = await collect(pilot, app)
        assert screen.query_one(CollectTable).states() == {
            "good1": "fresh (skipped)", "good2": "fresh (skipped)", "notool": "migtd-tool missing",
            "down": "collected", "stranger": "auth refused"}
        assert "5 hosts: 1 collected, 2 fresh (skipped), 2 failed" in screen.status
        assert plain(screen.query_one("#collect-count", Static)).strip() == \
            "3/3 collected or failed · 2 fresh (skipped)"
        assert mtimes == {h: (folder / f"{h}.evidence.json").stat().st_mtime_ns for h in ("good1", "good2")}
        assert (folder / "down.evidence.json").is_file()
        await until(pilot, lambda: fs.loaded is not None and fs.loaded.matrix.host("down").problem_kind == "", 60)

        # G re-collects every host, fresh or not
        await pilot.press("escape")
        screen = await collect(pilot, app, "G")
        assert screen.query_one(CollectTable).states() == {
            "good1": "collected", "good2": "collected", "notool": "migtd-tool missing", "down": "collected",
            "stranger": "auth refused"}


async def test_escape_cancels_a_running_collection(sshd: Sshd, store: HistoryStore, tmp_path: Path) -> None:
    """A host whose tool hangs is stopped by escape: its ssh is killed, the row says cancelled, nothing waits."""
    hang = tmp_path / "hanging-tool"
    # it never answers; a write every half second ends it (SIGPIPE) once its ssh session is gone
    hang.write_text("#!/bin/sh\ni=0\nwhile [ $i -lt 80 ]; do sleep 0.5; printf . >&2; i=$((i+1)); done\n")
    hang.chmod(0o755)
    for alias in ("good1", "slow"):
        sshd.add(alias)
    inventory = tmp_path / "hosts.ini"
    inventory.write_text(f"good1 migtd_tool={TOOL} migtd_attestation=mock-report\nslow migtd_tool={hang}\n")
    folder = tmp_path / "fleet"
    app = collect_app(sshd, store, inventory, folder, timeout=35.0)
    async with app.run_test(size=SIZE) as pilot:
        await until(pilot, lambda: isinstance(app.screen, FleetScreen) and app.screen.status != "loading…", 60)
        await pilot.press("g")
        await until(pilot, lambda: isinstance(app.screen, CollectScreen)
                    and app.screen.query_one(CollectTable).states().get("good1") == "collected", 60)
        screen = app.screen
        assert isinstance(screen, CollectScreen) and screen.running
        t0 = time.monotonic()
        await pilot.press("escape")
        await until(pilot, lambda: screen.finished, 20)
        assert time.monotonic() - t0 < 15
        assert screen.summary is None
        assert screen.query_one(CollectTable).states() == {"good1": "collected", "slow": "cancelled"}
        assert screen.status.startswith("cancelled: 1 collected, 1 not attempted")
        # the state file kept what was collected; "slow" is due again next time
        state = FleetState.load(folder / STATE_FILE)
        assert state.hosts["good1"].ok and not state.hosts["slow"].ok
        assert app.screen is screen  # a finished run stays on screen until escape
        await pilot.press("escape")
        assert isinstance(app.screen, FleetScreen)
        # g again: only "slow" is due; q while it runs ends the app without waiting for the host
        await pilot.press("g")
        await until(pilot, lambda: isinstance(app.screen, CollectScreen) and app.screen.plan is not None, 60)
        again = app.screen
        assert isinstance(again, CollectScreen) and again.running
        assert again.query_one(CollectTable).states() == {"good1": "fresh (skipped)", "slow": "pending"}
        await pilot.press("F")  # the Fleet screen is under this one: F does not push it again
        assert app.screen is again and again.running
        t0 = time.monotonic()
        await pilot.press("q")
    assert time.monotonic() - t0 < 15
    assert again.collection.cancelled


async def test_collection_problems_are_one_line(store: HistoryStore, tmp_path: Path) -> None:
    """No inventory, a broken inventory, an evidence file as the folder: one line each, never a crash."""
    params = RunParams()
    evidence = tmp_path / "one.evidence.json"
    evidence.write_text("{}")
    bad = tmp_path / "bad.yaml"
    bad.write_text("hosts: [{name: a/b}]\n")
    cases = [(fleet.request_for(params, (str(tmp_path / "f"),), inventory=str(tmp_path / "none.ini")),
              "none.ini"),
             (fleet.request_for(params, (str(tmp_path / "f"),), inventory=str(bad)), "bad.yaml"),
             (fleet.request_for(params, (str(evidence),), inventory=str(bad)), "is an evidence file")]
    for request, needle in cases:
        with pytest.raises(MigtdError) as info:
            fleet.plan_collection(request, params)
        assert needle in info.value.message and "\n" not in info.value.message
        await shows_one_line(ConsoleApp(params, history=store, autostart=False, fleet=request), needle)


async def shows_one_line(app: ConsoleApp, needle: str) -> None:
    """g on the Fleet screen: the collection screen says ``needle`` in one line; escape goes back."""
    async with app.run_test(size=SIZE) as pilot:
        await until(pilot, lambda: isinstance(app.screen, FleetScreen) and app.screen.status != "loading…")
        fs = app.screen
        await pilot.press("g")
        await until(pilot, lambda: isinstance(app.screen, CollectScreen) and app.screen.finished)
        screen = app.screen
        assert isinstance(screen, CollectScreen)
        assert needle in screen.status and "\n" not in screen.status
        await pilot.press("escape")
        assert app.screen is fs


async def test_g_asks_for_what_is_missing(store: HistoryStore, tmp_path: Path) -> None:
    """Without an inventory the key asks for it and the folder, then collects (here: a refused inventory)."""
    params = RunParams()
    app = ConsoleApp(params, history=store, autostart=False, fleet=fleet.request_for(params))
    async with app.run_test(size=SIZE) as pilot:
        app.action_fleet()
        await until(pilot, lambda: isinstance(app.screen, FleetScreen))
        await pilot.press("g")
        await until(pilot, lambda: type(app.screen).__name__ == "PathPrompt")
        app.screen.query_one("#prompt-0").value = str(tmp_path / "missing.ini")  # type: ignore[attr-defined]
        app.screen.query_one("#prompt-1").value = str(tmp_path / "out")  # type: ignore[attr-defined]
        await pilot.press("enter")
        await until(pilot, lambda: isinstance(app.screen, CollectScreen) and app.screen.finished)
        assert "missing.ini" in app.screen.status  # type: ignore[attr-defined]
        assert fleet_screen(app).request.evidence == (str(tmp_path / "out"),)


def test_console_collect_flags() -> None:
    parser = build_console_parser()
    ns = parser.parse_args(["--fleet", "f", "--inventory", "h.ini", "--collect-concurrency", "3",
                            "--collect-timeout", "9.5", "--collect-stale", "30m", "--collect-remote-tool", "/t"])
    assert (ns.collect_concurrency, ns.collect_timeout, ns.collect_stale, ns.collect_remote_tool) == (3, 9.5, 1800, "/t")
    defaults = parser.parse_args([])
    assert fleet.CollectSettings(defaults.collect_concurrency, defaults.collect_timeout, defaults.collect_stale,
                                 defaults.collect_remote_tool) == fleet.CollectSettings()
    for bad in (["--collect-concurrency", "0"], ["--collect-timeout", "nan"], ["--collect-stale", "soon"]):
        with pytest.raises(SystemExit):
            parser.parse_args(bad)
    assert [age_text(s) for s in (86400, 7200, 1800, 90, 2.5)] == ["1 d", "2 h", "30 min", "90 s", "2.5 s"]


def test_snapshot_collection_table(snap_compare: Any, sshd: Sshd, store: HistoryStore, tmp_path: Path) -> None:
    """The table after a run: every state and its one-line error; nothing on it depends on time or the machine."""
    for alias in ("good1", "good2", "notool", "nopolicy"):
        sshd.add(alias)
    sshd.add("down", port=CLOSED_PORT)
    inventory = write_inventory(tmp_path / "hosts.ini", "nopolicy migtd_policy=/nonexistent/policy.json")
    app = collect_app(sshd, store, inventory, tmp_path / "fleet")

    async def run_before(pilot: Any) -> None:
        await collect(pilot, app)
        await pilot.pause()

    assert snap_compare(app, run_before=run_before, terminal_size=SIZE)
