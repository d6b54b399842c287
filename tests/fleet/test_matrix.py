"""The compatibility matrix over synthetic evidence whose profiles reach every verdict and rule kind.

Quotes come from a mock QE under a fresh PKI with two platforms and go
through the real DCAP verifier; policies are evaluated by the engine's v1 and
v2 engines. The profiles are crafted so each verdict (allowed, refused by
source, refused by destination, not attested) and each kind of failing rule
(platform, TCB components, TDX module, QE, TDINFO, event log, event-log
replay, attestation of either side, missing evidence; for v2: TCB date,
platform list, MigTD engine identity, policy SVN, issuer chains) appears, and
class collapsing is checked against evaluating every host pair on its own.
"""

from __future__ import annotations

import json
from typing import Any

import pytest

from migtd import paths
from migtd.fleet.config_files import PolicySpec
from migtd.fleet.hosts import FleetHost
from migtd.fleet.matrix import Verdict, build_matrix
from migtd.fleet.profile import Anchors
from migtd.fleet.synthetic import (
    TCB_MODULE_OUT_OF_DATE,
    TCB_PLATFORM_OUT_OF_DATE,
    TCB_REVOKED,
    Profile,
    SyntheticFleet,
)

MRTD_LITERAL = "556FD5FCBF8A8C5A5490A1333FDCD5F261B7345F1735FEB3E36DDA3F70A1D18E0561284DA5771DB75A787571A0241507"

#: name -> profile; two hosts each.
PROFILES = {
    "base": Profile(),
    "fm1": Profile(fmspc=1),
    "ood": Profile(tee_tcb_svn=TCB_PLATFORM_OUT_OF_DATE),
    "mod": Profile(tee_tcb_svn=TCB_MODULE_OUT_OF_DATE),
    "qe2": Profile(qe_isvsvn=2),
    "mrtd": Profile(mrtd=1),
    "az": Profile(quote_source="azure-imds"),
    "azroot": Profile(quote_source="azure-imds", other_root_ca=True),
    "tamper": Profile(tampered_log=True),
    "rev": Profile(tee_tcb_svn=TCB_REVOKED),
    "broken": Profile(broken_signature=True),
}


def v1_policy(*, drop: tuple[str, ...] = (), tdinfo: dict[str, Any] | None = None) -> bytes:
    """config/policy.json with MRTD pinned to the mock TD's (a literal: judged on the peer only).

    ``drop`` removes TDINFO/EventLog rules by name; ``tdinfo`` adds or replaces TDINFO rules.
    """
    doc = json.loads(paths.default_policy().read_text())
    migtd = doc["policy"][3]["MigTD"]
    migtd["TDINFO"]["MRTD"] = {"operation": "equal", "reference": MRTD_LITERAL}
    for name in drop:
        migtd["TDINFO"].pop(name, None)
        migtd["EventLog"].pop(name, None)
    migtd["TDINFO"].update(tdinfo or {})
    return json.dumps(doc, indent=1).encode()


def _hosts(fleet: SyntheticFleet, profiles: dict[str, Profile], per: int = 2) -> list[FleetHost]:
    hosts = [FleetHost(f"{name}-{i}", (name.rstrip("0123456789") or name,), fleet.evidence(f"{name}-{i}", p))
             for name, p in profiles.items() for i in range(1, per + 1)]
    hosts.append(FleetHost("gone", ("lost",), problem="ssh: connect to host gone port 22: Connection refused",
                           problem_kind="unreachable"))
    return hosts


@pytest.fixture(scope="module")
def v1(synthetic_fleet: SyntheticFleet) -> Any:
    # the hosts run the evaluated policy (projection is the subject of its own test)
    fleet = SyntheticFleet(synthetic_fleet.pki, v1_policy(), other_root_ca=synthetic_fleet.other_root_ca)
    spec = PolicySpec(1, fleet.policy, label="v1-test").checked()
    anchors = Anchors(fleet.pki.root_ca_der, fleet.pki.collateral)
    hosts = _hosts(fleet, PROFILES)
    return build_matrix(hosts, spec, anchors=anchors), hosts, spec, anchors


