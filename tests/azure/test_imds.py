"""IMDS quote client: wire format, and every failure against a real local HTTP server."""

from __future__ import annotations

import json
import socket
import time
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from migtd.attest.quote import parse_quote
from migtd.emu import imds as imds_mod
from migtd.emu.imds import ImdsClient, b64url_decode, b64url_encode, decode_response, encode_request
from migtd.errors import AttestationError, ConfigError
from migtd.result import MigrationResult


def test_request_is_unpadded_urlsafe_json() -> None:
    report = bytes(range(256)) * 4  # exercises '-' and '_' in the alphabet
    body = json.loads(encode_request(report))
    assert set(body) == {"report"}
    assert "=" not in body["report"] and "+" not in body["report"] and "/" not in body["report"]
    assert "-" in body["report"] and "_" in body["report"]
    assert b64url_decode(body["report"]) == report
    with pytest.raises(AttestationError, match="1024 bytes, got 10"):
        encode_request(bytes(10))


@pytest.mark.parametrize("body, words", [
    (b"<html>busy</html>", "invalid JSON"),
    (b"\xff\xfe", "invalid JSON"),
    (b"[]", 'no "quote" field'),
    (b'{"quot": "AAAA"}', 'no "quote" field'),
    (b'{"quote": 12}', "not a non-empty string"),
    (b'{"quote": ""}', "not a non-empty string"),
    (b'{"quote": "AA+A"}', "not URL-safe base64"),
    (b'{"quote": "A"}', "not URL-safe base64"),
    (b'{"quote": "a b"}', "not URL-safe base64"),
])
def test_bad_answers_have_one_clear_message(body: bytes, words: str) -> None:
    with pytest.raises(AttestationError) as info:
        decode_response(body)
    assert words in info.value.message
    assert "\n" not in info.value.message
    assert info.value.result == MigrationResult.MutualAttestationError


def test_answer_padding_is_optional() -> None:
    data = b"\x01\x02\x03\x04"
    assert decode_response(json.dumps({"quote": b64url_encode(data)}).encode()) == data
    assert decode_response(json.dumps({"quote": b64url_encode(data) + "=="}).encode()) == data


# --------------------------------------------------------------- against a server

def test_quote_from_fake_imds(imds: Any, logs: Any, make_td_report: Callable[..., bytes]) -> None:
    report = make_td_report(b"\x5a" * 64)
    quote = ImdsClient(imds.url, 5.0, logs.log).get_quote(report)
    parsed = parse_quote(quote)
    assert parsed.body.report_data == b"\x5a" * 64
    assert parsed.header.tee_type == 0x81
    [request] = imds.requests
    assert request.headers["content-type"] == "application/json"
    assert request.headers["metadata"] == "true"
    assert request.headers["accept"] == "application/json"
    assert b"=" not in request.body
    assert any("IMDS quote" in m for m in logs.messages("debug"))


def test_proxy_settings_are_not_used(imds: Any, monkeypatch: pytest.MonkeyPatch,
                                     make_td_report: Callable[..., bytes]) -> None:
    monkeypatch.setenv("http_proxy", "http://127.0.0.1:9")
    monkeypatch.setenv("HTTP_PROXY", "http://127.0.0.1:9")
    monkeypatch.delenv("no_proxy", raising=False)
    monkeypatch.delenv("NO_PROXY", raising=False)
    assert ImdsClient(imds.url, 5.0).get_quote(make_td_report())


def test_transient_failures_are_retried(imds: Any, logs: Any, make_td_report: Callable[..., bytes]) -> None:
    imds.fail_first = 3
    client = ImdsClient(imds.url, 10.0, logs.log, first_backoff=0.01)
    assert client.get_quote(make_td_report())
    assert len(imds.requests) == 4
    warnings = logs.messages("warn")
    assert len(warnings) == 3
    assert all("HTTP 503" in w for w in warnings)


def test_429_is_retried_too(imds: Any, make_td_report: Callable[..., bytes]) -> None:
    imds.script = [(429, b"slow down")]
    assert ImdsClient(imds.url, 5.0, first_backoff=0.01).get_quote(make_td_report())
    assert len(imds.requests) == 2


@pytest.mark.parametrize("status", [400, 403, 404, 415])
def test_client_errors_are_not_retried(imds: Any, status: int, make_td_report: Callable[..., bytes]) -> None:
    imds.script = [(status, b'{"error":"nope"}')]
    with pytest.raises(AttestationError) as info:
        ImdsClient(imds.url, 5.0, first_backoff=0.01).get_quote(make_td_report())
    assert f"HTTP {status}" in info.value.message and "nope" in info.value.message
    assert len(imds.requests) == 1


def test_wrong_path_is_an_http_error(imds: Any, make_td_report: Callable[..., bytes]) -> None:
    with pytest.raises(AttestationError, match="HTTP 404"):
        ImdsClient(imds.url.replace("tdquote", "other"), 5.0).get_quote(make_td_report())


