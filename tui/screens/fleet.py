"""The Fleet screen: which hosts can migrate to which under the policy in force, and why not.

The matrix is built in a worker thread (:func:`tui.fleet.load`: quote
verification and policy evaluation take seconds on a large fleet), which
posts :class:`FleetScreen.Progress` — coalesced while the screen is busy, as
the Run screen's updates are — and then :class:`FleetScreen.Loaded` or
:class:`FleetScreen.Failed` (one line). The screen only displays: the class
grid (:class:`~tui.widgets.fleet.MatrixGrid`), the counts, the selected
cell, and the filters (host groups, verdict, failing rule) that re-draw the
grid from :meth:`Matrix.cells`.

Enter on a cell opens :class:`PairScreen`: both sides' rule tables for one
host pair of the cell, side by side, in the Run screen's policy pane. ``l``
launches that pair as a real migration over SSH: the screen posts
:class:`FleetScreen.LaunchPair` with the planned parameters and the app
starts the run and shows it in the Run screen. ``w`` is the "what changes"
mode (the flips between the policy in force and another), ``j`` / ``c`` /
``m`` export the matrix (JSON, CSV) and the comparison (Markdown).

``g`` collects the inventory's evidence into the fleet's folder over SSH
(:class:`~tui.screens.collect.CollectScreen`: only hosts that failed or whose
evidence is stale, as ``migtd-tool fleet collect`` does; ``G`` re-collects
every host) and reloads the matrix when the run ends.
"""

from __future__ import annotations

import time
from dataclasses import replace
from pathlib import Path
from typing import Any, ClassVar

from rich.text import Text
from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.message import Message
from textual.screen import Screen
from textual.widgets import Button, ContentSwitcher, DataTable, Footer, ProgressBar, Select, Static
from textual.worker import get_current_worker

from migtd.errors import MigtdError
from migtd.fleet.diff import PolicyDiff
from migtd.fleet.matrix import VERDICTS, Cell, Matrix, PairExplanation, Verdict
from migtd.fleet.progress import STAGE_NAMES
from tui import fleet, locations
from tui.params import RunParams
from tui.screens.collect import CollectScreen
from tui.screens.prompt import PathPrompt
from tui.widgets.fleet import (
    LABEL_COLUMN,
    VERDICT_STYLE,
    CellDetail,
    FlipTable,
    MatrixGrid,
    VerdictCounts,
    diff_summary,
    flip_at,
    outcome_text,
    verdict_text,
)
from tui.widgets.panes import PolicyPane

#: Seconds between two progress messages from the worker (the bar needs no more).
PROGRESS_INTERVAL = 0.05


class _Cancelled(Exception):
    """The worker was cancelled (a new load replaced it, the app is closing)."""


def _one_line(exc: BaseException, what: str) -> str:
    if isinstance(exc, MigtdError):
        return exc.message
    if isinstance(exc, OSError):
        return f"{what}: {exc.strerror or exc}"
    return f"{what}: {type(exc).__name__}: {exc}"


