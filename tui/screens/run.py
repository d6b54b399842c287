"""The Run screen: one migration, live or replayed, both sides side by side.

Nothing here polls. During a live run the controller posts
:class:`tui.runner.RunController.Updated` each time the model moved; queued
ones coalesce while the screen is busy, so a flood costs one redraw per batch
the screen can take, not one per line. The redraw itself touches only what
moved: each side's log pane catches up with its new lines, and the timeline,
attestation, policy and result panes are re-rendered only when that side's
``changes`` counter moved. The status line is a reactive attribute the app
sets.
"""

from __future__ import annotations

from typing import ClassVar

from textual import on
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.reactive import reactive
from textual.screen import Screen
from textual.widgets import Footer, Input

from tui.model import ROLES, RunModel
from tui.runner import RunController
from tui.widgets.logview import LogView
from tui.widgets.panes import AttestationPane, PolicyPane, ResultBar, RunHeader, Timeline


class RunScreen(Screen[None]):
    """Header, per-side timeline/attestation/policy/log, result bar."""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("r", "app.rerun", "Re-run"),
        Binding("x", "app.stop", "Stop"),
        Binding("s", "app.save_report", "Save report"),
        Binding("h", "app.history", "History"),
        Binding("slash", "filter", "Filter logs", key_display="/"),
        Binding("f", "toggle_follow", "Follow/pause"),
        Binding("q", "app.quit", "Quit"),
        Binding("escape", "close_filter", "Close filter", show=False),
    ]

    #: The second line of the header: running, succeeded, failed, stopped, replay of …
    status: reactive[str] = reactive("", init=False)

    def __init__(self, model: RunModel, status: str = "") -> None:
        super().__init__()
        self.model = model
        self.set_reactive(RunScreen.status, status)
        #: ``model.version`` when the panes were last drawn (``-1``: never).
        self.drawn = -1
        self._side_changes: dict[str, int] = {}

    def compose(self) -> ComposeResult:
        yield RunHeader(id="run-header")
        with Horizontal(id="sides"):
            for role in ROLES:
                with Vertical(id=f"side-{role}", classes="side"):
                    yield Timeline(id=f"timeline-{role}", classes="timeline")
                    yield AttestationPane(id=f"attestation-{role}", classes="attestation")
                    with VerticalScroll(id=f"policy-box-{role}", classes="policy-box"):
                        yield PolicyPane(id=f"policy-{role}", classes="policy")
                    log = LogView(self.model.sides[role], id=f"log-{role}", classes="log")
                    log.border_title = f"{role} log"
                    yield log
        yield Input(placeholder="filter logs: text, and/or level:warn  (Enter keeps it, Esc closes)",
                    id="filter")
        yield ResultBar(id="result-bar")
        yield Footer()

    def on_mount(self) -> None:
        self.redraw(force=True)

    def show_model(self, model: RunModel, status: str) -> None:
        """Show another run (a re-run or a replay) in this screen."""
        self.model = model
        self.set_reactive(RunScreen.status, status)
        if not self.is_mounted:
            return  # compose() builds the panes from self.model
        for role in ROLES:
            self.query_one(f"#log-{role}", LogView).set_side(model.sides[role])
        self.redraw(force=True)

    def watch_status(self) -> None:
        if self.is_mounted:
            self.query_one(RunHeader).show(self.model, self.status)

    @on(RunController.Updated)
    def _run_moved(self, message: RunController.Updated) -> None:
        if message.model is self.model:  # not a late message from a run no longer shown
            self.redraw()

    def redraw(self, force: bool = False) -> None:
        """Bring the panes up to the model: logs always, the rest where that side changed."""
        model = self.model
        if model.version == self.drawn and not force:
            return
        self.drawn = model.version
        moved = force
        shown = model.params.get("roles") or model.active_roles or list(ROLES)
        for role in ROLES:
            side = model.sides[role]
            self.query_one(f"#log-{role}", LogView).sync()
            if not force and self._side_changes.get(role) == side.changes:
                continue
            moved = True
            self._side_changes[role] = side.changes
            self.query_one(f"#side-{role}").display = role in shown or side.started
            self.query_one(f"#timeline-{role}", Timeline).show(side)
            self.query_one(f"#attestation-{role}", AttestationPane).show(model, role)
            self.query_one(f"#policy-{role}", PolicyPane).show(side)
        if moved:
            self.query_one(RunHeader).show(model, self.status)
            self.query_one(ResultBar).show(model)

    # -- filter and follow ------------------------------------------------------
    def action_filter(self) -> None:
        box = self.query_one("#filter", Input)
        box.add_class("shown")
        box.focus()

    def action_close_filter(self) -> None:
        box = self.query_one("#filter", Input)
        box.value = ""
        box.remove_class("shown")
        self.query_one("#log-source", LogView).focus()

    @on(Input.Changed, "#filter")
    def _filter_changed(self, event: Input.Changed) -> None:
        for role in ROLES:
            self.query_one(f"#log-{role}", LogView).set_filter(event.value)

    @on(Input.Submitted, "#filter")
    def _filter_kept(self, event: Input.Submitted) -> None:
        self.query_one("#log-source", LogView).focus()
        if not event.value:
            event.input.remove_class("shown")

    def action_toggle_follow(self) -> None:
        logs = list(self.query(LogView))
        follow = not all(log.follow for log in logs)
        for log in logs:
            log.follow = follow
        self.notify("following new lines" if follow else "paused: new lines are kept but not scrolled to",
                    timeout=2)
