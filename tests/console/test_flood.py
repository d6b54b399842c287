"""The app stays responsive and bounded while each side floods 50 000 lines."""

from __future__ import annotations

import asyncio
import os
import time

import pytest

from tui.app import ConsoleApp
from tui.history import HistoryStore
from tui.model import HISTORY_EVENTS, HISTORY_TAIL, LOG_CAPACITY
from tui.params import RunParams
from tui.widgets.logview import LogView

LINES = 50_000
#: A key press must be handled within this many seconds, even mid-flood.
KEY_BOUND = 1.0
#: Resident memory may grow at most this much over the whole flood.
RSS_BOUND = 120 * 1024 * 1024


def rss() -> int:
    with open("/proc/self/statm", encoding="ascii") as fh:
        return int(fh.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")


async def test_flood_50k_lines_per_side(fake_migtd: str, store: HistoryStore,
                                        monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("FAKE_MIGTD_SCENARIO", f"flood:{LINES}")
    params = RunParams(roles=["destination", "source"], attestation="skip-ra", migtd=fake_migtd)
    app = ConsoleApp(params, history=store)
    before = rss()
    latencies: list[float] = []
    during_flood = 0
    async with app.run_test(size=(160, 48)) as pilot:
        log = app.screen.query_one("#log-source", LogView)
        deadline = time.monotonic() + 60
        while not (app.model.finished and not app.running):
            assert time.monotonic() < deadline, "flood not ingested within 60 s"
            received = app.model.sides["source"].total_lines
            follow = log.follow
            t0 = time.monotonic()
            app.simulate_key("f")  # delivered like a real key press, through the bindings
            while log.follow is follow:  # handled, not just queued
                assert time.monotonic() - t0 < 10, "key press not handled within 10 s"
                await asyncio.sleep(0.002)
            latencies.append(time.monotonic() - t0)
            if 0 < received < LINES:
                during_flood += 1
            await asyncio.sleep(0.02)
        await pilot.pause(0.2)
        for role in ("source", "destination"):
            side = app.model.sides[role]
            assert side.total_lines >= LINES + 1
            assert side.result is not None and side.result.code == 0
            assert len(side.logs) == LOG_CAPACITY
            assert len(side.history_lines()) <= HISTORY_TAIL + HISTORY_EVENTS
        assert log.side.logs[-1].event == "exit"
        # The pane shows the newest lines once the flood is over.
        assert log.shown == LOG_CAPACITY
    grown = rss() - before
    print(f"flood: {len(latencies)} key presses, {during_flood} mid-flood, "
          f"max latency {max(latencies) * 1000:.0f} ms, RSS growth {grown / 2**20:.1f} MiB")
    assert during_flood >= 1, "the flood finished before a key could be pressed during it"
    assert max(latencies) < KEY_BOUND
    assert grown < RSS_BOUND
