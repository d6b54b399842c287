"""Local launcher: ``migtd`` as an asyncio subprocess on this machine."""

from __future__ import annotations

from tui.launchers.base import Launcher


class LocalLauncher(Launcher):
    """Runs ``argv`` with ``env`` added to the console's environment.

    The child gets its own session so stopping it also stops anything it
    spawned, and the console's terminal signals never reach it.
    """

    def __init__(self, role: str, argv: list[str], env: dict[str, str]) -> None:
        super().__init__(role, argv, env, where="local")
