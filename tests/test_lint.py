"""ruff and mypy find nothing (issue #10 item 6), so CI's plain ``pytest`` holds the tree to them.

Both run as ``scripts/lint.sh`` runs them: from the environment the tests run in, with the settings in
``pyproject.toml`` (ruff over the whole tree, mypy over the packages its ``files`` names). The [dev]
extra pins both, because a new release brings new rules and would fail CI for code nobody changed;
the first test says so plainly when the installed version is not the pinned one.
"""

from __future__ import annotations

import re
import subprocess
import sys
import tomllib
from importlib import metadata
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


def _lint(*argv: str, timeout: float) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", *argv], cwd=ROOT, check=False, capture_output=True, text=True,
                          timeout=timeout)


@pytest.mark.parametrize("tool", ["ruff", "mypy"])
def test_the_linters_are_the_pinned_versions(tool: str) -> None:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"]
    dev = project["optional-dependencies"]["dev"]
    pins = [m.group(1) for spec in dev if (m := re.fullmatch(rf"{tool}==(\S+)", spec))]
    assert len(pins) == 1, f"the [dev] extra must pin {tool} with '=='; it has {dev}"
    installed = metadata.version(tool)
    assert installed == pins[0], f"{tool} {installed} is installed, {pins[0]} pinned: rerun ./scripts/setup.sh"


def test_ruff_check_finds_nothing() -> None:
    # --no-cache: nothing is written into the tree; the whole check takes well under a second.
    done = _lint("ruff", "check", "--no-cache", "--output-format", "concise", ".", timeout=100)
    assert done.returncode == 0, f"ruff check found (exit {done.returncode}):\n{done.stdout}{done.stderr}"


@pytest.mark.timeout(300)
def test_mypy_finds_nothing() -> None:
    # The cache is .mypy_cache in the tree (ignored by git, shared with scripts/lint.sh). Cold, mypy takes
    # 6 s of an idle 2-core machine and 25 s beside a running suite (8 s of CPU); warm, under 1 s.
    done = _lint("mypy", timeout=240)
    assert done.returncode == 0, f"mypy found (exit {done.returncode}):\n{done.stdout}{done.stderr}"
