"""Run history: saved runs under platformdirs' user data directory.

Each run is ``runs/<id>.json`` (a :class:`tui.model.RunRecord`: parameters,
each side's lines and exit) plus a small ``runs/<id>.meta.json`` summary so the
History screen lists runs without parsing every stored log.
"""

from __future__ import annotations

import json
import os
import secrets
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import platformdirs

from tui.model import RunModel
from tui.record import RunRecord

APP_NAME = "migtd-console"


def data_dir() -> Path:
    """``$XDG_DATA_HOME/migtd-console`` on Linux (platformdirs' user data dir)."""
    return Path(platformdirs.user_data_dir(APP_NAME, appauthor=False))


def new_run_id(now: float | None = None) -> str:
    """Sortable, unique id: UTC time plus a random suffix."""
    stamp = time.strftime("%Y%m%d-%H%M%S", time.gmtime(now if now is not None else time.time()))
    return f"{stamp}-{secrets.token_hex(2)}"


@dataclass
class RunInfo:
    """One line of the History screen."""

    run_id: str
    started_at: float
    mode: str
    roles: list[str]
    results: dict[str, str]  # role -> "0 Success"
    msk_match: bool | None
    ok: bool


def summarize(record: RunRecord, model: RunModel) -> RunInfo:
    """The History screen's line for a run: mode, each side's result, MSK check, verdict."""
    results = {}
    for role in model.active_roles:
        res = model.sides[role].result
        results[role] = "running" if res is None else f"{res.code} {res.name}"
    return RunInfo(record.run_id, record.started_at, model.mode, model.active_roles, results,
                   model.msk_match, model.succeeded)


class HistoryStore:
    """Saved runs in ``root/runs`` (default: :func:`data_dir`)."""

    def __init__(self, root: Path | None = None) -> None:
        self.root = Path(root) if root is not None else data_dir()
        self.runs = self.root / "runs"
        self.reports = self.root / "reports"

    def save(self, record: RunRecord, model: RunModel) -> Path:
        """Write the run and its summary (each atomically); the path of the run file."""
        self.runs.mkdir(parents=True, exist_ok=True)
        path = self.runs / f"{record.run_id}.json"
        _atomic_write(path, json.dumps(record.to_json()))
        info = summarize(record, model)
        _atomic_write(self.runs / f"{record.run_id}.meta.json", json.dumps(info.__dict__))
        return path

    def list(self) -> list[RunInfo]:
        """Saved runs, newest first; unreadable entries are skipped."""
        out: list[RunInfo] = []
        if not self.runs.is_dir():
            return out
        for meta in self.runs.glob("*.meta.json"):
            try:
                data = json.loads(meta.read_text(encoding="utf-8"))
                out.append(RunInfo(**data))
            except (OSError, ValueError, TypeError):
                continue
        out.sort(key=lambda info: (info.started_at, info.run_id), reverse=True)
        return out

    def load(self, run: str) -> RunRecord:
        """A run by id, or by the path of a saved run file; ValueError if unusable."""
        candidate = Path(run)
        path = candidate if candidate.suffix == ".json" and candidate.exists() else self.runs / f"{run}.json"
        try:
            data: Any = json.loads(path.read_text(encoding="utf-8"))
        except FileNotFoundError:
            raise ValueError(f"no saved run {run!r} (looked in {self.runs})") from None
        except (OSError, ValueError) as exc:
            raise ValueError(f"cannot read saved run {path}: {exc}") from None
        return RunRecord.from_json(data)

    def delete(self, run_id: str) -> None:
        """Remove a saved run and its summary; a run already gone is not an error."""
        for path in (self.runs / f"{run_id}.json", self.runs / f"{run_id}.meta.json"):
            try:
                path.unlink()
            except FileNotFoundError:
                pass


def _atomic_write(path: Path, text: str) -> None:
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(text, encoding="utf-8")
    os.replace(tmp, path)
