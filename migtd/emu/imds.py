"""Quotes from Azure IMDS: ``POST /acc/tdquote`` with a TD report (attestation.md §6.4).

The wire format is small and fixed: the request body is
``{"report": base64url(TDREPORT)}`` without ``=`` padding, the answer is
``{"quote": base64url(quote)}``. :func:`encode_request` and
:func:`decode_response` hold that format with no I/O, so every malformed answer
can be tested without a server; :class:`ImdsClient` only moves bytes, retrying
what is plausibly transient (refused or reset connections, timeouts, 5xx/429)
with exponential back-off, and never waits beyond its overall timeout.

Every failure is an :class:`~migtd.errors.AttestationError` (a quote could not
be generated: MutualAttestationError, exit 7) with one line saying which step
failed; the engine's generic quote retry sits above this.
"""

from __future__ import annotations

import base64
import binascii
import http.client
import json
import re
import socket
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Callable
from typing import Any

from migtd.attest.quote import TEE_TYPE_TDX, parse_quote
from migtd.attest.tdreport import TDREPORT_SIZE as TD_REPORT_SIZE
from migtd.errors import AttestationError, ConfigError, FormatError
from migtd.events import EventLog, null_log
from migtd.inputs import InputError, load_json

DEFAULT_URL = "http://169.254.169.254/acc/tdquote"
#: A TDX quote is at most 8 KiB (upstream TD_QUOTE_SIZE); refuse absurd answers early.
MAX_RESPONSE_BYTES = 1 << 20
#: Exactly this Content-Type: IMDS answered "; charset=utf-8" with HTTP 415 in the past.
HEADERS = {"Content-Type": "application/json", "Accept": "application/json", "Metadata": "true"}
_REPORT_DATA = slice(128, 192)
_B64URL = re.compile(r"[A-Za-z0-9_-]*={0,2}")


def b64url_encode(data: bytes) -> str:
    """URL-safe base64 without padding, as IMDS expects."""
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def b64url_decode(text: str) -> bytes:
    """URL-safe base64, padded or not; raises ValueError on any other character."""
    if not _B64URL.fullmatch(text):
        raise ValueError("characters outside the URL-safe base64 alphabet")
    padded = text + "=" * (-len(text) % 4)
    return base64.b64decode(padded, altchars=b"-_", validate=True)


def encode_request(td_report: bytes) -> bytes:
    """The JSON body posted to IMDS for a 1024-byte TD report."""
    if len(td_report) != TD_REPORT_SIZE:
        raise AttestationError(f"IMDS: a TD report is {TD_REPORT_SIZE} bytes, got {len(td_report)}")
    return json.dumps({"report": b64url_encode(td_report)}).encode("ascii")


def decode_response(body: bytes) -> bytes:
    """The quote bytes inside an IMDS answer; one clear AttestationError per kind of damage."""
    try:
        doc = load_json(body, "IMDS answer")
    except InputError as exc:  # not UTF-8, not JSON, nested too deep, a number too long for int()
        raise AttestationError(f"IMDS answered with invalid JSON ({exc.message}): {_excerpt(body)}") from None
    if not isinstance(doc, dict) or "quote" not in doc:
        raise AttestationError(f"IMDS answer has no \"quote\" field: {_excerpt(body)}")
    text = doc["quote"]
    if not isinstance(text, str) or not text:
        raise AttestationError("IMDS answer's \"quote\" is not a non-empty string")
    try:
        quote = b64url_decode(text)
    except (ValueError, binascii.Error) as exc:
        raise AttestationError(f"IMDS answer's \"quote\" is not URL-safe base64: {exc}") from None
    if not quote:
        raise AttestationError("IMDS returned an empty quote")
    return quote


def check_quote(quote: bytes, td_report: bytes) -> None:
    """Refuse a quote that does not parse, is not TDX, or quotes a different TD report.

    The full verification is the peer's job; this catches a broken endpoint
    here, with a message about IMDS, instead of as a peer's verification
    failure on the other side of the connection.
    """
    try:
        parsed = parse_quote(quote)
    except FormatError as exc:
        raise AttestationError(f"IMDS returned a quote that does not parse: {exc.message}") from None
    if parsed.header.tee_type != TEE_TYPE_TDX:
        raise AttestationError(f"IMDS returned a quote with TEE type 0x{parsed.header.tee_type:x}, "
                               "not TDX (0x81)")
    if parsed.body.report_data != td_report[_REPORT_DATA]:
        raise AttestationError("IMDS returned a quote for a different TD report (REPORTDATA differs)")


def _excerpt(body: bytes, limit: int = 80) -> str:
    text = body[:limit].decode("utf-8", "replace").replace("\n", " ").strip()
    return repr(text + ("..." if len(body) > limit else ""))


