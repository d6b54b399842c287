"""Fleet compatibility matrix: wall time and peak memory of ``migtd-tool fleet matrix`` on synthetic fleets.

A synthetic fleet (``migtd.fleet.synthetic``: a fresh mock PKI with two
platforms, every host its own mock-QE quote over its own REPORTDATA) is
written to a temporary folder as real evidence files, then the command a user
runs is timed as a child process, from spawn to exit, start-up and file
loading included:

    migtd-tool fleet matrix DIR --policy DIR/policy.json --root-ca ... --collateral ...

Peak memory is the child's maximum resident set size (``wait4``). The
reference, run alternately with it in the same invocation, is the per-host
floor no matrix can avoid: a child that loads every evidence file and
verifies every quote (``--verify-only``), nothing else; the ratio says how
much the class-pair evaluation and the exports add to it.

Cases (budgets from issue #15): 1 000 hosts in 20 profiles (≤ 5 s, ≤ 300 MB),
10 000 hosts in 200 profiles (≤ 60 s; the command draws its progress bar on
a terminal, lines otherwise). ``--policy-version 2`` runs the same with a
signed v2 policy.

Usage: ``.venv/bin/python benchmarks/fleet_matrix.py [--case 1k|10k|both] [--rounds N] [--policy-version 1|2]
[--jobs auto|N]`` (default: 1k with 30 rounds, 10k with 5; ``--jobs`` is passed to ``fleet matrix``, whose
worker processes start from 1 500 hosts / 2 500 class pairs — the 1k case always runs in one process).
"""

from __future__ import annotations

import argparse
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

TOOL = str(Path(sys.executable).parent / "migtd-tool")
CASES = {"1k": (1000, 20, 5.0, 300.0, 30), "10k": (10_000, 200, 60.0, None, 5)}


def run_child(argv: list[str]) -> tuple[float, float, str]:
    """(wall seconds, peak RSS MiB, stderr) of one child process; raises on a non-zero exit."""
    t0 = time.perf_counter()
    proc = subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    _, status, usage = os.wait4(proc.pid, 0)
    wall = time.perf_counter() - t0
    err = proc.stderr.read().decode("utf-8", "replace") if proc.stderr else ""
    proc.returncode = os.waitstatus_to_exitcode(status)
    if proc.returncode != 0:
        raise SystemExit(f"{' '.join(argv[:4])}… exited {proc.returncode}: {err[-400:]}")
    return wall, usage.ru_maxrss / 1024, err


def verify_only(folder: str) -> None:
    """The reference: load every evidence file and verify every quote (what each host costs at least)."""
    from migtd.fleet.config_files import load_collateral_file, read_config, root_ca_der
    from migtd.fleet.hosts import iter_fleet
    from migtd.fleet.profile import Anchors, AttestationCache

    d = Path(folder)
    anchors = Anchors(root_ca_der(read_config(d / "root_ca.der", "root CA", 4096), "root CA"),
                      load_collateral_file(d / "collateral.json"))
    cache = AttestationCache()
    for host in iter_fleet([d / "ev"]):
        assert host.evidence is not None
        cache.get(host.evidence.quote, anchors)


def make_fleet(folder: Path, hosts: int, profiles: int, version: int) -> dict[str, Path]:
    from migtd.fleet.synthetic import SyntheticFleet, standard_profiles, write_fleet

    fleet = SyntheticFleet.create()
    if version == 2:
        fleet.policy, fleet.issuer_chain = fleet.with_v2_policy()
        fleet.policy_version = 2
    files = write_fleet(folder / "ev", fleet, hosts, standard_profiles(profiles))
    for name in ("root_ca", "collateral"):
        files[name].rename(folder / files[name].name)
        files[name] = folder / files[name].name
    return files


def quartiles(values: list[float]) -> tuple[float, float]:
    q = statistics.quantiles(values, n=4)
    return q[0], q[2]


def bench(case: str, rounds: int, version: int, jobs: str) -> None:
    hosts, profiles, budget_s, budget_mb, _ = CASES[case]
    with tempfile.TemporaryDirectory(prefix="fleet-bench-") as tmp:
        folder = Path(tmp)
        t0 = time.perf_counter()
        files = make_fleet(folder, hosts, profiles, version)
        made = time.perf_counter() - t0
        size = sum(p.stat().st_size for p in (folder / "ev").iterdir()) / 2**20
        policy = ["--policy", str(files["policy"])]
        policy += ["--issuer-chain", str(files["issuer_chain"])] if version == 2 else \
            ["--root-ca", str(files["root_ca"]), "--collateral", str(files["collateral"])]
        matrix = [TOOL, "fleet", "matrix", str(folder / "ev"), *policy, "--json", str(folder / "m.json"),
                  "--jobs", jobs]
        reference = [sys.executable, __file__, "--verify-only", str(folder)]
        print(f"{case}: {hosts} hosts, {profiles} profiles, policy v{version}, --jobs {jobs}: evidence written in "
              f"{made:.1f} s "
              f"({size:.0f} MiB); {rounds} rounds, matrix and reference alternating", flush=True)
        walls, rss, refs, ratios = [], [], [], []
        load0 = os.getloadavg()
        for i in range(rounds):
            wall, peak, err = run_child(matrix)
            ref, _, _ = run_child(reference)
            walls.append(wall)
            rss.append(peak)
            refs.append(ref)
            ratios.append(wall / ref)
            print(f"  round {i + 1}: matrix {wall:.2f} s ({peak:.0f} MiB), reference {ref:.2f} s, "
                  f"ratio {wall / ref:.2f}", flush=True)
        load1 = os.getloadavg()
        assert "evaluating class pairs" in err, "no progress output"
    med = statistics.median(walls)
    print(f"\n{case} summary ({time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}, {platform.python_version()}, "
          f"load avg {load0[0]:.1f} → {load1[0]:.1f}):")
    print(f"  matrix wall: median {med:.2f} s, min {min(walls):.2f}, max {max(walls):.2f}"
          f"  (budget ≤ {budget_s:g} s: {'met' if max(walls) <= budget_s else 'NOT met'} by every run)")
    print(f"  peak RSS: median {statistics.median(rss):.0f} MiB, max {max(rss):.0f} MiB"
          + (f"  (budget ≤ {budget_mb:g} MB: {'met' if max(rss) * 1.048576 <= budget_mb else 'NOT met'})"
             if budget_mb else ""))
    print(f"  reference (load + verify every quote): median {statistics.median(refs):.2f} s")
    if len(ratios) >= 4:
        lo, hi = quartiles(ratios)
        print(f"  ratio matrix / reference: median {statistics.median(ratios):.2f}, IQR {lo:.2f}–{hi:.2f}")
    else:
        print(f"  ratio matrix / reference: median {statistics.median(ratios):.2f} "
              f"(min {min(ratios):.2f}, max {max(ratios):.2f})")


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--case", choices=("1k", "10k", "both"), default="both")
    p.add_argument("--rounds", type=int, help="rounds per case (default 30 for 1k, 5 for 10k)")
    p.add_argument("--policy-version", type=int, choices=(1, 2), default=1)
    p.add_argument("--jobs", default="auto", help="passed to fleet matrix (default auto)")
    p.add_argument("--verify-only", metavar="DIR", help=argparse.SUPPRESS)
    args = p.parse_args()
    if args.verify_only:
        verify_only(args.verify_only)
        return
    for case in (("1k", "10k") if args.case == "both" else (args.case,)):
        bench(case, args.rounds or CASES[case][4], args.policy_version, args.jobs)


if __name__ == "__main__":
    main()
