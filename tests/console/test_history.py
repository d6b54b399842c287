"""Run history and reports: typed records from disk, the state directory, retention, no input overwritten."""

from __future__ import annotations

import dataclasses
import json
import os
import re
from pathlib import Path
from typing import Any

import pytest
from textual.widgets import DataTable

from tui import locations
from tui.app import ConsoleApp, main
from tui.history import HistoryStore, Retention
from tui.params import RunParams
from tui.record import PARAMS, RecordError, RunRecord
from tui.report import save_reports
from tui.screens.history import HistoryScreen

from .conftest import recorded_run

SIZE = (160, 48)


def good_record(run_id: str = "20251126-040640-abcd") -> dict[str, Any]:
    rec = recorded_run("policy_reject", "mock-report", exits={"source": 6, "destination": 8}, run_id=run_id)
    return json.loads(json.dumps(rec.to_json()))


def nested(depth: int) -> Any:
    value: Any = "x"
    for _ in range(depth):
        value = [value]
    return value


def deep_text(depth: int) -> str:
    return "[" * depth + "]" * depth


#: (what is wrong, how to break a good record) — every kind of #11's "records trusted blindly".
BAD_RECORDS = [
    ("number for a string", lambda r: r.update(run_id=5), "run_id must be"),
    ("number for a string in params", lambda r: r["params"].update(dest_ip=7), "params.dest_ip must be a string"),
    ("string for a number", lambda r: r.update(started_at="yesterday"), "started_at must be a finite number"),
    ("list for a mapping (params)", lambda r: r.update(params=["a"]), "params must be an object, not a list"),
    ("list for a mapping (lines)", lambda r: r.update(lines=["x"]), "lines must be an object, not a list"),
    ("list for a mapping (exits)", lambda r: r["exits"].update(source=[6]), "exits.source must be an object"),
    ("numbers for lines", lambda r: r["lines"].update(source=[1, 2]), "lines.source[0] must be a string"),
    ("mapping for a list", lambda r: r["params"].update(roles={"a": 1}), "params.roles must be a list"),
    ("unknown side", lambda r: r["lines"].update(middle=["x"]), "only 'source' and 'destination'"),
    ("absurd line count", lambda r: r["lines"].update(source=["x"] * 10_001), "10001 items, at most 10000"),
    ("absurd line length", lambda r: r["lines"].update(source=["x" * 100_000]), "characters long, at most"),
    ("absurd number", lambda r: r["params"].update(request_id=2**70), "outside 0…"),
    ("absurd time", lambda r: r.update(started_at=1e300), "outside"),
    ("bool for an int", lambda r: r["exits"]["source"].update(code=True), "code must be an integer"),
    ("bad transport", lambda r: r["exits"]["source"].update(transport=["ssh"]), "transport must be"),
    ("deep nesting inside", lambda r: r["params"].update(roles=nested(50)), "params.roles[0] must be a string"),
    ("path in the run id", lambda r: r.update(run_id="../../etc/passwd"), "run_id must be"),
    ("not a run record", lambda r: r.update(format="something-else"), "not a migtd-console run record"),
]


@pytest.mark.parametrize("what, damage, reason", BAD_RECORDS, ids=[b[0] for b in BAD_RECORDS])
def test_a_bad_record_is_one_line_for_replay(tmp_path: Path, xdg: Path, capsys: pytest.CaptureFixture[str],
                                             what: str, damage: Any, reason: str) -> None:
    record = good_record()
    damage(record)
    path = tmp_path / "run.json"
    path.write_text(json.dumps(record))
    with pytest.raises(RecordError, match=re.escape(reason)):
        RunRecord.from_json(record)
    assert main(["--replay", str(path)]) == 1
    err = capsys.readouterr().err
    assert err.startswith("migtd-console: ") and err.count("\n") == 1 and "Traceback" not in err
    assert reason.split("…")[0] in err


