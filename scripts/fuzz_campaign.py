#!/usr/bin/env python3
"""Fuzz campaign over the byte and text parsers of tests/fuzz/targets.py (issue #11).

Targets: CCEL event log, RA-TLS certificate walker, ExchangeInformation, GHCI
request buffers, the policy-v2 pre-session blob, policy v1 documents (parse and
evaluate), signed policy v2 files, the ``policyData`` schema, Azure HCL
reports, IMDS answers. Each target runs in its own process for ``--runs``
inputs (default 100 000). An input may be accepted or refused with the
project's own error types; any other exception escaping is a crash.

Engines:

* ``atheris`` (coverage-guided; ``pip install -e '.[fuzz]'``): libFuzzer
  mutates the seeds of each target, guided by the coverage of the ``migtd``
  package, and stops at the first crash, leaving the input in ``--artifacts``.
  JSON targets also get structure-aware mutations (a node of the document
  replaced by a boundary value, removed or duplicated), so the schema parsers
  are reached and not only the JSON reader.
* ``random`` (no extra dependency): seeded random bytes and mutations of the
  seeds (byte and bit flips, truncations, u32 writes, splices); it records
  every crash and goes on.

``auto`` (the default) picks atheris when it imports. At the end a table of
inputs, seconds and crashes per target is printed (and written as JSON with
``--json``); the exit status is 1 when any target crashed.

    .venv/bin/python scripts/fuzz_campaign.py [--runs N] [--only NAME ...] [--engine auto|atheris|random]
"""

from __future__ import annotations

import argparse
import json
import os
import random
import re
import subprocess
import sys
import tempfile
import time
import traceback
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))


def _have_atheris() -> bool:
    try:
        import atheris  # noqa: F401
    except ImportError:
        return False
    return True


# --------------------------------------------------------------------------- workers (one target, one process)

def work_atheris(name: str, runs: int, seed: int, artifacts: Path) -> None:
    """libFuzzer over one target; coverage from every ``migtd`` module the target imports."""
    import atheris

    with atheris.instrument_imports(include=["migtd"]):
        from tests.fuzz import targets
        seeds = targets.seeds()[name]
        for s in seeds:  # the targets import their parsers lazily: import them inside the hook
            targets.run(name, s)
    corpus = Path(tempfile.mkdtemp(prefix=f"fuzz-{name}-"))
    for i, s in enumerate(seeds):
        (corpus / f"seed{i}").write_bytes(s)
    max_len = max(4096, 2 * max(len(s) for s in seeds))

    def one_input(data: bytes) -> None:
        targets.run(name, data)

    def json_mutator(data: bytes, size: int, mutation_seed: int) -> bytes:
        """Half the time a structural change of the document (a node replaced, removed, duplicated),
        so the schema parsers are reached past the JSON reader; else libFuzzer's byte mutations."""
        rng = random.Random(mutation_seed)
        if rng.random() < 0.5:
            try:
                mutated = targets.mutate_json(data, rng)
            except (ValueError, RecursionError, UnicodeError):  # the mutator's own limits, not a finding
                mutated = None
            if mutated is not None and len(mutated) <= size:
                return mutated
        return atheris.Mutate(data, size)

    extra = {"custom_mutator": json_mutator} if name in targets.JSON_TARGETS else {}
    atheris.Setup([sys.argv[0], f"-runs={runs}", f"-seed={seed}", f"-max_len={max_len}", "-timeout=20",
                   "-rss_limit_mb=3072", f"-artifact_prefix={artifacts}/{name}-", "-print_final_stats=1",
                   str(corpus)], one_input, **extra)
    atheris.Fuzz()


def work_random(name: str, runs: int, seed: int, artifacts: Path) -> None:
    """Seeded random inputs; every crash is recorded (input saved) and the campaign goes on."""
    from tests.fuzz import targets

    rng = random.Random(seed)
    seeds = targets.seeds()[name]
    crashes = 0
    for _ in range(runs):
        mutated = targets.mutate_json(rng.choice(seeds), rng) if name in targets.JSON_TARGETS and \
            rng.random() < 0.5 else None
        if mutated is not None:
            data = mutated
        elif rng.random() < 0.15:
            data = rng.randbytes(rng.choice((rng.randrange(64), rng.randrange(600), rng.randrange(6000))))
        else:
            ops = [(rng.randrange(5), rng.randrange(1 << 20), rng.randrange(1 << 32)) for _ in range(rng.randint(1, 4))]
            data = targets.mutate(rng.choice(seeds), ops, rng.randbytes(rng.randrange(1, 24)))
        try:
            targets.run(name, data)
        except Exception:  # noqa: BLE001 - a finding: record it, keep going
            crashes += 1
            (artifacts / f"{name}-crash-{crashes}").write_bytes(data)
            if crashes <= 3:
                traceback.print_exc()
    print(f"Done {runs} runs; crashes {crashes}", file=sys.stderr)