def test_every_verdict_and_every_v1_failing_rule_kind(v1: Any) -> None:
    m, hosts, _, _ = v1
    counts = m.counts()
    assert all(counts[v] > 0 for v in Verdict), counts
    assert sum(counts.values()) == m.total_pairs == len(hosts) * (len(hosts) - 1)
    kinds: set[str] = set()
    failed: set[str] = set()
    for i in range(len(m.classes)):
        for j in range(len(m.classes)):
            for side in (m.outcome(i, j).source, m.outcome(i, j).destination):
                if not side.ok:
                    kinds.add(side.kind)
                    failed.update(side.failed_rules)
    assert {"PlatformNotMatch", "UnqualifiedPlatformInfo", "UnqualifiedTdxModuleInfo", "UnqualifiedQeInfo",
            "UnqualifiedMigTdInfo", "InvalidEventLog", "MutualAttestationError", "NoEvidence"} <= kinds
    for section in ("Platform.fmspc", "Platform.TcbInfo.", "TDXModule.TDXModule_Identity.", "QE.QeIdentity.",
                    "MigTD.TDINFO.", "MigTD.EventLog.", "error.", "attestation.local_quote",
                    "attestation.peer_quote"):
        assert any(r.startswith(section) for r in failed), section


@pytest.mark.parametrize(("src", "dst", "verdict", "rules"), [
    ("base-1", "base-2", Verdict.ALLOWED, ()),
    ("base-1", "fm1-1", Verdict.REFUSED_BY_SOURCE, ("source:Platform.fmspc", "destination:Platform.fmspc")),
    # destination TCB must be >= the source's: checked by both sides, the source decides first
    ("base-1", "ood-1", Verdict.REFUSED_BY_SOURCE, ("source:Platform.TcbInfo.tdxtcbcomponents",
                                                    "destination:Platform.TcbInfo.tdxtcbcomponents")),
    ("ood-1", "base-1", Verdict.ALLOWED, ()),
    ("base-1", "mod-1", Verdict.REFUSED_BY_SOURCE, ("source:TDXModule.TDXModule_Identity.TDXModuleSVN",
                                                    "destination:TDXModule.TDXModule_Identity.TDXModuleSVN")),
    ("base-1", "qe2-1", Verdict.REFUSED_BY_SOURCE, ("source:QE.QeIdentity.ISVSVN",
                                                    "destination:QE.QeIdentity.ISVSVN")),
    # a literal reference is judged on the peer only: here only the destination objects
    ("mrtd-1", "base-1", Verdict.REFUSED_BY_DESTINATION, ("destination:MigTD.TDINFO.MRTD",)),
    ("base-1", "mrtd-1", Verdict.REFUSED_BY_SOURCE, ("source:MigTD.TDINFO.MRTD",)),
    ("az-1", "azroot-1", Verdict.REFUSED_BY_SOURCE, ("source:MigTD.EventLog.Digest.MigTdSgxRootKey",
                                                     "destination:MigTD.EventLog.Digest.MigTdSgxRootKey")),
    ("az-1", "az-2", Verdict.ALLOWED, ()),
    ("base-1", "tamper-1", Verdict.REFUSED_BY_SOURCE, ("source:error.InvalidEventLog",)),
    ("tamper-1", "base-1", Verdict.REFUSED_BY_DESTINATION, ("destination:error.InvalidEventLog",)),
    ("base-1", "rev-1", Verdict.NOT_ATTESTED, ("source:attestation.peer_quote",
                                               "destination:attestation.local_quote")),
    ("broken-1", "base-1", Verdict.NOT_ATTESTED, ("source:attestation.local_quote",
                                                  "destination:attestation.peer_quote")),
    ("gone", "base-1", Verdict.NOT_ATTESTED, ("source:attestation.local_quote",
                                              "destination:attestation.peer_quote")),
])
def test_pair_verdicts_and_rules(v1: Any, src: str, dst: str, verdict: Verdict, rules: tuple[str, ...]) -> None:
    m = v1[0]
    outcome = m.pair(src, dst)
    assert outcome.verdict is verdict, outcome
    assert outcome.failing_rules() == rules


