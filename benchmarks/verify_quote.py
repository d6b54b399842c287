"""Our DCAP verifier against dcap-qvl, like for like, alternated in one process.

    .venv/bin/pip install -e '.[bench]'        # dcap-qvl 0.7.0
    .venv/bin/python benchmarks/verify_quote.py [--rounds 40] [--batch 20] [--vectors DIR] [--json]

Input: the real Azure quote ``tests/vectors/attestation/az_migtd_quote.blob``
with ``collateral_production_fmspc.json`` and the shipped Intel root CA
(``migtd.paths.intel_root_ca``), judged at
2025-11-20T00:00:00Z — an instant at which every item of that collateral is
valid, so both verifiers do every step.

Rows, each timed per round as one batch of ``--batch`` calls; the rows run in
turn within a round, and the order is reversed every other round so no row
always follows another:

* ``dcap-qvl``: ``dcap_qvl.verify(quote, collateral, now)``. It does every
  signature, revocation and TCB step on this quote and then rejects it for
  SEPT_VE_DISABLE (a TD-attribute rule MigTD does not have, attestation.md
  §9): the script checks that this is its verdict and times the call up to
  it. Its ``QuoteCollateralV3`` is built once, outside the timing, as our
  ``Collateral`` object is.
* ``cold``: ``verify_quote(quote, collateral, root, at=now, cache=None)`` —
  nothing cached: trust anchor, both CRLs and their signatures, the signing
  chains, TCB info and QE identity (signatures and parsing), PCK chain, SGX
  extension, QE report, quote signature, TCB matching, the 822-byte report.
  This is the like-for-like row, and the headline. Nothing survives a call:
  no module of ``migtd.attest`` keeps parsed certificates, CRLs or keys at
  process level, and ``cache=None`` makes a new :class:`VerifiedCollateral`
  every time (its first, optimistic pass runs the nine ECDSA checks together
  at the end; see ``migtd.attest.verify._verify_fresh``).
* ``warm``: the same call with a :class:`CollateralCache` that has seen this
  collateral and this platform's PCK chain: per quote it parses the quote,
  checks the QE report signature, the QE report data, the QE identity, the
  quote signature, the module identity and TCB levels, and writes the report.
  dcap-qvl has no such cache, so this row is the cached case, not a like-for-like one.

Reported: for each of cold and warm, the median over rounds of the per-round
ratio to dcap-qvl (wall-clock time), with its interquartile range, and each
row's median time per call. The same ratios of this thread's CPU time are
printed beside them: on a shared machine another process's load stretches the
wall time of the Python rows more than that of the Rust one, and the CPU-time
ratio shows how much of a wall-clock ratio is that.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import sys
import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "scripts"))

from dcapqvl_ref import DCAP_QVL_VERSION, dcap_collateral, dcap_verdict, intel_root_ca

NOW = datetime(2025, 11, 20, tzinfo=UTC)
FMSPC = "90C06F000000"


def quartiles(values: list[float]) -> tuple[float, float, float]:
    """(first quartile, median, third quartile)."""
    q1, med, q3 = statistics.quantiles(values, n=4, method="inclusive")
    return q1, med, q3


def _machine() -> str:
    cpu = ""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return f"{os.cpu_count()} CPUs ({cpu or platform.machine()}), Python {platform.python_version()}"


def _uint(text: str) -> int:
    """A count from the command line, read by the project's one integer parser."""
    from migtd.inputs import parse_uint

    value = parse_uint(text, 32)
    if value is None:
        raise argparse.ArgumentTypeError(f"{text!r} is not an unsigned integer")
    return value


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--rounds", type=_uint, default=40, help="rounds (each row once per round; at least 30)")
    ap.add_argument("--batch", type=_uint, default=20, help="calls per row per round")
    ap.add_argument("--vectors", type=Path, default=ROOT / "tests" / "vectors")
    ap.add_argument("--json", action="store_true", help="print the result as JSON")
    args = ap.parse_args(argv)
    if args.rounds < 30 or args.batch < 1:
        ap.error("--rounds must be at least 30 and --batch at least 1")
    try:
        import dcap_qvl
    except ImportError:
        print("dcap-qvl is not installed: .venv/bin/pip install -e '.[bench]'", file=sys.stderr)
        return 1
    from migtd.attest.collateral import Collateral
    from migtd.attest.collateral_cache import CollateralCache
    from migtd.attest.verify import verify_quote
    from migtd.errors import MigtdError
    from migtd.inputs import read_input

    a = args.vectors / "attestation"
    try:
        quote = read_input(a / "az_migtd_quote.blob", "quote")
        collateral = Collateral.from_json(read_input(a / "collateral_production_fmspc.json", "collateral file"))
        root = intel_root_ca()
    except MigtdError as exc:
        print(f"vectors: {exc.message} (--vectors names the folder holding attestation/)", file=sys.stderr)
        return 1
    now_secs = int(NOW.timestamp())

    ours = verify_quote(quote, collateral, root, at=NOW, cache=None)
    assert ours.tcb_status == "UpToDate", ours.tcb_status
    dcap_coll = dcap_collateral(collateral, bytes.fromhex(FMSPC))
    verdict = dcap_verdict(dcap_qvl, quote, dcap_coll, root, now_secs)
    if verdict.kind != "td_attributes":
        print(f"dcap-qvl stopped before its last step ({verdict.detail!r}); timings would not be comparable",
              file=sys.stderr)
        return 1

    def dcap() -> None:
        try:
            dcap_qvl.verify(quote, dcap_coll, now_secs)
        except ValueError:
            pass

    def cold() -> None:
        verify_quote(quote, collateral, root, at=NOW, cache=None)

    cache = CollateralCache()

    def warm() -> None:
        verify_quote(quote, collateral, root, at=NOW, cache=cache)

    rows: dict[str, Callable[[], None]] = {"dcap-qvl": dcap, "cold": cold, "warm": warm}
    for fn in rows.values():       # warm-up (fills `cache`)
        for _ in range(max(args.batch, 10)):
            fn()
    load_before = os.getloadavg()
    per_call: dict[str, list[float]] = {name: [] for name in rows}
    cpu: dict[str, list[float]] = {name: [] for name in rows}
    order = list(rows)
    for r in range(args.rounds):
        for name in (order if r % 2 == 0 else order[::-1]):
            fn = rows[name]
            t0, c0 = time.perf_counter(), time.thread_time()
            for _ in range(args.batch):
                fn()
            per_call[name].append((time.perf_counter() - t0) / args.batch)
            cpu[name].append((time.thread_time() - c0) / args.batch)
    load_after = os.getloadavg()

    ratios = {name: [x / d for x, d in zip(per_call[name], per_call["dcap-qvl"])] for name in ("cold", "warm")}
    cpu_ratios = {name: [x / d for x, d in zip(cpu[name], cpu["dcap-qvl"])] for name in ("cold", "warm")}
    report: dict[str, Any] = {
        "date_utc": datetime.now(UTC).strftime("%Y-%m-%d %H:%M"),
        "machine": _machine(),
        "load_avg_1min": [round(load_before[0], 2), round(load_after[0], 2)],
        "dcap_qvl_version": DCAP_QVL_VERSION,
        "dcap_qvl_verdict": verdict.detail,
        "our_status": ours.tcb_status,
        "rounds": args.rounds, "batch": args.batch,
        "median_ms_per_call": {n: round(statistics.median(v) * 1000, 3) for n, v in per_call.items()},
        "median_cpu_ms_per_call": {n: round(statistics.median(v) * 1000, 3) for n, v in cpu.items()},
        "ratio": {}, "cpu_ratio": {},
    }
    for key, source in (("ratio", ratios), ("cpu_ratio", cpu_ratios)):
        for name, values in source.items():
            q1, med, q3 = quartiles(values)
            report[key][name] = {"median": round(med, 3), "q1": round(q1, 3), "q3": round(q3, 3),
                                 "iqr": round(q3 - q1, 3)}
    if args.json:
        print(json.dumps(report, indent=2))
        return 0
    print(f"{report['date_utc']} UTC, {report['machine']}, load avg {load_before[0]:.2f} -> {load_after[0]:.2f}")
    print(f"az_migtd_quote.blob + collateral_production_fmspc.json at {NOW:%Y-%m-%dT%H:%M:%SZ}; "
          f"{args.rounds} rounds x {args.batch} calls per row, rows alternated")
    print(f"dcap-qvl {DCAP_QVL_VERSION} verdict: {verdict.detail!r} (its last step); ours: {ours.tcb_status}")
    for name, ms in report["median_ms_per_call"].items():
        print(f"  {name:9s} {ms:8.3f} ms per call (median over rounds)")
    for name, target in (("cold", 1.7), ("warm", 0.6)):
        r, c = report["ratio"][name], report["cpu_ratio"][name]
        met = "met" if r["median"] <= target else "NOT met"
        print(f"{name} / dcap-qvl: median {r['median']:.3f}, IQR {r['q1']:.3f}-{r['q3']:.3f} "
              f"(target <= {target}: {met}); CPU time of this thread: {c['median']:.3f} "
              f"({c['q1']:.3f}-{c['q3']:.3f})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
