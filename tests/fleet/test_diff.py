"""The "what changes" diff: two policies over the same evidence, differing in one rule.

Removing the TCB-components rule must flip exactly the pairs it refused (a
destination whose TCB is below its source's), name that rule as responsible,
and list it as the one document change; the exports carry the same facts.
"""

from __future__ import annotations

import csv
import json
from pathlib import Path

import pytest

from migtd import paths
from migtd.fleet.config_files import PolicySpec
from migtd.fleet.diff import diff_matrices
from migtd.fleet.export import diff_markdown, diff_to_dict, matrix_text, matrix_to_dict, write_matrix_csv
from migtd.fleet.hosts import FleetHost
from migtd.fleet.matrix import Verdict, build_matrix
from migtd.fleet.profile import Anchors
from migtd.fleet.synthetic import TCB_PLATFORM_OUT_OF_DATE, Profile, SyntheticFleet, write_fleet
from migtd.tool.main import main


def _without_tdx_components() -> bytes:
    doc = json.loads(paths.default_policy().read_text())
    del doc["policy"][0]["Platform"]["TcbInfo"]["tdxtcbcomponents"]
    return json.dumps(doc, indent=4).encode()


@pytest.fixture(scope="module")
def fleet_hosts(synthetic_fleet: SyntheticFleet) -> list[FleetHost]:
    profiles = {"new": Profile(), "old": Profile(tee_tcb_svn=TCB_PLATFORM_OUT_OF_DATE), "qe": Profile(qe_isvsvn=2)}
    return [FleetHost(f"{name}{i}", (name,), synthetic_fleet.evidence(f"{name}{i}", p))
            for name, p in profiles.items() for i in (1, 2, 3)]


def test_one_rule_removed_flips_exactly_its_pairs(synthetic_fleet: SyntheticFleet,
                                                  fleet_hosts: list[FleetHost]) -> None:
    anchors = Anchors(synthetic_fleet.pki.root_ca_der, synthetic_fleet.pki.collateral)
    before = PolicySpec(1, paths.default_policy().read_bytes(), label="policy.json").checked()
    after = PolicySpec(1, _without_tdx_components(), label="relaxed.json").checked()
    d = diff_matrices(build_matrix(fleet_hosts, before, anchors=anchors),
                      build_matrix(fleet_hosts, after, anchors=anchors))
    assert [(c.rule, c.change, c.before, c.after) for c in d.rule_changes] == [
        ("Platform[self].TcbInfo.tdxtcbcomponents", "removed", "array-greater-or-equal self", "")]
    # new -> old and qe -> old were refused (destination TCB components below the source's), now
    # allowed; nothing else flips (old -> qe stays refused, for its QE)
    assert d.flipped_pairs == 18 and len(d.flips) == 2
    assert [(f.source_hosts, f.destination_hosts) for f in d.flips] == [
        (("new1", "new2", "new3"), ("old1", "old2", "old3")), (("qe1", "qe2", "qe3"), ("old1", "old2", "old3"))]
    for flip in d.flips:
        assert (flip.before.verdict, flip.after.verdict) == (Verdict.REFUSED_BY_SOURCE, Verdict.ALLOWED)
        assert flip.rules == ("source:Platform.TcbInfo.tdxtcbcomponents",
                              "destination:Platform.TcbInfo.tdxtcbcomponents")
        assert flip.host_pairs == 9
    assert d.transitions() == [(Verdict.REFUSED_BY_SOURCE, Verdict.ALLOWED, 18)]
    assert d.rule_tally()[0] == ("destination:Platform.TcbInfo.tdxtcbcomponents", 18)
    assert d.after.pair("old1", "qe1").verdict is Verdict.REFUSED_BY_SOURCE
    # unchanged pairs keep their verdicts (qe hosts are refused for their QE, before and after)
    assert d.before.pair("new1", "qe1").verdict is d.after.pair("new1", "qe1").verdict is Verdict.REFUSED_BY_SOURCE
    md = diff_markdown(d)
    assert "**18 of 72 host pairs change verdict**" in md
    assert "| `Platform[self].TcbInfo.tdxtcbcomponents` | removed | array-greater-or-equal self | — |" in md
    assert "| refused_by_source → allowed | 18 |" in md
    assert "`new1`, `new2`, `new3` | `old1`, `old2`, `old3` | 9 |" in md
    doc = diff_to_dict(d)
    assert doc["flipped_pairs"] == 18 and doc["rule_changes"][0]["change"] == "removed"
    json.dumps(doc)
    # the reverse edit flips the same pairs back, blaming the same rule
    back = diff_matrices(d.after, d.before)
    assert back.transitions() == [(Verdict.ALLOWED, Verdict.REFUSED_BY_SOURCE, 18)]
    assert back.rule_changes[0].change == "added"


def test_identical_policies_flip_nothing(synthetic_fleet: SyntheticFleet, fleet_hosts: list[FleetHost]) -> None:
    anchors = Anchors(synthetic_fleet.pki.root_ca_der, synthetic_fleet.pki.collateral)
    spec = PolicySpec(1, paths.default_policy().read_bytes(), label="p").checked()
    d = diff_matrices(build_matrix(fleet_hosts, spec, anchors=anchors), build_matrix(fleet_hosts, spec, anchors=anchors))
    assert d.flips == [] and d.rule_changes == [] and "No host pair changes verdict." in diff_markdown(d)


