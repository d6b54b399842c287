"""The launcher interface and the line pump shared by local and SSH launchers."""

from __future__ import annotations

import asyncio
import os
import signal
from collections.abc import Callable

#: Receives the output lines of one read (stdout or stderr, without line endings):
#: one call per chunk, so a flood costs one model update per chunk, not per line.
LinesSink = Callable[[list[str]], None]

#: Bytes read per chunk; lines are split out of chunks so one huge line or a
#: flood of small ones never blocks the event loop for long.
CHUNK = 256 * 1024
#: Grace period between SIGTERM and SIGKILL when stopping.
STOP_GRACE = 3.0
#: How long to wait for the pipes to drain after the process exited.
DRAIN_TIMEOUT = 2.0


class LaunchError(Exception):
    """The process could not be started; the message is shown to the operator."""


async def pump(stream: asyncio.StreamReader, sink: LinesSink) -> None:
    """Split ``stream`` into lines and hand them to ``sink``, one list per read, until EOF.

    Decoding is lenient (``replace``) because the output of a remote shell or a
    crashing process is not guaranteed to be UTF-8, and a bad byte must not
    hide the rest of the line. A chunk is decoded once, then split, which is
    what lets a flood of small lines cost little per line.
    """
    pending = b""
    while True:
        chunk = await stream.read(CHUNK)
        if not chunk:
            break
        pending += chunk
        cut = pending.rfind(b"\n")
        if cut >= 0:
            text, pending = pending[:cut].decode("utf-8", "replace"), pending[cut + 1:]
            lines = text.split("\n")
            sink([line.rstrip("\r") for line in lines] if "\r" in text else lines)
        if len(pending) > 4 * CHUNK:  # an endless line: show it in pieces
            sink([pending.decode("utf-8", "replace")])
            pending = b""
        # read() does not suspend while data is buffered; yield so key presses
        # and repaints interleave with a flood instead of waiting for its end.
        await asyncio.sleep(0)
    if pending.strip():
        sink([pending.rstrip(b"\r").decode("utf-8", "replace")])


class Launcher:
    """One side's process: start it, stream its lines, wait for it, stop it."""

    transport = "local"

    def __init__(self, role: str, argv: list[str], env: dict[str, str] | None = None,
                 *, where: str = "local", stdin_pipe: bool = False) -> None:
        self.role = role
        self.argv = argv
        self.extra_env = dict(env or {})
        self.where = where
        self._stdin_pipe = stdin_pipe
        self.proc: asyncio.subprocess.Process | None = None
        self._pumps: list[asyncio.Task[None]] = []

    @property
    def running(self) -> bool:
        return self.proc is not None and self.proc.returncode is None

    async def start(self, sink: LinesSink) -> None:
        """Start the process; raise :class:`LaunchError` with a reason on failure."""
        env = {**os.environ, **self.extra_env}
        try:
            self.proc = await asyncio.create_subprocess_exec(
                *self.argv,
                stdin=asyncio.subprocess.PIPE if self._stdin_pipe else asyncio.subprocess.DEVNULL,
                stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
                env=env, start_new_session=True)
        except FileNotFoundError:
            raise LaunchError(f"{self.argv[0]}: program not found") from None
        except PermissionError:
            raise LaunchError(f"{self.argv[0]}: permission denied") from None
        except OSError as exc:
            raise LaunchError(f"{self.argv[0]}: cannot start: {exc.strerror or exc}") from None
        assert self.proc.stdout is not None and self.proc.stderr is not None
        self._pumps = [asyncio.create_task(pump(self.proc.stdout, sink)),
                       asyncio.create_task(pump(self.proc.stderr, sink))]

    async def wait(self) -> int:
        """Wait for the process to exit (and its output to drain); its status."""
        assert self.proc is not None, "wait() before start()"
        code = await self.proc.wait()
        if self._pumps:
            _, still = await asyncio.wait(self._pumps, timeout=DRAIN_TIMEOUT)
            for task in still:  # a grandchild kept a pipe open; stop reading it
                task.cancel()
        return _status(code)

    async def stop(self) -> None:
        """SIGTERM, then SIGKILL after :data:`STOP_GRACE` seconds."""
        proc = self.proc
        if proc is None or proc.returncode is not None:
            return
        self._signal(signal.SIGTERM)
        try:
            await asyncio.wait_for(proc.wait(), STOP_GRACE)
        except TimeoutError:
            self._signal(signal.SIGKILL)
            await proc.wait()

    def terminate(self) -> None:
        """SIGTERM without waiting: the last resort when the console itself exits."""
        if self.running:
            self._signal(signal.SIGTERM)

    def _signal(self, sig: int) -> None:
        assert self.proc is not None
        try:
            os.killpg(self.proc.pid, sig)
        except (ProcessLookupError, PermissionError):
            try:
                self.proc.send_signal(sig)
            except ProcessLookupError:
                pass


def _status(code: int) -> int:
    """asyncio reports death by signal N as -N; shells report 128+N."""
    return 128 - code if code < 0 else code
