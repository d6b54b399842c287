"""Run history: saved runs in the user state directory, with a retention limit.

Each run is ``runs/<id>.json`` (a :class:`tui.record.RunRecord`: parameters,
each side's lines and exit) plus a small ``runs/<id>.meta.json`` summary so the
History screen lists runs without parsing every stored log. Both are written
to a fresh temporary file and renamed into place, so a crash never leaves half
a file, and no write ever goes through an existing name (a symlink or hard
link planted there cannot redirect it onto another file).

Retention (:class:`Retention`): after each save the oldest runs beyond
``keep_runs`` and those older than ``keep_days`` are deleted (0 means no
limit). Runs saved by earlier versions in the data directory are moved here
the first time the store is used.

Everything read back is decoded through a schema: a summary that does not fit
is listed as one "unreadable" row (which can still be deleted), a run that
does not fit is refused with one line.
"""

from __future__ import annotations

import json
import math
import os
import secrets
import shutil
import stat
import tempfile
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from migtd.inputs import InputError, load_json, read_input
from tui import locations
from tui.model import RunModel
from tui.record import RecordError, RunRecord, valid_run_id

#: Largest summary file read (they are a few hundred bytes).
META_LIMIT = 64 * 1024
DAY = 86400.0


def new_run_id(now: float | None = None) -> str:
    """Sortable, unique id: UTC time plus a random suffix."""
    stamp = time.strftime("%Y%m%d-%H%M%S", time.gmtime(now if now is not None else time.time()))
    return f"{stamp}-{secrets.token_hex(2)}"


@dataclass
class Retention:
    """How much history to keep: at most ``keep_runs`` runs, none older than ``keep_days`` (0: no limit)."""

    keep_runs: int = 200
    keep_days: int = 90


@dataclass
class RunInfo:
    """One line of the History screen (``problem`` set when the summary could not be read)."""

    run_id: str
    started_at: float
    mode: str = ""
    roles: list[str] = field(default_factory=list)
    results: dict[str, str] = field(default_factory=dict)  # role -> "0 Success"
    msk_match: bool | None = None
    ok: bool = False
    problem: str = ""

    def to_json(self) -> dict[str, Any]:
        data = asdict(self)
        del data["problem"]
        return data

    @classmethod
    def from_json(cls, run_id: str, data: Any) -> RunInfo:
        """Decode a summary; :class:`RecordError` if any field has the wrong type."""
        if type(data) is not dict:
            raise RecordError("the summary is not a JSON object")
        started: Any = data.get("started_at")
        if type(started) not in (int, float) or not math.isfinite(started):
            raise RecordError("started_at must be a finite number")
        mode = data.get("mode")
        roles = data.get("roles")
        results = data.get("results")
        if type(mode) is not str or len(mode) > 64:
            raise RecordError("mode must be a short string")
        if type(roles) is not list or not all(r in ("source", "destination") for r in roles) or len(roles) > 2:
            raise RecordError("roles must list 'source' and/or 'destination'")
        if type(results) is not dict or not all(k in ("source", "destination") and type(v) is str and len(v) < 200
                                                 for k, v in results.items()):
            raise RecordError("results must map each side to a short string")
        if data.get("msk_match") not in (True, False, None) or type(data.get("ok")) is not bool:
            raise RecordError("msk_match and ok must be booleans")
        if data.get("run_id") != run_id:
            raise RecordError("its run_id does not match its file name")
        return cls(run_id, float(started), mode, list(roles), dict(results), data.get("msk_match"), data["ok"])


def summarize(record: RunRecord, model: RunModel) -> RunInfo:
    """The History screen's line for a run: mode, each side's result, MSK check, verdict."""
    results = {}
    for role in model.active_roles:
        res = model.sides[role].result
        results[role] = "running" if res is None else f"{res.code} {res.name}"
    return RunInfo(record.run_id, record.started_at, model.mode, model.active_roles, results,
                   model.msk_match, model.succeeded)


