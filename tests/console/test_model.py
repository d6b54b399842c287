"""The pure run model, fed with fixed streams: hand-written in the docs/events.md format, or captured from migtd."""

from __future__ import annotations

import json

import pytest

from migtd.events import MskExchanged, PeerAttested, PolicyDecided
from tui.model import HISTORY_EVENTS, HISTORY_TAIL, MAX_LINE, RunModel, SideState, attestation_verdict, policy_verdict
from tui.record import RunRecord

from .conftest import recorded_run, stream


def feed(name: str, roles: tuple[str, ...] = ("source", "destination"), mode: str = "skip-ra") -> RunModel:
    model = RunModel({"attestation": mode, "roles": list(roles)})
    for role in roles:
        model.feed_many(role, stream(name, role))
    return model


def states(side: SideState) -> dict[str, str]:
    return {name: step.state for name, step in side.steps.items()}


def test_skip_ra_success_timeline_result_and_msk() -> None:
    model = feed("skipra_success")
    src, dst = model.sides["source"], model.sides["destination"]
    assert states(src) == {"connected": "done", "TLS": "done", "quote": "done",
                           "peer attested": "skipped", "policy": "skipped", "MSK": "done", "done": "done"}
    assert src.steps["connected"].elapsed == pytest.approx(0.05)
    assert src.steps["TLS"].elapsed == pytest.approx(0.11)
    assert src.result is not None and src.result.code == 0 and src.result.name == "Success"
    assert src.result.meaning.startswith("the migration session key was exchanged")
    assert dst.listening == ("127.0.0.1", 8001)
    assert model.msk_match is True
    assert model.succeeded and model.finished
    assert model.attestation_of("source").status == "NOT VERIFIED"
    assert src.malformed == 0


def test_mock_report_attestation_and_policy() -> None:
    model = feed("mock_success", mode="mock-report")
    att = model.attestation_of("source")  # the source's quote, judged by the destination
    rows = dict(att.rows())
    assert att.status == "verified"
    assert rows["TCB status"] == "UpToDate"
    assert rows["FMSPC"] == "90C06F000000"
    assert rows["quote source"] == "mock-qe"
    assert rows["RTMR3"] == "3F" * 48
    assert rows["bypassed"] == "reportdata_binding"
    dst = model.sides["destination"]
    assert len(dst.policy_rows) == 8 and all(row.ok for row in dst.policy_rows)
    assert dst.steps["policy"].state == "done" and dst.steps["peer attested"].state == "done"
    assert model.succeeded


def test_policy_rejection_shows_failure_first_and_exit_8() -> None:
    model = feed("policy_reject", mode="mock-report")
    dst, src = model.sides["destination"], model.sides["source"]
    rows = dst.sorted_policy()
    assert not rows[0].ok and (rows[0].section, rows[0].field) == ("tdx_module", "tee_tcb_svn")
    assert all(row.ok for row in rows[1:])
    assert rows[0].actual == "0B01060000000000" and "below the reference" in rows[0].reason
    assert dst.result is not None and dst.result.code == 8
    assert dst.result.name == "PolicyUnsatisfiedError"
    assert "do not satisfy the migration policy" in dst.result.meaning
    assert dst.steps["policy"].state == "failed"
    assert dst.steps["MSK"].state == "pending"  # the first open step after the failure is policy
    assert src.result is not None and src.result.code == 6
    assert src.steps["MSK"].state == "failed"
    assert model.msk_match is None and not model.succeeded


def test_peer_quote_rejected_is_not_verified_and_policy_not_evaluated() -> None:
    """A real run: the source refuses the destination's quote (failed_step root_ca) before its policy."""
    model = feed("quote_reject", mode="mock-report")
    src, dst = model.sides["source"], model.sides["destination"]
    assert src.steps["peer attested"].state == "failed"
    assert src.steps["peer attested"].note == "not verified: failed at root_ca"
    assert src.steps["policy"].state == "skipped"
    assert src.steps["policy"].note == "not evaluated (the peer quote did not verify)"
    assert src.steps["MSK"].state == "pending"  # the failing step is marked; nothing after it ran
    assert model.attestation_of("destination").status == "NOT VERIFIED: failed at root_ca"
    assert src.result is not None and src.result.name == "MutualAttestationError"
    assert dst.result is not None and dst.result.code == 6 and dst.steps["peer attested"].state == "pending"
    # skip-RA's accept-all keeps its own wording
    skip = feed("skipra_success").sides["source"]
    assert (skip.steps["peer attested"].note, skip.steps["policy"].note) == ("not verified", "skipped")


def decision(ok: bool, skipped: bool, failed: tuple[str, ...] = (), reason: str | None = None) -> PolicyDecided:
    return PolicyDecided(ok=ok, failed_rules=failed, skipped=skipped, policy_version=1, reason=reason)


def attested(verified: bool, failed_step: str | None = None) -> PeerAttested:
    return PeerAttested(verified=verified, tcb_status="", advisories=[], fmspc="", mrtd="", rtmrs=[],
                        tee_tcb_svn="", quote_bytes=0, bypassed=[], failed_step=failed_step)


def test_policy_verdicts_from_records() -> None:
    assert policy_verdict(decision(True, True)) == ("skipped", "skipped")
    assert policy_verdict(decision(False, True, reason="not evaluated: bad binding")) == \
        ("skipped", "not evaluated (bad binding)")
    assert policy_verdict(decision(False, True)) == ("skipped", "not evaluated")
    assert policy_verdict(decision(True, False)) == ("done", "satisfied")
    assert policy_verdict(decision(False, False, ("a.b", "c.d"))) == ("failed", "2 rule(s) failed")
    assert attestation_verdict(attested(False)) == ("skipped", "not verified")
    assert attestation_verdict(attested(False, "quote_signature")) == \
        ("failed", "not verified: failed at quote_signature")
    assert attestation_verdict(attested(True)) == ("done", "verified")


