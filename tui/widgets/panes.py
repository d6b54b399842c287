"""Header, timeline, attestation, policy and result panes of the Run screen.

Each is a ``Static`` that re-renders a Rich renderable from the model when the
Run screen sees that a side changed; they hold no state of their own, which
keeps replay and snapshots deterministic (elapsed times come from the events'
``ts``). The header, timeline and attestation panes have a fixed height in the
stylesheet, so updating them skips the layout pass (which would re-lay the
whole screen); the policy pane and the result bar can change height.
"""

from __future__ import annotations

from collections.abc import Sequence

from rich.console import Group, RenderableType
from rich.table import Table
from rich.text import Text
from textual.widget import Widget
from textual.widgets import Static

from migtd.policy.decision import RuleResult
from tui.model import ROLES, RunModel, SideState, peer_of, policy_verdict

_STATE_GLYPH = {"pending": ("○", "dim"), "done": ("✔", "green"), "skipped": ("◌", "yellow"),
                "failed": ("✘", "bold red")}


#: Attestation rows holding long hex values, abbreviated in the middle; other
#: rows are cut at the end by the table's ellipsis.
_HEX_LABELS = frozenset({"MRTD", "RTMR0", "RTMR1", "RTMR2", "RTMR3", "TEE TCB SVN"})


def short(value: str, limit: int = 28) -> str:
    """Long hex values abbreviated for the panes (the report keeps them whole)."""
    if len(value) <= limit:
        return value
    keep = limit - 1
    return value[: keep - 8] + "…" + value[-8:]


class RunHeader(Static):
    """Parameters of the run and its mode; skip-RA shows a red NOT ATTESTED badge."""

    def show(self, model: RunModel, status: str) -> None:
        p = model.params
        text = Text()
        text.append(" MigTD migration ", "bold reverse")
        text.append(f"  request {p.get('request_id', '?')}  ·  {p.get('dest_ip', '?')}:{p.get('dest_port', '?')}")
        where = []
        for role in p.get("roles") or model.active_roles:
            host = p.get("src_host") if role == "source" else p.get("dst_host")
            where.append(f"{role}: {'ssh ' + host if host else 'local'}")
        text.append("  ·  " + ", ".join(where))
        text.append(f"  ·  policy v{p.get('policy_version', 1)}")
        configs = [side.config for side in model.sides.values() if side.config is not None]
        key_exchange = p.get("key_exchange") or next((c.key_exchange for c in configs if c.key_exchange), "ratls")
        quote_request = p.get("quote_request") or next((c.quote_request for c in configs if c.quote_request), "")
        if key_exchange == "spdm":
            text.append("  ·  SPDM 1.2")
        if quote_request == "igvm":
            text.append("  ·  igvm-attest")
        text.append("  ·  mode ")
        mode = model.mode
        if mode == "skip-ra":
            text.append(" skip-ra ", "bold")
            text.append(" NOT ATTESTED ", "bold white on red")
        else:
            text.append(f" {mode} ", "bold black on green" if mode == "mock-report" else "bold")
        text.append(f"\n {status}", "italic")
        self.update(text, layout=False)  # height fixed by the stylesheet


class Timeline(Static):
    """connected → quote → TLS → peer attested → policy → MSK → done, with times (SPDM: its own
    steps, :data:`tui.model.SPDM_STEPS`).

    Row one names the steps, row two gives each one's elapsed time since the
    side's first event; a third line explains a failed or skipped step.
    """

    def show(self, side: SideState) -> None:
        grid = Table.grid(padding=(0, 2))
        for _ in side.step_table:
            grid.add_column(no_wrap=True)
        names, times, notes = [], [], []
        for name, _ in side.step_table:
            step = side.steps[name]
            glyph, style = _STATE_GLYPH[step.state]
            names.append(Text(f"{glyph} {name}", style=style))
            if step.elapsed is not None:
                when = f"+{step.elapsed:.3f}s"
            elif step.state == "pending" and side.running:
                when = "…"
            else:
                when = step.state if step.state != "pending" else ""
            times.append(Text(when, style="red" if step.state == "failed" else "dim"))
            if step.state == "failed":
                notes.append(Text(f"✘ {name}: {step.note}", style="bold red"))
            elif step.state == "skipped":
                notes.append(Text(f"◌ {name}: {step.note}", style="yellow"))
        grid.add_row(*names)
        grid.add_row(*times)
        line = Text("  ·  ").join(notes) if notes else Text("")
        line.no_wrap = True
        line.overflow = "ellipsis"
        self.update(Group(grid, line), layout=False)  # height fixed by the stylesheet
        self.border_title = f"{side.role} · {side.where}" + (" · running" if side.running else "")


