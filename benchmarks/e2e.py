"""End-to-end speed of a migration: both ``migtd`` processes, spawn to exit.

Each run starts a destination and a source on a fresh loopback port (the
source retries its connect, so both are spawned back to back) and measures
from the first spawn until both have exited. Prints every run and the
median; exits 1 if any run failed, so the figure is never from broken runs.

``--attestation skip-ra`` (default) measures the bare engine;
``--attestation mock-report`` the full attestation path: mock-QE quotes,
DCAP verification of the local and the peer quote against the committed mock
PKI, REPORTDATA binding, event-log replay and the default v1 policy
(``config/policy.json``), on both sides.

    .venv/bin/python benchmarks/e2e.py [--runs N] [--attestation skip-ra|mock-report]
"""

from __future__ import annotations

import argparse
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from migtd import paths

TARGETS_S = {"skip-ra": 0.5, "mock-report": 0.8}
ROOT = Path(__file__).resolve().parent.parent


def free_port() -> int:
    """A loopback port free right now (the destination binds it a moment later)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def migtd_command() -> list[str]:
    """The installed ``migtd`` beside this interpreter, else ``python -m migtd``."""
    exe = Path(sys.executable).with_name("migtd")
    return [str(exe)] if exe.exists() else [sys.executable, "-m", "migtd"]


def one_run(cmd: list[str], env: dict[str, str]) -> float:
    """Seconds from spawning the destination until both sides exited; RuntimeError if either failed."""
    port = str(free_port())
    start = time.perf_counter()
    dst = subprocess.Popen(cmd + ["-m", "dst", "-t", port], env=env,
                           stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    src = subprocess.Popen(cmd + ["-m", "src", "-t", port], env=env,
                           stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        _, src_err = src.communicate(timeout=30)
        _, dst_err = dst.communicate(timeout=30)
    finally:
        for p in (src, dst):
            if p.poll() is None:
                p.kill()
                p.wait()
    elapsed = time.perf_counter() - start
    if src.returncode or dst.returncode:
        raise RuntimeError(f"migration failed: source {src.returncode}, destination {dst.returncode}\n"
                           f"{src_err.decode(errors='replace')}{dst_err.decode(errors='replace')}")
    return elapsed


def main() -> int:
    """Run the migrations and print the median against the target; 1 when a run failed."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=15, help="number of migrations (>= 10)")
    parser.add_argument("--attestation", choices=sorted(TARGETS_S), default="skip-ra",
                        help="attestation mode of both sides (default skip-ra)")
    args = parser.parse_args()
    runs = max(10, args.runs)
    target = TARGETS_S[args.attestation]
    with tempfile.TemporaryDirectory() as tmp:
        env = {k: v for k, v in os.environ.items() if not k.startswith(("MIGTD_", "MOCK_QUOTE"))}
        if args.attestation == "mock-report":
            env.update(MIGTD_POLICY_FILE=str(paths.default_policy()), MIGTD_ROOT_CA_FILE=str(paths.mock_root_ca()))
        else:
            policy = Path(tmp, "policy.json")
            policy.write_text('{"benchmark": true}')
            root = Path(tmp, "root_ca.der")
            root.write_bytes(b"\x30\x03\x02\x01\x01")
            env.update(MIGTD_POLICY_FILE=str(policy), MIGTD_ROOT_CA_FILE=str(root))
        env.update(MIGTD_ATTESTATION=args.attestation, RUST_LOG="error")
        cmd = migtd_command()
        times = []
        try:
            one_run(cmd, env)  # warm the page cache; not counted
            for i in range(runs):
                t = one_run(cmd, env)
                times.append(t)
                print(f"run {i + 1:2d}: {t * 1000:7.1f} ms")
        except (RuntimeError, subprocess.TimeoutExpired) as exc:
            print(f"benchmark aborted: {exc}", file=sys.stderr)
            return 1
    median = statistics.median(times)
    print(f"{args.attestation} migration, spawn to exit of both processes, {runs} runs: "
          f"median {median * 1000:.1f} ms (min {min(times) * 1000:.1f}, max {max(times) * 1000:.1f}); "
          f"target <= {target * 1000:.0f} ms: {'met' if median <= target else 'MISSED'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