def test_persistent_5xx_gives_up_within_the_timeout(imds: Any, make_td_report: Callable[..., bytes]) -> None:
    imds.fail_first = 10_000
    imds.fail_status = 500
    started = time.monotonic()
    with pytest.raises(AttestationError) as info:
        ImdsClient(imds.url, 1.0, first_backoff=0.05).get_quote(make_td_report())
    elapsed = time.monotonic() - started
    assert elapsed < 1.5
    assert "HTTP 500" in info.value.message and "timeout 1 s" in info.value.message
    assert 3 <= len(imds.requests) <= 6  # 0.05 + 0.1 + 0.2 + 0.4 of back-off fit in 1 s


def test_unreachable_endpoint_is_retried_then_reported(make_td_report: Callable[..., bytes]) -> None:
    with socket.socket() as s:  # a port nobody listens on
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    started = time.monotonic()
    with pytest.raises(AttestationError) as info:
        ImdsClient(f"http://127.0.0.1:{port}/acc/tdquote", 0.8, first_backoff=0.05).get_quote(make_td_report())
    assert time.monotonic() - started < 1.3
    assert "unreachable" in info.value.message and "refused" in info.value.message.lower()
    assert "attempt(s)" in info.value.message


@pytest.fixture
def silent_server() -> Iterator[str]:
    """Accepts TCP connections and never answers (listen backlog only)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        s.listen(8)
        yield f"http://127.0.0.1:{s.getsockname()[1]}/acc/tdquote"


def test_silent_endpoint_is_bounded_by_the_timeout(silent_server: str,
                                                  make_td_report: Callable[..., bytes]) -> None:
    started = time.monotonic()
    with pytest.raises(AttestationError) as info:
        ImdsClient(silent_server, 0.6, first_backoff=0.05).get_quote(make_td_report())
    assert time.monotonic() - started < 1.2
    assert "timed out" in info.value.message or "no answer" in info.value.message


@pytest.mark.parametrize("answer, words", [
    (b"not json", "invalid JSON"),
    (b'{"quote": "!!!"}', "not URL-safe base64"),
    (json.dumps({"quote": b64url_encode(b"\x04\x00" + bytes(60))}).encode(), "does not parse"),
])
def test_bad_answers_from_the_server(imds: Any, answer: bytes, words: str,
                                     make_td_report: Callable[..., bytes]) -> None:
    imds.script = [(200, answer)]
    with pytest.raises(AttestationError, match=words):
        ImdsClient(imds.url, 5.0).get_quote(make_td_report())
    assert len(imds.requests) == 1


def test_quote_for_another_report_is_refused(imds: Any, make_td_report: Callable[..., bytes]) -> None:
    other = imds.quote_fn(make_td_report(b"\x01" * 64))
    imds.script = [(200, json.dumps({"quote": b64url_encode(other)}).encode())]
    with pytest.raises(AttestationError, match="different TD report"):
        ImdsClient(imds.url, 5.0).get_quote(make_td_report(b"\x02" * 64))


def test_non_tdx_quote_is_refused(imds: Any, make_td_report: Callable[..., bytes]) -> None:
    quote = bytearray(imds.quote_fn(make_td_report()))
    quote[4] = 0x00  # TEE type SGX
    imds.script = [(200, json.dumps({"quote": b64url_encode(bytes(quote))}).encode())]
    with pytest.raises(AttestationError, match="TEE type 0x0"):
        ImdsClient(imds.url, 5.0).get_quote(make_td_report())


@pytest.mark.parametrize("url", ["not a url", "ftp://127.0.0.1/acc/tdquote", "file:///etc/passwd", "http:///x"])
def test_non_http_urls_are_configuration_errors(url: str) -> None:
    with pytest.raises(ConfigError) as info:
        ImdsClient(url, 2.0)
    assert info.value.message == f"Invalid MIGTD_IMDS_URL value: {url}. Use an http:// or https:// URL"
    assert info.value.result == MigrationResult.InvalidParameter


def test_unresolvable_host_is_not_retried(make_td_report: Callable[..., bytes]) -> None:
    started = time.monotonic()
    with pytest.raises(AttestationError, match="does not resolve"):
        ImdsClient("http://no-such-host.invalid/acc/tdquote", 5.0).get_quote(make_td_report())
    assert time.monotonic() - started < 3


def test_oversized_answer_is_refused(imds: Any, monkeypatch: pytest.MonkeyPatch,
                                     make_td_report: Callable[..., bytes]) -> None:
    monkeypatch.setattr(imds_mod, "MAX_RESPONSE_BYTES", 100)
    imds.script = [(200, b"x" * 500)]
    with pytest.raises(AttestationError, match="exceeds 100 bytes"):
        ImdsClient(imds.url, 5.0).get_quote(make_td_report())


@settings(max_examples=300, deadline=None)
@given(st.one_of(st.binary(max_size=200),
                 st.builds(lambda q: json.dumps({"quote": q}).encode(), st.text(max_size=60)),
                 st.builds(lambda v: json.dumps({"quote": v}).encode(),
                           st.one_of(st.none(), st.integers(), st.lists(st.integers(), max_size=3)))))
def test_any_answer_is_bytes_or_one_attestation_error(body: bytes) -> None:
    try:
        quote = decode_response(body)
    except AttestationError as exc:
        assert "\n" not in exc.message
    else:
        assert isinstance(quote, bytes) and quote
