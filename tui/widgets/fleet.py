"""Widgets of the Fleet screen: the class grid, the verdict counts, a cell's details, the flips.

Like the Run screen's panes they hold no state of their own beyond what they
were last shown: the screen hands each one plain data from
:mod:`migtd.fleet` (a :class:`~migtd.fleet.matrix.Matrix`, its
:class:`~migtd.fleet.matrix.Cell` views, a
:class:`~migtd.fleet.diff.PolicyDiff`) and they render it.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from rich.console import Group
from rich.table import Table
from rich.text import Text
from textual.coordinate import Coordinate
from textual.widgets import DataTable, Static

from migtd.fleet.diff import Flip, PolicyDiff
from migtd.fleet.matrix import VERDICTS, Cell, HostClass, Matrix, PairOutcome, SideResult, Verdict

#: Glyph, style and words per verdict (the grid, the counts, the flips).
VERDICT_STYLE: dict[Verdict, tuple[str, str, str]] = {
    Verdict.ALLOWED: ("✔", "bold green", "allowed"),
    Verdict.REFUSED_BY_SOURCE: ("S", "bold red", "refused by source"),
    Verdict.REFUSED_BY_DESTINATION: ("D", "bold dark_orange", "refused by destination"),
    Verdict.NOT_ATTESTED: ("N", "bold deep_sky_blue1", "not attested"),
}
#: Shown in a grid cell whose class pair has no host pair (after the filters).
EMPTY = Text("·", style="dim")
#: Host names listed before "… +N".
NAMES_SHOWN = 4


def verdict_text(verdict: Verdict, *, words: bool = True) -> Text:
    """``✔ allowed``, ``S refused by source``, … in the verdict's colour."""
    glyph, style, name = VERDICT_STYLE[verdict]
    return Text(f"{glyph} {name}" if words else glyph, style=style)


def names(hosts: Sequence[str], shown: int = NAMES_SHOWN) -> str:
    """A few host names, then how many more."""
    head = ", ".join(hosts[:shown])
    return head + (f", … +{len(hosts) - shown}" if len(hosts) > shown else "")


def class_summary(cls: HostClass) -> str:
    """One line: what the hosts of a class share (or why they are not attested)."""
    p = cls.profile
    if p.get("evidence") == "none":
        return f"no evidence ({p.get('problem_kind', '')})"
    if not cls.attested:
        return "NOT ATTESTED"
    return f"{p.get('fmspc', '')} {p.get('tcb_status', '')} qe{p.get('qe_isvsvn', '')}"


#: Column key of the source-class labels (the grid's first, fixed column).
LABEL_COLUMN = "label"


class MatrixGrid(DataTable[Text]):
    """Source class (row) × destination class (column): each cell's verdict glyph and host pairs.

    Row and column keys are the class indices, so a selected cell names its
    class pair. Cells the filters leave out (or that stand for no host pair)
    show a dim dot.

    The source classes are named in a fixed first column rather than in
    DataTable row labels: the label column's width is measured once, on the
    table's first idle after the rows arrive, from a render cache that a repaint
    in between can fill without the labels (Textual 8.2), which left the names
    off the grid now and then on a busy machine. A fixed column is measured like
    any cell and, made with ``fixed_columns=1``, stays in view when a wide
    matrix scrolls sideways; the cursor never rests on it.
    """

    def move_to(self, source: int, destination: int) -> None:
        """Put the cursor on the cell of class ``source`` → class ``destination`` (class indices)."""
        self.move_cursor(row=self.get_row_index(str(source)), column=self.get_column_index(str(destination)))

    def validate_cursor_coordinate(self, value: Coordinate) -> Coordinate:
        """Keep the cursor off the label column: it stands for no class pair."""
        value = super().validate_cursor_coordinate(value)
        if value.column == 0 and len(self.columns) > 1:
            return Coordinate(value.row, 1)
        return value

    def show(self, matrix: Matrix, cells: Iterable[Cell], rows: Sequence[int], columns: Sequence[int]) -> None:
        """Draw ``cells`` (a filtered view) on the grid of classes ``rows`` × ``columns``."""
        shown = {(c.source.index, c.destination.index): c for c in cells}
        keep = self.cursor_coordinate
        self.clear(columns=True)
        self.add_column(Text(""), key=LABEL_COLUMN)
        for j in columns:
            cls = matrix.classes[j]
            self.add_column(Text(f"{cls.id}\n×{len(cls.hosts)}", justify="right"), key=str(j))
        for i in rows:
            cls = matrix.classes[i]
            label = Text(f"{cls.id} ×{len(cls.hosts):<4} ", style="bold")
            label.append(class_summary(cls), style="" if cls.attested else VERDICT_STYLE[Verdict.NOT_ATTESTED][1])
            row: list[Text] = [label]
            for j in columns:
                cell = shown.get((i, j))
                if cell is None:
                    row.append(EMPTY)
                    continue
                glyph, style, _ = VERDICT_STYLE[cell.outcome.verdict]
                row.append(Text(f"{glyph} {cell.host_pairs}", style=style, justify="right"))
            self.add_row(*row, key=str(i))
        if rows and columns:
            self.cursor_coordinate = keep if keep.row < len(rows) and keep.column <= len(columns) \
                else self.cursor_coordinate


