"""``migtd-console``: the Textual app and its command-line entry point.

The app owns the current run (model + controller) and the history store; the
screens only display. ``r`` re-runs with the same parameters, ``x`` stops,
``s`` saves a JSON and a Markdown report, ``h`` opens the History screen, ``/``
filters the logs, ``F`` opens the Fleet screen, ``q`` quits. All are in the
command palette, and all but ``F`` in the footer (the Run screen's footer is
the same with or without a fleet).

Attributes go down, messages come up: the app hands the Run screen the model
to show and its status; the run controller posts
:class:`~tui.runner.RunController.Updated` to the Run screen as the model
moves; the History screen posts :class:`~tui.screens.history.HistoryScreen.OpenRun`
and :class:`~tui.screens.history.HistoryScreen.ExportRun`, handled here; the
Fleet screen posts :class:`~tui.screens.fleet.FleetScreen.LaunchPair` (a planned
run for one host pair), which starts like a re-run with those parameters.
"""

from __future__ import annotations

import argparse
import gc
import sys
import time
from collections.abc import Callable, Iterable
from pathlib import Path, PurePath
from typing import ClassVar

from textual import on
from textual.app import App, SystemCommand
from textual.binding import Binding, BindingType
from textual.screen import Screen
from textual.worker import Worker

from migtd.completion import add_conventions
from migtd.errors import ConfigError
from migtd.inputs import InputError, parse_uint, seconds_arg, uint_arg
from tui import locations
from tui.fleet import CollectSettings, FleetRequest, request_for
from tui.history import HistoryStore, Retention, new_run_id
from tui.launchers import make_launcher
from tui.model import LOG_CAPACITY, RunModel
from tui.params import RunParams, build_parser, params_from_args
from tui.record import RecordError, RunRecord, inputs_of
from tui.report import save_reports
from tui.runner import LauncherFactory, RunController
from tui.screens.fleet import FleetScreen
from tui.screens.history import HistoryScreen
from tui.screens.run import RunScreen
from tui.settings import MAX_KEEP_DAYS, MAX_KEEP_RUNS, load_settings


