"""``--quote-request igvm``: the quote asked for through the IGVM GetQuote buffer (spdm.md §11).

The buffer codec itself is pinned in tests/spdm/test_igvm.py; here the engine's
use of it: the emulated VMM answers with the mode's quote source, busy answers
(failed back-end calls, ``MIGTD_QUOTE_FAILURES``) are retried with upstream's
back-off and anything else fails at once with MutualAttestationError; skip-RA's
emulator answers with a mock quote, which then travels (chunked) in the SPDM
attestation message, as upstream's skip-RA + igvm-attest build does; and the
option works with RA-TLS too (upstream's CI combination).
"""

from __future__ import annotations

import io
import json

import pytest

from migtd import modes, paths
from migtd.emu.igvm import IgvmQuoteProvider
from migtd.emu.quote_retry import FailureInjector, quote_with_retry
from migtd.errors import MigtdError
from migtd.events import EventLog
from migtd.mock.providers import MockQeProvider
from migtd.result import MigrationResult as R
from migtd.spdm import igvm

from .conftest import AZ_QUOTE


class Backend:
    """A quote source that fails its first ``failures`` calls."""

    name = "test-backend"

    def __init__(self, quote: bytes = b"\x51" * 5006, failures: int = 0) -> None:
        self.result = quote
        self.failures = failures
        self.calls = 0

    def td_report(self, report_data: bytes, event_log: bytes) -> bytes:
        return bytes(128) + report_data + bytes(1024 - 192)

    def quote(self, td_report: bytes) -> bytes:
        self.calls += 1
        if self.calls <= self.failures:
            raise MigtdError("back end unavailable", R.MutualAttestationError)
        return self.result


def _log() -> tuple[EventLog, io.StringIO]:
    stream = io.StringIO()
    return EventLog("source", 1, fmt="json", level="debug", stream=stream), stream


def _messages(stream: io.StringIO) -> list[str]:
    return [json.loads(line)["msg"] for line in stream.getvalue().splitlines()]


def test_the_quote_comes_back_through_the_buffer() -> None:
    backend = Backend()
    provider = IgvmQuoteProvider(backend, backend.quote)
    log, stream = _log()
    sleeps: list[float] = []
    quote = quote_with_retry(provider, backend.td_report(b"\x07" * 64, b""), log, None, sleeps.append)
    assert quote == backend.result and sleeps == []
    assert "get_quote_igvm returned quote_size = 5006" in _messages(stream)
    assert any(m.startswith("AzCVMEmu: Detected legacy quote request") for m in _messages(stream))
    assert (provider.name, provider.via) == ("test-backend", "igvm")


def test_busy_answers_are_retried_with_upstreams_back_off() -> None:
    backend = Backend(failures=2)
    injector = FailureInjector(1)  # MIGTD_QUOTE_FAILURES=1: the emulated VMM fails first, answering busy
    provider = IgvmQuoteProvider(backend, backend.quote)
    log, stream = _log()
    sleeps: list[float] = []
    assert quote_with_retry(provider, bytes(1024), log, injector, sleeps.append) == backend.result
    assert sleeps == [0.020, 0.040, 0.080]
    messages = _messages(stream)
    assert sum("Simulating quote failure" in m for m in messages) == 1
    assert sum("Emulated GetQuote failed: back end unavailable" in m for m in messages) == 2


def test_still_busy_after_six_attempts_is_7() -> None:
    backend = Backend(failures=99)
    log, _ = _log()
    sleeps: list[float] = []
    with pytest.raises(MigtdError) as failed:
        quote_with_retry(IgvmQuoteProvider(backend, backend.quote), bytes(1024), log, None, sleeps.append)
    assert failed.value.result == R.MutualAttestationError
    assert "still busy after 6 attempts" in failed.value.message
    assert sleeps == list(igvm.RETRY_DELAYS) and backend.calls == 6


@pytest.mark.parametrize("quote, problem", [(b"", "quote length 0"), (b"\x01" * 8193, "quote length 8193")])
def test_a_quote_the_buffer_cannot_carry_fails_at_once(quote: bytes, problem: str) -> None:
    """Not busy: no retry (upstream maps it to Error::GetQuote)."""
    backend = Backend(quote)
    log, _ = _log()
    sleeps: list[float] = []
    with pytest.raises(MigtdError) as failed:
        quote_with_retry(IgvmQuoteProvider(backend, backend.quote), bytes(1024), log, None, sleeps.append)
    assert failed.value.result == R.MutualAttestationError and problem in failed.value.message
    assert sleeps == [] and backend.calls == 1


def _setup(mode: str, env: dict[str, str]) -> modes.Setup:
    return modes.Setup("migration", 1, b"{}", b"", env, 10.0, None, "igvm")


