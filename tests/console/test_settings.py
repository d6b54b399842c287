"""Per-machine settings in the user config dir: flags > settings > defaults."""

from __future__ import annotations

from pathlib import Path

from tui.params import build_parser, params_from_args
from tui.settings import load_settings, settings_path


def write(xdg: Path, text: str) -> Path:
    path = settings_path()
    assert str(path).startswith(str(xdg))  # platformdirs follows XDG_CONFIG_HOME
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    return path


def test_absent_file_means_defaults(xdg: Path) -> None:
    settings, problem = load_settings()
    assert problem == "" and settings.migtd is None and settings.log_capacity == 5000


def test_settings_fill_in_what_flags_leave_open(xdg: Path) -> None:
    write(xdg, 'remote_migtd = "/opt/m/bin/migtd"\nssh_config = "/etc/ssh_m"\ntimeout = 60\n'
               'log_capacity = 200\n')
    settings, problem = load_settings()
    assert problem == ""
    p = params_from_args(build_parser().parse_args(["--both", "--skip-ra"]), "/venv/migtd", settings)
    assert (p.remote_migtd, p.ssh_config, p.timeout, p.migtd) == ("/opt/m/bin/migtd", "/etc/ssh_m",
                                                                  60.0, "/venv/migtd")
    assert settings.log_capacity == 200
    flags = build_parser().parse_args(["--skip-ra", "--remote-migtd", "/x", "--timeout", "5"])
    p = params_from_args(flags, "/venv/migtd", settings)
    assert (p.remote_migtd, p.timeout) == ("/x", 5.0)


def test_bad_file_is_one_line_and_ignored(xdg: Path) -> None:
    path = write(xdg, "timeout = [1\n")
    settings, problem = load_settings()
    assert problem.startswith(f"ignoring {path}:") and "\n" not in problem
    assert settings.timeout is None
    write(xdg, 'timeout = -1\nlog_capacity = true\nmigtd = 3\ncolour = "red"\n')
    settings, problem = load_settings()
    assert "timeout must be" in problem and "log_capacity must be" in problem
    assert "migtd must be" in problem and "unknown key 'colour'" in problem
    assert settings.timeout is None and settings.log_capacity == 5000 and settings.migtd is None


async def test_log_capacity_reaches_the_panes(store) -> None:  # type: ignore[no-untyped-def]
    from tui.app import ConsoleApp
    from tui.params import RunParams

    from .conftest import recorded_run

    app = ConsoleApp(RunParams(), replay=recorded_run("mock_success", "mock-report"),
                     history=store, log_capacity=10)
    async with app.run_test(size=(160, 48)):
        assert app.model.sides["source"].logs.maxlen == 10
        assert len(app.model.sides["source"].logs) == 10
