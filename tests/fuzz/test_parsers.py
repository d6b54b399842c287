"""Hypothesis over every byte/text parser of issue #11 item "fuzzing": only the project's errors escape.

A short seeded budget for CI (``derandomize``: the same inputs every run,
about a second per parser); ``scripts/fuzz_campaign.py`` runs the same
targets for ≥ 100 000 inputs each, coverage-guided with atheris.
"""

from __future__ import annotations

import json
import random

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from .targets import JSON_TARGETS, PVEC, TARGETS, mutate, mutate_json, run, seeds

_OPS = st.lists(st.tuples(st.integers(0, 4), st.integers(0, 1 << 20), st.integers(0, 0xFFFFFFFF)),
                min_size=1, max_size=4)
_JSON = st.recursive(st.none() | st.booleans() | st.integers(-2**70, 2**70) | st.text(max_size=20),
                     lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=12), inner,
                                                                                 max_size=4), max_leaves=20)


def _inputs(name: str) -> st.SearchStrategy[bytes]:
    pool = seeds()[name]
    mutated = st.builds(mutate, st.sampled_from(pool), _OPS, st.binary(max_size=16))
    choices = [st.binary(max_size=400), mutated]
    if name in JSON_TARGETS:
        choices.append(_JSON.map(lambda v: json.dumps(v).encode()))
        structural = st.builds(lambda seed, r: mutate_json(seed, random.Random(r)) or seed,
                               st.sampled_from(pool), st.integers(0, 2**32))
        choices.append(structural)
    return st.one_of(*choices)


@pytest.mark.parametrize("name", sorted(TARGETS))
def test_parser_raises_only_project_errors(name: str) -> None:
    @settings(max_examples=150, deadline=None, derandomize=True, database=None,
              suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
    @given(_inputs(name))
    def check(data: bytes) -> None:
        run(name, data)  # any exception but the project's own fails the test

    check()


@pytest.mark.parametrize("name", sorted(TARGETS))
def test_at_least_one_seed_is_accepted(name: str) -> None:
    """Mutations start from inside each parser, not from its first length check."""
    assert any(run(name, seed) for seed in seeds()[name])


REGRESSIONS = [  # (id, target, input, accepted): inputs that escaped as a foreign exception before the fix
    ("imds-long-int", "imds_response", b'{"quote": ' + b"9" * 5000 + b"}", False),   # ValueError (int digits)
    ("imds-deep", "imds_response", b"[" * 100_000 + b"]" * 100_000, False),           # RecursionError
    ("v2-deep", "policy_v2", b'{"policyData":' + b"[" * 100_000 + b"]" * 100_000 + b',"signature":"00"}', False),
    ("v2-doc-deep", "policy_v2_document", b"[" * 100_000 + b"]" * 100_000, True),     # refused by the JSON reader
    ("v1-deep", "policy_v1", b'{"id":' + b"[" * 100_000 + b"]" * 100_000 + b"}", True),  # a refusing decision
    ("hcl-empty", "hcl_report", b"", False),
    # a 100 000-level array in a collaterals' tcbInfo string: RecursionError from json.loads before
    ("v2-doc-deep-tcbinfo", "policy_v2_document", json.dumps({**json.loads(
        (PVEC / "src/policy/test/policy_v2/policy_data.json").read_text()), "collaterals": {
        **json.loads((PVEC / "src/policy/test/policy_v2/policy_data.json").read_text())["collaterals"],
        "platforms": [{"fmspc": "00" * 6, "tcbInfoIssuerChain": "", "tcbInfo": "[" * 100_000 + "]" * 100_000}]}}
    ).encode(), False),
    # int() of a 5000-digit range bound raised ValueError out of parse_v1 (now Rust's u64 rule: a string)
    ("v1-range-5000-digits", "policy_v1", json.dumps(
        {"id": "12345678-1234-1234-1234-123456789012", "policy": [{"MigTD": {"TDINFO": {"MRTD": {
            "operation": "in-range", "reference": "0.." + "9" * 5000}}}}]}).encode(), True),
]


@pytest.mark.parametrize("name,data,accepted", [r[1:] for r in REGRESSIONS], ids=[r[0] for r in REGRESSIONS])
def test_regressions(name: str, data: bytes, accepted: bool) -> None:
    assert run(name, data) is accepted


def test_v2_range_bound_of_thousands_of_digits_is_invalid_reference() -> None:
    """int() of a 5000-digit v2 range bound raised ValueError; now InvalidReference like any non-u32."""
    from migtd.policy.errors import PolicyError
    from migtd.policy.v2 import eval_int
    from migtd.policy.v2.document import make_prop

    prop = make_prop("in-range", "1.." + "9" * 5000, "policy[0].global.tcb.tcbEvaluationDataNumber")
    with pytest.raises(PolicyError) as exc:
        eval_int(prop, 5, None)
    assert exc.value.kind.value == "InvalidReference"
    assert eval_int(make_prop("in-range", "1..+0007", "p"), 5, None) is True
