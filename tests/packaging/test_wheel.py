"""The wheel, installed into a fresh venv outside the source tree, works on its own.

One test (marked ``wheel``) so the expensive part runs once: copy what a
build needs to a temporary folder, build the wheel there (``pip wheel
--no-deps``), install it with its dependencies into a new venv (from the
package index or pip's cache), and from a directory that is not the checkout
run a skip-RA pair, a mock-report pair (with the shipped mock PKI and nothing
else), the runner script copied beside no ``config/``, ``migtd-tool quote
verify`` of the real Azure quote against the shipped Intel root, and the
console: a real run, then ``--replay`` of its saved record, both on a
pseudo-terminal. It fails if the wheel misses a module or a data file, or if
any module of the installed package does not import.
"""

from __future__ import annotations

import fcntl
import json
import os
import select
import shutil
import struct
import subprocess
import sys
import termios
import time
import zipfile
from collections.abc import Callable
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
PACKAGES = ("migtd", "tui")
PIP_TIMEOUT = 600


def expected_files() -> set[str]:
    """What the wheel must carry: every module, and the package data (config/ as migtd/_config)."""
    want = set()
    for pkg in PACKAGES:
        for path in (ROOT / pkg).rglob("*"):
            if "__pycache__" in path.parts or path.is_dir():
                continue
            rel = path.relative_to(ROOT)
            if rel.parts[:2] == ("migtd", "_config"):
                continue  # listed from config/ below
            if path.suffix in (".py", ".tcss") or path.name == "py.typed":
                want.add(rel.as_posix())
    for path in (ROOT / "config").rglob("*"):
        if path.is_file():
            want.add("migtd/_config/" + path.relative_to(ROOT / "config").as_posix())
    return want


def build_wheel(work: Path) -> Path:
    src = work / "src"
    src.mkdir()
    ignore = shutil.ignore_patterns("__pycache__", "*.pyc")
    for pkg in PACKAGES:
        shutil.copytree(ROOT / pkg, src / pkg, symlinks=True, ignore=ignore)
    shutil.copytree(ROOT / "config", src / "config")
    for name in ("pyproject.toml", "README.md"):
        shutil.copy(ROOT / name, src / name)
    out = work / "wheelhouse"
    subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps", "-q", "-w", str(out), str(src)],
                   check=True, timeout=PIP_TIMEOUT, capture_output=True, text=True)
    (wheel,) = out.glob("migtd_py-*.whl")
    return wheel


def run(cmd: list[str], env: dict[str, str], cwd: Path, timeout: float = 120) -> subprocess.CompletedProcess[str]:
    return subprocess.run(cmd, env=env, cwd=cwd, capture_output=True, text=True, timeout=timeout, check=False)