def test_ssh_failure_without_exit_event() -> None:
    model = RunModel({"roles": ["destination", "source"]})
    model.launched("destination", "ssh 10.9.9.9")
    model.feed_many("destination", stream("ssh_failure", "destination"))
    model.ended("destination", 255, "ssh")
    model.failed_to_start("source", "not started: the destination exited before listening")
    dst, src = model.sides["destination"], model.sides["source"]
    assert dst.result is not None and dst.result.name == "SSHError"
    assert dst.result.reason == "ssh: connect to host 10.9.9.9 port 22: Connection timed out"
    assert dst.steps["connected"].state == "failed"
    assert src.result is not None and src.result.name == "NotStarted"
    assert "exited before listening" in src.result.reason
    assert model.finished and not model.succeeded


def test_exit_event_wins_over_ssh_status() -> None:
    """ssh exits 255 when the remote process is killed; the exit event is the truth."""
    model = feed("skipra_success")
    model.ended("destination", 255, "ssh")
    assert model.sides["destination"].result.code == 0  # type: ignore[union-attr]


def test_malformed_lines_are_kept_and_never_crash() -> None:
    model = RunModel()
    model.feed_many("source", stream("malformed", "source"))
    src = model.sides["source"]
    texts = [line.text for line in src.logs]
    assert "Traceback (most recent call last):" in texts
    assert "[1, 2, 3]" in texts
    assert any(t.startswith('{"ts": 1764130000.01') for t in texts)  # truncated JSON shown raw
    assert "an event this console does not know" in texts  # an event name from a newer migtd: its msg
    # traceback x2, truncated, array, object w/o event, garbage, and two refused records
    assert src.malformed == 8
    refused = [line for line in src.logs if line.event == "refused"]
    assert [line.level for line in refused] == ["raw", "raw"]
    assert refused[0].text.startswith("connected: 'ts' must be a finite number, not a string · {")
    assert refused[1].text.startswith("exit: field 'code' must be an integer, not a string · {")
    # a refused record changes nothing: no step from the odd 'connected', no result from the odd 'exit'
    assert src.steps["connected"].state == "pending"
    assert src.result is None
    model.ended("source", 5)  # the process status is what the side's result comes from
    assert src.result is not None and src.result.code == 5 and src.result.source == "process"


def test_command_not_found_and_signal_exit() -> None:
    model = RunModel()
    model.feed("source", "bash: line 1: migtd: command not found")
    model.ended("source", 127, "ssh")
    assert model.sides["source"].result.name == "CommandNotFound"  # type: ignore[union-attr]
    model.ended("destination", 143)
    assert model.sides["destination"].result.name == "Signal15"  # type: ignore[union-attr]


def test_msk_mismatch_detected() -> None:
    model = feed("skipra_success")
    model.sides["destination"].msk = MskExchanged(mig_version=1, key_sha256_8="0000000000000000")
    assert model.msk_match is False and not model.succeeded


def test_ring_buffer_and_history_are_bounded() -> None:
    model = RunModel(log_capacity=1000)
    model.feed_many("source", stream("skipra_success", "source")[:3])
    flood = [json.dumps({"ts": 1764130001.0 + i * 1e-4, "level": "debug", "role": "source",
                         "request_id": 1, "event": "log", "msg": f"line {i}"}) for i in range(20000)]
    model.feed_many("source", flood)
    model.feed("source", "x" * (MAX_LINE * 3))
    src = model.sides["source"]
    assert len(src.logs) == 1000 and src.total_lines == 20004
    assert len(src.logs[-1].text) <= MAX_LINE + 1
    kept = src.history_lines()
    # structured events survive the flood; of the 20 002 log/raw lines only the last
    # HISTORY_TAIL are kept, in arrival order
    assert len(kept) == 2 + HISTORY_TAIL <= HISTORY_TAIL + HISTORY_EVENTS
    assert [json.loads(raw)["event"] for raw in kept[:2]] == ["start", "config"]
    assert json.loads(kept[2])["msg"] == f"line {20000 - HISTORY_TAIL + 1}"
    assert kept[-1].startswith("xxx")


def test_record_roundtrip_replays_identically() -> None:
    record = recorded_run("policy_reject", "mock-report", exits={"source": 6, "destination": 8})
    model = record.replay()
    again = RunRecord.from_json(json.loads(json.dumps(record.to_json()))).replay()
    assert model.summary() == again.summary()
    assert model.sides["destination"].result.code == 8  # type: ignore[union-attr]
    with pytest.raises(ValueError):
        RunRecord.from_json({"format": "something-else"})
    with pytest.raises(ValueError, match="malformed"):  # not a traceback for --replay
        RunRecord.from_json({"format": "migtd-console-run/1", "lines": ["not", "a", "mapping"]})


def test_stream_captured_from_the_engine_mock_report() -> None:
    """Output of the real ``migtd --attestation mock-report`` (both sides), captured once."""
    model = feed("engine_mock_success", mode="mock-report")
    for role in ("source", "destination"):
        side = model.sides[role]
        assert side.malformed == 0
        assert side.result is not None and side.result.code == 0 and side.result.source == "event"
        assert all(step.state == "done" for step in side.steps.values()), side.steps
        assert len(side.policy_rows) >= 20 and all(row.ok for row in side.policy_rows)
        att = dict(model.attestation_of(role).rows())
        assert att["status"] == "verified" and att["TCB status"] == "UpToDate"
        assert att["quote source"] == "mock-qe" and att["FMSPC"] == "90C06F000000"
    assert model.sides["destination"].listening is not None
    assert model.msk_match is True and model.succeeded
