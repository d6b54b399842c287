"""The fleet package stays Textual-free and cheap to import (the console imports it on demand)."""

from __future__ import annotations

import subprocess
import sys

MODULES = ["migtd.fleet." + m for m in ("collect", "config_files", "diff", "engine_adapter", "evidence", "export",
                                        "hosts", "inventory", "matrix", "parallel", "profile", "progress", "ssh", "state",
                                        "synthetic")]


def _loaded_after(code: str) -> set[str]:
    out = subprocess.run([sys.executable, "-c", code + "\nimport sys\nprint('\\n'.join(sys.modules))"],
                         capture_output=True, text=True, timeout=60, check=True).stdout
    return set(out.split())


def test_no_textual_anywhere_in_the_fleet_package() -> None:
    loaded = _loaded_after("\n".join(f"import {m}" for m in MODULES))
    assert not {m for m in loaded if m.split(".")[0] in ("textual", "rich", "tui")}


def test_importing_the_package_and_the_data_api_loads_no_crypto_or_yaml() -> None:
    loaded = _loaded_after("import migtd.fleet, migtd.fleet.matrix, migtd.fleet.diff, migtd.fleet.collect")
    heavy = {m for m in loaded if m.split(".")[0] in ("cryptography", "yaml", "OpenSSL")}
    assert not heavy, sorted(heavy)[:5]