class VerdictCounts(Static):
    """Host pairs per verdict (all, and in the filtered view), the grouping line, the top failing rules."""

    def show(self, matrix: Matrix, shown: Sequence[Cell], filtered: bool, rules_shown: int = 6) -> None:
        counts = matrix.counts()
        total = max(matrix.total_pairs, 1)
        in_view: dict[Verdict, int] = {v: 0 for v in VERDICTS}
        for cell in shown:
            in_view[cell.outcome.verdict] += cell.host_pairs
        table = Table.grid(padding=(0, 1))
        table.add_column()
        table.add_column(justify="right")
        table.add_column(justify="right", style="dim")
        if filtered:
            table.add_column(justify="right")
        head = [Text("host pairs", style="bold"), Text("all", style="bold"), Text("")]
        if filtered:
            head.append(Text("shown", style="bold"))
        table.add_row(*head)
        for v in VERDICTS:
            row: list[Text | str] = [verdict_text(v), str(counts[v]), f"{100 * counts[v] / total:.0f}%"]
            if filtered:
                row.append(str(in_view[v]))
            table.add_row(*row)
        parts: list[Table | Text] = [table]
        rules = matrix.rule_counts()
        if rules:
            parts.append(Text("\nfailing rules (host pairs)", style="bold"))
            for side, rule, n in rules[:rules_shown]:
                line = Text()
                line.append(f"{n:>6} ", style="bold")
                line.append("src " if side == "source" else "dst ", style="dim")
                line.append(rule)
                line.no_wrap = True
                line.overflow = "ellipsis"
                parts.append(line)
            if len(rules) > rules_shown:
                parts.append(Text(f"   … {len(rules) - rules_shown} more (filter by rule)", style="dim"))
        self.update(Group(*parts))


def _side(label: str, side: SideResult) -> Text:
    text = Text()
    text.append(f"{label}: ", style="bold")
    if side.ok:
        text.append("accepts", style="green")
    else:
        text.append(f"refuses ({side.kind}, exit {side.result})", style="red")
        if side.failed_rules:
            text.append("\n  " + ", ".join(side.failed_rules))
        if side.reason:
            text.append(f"\n  {side.reason}", style="dim")
    return text


def outcome_text(outcome: PairOutcome) -> list[Text]:
    """The verdict and both sides' judgements, as lines."""
    return [verdict_text(outcome.verdict), _side("source judges destination", outcome.source),
            _side("destination judges source", outcome.destination)]


