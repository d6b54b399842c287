"""Saved runs: what history stores, and how a stored run becomes a model again.

A record keeps each side's lines exactly as they arrived (bounded: every
structured event plus the last log lines) and how each process ended. Replay
feeds those lines through the same :class:`tui.model.RunModel` a live run uses,
so a replayed run shows exactly what the live one did.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from tui.model import LOG_CAPACITY, ROLES, RunModel, as_int


@dataclass
class RunRecord:
    """What history stores for a run: parameters, each side's lines and exit."""

    run_id: str
    started_at: float
    params: dict[str, Any]
    lines: dict[str, list[str]] = field(default_factory=dict)
    exits: dict[str, dict[str, Any]] = field(default_factory=dict)  # role -> {code, transport}
    launch_errors: dict[str, str] = field(default_factory=dict)
    problems: dict[str, list[str]] = field(default_factory=dict)

    @classmethod
    def from_model(cls, run_id: str, started_at: float, model: RunModel,
                   exits: dict[str, dict[str, Any]]) -> "RunRecord":
        """The record of a finished run: each side's kept lines, problems and launch error."""
        rec = cls(run_id, started_at, dict(model.params))
        for role in model.active_roles:
            side = model.sides[role]
            rec.lines[role] = side.history_lines()
            if side.problems:
                rec.problems[role] = list(side.problems)
            if side.result is not None and side.result.source == "launcher" and side.result.code == -1:
                rec.launch_errors[role] = side.result.reason
        rec.exits = dict(exits)
        return rec

    def replay(self, log_capacity: int = LOG_CAPACITY) -> RunModel:
        """Rebuild the model exactly as the live run left it."""
        model = RunModel(self.params, log_capacity)
        for role in ROLES:
            side = model.sides[role]
            info = self.exits.get(role, {})
            if role in self.lines or role in self.launch_errors or info:
                side.where = str(info.get("where", "local"))
            for raw in self.lines.get(role, []):
                side.feed(raw)
            for reason in self.problems.get(role, []):
                if reason != self.launch_errors.get(role):  # failed_to_start adds it again
                    side.problem(reason)
            if role in self.launch_errors:
                side.failed_to_start(self.launch_errors[role])
            elif info:
                side.ended(as_int(info.get("code"), -1), str(info.get("transport", "local")))
        model.version += 1
        return model

    def to_json(self) -> dict[str, Any]:
        """The stored form (``migtd-console-run/1``)."""
        return {"format": "migtd-console-run/1", "run_id": self.run_id,
                "started_at": self.started_at, "params": self.params, "lines": self.lines,
                "exits": self.exits, "launch_errors": self.launch_errors,
                "problems": self.problems}

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> "RunRecord":
        """Read :meth:`to_json`'s form; ValueError if it is not a run record."""
        if not isinstance(data, dict) or data.get("format") != "migtd-console-run/1":
            raise ValueError("not a migtd-console run record")
        try:
            return cls(str(data.get("run_id", "")), float(data.get("started_at", 0.0)),
                       dict(data.get("params") or {}),
                       {k: list(v) for k, v in (data.get("lines") or {}).items()},
                       dict(data.get("exits") or {}), dict(data.get("launch_errors") or {}),
                       {k: list(v) for k, v in (data.get("problems") or {}).items()})
        except (TypeError, ValueError, AttributeError) as exc:  # a hand-edited or foreign file
            raise ValueError(f"malformed migtd-console run record: {exc}") from None
