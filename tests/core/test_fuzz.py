"""Hostile bytes never escape as anything but the documented error types.

The certificate parser, the request parser and ExchangeInformation decoding
take bytes from the peer or the VMM; whatever they get, they either return a
value or raise a MigtdError carrying a MigrationResult (so the CLI prints one
line and exits with a code), never IndexError/struct.error/ValueError.
"""

from __future__ import annotations

from cryptography.hazmat.primitives.asymmetric import ec
from hypothesis import given, settings
from hypothesis import strategies as st

from migtd import eventlog
from migtd.emu.requests import RequestError, migration_queue, parse_request
from migtd.errors import MigtdError
from migtd.protocol.msk import ExchangeInformation
from migtd.ratls import certificate as c
from migtd.ratls.evidence import evidence_from_certificate
from migtd.verdict import SessionFacts
from migtd.verifiers.skip_ra import SkipRaVerifier

_KEY = ec.generate_private_key(ec.SECP384R1())
CERT = c.build_certificate(_KEY, bytes(822), eventlog.skip_ra_event_log())
REQUEST = migration_queue(3, True, (1, 2, 3, 4), 9)[2].encode()[:80]


@settings(max_examples=300, deadline=None)
@given(st.integers(0, len(CERT) - 1), st.integers(0, 255), st.integers(0, 40))
def test_certificate_byte_flips_and_truncations(pos: int, value: int, cut: int) -> None:
    data = CERT[:pos] + bytes([value]) + CERT[pos + 1:]
    for candidate in (data, data[:len(data) - cut]):
        try:
            parsed = c.parse_certificate(candidate)
        except MigtdError as exc:
            assert int(exc.result) == 6
        else:
            assert parsed.tbs in candidate
            try:
                verifier = SkipRaVerifier()
                verifier.verify(evidence_from_certificate(parsed, verifier.needs(True)), SessionFacts(), True)
            except MigtdError as exc:
                assert int(exc.result) == 6


@settings(max_examples=200, deadline=None)
@given(st.binary(max_size=300))
def test_certificate_random_bytes(data: bytes) -> None:
    try:
        c.parse_certificate(data)
    except MigtdError as exc:
        assert int(exc.result) == 6


@settings(max_examples=300, deadline=None)
@given(st.integers(0, len(REQUEST) - 1), st.integers(0, 255))
def test_request_buffer_byte_flips(pos: int, value: int) -> None:
    data = REQUEST[:pos] + bytes([value]) + REQUEST[pos + 1:]
    try:
        parse_request(data)
    except RequestError as exc:
        assert int(exc.result) in (1, 11, 12)


@given(st.binary(max_size=64))
def test_exchange_information_any_bytes(data: bytes) -> None:
    try:
        info = ExchangeInformation.decode(data)
    except MigtdError as exc:
        assert int(exc.result) in (1, 5)
    else:
        assert len(data) == 40 and info.encode() == data
