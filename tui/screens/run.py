"""The Run screen: one migration, live or replayed, both sides side by side.

Launchers feed the model from their reader tasks; the screen never redraws per
line. A timer (every :data:`TICK` seconds) compares the model's version with
the last one drawn and refreshes the panes once, which is what keeps the app
responsive under a flood of log lines.
"""

from __future__ import annotations

from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.screen import Screen
from textual.widgets import Footer, Input

from tui.model import ROLES, RunModel
from tui.widgets.logview import LogView
from tui.widgets.panes import AttestationPane, PolicyPane, ResultBar, RunHeader, Timeline

#: Seconds between UI refreshes while events arrive.
TICK = 0.08


class RunScreen(Screen[None]):
    """Header, per-side timeline/attestation/policy/log, result bar."""

    BINDINGS = [
        Binding("r", "app.rerun", "Re-run"),
        Binding("x", "app.stop", "Stop"),
        Binding("s", "app.save_report", "Save report"),
        Binding("h", "app.history", "History"),
        Binding("slash", "filter", "Filter logs", key_display="/"),
        Binding("f", "toggle_follow", "Follow/pause"),
        Binding("q", "app.quit", "Quit"),
        Binding("escape", "close_filter", "Close filter", show=False),
    ]

    def __init__(self, model: RunModel) -> None:
        super().__init__()
        self.model = model
        self.status = ""
        self._drawn = -1
        self._mounted = False

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
        self._mounted = True
        self.redraw(force=True)
        self.set_interval(TICK, self.redraw)

    def set_model(self, model: RunModel, status: str) -> None:
        """Show another run (a re-run or a replay) in this screen."""
        self.model = model
        self.status = status
        if not self._mounted:
            return  # compose() will build the panes from self.model
        for role in ROLES:
            self.query_one(f"#log-{role}", LogView).set_side(model.sides[role])
        self.redraw(force=True)

    def set_status(self, status: str) -> None:
        self.status = status
        if self._mounted:
            self.redraw(force=True)

    def redraw(self, force: bool = False) -> None:
        """Refresh every pane if the model changed since the last tick."""
        model = self.model
        if model.version == self._drawn and not force:
            return
        self._drawn = model.version
        self.query_one(RunHeader).show(model, self.status)
        shown = model.params.get("roles") or model.active_roles or list(ROLES)
        for role in ROLES:
            side = model.sides[role]
            column = self.query_one(f"#side-{role}")
            column.display = role in shown or side.started
            self.query_one(f"#timeline-{role}", Timeline).show(side)
            self.query_one(f"#attestation-{role}", AttestationPane).show(model, role)
            self.query_one(f"#policy-{role}", PolicyPane).show(side)
            self.query_one(f"#log-{role}", LogView).sync()
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

    def on_input_changed(self, event: Input.Changed) -> None:
        if event.input.id == "filter":
            for role in ROLES:
                self.query_one(f"#log-{role}", LogView).set_filter(event.value)

    def on_input_submitted(self, event: Input.Submitted) -> None:
        if event.input.id == "filter":
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
