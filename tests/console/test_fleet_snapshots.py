"""Snapshots of the Fleet screen over a synthetic fleet (fixed times; nothing shown depends on the fresh keys).

Update after an intended change with
``.venv/bin/python -m pytest tests/console/test_fleet_snapshots.py --snapshot-update``
and look at the SVGs in ``__snapshots__/`` (e.g. ``rsvg-convert -w 1800 X.svg -o X.png``) before committing.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from textual.coordinate import Coordinate

from migtd.fleet.synthetic import SyntheticFleet
from tui import fleet
from tui.app import ConsoleApp
from tui.history import HistoryStore
from tui.params import RunParams
from tui.screens.fleet import FleetScreen, PairScreen
from tui.widgets.fleet import CellDetail, MatrixGrid

from .conftest import plain, until
from .fleet_fixture import write_fleet

SIZE = (160, 48)


@pytest.fixture(scope="module")
def files(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    return write_fleet(tmp_path_factory.mktemp("fleet-snapshots"), SyntheticFleet.create())


def app_for(files: dict[str, Path], store: HistoryStore) -> ConsoleApp:
    params = RunParams(policy_file=str(files["policy"]), root_ca_file=str(files["root_ca"]),
                       collateral_file=str(files["collateral"]))
    request = fleet.request_for(params, (str(files["fleet"]),), diff_policy=str(files["relaxed"]), workers=1)
    return ConsoleApp(params, history=store, autostart=False, fleet=request)


async def _loaded(pilot: Any) -> None:
    app = pilot.app
    await until(pilot, lambda: isinstance(app.screen, FleetScreen) and app.screen.loaded is not None, 60)
    await pilot.pause(0.2)


async def _on_base_to_ood(pilot: Any) -> None:
    """Move the cursor four cells right and wait until the screen has taken it (base → ood), not a fixed pause.

    On a loaded CI machine the key presses and the CellHighlighted message that
    redraws the side pane may land after a short pause, so the snapshot waits for
    the selected cell itself.
    """
    screen = pilot.app.screen
    grid = screen.query_one(MatrixGrid)
    # the keys must reach the grid: wait for the focus the loaded screen gives it (column 0 holds the labels)
    await until(pilot, lambda: grid.has_focus and grid.cursor_coordinate == Coordinate(0, 1), 30)
    await pilot.press("right", "right", "right", "right")

    def settled() -> bool:
        cell = screen.selected()
        if cell is None or cell.source_hosts[:1] != ("base1",) or cell.destination_hosts[:1] != ("ood1",):
            return False
        # and the side pane shows that cell (it follows the grid through a CellHighlighted message)
        return grid.cursor_coordinate == Coordinate(0, 5) and \
            plain(screen.query_one(CellDetail)).startswith(f"{cell.source.id} → {cell.destination.id}  ·")

    await until(pilot, settled, 30)
    await pilot.pause(0.2)


def test_fleet_screen(snap_compare, files: dict[str, Path], store: HistoryStore) -> None:  # type: ignore[no-untyped-def]
    """The grid with counts and the grouping line; the cursor on base → ood (refused by the source)."""
    async def run_before(pilot: Any) -> None:
        await _loaded(pilot)
        await _on_base_to_ood(pilot)

    assert snap_compare(app_for(files, store), run_before=run_before, terminal_size=SIZE)


def test_fleet_what_changes(snap_compare, files: dict[str, Path], store: HistoryStore) -> None:  # type: ignore[no-untyped-def]
    """The "what changes" mode: the TCB components rule removed flips two groups of pairs to allowed."""
    async def run_before(pilot: Any) -> None:
        await _loaded(pilot)
        await pilot.press("w")
        await until(pilot, lambda: pilot.app.screen.diff is not None, 60)
        await pilot.pause(0.2)

    assert snap_compare(app_for(files, store), run_before=run_before, terminal_size=SIZE)


def test_fleet_pair(snap_compare, files: dict[str, Path], store: HistoryStore) -> None:  # type: ignore[no-untyped-def]
    """A cell opened: both sides' rule tables, failures first."""
    async def run_before(pilot: Any) -> None:
        await _loaded(pilot)
        await _on_base_to_ood(pilot)
        await pilot.press("enter")
        await until(pilot, lambda: isinstance(pilot.app.screen, PairScreen), 30)
        await pilot.pause(0.3)

    assert snap_compare(app_for(files, store), run_before=run_before, terminal_size=SIZE)