class ConsoleApp(App[int]):
    """The operator console. Returns 0 when the last run succeeded, else 1."""

    CSS_PATH: ClassVar[list[str | PurePath]] = [Path(__file__).with_name("console.tcss"),  # absolute: subclasses
                                                Path(__file__).with_name("fleet.tcss")]    # live elsewhere
    TITLE = "migtd-console"
    BINDINGS: ClassVar[list[BindingType]] = [Binding("q", "quit", "Quit"), Binding("F", "fleet", "Fleet", show=False)]

    def __init__(self, params: RunParams, *, replay: RunRecord | None = None,
                 history: HistoryStore | None = None, autostart: bool = True,
                 factory: LauncherFactory = make_launcher, log_capacity: int = LOG_CAPACITY,
                 notice: str = "", fleet: FleetRequest | None = None) -> None:
        super().__init__()
        #: The Fleet screen's evidence and policies (``--fleet``): the app opens on it when evidence is given.
        self.fleet_request = fleet
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
        #: The saved run file shown, if any: an input a report must never overwrite.
        self.record_path: Path | None = None
        if replay is not None:
            self.params = RunParams.from_dict(replay.params)
            self.model = replay.replay(log_capacity)
            self.run_id, self.started_at = replay.run_id, replay.started_at
            self.record_path = replay.path
            status = f"replay of run {replay.run_id}"
        else:
            self.model = RunModel(params.to_dict(), log_capacity)
            status = "ready: press r to run" if not autostart else "starting"
        self.run_screen = RunScreen(self.model, status)

    def get_default_screen(self) -> Screen[None]:
        return self.run_screen

    def on_mount(self) -> None:
        if self.notice:
            self.notify(self.notice, severity="warning", timeout=10)
        # Everything alive once the first frame is drawn (Textual, the screens, their
        # widgets) lives as long as the app: move it out of the collector's sight. A flood
        # allocates a few small objects per line, and each full collection would otherwise
        # walk the whole app again (measured: 13-22 % of a 50 000-line ingest).
        self.call_after_refresh(gc.freeze)
        if self.fleet_request is not None and self.fleet_request.evidence:
            self.action_fleet()
        if self.autostart:
            self.call_after_refresh(self.action_rerun)

    def on_unmount(self) -> None:
        """However the app ends (quit, error, test teardown), leave no migtd running."""
        if self.controller is not None:
            self.controller.terminate()
        gc.unfreeze()  # what the app held can be collected again once it is gone

    def get_system_commands(self, screen: Screen[object]) -> Iterable[SystemCommand]:
        yield from super().get_system_commands(screen)
        yield SystemCommand("Re-run", "Start the run again with the same parameters (r)", self.action_rerun)
        yield SystemCommand("Stop run", "Stop the running migtd processes (x)", self.action_stop)
        yield SystemCommand("Save report", "Write JSON and Markdown reports of this run (s)",
                            self.action_save_report)
        yield SystemCommand("History", "Saved runs: replay, delete, export (h)", self.action_history)
        yield SystemCommand("Fleet", "Which hosts can migrate to which: the compatibility matrix (F)",
                            self.action_fleet)
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
        self.record_path = None
        self.controller = RunController(self.params, self.model, self.factory,
                                        post=self.run_screen.post_message)
        self.started_at = self.controller.started_at
        if self.screen is not self.run_screen:
            self.switch_to_run()
        self.run_screen.show_model(self.model, f"run {self.run_id}: running")
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
            self.run_screen.status = f"run {run_id}: {verdict}{note}"

    def action_stop(self) -> None:
        if not self.running or self.controller is None:
            self.notify("nothing is running", timeout=2)
            return
        self.run_screen.status = f"run {self.run_id}: stopping"
        self.run_worker(self.controller.stop(), group="stop")

    # -- reports and history ----------------------------------------------------
    def _inputs(self, params: dict[str, object], record: Path | None) -> list[tuple[str, str | Path | None]]:
        """Files a report must never overwrite: the run's inputs, the saved run shown, the settings."""
        return [*inputs_of(params), ("saved run", record), ("settings file", locations.settings_file())]

    def action_save_report(self) -> None:
        if not self.model.active_roles:
            self.notify("no run to report yet", severity="warning")
            return
        run_id = self.run_id or new_run_id(self.started_at)
        try:
            paths = save_reports(self.model, run_id, self.started_at, self.history.reports,
                                 inputs=self._inputs(self.model.params, self.record_path))
        except InputError as exc:
            self.notify(f"cannot save report: {exc}", severity="error")
            return
        except OSError as exc:
            self.notify(f"cannot save report: {exc.strerror or exc}", severity="error")
            return
        self.notify("saved " + ", ".join(str(p) for p in paths), timeout=6)

    @on(HistoryScreen.ExportRun)
    def export_run(self, message: HistoryScreen.ExportRun) -> None:
        """Write a saved run's report in the format asked for and say where."""
        try:
            record = self.history.load(message.run_id)
            paths = save_reports(record.replay(), record.run_id, record.started_at, self.history.reports,
                                 (message.fmt,), inputs=self._inputs(record.params, record.path))
        except (RecordError, InputError) as exc:
            self.notify(f"cannot export: {exc}", severity="error")
            return
        except OSError as exc:
            self.notify(f"cannot export: {exc.strerror or exc}", severity="error")
            return
        self.notify(f"exported {paths[0]}", timeout=6)

    def action_history(self) -> None:
        if isinstance(self.screen, HistoryScreen):
            return
        self.push_screen(HistoryScreen(self.history))

    def action_fleet(self) -> None:
        """Show the Fleet screen (kept between visits: its matrix is not rebuilt)."""
        if isinstance(self.screen, FleetScreen):
            return
        if not self.is_screen_installed("fleet"):
            request = self.fleet_request or request_for(self.params)
            self.install_screen(FleetScreen(request, self.params), "fleet")
        self.push_screen("fleet")

    @on(FleetScreen.LaunchPair)
    def launch_pair(self, message: FleetScreen.LaunchPair) -> None:
        """Run the pair the Fleet screen planned, in the Run screen (stopping a run in progress first)."""
        if self._restarting:
            self.notify("a run is still stopping; try again in a moment", severity="warning")
            return
        self.params = message.params
        self.notify(f"launching {message.pair} over SSH", timeout=4)
        self.action_rerun()

    def switch_to_run(self) -> None:
        """Pop screens until the Run screen shows."""
        while len(self.screen_stack) > 1 and self.screen is not self.run_screen:
            self.pop_screen()

    @on(HistoryScreen.OpenRun)
    def open_replay(self, message: HistoryScreen.OpenRun) -> None:
        """Show a saved run in the Run screen (stopping nothing that runs)."""
        try:
            record = self.history.load(message.run_id)
        except RecordError as exc:
            self.notify(str(exc), severity="error")
            return
        if self.running:
            self.notify("a run is in progress; stop it (x) before replaying", severity="warning")
            return
        self.params = RunParams.from_dict(record.params)
        self.model = record.replay(self.log_capacity)
        self.run_id, self.started_at, self.record_path = record.run_id, record.started_at, record.path
        self.switch_to_run()
        self.run_screen.show_model(self.model, f"replay of run {record.run_id}")

    async def action_quit(self) -> None:
        if self.controller is not None and self.running:
            await self.controller.stop(note=False)
        code = 0 if self.model.succeeded else 1
        self.exit(code, return_code=code)


