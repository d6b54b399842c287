"""SSH launcher: ``migtd`` on another host through the system ``ssh`` binary.

The system client honours the operator's ``~/.ssh/config``, agent and jump
hosts. ``-tt`` gives the remote command a pty: stopping types Ctrl-C into it (the
remote ``migtd`` gets SIGINT and still reports its ``exit``), and if that is
not enough, ending the local ``ssh`` hangs up the remote process group
(``migtd`` treats SIGHUP like SIGTERM) instead of leaving it running. ``BatchMode=yes`` turns a password or
host-key prompt into an immediate, visible failure rather than a hang.

ssh exits 255 both when it cannot connect and when the remote process dies
from a signal, so the side's result comes from its ``exit`` event whenever
there is one; the model only falls back to the ssh status without it.
"""

from __future__ import annotations

import asyncio

from tui.launchers.base import Launcher

#: Seconds the remote side gets to exit after an interrupt before ssh is ended.
INTERRUPT_GRACE = 3.0


def ssh_argv(host: str, command: str, *, ssh_config: str | None = None,
             options: list[str] | None = None, ssh: str = "ssh") -> list[str]:
    """The ``ssh`` command line that runs ``command`` on ``host``."""
    argv = [ssh, "-tt", "-o", "BatchMode=yes", "-o", "ConnectTimeout=10"]
    if ssh_config:
        argv += ["-F", ssh_config]
    for opt in options or []:
        argv += ["-o", opt]
    return [*argv, host, "--", command]


class SshLauncher(Launcher):
    """Runs ``command`` (a shell command line) on ``host`` over SSH."""

    transport = "ssh"

    def __init__(self, role: str, host: str, command: str, *, ssh_config: str | None = None,
                 options: list[str] | None = None, ssh: str = "ssh") -> None:
        # stdin stays an open pipe: with -tt an EOF on stdin would reach the
        # remote pty as end of input.
        super().__init__(role, ssh_argv(host, command, ssh_config=ssh_config, options=options,
                                        ssh=ssh),
                         None, where=f"ssh {host}", stdin_pipe=True)

    async def stop(self) -> None:
        """Interrupt the remote ``migtd`` through its pty, then end ssh if needed.

        A Ctrl-C typed into the remote terminal reaches ``migtd`` as SIGINT
        while the connection is still up, so its final ``exit`` event travels
        back and the side's result is the real one. Killing ssh first would
        hang the remote up too (SIGHUP), but its last words would be lost.
        """
        proc = self.proc
        if proc is None or proc.returncode is not None:
            return
        if proc.stdin is not None:
            try:
                proc.stdin.write(b"\x03")
                await proc.stdin.drain()
            except (BrokenPipeError, ConnectionResetError):
                pass
            try:
                await asyncio.wait_for(proc.wait(), INTERRUPT_GRACE)
                return
            except TimeoutError:
                pass
        await super().stop()
