"""Every v1 case of spec/policy.md §6.1 (derived/v1_cases.json), end to end."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from migtd.attest.suppl import FIELDS
from migtd.policy import evaluate_v1
from migtd.policy.v1_events import EVENTLOG_NAMES, NamedEvent
from migtd.result import MigrationResult

# Read at collection time (the cases parametrize the test); tests/vectors is part of the repository.
POLICY_VECTORS = Path(__file__).resolve().parents[1] / "vectors" / "policy"
CASES = json.loads((POLICY_VECTORS / "derived" / "v1_cases.json").read_text())["cases"]


def apply_mods(report: bytes, mods: dict[str, object]) -> bytes:
    out = bytearray(report)
    for name, value in mods.items():
        if name == "_length":
            length = int(value)  # type: ignore[arg-type]
            out = out[:length] + bytearray(max(0, length - len(out)))
            continue
        off, size = FIELDS[name]
        raw = bytes.fromhex(str(value))
        assert len(raw) == size, name
        out[off:off + size] = raw
    return bytes(out)


def to_events(spec: dict[str, dict[str, str]] | None) -> dict[str, NamedEvent] | None:
    if spec is None:
        return None
    events = {}
    for key, ev in spec.items():
        name = EVENTLOG_NAMES[key] if key in EVENTLOG_NAMES else key.removeprefix("Digest.")
        data = ev.get("data")
        events[name] = NamedEvent(bytes.fromhex(ev["digest"]), bytes.fromhex(data) if data is not None else None)
    return events


@pytest.mark.parametrize("case", CASES, ids=[c["id"] for c in CASES])
def test_v1_case(case: dict, pvec: Path, report_dat: bytes) -> None:
    policy = (pvec / case["policy"]).read_bytes() + b"\0" * case["policy_nul_padding"]
    decision = evaluate_v1(policy, is_source=case["is_src"],
                           local_report=apply_mods(report_dat, case["local_report_mods"]),
                           peer_report=apply_mods(report_dat, case["peer_report_mods"]),
                           local_events=to_events(case["local_events"]),
                           peer_events=to_events(case["peer_events"]))
    assert decision.kind == case["expected"], (case["description"], decision.error)
    if case["expected"] == "OK":
        assert decision.ok and decision.result is MigrationResult.Success
        assert decision.failed_rules() == []
        assert decision.rules and all(r.ok for r in decision.rules)
    else:
        assert not decision.ok
        expected_result = (MigrationResult.InvalidPolicyError if case["expected"] == "InvalidPolicy"
                           else MigrationResult.PolicyUnsatisfiedError)
        assert decision.result is expected_result
        assert decision.error is not None and decision.error.message


def test_case_table_is_complete(pvec: Path) -> None:
    """The table holds the 67 rows of §6.1 (the spec's IDs skip numbers)."""
    assert len(CASES) == 67
    assert {c["id"] for c in CASES} >= {"V1-01", "V1-53", "V1-89"}
