"""The upstream v1 test corpus (spec/policy.md §4), each file with its expected outcome."""

from __future__ import annotations

import hashlib
from pathlib import Path

import pytest

from migtd.attest.suppl import with_field
from migtd.policy import PolicyError, evaluate_v1, load_v1
from migtd.policy.v1_events import NamedEvent

T = "src/policy/test"


def ev(policy: bytes, svn: int = 15) -> dict[str, NamedEvent]:
    """EV(P=policy, svn=N): the event set of the upstream unit tests (§6.1 notation)."""
    svn8 = svn.to_bytes(8, "little")
    return {
        "MigTdCore": NamedEvent(hashlib.sha384(b"\xff" * 256).digest()),
        "SecureBootKey": NamedEvent(hashlib.sha384(b"\xff" * 128).digest()),
        "SgxRootKey": NamedEvent(hashlib.sha384(b"\xff" * 96).digest()),
        "MigTdPolicy": NamedEvent(hashlib.sha384(policy).digest()),
        "MigTdCoreSvn": NamedEvent(hashlib.sha384(svn8).digest(), svn8),
    }


# (file, is_src, peer modification, events?, svn local/peer, expected)
CORPUS = [
    (f"{T}/policy.json", None, None, "UnqualifiedMigTdInfo"),
    (f"{T}/policy_001.json", None, None, "OK"),
    (f"{T}/policy_001.json", ("FMSPC", "20C06F000000"), None, "PlatformNotMatch"),
    (f"{T}/policy_001.json", ("TDX_MODULE_MAJOR_VER", "02"), None, "UnqualifiedTdxModuleInfo"),
    (f"{T}/policy_002.json", None, None, "OK"),
    (f"{T}/policy_003.json", None, None, "UnqualifiedMigTdInfo"),
    (f"{T}/policy_004.json", None, (13, 13), "OK"),
    (f"{T}/policy_004.json", None, (17, 17), "OK"),
    (f"{T}/policy_004.json", None, (18, 18), "UnqualifiedMigTdInfo"),
    (f"{T}/policy_005.json", None, None, "InvalidPolicy"),
    (f"{T}/policy_006.json", None, (1, 2), "OK"),
    (f"{T}/policy_006.json", None, (2, 2), "OK"),
    (f"{T}/policy_006.json", None, (2, 1), "UnqualifiedMigTdInfo"),
    (f"{T}/policy_007.json", None, None, "UnqualifiedPlatformInfo"),
    (f"{T}/policy_008.json", None, None, "UnqualifiedPlatformInfo"),
    (f"{T}/policy_009.json", None, None, "InvalidPolicy"),
    (f"{T}/policy_010.json", None, None, "PlatformNotFound"),
    (f"{T}/policy_full1.json", None, None, "OK"),
    (f"{T}/policy_full1.json", ("FMSPC", "30816F000000"), None, "PlatformNotFound"),
    (f"{T}/policy_full2.json", None, None, "UnqualifiedMigTdInfo"),
    (f"{T}/policy_full2.json", None, (15, 15), "OK"),
    (f"{T}/policy_full3.json", None, None, "OK"),
    (f"{T}/policy_invalid_guid.json", None, None, "InvalidPolicy"),
    (f"{T}/policy_no.json", None, None, "OK"),
    (f"{T}/policy_no_tdattr.json", ("TD_ATTRIBUTES", "0101010101010101"), None, "OK"),
    ("src/policy/fuzz/seeds/policy/fuzz.json", None, None, "InvalidPolicy"),
]


@pytest.mark.parametrize("path,peer_mod,svns,expected", CORPUS,
                         ids=[f"{Path(c[0]).name}-{i}" for i, c in enumerate(CORPUS)])
def test_upstream_policy(pvec: Path, report_dat: bytes, path: str, peer_mod: tuple[str, str] | None,
                         svns: tuple[int, int] | None, expected: str) -> None:
    policy = (pvec / path).read_bytes()
    peer = with_field(report_dat, peer_mod[0], bytes.fromhex(peer_mod[1])) if peer_mod else report_dat
    local_events = ev(policy, svns[0]) if svns else None
    peer_events = ev(policy, svns[1]) if svns else None
    decision = evaluate_v1(policy, is_source=True, local_report=report_dat, peer_report=peer,
                           local_events=local_events, peer_events=peer_events)
    assert decision.kind == expected, decision.error
    if expected == "PlatformNotFound":
        assert decision.error is not None and decision.error.payload == (peer[584:590].hex().upper(),)


def test_policy_json_short_reports(pvec: Path, report_dat: bytes) -> None:
    """U test_verify_invalid_parameter: an 821-byte local or peer report."""
    policy = (pvec / f"{T}/policy.json").read_bytes()
    for local, peer in ((report_dat[:821], report_dat), (report_dat, report_dat[:821])):
        assert evaluate_v1(policy, is_source=True, local_report=local, peer_report=peer).kind == "InvalidParameter"


def test_policy_json_in_range_self_never_passes(pvec: Path, report_dat: bytes) -> None:
    """V1-37: Digest.MigTdCore "in-range"+"self" fails even with identical events."""
    policy = (pvec / f"{T}/policy.json").read_bytes()
    d = evaluate_v1(policy, is_source=True, local_report=report_dat, peer_report=report_dat,
                    local_events=ev(policy), peer_events=ev(policy))
    assert d.failed_rules() == ["MigTD.EventLog.Digest.MigTdCore"]


@pytest.mark.parametrize("path", ["config/policy.json", "config/policy_production_fmspc.json",
                                  "config/policy_pre_production_fmspc.json", f"{T}/policy_full1.json"])
def test_shipped_policies_parse(pvec: Path, path: str) -> None:
    doc = load_v1((pvec / path).read_bytes())
    assert doc.blocks


def test_generator_outputs_have_their_platforms(pvec: Path) -> None:
    prod = load_v1((pvec / "config/policy_production_fmspc.json").read_bytes())
    pre = load_v1((pvec / "config/policy_pre_production_fmspc.json").read_bytes())
    assert (len(prod.platforms), len(pre.platforms)) == (13, 26)
    assert prod.id == "F65CD566-4D67-45EF-88E3-79963901B292"


def test_invalid_guid_raises_with_path(pvec: Path) -> None:
    with pytest.raises(PolicyError, match=r"^id: "):
        load_v1((pvec / f"{T}/policy_invalid_guid.json").read_bytes())
