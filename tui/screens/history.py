"""The History screen: saved runs, newest first; open (replay), delete, export.

The screen shows and deletes runs itself; opening or exporting one concerns
the whole app (the Run screen, the reports), so it posts
:class:`HistoryScreen.OpenRun` / :class:`HistoryScreen.ExportRun` and the app
handles them. A run whose summary could not be read is one "unreadable" row
with the reason; it can be deleted like any other.
"""

from __future__ import annotations

import time
from typing import ClassVar

from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.message import Message
from textual.screen import Screen
from textual.widgets import DataTable, Footer, Static

from tui.history import HistoryStore, RunInfo


def _when(ts: float) -> str:
    return time.strftime("%Y-%m-%d %H:%M:%S", time.gmtime(ts))


def _msk(value: bool | None) -> str:
    return {True: "match", False: "DIFFER", None: "—"}[value]


class HistoryScreen(Screen[None]):
    """A table of saved runs; Enter replays the selected run in the Run screen."""

    class OpenRun(Message):
        """Replay the saved run ``run_id`` in the Run screen."""

        def __init__(self, run_id: str) -> None:
            super().__init__()
            self.run_id = run_id

    class ExportRun(Message):
        """Write the saved run ``run_id``'s report in ``fmt`` (``json`` or ``md``)."""

        def __init__(self, run_id: str, fmt: str) -> None:
            super().__init__()
            self.run_id = run_id
            self.fmt = fmt

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("enter", "open", "Open (replay)", priority=True),
        Binding("d", "delete", "Delete"),
        Binding("j", "export('json')", "Export JSON"),
        Binding("m", "export('md')", "Export Markdown"),
        Binding("escape,h", "back", "Back"),
        Binding("q", "app.quit", "Quit"),
    ]

    def __init__(self, store: HistoryStore) -> None:
        super().__init__()
        self.store = store
        self.runs: list[RunInfo] = []

    def compose(self) -> ComposeResult:
        yield Static(id="history-title")
        yield DataTable(id="history-table", cursor_type="row", zebra_stripes=True)
        yield Footer()

    def on_mount(self) -> None:
        table = self.query_one(DataTable)
        table.add_columns("started (UTC)", "run", "mode", "sides", "source", "destination", "MSK", "")
        self.reload()
        table.focus()

    def reload(self) -> None:
        self.runs = self.store.list()
        table = self.query_one(DataTable)
        table.clear()
        for info in self.runs:
            if info.problem:
                table.add_row(_when(info.started_at), info.run_id, "?", "", "", "", "",
                              f"unreadable: {info.problem}", key=info.run_id)
                continue
            table.add_row(_when(info.started_at), info.run_id, info.mode, "+".join(info.roles),
                          info.results.get("source", "—"), info.results.get("destination", "—"),
                          _msk(info.msk_match), "ok" if info.ok else "FAILED", key=info.run_id)
        title = self.query_one("#history-title", Static)
        title.update(f" Run history · {len(self.runs)} saved run(s) · newest first")
        title.tooltip = str(self.store.runs)

    def _selected(self) -> RunInfo | None:
        table = self.query_one(DataTable)
        if not self.runs or table.cursor_row is None or table.cursor_row >= len(self.runs):
            return None
        return self.runs[table.cursor_row]

    def action_open(self) -> None:
        info = self._selected()
        if info is None:
            self.notify("no run selected", severity="warning")
            return
        self.post_message(self.OpenRun(info.run_id))

    def action_delete(self) -> None:
        info = self._selected()
        if info is None:
            return
        try:
            self.store.delete(info.run_id)
        except OSError as exc:
            self.notify(f"cannot delete run {info.run_id}: {exc.strerror or exc}", severity="error")
            return
        self.notify(f"deleted run {info.run_id}")
        self.reload()

    def action_export(self, fmt: str) -> None:
        info = self._selected()
        if info is None:
            self.notify("no run selected", severity="warning")
            return
        self.post_message(self.ExportRun(info.run_id, fmt))

    def action_back(self) -> None:
        self.dismiss()
