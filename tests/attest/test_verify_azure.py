"""The real Azure quote against real collateral (attestation.md §8.2).

None of these depend on the wall clock: by default the verifier uses MigTD's
midpoint rule (§3.4), which derives "now" from the collateral itself, and the
strict checks pass an explicit ``at=``. The THIM collateral is expired at any
real date (its TCB info ran out in 2024), which is exactly why MigTD's rule is
the default; the explicit-time tests show the difference.
"""

from __future__ import annotations

import dataclasses
import time
from datetime import UTC, datetime

import pytest

from migtd.attest.collateral_cache import CollateralCache
from migtd.attest.verify import QuoteVerificationError, verify_quote


def test_thim_collateral(azure):
    v = verify_quote(azure.quote, azure.thim, azure.root_ca)
    assert v.tcb_status == "UpToDate" and v.advisories == []
    assert v.fmspc.hex().upper() == "90C06F000000"
    assert v.tcb_evaluation_data_number == 16
    assert v.verification_time == datetime(2025, 3, 29, 6, 9, 15, tzinfo=UTC)
    assert v.collateral_expired and v.time_rule == "midpoint"
    assert v.tcb_date == datetime(2023, 8, 9, tzinfo=UTC) and v.module_svn == 2
    assert v.report == azure.expected_thim


def test_production_collateral(azure):
    v = verify_quote(azure.quote, azure.prod, azure.root_ca)
    assert v.tcb_status == "UpToDate" and v.advisories == []
    assert v.tcb_evaluation_data_number == 18 and not v.collateral_expired
    assert v.verification_time == datetime(2025, 12, 2, 5, 3, 49, tzinfo=UTC)
    assert v.tcb_date == datetime(2024, 11, 13, tzinfo=UTC) and v.module_svn == 6
    assert v.report[625] == 6 and v.report[590:592] == b"\x05\x00"
    assert v.report == azure.expected_prod
    assert v.pck_crl_number == 1 and v.root_ca_crl_number == 1


def test_hardcoded_collateral_behaves_like_thim(azure):
    v = verify_quote(azure.quote, azure.hardcoded, azure.root_ca)
    assert v.tcb_status == "UpToDate" and v.tcb_evaluation_data_number == 16
    assert v.report == azure.expected_thim


def test_report_layout_matches_quote(azure):
    v = verify_quote(azure.quote, azure.prod, azure.root_ca)
    assert v.report[:584] == azure.quote[48:632]
    assert v.report[136:184] == v.mrtd and v.report[520:584] == v.report_data
    assert v.report[742:750] == b"UpToDate" and v.report[750:774] == bytes(24)


def test_event_fields_are_upper_hex(azure):
    f = verify_quote(azure.quote, azure.prod, azure.root_ca).event_fields()
    assert f["verified"] is True and f["tcb_status"] == "UpToDate" and f["advisories"] == []
    assert f["fmspc"] == "90C06F000000" and f["tee_tcb_svn"] == "07010300000000000000000000000000"
    assert f["mrtd"].startswith("556FD5FC") and len(f["rtmrs"]) == 4 and f["rtmrs"][3] == "0" * 96
    assert f["quote_bytes"] == 5006


def test_trailing_bytes_removed_gives_identical_result(azure):
    a = verify_quote(azure.quote, azure.prod, azure.root_ca)
    b = verify_quote(azure.quote[:4936], azure.prod, azure.root_ca)
    assert a.report == b.report and a.tcb_status == b.tcb_status


def test_strict_time_production_valid_on_2025_11_20(azure):
    """Explicit at=: 2025-11-20 lies in the production collateral's consistent window."""
    v = verify_quote(azure.quote, azure.prod, azure.root_ca, at=datetime(2025, 11, 20, tzinfo=UTC))
    assert v.time_rule == "explicit" and v.tcb_status == "UpToDate"


@pytest.mark.parametrize("at", [datetime(2025, 5, 1, tzinfo=UTC), datetime(2026, 1, 1, tzinfo=UTC)])
def test_strict_time_production_outside_window(azure, at):
    with pytest.raises(QuoteVerificationError) as err:
        verify_quote(azure.quote, azure.prod, azure.root_ca, at=at)
    assert err.value.step == "time"


def test_strict_time_thim_never_valid(azure):
    """THIM's items have no common validity instant (§4.2); strict mode must refuse it."""
    for at in (datetime(2024, 7, 20, tzinfo=UTC), datetime(2025, 3, 29, tzinfo=UTC),
               datetime(2025, 11, 20, tzinfo=UTC)):
        with pytest.raises(QuoteVerificationError) as err:
            verify_quote(azure.quote, azure.thim, azure.root_ca, at=at)
        assert err.value.step == "time"


def test_preproduction_root_is_rejected(azure):
    with pytest.raises(QuoteVerificationError) as err:
        verify_quote(azure.quote, azure.prod, azure.preprod_root_ca)
    assert err.value.step in ("crl", "root_ca")


def test_preproduction_collateral_is_rejected(azure):
    with pytest.raises(QuoteVerificationError) as err:
        verify_quote(azure.quote, azure.preprod, azure.preprod_root_ca)
    assert err.value.step == "root_ca"


def test_fmspc_missing_from_collateral(azure):
    others = tuple(p for p in azure.prod.platforms if p.fmspc != "90C06F000000")
    with pytest.raises(QuoteVerificationError) as err:
        verify_quote(azure.quote, dataclasses.replace(azure.prod, platforms=others), azure.root_ca)
    assert err.value.step == "tcb_info" and "90C06F000000" in err.value.problem


def test_second_quote_reuses_verified_collateral(azure):
    """The collateral is checked once; later quotes hit the cache and are cheaper."""
    cache = CollateralCache()
    t0 = time.perf_counter()
    verify_quote(azure.quote, azure.prod, azure.root_ca, cache=cache)
    cold = time.perf_counter() - t0
    assert len(cache) == 1 and (azure.prod, azure.root_ca) in cache
    verified = cache.verified(azure.prod, azure.root_ca)
    warm = min(_timed(lambda: verify_quote(azure.quote, azure.prod, azure.root_ca, cache=cache)) for _ in range(5))
    assert cache.verified(azure.prod, azure.root_ca) is verified and len(cache) == 1
    assert warm < cold


def _timed(fn) -> float:
    t0 = time.perf_counter()
    fn()
    return time.perf_counter() - t0