def default_migtd() -> str:
    """``migtd`` next to the running interpreter (the venv), else from PATH."""
    beside = Path(sys.executable).with_name("migtd")
    return str(beside) if beside.exists() else "migtd"


def _count_flag(high: int, what: str) -> Callable[[str], int]:
    """An argparse type: a whole number 0…``high`` with Rust's rules (:func:`migtd.inputs.parse_uint`)."""
    def parse(text: str) -> int:
        value = parse_uint(text, 64)
        if value is None or value > high:
            raise argparse.ArgumentTypeError(f"invalid {what}: {text[:40]!r} (0 … {high}; 0 = no limit)")
        return value
    return parse


def build_console_parser() -> argparse.ArgumentParser:
    """The run flags of :func:`tui.params.build_parser` plus the console's own (history, locations)."""
    parser = build_parser()
    group = parser.add_argument_group("console")
    group.add_argument("--keep-runs", metavar="N", type=_count_flag(MAX_KEEP_RUNS, "run count"),
                       help="saved runs to keep in the history (default 200, or history_keep_runs "
                            "in the settings; 0: no limit)")
    group.add_argument("--keep-days", metavar="D", type=_count_flag(MAX_KEEP_DAYS, "day count"),
                       help="days a saved run is kept (default 90, or history_keep_days; 0: no limit)")
    group.add_argument("--locate", action="store_true",
                       help="print where the settings, history and reports live, and exit")
    fleet = parser.add_argument_group(
        "fleet", "open on the Fleet screen: the compatibility matrix of collected evidence under the policy in "
                 "force (--policy, or --src-policy and --dst-policy; --issuer-chain for policy v2; "
                 "--root-ca-file and --collateral-file for v1, default the mock PKI's)")
    fleet.add_argument("--fleet", metavar="DIR", action="append", default=[],
                       help="evidence: a folder written by 'migtd-tool fleet collect' (or an evidence file; "
                            "repeatable)")
    fleet.add_argument("--inventory", metavar="INV",
                       help="the hosts' inventory: their groups (filters) and where to reach them (launch)")
    fleet.add_argument("--compare-policy", metavar="F", help="the policy the 'what changes' mode (w) compares with")
    fleet.add_argument("--compare-issuer-chain", metavar="F", help="its issuer chain (policy v2)")
    collect = parser.add_argument_group(
        "fleet collection", "the Fleet screen's g key collects the --inventory hosts' evidence into the first --fleet "
                            "folder over SSH (--ssh-config, --ssh-option apply), as 'migtd-tool fleet collect' "
                            "does: only hosts that failed or whose evidence is stale; G re-collects every host")
    collect.add_argument("--collect-concurrency", metavar="N", type=uint_arg(32, minimum=1, maximum=1024),
                         default=CollectSettings.concurrency, help="hosts collected at once (default %(default)s)")
    collect.add_argument("--collect-timeout", metavar="SECONDS", type=seconds_arg(),
                         default=CollectSettings.timeout,
                         help="seconds per host, connection included (default %(default)g)")
    collect.add_argument("--collect-stale", metavar="AGE", type=_age_flag, default=CollectSettings.stale_after,
                         help="re-collect evidence older than AGE (s, m, h, d suffixes; default 24h)")
    collect.add_argument("--collect-remote-tool", metavar="PATH", default=CollectSettings.remote_tool,
                         help="migtd-tool on the hosts (default: from the remote PATH; the inventory "
                              "variable migtd_tool overrides it per host)")
    return parser


