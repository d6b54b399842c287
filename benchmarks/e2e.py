"""End-to-end speed of a migration against the floor of two Python processes, paired in one run.

A round runs two pairs of processes, each timed from the first spawn until
both have exited:

* the **floor**: two Python processes that only ``import OpenSSL.SSL,
  cryptography.x509`` — what any Python MigTD must at least pay;
* a **migration**: a ``migtd`` destination and source spawned back to back
  on a fresh loopback port (the source retries its connect), EnableLogArea →
  GetTDReport → StartMigration, a P-384 key and certificate per side, the TLS
  1.3 handshake, 40-byte ExchangeInformation each way.

The two alternate (their order flips every round) so both see the same
machine load; the figure is the median of the per-round ratios
migration / floor, with its interquartile range. ``--attestation skip-ra``
(default) measures the bare engine; ``mock-report`` adds mock-QE quotes, DCAP
verification of the local and the peer quote against the committed mock PKI,
REPORTDATA binding, event-log replay and the default v1 policy on both sides.

Bytecode is compiled before the warm-up (as ``scripts/setup.sh`` does), so no
round pays for compiling sources. Exits 1 if any migration failed, so a
figure never comes from broken runs.

``--lever NAME`` measures what one start-to-exit lever is worth: every round
then also runs the migration with that lever undone, and the summary gives
the median per-round difference of the two ratios:

* ``os-exit`` — end with the interpreter's normal shutdown instead of ``os._exit``;
* ``gc`` — keep the garbage collector on;
* ``bytecode`` — no ``__pycache__`` for ``migtd`` (sources compiled at every start);
* ``asyncio`` / ``dataclasses`` — the same migration, each process also
  importing ``asyncio`` / defining 18 frozen dataclasses first (what the
  engine did before; the event loop itself is gone, so only its import is
  put back).

``--versus-spdm`` (issue #14) compares the two key exchanges instead: every round
runs the same migration over RA-TLS and over SPDM (``--key-exchange spdm``),
alternating which goes first, and the figure is the median of the per-round
ratios SPDM / RA-TLS with its IQR (target ≤ 1.2 with skip-RA). No floor runs then.

    .venv/bin/python benchmarks/e2e.py [--rounds N] [--attestation skip-ra|mock-report] [--lever NAME]
    .venv/bin/python benchmarks/e2e.py --versus-spdm [--rounds N] [--attestation skip-ra|mock-report]
"""

from __future__ import annotations

import argparse
import compileall
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from migtd import paths

ROOT = Path(__file__).resolve().parent.parent
#: Targets of issue #12: migration / floor.
TARGETS = {"skip-ra": 1.3, "mock-report": 1.5}
#: Target of issue #14: SPDM migration / RA-TLS migration (skip-RA).
SPDM_TARGET = 1.2
FLOOR = [sys.executable, "-c", "import OpenSSL.SSL, cryptography.x509"]


def free_port() -> int:
    """A loopback port free right now (the destination binds it a moment later)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def migtd_command() -> list[str]:
    """The installed ``migtd`` console script beside this interpreter, else ``python -m migtd``."""
    exe = Path(sys.executable).with_name("migtd")
    return [str(exe)] if exe.exists() else [sys.executable, "-m", "migtd"]


def pair(first: list[str], second: list[str], env: dict[str, str]) -> float:
    """Seconds from spawning ``first`` until both exited; RuntimeError if either failed."""
    start = time.perf_counter()
    a = subprocess.Popen(first, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    b = subprocess.Popen(second, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        _, b_err = b.communicate(timeout=60)
        _, a_err = a.communicate(timeout=60)
    finally:
        for p in (a, b):
            if p.poll() is None:
                p.kill()
                p.wait()
    elapsed = time.perf_counter() - start
    if a.returncode or b.returncode:
        raise RuntimeError(f"exit statuses {a.returncode} and {b.returncode}\n"
                           f"{a_err.decode(errors='replace')}{b_err.decode(errors='replace')}")
    return elapsed


def migration(cmd: list[str], env: dict[str, str]) -> float:
    port = str(free_port())
    return pair(cmd + ["-m", "dst", "-t", port], cmd + ["-m", "src", "-t", port], env)


_DATACLASSES = """
import dataclasses
for i in range(18):
    dataclasses.dataclass(frozen=True)(type(f"C{i}", (), {"__annotations__": {"a": int, "b": bytes, "c": int}}))
