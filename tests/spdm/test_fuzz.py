"""Hypothesis over every decoder of migtd.spdm: only the package's own error types escape.

A short seeded budget for CI; scripts/spdm_fuzz_campaign.py runs the same
targets for ≥ 100 000 inputs each.
"""

from __future__ import annotations

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from .fuzz_targets import SEEDS, TARGETS, run


def _mutations(seeds: list[bytes]) -> st.SearchStrategy[bytes]:
    def mutate(seed: bytes, pos: int, value: int, cut: int, insert: bytes) -> bytes:
        if not seed:
            return insert
        pos %= len(seed)
        flipped = seed[:pos] + bytes([value]) + seed[pos + 1:]
        return (flipped[:len(flipped) - cut] if cut else flipped) + insert
    return st.builds(mutate, st.sampled_from(seeds), st.integers(0, 1 << 16), st.integers(0, 255),
                     st.integers(0, 16), st.binary(max_size=4))


@pytest.mark.parametrize("name", sorted(TARGETS))
@settings(max_examples=100, deadline=None, derandomize=True,
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture])
@given(data=st.data())
def test_decoder_raises_only_its_own_errors(name: str, data: st.DataObject) -> None:
    seeds = SEEDS.get(name, [b""])
    value = data.draw(st.one_of(st.binary(max_size=300), _mutations(seeds)))
    run(name, value)  # an unexpected exception type fails the test


@pytest.mark.parametrize("name", sorted(TARGETS))
def test_seeds_are_accepted(name: str) -> None:
    """The seeds are valid inputs, so mutations start from deep inside each decoder."""
    for seed in SEEDS.get(name, []):
        assert run(name, seed), name