def test_not_attested_reasons_name_the_step(v1: Any) -> None:
    m = v1[0]
    o = m.pair("base-1", "rev-1")
    assert o.source.reason == "peer quote does not verify at tcb_status: TCB status is Revoked"
    assert o.source.result == 7 and o.destination.kind == "MutualAttestationError"
    assert "quote_signature" in m.pair("broken-1", "base-1").source.reason
    gone = m.pair("gone", "base-1")
    assert gone.source.reason == "no evidence (unreachable)" and gone.reason.startswith("source: no evidence")
    assert m.host("gone").problem.endswith("Connection refused")


def test_classes_state_the_grouping_and_verify_each_quote_once(v1: Any) -> None:
    m, hosts, _, _ = v1
    assert len(m.classes) == len(PROFILES) + 1
    assert [len(c.hosts) for c in m.classes if c.attested] == [2] * (len(PROFILES) - 2)
    assert m.verified_quotes == len(hosts) - 1  # every quote once, none twice; "gone" has none
    line = m.grouping_line()
    assert line.startswith(f"{len(hosts)} hosts in {len(PROFILES) + 1} profile classes")
    by_host = {h.name: m.classes[h.class_index] for h in m.hosts}
    assert by_host["ood-1"].profile["tcb_status"] == "OutOfDate" and by_host["fm1-2"].profile["fmspc"] == "30806F000000"
    assert not by_host["rev-1"].attested and "Revoked" in by_host["rev-1"].problem
    assert m.groups() == sorted({h.groups[0] for h in hosts})


def test_classes_change_nothing_against_pairwise_evaluation(v1: Any) -> None:
    """Each host pair evaluated alone (a two-host matrix) gives the class matrix's outcome."""
    m, hosts, spec, anchors = v1
    picked = [h for h in hosts if h.name.endswith("-1") or h.name == "gone"] + \
             [h for h in hosts if h.name in ("base-2", "az-2", "ood-2")]
    for a in picked:
        for b in picked:
            if a is not b:
                alone = build_matrix([a, b], spec, anchors=anchors).pair(a.name, b.name)
                assert alone == m.pair(a.name, b.name), (a.name, b.name)


def test_cells_filter_by_group_verdict_and_rule(v1: Any) -> None:
    m = v1[0]
    cells = list(m.cells(source_group="base", destination_group="ood"))
    assert len(cells) == 1 and cells[0].host_pairs == 4 and cells[0].outcome.verdict is Verdict.REFUSED_BY_SOURCE
    same = list(m.cells(source_group="base", destination_group="base"))
    assert [c.host_pairs for c in same] == [2]
    refused_dst = list(m.cells(verdict=Verdict.REFUSED_BY_DESTINATION))
    assert refused_dst and all(c.outcome.verdict is Verdict.REFUSED_BY_DESTINATION for c in refused_dst)
    qe = list(m.cells(rule="QE.QeIdentity.ISVSVN"))
    assert qe and all("QE.QeIdentity.ISVSVN" in c.outcome.source.failed_rules + c.outcome.destination.failed_rules
                      for c in qe)
    assert sum(c.host_pairs for c in m.cells()) == m.total_pairs
    rules = {(side, rule): n for side, rule, n in m.rule_counts()}
    rule = "QE.QeIdentity.ISVSVN"
    assert rules[("source", rule)] == sum(c.host_pairs for c in m.cells(rule=rule)
                                          if rule in c.outcome.source.failed_rules) > 0


def test_explain_gives_both_rule_tables(v1: Any) -> None:
    m = v1[0]
    e = m.explain("base-1", "qe2-2")
    assert e.outcome == m.pair("base-1", "qe2-2")
    assert e.source_decision is not None and e.destination_decision is not None
    failed = [r for r in e.source_decision.rules if not r.ok]
    assert [r.name for r in failed] == ["QE.QeIdentity.ISVSVN"] and failed[0].local == "0400"
    assert failed[0].actual == "0200"
    assert [r.name for r in e.source_decision.rules if r.ok][:2] == ["Platform.fmspc", "Platform.TcbInfo.pcesvn"]
    none = m.explain("base-1", "rev-1")
    assert none.source_decision is None and none.outcome.verdict is Verdict.NOT_ATTESTED


