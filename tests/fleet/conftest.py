"""Fixtures for the fleet tests: a synthetic fleet, a closed port, the Azure fixtures.

The real sshd the collection tests use (``sshd_fleet``) is the shared one of
tests/conftest.py and tests/sshd.py.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from migtd.fleet.synthetic import SyntheticFleet
from tests.loopback import free_port


@pytest.fixture(scope="session")
def synthetic_fleet() -> SyntheticFleet:
    """One fresh synthetic PKI per session (two platforms, the default v1 policy)."""
    return SyntheticFleet.create()


@pytest.fixture
def closed_port() -> int:
    """A loopback port with no listener (connections are refused: an unreachable host)."""
    return free_port()


# The Azure fixtures (a real swtpm provisioned like an Azure vTPM, a local IMDS) are the azure
# tests' own; test modules cannot import another folder's conftest, so it is loaded by path and
# its fixtures are re-exported here for evidence collection in azure mode.
def _azure_fixtures() -> object:
    import importlib.util
    import sys

    path = Path(__file__).resolve().parent.parent / "azure" / "conftest.py"
    spec = importlib.util.spec_from_file_location("fleet_azure_fixtures", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up while the file executes
    spec.loader.exec_module(module)
    return module


_azure = _azure_fixtures()
swtpm = _azure.swtpm  # type: ignore[attr-defined]
provisioned_swtpm = _azure.provisioned_swtpm  # type: ignore[attr-defined]
imds = _azure.imds  # type: ignore[attr-defined]
