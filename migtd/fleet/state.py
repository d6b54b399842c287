"""The collector's record of every host: ``fleet-state.json`` beside the evidence files.

One entry per inventory host says whether its last collection succeeded,
when, how long it took, and — when it failed — the error kind (the console's
error column) and one line of detail. A re-run reads it to refresh only stale
or failed hosts; the matrix reads it to name the hosts that have no evidence
and to know each host's groups.

The file is written atomically (a temporary file, then a rename), so an
interrupted collection leaves the previous state, never half of one.
"""

from __future__ import annotations

import os
from collections.abc import Iterable
from dataclasses import asdict, dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

from migtd.fleet.evidence import iso, parse_iso
from migtd.inputs import InputError, load_json, read_input, write_atomic

STATE_FILE = "fleet-state.json"
FORMAT = "migtd-fleet-state"
FORMAT_VERSION = 1
MAX_STATE = 64 * 1024 * 1024

#: Error kinds of the per-host error column (docs/fleet.md "Collection errors").
ERROR_KINDS = ("unreachable", "auth_refused", "tool_missing", "collection_failed", "timeout", "ssh_error")


@dataclass
class HostState:
    """The outcome of the last collection attempt for one host."""

    name: str
    status: str = "pending"            # ok | failed | pending
    error_kind: str = ""               # one of ERROR_KINDS when failed
    error: str = ""                    # one line
    address: str = ""
    user: str = ""
    port: int | None = None
    groups: list[str] = field(default_factory=list)
    attempted_at: str = ""             # ISO time of the last attempt
    collected_at: str = ""             # ISO time of the evidence on disk (last success)
    duration: float = 0.0              # seconds the last attempt took
    evidence: str = ""                 # evidence file name, relative to the state file
    exit_status: int | None = None     # ssh's exit status of the last attempt

    @property
    def ok(self) -> bool:
        return self.status == "ok"

    def collected_time(self) -> datetime | None:
        """``collected_at`` as a datetime (None when never collected or unreadable)."""
        try:
            return parse_iso(self.collected_at) if self.collected_at else None
        except ValueError:
            return None


@dataclass
class FleetState:
    """Every host's :class:`HostState`, keyed by inventory name."""

    hosts: dict[str, HostState] = field(default_factory=dict)
    inventory: str = ""
    updated_at: str = ""

    def to_json(self) -> bytes:
        import json

        doc = {"format": FORMAT, "format_version": FORMAT_VERSION, "inventory": self.inventory,
               "updated_at": self.updated_at,
               "hosts": {name: {k: v for k, v in asdict(h).items() if k != "name"}
                         for name, h in sorted(self.hosts.items())}}
        return (json.dumps(doc, indent=2) + "\n").encode("utf-8")

    @classmethod
    def load(cls, path: Path) -> FleetState:
        """Read a state file; damage is one line telling the operator how to recover."""
        what = f"state file {path}"
        doc = load_json(read_input(path, "state file", limit=MAX_STATE), what)
        if not isinstance(doc, dict) or doc.get("format") != FORMAT:
            raise InputError(f"{what} is not a fleet state file (format {FORMAT!r}); move it away to start over")
        if doc.get("format_version") != FORMAT_VERSION:
            raise InputError(f"{what}: format_version {doc.get('format_version')!r} is not {FORMAT_VERSION}")
        hosts = doc.get("hosts")
        if not isinstance(hosts, dict):
            raise InputError(f"{what}: hosts is not an object")
        state = cls(inventory=_text(doc.get("inventory")), updated_at=_text(doc.get("updated_at")))
        for name, entry in hosts.items():
            if not isinstance(entry, dict):
                raise InputError(f"{what}: hosts.{name[:60]} is not an object")
            port = entry.get("port")
            exit_status = entry.get("exit_status")
            groups = entry.get("groups")
            state.hosts[name] = HostState(
                name=name, status=_text(entry.get("status")) or "pending", error_kind=_text(entry.get("error_kind")),
                error=_text(entry.get("error")), address=_text(entry.get("address")), user=_text(entry.get("user")),
                port=port if isinstance(port, int) and not isinstance(port, bool) else None,
                groups=[g for g in groups if isinstance(g, str)] if isinstance(groups, list) else [],
                attempted_at=_text(entry.get("attempted_at")), collected_at=_text(entry.get("collected_at")),
                duration=float(entry["duration"]) if isinstance(entry.get("duration"), (int, float))
                and not isinstance(entry.get("duration"), bool) else 0.0,
                evidence=_text(entry.get("evidence")),
                exit_status=exit_status if isinstance(exit_status, int) and not isinstance(exit_status, bool)
                else None)
        return state

    def save(self, path: Path, now: datetime, inputs: Iterable[tuple[str, str | os.PathLike[str] | None]] = ()) -> None:
        """Write atomically (temporary file in the same folder, then rename), never onto one of ``inputs``."""
        self.updated_at = iso(now)
        write_atomic(path, self.to_json(), "state file", inputs)


def _text(value: Any) -> str:
    return value if isinstance(value, str) else ""