@pytest.mark.parametrize("content, reason", [
    (deep_text(100_000), "nested deeper than 128 levels"),
    ("{" * 100_000, "nested deeper than 128 levels"),
    ('{"format": "migtd-console-run/1", "run_id": "a"', "invalid JSON"),
    ("\udcff".encode("utf-8", "surrogatepass"), "not UTF-8"),
    ("", "is empty"),
])
def test_unparseable_files_are_one_line(tmp_path: Path, xdg: Path, capsys: pytest.CaptureFixture[str],
                                        content: str | bytes, reason: str) -> None:
    path = tmp_path / "run.json"
    path.write_bytes(content if isinstance(content, bytes) else content.encode())
    assert main(["--replay", str(path)]) == 1
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and reason in err and "Traceback" not in err


def test_non_regular_and_huge_files_are_refused_without_reading(tmp_path: Path, xdg: Path,
                                                                capsys: pytest.CaptureFixture[str]) -> None:
    fifo = tmp_path / "fifo.json"
    os.mkfifo(fifo)  # no writer: opening it blockingly would hang
    assert main(["--replay", str(fifo)]) == 1
    assert "not a regular file (a FIFO)" in capsys.readouterr().err
    big = tmp_path / "big.json"
    with open(big, "wb") as fh:
        fh.truncate(65 * 1024 * 1024)  # sparse: costs no disk
    assert main(["--replay", str(big)]) == 1
    assert "above the 67108864-byte limit" in capsys.readouterr().err
    assert main(["--replay", "../../etc/passwd"]) == 1  # not an id, not a .json file
    assert "no saved run '../../etc/passwd'" in capsys.readouterr().err


def test_every_run_parameter_has_a_schema_entry() -> None:
    """A field added to RunParams must be added to tui.record.PARAMS (or a replay drops it)."""
    missing = {f.name for f in dataclasses.fields(RunParams)} - set(PARAMS)
    assert not missing, f"add {sorted(missing)} to tui.record.PARAMS"
    # and what RunParams writes is what the schema reads back
    params = RunParams(roles=["destination", "source"], src_host="h", ssh_options=["Port=22"]).to_dict()
    record = good_record()
    record["params"] = params
    assert RunRecord.from_json(record).params == params


async def test_history_screen_lists_a_bad_summary_and_refuses_a_bad_run(store: HistoryStore) -> None:
    good = recorded_run("skipra_success", "skip-ra", exits={"source": 0, "destination": 0},
                        run_id="20251126-040000-good")
    store.save(good, good.replay())
    broken = recorded_run("mock_success", "mock-report", exits={"source": 0, "destination": 0},
                          run_id="20251126-030000-brkn")
    store.save(broken, broken.replay())
    bad_meta = store.runs / "20251126-030000-brkn.meta.json"
    bad_meta.write_text(json.dumps({"run_id": "20251126-030000-brkn", "started_at": 1.0, "mode": ["x"],
                                    "roles": "source", "results": [], "msk_match": None, "ok": "yes"}))
    run = json.loads((store.runs / "20251126-030000-brkn.json").read_text())
    run["lines"] = {"source": [{"ts": 1}]}  # a mapping where a string belongs
    (store.runs / "20251126-030000-brkn.json").write_text(json.dumps(run))
    app = ConsoleApp(RunParams(), history=store, autostart=False)
    notes: list[str] = []
    app.notify = lambda message, **kw: notes.append(str(message))  # type: ignore[method-assign]
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("h")
        await pilot.pause(0.1)
        assert isinstance(app.screen, HistoryScreen)
        table = app.screen.query_one(DataTable)
        assert table.row_count == 2
        broken_row = [info.run_id for info in app.screen.runs].index("20251126-030000-brkn")
        row = table.get_row_at(broken_row)  # listed by its file's time: its summary has none to trust
        assert row[-1].startswith("unreadable: mode must be")
        table.move_cursor(row=broken_row)
        await pilot.press("enter")  # open the broken one
        await pilot.pause(0.2)
        assert isinstance(app.screen, HistoryScreen)  # refused: still here, the app runs on
        assert notes and "lines.source[0] must be a string, not an object" in notes[-1]
        assert "\n" not in notes[-1]
        await pilot.press("j")  # exporting it is refused the same way
        await pilot.pause(0.1)
        assert notes[-1].startswith("cannot export: ") and "lines.source[0]" in notes[-1]
        await pilot.press("d")  # an unreadable run can still be deleted
        await pilot.pause(0.1)
        assert [info.run_id for info in store.list()] == ["20251126-040000-good"]