def test_the_registry_wraps_every_modes_provider() -> None:
    for key in ("skip-ra", "mock-report", "mock-quote-file"):
        mode = modes.by_key(key)
        env = {"MOCK_QUOTE_FILE": str(AZ_QUOTE)} if key == "mock-quote-file" else {}
        provider = mode.quote_provider(_setup(key, env))
        assert isinstance(provider, IgvmQuoteProvider) and provider.name == mode.provider(_setup(key, env)).name
        direct = mode.quote_provider(_setup(key, env)._replace(quote_request="direct"))
        assert not isinstance(direct, IgvmQuoteProvider)


def test_skip_ra_emulator_answers_with_a_mock_quote() -> None:
    """§11.4: skip-RA + igvm-attest carries a mock quote, not the 822 null bytes."""
    mode = modes.by_key("skip-ra")
    log, _ = _log()
    provider = mode.quote_provider(_setup("skip-ra", {}))
    report = provider.td_report(bytes(64), b"")
    quote = quote_with_retry(provider, report, log, None, lambda s: None)
    assert len(quote) == len(MockQeProvider().quote(report)) == paths.sample_quote().stat().st_size
    with_file = mode.quote_provider(_setup("skip-ra", {"MOCK_QUOTE_FILE": str(AZ_QUOTE)}))
    assert quote_with_retry(with_file, report, log, None, lambda s: None) == AZ_QUOTE.read_bytes()
    assert quote_with_retry(mode.provider(_setup("skip-ra", {})), report, log, None) == bytes(822)


@pytest.mark.parametrize("key_exchange", ["spdm", "ratls"])
def test_skip_ra_pair_with_igvm(procs, cases, port, key_exchange: str) -> None:  # type: ignore[no-untyped-def]
    env = dict(cases("skip-ra", 1).env, MIGTD_QUOTE_REQUEST="igvm", MIGTD_KEY_EXCHANGE=key_exchange)
    src, dst = procs.pair(port, env)
    assert (src.code, dst.code) == (0, 0), src.stderr + dst.stderr
    for run in (src, dst):
        run.clean()
        quote = run.event("quote_generated")
        assert quote["via"] == "igvm" and quote["source"] == "skip-ra" and quote["bytes"] == 4253
        assert run.event("config")["quote_request"] == "igvm"
        if key_exchange == "spdm":  # the mock quote makes the attestation message chunked (§11.4)
            assert run.event("spdm_evidence_exchanged")["chunks_sent"] >= 1


def test_mock_report_with_igvm_and_quote_retry_over_spdm(procs, cases, port) -> None:  # type: ignore[no-untyped-def]
    """--mock-quote-retry with igvm-attest: the first 5 GetQuotes answer busy, the sixth succeeds."""
    env = dict(cases("mock-report", 2).env, MIGTD_QUOTE_REQUEST="igvm")
    src, dst = procs.pair(port, env, src_env=dict(env, MIGTD_QUOTE_FAILURES="5"))
    assert (src.code, dst.code) == (0, 0), src.stderr + dst.stderr
    busy = [e["msg"] for e in src.events if e["msg"].startswith("get_quote_igvm: quote service busy")]
    assert len(busy) == 5
    assert src.event("peer_attested")["bypassed"] == [] and dst.event("peer_attested")["verified"] is True


def test_six_busy_answers_end_the_source_with_7(procs, cases, port) -> None:  # type: ignore[no-untyped-def]
    env = dict(cases("skip-ra", 1).env, MIGTD_QUOTE_REQUEST="igvm", MIGTD_TIMEOUT="5")
    src, dst = procs.pair(port, env, src_env=dict(env, MIGTD_QUOTE_FAILURES="6"))
    src.clean()
    dst.clean()
    assert src.code == R.MutualAttestationError and "get_quote_igvm failed" in src.reason
    assert dst.code == R.SecureSessionError  # the responder waited; the source closed (§6.4)


def test_log_file_naming_a_mock_qe_key_is_refused_with_skip_ra_and_igvm(cases, tmp_path) -> None:  # type: ignore[no-untyped-def]
    """skip-RA's emulated GetQuote reads the mock QE's keys: MIGTD_LOG_FILE may not name one (exit 1, untouched)."""
    import subprocess

    from .conftest import MIGTD

    key = paths.mock_dir() / "pck_key.pem"
    before = key.read_bytes()
    env = dict(cases("skip-ra", 1).env, MIGTD_QUOTE_REQUEST="igvm", MIGTD_LOG_FILE=str(key))
    done = subprocess.run(MIGTD + ["-m", "dst", "-t", "1"], env=env, capture_output=True, text=True, timeout=30,
                          check=False)
    assert done.returncode == 1 and "mock QE file pck_key.pem" in done.stdout
    assert key.read_bytes() == before
