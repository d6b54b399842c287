"""Pilot tests of the key flows: run, re-run, stop, filter, save, history, replay."""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest
from textual.widgets import DataTable, Input

from tui.app import ConsoleApp, main
from tui.history import HistoryStore
from tui.params import RunParams
from tui.screens.history import HistoryScreen
from tui.screens.run import RunScreen
from tui.widgets.logview import LogView
from tui.widgets.panes import ResultBar, RunHeader

from .conftest import plain, recorded_run, until

SIZE = (160, 48)


def live_app(fake: str, store: HistoryStore, mode: str = "mock-report") -> ConsoleApp:
    params = RunParams(roles=["destination", "source"], attestation=mode, migtd=fake, timeout=10)
    return ConsoleApp(params, history=store)


async def test_run_to_success_then_rerun(fake_migtd: str, store: HistoryStore,
                                         monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("FAKE_MIGTD_SCENARIO", "replay:mock_success")
    app = live_app(fake_migtd, store)
    async with app.run_test(size=SIZE) as pilot:
        await until(pilot, lambda: app.model.finished and not app.running)
        await pilot.pause(0.2)
        bar = plain(app.screen.query_one(ResultBar))
        assert "source: 0 Success" in bar and "destination: 0 Success" in bar
        assert "fingerprints match (3FA9C2D4E51B7A06)" in bar
        assert "succeeded" in plain(app.screen.query_one(RunHeader))
        assert len(store.list()) == 1
        first = app.run_id
        await pilot.press("r")
        await until(pilot, lambda: app.run_id != first and app.model.finished and not app.running)
        await pilot.pause(0.1)
        runs = store.list()
        assert len(runs) == 2 and all(r.ok for r in runs)
        assert {r.run_id for r in runs} == {first, app.run_id}


async def test_stop_a_hung_run(fake_migtd: str, store: HistoryStore,
                               monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("FAKE_MIGTD_SCENARIO", "hang")
    app = live_app(fake_migtd, store, "skip-ra")
    async with app.run_test(size=SIZE) as pilot:
        await until(pilot, lambda: app.model.sides["source"].running)
        await pilot.press("x")
        await until(pilot, lambda: app.model.finished and not app.running, timeout=10)
        await pilot.pause(0.2)
        for role in ("source", "destination"):
            assert app.model.sides[role].result.code == 10  # type: ignore[union-attr]
        header = plain(app.screen.query_one(RunHeader))
        assert "stopped" in header and "NOT ATTESTED" in header


async def test_missing_migtd_is_shown_not_fatal(store: HistoryStore) -> None:
    params = RunParams(roles=["destination", "source"], attestation="skip-ra",
                       migtd="/nonexistent/bin/migtd")
    app = ConsoleApp(params, history=store)
    async with app.run_test(size=SIZE) as pilot:
        await until(pilot, lambda: app.model.finished and not app.running)
        await pilot.pause(0.2)
        bar = plain(app.screen.query_one(ResultBar))
        assert "NotStarted" in bar and "/nonexistent/bin/migtd: program not found" in bar
        log = app.screen.query_one("#log-destination", LogView)
        assert any("program not found" in line.text for line in log.side.logs)


async def test_filter_logs_by_text_and_level(store: HistoryStore) -> None:
    record = recorded_run("policy_reject", "mock-report", exits={"source": 6, "destination": 8})
    app = ConsoleApp(RunParams(), replay=record, history=store)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause(0.1)
        log = app.screen.query_one("#log-destination", LogView)
        total = log.shown
        assert total == len(record.lines["destination"])
        await pilot.press("slash")
        assert isinstance(app.focused, Input)
        await pilot.press(*"policy_rule")
        await pilot.pause(0.1)
        assert log.shown == 8
        app.focused.value = "level:error"  # type: ignore[union-attr]
        await pilot.pause(0.1)
        assert log.shown == 4  # the failed rule, the decision, the report status, the exit
        assert all(line.level == "error" for line in log._view)
        await pilot.press("escape")
        await pilot.pause(0.1)
        assert log.shown == total
        await pilot.press("f")
        assert not log.follow
        await pilot.press("f")
        assert log.follow


async def test_save_report_writes_json_and_markdown(store: HistoryStore) -> None:
    record = recorded_run("policy_reject", "mock-report", exits={"source": 6, "destination": 8})
    app = ConsoleApp(RunParams(), replay=record, history=store)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("s")
        await pilot.pause(0.1)
    files = sorted(p.name for p in store.reports.iterdir())
    assert files == [f"migtd-run-{record.run_id}.json", f"migtd-run-{record.run_id}.md"]
    data = json.loads((store.reports / files[0]).read_text())
    dst = data["sides"]["destination"]
    assert dst["result"]["name"] == "PolicyUnsatisfiedError" and dst["result"]["code"] == 8
    assert dst["policy"][0]["ok"] is False and dst["policy"][0]["field"] == "tee_tcb_svn"
    md = (store.reports / files[1]).read_text()
    assert "| destination | local | 8 | PolicyUnsatisfiedError |" in md
    assert "| tdx_module | tee_tcb_svn | array-greater-or-equal |" in md and "FAIL" in md


async def test_history_open_replay_export_delete(store: HistoryStore) -> None:
    old = recorded_run("skipra_success", "skip-ra", exits={"source": 0, "destination": 0},
                       run_id="20251126-040000-aaaa")
    new = recorded_run("policy_reject", "mock-report", exits={"source": 6, "destination": 8},
                       run_id="20251126-050000-bbbb")
    new.started_at += 3600
    for rec in (old, new):
        store.save(rec, rec.replay())
    app = ConsoleApp(RunParams(), history=store, autostart=False)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("h")
        await pilot.pause(0.1)
        assert isinstance(app.screen, HistoryScreen)
        table = app.screen.query_one(DataTable)
        assert table.row_count == 2
        assert table.get_row_at(0)[1] == new.run_id  # newest first
        await pilot.press("m")
        await pilot.pause(0.1)
        assert (store.reports / f"migtd-run-{new.run_id}.md").exists()
        await pilot.press("down", "enter")
        await pilot.pause(0.2)
        assert isinstance(app.screen, RunScreen)
        assert app.run_id == old.run_id and app.model.succeeded
        assert "replay of run 20251126-040000-aaaa" in plain(app.screen.query_one(RunHeader))
        await pilot.press("h")
        await pilot.pause(0.1)
        await pilot.press("d")
        await pilot.pause(0.1)
        assert [r.run_id for r in store.list()] == [old.run_id]
        await pilot.press("escape")
        assert isinstance(app.screen, RunScreen)


async def test_command_palette_lists_the_actions(store: HistoryStore) -> None:
    app = ConsoleApp(RunParams(), history=store, autostart=False)
    async with app.run_test(size=SIZE):
        titles = {cmd.title for cmd in app.get_system_commands(app.screen)}
    assert {"Re-run", "Stop run", "Save report", "History", "Filter logs", "Quit"} <= titles


def test_main_rejects_unknown_replay(xdg, capsys: pytest.CaptureFixture[str]) -> None:  # type: ignore[no-untyped-def]
    assert main(["--replay", "no-such-run"]) == 1
    err = capsys.readouterr().err
    assert err.startswith("migtd-console: no saved run 'no-such-run'") and err.count("\n") == 1


async def test_rerun_while_running_stops_the_old_processes(fake_migtd: str, store: HistoryStore,
                                                           monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("FAKE_MIGTD_SCENARIO", "hang")
    app = live_app(fake_migtd, store, "skip-ra")
    async with app.run_test(size=SIZE) as pilot:
        await until(pilot, lambda: app.model.sides["source"].running)
        old_model, old_launchers = app.model, dict(app.controller.launchers)  # type: ignore[union-attr]
        app.action_rerun()
        app.action_rerun()  # a second r while the first is still stopping the old run
        await until(pilot, lambda: app.model is not old_model and app.model.sides["source"].running)
        await pilot.pause(0.5)
        live = [w for w in app.workers if w.group == "run-live" and w.is_running]
        assert len(live) == 1  # one restart, not two
        assert all(not launcher.running for launcher in old_launchers.values())
        assert old_model.sides["destination"].result.code == 10  # type: ignore[union-attr]
        new_launchers = list(app.controller.launchers.values())  # type: ignore[union-attr]
        await pilot.press("q")
    assert all(not launcher.running for launcher in new_launchers)  # quitting stops the run
    assert app.return_code == 1


def test_entry_point_help_and_bad_flag() -> None:
    exe = Path(sys.executable).with_name("migtd-console")
    ok = subprocess.run([str(exe), "--help"], check=False, capture_output=True, text=True, timeout=60)
    assert ok.returncode == 0 and "--both" in ok.stdout and "--replay" in ok.stdout
    bad = subprocess.run([str(exe), "--dest-port", "seventy"], check=False, capture_output=True, text=True,
                         timeout=60)
    assert bad.returncode == 1 and bad.stdout == ""
    assert bad.stderr.count("\n") == 1 and "--dest-port" in bad.stderr and "Traceback" not in bad.stderr


async def test_history_lists_a_run_that_finishes_while_open(fake_migtd: str, store: HistoryStore,
                                                           monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("FAKE_MIGTD_SCENARIO", "replay:skipra_success")
    app = live_app(fake_migtd, store, "skip-ra")
    async with app.run_test(size=SIZE) as pilot:
        await until(pilot, lambda: app.running)
        await pilot.press("h")
        assert isinstance(app.screen, HistoryScreen)
        await until(pilot, lambda: app.model.finished and not app.running)
        await pilot.pause(0.1)
        table = app.screen.query_one(DataTable)
        assert table.row_count == 1 and table.get_row_at(0)[1] == app.run_id


async def test_single_side_run_hides_the_other_column(fake_migtd: str, store: HistoryStore,
                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("FAKE_MIGTD_SCENARIO", "replay:skipra_success")
    app = ConsoleApp(RunParams(roles=["source"], attestation="skip-ra", migtd=fake_migtd),
                     history=store)
    async with app.run_test(size=SIZE) as pilot:
        await until(pilot, lambda: app.model.finished and not app.running)
        await pilot.pause(0.1)
        assert app.screen.query_one("#side-source").display
        assert not app.screen.query_one("#side-destination").display
        bar = plain(app.screen.query_one(ResultBar))
        assert "source: 0 Success" in bar and "destination:" not in bar
    assert [info.roles for info in store.list()] == [["source"]]


async def test_leaving_the_app_any_way_ends_the_processes(fake_migtd: str, store: HistoryStore,
                                                          monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("FAKE_MIGTD_SCENARIO", "hang")
    app = live_app(fake_migtd, store, "skip-ra")
    async with app.run_test(size=SIZE) as pilot:
        await until(pilot, lambda: app.model.sides["source"].running)
        procs = [l.proc for l in app.controller.launchers.values()]  # type: ignore[union-attr]
        app.exit()  # not via q: no orderly stop
    for proc in procs:
        assert proc is not None
        deadline = time.monotonic() + 5
        while proc.returncode is None:
            try:
                os.kill(proc.pid, 0)
            except ProcessLookupError:
                break
            assert time.monotonic() < deadline, f"pid {proc.pid} outlived the app"
            await asyncio.sleep(0.05)


def test_main_exits_1_when_the_app_crashes(xdg, monkeypatch: pytest.MonkeyPatch) -> None:  # type: ignore[no-untyped-def]
    """An unhandled exception ends the app: the console must not report success."""
    def crash(self: ConsoleApp) -> None:
        raise RuntimeError("boom")

    run = ConsoleApp.run
    monkeypatch.setattr(ConsoleApp, "on_mount", crash)
    monkeypatch.setattr(ConsoleApp, "run", lambda self, **kw: run(self, headless=True, **kw))
    assert main(["--role", "source", "--skip-ra", "--migtd", "/nonexistent/migtd"]) == 1


async def test_the_run_screen_reacts_to_messages_and_never_polls(fake_migtd: str, store: HistoryStore,
                                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    """No interval timer watches the model: RunController.Updated drives every redraw."""
    from tui.runner import RunController

    monkeypatch.setenv("FAKE_MIGTD_SCENARIO", "replay:mock_success")
    app = live_app(fake_migtd, store)
    redraws: list[int] = []
    async with app.run_test(size=SIZE) as pilot:
        screen = app.run_screen
        original = screen.redraw
        screen.redraw = lambda force=False: (redraws.append(screen.model.version), original(force))[1]  # type: ignore[method-assign]
        await until(pilot, lambda: app.model.finished and not app.running)
        await pilot.pause(0.3)
        assert redraws, "the screen never redrew"
        # no repeating timer of the console's own (Textual's frame timer and cursor blink aside);
        # a one-shot deferred log repaint at most
        for node in [app, screen, *screen.query("*")]:
            for timer in node._timers:
                function = getattr(timer._callback, "__func__", timer._callback)  # where it is defined
                ours = getattr(function, "__module__", "").startswith("tui.")
                assert not (ours and timer._repeat != 1), f"{node} polls with {timer._callback}"
        assert "fingerprints match" in plain(screen.query_one(ResultBar))
        # Updated messages of one model replace each other while queued; another model's do not
        model = app.model
        assert RunController.Updated(model).can_replace(RunController.Updated(model))
        assert not RunController.Updated(model).can_replace(RunController.Updated(RunModelFor()))
        redraws.clear()
        for _ in range(200):  # a burst, posted before the screen can handle any
            screen.post_message(RunController.Updated(model))
        await pilot.pause(0.2)
        assert 1 <= len(redraws) <= 2, f"{len(redraws)} redraws for a burst of 200 messages"


def RunModelFor():  # type: ignore[no-untyped-def]
    from tui.model import RunModel

    return RunModel()
