"""The collector against a real sshd on loopback: 50 inventory entries, concurrency 16.

Every host is an ``ssh_config`` Host entry. Most reach the server and run the
real ``migtd-tool evidence collect`` (mock-report); the others are built to
fail one way each — a closed port (unreachable), a key the server refuses
(auth refused), a ``migtd_tool`` that does not exist (tool missing), a policy
path that does not exist on the host (collection failed) — and the error
column must name each correctly. A second run refreshes only what failed; a
host that trickles output is cut at its deadline.
"""

from __future__ import annotations

import json
import os
import stat
import sys
import time
from pathlib import Path
from typing import Any

import pytest

from migtd.errors import ConfigError
from migtd.fleet.collect import CollectOptions, collect_fleet, parse_age
from migtd.fleet.evidence import load_evidence
from migtd.fleet.hosts import load_fleet
from migtd.fleet.inventory import load_inventory
from migtd.fleet.state import STATE_FILE, FleetState
from migtd.tool.main import main

TOOL = str(Path(sys.executable).parent / "migtd-tool")
OK_HOSTS = [f"ok{i:02d}" for i in range(1, 45)]
BAD = {"down1": "unreachable", "down2": "unreachable", "stranger1": "auth_refused", "stranger2": "auth_refused",
       "notool": "tool_missing", "nopolicy": "collection_failed"}


def _fleet_inventory(sshd: Any, tmp_path: Path, closed_port: int) -> Path:
    for name in OK_HOSTS + ["notool", "nopolicy"]:
        sshd.add(name)
    sshd.add("down1", port=closed_port)
    sshd.add("down2", port=closed_port)
    sshd.add("stranger1", key=sshd.stranger_key)
    sshd.add("stranger2", key=sshd.stranger_key)
    lines = ["[east]"] + OK_HOSTS[:22] + ["down1", "stranger1"]
    lines += ["[west]"] + OK_HOSTS[22:] + ["down2", "stranger2"]
    lines += ["[odd]", "notool migtd_tool=/nonexistent/bin/migtd-tool",
              f"nopolicy migtd_policy={tmp_path / 'no-such-policy.json'}"]
    lines += ["[all:vars]", f"migtd_tool={TOOL}", "migtd_attestation=mock-report"]
    inv = tmp_path / "hosts.ini"
    inv.write_text("\n".join(lines) + "\n")
    return inv


def _run(inv: Path, out: Path, sshd: Any, **kw: Any) -> Any:
    options = CollectOptions(out_dir=out, concurrency=16, timeout=kw.pop("timeout", 60.0),
                             ssh_config=str(sshd.ssh_config), inventory_label=str(inv), **kw)
    lines: list[str] = []
    summary = collect_fleet(load_inventory(inv, reader="builtin"), options, report=lambda p: lines.append(p.line()))
    return summary, lines


def test_fifty_hosts_concurrency_16_with_every_failure_kind(sshd_fleet: Any, tmp_path: Path,
                                                            closed_port: int) -> None:
    inv = _fleet_inventory(sshd_fleet, tmp_path, closed_port)
    out = tmp_path / "evidence"
    t0 = time.monotonic()
    summary, lines = _run(inv, out, sshd_fleet)
    elapsed = time.monotonic() - t0
    assert len(summary.outcomes) == 50
    by_name = {o.name: o for o in summary.outcomes}
    assert all(by_name[h].status == "collected" for h in OK_HOSTS), [o for o in summary.failed if o.name in OK_HOSTS]
    assert {o.name: o.kind for o in summary.failed} == BAD
    assert "Connection refused" in by_name["down1"].message
    assert "Permission denied" in by_name["stranger1"].message
    assert "no-such-policy.json does not exist" in by_name["nopolicy"].message
    assert "/nonexistent/bin/migtd-tool not found" in by_name["notool"].message
    assert not summary.complete and len(lines) == 50 and all(line.startswith("[") for line in lines)
    # the error column and the evidence are on disk
    state = FleetState.load(out / STATE_FILE)
    assert {n: h.error_kind for n, h in state.hosts.items() if not h.ok} == BAD
    assert state.hosts["ok01"].groups == ["east"] and state.hosts["notool"].groups == ["odd"]
    evidence = load_evidence(out / "ok07.evidence.json")
    assert evidence.host == "ok07" and evidence.quote_source == "mock-qe" and evidence.policy_version == 1
    # the matrix sees all 50 hosts: 44 with evidence, 6 without (named with their error kind)
    fleet = load_fleet([out])
    assert len(fleet) == 50 and sum(h.evidence is not None for h in fleet) == 44
    assert {h.name: h.problem_kind for h in fleet if h.evidence is None} == BAD
    assert elapsed < 90, elapsed

    # a second run refreshes only the failed hosts (and fails them again, the same way)
    mtimes = {h: (out / f"{h}.evidence.json").stat().st_mtime_ns for h in OK_HOSTS}
    summary2, lines2 = _run(inv, out, sshd_fleet)
    assert len(lines2) == len(BAD)
    assert {o.name for o in summary2.outcomes if o.status == "fresh"} == set(OK_HOSTS)
    assert {o.name: o.kind for o in summary2.failed} == BAD
    assert mtimes == {h: (out / f"{h}.evidence.json").stat().st_mtime_ns for h in OK_HOSTS}


