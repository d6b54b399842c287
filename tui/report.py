"""Run reports: a JSON document and a Markdown page an operator can attach.

Both are built from the model's summary, so they say exactly what the screen
showed: each side's result with its meaning, the timeline, attestation of each
direction, the policy rows (failures first) and the MSK fingerprint check.
"""

from __future__ import annotations

import json
import os
import time
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from migtd.inputs import open_output
from tui.model import RunModel, peer_of


def report_json(model: RunModel, run_id: str, started_at: float) -> dict[str, Any]:
    """The JSON report: the model's summary with the run's id and start time."""
    return {"format": "migtd-console-report/1", "run_id": run_id,
            "started_at": started_at, **model.summary()}


def _cell(text: Any) -> str:
    return str(text if text is not None else "").replace("|", "\\|").replace("\n", " ")


def report_markdown(model: RunModel, run_id: str, started_at: float) -> str:
    """A human report; deliberately plain so it reads well as text too."""
    s = model.summary()
    when = time.strftime("%Y-%m-%d %H:%M:%S UTC", time.gmtime(started_at))
    p = s["params"]
    out = [f"# MigTD migration report `{run_id}`", "",
           f"- started: {when}",
           f"- mode: **{s['mode']}**" + ("  (NOT ATTESTED: skip-RA accepts any peer)"
                                          if s["mode"] == "skip-ra" else ""),
           f"- request id: {p.get('request_id', '')}; destination: {p.get('dest_ip', '')}:{p.get('dest_port', '')}",
           f"- MSK fingerprints: {_match(s['msk_match'])}", ""]
    out += ["## Result", "", "| side | where | code | result | meaning | reason |",
            "|---|---|---|---|---|---|"]
    for role, side in s["sides"].items():
        r = side["result"] or {"code": "", "name": "running", "meaning": "", "reason": ""}
        out.append(f"| {role} | {_cell(side['where'])} | {r['code']} | {r['name']} | "
                   f"{_cell(r['meaning'])} | {_cell(r['reason'])} |")
    for role, side in s["sides"].items():
        out += ["", f"## {role.capitalize()}", "", "Timeline:", ""]
        for step in side["steps"]:
            t = f" +{step['elapsed']:.3f}s" if step["elapsed"] is not None else ""
            note = f" ({step['note']})" if step["note"] else ""
            out.append(f"- {step['name']}: {step['state']}{t}{note}")
        out += ["", f"Attestation of the {peer_of(role)}, as judged by the {role}:", "",
                "| field | value |", "|---|---|"]
        out += [f"| {k} | {_cell(v)} |" for k, v in side["attestation_of_peer"]]
        if side["policy"]:
            out += ["", "Policy (failures first):", "",
                    "| section | field | operation | reference | local | peer | verdict |",
                    "|---|---|---|---|---|---|---|"]
            for row in side["policy"]:
                out.append(f"| {_cell(row['section'])} | {_cell(row['field'])} | {_cell(row['operation'])} | "
                           f"{_cell(row['reference'])} | {_cell(row['local'])} | {_cell(row['actual'])} | "
                           f"{'pass' if row['ok'] else 'FAIL'} |")
        if side["problems"]:
            out += ["", "Problems:", ""] + [f"- {_cell(p)}" for p in side["problems"]]
        out += ["", f"{side['lines']} output lines, {side['malformed_lines']} not JSON events or refused."]
    return "\n".join(out) + "\n"


def _match(value: bool | None) -> str:
    return {True: "match", False: "DIFFER", None: "not available"}[value]


def save_reports(model: RunModel, run_id: str, started_at: float, directory: Path,
                 formats: tuple[str, ...] = ("json", "md"),
                 inputs: Iterable[tuple[str, str | os.PathLike[str] | None]] = ()) -> list[Path]:
    """Write the report in each of ``formats``; the paths written.

    Each file is opened with :func:`migtd.inputs.open_output`, which refuses
    (an :class:`~migtd.inputs.InputError`, before truncating anything) a path
    that is one of ``inputs``: the run's policy, certificates, collateral, the
    saved run being replayed, the settings. A report can never destroy an input.
    """
    directory.mkdir(parents=True, exist_ok=True)
    inputs = list(inputs)
    texts = {"json": lambda: json.dumps(report_json(model, run_id, started_at), indent=2) + "\n",
             "md": lambda: report_markdown(model, run_id, started_at)}
    written = []
    for fmt in formats:
        path = directory / f"migtd-run-{run_id}.{fmt}"
        with open_output(path, "report", inputs) as fh:
            fh.write(texts[fmt]())
        written.append(path)
    return written