# --------------------------------------------------------------------------- reports never overwrite inputs

@pytest.mark.parametrize("link", ["symlink", "hardlink"])
def test_a_report_never_overwrites_a_run_input(tmp_path: Path, link: str) -> None:
    policy = tmp_path / "policy.json"
    policy.write_text('{"policy": "precious"}')
    record = recorded_run("policy_reject", "mock-report", exits={"source": 6, "destination": 8})
    record.params["policy_file"] = str(policy)
    reports = tmp_path / "reports"
    reports.mkdir()
    target = reports / f"migtd-run-{record.run_id}.json"
    os.symlink(policy, target) if link == "symlink" else os.link(policy, target)
    from migtd.inputs import InputError
    from tui.record import inputs_of

    with pytest.raises(InputError, match=r"is the policy file .*refusing to overwrite an input"):
        save_reports(record.replay(), record.run_id, record.started_at, reports, inputs=inputs_of(record.params))
    assert policy.read_text() == '{"policy": "precious"}'


async def test_saving_a_replayed_run_never_overwrites_the_record_it_came_from(tmp_path: Path, store: HistoryStore
                                                                              ) -> None:
    record = recorded_run("policy_reject", "mock-report", exits={"source": 6, "destination": 8})
    store.reports.mkdir(parents=True)
    path = store.reports / f"migtd-run-{record.run_id}.json"  # the operator keeps the run file there
    path.write_text(json.dumps(record.to_json()))
    original = path.read_text()
    replay = store.load(str(path))
    app = ConsoleApp(RunParams(), replay=replay, history=store)
    notes: list[str] = []
    app.notify = lambda message, **kw: notes.append(str(message))  # type: ignore[method-assign]
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("s")
        await pilot.pause(0.1)
    assert path.read_text() == original
    assert notes and notes[-1].startswith("cannot save report: report ") and "is the saved run" in notes[-1]


def test_saving_history_never_writes_through_a_planted_link(tmp_path: Path, store: HistoryStore) -> None:
    precious = tmp_path / "precious.txt"
    precious.write_text("keep me")
    record = recorded_run("skipra_success", "skip-ra", exits={"source": 0, "destination": 0})
    store.runs.mkdir(parents=True)
    os.symlink(precious, store.runs / f"{record.run_id}.json")
    os.link(precious, store.runs / f"{record.run_id}.meta.json")
    store.save(record, record.replay())
    assert precious.read_text() == "keep me"
    assert store.load(record.run_id).run_id == record.run_id


# --------------------------------------------------------------------------- state dir, migration, retention

def test_history_lives_in_the_state_dir_and_old_runs_move_there_once(xdg: Path) -> None:
    assert locations.history_dir() == xdg / "state" / "migtd-console" / "runs"
    assert locations.reports_dir() == xdg / "data" / "migtd-console" / "reports"
    legacy = locations.legacy_history_dir()
    old = HistoryStore(xdg / "data" / "migtd-console", retention=Retention(0, 0))  # what older versions wrote
    assert old.runs == legacy
    rec = recorded_run("skipra_success", "skip-ra", exits={"source": 0, "destination": 0})
    old.save(rec, rec.replay())
    store = HistoryStore(retention=Retention(0, 0))
    assert [info.run_id for info in store.list()] == [rec.run_id]
    assert "moved 2 file(s) of run history" in store.migration_note
    assert not legacy.exists() and (locations.history_dir() / f"{rec.run_id}.json").exists()
    again = HistoryStore(retention=Retention(0, 0))
    assert again.migrate() == "" and [info.run_id for info in again.list()] == [rec.run_id]