class FleetScreen(Screen[None]):
    """The compatibility matrix of a fleet, its filters, the pairs behind a cell, and policy comparisons."""

    class Progress(Message, bubble=False):
        """The worker got ``done`` of ``total`` through ``stage``; a newer one replaces a queued one."""

        def __init__(self, stage: str, done: int, total: int) -> None:
            super().__init__()
            self.stage, self.done, self.total = stage, done, total

        def can_replace(self, message: Message) -> bool:
            return isinstance(message, FleetScreen.Progress)

    class Loaded(Message, bubble=False):
        """The matrix is ready."""

        def __init__(self, loaded: fleet.LoadedFleet) -> None:
            super().__init__()
            self.loaded = loaded

    class Compared(Message, bubble=False):
        """The "what changes" comparison is ready."""

        def __init__(self, diff: PolicyDiff) -> None:
            super().__init__()
            self.diff = diff

    class Failed(Message, bubble=False):
        """Loading (``compare`` False) or comparing failed: ``line`` says why."""

        def __init__(self, line: str, compare: bool = False) -> None:
            super().__init__()
            self.line = line
            self.compare = compare

    class LaunchPair(Message):
        """Run a real migration with ``params`` (planned for one host pair); the app starts it."""

        def __init__(self, params: RunParams, pair: str) -> None:
            super().__init__()
            self.params = params
            self.pair = pair

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("l", "launch", "Launch pair"),
        Binding("w", "what_changes", "What changes"),
        Binding("p", "compare_with", "Compare with…"),
        Binding("slash", "filters", "Filters", key_display="/"),
        Binding("j", "export('json')", "JSON"),
        Binding("c", "export('csv')", "CSV"),
        Binding("m", "export('md')", "Diff MD"),
        Binding("o", "open", "Open"),
        Binding("r", "reload", "Reload"),
        Binding("g", "collect", "Collect"),
        Binding("G", "collect(True)", "Collect all", show=False),
        Binding("escape", "back", "Run screen"),
        Binding("q", "app.quit", "Quit"),
    ]

    def __init__(self, request: fleet.FleetRequest, base: RunParams, *, export_dir: Path | None = None) -> None:
        super().__init__()
        self.request = request
        self.base = base
        self.export_dir = export_dir
        self.loaded: fleet.LoadedFleet | None = None
        self.diff: PolicyDiff | None = None
        self.cells: dict[tuple[int, int], Cell] = {}
        self.status = ""
        self._last_progress = 0.0

    # -- layout -------------------------------------------------------------------
    def compose(self) -> ComposeResult:
        yield Static(id="fleet-header")
        with Horizontal(id="fleet-filters"):
            yield Select([], prompt="source group: any", id="filter-src", compact=True)
            yield Select([], prompt="destination group: any", id="filter-dst", compact=True)
            yield Select([(verdict_text(v), v) for v in VERDICTS], prompt="verdict: any", id="filter-verdict",
                         compact=True)
            yield Select([], prompt="failing rule: any", id="filter-rule", compact=True)
        with Horizontal(id="fleet-loading"):
            yield Static(id="fleet-stage")
            yield ProgressBar(id="fleet-progress", show_eta=False)
        with Horizontal(id="fleet-body"):
            with ContentSwitcher(initial="fleet-grid", id="fleet-main"):
                yield MatrixGrid(id="fleet-grid", cursor_type="cell", header_height=2, fixed_columns=1)
                with Vertical(id="fleet-diff"):
                    yield Static(id="diff-summary")
                    yield FlipTable(id="flip-table", cursor_type="row", zebra_stripes=True)
            with Vertical(id="fleet-side"):
                yield VerdictCounts(id="fleet-counts")
                yield CellDetail(id="fleet-cell")
                with Horizontal(id="fleet-buttons"):
                    yield Button("JSON", id="export-json", compact=True)
                    yield Button("CSV", id="export-csv", compact=True)
                    yield Button("Diff MD", id="export-md", compact=True)
        yield Footer()

    def on_mount(self) -> None:
        self.query_one("#fleet-loading").display = False
        self.query_one("#fleet-filters").display = False
        if self.request.evidence:
            self.start_load(self.request)
        else:
            self._header("no fleet loaded: press o to open a folder written by migtd-tool fleet collect, "
                         "or g to collect one from an inventory over SSH")

    def _header(self, status: str) -> None:
        self.status = status
        text = Text()
        text.append(" Fleet ", "bold reverse")
        if self.request.evidence:
            text.append(f"  {self.request.label}")
        loaded = self.loaded
        if loaded is not None:
            src, dst = loaded.source, loaded.destination
            if src is dst or src.sha384 == dst.sha384:
                text.append(f"  ·  policy {src.label} (v{src.version}, {src.short}…)")
            else:
                text.append(f"  ·  source policy {src.label} ({src.short}…), destination policy {dst.label} "
                            f"({dst.short}…)")
            if loaded.request.inventory:
                text.append(f"  ·  inventory {Path(loaded.request.inventory).name}")
        text.append(f"\n {status}", "italic")
        self.query_one("#fleet-header", Static).update(text)

    # -- loading --------------------------------------------------------------------
    def start_load(self, request: fleet.FleetRequest) -> None:
        """(Re)build the matrix of ``request`` in a worker; the previous one is cancelled."""
        self.request = request
        self.diff = None
        self.query_one("#fleet-loading").display = True
        self.query_one("#fleet-progress", ProgressBar).update(total=None, progress=0)
        self.query_one("#fleet-stage", Static).update("reading evidence")
        self._header("loading…")
        self._load(request)

    def _progress_callback(self) -> fleet.Progress:
        worker = get_current_worker()

        def progress(stage: str, done: int, total: int) -> None:
            if worker.is_cancelled:
                raise _Cancelled
            now = time.monotonic()
            if done < total and now - self._last_progress < PROGRESS_INTERVAL:
                return
            self._last_progress = now
            self.post_message(self.Progress(stage, done, total))

        return progress

    @work(thread=True, exclusive=True, group="fleet-load")
    def _load(self, request: fleet.FleetRequest) -> None:
        progress = self._progress_callback()
        try:
            loaded = fleet.load(request, progress)
        except _Cancelled:
            return
        except Exception as exc:  # noqa: BLE001 - any failure is one line on the screen, never a crash
            self.post_message(self.Failed(_one_line(exc, "cannot load the fleet")))
            return
        self.post_message(self.Loaded(loaded))

    @work(thread=True, exclusive=True, group="fleet-load")
    def _compare(self, loaded: fleet.LoadedFleet, policy: str, chain: str | None) -> None:
        progress = self._progress_callback()
        try:
            diff = fleet.compare(loaded, policy, chain, progress)
        except _Cancelled:
            return
        except Exception as exc:  # noqa: BLE001
            self.post_message(self.Failed(_one_line(exc, "cannot compare the policies"), compare=True))
            return
        self.post_message(self.Compared(diff))

    @on(Progress)
    def _progress(self, message: Progress) -> None:
        self.query_one("#fleet-stage", Static).update(f"{STAGE_NAMES.get(message.stage, message.stage)} "
                                                      f"{message.done}/{message.total}")
        self.query_one("#fleet-progress", ProgressBar).update(total=max(message.total, 1), progress=message.done)

    @on(Failed)
    def _failed(self, message: Failed) -> None:
        self.query_one("#fleet-loading").display = False
        if message.compare:  # the matrix shown stays valid
            self.notify(message.line, severity="error", timeout=10)
            return
        # a failed (re)load: nothing of an earlier fleet stays on screen as if it were this one
        self.loaded = None
        self.diff = None
        self.cells = {}
        self.query_one("#fleet-filters").display = False
        self.query_one(MatrixGrid).clear(columns=True)
        self.query_one(FlipTable).clear(columns=True)
        self.query_one(ContentSwitcher).current = "fleet-grid"
        self.query_one(VerdictCounts).update("")
        self.query_one(CellDetail).update("")
        self._header(message.line + (" · g collects the inventory's evidence" if self.request.inventory else ""))

    @on(Loaded)
    def _loaded(self, message: Loaded) -> None:
        loaded = message.loaded
        self.loaded = loaded
        self.query_one("#fleet-loading").display = False
        m = loaded.matrix
        self._fill_filters(m)
        self.query_one("#fleet-filters").display = True
        self.query_one(ContentSwitcher).current = "fleet-grid"
        note = ""
        if loaded.warnings:
            note = f" · {len(loaded.warnings)} damaged evidence file(s): {loaded.warnings[0]}"
        self._header(m.grouping_line() + note)
        self.redraw()
        self.query_one(MatrixGrid).focus()

    def _fill_filters(self, m: Matrix) -> None:
        groups = [(g, g) for g in m.groups()]
        self.query_one("#filter-src", Select).set_options(groups)
        self.query_one("#filter-dst", Select).set_options(groups)
        self.query_one("#filter-verdict", Select).clear()
        rules = sorted({rule for _side, rule, _n in m.rule_counts()})
        self.query_one("#filter-rule", Select).set_options([(r, r) for r in rules])

    # -- drawing ----------------------------------------------------------------------
    def _filter(self, select_id: str) -> Any:
        value = self.query_one(select_id, Select).value
        return None if value is Select.NULL else value

    @property
    def filters(self) -> dict[str, Any]:
        """The filters in force, as :meth:`Matrix.cells` takes them."""
        return {"source_group": self._filter("#filter-src"), "destination_group": self._filter("#filter-dst"),
                "verdict": self._filter("#filter-verdict"), "rule": self._filter("#filter-rule")}

    def redraw(self) -> None:
        """The grid, counts and cell pane for the matrix and the filters in force."""
        if self.loaded is None:
            return
        m = self.loaded.matrix
        filters = self.filters
        shown = list(m.cells(**filters))
        self.cells = {(c.source.index, c.destination.index): c for c in shown}
        # rows and columns: classes with a host in the group filter, so a group shows its own grid
        src_group, dst_group = filters["source_group"], filters["destination_group"]
        rows = [c.index for c in m.classes if src_group is None or any(
            src_group in m.host(h).groups for h in c.hosts)]
        columns = [c.index for c in m.classes if dst_group is None or any(
            dst_group in m.host(h).groups for h in c.hosts)]
        grid = self.query_one(MatrixGrid)
        grid.show(m, shown, rows, columns)
        self.query_one(VerdictCounts).show(m, shown, any(v is not None for v in filters.values()))
        self._show_cell()

    def selected(self) -> Cell | None:
        """The cell under the grid's cursor (None when it stands for no host pair)."""
        grid = self.query_one(MatrixGrid)
        if self.loaded is None or not grid.row_count or not grid.columns:
            return None
        try:
            row_key, column_key = grid.coordinate_to_cell_key(grid.cursor_coordinate)
        except Exception:  # noqa: BLE001 - an empty grid has no cell under the cursor
            return None
        if column_key.value == LABEL_COLUMN:
            return None
        return self.cells.get((int(str(row_key.value)), int(str(column_key.value))))

    def _show_cell(self) -> None:
        if self.loaded is not None:
            self.query_one(CellDetail).show(self.loaded.matrix, self.selected())

    @on(DataTable.CellHighlighted, "#fleet-grid")
    def _cell_moved(self) -> None:
        self._show_cell()

    @on(Select.Changed)
    def _filter_changed(self) -> None:
        self.redraw()

    @on(DataTable.CellSelected, "#fleet-grid")
    def _cell_chosen(self) -> None:
        cell = self.selected()
        if cell is None or self.loaded is None:
            self.notify("no host pair in this cell", severity="warning")
            return
        src, dst = fleet_pair(cell)
        self.open_pair(self.loaded.matrix, src, dst, f"class {cell.source.id} → {cell.destination.id}, "
                                                    f"{cell.host_pairs} host pair(s) judged alike")

    def open_pair(self, matrix: Matrix, source: str, destination: str, note: str) -> None:
        """Both rule tables of ``source`` → ``destination`` (recomputed with :meth:`Matrix.explain`)."""
        try:
            explanation = matrix.explain(source, destination)
        except Exception as exc:  # noqa: BLE001
            self.notify(_one_line(exc, "cannot explain the pair"), severity="error")
            return

        def closed(result: str | None) -> None:
            if result == "launch":
                self.launch(source, destination)

        self.app.push_screen(PairScreen(explanation, matrix, note), closed)

    # -- actions ------------------------------------------------------------------
    def action_back(self) -> None:
        if self.query_one(ContentSwitcher).current == "fleet-diff":
            self.action_what_changes()  # back to the grid
            return
        self.app.pop_screen()

    def action_filters(self) -> None:
        if self.loaded is not None:
            self.query_one("#filter-src", Select).focus()

    def action_reload(self) -> None:
        if self.request.evidence:
            self.start_load(self.request)

    def action_open(self) -> None:
        current = self.request.evidence[0] if self.request.evidence else ""

        def chosen(values: tuple[str, ...] | None) -> None:
            if values:
                self.start_load(replace(self.request, evidence=(values[0],)))

        self.app.push_screen(PathPrompt("Open a fleet", [("evidence folder (migtd-tool fleet collect --out-dir)",
                                                          current)]), chosen)

    def action_launch(self) -> None:
        if self.query_one(ContentSwitcher).current == "fleet-diff":
            flip = self._selected_flip()
            if flip is None:
                return
            self.launch(flip.source_hosts[0], _other(flip.destination_hosts, flip.source_hosts[0]))
            return
        cell = self.selected()
        if cell is None:
            self.notify("no host pair in this cell", severity="warning")
            return
        self.launch(*fleet_pair(cell))

    def launch(self, source: str, destination: str) -> None:
        """Plan ``source`` → ``destination`` over SSH (a worker: ``ssh -G`` resolves aliases) and ask the app to run it."""
        if self.loaded is None:
            return
        self._plan_launch(self.loaded, source, destination)

    @work(thread=True, exclusive=True, group="fleet-launch")
    def _plan_launch(self, loaded: fleet.LoadedFleet, source: str, destination: str) -> None:
        try:
            params = fleet.launch_params(self.base, loaded, source, destination)
        except Exception as exc:  # noqa: BLE001
            self.app.call_from_thread(self.notify, f"cannot launch {source} → {destination}: "
                                      f"{_one_line(exc, 'planning failed')}", severity="error", timeout=10)
            return
        self.post_message(self.LaunchPair(params, f"{source} → {destination}"))

    def action_collect(self, refresh_all: bool = False) -> None:
        """Collect the inventory's hosts into the first evidence folder (asking for what is missing)."""
        request = self.request
        folder = request.evidence[0] if request.evidence else ""
        if request.inventory and folder:
            self._push_collect(request, refresh_all)
            return

        def chosen(values: tuple[str, ...] | None) -> None:
            if values and values[1]:
                self._push_collect(replace(self.request, inventory=values[0],
                                           evidence=(values[1], *self.request.evidence[1:])), refresh_all)
            elif values:
                self.notify("collect into: give a folder", severity="warning")

        self.app.push_screen(PathPrompt("Collect evidence over SSH", [
            ("inventory (host list or Ansible inventory)", request.inventory or ""),
            ("into folder (created if missing; fleet-state.json and <host>.evidence.json)", folder)]), chosen)

    def _push_collect(self, request: fleet.FleetRequest, refresh_all: bool) -> None:
        self.request = request
        self.app.push_screen(CollectScreen(request, self.base, refresh_all=refresh_all, done=self._collected))

    def _collected(self, _summary: object) -> None:
        """A collection ended (or was cancelled): the matrix of what the folder now holds."""
        self.start_load(self.request)

    def action_what_changes(self) -> None:
        switcher = self.query_one(ContentSwitcher)
        if switcher.current == "fleet-diff":
            switcher.current = "fleet-grid"
            self.query_one(MatrixGrid).focus()
            self._show_cell()
            return
        if self.loaded is None:
            self.notify("no fleet loaded yet", severity="warning")
            return
        if self.diff is not None:
            self._show_diff()
            return
        if self.request.diff_policy:
            self._start_compare(self.request.diff_policy, self.request.diff_issuer_chain)
            return
        self.action_compare_with()

    def action_compare_with(self) -> None:
        if self.loaded is None:
            self.notify("no fleet loaded yet", severity="warning")
            return

        def chosen(values: tuple[str, ...] | None) -> None:
            if values:
                self._start_compare(values[0], values[1] or None)

        self.app.push_screen(PathPrompt("What changes: compare the policy in force with", [
            ("policy file", self.request.diff_policy or ""),
            ("its issuer chain (policy v2)", self.request.diff_issuer_chain or "")]), chosen)

    def _start_compare(self, policy: str, chain: str | None) -> None:
        assert self.loaded is not None
        self.request = replace(self.request, diff_policy=policy, diff_issuer_chain=chain)
        self.query_one("#fleet-loading").display = True
        self.query_one("#fleet-progress", ProgressBar).update(total=None, progress=0)
        self.query_one("#fleet-stage", Static).update(f"comparing with {Path(policy).name}")
        self._compare(self.loaded, policy, chain)

    @on(Compared)
    def _compared(self, message: Compared) -> None:
        self.query_one("#fleet-loading").display = False
        self.diff = message.diff
        self._show_diff()

    def _show_diff(self) -> None:
        assert self.diff is not None
        self.query_one("#diff-summary", Static).update(diff_summary(self.diff))
        table = self.query_one(FlipTable)
        table.show(self.diff)
        self.query_one(ContentSwitcher).current = "fleet-diff"
        table.focus()
        self.query_one(CellDetail).show_flip(self._selected_flip())

    def _selected_flip(self) -> Any:
        table = self.query_one(FlipTable)
        if self.diff is None or table.cursor_row is None:
            return None
        return flip_at(self.diff, table.cursor_row)

    @on(DataTable.RowHighlighted, "#flip-table")
    def _flip_moved(self) -> None:
        if self.query_one(ContentSwitcher).current == "fleet-diff":
            self.query_one(CellDetail).show_flip(self._selected_flip())

    @on(DataTable.RowSelected, "#flip-table")
    def _flip_chosen(self) -> None:
        flip = self._selected_flip()
        if flip is None or self.diff is None:
            return
        src = flip.source_hosts[0]
        dst = _other(flip.destination_hosts, src)
        self.open_pair(self.diff.after, src, dst, f"under {self.diff.after.source_policy.label} (was "
                                                  f"{VERDICT_STYLE[flip.before.verdict][2]} under "
                                                  f"{self.diff.before.source_policy.label})")

    @on(Button.Pressed, "#fleet-buttons Button")
    def _button(self, event: Button.Pressed) -> None:
        self.action_export(str(event.button.id).removeprefix("export-"))

    def action_export(self, kind: str) -> None:
        if self.loaded is None:
            self.notify("no matrix to export yet", severity="warning")
            return
        if kind == "md" and self.diff is None:
            self.notify("no policy comparison to export: press w first", severity="warning")
            return
        folder = self.export_dir or locations.reports_dir()
        default = fleet.default_export_path(kind, folder)

        def chosen(values: tuple[str, ...] | None) -> None:
            if values:
                self.write_export(kind, values[0])

        self.app.push_screen(PathPrompt(f"Export the {fleet.EXPORTS[kind][2]} to", [("file", str(default))]),
                             chosen)

    def write_export(self, kind: str, path: str) -> Path | None:
        """Write an export (never over an input: evidence, policies, anchors, inventory, settings)."""
        loaded = self.loaded
        inputs = [*self.request.inputs(), ("settings file", locations.settings_file())]
        try:
            written = fleet.export(kind, path, loaded.matrix if loaded else None, self.diff, inputs)
        except Exception as exc:  # noqa: BLE001
            self.notify(f"cannot export: {_one_line(exc, 'export failed')}", severity="error", timeout=10)
            return None
        self.notify(f"exported {written}", timeout=6)
        return written


