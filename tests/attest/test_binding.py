"""REPORTDATA key binding and replayed RTMRs of a verified mock quote (protocol.md §5.5)."""

from __future__ import annotations

import pytest
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

from migtd import modes
from migtd.attest.binding import check_key_binding, report_data_for_key
from migtd.attest.verify import verify_quote
from migtd.errors import SecureSessionError
from migtd.eventlog import parse_event_log, replay_rtmrs, v1_event_log
from migtd.result import MigrationResult


def _point() -> bytes:
    key = ec.generate_private_key(ec.SECP384R1())
    return key.public_key().public_bytes(Encoding.X962, PublicFormat.UncompressedPoint)


def test_mock_quote_binds_key_and_log(pki, provider):
    point, log = _point(), v1_event_log(b"{}", b"root")
    quote = provider.quote(provider.td_report(report_data_for_key(point), log))
    v = verify_quote(quote, pki.collateral, pki.root_ca_der)
    check_key_binding(v.report_data, point)
    assert v.rtmrs == replay_rtmrs(parse_event_log(log))
    assert v.report[520:568] == report_data_for_key(point)[:48]


def test_other_key_is_a_session_error(pki, provider):
    quote = provider.quote(provider.td_report(report_data_for_key(_point()), v1_event_log(b"{}", b"r")))
    v = verify_quote(quote, pki.collateral, pki.root_ca_der)
    with pytest.raises(SecureSessionError) as err:
        check_key_binding(v.report_data, _point())
    assert err.value.result == MigrationResult.SecureSessionError


def _provider(env):
    mode = modes.resolve("mock-report", env)
    return mode.provider(modes.Setup("migration", 1, b"", b"", env, 60.0))


def test_mode_registry_picks_the_mock_report_provider(azure):
    assert _provider({}).name == "mock-qe"
    p = _provider({"MOCK_QUOTE_FILE": str(azure.dir / "az_migtd_quote.blob")})
    assert p.name == "mock-quote-file"
    assert p.quote(p.td_report(bytes(64), b"")) == azure.quote
    assert p.td_report(bytes(64), b"") == azure.mock_td_report