def pair(bin_dir: Path, env: dict[str, str], cwd: Path, port: int) -> list[dict[str, object]]:
    """Destination then source; both must exit 0. Returns the destination's events."""
    dst = subprocess.Popen([str(bin_dir / "migtd"), "-m", "dst", "-t", str(port)], env=env, cwd=cwd, text=True,
                           stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        src = run([str(bin_dir / "migtd"), "-m", "src", "-t", str(port)], env, cwd, timeout=60)
        _, dst_err = dst.communicate(timeout=60)
    finally:
        if dst.poll() is None:
            dst.kill()
            dst.communicate()
    assert (src.returncode, dst.returncode) == (0, 0), src.stderr + dst_err
    return [json.loads(line) for line in dst_err.splitlines() if line.startswith("{")]


def on_a_terminal(cmd: list[str], env: dict[str, str], cwd: Path, *, until: Callable[[], bool],
                  timeout: float = 90) -> int:
    """Run a full-screen program on a 160x50 pseudo-terminal; press q once ``until()`` holds; its exit code."""
    master, slave = os.openpty()
    fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", 50, 160, 0, 0))
    proc = subprocess.Popen(cmd, stdin=slave, stdout=slave, stderr=slave, env=env, cwd=cwd, start_new_session=True)
    os.close(slave)
    deadline = time.monotonic() + timeout
    pressed = 0.0
    try:
        while proc.poll() is None and time.monotonic() < deadline:
            if select.select([master], [], [], 0.1)[0]:
                try:
                    os.read(master, 65536)  # keep the terminal drained
                except OSError:
                    break
            if until() and time.monotonic() - pressed > 2:
                os.write(master, b"q")
                pressed = time.monotonic()
        return proc.wait(timeout=max(1.0, deadline - time.monotonic()))
    finally:
        os.close(master)
        if proc.poll() is None:
            proc.kill()
            proc.wait(timeout=10)


@pytest.mark.wheel
@pytest.mark.timeout(600)  # a fresh machine downloads the dependencies into the new venv
def test_wheel_installed_outside_the_tree(tmp_path: Path, vectors: Path, port: int) -> None:
    wheel = build_wheel(tmp_path)
    names = set(zipfile.ZipFile(wheel).namelist())
    missing = expected_files() - names
    assert not missing, f"the wheel misses {sorted(missing)}"
    tops = {n.split("/")[0] for n in names}
    assert tops == {"migtd", "tui", wheel.name.split("-")[0] + "-" + wheel.name.split("-")[1] + ".dist-info"}

    venv = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True, timeout=120)
    bin_dir = venv / "bin"
    done = subprocess.run([str(bin_dir / "python"), "-m", "pip", "install", "-q", str(wheel)],
                          capture_output=True, text=True, timeout=PIP_TIMEOUT, check=False)
    assert done.returncode == 0, done.stderr

    home = tmp_path / "home"  # nothing of the checkout, the dev venv or the user's dirs is visible
    home.mkdir()
    env = {k: v for k, v in os.environ.items()
           if not k.startswith(("MIGTD_", "MOCK_QUOTE", "PYTHON", "VIRTUAL_ENV", "XDG_", "RUST_LOG", "TSS2_"))}
    env.update(PATH=f"{bin_dir}{os.pathsep}/usr/bin{os.pathsep}/bin", HOME=str(home),
               XDG_DATA_HOME=str(home / "data"), XDG_CONFIG_HOME=str(home / "config"),
               XDG_CACHE_HOME=str(home / "cache"), XDG_STATE_HOME=str(home / "state"), MIGTD_LOG_FORMAT="json", MIGTD_TIMEOUT="20")

    # Every module imports from the installed copy, and its data is the installed data.
    probe = run([str(bin_dir / "python"), "-c", (
        "import importlib, pkgutil, json, migtd, tui\n"
        "from migtd import paths\n"
        "mods = [m.name for p in (migtd, tui) for m in pkgutil.walk_packages(p.__path__, p.__name__ + '.')"
        " if not m.name.endswith('__main__')]\n"
        "for m in mods: importlib.import_module(m)\n"
        "print(json.dumps({'count': len(mods), 'migtd': migtd.__file__, 'config': str(paths.config_dir())}))")],
        env, home)
    assert probe.returncode == 0, probe.stderr
    info = json.loads(probe.stdout)
    site = str(venv / "lib")
    assert info["migtd"].startswith(site) and info["config"].startswith(site), info
    assert info["count"] >= len([n for n in names if n.endswith(".py")]) - 2 * len(PACKAGES) - 2

    tool = bin_dir / "migtd-tool"
    where = {k: v for k, v in (line.split("\t") for line in run([str(tool), "paths"], env, home).stdout.splitlines())}
    assert where["intel-root-ca"].startswith(site) and Path(where["mock-collateral"]).is_file()
    versions = [run([str(bin_dir / p), "--version"], env, home).stdout.split() for p in ("migtd-tool", "migtd-console")]
    assert versions[0][1] == versions[1][1] == wheel.name.split("-")[1]

    # skip-RA pair (upstream still wants a root CA file: the shipped mock one)
    skip = dict(env, MIGTD_ATTESTATION="skip-ra", MIGTD_POLICY_FILE=where["policy"],
                MIGTD_ROOT_CA_FILE=where["mock-root-ca"])
    pair(bin_dir, skip, home, port)
    # mock-report pair: the shipped mock PKI, collateral found by the package itself
    mock = dict(env, MIGTD_ATTESTATION="mock-report", MIGTD_POLICY_FILE=where["policy"],
                MIGTD_ROOT_CA_FILE=where["mock-root-ca"])
    events = pair(bin_dir, mock, home, port)
    attested = [e for e in events if e["event"] == "peer_attested"][-1]
    assert attested["verified"] is True and attested["tcb_status"] == "UpToDate"

    # the runner script, copied where no config/ is beside it
    script = home / "migtdemu.sh"
    shutil.copy(ROOT / "migtdemu.sh", script)
    runner = run([str(script), "--mock-report", "--both", "-p", str(port)], env, home)
    assert runner.returncode == 0, runner.stdout + runner.stderr
    assert f"Policy file: {where['policy']}" in runner.stdout

    # quote verify: the real Azure quote against the shipped Intel root (no --root-ca) and the shipped collateral
    att = vectors / "attestation"
    verify = run([str(tool), "quote", "verify", str(att / "az_migtd_quote.blob"), "--collateral",
                  str(att / "collateral_production_fmspc.json"), "--json"], env, home)
    assert verify.returncode == 0, verify.stderr
    assert json.loads(verify.stdout)["tcb_status"] == "UpToDate"

    # console: a real mock-report run, saved to history, then replayed from the saved record
    runs = home / "state" / "migtd-console" / "runs"  # history lives in the XDG state dir
    console = [str(bin_dir / "migtd-console")]
    code = on_a_terminal(console + ["--both", "--mock-report", "--dest-port", str(port)], env, home,
                         until=lambda: any(runs.glob("*.json")) if runs.is_dir() else False)
    saved = sorted(p for p in runs.glob("*.json") if not p.name.endswith(".meta.json"))
    assert code == 0 and len(saved) == 1, (code, list(runs.glob("*")) if runs.is_dir() else None)
    started = time.monotonic()
    code = on_a_terminal(console + ["--replay", str(saved[0])], env, home,
                         until=lambda: time.monotonic() - started > 3)
    assert code == 0  # the replayed run is a success