# --------------------------------------------------------------------------- the campaign

DONE = re.compile(r"Done (\d+) runs in (\d+) second")
COVERAGE = re.compile(r"DONE\s+cov: (\d+) ft: (\d+)")
RANDOM_DONE = re.compile(r"Done (\d+) runs; crashes (\d+)")


def campaign(names: list[str], runs: int, seed: int, engine: str, artifacts: Path) -> list[dict[str, object]]:
    results = []
    for name in names:
        started = time.monotonic()
        proc = subprocess.run([sys.executable, __file__, "--worker", name, "--runs", str(runs), "--seed", str(seed),
                               "--engine", engine, "--artifacts", str(artifacts)],
                              capture_output=True, text=True, cwd=ROOT, check=False)
        seconds = time.monotonic() - started
        log = proc.stderr
        if engine == "atheris":
            m = DONE.search(log)
            inputs = int(m.group(1)) if m else None
            crashes = 0 if proc.returncode == 0 and m else 1
        else:
            m = RANDOM_DONE.search(log)
            inputs = int(m.group(1)) if m else None
            crashes = int(m.group(2)) if m else 1
        cov = COVERAGE.search(log)
        row = {"target": name, "engine": engine, "inputs": inputs, "seconds": round(seconds, 1),
               "crashes": crashes, "status": proc.returncode,
               "coverage_edges": int(cov.group(1)) if cov else None, "features": int(cov.group(2)) if cov else None}
        results.append(row)
        print(f"{name:<22} {engine:<8} inputs {inputs!s:>8}  {seconds:7.1f} s  crashes {crashes}"
              + (f"  cov {cov.group(1)} ft {cov.group(2)}" if cov else ""), flush=True)
        if crashes:
            print("\n".join(log.splitlines()[-40:]), file=sys.stderr)
    return results


def main(argv: list[str] | None = None) -> int:
    # No import of tests.fuzz.targets (hence of migtd) before a worker starts: atheris instruments
    # only the modules imported inside its hook, and a module imported earlier gives no coverage.
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--runs", type=int, default=100_000, help="inputs per target (default 100000)")
    p.add_argument("--seed", type=int, default=1)
    p.add_argument("--only", nargs="*", metavar="TARGET", help="these targets only")
    p.add_argument("--engine", choices=("auto", "atheris", "random"), default="auto")
    p.add_argument("--artifacts", type=Path, default=None, help="where crashing inputs go (default: a temp dir)")
    p.add_argument("--json", type=Path, help="also write the results table here")
    p.add_argument("--worker", help=argparse.SUPPRESS)
    args = p.parse_args(argv)
    engine = args.engine
    if engine == "auto":
        engine = "atheris" if _have_atheris() else "random"
    artifacts = args.artifacts or Path(tempfile.mkdtemp(prefix="fuzz-artifacts-"))
    artifacts.mkdir(parents=True, exist_ok=True)
    if args.worker:
        (work_atheris if engine == "atheris" else work_random)(args.worker, args.runs, args.seed, artifacts)
        return 0
    from tests.fuzz.targets import TARGETS

    unknown = sorted(set(args.only or ()) - set(TARGETS))
    if unknown:
        p.error(f"unknown target(s) {', '.join(unknown)}; known: {', '.join(sorted(TARGETS))}")
    names = args.only or sorted(TARGETS)
    print(f"fuzz campaign: {len(names)} targets x {args.runs} inputs, engine {engine}, seed {args.seed}, "
          f"artifacts in {artifacts}", flush=True)
    results = campaign(names, args.runs, args.seed, engine, artifacts)
    total = sum(int(r["inputs"] or 0) for r in results)
    crashed = sum(int(r["crashes"]) for r in results)
    print(f"total: {total} inputs, {crashed} crashes")
    if args.json:
        args.json.write_text(json.dumps({"engine": engine, "seed": args.seed, "runs": args.runs,
                                         "python": sys.version.split()[0], "load": os.getloadavg(),
                                         "results": results}, indent=2) + "\n")
    return 1 if crashed else 0


if __name__ == "__main__":
    sys.exit(main())