def test_matrix_exports(synthetic_fleet: SyntheticFleet, fleet_hosts: list[FleetHost]) -> None:
    import io

    anchors = Anchors(synthetic_fleet.pki.root_ca_der, synthetic_fleet.pki.collateral)
    m = build_matrix(fleet_hosts, PolicySpec(1, paths.default_policy().read_bytes(), label="p").checked(),
                     anchors=anchors)
    doc = json.loads(json.dumps(matrix_to_dict(m)))
    assert doc["format"] == "migtd-fleet-matrix" and len(doc["classes"]) == 3 and len(doc["cells"]) == 9
    assert sum(c["host_pairs"] for c in doc["cells"]) == 72 == sum(doc["counts"].values())
    assert doc["grouping"].startswith("9 hosts in 3 profile classes")
    out = io.StringIO()
    assert write_matrix_csv(m, out, "classes") == 9
    rows = list(csv.DictReader(io.StringIO(out.getvalue())))
    assert {r["verdict"] for r in rows} == {"allowed", "refused_by_source"}
    out = io.StringIO()
    assert write_matrix_csv(m, out, "hosts") == 72
    rows = list(csv.DictReader(io.StringIO(out.getvalue())))
    row = next(r for r in rows if (r["source"], r["destination"]) == ("new1", "old2"))
    assert row["verdict"] == "refused_by_source" and row["source_failed_rules"] == "Platform.TcbInfo.tdxtcbcomponents"
    text = matrix_text(m)
    assert "9 hosts in 3 profile classes" in text and "refused_by_source" in text and "C1 " in text


def test_command_line_matrix_and_diff(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    fleet = SyntheticFleet.create()
    files = write_fleet(tmp_path / "ev", fleet, 9,
                        [Profile(), Profile(tee_tcb_svn=TCB_PLATFORM_OUT_OF_DATE), Profile(qe_isvsvn=2)])
    relaxed = tmp_path / "relaxed.json"
    relaxed.write_bytes(_without_tdx_components())
    anchors = ["--root-ca", str(files["root_ca"]), "--collateral", str(files["collateral"])]
    assert main(["fleet", "matrix", str(tmp_path / "ev"), "--policy", str(files["policy"]), *anchors,
                 "--csv", str(tmp_path / "m.csv"), "--json", str(tmp_path / "m.json"), "--rows", "hosts"]) == 0
    captured = capsys.readouterr()
    assert "9 hosts in 3 profile classes" in captured.out and "wrote" in captured.err
    assert "verifying quotes" in captured.err  # progress (not a terminal: a line per tenth)
    assert len((tmp_path / "m.csv").read_text().splitlines()) == 73
    assert main(["fleet", "diff", str(tmp_path / "ev"), "--before", str(files["policy"]), "--after", str(relaxed),
                 *anchors, "--markdown", str(tmp_path / "d.md"), "--json", str(tmp_path / "d.json"),
                 "--quiet"]) == 0
    out = capsys.readouterr().out
    assert "18 of 72 host pairs change verdict" in out and "rule removed: Platform[self].TcbInfo.tdxtcbcomponents" in out
    assert "host pairs change verdict**" in (tmp_path / "d.md").read_text()
    assert json.loads((tmp_path / "d.json").read_text())["flipped_pairs"] == 18
    # an output that is one of the inputs is refused before any work, and the input survives
    victim = tmp_path / "ev" / "host-00001.evidence.json"
    before = victim.read_bytes()
    assert main(["fleet", "matrix", str(tmp_path / "ev"), "--policy", str(files["policy"]), *anchors, "--quiet",
                 "--json", str(victim)]) == 1
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "refusing to overwrite an input" in err[0] and victim.read_bytes() == before
    # v1 and v2 cannot be compared, a broken policy is exit 9
    broken = tmp_path / "broken.json"
    broken.write_text('{"id": "x", "policy": []}')
    assert main(["fleet", "matrix", str(tmp_path / "ev"), "--policy", str(broken), "--quiet"]) == 9
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "broken.json" in err[0]


def test_synth_command_writes_a_fleet_the_matrix_reads(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "syn"
    assert main(["fleet", "synth", "--out-dir", str(out), "--hosts", "12", "--profiles", "4"]) == 0
    hint = capsys.readouterr().out.splitlines()[-1]
    args = hint.split("migtd-tool ", 1)[1].split()
    assert main([*args, "--quiet"]) == 0
    assert "12 hosts in 4 profile classes" in capsys.readouterr().out
    assert main(["fleet", "synth", "--out-dir", str(out), "--hosts", "3"]) == 1
    assert "already holds evidence" in capsys.readouterr().err
    assert main(["fleet", "synth", "--out-dir", str(tmp_path / "v2"), "--hosts", "4", "--profiles", "2",
                 "--policy-version", "2"]) == 0
    hint = capsys.readouterr().out.splitlines()[-1]
    assert main([*hint.split("migtd-tool ", 1)[1].split(), "--quiet"]) == 0
    assert "4 hosts in 2 profile classes" in capsys.readouterr().out


