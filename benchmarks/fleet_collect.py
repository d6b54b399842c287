"""Fleet collection over SSH: 50 inventory entries against a real local sshd, concurrency 16.

One OpenSSH server on a free loopback port (``start_sshd`` of tests/sshd.py),
an ``ssh_config`` with 50 ``Host`` entries: 46 reach it and run the real
``migtd-tool evidence collect --attestation mock-report`` remotely; 2 point at
a closed port (unreachable), 1 offers a key the server refuses (auth refused),
1 names a ``migtd_tool`` that does not exist (tool missing). Each round is a
full ``migtd-tool fleet collect --all`` (child process, spawn to exit) into a
fresh folder, and must end with the 46 collected and each failure reported
with its kind; the wall time is recorded.

The reference, alternated with it, is the same collection at concurrency 1:
the ratio is what parallel collection buys on this machine.

Usage: ``.venv/bin/python benchmarks/fleet_collect.py [--rounds 5] [--reference-rounds 3]``
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
TOOL = str(Path(sys.executable).parent / "migtd-tool")
OK = [f"node{i:02d}" for i in range(1, 47)]
FAILING = {"down1": "unreachable", "down2": "unreachable", "stranger": "auth_refused", "notool": "tool_missing"}


def _fixtures():  # type: ignore[no-untyped-def]
    """The tests' sshd helpers (tests/sshd.py), importable once the project root is on the path."""
    if str(ROOT) not in sys.path:
        sys.path.insert(0, str(ROOT))
    import tests.sshd

    return tests.sshd


def collect_once(sshd, inventory: Path, out: Path, concurrency: int) -> float:  # type: ignore[no-untyped-def]
    argv = [TOOL, "fleet", "collect", "-i", str(inventory), "--inventory-reader", "builtin", "--out-dir", str(out),
            "-F", str(sshd.ssh_config), "--concurrency", str(concurrency), "--timeout", "60", "--all", "--quiet"]
    t0 = time.perf_counter()
    proc = subprocess.run(argv, check=False, capture_output=True, text=True, timeout=600)
    wall = time.perf_counter() - t0
    state = json.loads((out / "fleet-state.json").read_text())["hosts"]
    collected = sorted(n for n, h in state.items() if h["status"] == "ok")
    failed = {n: h["error_kind"] for n, h in state.items() if h["status"] != "ok"}
    if proc.returncode != 3 or collected != OK or failed != FAILING:
        raise SystemExit(f"unexpected outcome (exit {proc.returncode}): failed {failed}\n{proc.stdout[-800:]}")
    return wall


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--rounds", type=int, default=5)
    p.add_argument("--reference-rounds", type=int, default=3)
    args = p.parse_args()
    fx = _fixtures()
    with tempfile.TemporaryDirectory(prefix="fleet-collect-bench-") as tmp:
        root = Path(tmp)
        sshd, proc = fx.start_sshd(root / "sshd")
        try:
            for name in OK + ["notool"]:
                sshd.add(name)
            closed = fx.free_port()
            sshd.add("down1", port=closed)
            sshd.add("down2", port=closed)
            sshd.add("stranger", key=sshd.stranger_key)
            inventory = root / "hosts.ini"
            inventory.write_text("\n".join(["[nodes]", *OK, "[odd]", "down1", "down2", "stranger",
                                            "notool migtd_tool=/nonexistent/migtd-tool", "[all:vars]",
                                            f"migtd_tool={TOOL}", "migtd_attestation=mock-report", ""]))
            load0 = os.getloadavg()
            walls, refs = [], []
            for i in range(max(args.rounds, args.reference_rounds)):
                if i < args.rounds:
                    walls.append(collect_once(sshd, inventory, root / f"c16-{i}", 16))
                    print(f"  round {i + 1}: concurrency 16: {walls[-1]:.2f} s", flush=True)
                if i < args.reference_rounds:
                    refs.append(collect_once(sshd, inventory, root / f"c1-{i}", 1))
                    print(f"  round {i + 1}: concurrency 1 (reference): {refs[-1]:.2f} s", flush=True)
            load1 = os.getloadavg()
        finally:
            fx.stop_sshd(proc)
    print(f"\nsummary ({time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}, {platform.python_version()}, "
          f"load avg {load0[0]:.1f} → {load1[0]:.1f}): every round: 46/46 collected, "
          f"failures per host {FAILING}")
    print(f"  concurrency 16: median {statistics.median(walls):.2f} s (min {min(walls):.2f}, max {max(walls):.2f}) "
          f"over {len(walls)} rounds")
    if refs:
        print(f"  concurrency 1:  median {statistics.median(refs):.2f} s over {len(refs)} rounds; "
              f"speed-up {statistics.median(refs) / statistics.median(walls):.1f}x")


if __name__ == "__main__":
    main()