class CellDetail(Static):
    """The selected cell: its classes, hosts, verdict and both sides' reasons."""

    def show(self, matrix: Matrix, cell: Cell | None) -> None:
        if cell is None:
            self.update(Text("no host pair in this cell", style="dim"))
            return
        src, dst = cell.source, cell.destination
        head = Text()
        head.append(f"{src.id} → {dst.id}", style="bold")
        head.append(f"  ·  {cell.host_pairs} host pair{'s' if cell.host_pairs != 1 else ''}")
        lines: list[Text] = [head]
        for role, cls, hosts in (("source", src, cell.source_hosts), ("destination", dst, cell.destination_hosts)):
            lines.append(Text(f"{role} {cls.id}: {names(hosts)}"))
            lines.append(Text(f"  {class_summary(cls) if cls.attested else cls.problem}", style="dim"))
        lines += [Text(""), *outcome_text(cell.outcome),
                  Text("\nEnter: both rule tables · l: launch this pair over SSH", style="italic dim")]
        self.update(Group(*lines))

    def show_flip(self, flip: Flip | None) -> None:
        """The selected flip: its hosts, the verdicts before and after, every rule responsible, why."""
        if flip is None:
            self.update(Text("no verdict flips", style="dim"))
            return
        head = Text()
        head.append(f"{flip.host_pairs} host pair{'s' if flip.host_pairs != 1 else ''}  ", style="bold")
        head.append_text(verdict_text(flip.before.verdict))
        head.append(" → ")
        head.append_text(verdict_text(flip.after.verdict))
        lines = [head, Text(f"source hosts: {names(flip.source_hosts)}"),
                 Text(f"destination hosts: {names(flip.destination_hosts)}"),
                 Text("\nrules responsible", style="bold"), *(Text(f"  {r}") for r in flip.rules)]
        reason = flip.after.reason if flip.after.verdict is not Verdict.ALLOWED else flip.before.reason
        if reason:
            lines.append(Text(f"\n{reason}", style="dim"))
        lines.append(Text("\nEnter: rule tables under the new policy · l: launch", style="italic dim"))
        self.update(Group(*lines))


class FlipTable(DataTable[Text]):
    """One row per group of host pairs whose verdict flips, with the rules responsible."""

    def show(self, diff: PolicyDiff) -> None:
        self.clear(columns=True)
        self.add_columns("source hosts", "destination hosts", "pairs", "before", "", "after", "rules responsible")
        for n, flip in enumerate(diff.flips):
            self.add_row(Text(names(flip.source_hosts, 3)), Text(names(flip.destination_hosts, 3)),
                         Text(str(flip.host_pairs), justify="right"),
                         verdict_text(flip.before.verdict), Text("→"), verdict_text(flip.after.verdict),
                         Text(", ".join(flip.rules)), key=str(n))


def diff_summary(diff: PolicyDiff) -> Text:
    """The comparison in a few lines: policies, flipped pairs, rule edits, transitions."""
    b, a = diff.before.source_policy, diff.after.source_policy
    text = Text()
    text.append("What changes: ", style="bold")
    text.append(f"{b.label} ({b.short}…) → {a.label} ({a.short}…)\n")
    text.append(f"{diff.flipped_pairs} of {diff.before.total_pairs} host pairs change verdict",
                style="bold red" if diff.flipped_pairs else "bold green")
    text.append(f" in {len(diff.flips)} group{'s' if len(diff.flips) != 1 else ''}\n")
    if diff.rule_changes:
        for c in diff.rule_changes[:4]:
            text.append(f"  rule {c.change}: ", style="bold")
            text.append(f"{c.rule}: {c.before or '—'} → {c.after or '—'}\n")
        if len(diff.rule_changes) > 4:
            text.append(f"  … {len(diff.rule_changes) - 4} more rule changes (Markdown export: m)\n", style="dim")
    else:
        text.append("  the two documents have the same rules\n", style="dim")
    for vb, va, n in diff.transitions():
        text.append("  ")
        text.append_text(verdict_text(vb))
        text.append(" → ")
        text.append_text(verdict_text(va))
        text.append(f": {n} host pairs\n")
    text.rstrip()
    return text


def flip_at(diff: PolicyDiff, row: int) -> Flip | None:
    """The flip shown on ``row`` (None past the end)."""
    return diff.flips[row] if 0 <= row < len(diff.flips) else None
