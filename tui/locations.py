"""Every path ``migtd-console`` reads or writes, in one place (as posting's ``locations.py``).

The XDG directories come from platformdirs, so ``XDG_CONFIG_HOME``,
``XDG_STATE_HOME`` and ``XDG_DATA_HOME`` move them (the tests rely on it):

* settings: the user **config** directory (what an operator edits);
* run history: the user **state** directory (what the console keeps between
  runs for itself; XDG's "history" example). Before it lived in the data
  directory; :class:`tui.history.HistoryStore` moves those runs once;
* reports: the user **data** directory (documents an operator attaches).

``migtd-console --locate`` prints them all, with the default input files the
console hands to ``migtd`` (those come from :mod:`migtd.paths`).
"""

from __future__ import annotations

from pathlib import Path

import platformdirs

APP_NAME = "migtd-console"


def config_dir() -> Path:
    """``$XDG_CONFIG_HOME/migtd-console`` (usually ``~/.config/migtd-console``)."""
    return Path(platformdirs.user_config_dir(APP_NAME, appauthor=False))


def settings_file() -> Path:
    """The operator's ``settings.toml``."""
    return config_dir() / "settings.toml"


def state_dir() -> Path:
    """``$XDG_STATE_HOME/migtd-console`` (usually ``~/.local/state/migtd-console``)."""
    return Path(platformdirs.user_state_dir(APP_NAME, appauthor=False))


def history_dir() -> Path:
    """Saved runs: ``<id>.json`` and its ``<id>.meta.json`` summary."""
    return state_dir() / "runs"


def data_dir() -> Path:
    """``$XDG_DATA_HOME/migtd-console`` (usually ``~/.local/share/migtd-console``)."""
    return Path(platformdirs.user_data_dir(APP_NAME, appauthor=False))


def reports_dir() -> Path:
    """JSON and Markdown reports (``s`` on the Run screen, ``j``/``m`` in History)."""
    return data_dir() / "reports"


def legacy_history_dir() -> Path:
    """Where earlier versions kept the run history (moved to :func:`history_dir` once)."""
    return data_dir() / "runs"


def locations() -> list[tuple[str, Path]]:
    """``(what, path)`` for everything the console uses, as ``--locate`` prints it."""
    from migtd import paths  # the engine's default inputs, which the console passes on

    return [
        ("settings", settings_file()),
        ("history", history_dir()),
        ("reports", reports_dir()),
        ("legacy history (moved on first use)", legacy_history_dir()),
        ("default policy", Path(paths.default_policy())),
        ("mock root CA (mock-report, skip-ra)", Path(paths.mock_root_ca())),
        ("mock collateral (mock-report)", Path(paths.mock_collateral())),
    ]
