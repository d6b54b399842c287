"""v1 building blocks: the check truth table, the document parser's errors, events, decisions."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from migtd.eventlog import (
    EV_EFI_PLATFORM_FIRMWARE_BLOB2,
    EV_EVENT_TAG,
    EV_PLATFORM_CONFIG_FLAGS,
    CcEvent,
    tagged_event,
)
from migtd.policy import PolicyError, evaluate_v1, load_v1
from migtd.policy.decision import PolicyDecision, RuleResult, emit_decision
from migtd.policy.v1_check import check
from migtd.policy.v1_document import Reference, RefKind, classify_reference
from migtd.policy.v1_events import EventParseError, NamedEvent, name_events
from migtd.result import MigrationResult

GUID = "9D50F353-27B6-44FE-9EF4-2969F9533969"


def R(value: object) -> Reference:
    return classify_reference(value, "ref")


# --------------------------------------------------------------------------- §2.1 reference kinds

@pytest.mark.parametrize("value,kind", [
    ("self", RefKind.SELF), ("13..18", RefKind.RANGE), ("..12", RefKind.RANGE), ("+1..", RefKind.RANGE),
    ("..", RefKind.RANGE), ("1..2..3", RefKind.STRING), ("0x1..5", RefKind.STRING), ("0", RefKind.STRING),
    ("Self", RefKind.STRING), (0, RefKind.INTEGER), (2**64 - 1, RefKind.INTEGER), ([0, 255], RefKind.ARRAY),
    ([], RefKind.ARRAY),
])
def test_reference_kinds(value: object, kind: RefKind) -> None:
    assert R(value).kind is kind


def test_open_range_bounds() -> None:
    assert R("..").value == (0, 2**64 - 1)
    assert R("5..").value == (5, 2**64 - 1)


# --------------------------------------------------------------------------- §2.3 check table

LOCAL4 = bytes.fromhex("01020304")


@pytest.mark.parametrize("op,ref,local,peer,is_src,expected", [
    ("equal", 11, b"", bytes.fromhex("0B00"), True, True),
    ("greater-or-equal", 12, b"", bytes.fromhex("0B00"), True, False),
    ("subset", 11, b"", bytes.fromhex("0B00"), True, False),
    ("equal", 0, b"", bytes(9), True, False),                          # integer vs > 8 bytes
    ("equal", "0B00", b"", bytes.fromhex("0B00"), True, True),
    ("equal", "0b00", b"", bytes.fromhex("0B00"), True, False),        # upper-case only
    ("greater-or-equal", "0B00", b"", bytes.fromhex("0B00"), True, False),
    ("in-range", "13..18", b"", (17).to_bytes(8, "little"), True, True),
    ("in-range", "13..18", b"", (18).to_bytes(8, "little"), True, False),   # end exclusive
    ("in-time-range", "13..18", b"", (13).to_bytes(8, "little"), True, True),
    ("equal", "13..18", b"", (13).to_bytes(8, "little"), True, False),
    ("array-equal", [1, 2], b"", b"\x01\x02", True, True),
    ("array-equal", [1, 2, 3], b"", b"\x01\x02", True, False),
    ("array-greater-or-equal", [1, 2], b"", b"\x01\x03", True, True),
    ("array-greater-or-equal", [1, 2], b"", b"\x00\x03", True, False),
    ("equal", [1, 2], b"", b"\x01\x02", True, False),
    ("equal", "self", b"\x01", b"\x01", True, True),
    ("equal", "self", b"\x01", b"\x01\x00", True, False),               # length differs
    ("greater-or-equal", "self", LOCAL4, bytes.fromhex("01010305"), True, True),   # test_self_greater_or_equal
    ("greater-or-equal", "self", LOCAL4, bytes.fromhex("01050303"), True, False),
    ("greater-or-equal", "self", LOCAL4, bytes.fromhex("01010305"), False, False),  # dst side flips
    ("greater-or-equal", "self", bytes(9), bytes(9), True, False),      # > 8 bytes
    ("array-greater-or-equal", "self", b"\x01\x01", b"\x02\x02", True, True),
    ("array-greater-or-equal", "self", b"\x01\x01", b"\x02\x02", False, False),
    ("array-greater-or-equal", "self", b"\x02\x02", b"\x01\x01", False, True),
    ("in-range", "self", b"\x01", b"\x01", True, False),
    ("subset", "self", b"\x01", b"\x01", True, False),
])
def test_check_table(op: str, ref: object, local: bytes, peer: bytes, is_src: bool, expected: bool) -> None:
    assert check(op, R(ref), local, peer, is_src) is expected


# --------------------------------------------------------------------------- §2.1 bad documents

def doc(*blocks: object, ident: str = GUID) -> bytes:
    return json.dumps({"id": ident, "policy": list(blocks)}).encode()


def migtd(**tdinfo: object) -> dict:
    return {"MigTD": {"TDINFO": tdinfo}}


PLATFORM = {"fmspc": "self", "Platform": {"TcbInfo": {}}}


@pytest.mark.parametrize("policy,message", [
    (doc(PLATFORM, {"QE": {"QeIdentity": {}}}, {"TDXModule": {"TDXModule_Identity": {}}}, migtd(XFAM={"operation": "equals", "reference": "self"})),
     'policy[3].MigTD.TDINFO.XFAM: unknown operation "equals"'),
    (doc(PLATFORM, migtd(MRTD={"operation": "equal", "reference": True})),
     "policy[1].MigTD.TDINFO.MRTD.reference: reference must be"),
    (doc(PLATFORM, migtd(MRTD={"operation": "equal", "reference": 1.5})),
     "policy[1].MigTD.TDINFO.MRTD.reference: reference must be"),
    (doc(PLATFORM, migtd(MRTD={"operation": "equal", "reference": None})),
     "policy[1].MigTD.TDINFO.MRTD.reference"),
    (doc(PLATFORM, migtd(MRTD={"operation": "equal"})), 'policy[1].MigTD.TDINFO.MRTD: missing "reference"'),
    (doc(PLATFORM, migtd(MRTD={"operation": 5, "reference": "self"})), "policy[1].MigTD.TDINFO.MRTD.operation"),
    (doc(PLATFORM, {"fmspcx": "self"}), "policy[1]: block matches none"),
    (doc(PLATFORM, ["MigTD"]), "policy[1]: a policy block must be an object"),
    (doc(PLATFORM, ident="not-a-guid"), 'id: "not-a-guid" is not a GUID'),
    (json.dumps({"policy": []}).encode(), 'id: missing "id"'),
    (json.dumps({"id": GUID}).encode(), 'policy: missing "policy"'),
    (b'{"id": "' + GUID.encode() + b'", "policy": [], "id": "' + GUID.encode() + b'"}', 'duplicate key "id"'),
    (b'{"id": "' + GUID.encode() + b'", "policy": [NaN]}', "policy: invalid JSON"),
    (b"[1, 2]", "the policy document must be an object"),
    (b"\xff\xfe", "policy: not UTF-8"),
    (b"", "policy: invalid JSON"),
    (doc(PLATFORM, migtd(MRTD={"operation": "equ\\u0061l", "reference": "self"})).replace(b"\\\\", b"\\"),
     "operation must not contain escape sequences"),
], ids=lambda v: "" if isinstance(v, bytes) else v[:40])
def test_bad_documents_name_the_path(policy: bytes, message: str) -> None:
    with pytest.raises(PolicyError) as err:
        load_v1(policy)
    assert err.value.kind.value == "InvalidPolicy"
    assert err.value.result is MigrationResult.InvalidPolicyError
    assert message in err.value.message
    decision = evaluate_v1(policy, is_source=True, local_report=bytes(822), peer_report=bytes(822))
    assert decision.kind == "InvalidPolicy" and decision.result is MigrationResult.InvalidPolicyError
    assert message in decision.error.message  # type: ignore[union-attr]


def test_error_contract_load_raises_evaluate_does_not() -> None:
    """Documented contract: load_v1 fails fast with PolicyError; evaluate_v1 never raises."""
    with pytest.raises(PolicyError):
        load_v1(b"{")
    assert evaluate_v1(b"{", is_source=True, local_report=b"", peer_report=b"").kind == "InvalidParameter"
    assert evaluate_v1(b"{", is_source=True, local_report=bytes(822), peer_report=bytes(822)).kind == "InvalidPolicy"


def test_duplicate_property_keeps_last() -> None:
    text = (b'{"id":"' + GUID.encode() + b'","policy":[{"fmspc":"self","Platform":{"TcbInfo":{}}},'
            b'{"MigTD":{"TDINFO":{"MRTD":{"operation":"subset","reference":"self"},'
            b'"MRTD":{"operation":"equal","reference":"self"}}}}]}')
    assert evaluate_v1(text, is_source=True, local_report=bytes(822), peer_report=bytes(822)).ok


def test_eventlog_null_means_no_rules(pvec: Path, report_dat: bytes) -> None:
    policy = (pvec / "derived/v1_policies/eventlog_null.json").read_bytes()
    assert evaluate_v1(policy, is_source=True, local_report=report_dat, peer_report=report_dat).ok


@pytest.mark.parametrize("name,expected", [
    ("missing_id.json", "InvalidPolicy"),
    ("no_platform_block.json", "PlatformNotFound"),
    ("no_tdxmodule_block.json", "OK"),
    ("tdinfo_unknown_key.json", "InvalidParameter"),
    ("ge_self_on_48byte_field.json", "UnqualifiedMigTdInfo"),
    ("equal_with_array_ref.json", "UnqualifiedPlatformInfo"),
    ("range_open_end.json", "UnqualifiedPlatformInfo"),   # pcesvn 11 is below "12.."
])
def test_other_derived_policies(pvec: Path, report_dat: bytes, name: str, expected: str) -> None:
    """Derived policies outside the §6.1 table, with the outcome §2 implies."""
    policy = (pvec / "derived/v1_policies" / name).read_bytes()
    assert evaluate_v1(policy, is_source=True, local_report=report_dat, peer_report=report_dat).kind == expected


# --------------------------------------------------------------------------- §1.4 event naming

def test_name_events() -> None:
    svn = b"td_payload_svn\0\0" + (8).to_bytes(4, "little") + (15).to_bytes(8, "little")
    events = [
        CcEvent(1, EV_EFI_PLATFORM_FIRMWARE_BLOB2, b"\x01" * 48, bytes([11]) + b"td_payload\0" + b"rest"),
        CcEvent(1, EV_PLATFORM_CONFIG_FLAGS, b"\x02" * 48, b"secure_authority..."),
        CcEvent(1, EV_PLATFORM_CONFIG_FLAGS, b"\x03" * 48, svn),
        tagged_event(3, 1, b"policy", b"policy"),
        tagged_event(3, 2, b"root", b"root"),
        tagged_event(2, 3, b"chain", b"chain"),
        tagged_event(3, 1, b"policy2", b"policy2"),      # later event of the same name wins
    ]
    named = name_events(events)
    assert set(named) == {"MigTdCore", "SecureBootKey", "MigTdCoreSvn", "MigTdPolicy", "SgxRootKey",
                          "MigTdPolicySigner"}
    assert named["MigTdCoreSvn"].data == (15).to_bytes(8, "little")
    assert named["MigTdCore"].data is None
    assert named["MigTdPolicy"].digest == tagged_event(3, 1, b"policy2", b"").digest


@pytest.mark.parametrize("event", [
    CcEvent(1, EV_EFI_PLATFORM_FIRMWARE_BLOB2, bytes(48), bytes([20]) + b"short"),
    CcEvent(1, EV_EVENT_TAG, bytes(48), b"\x01\x00"),
    CcEvent(1, EV_PLATFORM_CONFIG_FLAGS, bytes(48), b"td_payload_svn\0\0" + (8).to_bytes(4, "little") + b"\x01"),
])
def test_truncated_events_fail_the_parse(event: CcEvent) -> None:
    with pytest.raises(EventParseError):
        name_events([event])


# --------------------------------------------------------------------------- decisions as data

def test_rule_result_event_fields() -> None:
    rule = RuleResult("MigTD.TDINFO", "MRTD", "equal", "self", "AB", "CD", False, "differs", "policy[3].MigTD.TDINFO.MRTD")
    assert rule.as_event() == {"section": "MigTD.TDINFO", "field": "MRTD", "operation": "equal", "reference": "self",
                               "local": "AB", "actual": "CD", "ok": False, "reason": "differs"}
    assert rule.name == "MigTD.TDINFO.MRTD"


def test_emit_decision_writes_rule_and_decision_events(pvec: Path, report_dat: bytes) -> None:
    import io

    from migtd.events import EventLog
    policy = (pvec / "src/policy/test/policy_002.json").read_bytes()
    from migtd.attest.suppl import with_field
    decision = evaluate_v1(policy, is_source=True, local_report=report_dat,
                           peer_report=with_field(report_dat, "RTMR1", b"\x01" * 48))
    out = io.StringIO()
    emit_decision(EventLog("source", 1, fmt="json", stream=out), decision)
    records = [json.loads(line) for line in out.getvalue().splitlines()]
    rules = [r for r in records if r["event"] == "policy_rule"]
    final = records[-1]
    assert len(rules) == len(decision.rules)
    assert rules[-1]["field"] == "RTMR1" and rules[-1]["ok"] is False and rules[-1]["reason"]
    assert final["event"] == "policy_decision" and final["ok"] is False
    assert final["failed_rules"] == ["MigTD.TDINFO.RTMR1"] and final["policy_version"] == 1


def test_decision_helpers() -> None:
    d = PolicyDecision.passed([])
    assert d.ok and d.result is MigrationResult.Success and d.kind == "OK" and d.failed_rules() == []


def test_missing_events_reason(report_dat: bytes, pvec: Path) -> None:
    policy = (pvec / "src/policy/test/policy_full2.json").read_bytes()
    local = {"MigTdCoreSvn": NamedEvent(bytes(48), (15).to_bytes(8, "little"))}
    d = evaluate_v1(policy, is_source=True, local_report=report_dat, peer_report=report_dat,
                    local_events=local, peer_events={})
    assert d.kind == "UnqualifiedMigTdInfo" and "missing from the peer's log" in d.error.message  # type: ignore[union-attr]


def test_policy_package_imports_no_network_or_tls() -> None:
    """The engine is pure: importing it pulls in no TLS, asyncio or transport code."""
    import subprocess
    import sys
    code = ("import sys, migtd.policy, migtd.policy.v2, migtd.policy.generate, migtd.policy.sign; "
            "print(sorted(m for m in ('OpenSSL', 'asyncio', 'ssl', 'migtd.ratls', 'migtd.transport', "
            "'migtd.session', 'migtd.cli') if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], check=False, capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "[]"
