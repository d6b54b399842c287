#!/usr/bin/env python3
"""Fuzz campaign over every decoder of migtd.spdm (the long run behind tests/spdm/test_fuzz.py).

For each target of ``tests/spdm/fuzz_targets.py`` it feeds N inputs (default
100 000): random bytes, and mutations of valid seeds (byte flips, bit flips,
truncations, extensions, splices, "interesting" u16/u32 values written over
length fields). An input may be accepted or rejected with the package's own
error types; anything else escaping is a finding: the script prints the
input (hex) and the traceback, and exits 1.

    .venv/bin/python scripts/spdm_fuzz_campaign.py [--count N] [--seed S] [--only NAME ...]
"""

from __future__ import annotations

import argparse
import random
import struct
import sys
import time
import traceback
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from tests.spdm.fuzz_targets import SEEDS, TARGETS, run

INTERESTING_16 = (0, 1, 2, 0x7F, 0x80, 0xFF, 0x100, 0xFFF, 0x1000, 0x7FFF, 0x8000, 0xFFFE, 0xFFFF)
INTERESTING_32 = (0, 1, 0xFC0, 0xFC4, 0x1000, 0x10000, 0x10001, 0x7FFFFFFF, 0x80000000, 0xFFFFFFFF)


def mutate(rng: random.Random, seeds: list[bytes]) -> bytes:
    """One input: random bytes (1 in 8) or a stack of 1–4 mutations of a seed."""
    if not seeds or rng.random() < 0.125:
        return rng.randbytes(rng.choice((rng.randrange(0, 64), rng.randrange(0, 512), rng.randrange(0, 5000))))
    data = bytearray(rng.choice(seeds))
    for _ in range(rng.randint(1, 4)):
        op = rng.randrange(8)
        if op == 0 and data:                                  # random byte
            data[rng.randrange(len(data))] = rng.randrange(256)
        elif op == 1 and data:                                # bit flip
            i = rng.randrange(len(data))
            data[i] ^= 1 << rng.randrange(8)
        elif op == 2 and data:                                # truncate
            del data[rng.randrange(len(data) + 1):]
        elif op == 3:                                         # extend
            data += rng.randbytes(rng.randrange(1, 64))
        elif op == 4 and len(data) >= 2:                      # interesting u16
            i = rng.randrange(len(data) - 1)
            struct.pack_into("<H", data, i, rng.choice(INTERESTING_16))
        elif op == 5 and len(data) >= 4:                      # interesting u32
            i = rng.randrange(len(data) - 3)
            struct.pack_into("<I", data, i, rng.choice(INTERESTING_32))
        elif op == 6 and data:                                # delete or duplicate a slice
            i = rng.randrange(len(data))
            j = min(len(data), i + rng.randrange(1, 32))
            data[i:j] = data[i:j] * rng.randrange(0, 3)
        elif op == 7:                                         # splice with another seed
            other = rng.choice(seeds)
            cut = rng.randrange(len(data) + 1)
            data = data[:cut] + other[rng.randrange(len(other) + 1):]
    return bytes(data)


def campaign(name: str, count: int, seed: int) -> tuple[int, int, float]:
    rng = random.Random(f"{seed}:{name}")
    seeds = SEEDS.get(name, [])
    accepted = 0
    start = time.process_time()
    for i in range(count):
        data = mutate(rng, seeds)
        try:
            accepted += run(name, data)
        except Exception:  # noqa: BLE001 - any exception escaping a decoder is a finding
            print(f"FINDING in {name} at input {i}: {data.hex()}", file=sys.stderr)
            traceback.print_exc()
            raise SystemExit(1) from None
    return accepted, count - accepted, time.process_time() - start


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--count", type=int, default=100_000, help="inputs per target (default 100000)")
    ap.add_argument("--seed", type=int, default=1, help="campaign seed (default 1)")
    ap.add_argument("--only", nargs="*", choices=sorted(TARGETS), help="run only these targets")
    args = ap.parse_args()
    total = 0
    print(f"{'target':34} {'inputs':>8} {'accepted':>9} {'rejected':>9} {'cpu s':>7}")
    for name in args.only or sorted(TARGETS):
        acc, rej, cpu = campaign(name, args.count, args.seed)
        total += acc + rej
        print(f"{name:34} {acc + rej:8d} {acc:9d} {rej:9d} {cpu:7.2f}", flush=True)
    print(f"{len(args.only or TARGETS)} targets, {total} inputs, no exception other than the package's own errors")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
