"""``migtd-console``: the Textual app and its command-line entry point.

The app owns the current run (model + controller) and the history store; the
screens only display. ``r`` re-runs with the same parameters, ``x`` stops,
``s`` saves a JSON and a Markdown report, ``h`` opens the History screen, ``/``
filters the logs, ``q`` quits. All are in the footer and the command palette.
"""

from __future__ import annotations

import sys
import time
from pathlib import Path
from typing import Iterable

from textual.app import App, SystemCommand
from textual.binding import Binding
from textual.screen import Screen
from textual.worker import Worker

from migtd.completion import add_conventions
from tui.history import HistoryStore, new_run_id
from tui.launchers import make_launcher
from tui.model import LOG_CAPACITY, RunModel
from tui.params import RunParams, build_parser, params_from_args
from tui.record import RunRecord
from tui.report import save_reports
from tui.runner import LauncherFactory, RunController
from tui.screens.history import HistoryScreen
from tui.screens.run import RunScreen
from tui.settings import load_settings


class ConsoleApp(App[int]):
    """The operator console. Returns 0 when the last run succeeded, else 1."""

    CSS_PATH = Path(__file__).with_name("console.tcss")  # absolute: subclasses live elsewhere
    TITLE = "migtd-console"
    BINDINGS = [Binding("q", "quit", "Quit")]

    def __init__(self, params: RunParams, *, replay: RunRecord | None = None,
                 history: HistoryStore | None = None, autostart: bool = True,
                 factory: LauncherFactory = make_launcher, log_capacity: int = LOG_CAPACITY,
                 notice: str = "") -> None:
        super().__init__()
        self.log_capacity = log_capacity
        self.notice = notice
        self.params = params
        self.history = history if history is not None else HistoryStore()
        self.factory = factory
        self.autostart = autostart and replay is None
        self.controller: RunController | None = None
        self.worker: Worker[None] | None = None
        self.run_id = ""
        self._restarting = False
        self.started_at = time.time()
        if replay is not None:
            self.params = RunParams.from_dict(replay.params)
            self.model = replay.replay(log_capacity)
            self.run_id, self.started_at = replay.run_id, replay.started_at
            status = f"replay of run {replay.run_id}"
        else:
            self.model = RunModel(params.to_dict(), log_capacity)
            status = "ready: press r to run" if not autostart else "starting"
        self.run_screen = RunScreen(self.model)
        self.run_screen.status = status

    def get_default_screen(self) -> Screen[None]:
        return self.run_screen

    def on_mount(self) -> None:
        if self.notice:
            self.notify(self.notice, severity="warning", timeout=10)
        if self.autostart:
            self.call_after_refresh(self.action_rerun)

    def on_unmount(self) -> None:
        """However the app ends (quit, error, test teardown), leave no migtd running."""
        if self.controller is not None:
            self.controller.terminate()

    def get_system_commands(self, screen: Screen[object]) -> Iterable[SystemCommand]:
        yield from super().get_system_commands(screen)
        yield SystemCommand("Re-run", "Start the run again with the same parameters (r)", self.action_rerun)
        yield SystemCommand("Stop run", "Stop the running migtd processes (x)", self.action_stop)
        yield SystemCommand("Save report", "Write JSON and Markdown reports of this run (s)",
                            self.action_save_report)
        yield SystemCommand("History", "Saved runs: replay, delete, export (h)", self.action_history)
        yield SystemCommand("Filter logs", "Filter both log panes by text and level (/)",
                            self.run_screen.action_filter)
        yield SystemCommand("Follow / pause logs", "Toggle scrolling to new log lines (f)",
                            self.run_screen.action_toggle_follow)

    # -- running ----------------------------------------------------------------
    @property
    def running(self) -> bool:
        return self.worker is not None and self.worker.is_running

    def action_rerun(self) -> None:
        """Start (or restart) a live run with the current parameters."""
        if self._restarting:
            return  # a second r while the first one is still stopping the old run
        self._restarting = True
        self.run_worker(self._restart(), group="run", exclusive=False)

    async def _restart(self) -> None:
        try:
            if self.running and self.controller is not None:
                await self.controller.stop()
                if self.worker is not None:
                    await self.worker.wait()
            self._start_live()
        finally:
            self._restarting = False

    def _start_live(self) -> None:
        self.model = RunModel(self.params.to_dict(), self.log_capacity)
        self.run_id = new_run_id()
        self.controller = RunController(self.params, self.model, self.factory)
        self.started_at = self.controller.started_at
        if self.screen is not self.run_screen:
            self.switch_to_run()
        self.run_screen.set_model(self.model, f"run {self.run_id}: running")
        self.worker = self.run_worker(self._run(self.controller, self.run_id), group="run-live",
                                      exclusive=False)

    async def _run(self, controller: RunController, run_id: str) -> None:
        await controller.run()
        model = controller.model
        record = RunRecord.from_model(run_id, controller.started_at, model, controller.exits)
        note = ""
        try:
            self.history.save(record, model)
        except OSError as exc:
            note = f" (not saved to history: {exc.strerror or exc})"
        if isinstance(self.screen, HistoryScreen):
            self.screen.reload()  # the run just saved appears at the top
        verdict = "succeeded" if model.succeeded else ("stopped" if controller.stopping else "failed")
        if model is self.model:
            self.run_screen.set_status(f"run {run_id}: {verdict}{note}")

    def action_stop(self) -> None:
        if not self.running or self.controller is None:
            self.notify("nothing is running", timeout=2)
            return
        self.run_screen.set_status(f"run {self.run_id}: stopping")
        self.run_worker(self.controller.stop(), group="stop")

    # -- reports and history ----------------------------------------------------
    def action_save_report(self) -> None:
        if not self.model.active_roles:
            self.notify("no run to report yet", severity="warning")
            return
        run_id = self.run_id or new_run_id(self.started_at)
        try:
            paths = save_reports(self.model, run_id, self.started_at, self.history.reports)
        except OSError as exc:
            self.notify(f"cannot save report: {exc.strerror or exc}", severity="error")
            return
        self.notify("saved " + ", ".join(str(p) for p in paths), timeout=6)

    def export_run(self, run_id: str, fmt: str) -> None:
        """Write a saved run's report in ``fmt`` (``json`` or ``md``) and say where."""
        try:
            record = self.history.load(run_id)
            paths = save_reports(record.replay(), record.run_id, record.started_at,
                                 self.history.reports, (fmt,))
        except (ValueError, OSError) as exc:
            self.notify(f"cannot export: {exc}", severity="error")
            return
        self.notify(f"exported {paths[0]}", timeout=6)

    def action_history(self) -> None:
        if isinstance(self.screen, HistoryScreen):
            return
        self.push_screen(HistoryScreen(self.history))

    def switch_to_run(self) -> None:
        """Pop screens until the Run screen shows."""
        while len(self.screen_stack) > 1 and self.screen is not self.run_screen:
            self.pop_screen()

    def open_replay(self, run_id: str) -> None:
        """Show a saved run in the Run screen (stopping nothing that runs)."""
        try:
            record = self.history.load(run_id)
        except ValueError as exc:
            self.notify(str(exc), severity="error")
            return
        if self.running:
            self.notify("a run is in progress; stop it (x) before replaying", severity="warning")
            return
        self.params = RunParams.from_dict(record.params)
        self.model = record.replay(self.log_capacity)
        self.run_id, self.started_at = record.run_id, record.started_at
        self.switch_to_run()
        self.run_screen.set_model(self.model, f"replay of run {record.run_id}")

    async def action_quit(self) -> None:
        if self.controller is not None and self.running:
            await self.controller.stop(note=False)
        code = 0 if self.model.succeeded else 1
        self.exit(code, return_code=code)


def default_migtd() -> str:
    """``migtd`` next to the running interpreter (the venv), else from PATH."""
    beside = Path(sys.executable).with_name("migtd")
    return str(beside) if beside.exists() else "migtd"


def main(argv: list[str] | None = None) -> int:
    """``migtd-console``: parse flags, run the app; 0 when the last run succeeded, else 1."""
    parser = add_conventions(build_parser())  # --version, --print-completion
    ns = parser.parse_args(argv)
    settings, notice = load_settings()
    params = params_from_args(ns, default_migtd(), settings)
    store = HistoryStore()
    replay = None
    if ns.replay:
        try:
            replay = store.load(ns.replay)
        except ValueError as exc:
            print(f"migtd-console: {exc}", file=sys.stderr)
            return 1
    app = ConsoleApp(params, replay=replay, history=store, log_capacity=settings.log_capacity,
                     notice=notice)
    app.run()
    # return_code, not run()'s result: after an unhandled exception Textual
    # returns None from run() but sets return_code to 1.
    return int(app.return_code or 0)


if __name__ == "__main__":
    sys.exit(main())