class HistoryStore:
    """Saved runs in ``runs`` (default: :func:`tui.locations.history_dir`); reports in ``reports``.

    ``root`` (tests, benchmarks) puts both under one directory and has no
    legacy location to move runs from.
    """

    def __init__(self, root: Path | None = None, *, retention: Retention | None = None) -> None:
        self.legacy: Path | None = None
        if root is not None:
            self.runs, self.reports = Path(root) / "runs", Path(root) / "reports"
        else:
            self.runs, self.reports = locations.history_dir(), locations.reports_dir()
            self.legacy = locations.legacy_history_dir()
        self.retention = retention or Retention()
        self._migrated = self.legacy is None
        #: What the move from the legacy location did, for the app to say once ("" when nothing).
        self.migration_note = ""

    # -- legacy ------------------------------------------------------------------
    def migrate(self) -> str:
        """Move runs saved by earlier versions (data directory) here, once; a one-line note."""
        if self._migrated:
            return ""
        self._migrated = True
        legacy = self.legacy
        if legacy is None or not legacy.is_dir() or legacy.resolve() == self.runs.resolve():
            return ""
        moved, kept = 0, 0
        try:
            self.runs.mkdir(parents=True, exist_ok=True)
            for entry in sorted(legacy.iterdir()):
                try:
                    st = entry.lstat()
                    if not stat.S_ISREG(st.st_mode) or not entry.name.endswith(".json"):
                        kept += 1
                        continue
                    target = self.runs / entry.name
                    if target.exists():
                        kept += 1  # the state directory's copy wins
                        continue
                    shutil.move(str(entry), str(target))
                    moved += 1
                except OSError:
                    kept += 1
            if kept == 0:
                legacy.rmdir()
        except OSError as exc:
            self.migration_note = f"could not move the run history from {legacy}: {exc.strerror or exc}"
            return self.migration_note
        if moved:
            self.migration_note = (f"moved {moved} file(s) of run history from {legacy} to {self.runs}"
                                   + (f"; {kept} left there" if kept else ""))
        return self.migration_note

    # -- writing -----------------------------------------------------------------
    def save(self, record: RunRecord, model: RunModel) -> Path:
        """Write the run and its summary (each atomically), then apply the retention limit."""
        self.migrate()
        if not valid_run_id(record.run_id):
            raise ValueError(f"invalid run id {record.run_id!r}")
        self.runs.mkdir(parents=True, exist_ok=True)
        path = self.runs / f"{record.run_id}.json"
        _atomic_write(path, json.dumps(record.to_json()))
        info = summarize(record, model)
        _atomic_write(self.runs / f"{record.run_id}.meta.json", json.dumps(info.to_json()))
        self.prune(keep=record.run_id)
        return path

    def prune(self, *, keep: str = "", now: float | None = None) -> list[str]:
        """Delete runs beyond the retention limit; the ids deleted, newest first.

        ``keep`` (the run just saved) is never deleted and counts as the first
        of the ``keep_runs``; the others are kept newest first.
        """
        limit = self.retention
        if not limit.keep_runs and not limit.keep_days:
            return []
        oldest = (now if now is not None else time.time()) - limit.keep_days * DAY
        others = [info for info in self.list() if info.run_id != keep]
        first = 1 if keep else 0
        gone = []
        for i, info in enumerate(others, start=first):
            if (limit.keep_runs and i >= limit.keep_runs) or (limit.keep_days and info.started_at < oldest):
                self.delete(info.run_id)
                gone.append(info.run_id)
        return gone

    def delete(self, run_id: str) -> None:
        """Remove a saved run and its summary; a run already gone is not an error."""
        if not valid_run_id(run_id):
            return
        for path in (self.runs / f"{run_id}.json", self.runs / f"{run_id}.meta.json"):
            try:
                path.unlink()
            except FileNotFoundError:
                pass

    # -- reading -----------------------------------------------------------------
    def list(self) -> list[RunInfo]:
        """Saved runs, newest first; a run whose summary cannot be read is listed with its problem."""
        self.migrate()
        out: list[RunInfo] = []
        try:
            entries = list(self.runs.iterdir())
        except OSError:
            return out
        for entry in entries:
            name = entry.name
            if not name.endswith(".json") or name.endswith(".meta.json"):
                continue
            run_id = name[:-len(".json")]
            if not valid_run_id(run_id):
                continue
            meta = self.runs / f"{run_id}.meta.json"
            try:
                info = RunInfo.from_json(run_id, load_json(read_input(meta, "run summary", limit=META_LIMIT),
                                                           f"run summary {meta}"))
            except (InputError, RecordError) as exc:
                try:
                    when = entry.stat().st_mtime
                except OSError:
                    when = 0.0
                info = RunInfo(run_id, when, problem=str(exc).replace(str(meta), "summary"))
            out.append(info)
        out.sort(key=lambda info: (info.started_at, info.run_id), reverse=True)
        return out

    def load(self, run: str) -> RunRecord:
        """A run by id, or by the path of a saved run file; :class:`RecordError` (one line) if unusable."""
        self.migrate()
        candidate = Path(run)
        if candidate.suffix == ".json" and (os.path.lexists(candidate) or os.sep in run or not valid_run_id(run)):
            return RunRecord.read(candidate)  # a file: read it, or say in one line why not (missing, a FIFO…)
        if not valid_run_id(run):
            raise RecordError(f"no saved run {run!r} (looked in {self.runs})")
        path = self.runs / f"{run}.json"
        if not os.path.lexists(path):
            raise RecordError(f"no saved run {run!r} (looked in {self.runs})")
        return RunRecord.read(path)


def _atomic_write(path: Path, text: str) -> None:
    """Write ``text`` to a new temporary file beside ``path`` and rename it over ``path``.

    ``mkstemp`` creates the file exclusively, so nothing that already exists
    (a planted symlink, a hard link to an input) is ever opened for writing.
    """
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            fh.write(text)
        os.replace(tmp, path)
    except BaseException:
        try:
            os.unlink(tmp)
        except OSError:
            pass
        raise