def test_per_side_policies_give_refused_by_destination(synthetic_fleet: SyntheticFleet) -> None:
    """Only the destination's policy pins XFAM: a source with another XFAM is refused by it alone."""
    fleet = synthetic_fleet
    anchors = Anchors(fleet.pki.root_ca_der, fleet.pki.collateral)
    hosts = _hosts(fleet, {"base": Profile(), "xfam": Profile(xfam=bytes.fromhex("e518060000000000"))})
    # each side measures its own policy, so rules that need equal policies on both sides are dropped
    loose = ("RTMR2", "Digest.MigTdPolicy", "XFAM")
    src = PolicySpec(1, v1_policy(drop=loose), label="src").checked()
    dst = PolicySpec(1, v1_policy(drop=loose, tdinfo={"XFAM": {"operation": "equal",
                                                               "reference": "0318000000000000"}}),
                     label="dst").checked()
    m = build_matrix(hosts, src, dst, anchors=anchors)
    assert m.pair("base-1", "xfam-1").verdict is Verdict.ALLOWED
    o = m.pair("xfam-1", "base-1")
    assert o.verdict is Verdict.REFUSED_BY_DESTINATION and o.source.ok
    assert o.destination.failed_rules == ("MigTD.TDINFO.XFAM",)
    assert any("would present running the evaluated policy" in n for n in o.destination.notes)
    # with one policy for both sides and the default rules, the same hosts refuse each other on XFAM
    same = build_matrix(hosts, PolicySpec(1, v1_policy(), label="one").checked(), anchors=anchors)
    assert same.pair("xfam-1", "base-1").failing_rules() == ("source:MigTD.TDINFO.XFAM",
                                                              "destination:MigTD.TDINFO.XFAM")


def test_projection_judges_the_policy_the_hosts_would_run(synthetic_fleet: SyntheticFleet) -> None:
    """Evidence collected under policy A, evaluated under B: the logs and mock-QE RTMRs follow B."""
    fleet = synthetic_fleet
    anchors = Anchors(fleet.pki.root_ca_der, fleet.pki.collateral)
    hosts = _hosts(fleet, {"base": Profile(), "az": Profile(quote_source="azure-imds")})
    other = json.loads(paths.default_policy().read_text())
    other["id"] = "11111111-2222-3333-4444-555555555555"
    spec = PolicySpec(1, json.dumps(other).encode(), label="other").checked()
    m = build_matrix(hosts, spec, anchors=anchors)
    o = m.pair("base-1", "base-2")
    assert o.verdict is Verdict.ALLOWED
    assert any("would present running the evaluated policy" in n for n in o.source.notes)
    # evaluating v1 against evidence collected for v2 cannot be done honestly: said so, not guessed
    v2fleet = SyntheticFleet(fleet.pki, fleet.policy, 2, issuer_chain=fleet.pki.policy_signer_chain,
                             other_root_ca=fleet.other_root_ca)
    v2hosts = [FleetHost(f"v2-{i}", (), v2fleet.evidence(f"v2-{i}", Profile())) for i in (1, 2)]
    m2 = build_matrix(v2hosts, spec, anchors=anchors)
    o2 = m2.pair("v2-1", "v2-2")
    assert o2.verdict is Verdict.NOT_ATTESTED and o2.source.failed_rules == ("evidence.local",)
    assert "no root CA measurement" in o2.source.reason


@pytest.fixture(scope="module")
def v2(synthetic_fleet: SyntheticFleet) -> Any:
    from migtd.policy.generate_v2 import IssuerCa

    base = synthetic_fleet
    ca = IssuerCa.generate("Fleet v2 test")
    signer = ca.issue()
    fleet = SyntheticFleet(base.pki, b"", 2, other_root_ca=base.other_root_ca)
    p1, chain = fleet.with_v2_policy(policy_svn=1, signer=signer)
    p2, _ = fleet.with_v2_policy(policy_svn=2, signer=signer)
    foreign, foreign_chain = fleet.with_v2_policy(policy_svn=1)  # another CA
    fleet.policy, fleet.issuer_chain = p1, chain
    profiles = {"base": Profile(), "fm1": Profile(fmspc=1), "ood": Profile(tee_tcb_svn=TCB_PLATFORM_OUT_OF_DATE),
                "mrtd": Profile(mrtd=1), "rev": Profile(tee_tcb_svn=TCB_REVOKED)}
    hosts = _hosts(fleet, profiles)
    specs = {name: PolicySpec(2, p, c, name).checked()
             for name, p, c in (("p1", p1, chain), ("p2", p2, chain), ("foreign", foreign, foreign_chain))}
    return hosts, specs


