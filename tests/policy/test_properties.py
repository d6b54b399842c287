"""Property tests: generated policies accept their report, each covered byte is owned by one
rule, and arbitrary input only ever produces the project's PolicyError."""

from __future__ import annotations

import json

from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from migtd.attest import suppl as rpt
from migtd.policy import PolicyError, evaluate_v1, load_v1
from migtd.policy.generate import dump, policy_from_report
from migtd.policy.v1 import QE_FIELDS, TCB_INFO_FIELDS, TD_ATTRIBUTES_MASK, TDINFO_FIELDS, TDX_MODULE_FIELDS, XFAM_MASK
from migtd.policy.v1_events import NamedEvent
from migtd.policy.v2 import EvaluationInfo, evaluate_block, verify_signed_policy
from migtd.policy.v2.document import parse_entries

SETTINGS = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
EVENTS = {"MigTdPolicy": NamedEvent(b"\x01" * 48), "SgxRootKey": NamedEvent(b"\x02" * 48)}

#: rule name -> report field, for every rule a generated policy contains
RULE_FIELDS = {"Platform.fmspc": "FMSPC"}
for section, table in (("Platform.TcbInfo", TCB_INFO_FIELDS), ("QE.QeIdentity", QE_FIELDS),
                       ("TDXModule.TDXModule_Identity", TDX_MODULE_FIELDS), ("MigTD.TDINFO", TDINFO_FIELDS)):
    for prop, fld in table.items():
        RULE_FIELDS[f"{section}.{prop}"] = fld
MASKS = {"TD_ATTRIBUTES": TD_ATTRIBUTES_MASK, "XFAM": XFAM_MASK}

reports = st.binary(min_size=rpt.REPORT_SIZE, max_size=rpt.REPORT_SIZE)


def evaluate(policy: bytes, local: bytes, peer: bytes, is_source: bool = True):  # type: ignore[no-untyped-def]
    return evaluate_v1(policy, is_source=is_source, local_report=local, peer_report=peer,
                       local_events=EVENTS, peer_events=EVENTS)


@SETTINGS
@given(report=reports, is_source=st.booleans())
def test_generated_policy_accepts_its_report(report: bytes, is_source: bool) -> None:
    policy = dump(policy_from_report(report, policy_id="9D50F353-27B6-44FE-9EF4-2969F9533969"))
    d = evaluate(policy, report, report, is_source)
    assert d.ok, d.error
    checked = {r.name for r in d.rules}
    not_generated = {"TDXModule.TDXModule_Identity.MRSEAM", "Platform.TcbInfo.fmspc"}
    assert set(RULE_FIELDS) - not_generated <= checked


@SETTINGS
@given(report=reports, data=st.data())
def test_changing_a_covered_byte_fails_exactly_its_rule(report: bytes, data: st.DataObject) -> None:
    policy = dump(policy_from_report(report, policy_id="9D50F353-27B6-44FE-9EF4-2969F9533969"))
    rules = {r.name: r for r in evaluate(policy, report, report).rules}
    name = data.draw(st.sampled_from(sorted(n for n in rules if n in RULE_FIELDS)))
    fld = RULE_FIELDS[name]
    off, size = rpt.FIELDS[fld]
    mask = MASKS.get(fld, b"\xff" * size)
    i = data.draw(st.sampled_from([j for j in range(size) if mask[j]]))
    peer = bytearray(report)
    if rules[name].operation in ("greater-or-equal", "array-greater-or-equal"):
        assume(peer[off + i] > 0)                      # only a smaller value can fail a minimum
        peer[off + i] = data.draw(st.integers(0, peer[off + i] - 1))
    else:
        peer[off + i] ^= data.draw(st.integers(1, 255)) & mask[i] or mask[i]
    d = evaluate(policy, report, bytes(peer))
    assert not d.ok
    assert d.failed_rules() == [name]


json_values = st.recursive(
    st.none() | st.booleans() | st.integers(-2**70, 2**70) | st.floats(allow_nan=False) | st.text(max_size=12),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4),
    max_leaves=20)