class AttestationPane(Static):
    """The peer's attestation as judged by this side (one direction)."""

    def show(self, model: RunModel, role: str) -> None:
        att = model.attestation_of(peer_of(role))
        self.border_title = f"Attestation: {att.subject} → judged by {att.verifier}"
        grid = Table.grid(expand=True, padding=(0, 1))
        grid.add_column(style="bold", no_wrap=True)
        grid.add_column(ratio=1, no_wrap=True, overflow="ellipsis")
        grid.add_column(style="bold", no_wrap=True)
        grid.add_column(ratio=1, no_wrap=True, overflow="ellipsis")
        rows = att.rows()
        status = att.status
        styled: list[tuple[str, Text]] = []
        for label, value in rows:
            style = ""
            if label == "status":
                style = ("bold green" if status == "verified" else
                         "bold white on red" if status.startswith("NOT VERIFIED") else "dim")
            elif label == "TCB status" and value:
                style = "green" if value == "UpToDate" else "yellow"
            shown = short(value) if label in _HEX_LABELS else value
            styled.append((label, Text(shown or "—", style=style or "")))
        half = (len(styled) + 1) // 2
        for i in range(half):
            left = styled[i]
            right = styled[i + half] if i + half < len(styled) else ("", Text(""))
            grid.add_row(left[0], left[1], right[0], right[1])
        self.update(grid, layout=False)  # height fixed by the stylesheet


class PolicyPane(Static):
    """One row per rule a side checked against its peer, failures first.

    The Run screen shows a side's rules as its events arrive (:meth:`show`);
    the Fleet screen shows the rules of a decision computed offline
    (:meth:`show_rules`, from :meth:`migtd.fleet.matrix.Matrix.explain`). Both
    draw the same table, so an operator reads a rule the same way in both.
    """

    def show(self, side: SideState) -> None:
        # Rules are only ever appended and events are immutable: this pins what is shown.
        key = (side, side.policy, len(side.policy_rows))
        if getattr(self, "_shown", None) == key:
            return
        self._shown = key
        decision = side.policy
        verdict = ""
        state, note = policy_verdict(decision) if decision is not None else ("pending", "")
        if state == "skipped":
            verdict = " · skipped (skip-RA)" if note == "skipped" else f" · {note}"
        elif decision is not None:
            verdict = " · satisfied" if state == "done" else " · REJECTED"
        msg = "no policy rules reported"
        if not side.policy_rows:
            if state == "skipped":
                msg = ("policy not evaluated: skip-RA accepts every peer" if note == "skipped"
                       else f"policy {note}")
            elif decision is not None and decision.failed_rules:
                msg = "failed: " + ", ".join(decision.failed_rules)
        _draw_rules(self, f"Policy checked by {side.role}{verdict}", side.sorted_policy(), msg)

    def show_rules(self, title: str, rows: Sequence[RuleResult], empty: str) -> None:
        """``rows`` (failures first is the caller's order) under ``title``; ``empty`` when there are none."""
        _draw_rules(self, title, rows, empty)


def _draw_rules(pane: Static, title: str, rows: Sequence[RuleResult], empty: str) -> None:
    # A function, not a method: the model fuzz test renders the panes through stand-in widgets.
    pane.border_title = title
    if isinstance(pane.parent, Widget):
        pane.parent.border_title = title  # the scrolling box draws the border
    if not rows:
        pane.update(Text(empty, style="dim"))
        return
    pane.update(rule_table(rows))


def rule_table(rows: Sequence[RuleResult]) -> Table:
    """The policy table: field, section, operation, reference, local and peer values, one row per rule."""
    table = Table(expand=True, box=None, padding=(0, 1), header_style="bold")
    # The field comes first: it is what an operator scans for; sections are
    # long dotted paths in v1 and would push it out of sight.
    for col, ratio in (("field", 3), ("section", 2), ("op", 2), ("reference", 1),
                       ("local", 2), ("peer", 2)):
        table.add_column(col, no_wrap=True, overflow="ellipsis", ratio=ratio)
    for row in rows:
        rule = Text("✔ ", style="green") if row.ok else Text("✘ ", style="bold red")
        rule.append(row.field)
        style = "" if row.ok else "red"
        table.add_row(rule, row.section, row.operation, short(row.reference, 20),
                      short(row.local, 20), short(row.actual, 20), style=style)
    return table


class ResultBar(Static):
    """Each side's exit code, MigrationResult name and meaning; the MSK check."""

    def show(self, model: RunModel) -> None:
        wanted = model.params.get("roles") or model.active_roles
        key = (tuple(wanted), model.msk_match,
               *((side.started, side.running, side.result, side.msk) for side in model.sides.values()))
        if getattr(self, "_shown", None) == key:
            return
        self._shown = key
        lines: list[RenderableType] = []
        for role in [r for r in ROLES if r in wanted or model.sides[r].started]:
            side = model.sides[role]
            text = Text(f"{role:>11}: ", style="bold")
            res = side.result
            if res is None:
                text.append("running…" if side.running else "not started", style="dim")
            else:
                label = f"{res.code} {res.name}" if res.code >= 0 else res.name
                text.append(label, style="bold green" if res.ok else "bold red")
                text.append(f" — {res.meaning}")
                if res.reason and not res.ok:
                    text.append(f"  ({res.reason})", style="red")
            lines.append(text)
        match = model.msk_match
        msk = Text("        MSK: ", style="bold")
        if match is None:
            msk.append("fingerprints not available from both sides", style="dim")
        else:
            a, b = (model.sides[role].msk for role in ROLES)
            assert a is not None and b is not None  # msk_match is None unless both are there
            if match:
                msk.append(f"fingerprints match ({a.key_sha256_8})", style="bold green")
            else:
                msk.append(f"fingerprints DIFFER (source {a.key_sha256_8}, destination {b.key_sha256_8})",
                           style="bold red")
        lines.append(msk)
        self.update(Group(*lines))
