"""Under CI (env CI set) a skipped test fails the run; elsewhere a skip stays a skip."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

CONFTEST = Path(__file__).resolve().parents[1] / "conftest.py"
SAMPLE = ("import pytest\n\n"
          "def test_runs():\n    assert True\n\n"
          "def test_skips():\n    pytest.skip('needs something absent')\n\n"
          "@pytest.mark.xfail(reason='known')\ndef test_xfails():\n    assert False\n")
MODULE_SKIP = "import pytest\npytest.skip('whole module', allow_module_level=True)\n"


def _run(tmp_path: Path, source: str, ci: bool) -> subprocess.CompletedProcess[str]:
    shutil.copy(CONFTEST, tmp_path / "conftest.py")
    (tmp_path / "test_sample.py").write_text(source)
    env = {k: v for k, v in os.environ.items() if k != "CI"}
    env["PYTEST_DISABLE_PLUGIN_AUTOLOAD"] = "1"  # the hook needs pytest alone; starts much faster
    if ci:
        env["CI"] = "true"
    return subprocess.run([sys.executable, "-m", "pytest", "-q", "-rs", "-p", "no:cacheprovider", str(tmp_path)],
                          cwd=tmp_path, capture_output=True, text=True, timeout=120, env=env, check=False)


def test_skipped_test_fails_under_ci(tmp_path: Path) -> None:
    done = _run(tmp_path, SAMPLE, ci=True)
    assert done.returncode == 1, done.stdout
    assert "skipped under CI, where every test must run: needs something absent" in done.stdout
    assert done.stdout.strip().splitlines()[-1].startswith("1 failed, 1 passed, 1 xfailed")


def test_skipped_module_fails_under_ci(tmp_path: Path) -> None:
    done = _run(tmp_path, MODULE_SKIP, ci=True)
    assert done.returncode != 0, done.stdout
    assert "skipped under CI, where every test must run: whole module" in done.stdout


def test_skips_are_skips_elsewhere(tmp_path: Path) -> None:
    done = _run(tmp_path, SAMPLE, ci=False)
    assert done.returncode == 0, done.stdout
    assert done.stdout.strip().splitlines()[-1].startswith("1 passed, 1 skipped, 1 xfailed")
    done = _run(tmp_path, MODULE_SKIP, ci=False)
    assert done.returncode == 5 and "1 skipped" in done.stdout, done.stdout  # 5: no test ran
