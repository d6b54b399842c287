"""Wall time of ``./migtdemu.sh --both`` per scenario, as a user runs it.

Each run is a fresh working directory and a free loopback port, timed from
starting the script until it exits (configuration print-out, optional policy
generation, destination in the background, wait for the port, source in the
foreground, reaping). Scenarios: skip-RA migration, mock-report v1, policy v2
generated from the mock report (includes ``migtd-tool policy generate-v2``),
and rebind-prepare in mock-report (also generates its policy). Prints every
run and the median per scenario; exits 1 if any run failed.

    .venv/bin/python benchmarks/scenarios.py [--runs N]
"""

from __future__ import annotations

import argparse
import os
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SCENARIOS = {
    "skip-ra": ["--skip-ra"],
    "mock-report v1": ["--mock-report"],
    "policy v2 (generated)": ["--policy-v2", "--mock-report"],
    "rebind-prepare mock-report": ["--operation", "rebind-prepare", "--mock-report"],
}


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def one_run(args: list[str]) -> float:
    """Seconds for one script run; raises if it fails."""
    with tempfile.TemporaryDirectory() as cwd:
        start = time.perf_counter()
        # Own process group: on a timeout the background destination is killed with the script.
        proc = subprocess.Popen(["bash", str(ROOT / "migtdemu.sh"), *args, "--both", "--dest-port",
                                 str(free_port())], cwd=cwd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                                text=True, start_new_session=True,
                                env={k: v for k, v in os.environ.items() if k != "MIGTD_LOG_FORMAT"})
        try:
            out, _ = proc.communicate(timeout=60)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.communicate()
            raise
        elapsed = time.perf_counter() - start
    if proc.returncode != 0:
        raise RuntimeError(f"{' '.join(args)} exited {proc.returncode}:\n{out[-2000:]}")
    return elapsed


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args()
    failed = False
    for name, flags in SCENARIOS.items():
        times = []
        try:
            one_run(flags)  # warm-up, not counted
            for _ in range(args.runs):
                times.append(one_run(flags))
        except (RuntimeError, subprocess.TimeoutExpired) as exc:
            print(f"{name}: FAILED: {exc}")
            failed = True
            continue
        ms = [t * 1000 for t in times]
        print(f"{name}: runs {len(ms)}, median {statistics.median(ms):.1f} ms, min {min(ms):.1f} ms, "
              f"max {max(ms):.1f} ms  ({', '.join(f'{m:.0f}' for m in ms)})")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
