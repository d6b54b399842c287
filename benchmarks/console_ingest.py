"""Console speed: lines/s the Run screen ingests and renders, and time to first paint.

Run: ``.venv/bin/python benchmarks/console_ingest.py [--lines N] [--rounds K]``.

Ingest: both sides each stream N JSON-lines events through the real line pump
(an in-memory stream in place of the process pipe, with a pipe's back-pressure:
the writer waits until the reader took data, so only console work is timed)
into a headless Run screen; a run ends when both sides' results are in
and the screen has drawn the model's final version. Lines/s per side is N over
that time (the two sides stream at once).

Each round also times a **pure-Python reference** on the same bytes: split
into lines, ``json.loads`` each, keep them in a ring buffer of the pane's
capacity, both sides one after the other; its lines/s per side is N over that
time. It is the least any Python reader of these lines does, so it shows how
fast the machine was while the console was measured. The two alternate
(reference first in even rounds, console first in odd ones) and each round's
ratio console/reference is taken in that round. Reported: the medians of the
console rate, the reference rate and the per-round ratios, each with its
interquartile range, plus how the ring buffer and process memory stayed.

First paint: wall time from constructing the app to Textual's ``Ready`` event
(first frame displayed) in a headless run, plus the time to import ``tui.app``
in a fresh interpreter (what a user waits for before that).
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
import tracemalloc
from collections import deque
from pathlib import Path

from tui.app import ConsoleApp
from tui.history import HistoryStore
from tui.launchers.base import CHUNK, Launcher, LinesSink, pump
from tui.model import LOG_CAPACITY
from tui.params import RunParams
from tui.widgets.logview import LogView


def make_stream(role: str, n: int) -> bytes:
    """N realistic records: mostly debug logs, a few structured events, an exit."""
    t0 = 1764130000.0
    lines = []
    if role == "destination":
        lines.append({"event": "listening", "msg": "listening", "ip": "127.0.0.1", "port": 8001})
    for i in range(n - len(lines) - 1):
        if i % 100 == 0:
            lines.append({"event": "request", "msg": "Processing StartMigration request",
                          "kind": "StartMigration", "id": f"{i:016X}"})
        else:
            lines.append({"event": "log", "level": "debug",
                          "msg": f"vmcall_raw: transferred {i * 7 % 4096} bytes over the emulated channel (seq {i})"})
    lines.append({"event": "exit", "msg": "done", "code": 0, "result": "Success", "reason": ""})
    out = []
    for i, rec in enumerate(lines):
        full = {"ts": t0 + i * 1e-5, "level": rec.pop("level", "info"), "role": role,
                "request_id": 1, **rec}
        out.append(json.dumps(full, separators=(",", ":")))
    return ("\n".join(out) + "\n").encode()


class PipeReader(asyncio.StreamReader):
    """A stream that tells its writer when the reader took data (a pipe's back-pressure, without
    the writer spinning in the console's own event loop)."""

    def __init__(self) -> None:
        super().__init__(limit=2 * CHUNK)
        self.drained = asyncio.Event()

    async def read(self, n: int = -1) -> bytes:
        data = await super().read(n)
        self.drained.set()
        return data

    @property
    def buffered(self) -> int:
        return len(self._buffer)


class MemoryLauncher(Launcher):
    """Feeds a prepared byte stream through the real :func:`pump`."""

    def __init__(self, role: str, data: bytes) -> None:
        super().__init__(role, ["memory"], where="memory")
        self.data = data
        self._task: asyncio.Task[None] | None = None
        self._writer: asyncio.Task[None] | None = None  # held: the loop keeps only weak refs

    async def start(self, sink: LinesSink) -> None:
        reader = PipeReader()

        async def writer() -> None:
            for i in range(0, len(self.data), CHUNK):
                # like a pipe: the writer waits while the reader is behind
                while reader.buffered > 2 * CHUNK:
                    reader.drained.clear()
                    await reader.drained.wait()
                reader.feed_data(self.data[i:i + CHUNK])
                await asyncio.sleep(0)
            reader.feed_eof()

        self._writer = asyncio.create_task(writer())
        self._task = asyncio.create_task(pump(reader, sink))

    @property
    def running(self) -> bool:
        return self._task is not None and not self._task.done()

    async def wait(self) -> int:
        assert self._task is not None
        await self._task
        return 0

    async def stop(self) -> None:
        for task in (self._writer, self._task):
            if task is not None:
                task.cancel()


def rss_mib() -> float:
    with open("/proc/self/statm", encoding="ascii") as fh:
        return int(fh.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 2**20


async def one_ingest(n: int, store: HistoryStore,
                     streams: dict[str, bytes] | None = None) -> tuple[float, int]:
    if streams is None:
        streams = {role: make_stream(role, n) for role in ("source", "destination")}
    params = RunParams(roles=["destination", "source"], attestation="skip-ra")
    app = ConsoleApp(params, history=store, autostart=False,
                     factory=lambda role, _p: MemoryLauncher(role, streams[role]))
    async with app.run_test(size=(160, 48)) as pilot:
        await pilot.pause(0.1)
        t0 = time.perf_counter()
        app.action_rerun()
        while True:
            await asyncio.sleep(0.001)
            model = app.model
            if (model.finished and not app.running and app.run_screen.drawn == model.version
                    and not any(log.pending for log in app.run_screen.query(LogView))):
                break
        elapsed = time.perf_counter() - t0
        kept = max(len(side.logs) for side in app.model.sides.values())
    return n / elapsed, kept


def reference(streams: dict[str, bytes], n: int) -> float:
    """Lines/s per side of the pure-Python reference reader (see the module docstring)."""
    t0 = time.perf_counter()
    for data in streams.values():
        ring: deque[object] = deque(maxlen=LOG_CAPACITY)
        for line in data.decode("utf-8").split("\n"):
            if line:
                ring.append(json.loads(line))
    return n / (time.perf_counter() - t0)


def spread(values: list[float]) -> tuple[float, float, float]:
    """Median and interquartile range (q1, q3)."""
    q1, median, q3 = statistics.quantiles(values, n=4, method="inclusive")
    return median, q1, q3


async def first_paint(store: HistoryStore) -> float:
    ready = asyncio.Event()

    class Timed(ConsoleApp):
        def on_ready(self) -> None:
            ready.set()

    t0 = time.perf_counter()
    app = Timed(RunParams(roles=["destination", "source"], attestation="mock-report"),
                history=store, autostart=False)
    async with app.run_test(size=(160, 48)):
        await asyncio.wait_for(ready.wait(), 10)
        return time.perf_counter() - t0


def import_time() -> float:
    code = "import time; t=time.perf_counter(); import tui.app; print(time.perf_counter()-t)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    return float(out.stdout.strip())


async def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--lines", type=int, default=50_000, help="lines per side per run")
    ap.add_argument("--rounds", type=int, default=30, help="paired rounds (console + reference)")
    ap.add_argument("--runs", type=int, default=5, help="runs of the first-paint measurement")
    args = ap.parse_args()
    streams = {role: make_stream(role, args.lines) for role in ("source", "destination")}
    load = os.getloadavg()
    started = time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime())
    with tempfile.TemporaryDirectory() as tmp:
        store = HistoryStore(Path(tmp))
        rss0 = rss_mib()
        await one_ingest(min(args.lines, 5000), store, None)  # warm-up: imports, caches
        console, ref, ratios, kept = [], [], [], 0
        for i in range(args.rounds):
            if i % 2 == 0:
                r = reference(streams, args.lines)
                c, kept = await one_ingest(args.lines, store, streams)
            else:
                c, kept = await one_ingest(args.lines, store, streams)
                r = reference(streams, args.lines)
            console.append(c)
            ref.append(r)
            ratios.append(c / r)
        rss_after = rss_mib()
        paints = [await first_paint(store) for _ in range(args.runs)]
        # Memory: trace allocations during one more ingest (slower, so not timed);
        # the input streams are built before tracing starts and are not counted.
        gc.collect()
        tracemalloc.start()
        base = tracemalloc.get_traced_memory()[0]
        await one_ingest(args.lines, store, streams)
        current, peak = tracemalloc.get_traced_memory()
        tracemalloc.stop()
    imports = [import_time() for _ in range(3)]
    end_load = os.getloadavg()
    print(f"started {started}; load average {load[0]:.1f} at start, {end_load[0]:.1f} at the end; "
          f"{args.rounds} paired rounds of {args.lines} lines/side")
    med, q1, q3 = spread(console)
    print(f"console ingest + render: median {med:,.0f} lines/s per side (IQR {q1:,.0f}–{q3:,.0f}; "
          f"min {min(console):,.0f}, max {max(console):,.0f})")
    med, q1, q3 = spread(ref)
    print(f"pure-Python reference (split + json.loads + ring buffer): median {med:,.0f} lines/s per side "
          f"(IQR {q1:,.0f}–{q3:,.0f})")
    med, q1, q3 = spread(ratios)
    print(f"console / reference, per round: median {med:.3f} (IQR {q1:.3f}–{q3:.3f})")
    size = sum(map(len, streams.values())) / 2**20
    print(f"input held in memory by the benchmark itself: {size:.0f} MiB")
    print(f"traced Python memory during one ingest: peak {(peak - base) / 2**20:.1f} MiB above start, "
          f"{(current - base) / 2**20:.1f} MiB still held after it")
    print(f"memory: ring buffer {kept} lines/side (capacity {LOG_CAPACITY}); "
          f"RSS {rss0:.0f} MiB before the rounds, {rss_after:.0f} MiB after")
    print(f"first paint (construct -> Ready, headless): median {statistics.median(paints) * 1000:.0f} ms")
    print(f"import tui.app in a fresh interpreter: median {statistics.median(imports) * 1000:.0f} ms; "
          f"launch to first paint ~ {(statistics.median(imports) + statistics.median(paints)) * 1000:.0f} ms")


if __name__ == "__main__":
    asyncio.run(main())
