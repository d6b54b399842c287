"""Launchers start one ``migtd`` side and stream its output lines.

Local and SSH launchers share one interface (:class:`tui.launchers.base.Launcher`)
so the run controller and the screens never know where a process runs.
"""

from __future__ import annotations

from tui.launchers.base import Launcher, LaunchError, LinesSink
from tui.launchers.local import LocalLauncher
from tui.launchers.ssh import SshLauncher, ssh_argv
from tui.params import RunParams


def make_launcher(role: str, params: RunParams) -> Launcher:
    """The launcher for ``role``: SSH when a host is set for it, else local."""
    host = params.host(role)
    if host:
        return SshLauncher(role, host, params.command_line(role),
                           ssh_config=params.ssh_config, options=params.ssh_options)
    return LocalLauncher(role, [params.program(role), *params.argv(role)], params.env(role))


__all__ = ["LaunchError", "Launcher", "LinesSink", "LocalLauncher", "SshLauncher",
           "make_launcher", "ssh_argv"]