def test_rerun_refreshes_failed_and_stale_hosts_only(sshd_fleet: Any, tmp_path: Path, closed_port: int) -> None:
    for name in ("a1", "a2", "a3"):
        sshd_fleet.add(name)
    sshd_fleet.add("later", port=closed_port)
    inv = tmp_path / "hosts.yml"
    inv.write_text("hosts:\n" + "".join(f"  - {{name: {n}, migtd_tool: {TOOL}, migtd_attestation: mock-report}}\n"
                                        for n in ("a1", "a2", "a3", "later")))
    out = tmp_path / "ev"
    summary, _ = _run(inv, out, sshd_fleet)
    assert [o.status for o in summary.outcomes] == ["collected", "collected", "collected", "failed"]
    # "later" comes up (its Host entry now reaches the server); a2's evidence is made stale
    sshd_fleet.entries = [e for e in sshd_fleet.entries if not e.startswith("Host later")]
    sshd_fleet.add("later")
    state = FleetState.load(out / STATE_FILE)
    state.hosts["a2"].collected_at = "2020-01-01T00:00:00Z"
    (out / STATE_FILE).write_bytes(state.to_json())
    summary, lines = _run(inv, out, sshd_fleet, stale_after=parse_age("1d"))
    assert {o.name: o.status for o in summary.outcomes} == {"a1": "fresh", "a2": "collected", "a3": "fresh",
                                                           "later": "collected"}
    assert summary.complete and len(lines) == 2
    summary, lines = _run(inv, out, sshd_fleet, refresh_all=True)
    assert [o.status for o in summary.outcomes] == ["collected"] * 4 and len(lines) == 4


def test_a_trickling_host_is_cut_at_its_deadline(sshd_fleet: Any, tmp_path: Path) -> None:
    trickle = tmp_path / "trickle-tool"
    trickle.write_text("#!/bin/sh\nwhile :; do printf '{'; sleep 0.2; done\n")
    trickle.chmod(trickle.stat().st_mode | stat.S_IXUSR)
    sshd_fleet.add("slow")
    sshd_fleet.add("fast")
    inv = tmp_path / "hosts.ini"
    inv.write_text(f"slow migtd_tool={trickle}\nfast migtd_tool={TOOL} migtd_attestation=mock-report\n")
    t0 = time.monotonic()
    summary, _ = _run(inv, tmp_path / "out", sshd_fleet, timeout=4.0)
    elapsed = time.monotonic() - t0
    outcomes = {o.name: o for o in summary.outcomes}
    assert outcomes["fast"].status == "collected"
    assert outcomes["slow"].kind == "timeout" and "within 4 s" in outcomes["slow"].message
    assert 3.5 < outcomes["slow"].duration < 10 and elapsed < 15


def test_command_line_collect_and_matrix(sshd_fleet: Any, tmp_path: Path, closed_port: int,
                                         capsys: pytest.CaptureFixture[str]) -> None:
    for name in ("c1", "c2"):
        sshd_fleet.add(name)
    sshd_fleet.add("c3", port=closed_port)
    inv = tmp_path / "hosts"
    inv.write_text("c1\nc2\nc3\n")
    out = tmp_path / "ev"
    argv = ["fleet", "collect", "-i", str(inv), "--out-dir", str(out), "-F", str(sshd_fleet.ssh_config),
            "--remote-tool", TOOL, "--attestation", "mock-report", "--timeout", "30", "--inventory-reader",
            "builtin"]
    assert main(argv) == 3
    captured = capsys.readouterr()
    assert "3 hosts: 2 collected, 0 fresh (kept), 1 failed" in captured.out
    assert "c3" in captured.out and "unreachable" in captured.out
    assert captured.err.count("\n") == 3  # one progress line per host
    assert main(["fleet", "matrix", str(out), "--quiet", "--json", str(tmp_path / "m.json")]) == 0
    doc = json.loads((tmp_path / "m.json").read_text())
    assert doc["counts"]["allowed"] == 2 and doc["counts"]["not_attested"] == 4
    assert {h["name"]: h["problem_kind"] for h in doc["hosts"]} == {"c1": "", "c2": "", "c3": "unreachable"}


def test_collect_refuses_bad_flags_in_one_line(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    inv = tmp_path / "hosts"
    inv.write_text("h1\n")
    base = ["fleet", "collect", "-i", str(inv), "--out-dir", str(tmp_path / "o")]
    for extra, needle in ((["--concurrency", "0"], "--concurrency"), (["--timeout", "nan"], "--timeout"),
                          (["--refresh-stale", "soon"], "--refresh-stale"), (["--ssh", "/no/ssh"], "not found"),
                          (["-F", str(tmp_path)], "ssh config file")):
        assert main(base + extra) == 1
        err = capsys.readouterr().err.strip().splitlines()
        assert len(err) == 1 and needle in err[0], err
    with pytest.raises(ConfigError):
        parse_age("0")
    assert parse_age("90") == 90 and parse_age("15m") == 900 and parse_age("2d") == 172800
    assert not os.path.exists(tmp_path / "o")
