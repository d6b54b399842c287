"""Operator settings: per-machine defaults in platformdirs' user config dir.

``$XDG_CONFIG_HOME/migtd-console/settings.toml`` (usually
``~/.config/migtd-console/settings.toml``) holds what differs per deployment
rather than per run, so it need not be typed every time::

    migtd = "/opt/migtd-py/.venv/bin/migtd"          # local program
    remote_migtd = "/opt/migtd-py/.venv/bin/migtd"   # program on SSH hosts
    ssh_config = "/home/op/.ssh/migtd_config"        # passed to ssh -F
    timeout = 60                                     # migtd --timeout, seconds
    log_capacity = 10000                             # log lines kept per side

Command-line flags win over settings; settings win over built-in defaults.
A broken file is reported in one line and ignored, never fatal.
"""

from __future__ import annotations

import tomllib
from dataclasses import dataclass
from pathlib import Path

import platformdirs

from tui.history import APP_NAME
from tui.model import LOG_CAPACITY


def settings_path() -> Path:
    """``settings.toml`` in platformdirs' user config directory."""
    return Path(platformdirs.user_config_dir(APP_NAME, appauthor=False)) / "settings.toml"


@dataclass
class Settings:
    migtd: str | None = None
    remote_migtd: str | None = None
    ssh_config: str | None = None
    timeout: float | None = None
    log_capacity: int = LOG_CAPACITY


def load_settings(path: Path | None = None) -> tuple[Settings, str]:
    """The settings, and a one-line problem description ("" when fine or absent)."""
    path = path or settings_path()
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        return Settings(), ""
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError) as exc:
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
    problems += [f"unknown key {key!r}" for key in data]
    return out, (f"{path}: " + "; ".join(problems)) if problems else ""
