"""Matrix and policy-diff exports for change reviews: JSON, CSV, Markdown, and the terminal summary.

Every export states the grouping (how many hosts in how many profile
classes) and the policies by label and SHA-384, so a reviewer can tell what a
file is about without the command line that produced it. JSON is the full
record (classes with their hosts, every class pair with both sides'
verdicts); CSV has one row per class pair, or per host pair on request (with a
ceiling, because a large fleet has millions); Markdown is the diff report.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable
from typing import IO, Any

from migtd.errors import ConfigError
from migtd.fleet.config_files import PolicySpec
from migtd.fleet.diff import PolicyDiff
from migtd.fleet.matrix import VERDICTS, Matrix, PairOutcome, Verdict

MATRIX_FORMAT = "migtd-fleet-matrix"
DIFF_FORMAT = "migtd-fleet-diff"
FORMAT_VERSION = 1
#: Most host-pair rows ``--rows hosts`` writes (beyond it, export class pairs).
MAX_HOST_ROWS = 2_000_000
#: Hosts named per side in a Markdown flip row before "… and N more".
NAMES_SHOWN = 6

VERDICT_LETTER = {Verdict.ALLOWED: "A", Verdict.REFUSED_BY_SOURCE: "S", Verdict.REFUSED_BY_DESTINATION: "D",
                  Verdict.NOT_ATTESTED: "N"}


def _policy(spec: PolicySpec) -> dict[str, Any]:
    return {"label": spec.label, "version": spec.version, "sha384": spec.sha384.hex().upper()}


def matrix_to_dict(m: Matrix) -> dict[str, Any]:
    """The whole matrix as JSON-ready data (the ``--json`` export)."""
    n = len(m.classes)
    cells = []
    for i in range(n):
        for j in range(n):
            o = m.outcome(i, j)
            cells.append({"source_class": m.classes[i].id, "destination_class": m.classes[j].id,
                          "host_pairs": m.host_pairs(i, j), **o.to_dict()})
    return {
        "format": MATRIX_FORMAT, "format_version": FORMAT_VERSION,
        "policies": {"source": _policy(m.source_policy), "destination": _policy(m.destination_policy)},
        "grouping": m.grouping_line(),
        "counts": {v.value: c for v, c in m.counts().items()},
        "classes": [c.to_dict() for c in m.classes],
        "hosts": [{"name": h.name, "class": m.classes[h.class_index].id, "groups": list(h.groups),
                   "problem": h.problem, "problem_kind": h.problem_kind} for h in m.hosts],
        "cells": cells,
        "failing_rules": [{"side": s, "rule": r, "host_pairs": c} for s, r, c in m.rule_counts()],
    }


_CLASS_COLUMNS = ("source_class", "destination_class", "source_hosts", "destination_hosts", "host_pairs",
                  "verdict", "source_kind", "source_failed_rules", "destination_kind",
                  "destination_failed_rules", "reason")
_HOST_COLUMNS = ("source", "destination", "source_class", "destination_class", "verdict", "source_kind",
                 "source_failed_rules", "destination_kind", "destination_failed_rules", "reason")


def _outcome_columns(o: PairOutcome) -> list[str]:
    return [o.verdict.value, o.source.kind, " ".join(o.source.failed_rules), o.destination.kind,
            " ".join(o.destination.failed_rules), o.reason]


def write_matrix_csv(m: Matrix, out: IO[str], rows: str = "classes") -> int:
    """Write the CSV export; ``rows`` is ``classes`` or ``hosts``. Returns the rows written."""
    w = csv.writer(out, lineterminator="\n")
    n = len(m.classes)
    if rows == "hosts":
        if m.total_pairs > MAX_HOST_ROWS:
            raise ConfigError(f"{m.total_pairs} host pairs is more than --rows hosts writes "
                              f"({MAX_HOST_ROWS}); export --rows classes (each row names its host count)")
        w.writerow(_HOST_COLUMNS)
        count = 0
        for src in m.hosts:
            for dst in m.hosts:
                if src.name == dst.name:
                    continue
                o = m.outcome(src.class_index, dst.class_index)
                w.writerow([src.name, dst.name, m.classes[src.class_index].id, m.classes[dst.class_index].id,
                            *_outcome_columns(o)])
                count += 1
        return count
    if rows != "classes":
        raise ConfigError(f"--rows must be classes or hosts, not {rows!r}")
    w.writerow(_CLASS_COLUMNS)
    for i in range(n):
        for j in range(n):
            w.writerow([m.classes[i].id, m.classes[j].id, len(m.classes[i].hosts), len(m.classes[j].hosts),
                        m.host_pairs(i, j), *_outcome_columns(m.outcome(i, j))])
    return n * n


def matrix_text(m: Matrix, *, grid_limit: int = 40, rules_shown: int = 15) -> str:
    """The terminal summary: grouping, verdict counts, classes, the class grid, top failing rules."""
    out = io.StringIO()
    p = m.source_policy
    same = m.destination_policy is p or m.destination_policy.sha384 == p.sha384
    out.write(f"policy: {p.label} (v{p.version}, sha384 {p.short}…)" if same else
              f"source policy: {p.label} (v{p.version}, {p.short}…); destination policy: "
              f"{m.destination_policy.label} (v{m.destination_policy.version}, {m.destination_policy.short}…)")
    out.write(f"\n{m.grouping_line()}\n\n")
    counts = m.counts()
    total = max(m.total_pairs, 1)
    out.write("host pairs by verdict:\n")
    for v in VERDICTS:
        out.write(f"  {v.value:<24} {counts[v]:>12}  {100 * counts[v] / total:5.1f}%\n")
    out.write("\nclasses:\n")
    for c in m.classes:
        pr = c.profile
        if c.attested:
            desc = (f"{pr.get('fmspc', '')} {pr.get('tcb_status', '')} tcb_svn {pr.get('tee_tcb_svn', '')[:8]} "
                    f"qe_svn {pr.get('qe_isvsvn', '')} xfam {pr.get('xfam', '')} mrtd {pr.get('mrtd', '')[:8]} "
                    f"report {pr.get('report', '')} {pr.get('quote_source', '')} policy {pr.get('policy', '')}")
        else:
            desc = f"NOT ATTESTED: {c.problem}"
        first = ", ".join(c.hosts[:3]) + (f", … (+{len(c.hosts) - 3})" if len(c.hosts) > 3 else "")
        out.write(f"  {c.id}  {len(c.hosts):>6} hosts  {desc}\n        {first}\n")
    if len(m.classes) <= grid_limit:
        out.write("\nsource class (row) → destination class (column): A allowed, S refused by source, "
                  "D refused by destination, N not attested, · no host pair\n")
        out.write("      " + " ".join(c.id[-3:].rjust(3) for c in m.classes) + "\n")
        for i, c in enumerate(m.classes):
            letters = [(VERDICT_LETTER[m.outcome(i, j).verdict] if m.host_pairs(i, j) else "·").rjust(3)
                       for j in range(len(m.classes))]
            out.write(f"  {c.id[-3:].rjust(3)} " + " ".join(letters) + "\n")
    rules = m.rule_counts()
    if rules:
        out.write("\nfailing rules (host pairs):\n")
        for side, rule, n in rules[:rules_shown]:
            out.write(f"  {n:>12}  {side:<11} {rule}\n")
        if len(rules) > rules_shown:
            out.write(f"  … {len(rules) - rules_shown} more (see --json)\n")
    return out.getvalue()


# --------------------------------------------------------------------------- diff


def diff_to_dict(d: PolicyDiff) -> dict[str, Any]:
    """The diff as JSON-ready data (the ``--json`` export of ``fleet diff``)."""
    return {
        "format": DIFF_FORMAT, "format_version": FORMAT_VERSION,
        "before": _policy(d.before.source_policy), "after": _policy(d.after.source_policy),
        "grouping": {"before": d.before.grouping_line(), "after": d.after.grouping_line()},
        "host_pairs": d.before.total_pairs, "flipped_pairs": d.flipped_pairs,
        "counts": {"before": {v.value: c for v, c in d.before.counts().items()},
                   "after": {v.value: c for v, c in d.after.counts().items()}},
        "transitions": [{"before": a.value, "after": b.value, "host_pairs": n} for a, b, n in d.transitions()],
        "rule_changes": [{"rule": c.rule, "change": c.change, "before": c.before, "after": c.after}
                         for c in d.rule_changes],
        "responsible_rules": [{"rule": r, "host_pairs": n} for r, n in d.rule_tally()],
        "flips": [f.to_dict() for f in d.flips],
    }


def _names(hosts: Iterable[str]) -> str:
    hosts = list(hosts)
    shown = ", ".join(f"`{h}`" for h in hosts[:NAMES_SHOWN])
    return shown + (f" and {len(hosts) - NAMES_SHOWN} more" if len(hosts) > NAMES_SHOWN else "")


def _cell(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


def diff_markdown(d: PolicyDiff, *, flips_shown: int = 200) -> str:
    """The change-review report: what the edit is, how many pairs flip, which, and why."""
    b, a = d.before.source_policy, d.after.source_policy
    out = io.StringIO()
    out.write(f"# Migration policy change: `{_cell(b.label)}` → `{_cell(a.label)}`\n\n")
    out.write(f"- before: `{_cell(b.label)}`, policy v{b.version}, SHA-384 `{b.sha384.hex().upper()}`\n")
    out.write(f"- after: `{_cell(a.label)}`, policy v{a.version}, SHA-384 `{a.sha384.hex().upper()}`\n")
    out.write(f"- fleet: {d.before.grouping_line()}\n")
    if d.after.grouping_line() != d.before.grouping_line():
        out.write(f"- fleet under the new policy: {d.after.grouping_line()}\n")
    total = d.before.total_pairs
    out.write(f"- **{d.flipped_pairs} of {total} host pairs change verdict**\n\n")
    out.write("## Rule changes\n\n")
    if d.rule_changes:
        out.write("| rule | change | before | after |\n|---|---|---|---|\n")
        for c in d.rule_changes:
            out.write(f"| `{_cell(c.rule)}` | {c.change} | {_cell(c.before) or '—'} | {_cell(c.after) or '—'} |\n")
    else:
        out.write("The two documents have the same rules (only other content differs).\n")
    out.write("\n## Verdicts\n\n| verdict | before | after |\n|---|---:|---:|\n")
    cb, ca = d.before.counts(), d.after.counts()
    for v in VERDICTS:
        out.write(f"| {v.value} | {cb[v]} | {ca[v]} |\n")
    out.write("\n## Flips\n\n")
    if not d.flips:
        out.write("No host pair changes verdict.\n")
        return out.getvalue()
    out.write("| before → after | host pairs |\n|---|---:|\n")
    for vb, va, n in d.transitions():
        out.write(f"| {vb.value} → {va.value} | {n} |\n")
    out.write("\nRules responsible (host pairs they flip):\n\n")
    for rule, n in d.rule_tally():
        out.write(f"- `{_cell(rule)}`: {n}\n")
    out.write("\n## Pairs whose verdict flips\n\n")
    out.write("| source hosts | destination hosts | host pairs | before | after | rules | reason |\n"
              "|---|---|---:|---|---|---|---|\n")
    for f in d.flips[:flips_shown]:
        reason = f.after.reason if f.after.verdict is not Verdict.ALLOWED else f.before.reason
        out.write(f"| {_names(f.source_hosts)} | {_names(f.destination_hosts)} | {f.host_pairs} | "
                  f"{f.before.verdict.value} | {f.after.verdict.value} | "
                  f"{', '.join(f'`{_cell(r)}`' for r in f.rules)} | {_cell(reason)} |\n")
    if len(d.flips) > flips_shown:
        out.write(f"\n… {len(d.flips) - flips_shown} more flip groups in the JSON export.\n")
    return out.getvalue()


def diff_text(d: PolicyDiff) -> str:
    """The terminal summary of a diff."""
    out = io.StringIO()
    out.write(f"before: {d.before.source_policy.label}  after: {d.after.source_policy.label}\n")
    out.write(f"{d.before.grouping_line()}\n")
    out.write(f"{d.flipped_pairs} of {d.before.total_pairs} host pairs change verdict\n")
    for c in d.rule_changes:
        out.write(f"  rule {c.change}: {c.rule}: {c.before or '—'} → {c.after or '—'}\n")
    for vb, va, n in d.transitions():
        out.write(f"  {vb.value} → {va.value}: {n} host pairs\n")
    for rule, n in d.rule_tally()[:15]:
        out.write(f"  responsible: {rule} ({n} host pairs)\n")
    return out.getvalue()