VOCAB = ["id", "policy", "fmspc", "Platform", "TcbInfo", "QE", "QeIdentity", "TDXModule", "TDXModule_Identity",
         "MigTD", "TDINFO", "EventLog", "operation", "reference", "self", "equal", "greater-or-equal",
         "array-equal", "array-greater-or-equal", "in-range", "subset", "MRTD", "XFAM", "pcesvn",
         "Digest.MigTdPolicy", "Digest.MigTdCoreSvn", "13..18", "9D50F353-27B6-44FE-9EF4-2969F9533969"]
vocab_values = st.recursive(
    st.sampled_from(VOCAB) | st.integers(-1, 300) | st.lists(st.integers(0, 256), max_size=17) | st.none(),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.sampled_from(VOCAB), inner, max_size=4),
    max_leaves=30)


@SETTINGS
@given(value=json_values | vocab_values, report=reports)
def test_random_json_only_policy_errors_v1(value: object, report: bytes) -> None:
    text = json.dumps(value).encode()
    try:
        load_v1(text)
        load_error = None
    except PolicyError as exc:
        load_error = exc
    d = evaluate_v1(text, is_source=True, local_report=report, peer_report=report)
    assert d.ok == (d.error is None)
    if load_error is not None:          # a policy load_v1 refuses is refused by evaluation the same way
        assert d.error is not None and d.error.kind is load_error.kind and d.error.message == load_error.message


@SETTINGS
@given(blocks=st.lists(vocab_values, max_size=5), report=reports, is_source=st.booleans())
def test_random_policy_shapes_never_raise(blocks: list, report: bytes, is_source: bool) -> None:
    text = json.dumps({"id": "9D50F353-27B6-44FE-9EF4-2969F9533969", "policy": blocks}).encode()
    d = evaluate_v1(text, is_source=is_source, local_report=report, peer_report=report[::-1])
    assert d.ok == (d.error is None)


@SETTINGS
@given(raw=st.binary(max_size=200))
def test_random_bytes_only_policy_errors(raw: bytes) -> None:
    for fn in (lambda: load_v1(raw), lambda: verify_signed_policy(raw, raw)):
        try:
            fn()
        except PolicyError:
            pass


V2_VOCAB = ["global", "servtd", "tcb", "platform", "crl", "migtdIdentity", "tcbEvaluationDataNumber",
            "tcbStatusAccepted", "tcbDate", "fmspc", "pckCrlNum", "rootCaCrlNum", "isvsvn", "operation",
            "reference", "equal", "greater-or-equal", "in-range", "allow-list", "deny-list", "subset", "self",
            "init", "UpToDate", "Revoked", "ConfigurationNeeded", "1..5", "2025-01-01T00:00:00Z"]
v2_values = st.recursive(
    st.sampled_from(V2_VOCAB) | st.integers(-1, 2**33) | st.none(),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.sampled_from(V2_VOCAB), inner, max_size=3),
    max_leaves=25)
statuses = st.none() | st.sampled_from(["UpToDate", "OutOfDate", "Revoked", "ConfigurationNeeded", "Bogus"])
infos = st.builds(EvaluationInfo, tcb_date=st.none() | st.sampled_from(["2024-01-01T00:00:00Z", "2026-01-01T00:00:00Z"]),
                  tcb_status=statuses, tcb_evaluation_number=st.none() | st.integers(0, 20),
                  fmspc=st.none() | st.binary(min_size=6, max_size=6), migtd_isvsvn=st.none() | st.integers(0, 5),
                  migtd_tcb_date=st.none() | st.just("2025-01-01T00:00:00Z"), migtd_tcb_status=statuses,
                  pck_crl_num=st.none() | st.integers(0, 3), root_ca_crl_num=st.none() | st.integers(0, 3))


@SETTINGS
@given(entries=v2_values, value=infos, rel=infos, skip=st.booleans())
def test_random_v2_rules_only_policy_errors(entries: object, value: EvaluationInfo, rel: EvaluationInfo,
                                            skip: bool) -> None:
    try:
        parsed = parse_entries(json.loads(json.dumps(entries)), "policy")
        evaluate_block(parsed, value, rel, skip)
    except PolicyError:
        pass
