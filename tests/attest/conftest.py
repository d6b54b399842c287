"""Fixtures for the attestation tests: the real Azure vectors and a fresh mock PKI."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import pytest

from migtd import paths
from migtd.attest.collateral import Collateral, load_collateral
from migtd.eventlog import build_event_log, tagged_event
from migtd.mock.pki import MockPki
from migtd.mock.providers import MockQeProvider
from migtd.mock.qe import MockQE


@dataclass(frozen=True)
class AzureVectors:
    dir: Path
    quote: bytes
    root_ca: bytes
    preprod_root_ca: bytes
    thim: Collateral
    prod: Collateral
    hardcoded: Collateral
    preprod: Collateral
    expected_thim: bytes
    expected_prod: bytes
    mock_td_report: bytes


@pytest.fixture(scope="session")
def azure(vectors: Path) -> AzureVectors:
    a = vectors / "attestation"
    return AzureVectors(
        dir=a,
        quote=(a / "az_migtd_quote.blob").read_bytes(),
        root_ca=paths.intel_root_ca().read_bytes(),  # the shipped anchor
        preprod_root_ca=(a / "Intel_SGX_Provisioning_Certification_RootCA_preproduction.cer").read_bytes(),
        thim=load_collateral(a / "collateral_azure_thim.json"),
        prod=load_collateral(a / "collateral_production_fmspc.json"),
        hardcoded=load_collateral(a / "derived" / "hardcoded_collateral_as_migtd_json.json"),
        preprod=load_collateral(a / "collateral_pre_production_fmspc.json"),
        expected_thim=(a / "derived" / "expected_suppl822_az_quote_thim.bin").read_bytes(),
        expected_prod=(a / "derived" / "expected_suppl822_az_quote_prod.bin").read_bytes(),
        mock_td_report=(a / "derived" / "mock_td_report_from_QUOTE.bin").read_bytes(),
    )


@pytest.fixture(scope="session")
def pki() -> MockPki:
    """A fresh in-memory mock PKI (independent of the committed config/mock)."""
    return MockPki.generate()


@pytest.fixture(scope="session")
def provider(pki: MockPki) -> MockQeProvider:
    return MockQeProvider(MockQE.from_pki(pki))


SAMPLE_LOG = build_event_log([tagged_event(3, 1, b"policy", b"policy"),
                              tagged_event(3, 2, b"root", b"root")])


@pytest.fixture(scope="session")
def sample_log() -> bytes:
    return SAMPLE_LOG


@pytest.fixture(scope="session")
def mock_quote(provider: MockQeProvider) -> bytes:
    """A mock-QE quote with a recognisable REPORTDATA and the sample event log."""
    return provider.quote(provider.td_report(bytes(range(64)), SAMPLE_LOG))