def test_retention_by_count_and_age(tmp_path: Path) -> None:
    now = 1_800_000_000.0
    store = HistoryStore(tmp_path, retention=Retention(keep_runs=3, keep_days=10))
    for i in range(6):
        rec = recorded_run("skipra_success", "skip-ra", exits={"source": 0, "destination": 0},
                           run_id=f"run-{i}")
        rec.started_at = now - (5 - i) * 86400 * 3  # run-5 is now, run-0 fifteen days ago
        store.runs.mkdir(parents=True, exist_ok=True)
        (store.runs / f"{rec.run_id}.json").write_text(json.dumps(rec.to_json()))
        (store.runs / f"{rec.run_id}.meta.json").write_text(json.dumps(
            {"run_id": rec.run_id, "started_at": rec.started_at, "mode": "skip-ra", "roles": ["source"],
             "results": {"source": "0 Success"}, "msk_match": None, "ok": True}))
    assert store.prune(now=now) == ["run-2", "run-1", "run-0"]  # beyond 3 runs (and 0, 1 too old)
    store.retention = Retention(keep_runs=0, keep_days=4)
    assert store.prune(now=now) == ["run-3"]  # 6 days old
    store.retention = Retention(keep_runs=1, keep_days=0)
    assert store.prune(now=now, keep="run-4") == ["run-5"]  # the protected run stays, even if older
    assert [info.run_id for info in store.list()] == ["run-4"]


def test_saving_applies_the_retention_limit(tmp_path: Path) -> None:
    store = HistoryStore(tmp_path, retention=Retention(keep_runs=2, keep_days=0))
    for i in range(4):
        rec = recorded_run("skipra_success", "skip-ra", exits={"source": 0, "destination": 0},
                           run_id=f"20251126-04000{i}-aaaa")
        rec.started_at += i
        store.save(rec, rec.replay())
    assert [info.run_id for info in store.list()] == ["20251126-040003-aaaa", "20251126-040002-aaaa"]


def test_retention_flags_and_settings(xdg: Path, capsys: pytest.CaptureFixture[str],
                                      monkeypatch: pytest.MonkeyPatch) -> None:
    from tui.settings import load_settings, settings_path

    path = settings_path()
    path.parent.mkdir(parents=True)
    path.write_text("history_keep_runs = 7\nhistory_keep_days = 0\n")
    settings, problem = load_settings()
    assert problem == "" and (settings.history_keep_runs, settings.history_keep_days) == (7, 0)
    path.write_text("history_keep_runs = -1\nhistory_keep_days = 1.5\n")
    settings, problem = load_settings()
    assert "history_keep_runs must be an integer from 0" in problem and "history_keep_days must be" in problem
    assert (settings.history_keep_runs, settings.history_keep_days) == (200, 90)
    for bad in (["--keep-runs", "-3"], ["--keep-days", "٣"], ["--keep-runs", "9" * 400]):
        with pytest.raises(SystemExit) as exit_:
            main(bad)
        assert exit_.value.code == 1
        err = capsys.readouterr().err
        assert err.count("\n") == 1 and bad[0] in err and "Traceback" not in err
    seen: list[Retention] = []
    monkeypatch.setattr(ConsoleApp, "run", lambda self, **kw: seen.append(self.history.retention))
    path.write_text("history_keep_runs = 7\n")
    main(["--keep-days", "3", "--role", "source", "--skip-ra", "--migtd", "/nonexistent"])
    assert seen == [Retention(keep_runs=7, keep_days=3)]  # flag over settings over default


def test_locate_prints_every_path(xdg: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["--locate"]) == 0
    out = capsys.readouterr().out.splitlines()
    assert out[0].startswith("settings:") and out[0].endswith(str(xdg / "config" / "migtd-console" / "settings.toml"))
    assert any(line.startswith("history:") and line.endswith(str(xdg / "state" / "migtd-console" / "runs"))
               for line in out)
    assert any(line.startswith("reports:") for line in out) and any("default policy" in line for line in out)
