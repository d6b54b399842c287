"""The run controller: starts the sides in order and feeds the model.

With both sides it starts the destination, waits for its ``listening`` event
(or its early exit, or a timeout), then starts the source. Every wait is
bounded: a side that never reports ``exit`` is stopped after its own network
timeout plus a margin, so a hung peer never hangs the console.
"""

from __future__ import annotations

import asyncio
import time
from typing import Any, Callable

from migtd.plan import PlanError
from tui.launchers import LaunchError, Launcher, make_launcher
from tui.model import RunModel
from tui.params import RunParams

LauncherFactory = Callable[[str, RunParams], Launcher]

#: Extra seconds a side gets beyond ``--timeout`` before the console stops it.
WATCHDOG_MARGIN = 30.0
#: How often the controller checks whether the destination is listening.
POLL = 0.02


class RunController:
    """Runs one migration (one or both sides) and records how each side ended."""

    def __init__(self, params: RunParams, model: RunModel,
                 factory: LauncherFactory = make_launcher) -> None:
        self.params = params
        self.model = model
        self.factory = factory
        self.launchers: dict[str, Launcher] = {}
        self.exits: dict[str, dict[str, Any]] = {}
        self.started_at = time.time()
        self.stopping = False
        self._waits: dict[str, asyncio.Task[None]] = {}

    async def run(self) -> None:
        """Start the sides, wait for all of them, return when the run is over."""
        order = ["destination", "source"] if self.params.both else list(self.params.roles)
        for role in order:
            if self.stopping:
                break
            if role == "source" and "destination" in self._waits:
                why = await self._wait_listening()
                if why:
                    self.model.failed_to_start("source", f"not started: {why}")
                    break
            await self._start(role)
        if self._waits:
            await asyncio.gather(*self._waits.values())

    async def _start(self, role: str) -> None:
        try:
            launcher = self.factory(role, self.params)
        except PlanError as exc:  # e.g. a re-run of a saved run whose files are gone
            self.model.failed_to_start(role, exc.message)
            return
        self.launchers[role] = launcher
        try:
            await launcher.start(lambda line, r=role: self.model.feed(r, line))
        except LaunchError as exc:
            self.model.failed_to_start(role, str(exc))
            return
        self.model.launched(role, launcher.where)
        self._waits[role] = asyncio.create_task(self._wait(role, launcher))

    async def _wait(self, role: str, launcher: Launcher) -> None:
        limit = self.params.longest_run() + self.params.listen_timeout + WATCHDOG_MARGIN
        try:
            code = await asyncio.wait_for(launcher.wait(), limit)
        except asyncio.TimeoutError:
            self.model.problem(role, f"no exit after {limit:g} s; stopping the process")
            await launcher.stop()
            code = await launcher.wait()
        self.exits[role] = {"code": code, "transport": launcher.transport, "where": launcher.where}
        self.model.ended(role, code, launcher.transport)

    async def _wait_listening(self) -> str:
        """Empty string once the destination listens, else why the source must not start."""
        dest = self.model.sides["destination"]
        deadline = time.monotonic() + self.params.listen_timeout
        while time.monotonic() < deadline:
            if self.stopping:
                return "the run was stopped"
            if dest.listening is not None:
                return ""
            if dest.result is not None or self._waits["destination"].done():
                return "the destination exited before listening"
            await asyncio.sleep(POLL)
        self.model.problem("destination",
                           f"did not report listening within {self.params.listen_timeout:g} s")
        await self.stop(note=False)
        return f"the destination did not listen within {self.params.listen_timeout:g} s"

    def terminate(self) -> None:
        """Signal every running side without waiting (the app is going away)."""
        self.stopping = True
        for launcher in self.launchers.values():
            launcher.terminate()

    async def stop(self, note: bool = True) -> None:
        """Stop every running side (SIGTERM, then SIGKILL)."""
        self.stopping = True
        running = [(r, l) for r, l in self.launchers.items() if l.running]
        for role, _ in running:
            if note:
                self.model.problem(role, "stopped by the operator")
        await asyncio.gather(*(l.stop() for _, l in running))