def test_v2_matrix_rules(v2: Any) -> None:
    hosts, specs = v2
    m = build_matrix(hosts, specs["p1"])
    expect = {
        ("base-1", "base-2"): (Verdict.ALLOWED, ()),
        # the platform allow-list names the base platform: only the side judging an fm1 host objects
        ("base-1", "fm1-1"): (Verdict.REFUSED_BY_SOURCE, ("source:global.platform.fmspc",)),
        ("fm1-1", "base-1"): (Verdict.REFUSED_BY_DESTINATION, ("destination:global.platform.fmspc",)),
        ("base-1", "ood-1"): (Verdict.REFUSED_BY_SOURCE, ("source:global.tcb.tcbDate",)),
        ("ood-1", "base-1"): (Verdict.REFUSED_BY_DESTINATION, ("destination:global.tcb.tcbDate",)),
        ("base-1", "mrtd-1"): (Verdict.REFUSED_BY_SOURCE, ("source:servtd.migtdIdentity.isvsvn",)),
        ("base-1", "rev-1"): (Verdict.NOT_ATTESTED, ("source:attestation.peer_quote",
                                                     "destination:attestation.local_quote")),
    }
    for (src, dst), (verdict, rules) in expect.items():
        o = m.pair(src, dst)
        assert (o.verdict, o.failing_rules()) == (verdict, rules), (src, dst, o)
    assert m.pair("base-1", "rev-1").source.kind == "QuoteVerification"
    assert m.pair("base-1", "ood-1").source.kind == "TcbEvaluation"
    assert m.pair("base-1", "mrtd-1").source.kind == "UnqualifiedMigTdInfo"


def test_v2_per_side_policies_svn_and_chains(v2: Any) -> None:
    hosts, specs = v2
    # source runs policySvn 2, destination 1: the destination's SVN is below the source's
    m = build_matrix(hosts, specs["p2"], specs["p1"])
    o = m.pair("base-1", "base-2")
    assert o.verdict is Verdict.REFUSED_BY_SOURCE and o.source.failed_rules == ("policySvn.policySvn",)
    assert o.source.kind == "SvnMismatch" and o.destination.ok
    # the other way round the destination is newer: allowed
    assert build_matrix(hosts, specs["p1"], specs["p2"]).pair("base-1", "base-2").verdict is Verdict.ALLOWED
    # a destination policy signed under another root: both sides refuse the peer's chains
    mf = build_matrix(hosts, specs["p1"], specs["foreign"])
    of = mf.pair("base-1", "base-2")
    assert of.verdict is Verdict.REFUSED_BY_SOURCE
    assert of.source.kind == of.destination.kind == "PeerCertChainValidation"
    assert of.source.failed_rules == ("chains.policy_issuer_chain",)


def test_mixed_policy_versions_are_refused(v1: Any, v2: Any) -> None:
    from migtd.errors import ConfigError

    with pytest.raises(ConfigError, match="same version"):
        build_matrix(v2[0], v2[1]["p1"], v1[2], anchors=v1[3])


