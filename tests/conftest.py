"""Shared fixtures: where the vectors are, free ports, the installed commands."""

from __future__ import annotations

import os
import shutil
import socket
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
VECTORS = ROOT.parent / "shared" / "vectors"


def vectors_dir() -> Path:
    """Return ``../shared/vectors``; skip without it, but fail under CI."""
    if VECTORS.is_dir():
        return VECTORS
    if os.environ.get("CI"):
        pytest.fail(f"test vectors missing at {VECTORS} (required when CI is set)")
    pytest.skip(f"test vectors not found at {VECTORS}")


@pytest.fixture(scope="session")
def vectors() -> Path:
    return vectors_dir()


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture
def port() -> int:
    return free_port()


def bin_path(name: str) -> str:
    """Path of an installed entry point next to the running interpreter."""
    candidate = Path(sys.executable).with_name(name)
    if candidate.exists():
        return str(candidate)
    found = shutil.which(name)
    if not found:
        pytest.fail(f"{name} is not installed (pip install -e .)")
    return found


# Each area keeps its tests (and any conftest.py of its own) in tests/<area>/.
# Modules are imported with --import-mode=importlib, so file names only need
# to be unique within their folder.