class _Transient(Exception):
    """A failure worth another attempt; ``str()`` is the operator-facing reason."""


class ImdsClient:
    """Posts TD reports to the IMDS quote endpoint with bounded retries.

    ``timeout`` bounds the whole call, back-off sleeps included; each attempt
    gets what is left of it. ``first_backoff`` doubles after every transient
    failure up to ``max_backoff``.
    """

    def __init__(self, url: str = DEFAULT_URL, timeout: float = 60.0, log: EventLog | None = None,
                 *, first_backoff: float = 0.25, max_backoff: float = 4.0,
                 sleep: Callable[[float], None] = time.sleep,
                 clock: Callable[[], float] = time.monotonic) -> None:
        if timeout <= 0:
            raise ValueError("timeout must be positive")
        parts = urllib.parse.urlsplit(url)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise ConfigError(f"Invalid MIGTD_IMDS_URL value: {url}. Use an http:// or https:// URL")
        self.url = url
        self.timeout = timeout
        self.log = log or null_log()
        self.first_backoff = first_backoff
        self.max_backoff = max_backoff
        self._sleep = sleep
        self._clock = clock
        # IMDS is link-local: an http_proxy from the environment must never see these requests.
        self._opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))

    def get_quote(self, td_report: bytes) -> bytes:
        """The checked quote for ``td_report``, or AttestationError naming what went wrong."""
        body = encode_request(td_report)
        started = self._clock()
        deadline = started + self.timeout
        backoff = self.first_backoff
        attempt = 0
        while True:
            attempt += 1
            remaining = deadline - self._clock()
            try:
                raw = self._post(body, remaining)
                break
            except _Transient as exc:
                reason = str(exc)
            remaining = deadline - self._clock()
            if remaining <= backoff:
                raise AttestationError(
                    f"IMDS quote request to {self.url} failed after {attempt} attempt(s) in "
                    f"{self._clock() - started:.1f} s (timeout {self.timeout:g} s): {reason}")
            self.log.warn(f"IMDS quote request attempt {attempt} failed: {reason}; "
                          f"retrying in {backoff:g} s")
            self._sleep(backoff)
            backoff = min(backoff * 2, self.max_backoff)
        quote = decode_response(raw)
        check_quote(quote, td_report)
        ms = (self._clock() - started) * 1000
        self.log.emit("log", f"IMDS quote: {len(quote)} bytes in {ms:.1f} ms ({attempt} attempt(s))",
                      "debug", step="imds_quote", ms=round(ms, 3), attempts=attempt)
        return quote

    def _post(self, body: bytes, timeout: float) -> bytes:
        try:
            request = urllib.request.Request(self.url, data=body, headers=HEADERS, method="POST")
            with self._opener.open(request, timeout=timeout) as response:
                data = response.read(MAX_RESPONSE_BYTES + 1)
        except urllib.error.HTTPError as exc:
            detail = _excerpt(_read_error_body(exc))
            message = f"HTTP {exc.code} {exc.reason} from {self.url}: {detail}"
            if exc.code >= 500 or exc.code == 429:
                raise _Transient(message) from None
            raise AttestationError(f"IMDS refused the quote request: {message}") from None
        except urllib.error.URLError as exc:
            reason = exc.reason
            if isinstance(reason, socket.gaierror):
                raise AttestationError(f"IMDS host in {self.url} does not resolve: {reason}") from None
            if isinstance(reason, OSError):
                raise _Transient(f"{self.url} unreachable: {_os_reason(reason)}") from None
            raise AttestationError(f"IMDS request to {self.url} failed: {reason}") from None
        except TimeoutError:
            raise _Transient(f"no answer from {self.url} within {timeout:.1f} s") from None
        except (ConnectionError, http.client.HTTPException) as exc:
            raise _Transient(f"connection to {self.url} broke: {type(exc).__name__}: {exc}") from None
        except ValueError as exc:  # urllib's last word on a URL that passed the scheme check
            raise AttestationError(f"IMDS URL {self.url!r} is not usable: {exc}") from None
        if len(data) > MAX_RESPONSE_BYTES:
            raise AttestationError(f"IMDS answer from {self.url} exceeds {MAX_RESPONSE_BYTES} bytes")
        return bytes(data)


def _read_error_body(exc: urllib.error.HTTPError) -> bytes:
    try:
        return exc.read(512) or b""
    except (OSError, http.client.HTTPException):
        return b""


def _os_reason(reason: Any) -> str:
    if isinstance(reason, TimeoutError):
        return "timed out"
    if isinstance(reason, OSError) and reason.strerror:
        return reason.strerror
    return str(reason)
