"""The console shows an SPDM run: its timeline steps, the verdicts in the RA-TLS panes, the MSK match.

The model is fed with what real ``migtd --key-exchange spdm`` processes wrote
(no recorded stream to go stale); the pilot test runs the real console on
real ``migtd`` processes (``--spdm``), as a user would.
"""

from __future__ import annotations

import io
import sys
import time
from pathlib import Path

import pytest
from rich.console import Console

from tui.model import SPDM_STEPS, STEPS, RunModel

SIZE = (160, 48)
SPDM_NAMES = [name for name, _ in SPDM_STEPS]


def _model(src, dst, params: dict | None = None) -> RunModel:  # type: ignore[no-untyped-def]
    model = RunModel(params or {"roles": ["destination", "source"]})
    for role, run in (("source", src), ("destination", dst)):
        model.feed_many(role, run.stderr.splitlines())
    return model


def test_spdm_timeline_from_real_processes(procs, cases, port) -> None:  # type: ignore[no-untyped-def]
    src, dst = procs.pair(port, cases("mock-report", 1).env)
    assert (src.code, dst.code) == (0, 0)
    model = _model(src, dst)  # no key_exchange in the parameters: the config event says it
    for role in ("source", "destination"):
        side = model.sides[role]
        assert list(side.steps) == SPDM_NAMES
        assert {name: step.state for name, step in side.steps.items()} == dict.fromkeys(SPDM_NAMES, "done")
        assert side.steps["negotiated"].note == "SPDM 1.2"
        assert side.steps["key exchange"].note == "0xFFFDFFFD"
        assert side.steps["secured"].note == side.msk.key_sha256_8  # type: ignore[union-attr]
        times = [side.steps[n].elapsed for n in SPDM_NAMES]
        assert all(t is not None for t in times)
    assert model.msk_match is True and model.succeeded
    # the verdicts land in the same panes as with RA-TLS
    att = model.attestation_of("source")
    rows = dict(att.rows())
    assert att.status == "verified" and rows["quote source"] == "mock-qe" and rows["bypassed"] == ""
    assert model.sides["destination"].policy is not None and model.sides["destination"].policy.ok


def test_a_failed_spdm_phase_is_the_failed_step(procs, cases, port) -> None:  # type: ignore[no-untyped-def]
    """Version ranges that do not meet: the destination refuses op 0x05, so on both sides the ``secured``
    step fails (with each side's reason) after a done ``finish``, and ``end`` never happens."""
    env = cases("skip-ra", 1).env
    src, dst = procs.pair(port, env, src_env=dict(env, MIGTD_EMU_MIG_VERSION="1-1"))
    assert (src.code, dst.code) == (1, 1)
    model = _model(src, dst, {"key_exchange": "spdm"})
    notes = {}
    for role in ("source", "destination"):
        steps = model.sides[role].steps
        assert steps["finish"].state == "done" and steps["end"].state == "pending"
        assert steps["secured"].state == "failed"
        notes[role] = steps["secured"].note
    assert "incompatible migration versions" in notes["destination"]
    assert "the peer refused with InvalidParameter (1; SPDM ERROR VendorDefined)" in notes["source"]
    assert not model.succeeded


def test_ratls_runs_keep_their_timeline() -> None:
    model = RunModel({"key_exchange": "ratls"})
    assert [name for name, _ in STEPS] == list(model.sides["source"].steps)
    assert list(RunModel({"key_exchange": "spdm"}).sides["source"].steps) == SPDM_NAMES


async def test_console_runs_an_spdm_migration(tmp_path: Path, port: int, monkeypatch: pytest.MonkeyPatch) -> None:
    """``migtd-console --both --skip-ra --spdm`` with the real migtd: the SPDM steps, the header, the result."""
    from tui.app import ConsoleApp
    from tui.history import HistoryStore, Retention
    from tui.params import RunParams
    from tui.widgets.panes import ResultBar, RunHeader, Timeline

    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "data"))
    monkeypatch.setenv("XDG_STATE_HOME", str(tmp_path / "state"))
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "config"))
    migtd = str(Path(sys.executable).with_name("migtd"))
    params = RunParams(roles=["destination", "source"], attestation="skip-ra", migtd=migtd, timeout=20,
                       dest_port=port, key_exchange="spdm")
    assert "--key-exchange" in params.argv("source")
    app = ConsoleApp(params, history=HistoryStore(tmp_path / "history", retention=Retention(keep_days=0)))
    async with app.run_test(size=SIZE) as pilot:
        deadline = time.monotonic() + 60
        while not (app.model.finished and not app.running):
            assert time.monotonic() < deadline, "the run did not finish"
            await pilot.pause(0.05)
        await pilot.pause(0.2)
        text = {name: _plain(app.screen.query_one(selector))
                for name, selector in (("header", RunHeader), ("bar", ResultBar),
                                       ("timeline", "#timeline-source"))}
        assert isinstance(app.screen.query_one("#timeline-source"), Timeline)
    assert "SPDM 1.2" in text["header"] and "NOT ATTESTED" in text["header"]
    for step in ("negotiated", "key exchange", "finish", "secured", "end"):
        assert f"✔ {step}" in text["timeline"], text["timeline"]
    assert "◌ peer attested" in text["timeline"]  # skip-RA: not verified, shown as skipped
    assert "source: 0 Success" in text["bar"] and "fingerprints match" in text["bar"]


def _plain(widget) -> str:  # type: ignore[no-untyped-def]
    console = Console(width=200, file=io.StringIO(), record=True, color_system=None)
    console.print(widget.content)
    return console.export_text()
