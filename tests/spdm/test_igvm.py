"""igvm-attest GetQuote buffer (spec/spdm.md §11.2–11.3): layout, sizes, status handling, retries."""

from __future__ import annotations

import struct

import pytest

from migtd.result import MigrationResult
from migtd.spdm import igvm

from .helpers import quote_blob

REPORT = bytes(range(256)) * 4


def test_request_layout() -> None:
    buf = igvm.build_request(REPORT)
    assert len(buf) == 65536
    assert struct.unpack_from("<QQII", buf) == (1, 0, 1024, 8192)
    assert buf[24:1048] == REPORT and not any(buf[1048:])
    with pytest.raises(igvm.IgvmQuoteError):
        igvm.build_request(REPORT[:-1])


def test_emulated_answer_and_parse() -> None:
    quote = quote_blob()
    seen = []
    answer = igvm.emulate_get_quote(igvm.build_request(REPORT), lambda r: seen.append(r) or quote)
    assert seen == [REPORT]
    assert struct.unpack_from("<QQII", answer)[1:] == (0, 1024, len(quote))
    assert igvm.parse_response(answer) == quote
    # a TDREPORT's bytes 4..8 are zero, so the emulator never mistakes the buffer for a QGS message
    assert not igvm.is_qgs_message(igvm.build_request(REPORT))
    qgs = bytearray(igvm.build_request(REPORT))
    qgs[24:40] = struct.pack(">I", 100) + struct.pack("<HHI", 1, 1, 0) + bytes(4)
    assert igvm.is_qgs_message(bytes(qgs))
    with pytest.raises(igvm.IgvmQuoteError):
        igvm.emulate_get_quote(bytes(qgs), lambda r: quote)


@pytest.mark.parametrize("status,kind", [
    (0, igvm.QuoteStatus.SUCCESS),
    (0xFFFF_FFFF_FFFF_FFFF, igvm.QuoteStatus.BUSY),
    (0x8000_0000_0000_0000, igvm.QuoteStatus.BUSY),
    (0x8000_0000_0000_0001, igvm.QuoteStatus.BUSY),
    (0x8000_0000_0000_0002, igvm.QuoteStatus.FAILURE),
    (1, igvm.QuoteStatus.FAILURE),
])
def test_status_words(status: int, kind: igvm.QuoteStatus) -> None:
    assert igvm.classify_status(status) is kind
    buf = bytearray(igvm.emulate_get_quote(igvm.build_request(REPORT), lambda r: b"Q" * 10))
    struct.pack_into("<Q", buf, 8, status)
    if kind is igvm.QuoteStatus.SUCCESS:
        assert igvm.parse_response(bytes(buf)) == b"Q" * 10
    else:
        exc = igvm.IgvmQuoteBusy if kind is igvm.QuoteStatus.BUSY else igvm.IgvmQuoteError
        with pytest.raises(exc) as info:
            igvm.parse_response(bytes(buf))
        assert info.value.result == MigrationResult.MutualAttestationError
        if kind is igvm.QuoteStatus.FAILURE:
            assert not isinstance(info.value, igvm.IgvmQuoteBusy)


@pytest.mark.parametrize("out_len", [0, 8193, 65536 - 24 + 1, 0xFFFFFFFF])
def test_quote_length_bounds(out_len: int) -> None:
    buf = bytearray(igvm.build_request(REPORT))
    struct.pack_into("<I", buf, 20, out_len)
    with pytest.raises(igvm.IgvmQuoteError):
        igvm.parse_response(bytes(buf))


def test_buffer_size_limits() -> None:
    ok = igvm.emulate_get_quote(igvm.build_request(REPORT), lambda r: bytes(8192))
    assert len(igvm.parse_response(ok)) == 8192
    with pytest.raises(igvm.IgvmQuoteError) as info:
        igvm.parse_response(ok + bytes(131072))
    assert info.value.result == MigrationResult.InvalidParameter
    with pytest.raises(igvm.IgvmQuoteError):
        igvm.parse_response(ok[:23])
    short = ok[:100]                                    # out_len 8192 runs past a 100-byte buffer
    with pytest.raises(igvm.IgvmQuoteError, match="runs past"):
        igvm.parse_response(short)
    bad_version = b"\x02" + ok[1:]
    with pytest.raises(igvm.IgvmQuoteError, match="version"):
        igvm.parse_response(bad_version)
    with pytest.raises(igvm.IgvmQuoteError):
        igvm.emulate_get_quote(igvm.build_request(REPORT)[:2000], lambda r: bytes(3000))


def test_retry_policy() -> None:
    """Busy is retried 5 times with 20/40/80/160/320 ms; the emulated failure status is busy."""
    calls, sleeps = [], []
    quote = b"quote"

    def flaky(fails: int):
        def transact(buf: bytes) -> bytes:
            calls.append(1)
            return igvm.emulate_get_quote(buf, lambda r: None if len(calls) <= fails else quote)
        return transact
    assert igvm.get_quote_with_retry(REPORT, flaky(5), sleeps.append) == quote
    assert len(calls) == 6 and sleeps == [0.02, 0.04, 0.08, 0.16, 0.32]
    calls.clear()
    sleeps.clear()
    with pytest.raises(igvm.IgvmQuoteError, match="still busy after 6 attempts"):
        igvm.get_quote_with_retry(REPORT, flaky(6), sleeps.append)
    calls.clear()

    def broken(buf: bytes) -> bytes:
        calls.append(1)
        out = bytearray(buf)
        struct.pack_into("<Q", out, 8, 7)
        return bytes(out)
    with pytest.raises(igvm.IgvmQuoteError) as info:
        igvm.get_quote_with_retry(REPORT, broken, sleeps.append)
    assert len(calls) == 1 and not isinstance(info.value, igvm.IgvmQuoteBusy)
