"""config/policy.json: the project's default v1 policy accepts a same-platform peer.

(a) two mock-QE quotes, verified through the DCAP path against the committed
mock PKI (FMSPC 90C06F000000), and (b) upstream's real Azure quote, as its
derived 822-byte verified report, presented by both sides — each with the
event log a policy-v1 MigTD writes (policy + root CA, tag 1/2).
"""

from __future__ import annotations

from pathlib import Path

import pytest

from migtd import paths
from migtd.attest.suppl import field, with_field
from migtd.eventlog import v1_event_log
from migtd.policy import authenticate_v1, evaluate_v1, load_v1
from migtd.policy.v1_events import NamedEvent
from migtd.result import MigrationResult

POLICY = paths.default_policy().read_bytes()


def test_default_policy_shape() -> None:
    doc = load_v1(POLICY)
    assert len(doc.platforms) == 1 and doc.platforms[0].fmspc == "self"
    assert paths.default_policy() == paths.config_dir() / "policy.json"


@pytest.fixture(scope="module")
def az_report(vectors: Path) -> bytes:
    return (vectors / "attestation/derived/expected_suppl822_az_quote_thim.bin").read_bytes()


@pytest.fixture(scope="module")
def intel_root() -> bytes:
    return paths.intel_root_ca().read_bytes()


@pytest.mark.parametrize("is_source", [True, False])
def test_b_azure_quote_both_sides(az_report: bytes, intel_root: bytes, is_source: bool) -> None:
    assert field(az_report, "FMSPC") == paths.MOCK_FMSPC
    log = v1_event_log(POLICY, intel_root)
    d = authenticate_v1(POLICY, is_source=is_source, local_report=az_report, local_event_log=log,
                        peer_report=az_report, peer_event_log=log, tolerate_rtmr_mismatch=True)
    assert d.ok, d.error
    assert len(d.rules) == 1 + 3 + 4 + 5 + 10 + 2
    assert any("tolerated" in n for n in d.notes)      # the real quote's RTMRs are not our log's replay
    strict = authenticate_v1(POLICY, is_source=is_source, local_report=az_report, local_event_log=log,
                             peer_report=az_report, peer_event_log=log, tolerate_rtmr_mismatch=False)
    assert strict.kind == "InvalidEventLog"


def test_b_peer_with_another_policy_or_root_is_refused(az_report: bytes, intel_root: bytes) -> None:
    local = v1_event_log(POLICY, intel_root)
    other_policy = v1_event_log(POLICY + b" ", intel_root)
    other_root = v1_event_log(POLICY, intel_root + b"\0")
    for peer_log, failed in ((other_policy, "Digest.MigTdPolicy"), (other_root, "Digest.MigTdSgxRootKey")):
        d = authenticate_v1(POLICY, is_source=True, local_report=az_report, local_event_log=local,
                            peer_report=az_report, peer_event_log=peer_log, tolerate_rtmr_mismatch=True)
        assert d.kind == "UnqualifiedMigTdInfo" and d.failed_rules() == [f"MigTD.EventLog.{failed}"]
        assert d.result is MigrationResult.PolicyUnsatisfiedError


def test_b_direction_rules(az_report: bytes) -> None:
    """SVN-like rules are "destination ≥ source": an older destination is refused by the source."""
    older = with_field(az_report, "QE_ISVSVN", (3).to_bytes(2, "little"))
    events = {"MigTdPolicy": NamedEvent(bytes(48)), "SgxRootKey": NamedEvent(bytes(48))}
    src_sees_old_dst = evaluate_v1(POLICY, is_source=True, local_report=az_report, peer_report=older,
                                   local_events=events, peer_events=events)
    assert src_sees_old_dst.failed_rules() == ["QE.QeIdentity.ISVSVN"]
    dst_sees_old_src = evaluate_v1(POLICY, is_source=False, local_report=az_report, peer_report=older,
                                   local_events=events, peer_events=events)
    assert dst_sees_old_src.ok


def test_a_mock_pki_quotes() -> None:
    """Two mock-QE quotes (different REPORTDATA) verified against config/mock, then the policy."""
    from migtd.attest.collateral import load_collateral
    from migtd.attest.verify import verify_quote
    from migtd.mock.providers import MockQeProvider

    root = paths.mock_root_ca().read_bytes()
    log = v1_event_log(POLICY, root)
    provider = MockQeProvider(mock_dir=paths.mock_dir())
    collateral = load_collateral(paths.mock_collateral())
    reports = [verify_quote(provider.quote(provider.td_report(bytes([i]) * 64, log)), collateral, root).report
               for i in (1, 2)]
    assert all(field(r, "FMSPC") == paths.MOCK_FMSPC for r in reports)
    assert reports[0] != reports[1]
    d = authenticate_v1(POLICY, is_source=True, local_report=reports[0], local_event_log=log,
                        peer_report=reports[1], peer_event_log=log, tolerate_rtmr_mismatch=False)
    assert d.ok, d.error
    assert not d.notes          # the mock TD report's RTMRs are the replay of this very log
