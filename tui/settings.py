"""Operator settings: per-machine defaults in platformdirs' user config dir.

``$XDG_CONFIG_HOME/migtd-console/settings.toml`` (usually
``~/.config/migtd-console/settings.toml``, see :mod:`tui.locations`) holds
what differs per deployment rather than per run, so it need not be typed
every time::

    migtd = "/opt/migtd-py/.venv/bin/migtd"          # local program
    remote_migtd = "/opt/migtd-py/.venv/bin/migtd"   # program on SSH hosts
    ssh_config = "/home/op/.ssh/migtd_config"        # passed to ssh -F
    timeout = 60                                     # migtd --timeout, seconds
    log_capacity = 10000                             # log lines kept per side
    history_keep_runs = 200                          # saved runs kept (0: no limit)
    history_keep_days = 90                           # days a saved run is kept (0: no limit)

Command-line flags win over settings; settings win over built-in defaults.
A broken file is reported in one line and ignored, never fatal. The file is
read with :func:`migtd.inputs.read_input` (regular file, size limit).
"""

from __future__ import annotations

import os
import tomllib
from dataclasses import dataclass
from pathlib import Path

from migtd.inputs import InputError, read_input
from tui import locations
from tui.history import Retention
from tui.model import LOG_CAPACITY

#: Largest settings file read.
SETTINGS_LIMIT = 1024 * 1024
#: Upper bounds of the retention settings and flags.
MAX_KEEP_RUNS = 1_000_000
MAX_KEEP_DAYS = 36_500


def settings_path() -> Path:
    """``settings.toml`` in platformdirs' user config directory."""
    return locations.settings_file()


@dataclass
class Settings:
    migtd: str | None = None
    remote_migtd: str | None = None
    ssh_config: str | None = None
    timeout: float | None = None
    log_capacity: int = LOG_CAPACITY
    history_keep_runs: int = Retention.keep_runs
    history_keep_days: int = Retention.keep_days


def _count(value: object, high: int) -> int | None:
    """A whole number from 0 to ``high`` (TOML integers only), else None."""
    if isinstance(value, int) and not isinstance(value, bool) and 0 <= value <= high:
        return value
    return None


def load_settings(path: Path | None = None) -> tuple[Settings, str]:
    """The settings, and a one-line problem description ("" when fine or absent)."""
    path = path or settings_path()
    try:
        data = tomllib.loads(read_input(path, "settings file", limit=SETTINGS_LIMIT,
                                        allow_empty=True).decode("utf-8"))
    except InputError as exc:
        if not os.path.lexists(path):
            return Settings(), ""
        return Settings(), f"ignoring {exc}"
    except UnicodeDecodeError as exc:
        return Settings(), f"ignoring {path}: not UTF-8 text (byte {exc.start})"
    except tomllib.TOMLDecodeError as exc:
        return Settings(), f"ignoring {path}: {exc}"
    out = Settings()
    problems = []
    for key in ("migtd", "remote_migtd", "ssh_config"):
        value = data.pop(key, None)
        if isinstance(value, str) and value:
            setattr(out, key, value)
        elif value is not None:
            problems.append(f"{key} must be a non-empty string")
    timeout = data.pop("timeout", None)
    if isinstance(timeout, (int, float)) and not isinstance(timeout, bool) and 0 < timeout < 86400:
        out.timeout = float(timeout)
    elif timeout is not None:
        problems.append("timeout must be a number of seconds between 0 and 86400")
    capacity = data.pop("log_capacity", None)
    if isinstance(capacity, int) and not isinstance(capacity, bool) and 100 <= capacity <= 1_000_000:
        out.log_capacity = capacity
    elif capacity is not None:
        problems.append("log_capacity must be an integer from 100 to 1000000")
    for key, high in (("history_keep_runs", MAX_KEEP_RUNS), ("history_keep_days", MAX_KEEP_DAYS)):
        value = data.pop(key, None)
        count = _count(value, high)
        if count is not None:
            setattr(out, key, count)
        elif value is not None:
            problems.append(f"{key} must be an integer from 0 (no limit) to {high}")
    problems += [f"unknown key {key!r}" for key in data]
    return out, (f"{path}: " + "; ".join(problems)) if problems else ""