def _age_flag(text: str) -> float:
    """An argparse type: ``90``, ``30m``, ``24h``, ``7d`` (:func:`migtd.fleet.collect.parse_age`)."""
    from migtd.fleet.collect import parse_age

    try:
        return parse_age(text)
    except ConfigError:
        shown = text if len(text) <= 24 else text[:21] + "..."
        raise argparse.ArgumentTypeError(f"{shown!r} is not an age like 90, 30m, 24h or 7d") from None


def main(argv: list[str] | None = None) -> int:
    """``migtd-console``: parse flags, run the app; 0 when the last run succeeded, else 1."""
    parser = add_conventions(build_console_parser())  # --version, --print-completion
    ns = parser.parse_args(argv)
    if ns.locate:
        for what, path in locations.locations():
            print(f"{what + ':':40} {path}")
        return 0
    settings, notice = load_settings()
    params = params_from_args(ns, default_migtd(), settings, check=not ns.fleet)
    retention = Retention(settings.history_keep_runs if ns.keep_runs is None else ns.keep_runs,
                          settings.history_keep_days if ns.keep_days is None else ns.keep_days)
    store = HistoryStore(retention=retention)
    notes = [notice] if notice else []
    try:
        if store.migrate():
            notes.append(store.migration_note)
        store.prune()
    except OSError as exc:
        notes.append(f"run history: {exc.strerror or exc}")
    replay = None
    if ns.replay:
        try:
            replay = store.load(ns.replay)
        except RecordError as exc:
            print(f"migtd-console: {exc}", file=sys.stderr)
            return 1
    fleet = None
    collect = CollectSettings(ns.collect_concurrency, ns.collect_timeout, ns.collect_stale, ns.collect_remote_tool)
    if ns.fleet:
        fleet = request_for(params, tuple(ns.fleet), inventory=ns.inventory, diff_policy=ns.compare_policy,
                            diff_issuer_chain=ns.compare_issuer_chain, collect=collect)
    elif ns.inventory or ns.compare_policy:
        fleet = request_for(params, (), inventory=ns.inventory, diff_policy=ns.compare_policy,
                            diff_issuer_chain=ns.compare_issuer_chain, collect=collect)
    app = ConsoleApp(params, replay=replay, history=store, log_capacity=settings.log_capacity,
                     notice="; ".join(notes), fleet=fleet, autostart=not ns.fleet)
    app.run()
    # return_code, not run()'s result: after an unhandled exception Textual
    # returns None from run() but sets return_code to 1.
    return int(app.return_code or 0)


if __name__ == "__main__":
    sys.exit(main())
