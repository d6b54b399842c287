"""One version, --version everywhere, python -m entry points, static shell completion."""

from __future__ import annotations

import subprocess
import sys
from importlib.metadata import version
from pathlib import Path

import pytest

import migtd

BIN = Path(sys.executable).parent


def test_one_version() -> None:
    """pyproject reads it from migtd.__version__: the installed metadata agrees."""
    assert version("migtd-py") == migtd.__version__


@pytest.mark.parametrize("cmd", [
    [str(BIN / "migtd-console"), "--version"],
    [sys.executable, "-m", "tui", "--version"],
    [str(BIN / "migtd-tool"), "--version"],
    [sys.executable, "-m", "migtd.tool", "--version"],
])
def test_version(cmd: list[str]) -> None:
    done = subprocess.run(cmd, capture_output=True, text=True, timeout=60, check=False)
    assert done.returncode == 0 and done.stdout.split()[-1] == migtd.__version__, done.stderr


def test_python_m_tool_runs_commands() -> None:
    done = subprocess.run([sys.executable, "-m", "migtd.tool", "paths", "policy"], capture_output=True, text=True,
                          timeout=60, check=False)
    assert done.returncode == 0 and done.stdout.strip().endswith("policy.json")


@pytest.mark.parametrize("program,shell,needle", [
    ("migtd-tool", "bash", "collateral"),
    ("migtd-tool", "zsh", "--root-ca-crl-url"),
    ("migtd-console", "bash", "--mock-report"),
])
def test_completion_scripts(program: str, shell: str, needle: str) -> None:
    done = subprocess.run([str(BIN / program), "--print-completion", shell], capture_output=True, text=True,
                          timeout=60, check=False)
    assert done.returncode == 0 and needle in done.stdout and program.replace("-", "_") in done.stdout
    if shell == "bash":
        check = subprocess.run(["bash", "-n"], input=done.stdout, capture_output=True, text=True, timeout=30,
                               check=False)
        assert check.returncode == 0, check.stderr


def test_migtd_keeps_its_upstream_parser() -> None:
    done = subprocess.run([str(BIN / "migtd"), "--print-completion", "bash"], capture_output=True, text=True,
                          timeout=60, check=False)
    assert "Unknown argument" in done.stdout or "Usage" in done.stdout
