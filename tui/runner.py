"""The run controller: starts the sides in order, feeds the model, says when it moved.

With both sides it starts the destination, waits for its ``listening`` event
(or its early exit, or a timeout), then starts the source. Every wait is
bounded: a side that never reports ``exit`` is stopped after its longest
healthy run (each of migtd's phases has ``--timeout`` of its own,
:meth:`RunParams.longest_run`) plus a margin, so a hung peer never hangs the
console. A side the run planner refuses (a re-run whose files are gone) is
reported as not started.

The controller is the live half of a run: the model it feeds is pure, and the
controller posts :class:`RunController.Updated` to whoever shows the run each
time the model moved (a read of a side's output, a side started, ended or was
stopped). The message carries no data: its handler reads the model. So when
the screen falls behind a flood, a newer ``Updated`` replaces the ones still
queued (``can_replace``, as toolong coalesces its file messages) and the
screen draws the latest state once instead of every intermediate one.
"""

from __future__ import annotations

import asyncio
import functools
import time
from collections.abc import Callable
from typing import Any

from textual.message import Message

from migtd.plan import PlanError
from tui.launchers import Launcher, LaunchError, make_launcher
from tui.model import RunModel
from tui.params import RunParams

LauncherFactory = Callable[[str, RunParams], Launcher]
#: Where the controller's messages go (``widget.post_message``).
Post = Callable[[Message], Any]

#: Extra seconds a side gets beyond ``--timeout`` before the console stops it.
WATCHDOG_MARGIN = 30.0


class RunController:
    """Runs one migration (one or both sides) and records how each side ended."""

    class Updated(Message, bubble=False):
        """``model`` moved. A newer ``Updated`` for the same model replaces a queued older one."""

        def __init__(self, model: RunModel) -> None:
            super().__init__()
            self.model = model

        def can_replace(self, message: Message) -> bool:
            return isinstance(message, RunController.Updated) and message.model is self.model

    def __init__(self, params: RunParams, model: RunModel,
                 factory: LauncherFactory = make_launcher, post: Post | None = None) -> None:
        self.params = params
        self.model = model
        self.factory = factory
        self.post: Post = post or (lambda message: None)
        self.launchers: dict[str, Launcher] = {}
        self.exits: dict[str, dict[str, Any]] = {}
        self.started_at = time.time()
        self.stopping = False
        self._waits: dict[str, asyncio.Task[None]] = {}
        #: Set when the destination listens, exits or the run is stopped: what the source waits for.
        self._destination_moved = asyncio.Event()

    def _moved(self) -> None:
        self.post(self.Updated(self.model))

    def _lines(self, role: str, lines: list[str]) -> None:
        self.model.feed_many(role, lines)
        if role == "destination":
            side = self.model.sides[role]
            if side.listening is not None or side.result is not None:
                self._destination_moved.set()
        self._moved()

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
                    self._moved()
                    break
            await self._start(role)
        if self._waits:
            await asyncio.gather(*self._waits.values())

    async def _start(self, role: str) -> None:
        try:
            launcher = self.factory(role, self.params)
        except PlanError as exc:  # e.g. a re-run of a saved run whose files are gone
            self.model.failed_to_start(role, exc.message)
            self._moved()
            return
        self.launchers[role] = launcher
        try:
            await launcher.start(functools.partial(self._lines, role))
        except LaunchError as exc:
            self.model.failed_to_start(role, str(exc))
            self._moved()
            return
        self.model.launched(role, launcher.where)
        self._moved()
        self._waits[role] = asyncio.create_task(self._wait(role, launcher))

    async def _wait(self, role: str, launcher: Launcher) -> None:
        limit = self.params.longest_run() + self.params.listen_timeout + WATCHDOG_MARGIN
        try:
            code = await asyncio.wait_for(launcher.wait(), limit)
        except TimeoutError:
            self.model.problem(role, f"no exit after {limit:g} s; stopping the process")
            self._moved()
            await launcher.stop()
            code = await launcher.wait()
        self.exits[role] = {"code": code, "transport": launcher.transport, "where": launcher.where}
        self.model.ended(role, code, launcher.transport)
        if role == "destination":
            self._destination_moved.set()
        self._moved()

    async def _wait_listening(self) -> str:
        """Empty string once the destination listens, else why the source must not start."""
        dest = self.model.sides["destination"]
        try:
            await asyncio.wait_for(self._destination_moved.wait(), self.params.listen_timeout)
        except TimeoutError:
            self.model.problem("destination",
                               f"did not report listening within {self.params.listen_timeout:g} s")
            self._moved()
            await self.stop(note=False)
            return f"the destination did not listen within {self.params.listen_timeout:g} s"
        if self.stopping:
            return "the run was stopped"
        if dest.listening is not None:
            return ""
        return "the destination exited before listening"

    def terminate(self) -> None:
        """Signal every running side without waiting (the app is going away)."""
        self.stopping = True
        self._destination_moved.set()
        for launcher in self.launchers.values():
            launcher.terminate()

    async def stop(self, note: bool = True) -> None:
        """Stop every running side (SIGTERM, then SIGKILL)."""
        self.stopping = True
        self._destination_moved.set()
        running = [(r, l) for r, l in self.launchers.items() if l.running]
        for role, _ in running:
            if note:
                self.model.problem(role, "stopped by the operator")
        if running:
            self._moved()
        await asyncio.gather(*(l.stop() for _, l in running))