def _other(hosts: tuple[str, ...], not_this: str) -> str:
    """A host of ``hosts`` other than ``not_this`` (a class pair with itself has at least two hosts)."""
    return next((h for h in hosts if h != not_this), hosts[0])


def fleet_pair(cell: Cell) -> tuple[str, str]:
    """The host pair that stands for a cell: its first source host and another destination host."""
    src = cell.source_hosts[0]
    return src, _other(cell.destination_hosts, src)


class PairScreen(Screen[str | None]):
    """One host pair: the source's and the destination's rule tables side by side.

    The tables are the Run screen's :class:`~tui.widgets.panes.PolicyPane`:
    what the pair's two MigTDs would log as ``policy_rule`` events, computed
    from the evidence. Dismisses with ``"launch"`` when ``l`` is pressed.
    """

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("l", "launch", "Launch this pair over SSH"),
        Binding("escape", "back", "Back"),
        Binding("F", "back", "Fleet", show=False),  # the app's F would push the Fleet screen a second time
        Binding("q", "app.quit", "Quit"),
    ]

    def __init__(self, explanation: PairExplanation, matrix: Matrix, note: str) -> None:
        super().__init__()
        self.explanation = explanation
        self.matrix = matrix
        self.note = note

    def compose(self) -> ComposeResult:
        yield Static(id="pair-header")
        with Horizontal(id="pair-sides"):
            for role in ("source", "destination"):
                with Vertical(classes="side", id=f"pair-{role}"):
                    yield Static(id=f"pair-result-{role}", classes="pair-result")
                    with VerticalScroll(id=f"pair-policy-box-{role}", classes="policy-box"):
                        yield PolicyPane(id=f"pair-policy-{role}", classes="policy")
        yield Footer()

    def on_mount(self) -> None:
        e = self.explanation
        head = Text()
        head.append(" Pair ", style="bold reverse")
        head.append(f"  {e.source_host} → {e.destination_host}  ·  ")
        head.append_text(verdict_text(e.outcome.verdict))
        head.append(f"  ·  {self.note}")
        self.query_one("#pair-header", Static).update(head)
        lines = outcome_text(e.outcome)
        for role, decision, side, line in (("source", e.source_decision, e.outcome.source, lines[1]),
                                           ("destination", e.destination_decision, e.outcome.destination,
                                            lines[2])):
            result = Text()
            result.append_text(line)
            for note in side.notes:
                result.append(f"\nnote: {note}", style="yellow")
            self.query_one(f"#pair-result-{role}", Static).update(result)
            checker, judged = ((e.source_host, e.destination_host) if role == "source"
                               else (e.destination_host, e.source_host))
            title = f"Policy checked by {role} {checker} of {judged}"
            pane = self.query_one(f"#pair-policy-{role}", PolicyPane)
            if decision is None:
                pane.show_rules(f"{title} · not evaluated", [],
                                f"policy not evaluated: {side.reason or ', '.join(side.failed_rules)}")
                continue
            rows = sorted(decision.rules, key=lambda row: row.ok)  # failures first, as the Run screen
            pane.show_rules(f"{title} · {'satisfied' if decision.ok else 'REJECTED'}", rows,
                            "failed: " + ", ".join(side.failed_rules) if side.failed_rules
                            else "no policy rules checked")

    def action_launch(self) -> None:
        self.dismiss("launch")

    def action_back(self) -> None:
        self.dismiss(None)


__all__ = ["FleetScreen", "PairScreen", "Verdict"]
