"""Snapshot tests: the screens fed with recorded streams (no live times or ports).

Update after an intended change with
``.venv/bin/python -m pytest tests/console/test_snapshots.py --snapshot-update``
and look at the SVGs in ``__snapshots__/`` before committing them.
"""

from __future__ import annotations

from tui.app import ConsoleApp
from tui.history import HistoryStore
from tui.params import RunParams

from .conftest import recorded_run

SIZE = (160, 48)


def replay_app(store: HistoryStore, name: str, mode: str, **kw: object) -> ConsoleApp:
    return ConsoleApp(RunParams(), replay=recorded_run(name, mode, **kw), history=store)  # type: ignore[arg-type]


def test_empty_run_screen(snap_compare, store: HistoryStore) -> None:  # type: ignore[no-untyped-def]
    params = RunParams(roles=["destination", "source"], attestation="mock-report", migtd="migtd")
    assert snap_compare(ConsoleApp(params, history=store, autostart=False), terminal_size=SIZE)


def test_skip_ra_success(snap_compare, store: HistoryStore) -> None:  # type: ignore[no-untyped-def]
    app = replay_app(store, "skipra_success", "skip-ra", exits={"source": 0, "destination": 0})
    assert snap_compare(app, terminal_size=SIZE)


def test_mock_report_success(snap_compare, store: HistoryStore) -> None:  # type: ignore[no-untyped-def]
    app = replay_app(store, "mock_success", "mock-report", exits={"source": 0, "destination": 0})
    assert snap_compare(app, terminal_size=SIZE)


def test_policy_rejection(snap_compare, store: HistoryStore) -> None:  # type: ignore[no-untyped-def]
    app = replay_app(store, "policy_reject", "mock-report", exits={"source": 6, "destination": 8})
    assert snap_compare(app, terminal_size=SIZE)


def test_quote_rejection(snap_compare, store: HistoryStore) -> None:  # type: ignore[no-untyped-def]
    """The source refuses the destination's quote: "not verified: failed at …", policy "not evaluated (…)"."""
    app = replay_app(store, "quote_reject", "mock-report", exits={"source": 7, "destination": 6})
    assert snap_compare(app, terminal_size=SIZE)


def test_ssh_failure(snap_compare, store: HistoryStore) -> None:  # type: ignore[no-untyped-def]
    app = replay_app(store, "ssh_failure", "mock-report", exits={"destination": 255},
                     transport={"destination": "ssh"}, dst_host="root@10.9.9.9",
                     launch_errors={"source": "not started: the destination exited before listening"})
    assert snap_compare(app, terminal_size=SIZE)


def test_history_screen(snap_compare, store: HistoryStore) -> None:  # type: ignore[no-untyped-def]
    runs = [
        recorded_run("skipra_success", "skip-ra", exits={"source": 0, "destination": 0},
                     run_id="20251126-040640-a1b2"),
        recorded_run("mock_success", "mock-report", exits={"source": 0, "destination": 0},
                     run_id="20251126-041000-c3d4"),
        recorded_run("policy_reject", "mock-report", exits={"source": 6, "destination": 8},
                     run_id="20251126-042000-e5f6"),
    ]
    for i, rec in enumerate(runs):
        rec.started_at += 60 * i
        store.save(rec, rec.replay())
    app = ConsoleApp(RunParams(), history=store, autostart=False)
    assert snap_compare(app, press=["h", "_"], terminal_size=SIZE)
