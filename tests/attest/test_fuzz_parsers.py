"""The byte parsers under fuzzing: the CI budget of ``scripts/fuzz_parsers.py``.

Each target (quote, TD report, SGX-extension walker, PCK certificate as the
verifier reads it, collateral JSON, signed texts, supplemental data) gets its
seeds — the real vectors and mock-PKI material — and a short seeded hypothesis
run of arbitrary and mutated input. Only the project's error types may escape,
and the properties each target checks (round trips, the fast TCB-info reader
agreeing with the checked one) must hold. The campaign (>= 100 000 inputs per
target, coverage-guided with atheris) is the script; its counts are in
benchmarks/RESULTS.md.
"""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "scripts"))

import fuzz_parsers

CI_RUNS = 150


@pytest.fixture(scope="module")
def seeds(vectors: Path) -> dict[str, list[bytes]]:
    return fuzz_parsers.seeds(vectors)


@pytest.mark.parametrize("target", sorted(fuzz_parsers.TARGETS))
def test_target_raises_only_project_errors(seeds, target) -> None:  # type: ignore[no-untyped-def]
    assert seeds[target], f"no seeds for {target}"
    tried, problems = fuzz_parsers.run_hypothesis(target, CI_RUNS, seeds[target])
    assert tried >= CI_RUNS
    assert problems == []


def test_a_foreign_exception_is_reported(monkeypatch) -> None:  # type: ignore[no-untyped-def]
    """The harness does catch what it looks for (a parser raising IndexError would be a finding)."""
    def broken(data: bytes) -> None:
        raise IndexError("index out of range")

    monkeypatch.setitem(fuzz_parsers.TARGETS, "quote", broken)
    assert fuzz_parsers.check_one("quote", b"\x04\x00") == "IndexError: index out of range"


@pytest.mark.parametrize("target", sorted(fuzz_parsers.TARGETS))
def test_seeds_are_valid_input(seeds, target) -> None:  # type: ignore[no-untyped-def]
    """Every seed parses: mutation starts from valid input, not only from noise."""
    parse = fuzz_parsers._valid_parsers()[target]
    for data in seeds[target]:
        assert parse(data) is not None
