"""The collection screen: the Fleet screen's ``g``, evidence from every inventory host over SSH.

The work is ``migtd-tool fleet collect``'s collector, run by
:class:`tui.fleet.Collection` in a worker thread. The worker posts messages
and the screen only displays them: :class:`CollectScreen.Planned` (the hosts,
which are due and which are fresh), one :class:`CollectScreen.HostDone` per
host the collector finishes, then :class:`CollectScreen.Finished` (or
:class:`CollectScreen.Failed`, one line, when the inventory, the folder or ssh
cannot be used). Escape cancels a running collection (the ssh processes are
killed, the state file keeps what was collected) and, once it has ended, goes
back to the Fleet screen, which reloads its matrix as soon as the run ends.

Nothing on the screen depends on time (no durations, no clock), so a run's
screen is the same on every machine.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import ClassVar

from rich.text import Text
from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Horizontal
from textual.message import Message
from textual.screen import Screen
from textual.widgets import Footer, ProgressBar, Static

from migtd.errors import MigtdError
from migtd.fleet.collect import CollectProgress, CollectSummary
from tui import fleet
from tui.params import RunParams
from tui.widgets.collect import CollectTable


def one_line(exc: BaseException, what: str) -> str:
    """An exception as the one line the screen shows."""
    if isinstance(exc, MigtdError):
        return exc.message
    if isinstance(exc, OSError):
        return f"{what}: {exc.strerror or exc}"
    return f"{what}: {type(exc).__name__}: {exc}"


def age_text(seconds: float) -> str:
    """``24 h``, ``30 min``, ``90 s``: how the header states the staleness limit."""
    for unit, size in (("d", 86400), ("h", 3600), ("min", 60)):
        if seconds >= size and seconds % size == 0:
            return f"{int(seconds // size)} {unit}"
    return f"{seconds:g} s"


class CollectScreen(Screen[None]):
    """Collect an inventory's evidence into the fleet's folder; ``done`` is called when the run ends."""

    class Planned(Message, bubble=False):
        """The inventory is read and the due hosts are known; the collector starts."""

        def __init__(self, plan: fleet.CollectPlan) -> None:
            super().__init__()
            self.plan = plan

    class HostDone(Message, bubble=False):
        """The collector finished one host (collected or failed)."""

        def __init__(self, progress: CollectProgress) -> None:
            super().__init__()
            self.progress = progress

    class Finished(Message, bubble=False):
        """The run ended: its summary, or None when it was cancelled."""

        def __init__(self, summary: CollectSummary | None) -> None:
            super().__init__()
            self.summary = summary

    class Failed(Message, bubble=False):
        """The collection could not start or broke: ``line`` says why."""

        def __init__(self, line: str) -> None:
            super().__init__()
            self.line = line

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape", "back", "Cancel / back"),
        Binding("F", "fleet", "Fleet", show=False),  # the app's F would push the Fleet screen a second time
        Binding("q", "app.quit", "Quit"),
    ]

    def __init__(self, request: fleet.FleetRequest, base: RunParams, *, refresh_all: bool = False,
                 done: Callable[[CollectSummary | None], None] | None = None) -> None:
        super().__init__()
        self.request = request
        self.base = base
        self.refresh_all = refresh_all
        self.done_callback = done
        self.collection = fleet.Collection()
        self.plan: fleet.CollectPlan | None = None
        self.running = False
        self.finished = False
        self.summary: CollectSummary | None = None
        self.status = ""

    def compose(self) -> ComposeResult:
        yield Static(id="collect-header")
        with Horizontal(id="collect-progress-row"):
            yield Static(id="collect-count")
            yield ProgressBar(id="collect-progress", show_eta=False)
        yield CollectTable(id="collect-table", cursor_type="row", zebra_stripes=True)
        yield Static(id="collect-status")
        yield Footer()

    def on_mount(self) -> None:
        self._header()
        self._status("reading the inventory…")
        self.query_one("#collect-count", Static).update("starting")
        self.running = True
        self._collect(self.request, self.base, self.refresh_all)

    def _header(self) -> None:
        s = self.request.collect
        text = Text()
        text.append(" Collect ", "bold reverse")
        inventory = Path(self.request.inventory).name if self.request.inventory else "(no inventory)"
        folder = Path(self.request.evidence[0]).name if self.request.evidence else "(no folder)"
        text.append(f"  inventory {inventory} → {folder}/")
        text.append(f"\n {s.concurrency} hosts at a time, {s.timeout:g} s per host, "
                    + ("every host re-collected" if self.refresh_all
                       else f"re-collects failed hosts and evidence older than {age_text(s.stale_after)}"))
        self.query_one("#collect-header", Static).update(text)

    def _status(self, line: str) -> None:
        self.status = line
        self.query_one("#collect-status", Static).update(Text(f" {line}", style="italic"))

    # -- the worker ----------------------------------------------------------------------
    @work(thread=True, exclusive=True, group="fleet-collect")
    def _collect(self, request: fleet.FleetRequest, base: RunParams, refresh_all: bool) -> None:
        try:
            plan = fleet.plan_collection(request, base, refresh_all=refresh_all)
        except Exception as exc:  # noqa: BLE001 - any failure is one line on the screen, never a crash
            self.post_message(self.Failed(one_line(exc, "cannot collect")))
            return
        self.post_message(self.Planned(plan))
        def report(progress: CollectProgress) -> None:
            self.post_message(self.HostDone(progress))

        try:
            summary = self.collection.run(plan, report)
        except Exception as exc:  # noqa: BLE001
            self.post_message(self.Failed(one_line(exc, "collection failed")))
            return
        self.post_message(self.Finished(summary))

    # -- what the worker says --------------------------------------------------------------
    @on(Planned)
    def _planned(self, message: Planned) -> None:
        plan = message.plan
        self.plan = plan
        due = set(plan.due)
        self.query_one(CollectTable).plan([(h.name, h.address, h.name in due) for h in plan.inventory.hosts])
        self.query_one("#collect-progress", ProgressBar).update(total=max(len(plan.due), 1), progress=0)
        self._count(0)
        if self.collection.cancelled:
            return
        self._status(f"collecting {len(plan.due)} of {len(plan.inventory.hosts)} hosts over SSH "
                     "(escape cancels)" if plan.due else "nothing to collect: every host's evidence is fresh")

    def _count(self, done: int) -> None:
        plan = self.plan
        if plan is None:
            return
        fresh = len(plan.fresh)
        self.query_one("#collect-count", Static).update(
            f"{done}/{len(plan.due)} collected or failed" + (f" · {fresh} fresh (skipped)" if fresh else ""))

    @on(HostDone)
    def _host_done(self, message: HostDone) -> None:
        self.query_one(CollectTable).outcome(message.progress.outcome)
        self.query_one("#collect-progress", ProgressBar).update(progress=message.progress.done)
        self._count(message.progress.done)

    @on(Finished)
    def _finished(self, message: Finished) -> None:
        self.running = False
        self.finished = True
        self.summary = message.summary
        table = self.query_one(CollectTable)
        if message.summary is None:
            left = table.cancel_pending()
            states = table.states()
            got = sum(1 for s in states.values() if s == "collected")
            self._status(f"cancelled: {got} collected, {left} not attempted (they keep their earlier state) · "
                         "escape: back to the matrix (reloaded)")
        else:
            for outcome in message.summary.outcomes:
                table.outcome(outcome)
            n = {s: sum(1 for o in message.summary.outcomes if o.status == s)
                 for s in ("collected", "fresh", "failed")}
            self._status(f"{len(message.summary.outcomes)} hosts: {n['collected']} collected, "
                         f"{n['fresh']} fresh (skipped), {n['failed']} failed"
                         + (" (g again retries the failed ones)" if n["failed"] else "")
                         + " · escape: back to the matrix (reloaded)")
        if self.done_callback is not None:
            self.done_callback(message.summary)

    @on(Failed)
    def _failed(self, message: Failed) -> None:
        self.running = False
        self.finished = True
        self.query_one("#collect-count", Static).update("not collected")
        self._status(message.line)

    # -- keys ----------------------------------------------------------------------
    def action_back(self) -> None:
        if self.running:
            self.collection.cancel()
            self._status("cancelling: stopping the ssh processes…")
            return
        self.dismiss(None)

    def action_fleet(self) -> None:
        if self.running:
            self.notify("a collection is running: escape cancels it", severity="warning")
            return
        self.dismiss(None)

    def on_unmount(self) -> None:
        self.collection.cancel()
