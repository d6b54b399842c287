"""The Fleet screen's launch key: a real migration for the selected pair, over a real sshd.

Two inventory hosts (``base1``, ``base2``) are reached through ssh_config
aliases of one loopback sshd; ``l`` on their cell must start exactly the run
the planner makes for ``--src-host fleet-src --dst-host fleet-dst`` with the
policy in force and the mode the evidence was collected in, show it in the
Run screen, and the two real ``migtd`` processes must complete it.
"""

from __future__ import annotations

import sys
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest

from migtd import paths
from migtd.fleet.synthetic import SyntheticFleet
from tests.loopback import free_port
from tui import fleet
from tui.app import ConsoleApp
from tui.history import HistoryStore
from tui.launchers import Launcher, make_launcher, ssh_argv
from tui.params import RunParams
from tui.screens.fleet import FleetScreen, fleet_pair
from tui.screens.run import RunScreen
from tui.widgets.panes import RunHeader

from .conftest import Sshd, plain, until
from .fleet_fixture import write_fleet

SIZE = (160, 48)


def migtd_bin() -> str:
    path = Path(sys.executable).with_name("migtd")
    if not path.exists():
        pytest.fail(f"{path} missing: pip install -e .")
    return str(path)


async def test_launch_key_runs_the_planned_pair_over_ssh(sshd: Sshd, store: HistoryStore, tmp_path: Path) -> None:
    files = write_fleet(tmp_path, SyntheticFleet.create())
    for alias in ("fleet-src", "fleet-dst"):
        sshd.add(alias)
    inventory = tmp_path / "hosts.yaml"
    inventory.write_text("hosts:\n  - {name: base1, address: fleet-src, groups: [eastus]}\n"
                         "  - {name: base2, address: fleet-dst, groups: [westus]}\n")
    # The run uses the console's defaults (config/policy.json, the project's mock PKI); the synthetic
    # evidence has its own PKI, so the matrix calls every pair not attested: the launch is how to check.
    base = RunParams(migtd=migtd_bin(), remote_migtd=migtd_bin(), dest_port=free_port(), timeout=10,
                     ssh_config=str(sshd.ssh_config))
    request = fleet.request_for(base, (str(files["fleet"]),), inventory=str(inventory), workers=1)
    launched: list[tuple[str, RunParams, list[str]]] = []

    def factory(role: str, params: RunParams) -> Launcher:
        launcher = make_launcher(role, params)
        launched.append((role, params, list(launcher.argv)))
        return launcher

    app = ConsoleApp(base, history=store, autostart=False, fleet=request, factory=factory)
    async with app.run_test(size=SIZE) as pilot:
        await until(pilot, lambda: isinstance(app.screen, FleetScreen) and app.screen.loaded is not None, 60)
        screen = app.screen
        assert isinstance(screen, FleetScreen)
        cell = screen.selected()
        assert cell is not None and fleet_pair(cell) == ("base1", "base2")
        await pilot.press("l")
        await until(pilot, lambda: isinstance(app.screen, RunScreen) and app.model.finished and not app.running, 90)
        await pilot.pause(0.2)
        expected = replace(base, roles=["destination", "source"], attestation="mock-report",
                           src_host="fleet-src", dst_host="fleet-dst", dest_ip="127.0.0.1",
                           src_policy_file=str(paths.default_policy()), dst_policy_file=str(paths.default_policy()))
        assert [role for role, _, _ in launched] == ["destination", "source"]
        for role, params, argv in launched:
            assert params == expected
            host = "fleet-dst" if role == "destination" else "fleet-src"
            assert argv == ssh_argv(host, expected.command_line(role), ssh_config=str(sshd.ssh_config))
        command = launched[0][2][-1]
        assert f"MIGTD_POLICY_FILE={paths.default_policy()}" in command
        assert "--role destination" in command and "--attestation mock-report" in command
        assert "--dest-ip 127.0.0.1" in command and f"--dest-port {base.dest_port}" in command
        model = app.model
        for role, host in (("source", "fleet-src"), ("destination", "fleet-dst")):
            side = model.sides[role]
            assert side.where == f"ssh {host}"
            assert side.result is not None and side.result.code == 0, (side.result, list(side.logs)[-5:])
            assert side.result.source == "event"
        assert model.msk_match is True
        head = plain(app.screen.query_one(RunHeader))
        assert "source: ssh fleet-src" in head and "destination: ssh fleet-dst" in head and "succeeded" in head
        # back on the Fleet screen the matrix is still there; the run is in the history
        await pilot.press("F")
        await pilot.pause(0.1)
        assert app.screen is screen and screen.loaded is not None
    assert [r.ok for r in store.list()] == [True]


async def test_launch_refused_by_the_planner_is_one_line(store: HistoryStore, tmp_path: Path) -> None:
    """A pair whose run the planner refuses (azure with policy v1 needs a collateral): one line, nothing started."""
    files = write_fleet(tmp_path, SyntheticFleet.create())
    base = RunParams(migtd=migtd_bin(), dest_port=free_port())
    request = fleet.request_for(base, (str(files["fleet"]),), workers=1)
    started: list[Any] = []
    app = ConsoleApp(base, history=store, autostart=False, fleet=request,
                     factory=lambda role, params: started.append(role))  # type: ignore[arg-type,return-value]
    async with app.run_test(size=SIZE) as pilot:
        await until(pilot, lambda: isinstance(app.screen, FleetScreen) and app.screen.loaded is not None, 60)
        screen = app.screen
        assert isinstance(screen, FleetScreen)
        # every synthetic host was collected in mock-report: say the first class's were azure's
        loaded = screen.loaded
        assert loaded is not None
        loaded.matrix.classes[0].profile["attestation"] = "azure"

        def told(text: str) -> bool:
            return any(text in str(n.message) for n in app._notifications)

        await pilot.press("l")  # base1 → base2: azure with policy v1 and no collateral named
        await until(pilot, lambda: told("cannot launch base1 → base2: attestation mode azure needs the collateral"),
                    10)
        await pilot.pause(0.1)
        assert started == [] and isinstance(app.screen, FleetScreen)