"""
#: Each lever undone: (python code run before migtd's main, how the process ends, extra environment).
LEVERS = {
    "os-exit": ("import gc; gc.disable()", "normal", {}),
    "gc": ("", "os._exit", {}),
    "bytecode": ("import gc; gc.disable()", "os._exit", {"PYTHONDONTWRITEBYTECODE": "1"}),
    "asyncio": ("import gc; gc.disable(); import asyncio", "os._exit", {}),
    "dataclasses": ("import gc; gc.disable()" + _DATACLASSES, "os._exit", {}),
}


def lever_command(name: str) -> tuple[list[str], dict[str, str]]:
    """A ``migtd`` with lever ``name`` undone, and the environment it needs."""
    before, ending, extra = LEVERS[name]
    end = ("import os; sys.stdout.flush(); sys.stderr.flush(); os._exit(code)" if ending == "os._exit"
           else "sys.exit(code)")
    code = f"{before}\nimport sys\nfrom migtd.cli import main\ncode = main()\n{end}\n"
    return [sys.executable, "-c", code], extra


def drop_bytecode() -> None:
    """Remove ``migtd``'s compiled files (the ``bytecode`` lever: every start compiles the sources)."""
    import shutil

    for cache in (ROOT / "migtd").rglob("__pycache__"):
        shutil.rmtree(cache, ignore_errors=True)


def quartiles(values: list[float]) -> tuple[float, float, float]:
    q1, q2, q3 = statistics.quantiles(values, n=4, method="inclusive")
    return q1, q2, q3


def run_env(attestation: str, tmp: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("MIGTD_", "MOCK_QUOTE", "RUST_LOG"))}
    if attestation == "mock-report":
        env.update(MIGTD_POLICY_FILE=str(paths.default_policy()), MIGTD_ROOT_CA_FILE=str(paths.mock_root_ca()))
    else:
        policy = Path(tmp, "policy.json")
        policy.write_text('{"benchmark": true}')
        root = Path(tmp, "root_ca.der")
        root.write_bytes(b"\x30\x03\x02\x01\x01")
        env.update(MIGTD_POLICY_FILE=str(policy), MIGTD_ROOT_CA_FILE=str(root))
    env.update(MIGTD_ATTESTATION=attestation, RUST_LOG="error")
    return env


def versus_spdm(cmd: list[str], env: dict[str, str], rounds: int, attestation: str, quiet: bool) -> int:
    """RA-TLS and SPDM migrations alternated in each round; the median of SPDM / RA-TLS with its IQR."""
    envs = {"ratls": dict(env, MIGTD_KEY_EXCHANGE="ratls"), "spdm": dict(env, MIGTD_KEY_EXCHANGE="spdm")}
    ratios: list[float] = []
    times: dict[str, list[float]] = {"ratls": [], "spdm": []}
    load_before = os.getloadavg()[0]
    try:
        for _ in range(3):  # warm the page cache and the bytecode; not counted
            for each in envs.values():
                migration(cmd, each)
        for i in range(rounds):
            order = ("ratls", "spdm") if i % 2 == 0 else ("spdm", "ratls")
            this = {name: migration(cmd, envs[name]) for name in order}
            for name, value in this.items():
                times[name].append(value)
            ratios.append(this["spdm"] / this["ratls"])
            if not quiet:
                print(f"round {i + 1:2d}: RA-TLS {this['ratls'] * 1000:6.1f} ms  SPDM {this['spdm'] * 1000:6.1f} ms  "
                      f"ratio {ratios[-1]:5.2f}")
    except (RuntimeError, subprocess.TimeoutExpired) as exc:
        print(f"benchmark aborted: {exc}", file=sys.stderr)
        return 1
    q1, median, q3 = quartiles(ratios)
    load = f"load avg {load_before:.1f}-{os.getloadavg()[0]:.1f}"
    print(f"{attestation}: {rounds} paired rounds, {load}: SPDM / RA-TLS median {median:.2f} (IQR {q1:.2f}-{q3:.2f}); "
          f"RA-TLS median {statistics.median(times['ratls']) * 1000:.1f} ms, SPDM median "
          f"{statistics.median(times['spdm']) * 1000:.1f} ms; target <= {SPDM_TARGET}: "
          f"{'met' if median <= SPDM_TARGET else 'MISSED'}")
    return 0