def test_worker_processes_give_the_same_matrix(v1: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    """Verification and class pairs spread over spawned workers: identical classes and outcomes."""
    from migtd.fleet import parallel

    m, hosts, spec, anchors = v1
    monkeypatch.setattr(parallel, "MIN_HOSTS", 0)
    monkeypatch.setattr(parallel, "MIN_CLASS_PAIRS", 0)
    monkeypatch.setattr(parallel, "BATCH", 5)
    p = build_matrix(iter(hosts), spec, anchors=anchors, workers=2, total_hosts=len(hosts))
    assert [c.hosts for c in p.classes] == [c.hosts for c in m.classes]
    assert p.hosts == m.hosts and p.verified_quotes == m.verified_quotes
    n = len(m.classes)
    assert all(p.outcome(i, j) == m.outcome(i, j) for i in range(n) for j in range(n))
    assert p.explain("base-1", "qe2-1").outcome == m.pair("base-1", "qe2-1")


def _clear_v2_caches() -> None:
    """Forget every content cache the v2 engine and the fleet keep, so the next judgement starts cold."""
    from migtd.fleet import config_files
    from migtd.policy.v2 import chain, collaterals, flows, verify

    for cached in (verify._verify_signed_policy, chain._validate_peer_chain, flows._check_peer_container,
                   flows._sha384, flows._replayed_log, collaterals._tcb_evaluation_number,
                   config_files._verified_v2):
        cached.cache_clear()
    flows._INFO_MEMO.clear()


def _plain_side(spec: PolicySpec, peer_spec: PolicySpec, me: FleetHost, peer: FleetHost, is_source: bool) -> Any:
    """One side's decision about one host pair, straight from the engine with nothing cached.

    Returns None when a quote does not verify under the side's anchors (the matrix says not_attested).
    """
    from migtd.fleet.profile import LOG_FOLLOWING_SOURCES, attest, project
    from migtd.policy.v2 import authenticate_migration_dest, authenticate_migration_source, verify_own_policy

    _clear_v2_caches()
    local = verify_own_policy(spec.policy, spec.issuer_chain)
    anchors = Anchors(local.collaterals.root_ca_der(), local.collaterals.collateral)
    assert me.evidence is not None and peer.evidence is not None
    mine, theirs = attest(me.evidence.quote, anchors), attest(peer.evidence.quote, anchors)
    if not (mine.ok and theirs.ok):
        return None
    mine_p, theirs_p = project(me.evidence, mine, spec), project(peer.evidence, theirs, peer_spec)
    flow = authenticate_migration_dest if is_source else authenticate_migration_source
    return flow(local, local_report=mine_p.report, peer_report=theirs_p.report, peer_event_log=theirs_p.event_log,
                peer_policy=peer_spec.policy, peer_chain=peer_spec.issuer_chain,
                tolerate_rtmr_mismatch=me.evidence.quote_source not in LOG_FOLLOWING_SOURCES)


@pytest.mark.parametrize("src_name, dst_name", [("p1", "p1"), ("p2", "p1"), ("p1", "foreign")])
def test_v2_matrix_equals_plain_per_pair_evaluation(v2: Any, src_name: str, dst_name: str) -> None:
    """The class matrix (content caches warm, one evaluation per class pair) decides every host pair
    exactly as the engine does when each pair is judged on its own with every cache cleared."""
    hosts, specs = v2
    src, dst = specs[src_name], specs[dst_name]
    m = build_matrix(hosts, src, dst)
    picked = [h for h in hosts if h.evidence is not None and (h.name.endswith("-1") or h.name == "base-2")]
    seen = set()
    for a in picked:
        for b in picked:
            if a is b:
                continue
            s, d = _plain_side(src, dst, a, b, True), _plain_side(dst, src, b, a, False)
            o = m.pair(a.name, b.name)
            if s is None or d is None:
                assert o.verdict is Verdict.NOT_ATTESTED, (a.name, b.name, o)
                continue
            want = Verdict.REFUSED_BY_SOURCE if not s.ok else \
                Verdict.REFUSED_BY_DESTINATION if not d.ok else Verdict.ALLOWED
            assert o.verdict is want, (a.name, b.name, o)
            for side, plain in ((o.source, s), (o.destination, d)):
                assert (side.ok, side.kind, side.result, side.failed_rules) == \
                    (plain.ok, plain.kind, int(plain.result), tuple(plain.failed_rules())), (a.name, b.name)
                assert side.reason == (plain.error.message if plain.error else "")
            ex = m.explain(a.name, b.name)
            for full, plain in ((ex.source_decision, s), (ex.destination_decision, d)):
                assert full is not None
                assert (full.ok, full.rules, full.notes, full.kind) == (plain.ok, plain.rules, plain.notes, plain.kind)
            seen.add(want)
    # the comparison covered refusals as well as allowed pairs
    assert Verdict.REFUSED_BY_SOURCE in seen
    if (src_name, dst_name) == ("p1", "p1"):
        assert {Verdict.ALLOWED, Verdict.REFUSED_BY_DESTINATION} <= seen
