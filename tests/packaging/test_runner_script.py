"""./migtdemu.sh as a user runs it: colours honour NO_COLOR; a copy outside the checkout finds the package's config."""

from __future__ import annotations

import os
import select
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest

from migtd import paths

SCRIPT = Path(__file__).resolve().parents[2] / "migtdemu.sh"


def on_a_terminal(cmd: list[str], env: dict[str, str], cwd: Path, timeout: float = 30) -> bytes:
    """Run ``cmd`` with stdout and stderr on a pseudo-terminal; everything it printed."""
    master, slave = os.openpty()
    proc = subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=slave, stderr=slave, env=env, cwd=cwd)
    os.close(slave)
    out = b""
    deadline = time.monotonic() + timeout
    try:
        while time.monotonic() < deadline:
            ready, _, _ = select.select([master], [], [], 0.2)
            if ready:
                try:
                    chunk = os.read(master, 4096)
                except OSError:  # EIO: the child closed the terminal
                    break
                if not chunk:
                    break
                out += chunk
            elif proc.poll() is not None:
                break
    finally:
        os.close(master)
        if proc.poll() is None:
            proc.kill()
        proc.wait(timeout=10)
    return out


@pytest.mark.parametrize("no_color", [None, "1"])
def test_no_color(tmp_path: Path, no_color: str | None) -> None:
    env = {k: v for k, v in os.environ.items() if k != "NO_COLOR"}
    if no_color is not None:
        env["NO_COLOR"] = no_color
    out = on_a_terminal([str(SCRIPT), "--bogus"], env, tmp_path)
    assert b"Unknown option --bogus" in out
    assert (b"\x1b[" in out) is (no_color is None)


def test_copy_outside_the_checkout_uses_the_installed_config(tmp_path: Path, port: int) -> None:
    """No config/ beside the script: the defaults come from the installed package (migtd-tool paths)."""
    script = tmp_path / "bin" / "migtdemu.sh"
    script.parent.mkdir()
    shutil.copy(SCRIPT, script)
    env = {k: v for k, v in os.environ.items() if not k.startswith(("MIGTD_", "MOCK_QUOTE"))}
    env["PATH"] = f"{Path(sys.executable).parent}{os.pathsep}{env.get('PATH', '')}"
    done = subprocess.run([str(script), "--mock-report", "--both", "-p", str(port)], cwd=tmp_path, env=env,
                          capture_output=True, text=True, timeout=120, check=False)
    assert done.returncode == 0, done.stdout + done.stderr
    assert f"Policy file: {paths.default_policy()}" in done.stdout
    assert f"Root CA file: {paths.mock_root_ca()}" in done.stdout