def main() -> int:
    """Alternate floor and migration pairs; print each round and the median ratio with its IQR."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=30, help="paired rounds (at least 30)")
    parser.add_argument("--attestation", choices=sorted(TARGETS), default="skip-ra")
    parser.add_argument("--lever", choices=sorted(LEVERS), help="also run with this lever undone, paired")
    parser.add_argument("--versus-spdm", action="store_true",
                        help="SPDM against RA-TLS migrations, paired (issue #14), instead of against the floor")
    parser.add_argument("--quiet", action="store_true", help="print only the summary")
    args = parser.parse_args()
    rounds = max(30, args.rounds)
    if args.versus_spdm:
        compileall.compile_dir(str(ROOT / "migtd"), quiet=1)
        with tempfile.TemporaryDirectory() as tmp:
            return versus_spdm(migtd_command(), run_env(args.attestation, tmp), rounds, args.attestation, args.quiet)
    compileall.compile_dir(str(ROOT / "migtd"), quiet=1)
    cmd = migtd_command()
    ratios: list[float] = []
    undone: list[float] = []
    floors: list[float] = []
    runs: list[float] = []
    load_before = os.getloadavg()[0]
    with tempfile.TemporaryDirectory() as tmp:
        env = run_env(args.attestation, tmp)
        if args.lever:
            lever_cmd, extra = lever_command(args.lever)
            lever_env = dict(env, **extra)
        try:
            for _ in range(3):  # warm the page cache and the bytecode; not counted
                pair(FLOOR, FLOOR, env)
                migration(cmd, env)
            for i in range(rounds):
                steps = [("floor", lambda: pair(FLOOR, FLOOR, env)), ("run", lambda: migration(cmd, env))]
                if args.lever:
                    steps.append(("undone", lambda: migration(lever_cmd, lever_env)))
                shift = i % len(steps)  # rotate the order every round
                times: dict[str, float] = {}
                for name, step in steps[shift:] + steps[:shift]:
                    if name == "undone" and args.lever == "bytecode":
                        drop_bytecode()
                    times[name] = step()
                    if name == "undone" and args.lever == "bytecode":
                        compileall.compile_dir(str(ROOT / "migtd"), quiet=1)
                floors.append(times["floor"])
                runs.append(times["run"])
                ratios.append(times["run"] / times["floor"])
                line = (f"round {i + 1:2d}: floor {times['floor'] * 1000:6.1f} ms  migration "
                        f"{times['run'] * 1000:6.1f} ms  ratio {ratios[-1]:5.2f}")
                if args.lever:
                    undone.append(times["undone"] / times["floor"])
                    line += f"  without {args.lever}: {undone[-1]:5.2f}"
                if not args.quiet:
                    print(line)
        except (RuntimeError, subprocess.TimeoutExpired) as exc:
            print(f"benchmark aborted: {exc}", file=sys.stderr)
            return 1
        finally:
            compileall.compile_dir(str(ROOT / "migtd"), quiet=1)
    q1, median, q3 = quartiles(ratios)
    target = TARGETS[args.attestation]
    load = f"load avg {load_before:.1f}-{os.getloadavg()[0]:.1f}"
    print(f"{args.attestation}: {rounds} paired rounds, {load}: migration / floor median {median:.2f} "
          f"(IQR {q1:.2f}-{q3:.2f}); floor median {statistics.median(floors) * 1000:.1f} ms, migration median "
          f"{statistics.median(runs) * 1000:.1f} ms; target <= {target}: {'met' if median <= target else 'MISSED'}")
    if args.lever:
        d1, dm, d3 = quartiles([u - r for u, r in zip(undone, ratios)])
        u1, um, u3 = quartiles(undone)
        print(f"  with {args.lever} undone: median {um:.2f} (IQR {u1:.2f}-{u3:.2f}); the lever saves (median of "
              f"per-round differences) {dm:+.2f} of the floor (IQR {d1:+.2f} to {d3:+.2f})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
