"""Fixtures for the policy tests: the policy vector folder and report.dat.

Parametrized tests read the case tables at collection time from
``POLICY_VECTORS``; when the folder is absent their tables are empty and the
``pvec`` fixture (used by every vector test) skips — or fails when ``CI``
is set, through the root ``vectors`` fixture.
"""

from __future__ import annotations

from pathlib import Path

import pytest


@pytest.fixture(scope="session")
def pvec(vectors: Path) -> Path:
    """``vectors/policy``: upstream files at their upstream paths, plus derived/."""
    return vectors / "policy"


@pytest.fixture(scope="session")
def report_dat(pvec: Path) -> bytes:
    return (pvec / "src/policy/test/report.dat").read_bytes()
