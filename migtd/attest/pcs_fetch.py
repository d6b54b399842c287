"""Fetching collateral over HTTP, with a deadline and a cache (the I/O half of :mod:`migtd.attest.pcs`).

Every GET runs in a worker thread while the caller waits on an overall
deadline, so neither a slow DNS answer nor a server trickling one byte at a
time can hold the caller past it; each socket operation also has its own
timeout, and each body a size limit. The four requests of one fetch share the
deadline.

Fetched collateral is kept under platformdirs' user cache directory
(:func:`migtd.paths.collateral_cache_dir`), one file per source, FMSPC, PCK CA
and trusted root, and reused until the earliest ``nextUpdate`` among its
items. A cache file that is unreadable or does not load is ignored and
replaced.

``migtd`` uses this through ``MIGTD_COLLATERAL_SOURCE`` (see
:func:`collateral_fetcher`): collateral is then fetched for the platform of
each quote being verified, as upstream's verification library asks its quote
provider for the quote's FMSPC and CA. The verifier runs inside the session,
so a fetch holds it for at most :data:`DEFAULT_DEADLINE`; where that matters,
fetch ahead with ``migtd-tool collateral fetch`` and set ``MIGTD_COLLATERAL_FILE``.
"""

from __future__ import annotations

import hashlib
import http.client
import os
import socket
import tempfile
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from migtd import paths
from migtd.attest.collateral import Collateral
from migtd.attest.pcs import (
    CollateralFetchError,
    Platform,
    Request,
    Response,
    Source,
    assemble,
    next_update,
    parse_source,
    platform_of_quote,
    requests_for,
)
from migtd.errors import ConfigError, FormatError

#: The environment variable ``migtd`` reads (used when ``MIGTD_COLLATERAL_FILE`` is unset).
SOURCE_ENV = "MIGTD_COLLATERAL_SOURCE"
#: Overall deadline of one fetch (four requests) in ``migtd``, seconds.
DEFAULT_DEADLINE = 30.0
#: Longest wait for any single socket operation, seconds.
REQUEST_TIMEOUT = 15.0
#: Largest body accepted: CRLs and TCB infos are tens of kilobytes.
MAX_BODY = 8 << 20

_USER_AGENT = "migtd-py collateral fetch"


# ------------------------------------------------------------------ one GET

def http_get(url: str, deadline: float, *, clock: Callable[[], float] = time.monotonic) -> Response:
    """GET ``url``; the answer, whatever its status, or :class:`CollateralFetchError` by ``deadline``.

    ``deadline`` is a ``clock()`` value. Redirects are followed and the
    environment's proxy settings honoured, as for any HTTPS client.
    """
    remaining = deadline - clock()
    if remaining <= 0:
        raise CollateralFetchError("timeout", f"no time left to fetch {url}")
    box: dict[str, Response | Exception] = {}
    worker = threading.Thread(target=_get_into, args=(url, min(remaining, REQUEST_TIMEOUT), box),
                              name="collateral-fetch", daemon=True)
    worker.start()
    worker.join(remaining)
    if worker.is_alive():
        # The thread is abandoned (daemon); its own socket timeout ends it later.
        raise CollateralFetchError("timeout", f"no complete answer from {url} within {remaining:.1f} s")
    outcome = box.get("result")
    if isinstance(outcome, Response):
        return outcome
    if isinstance(outcome, CollateralFetchError):
        raise outcome
    raise CollateralFetchError("unreachable", f"cannot fetch {url}: {outcome!r}")


def _get_into(url: str, timeout: float, box: dict[str, Response | Exception]) -> None:
    try:
        box["result"] = _get(url, timeout)
    except Exception as exc:  # noqa: BLE001 - handed to the waiting thread, which reports it in one line
        box["result"] = exc


def _get(url: str, timeout: float) -> Response:
    request = urllib.request.Request(url, headers={"User-Agent": _USER_AGENT, "Accept": "*/*"})
    try:
        with urllib.request.urlopen(request, timeout=timeout) as answer:
            return Response(answer.status, _headers(answer.headers), _read_body(answer, url))
    except urllib.error.HTTPError as exc:
        try:
            body = exc.read(64 * 1024)
        except (OSError, http.client.HTTPException):
            body = b""
        return Response(exc.code, _headers(exc.headers), body)
    except urllib.error.URLError as exc:
        reason = exc.reason
        if isinstance(reason, socket.gaierror):
            raise CollateralFetchError("unreachable", f"cannot reach {url}: host does not resolve") from None
        if isinstance(reason, TimeoutError):
            raise CollateralFetchError("timeout", f"no answer from {url} within {timeout:.1f} s") from None
        detail = reason.strerror if isinstance(reason, OSError) and reason.strerror else str(reason)
        raise CollateralFetchError("unreachable", f"cannot reach {url}: {detail}") from None
    except TimeoutError:
        raise CollateralFetchError("timeout", f"no answer from {url} within {timeout:.1f} s") from None
    except (ConnectionError, http.client.HTTPException) as exc:
        raise CollateralFetchError("unreachable", f"connection to {url} broke: {type(exc).__name__}") from None
    except ValueError as exc:
        raise CollateralFetchError("unreachable", f"cannot fetch {url}: {exc}") from None


def _headers(message: object) -> dict[str, str]:
    items = message.items() if hasattr(message, "items") else []
    return {str(k).lower(): str(v) for k, v in items}


def _read_body(answer: http.client.HTTPResponse, url: str) -> bytes:
    chunks: list[bytes] = []
    size = 0
    while True:
        chunk = answer.read1(64 * 1024) if hasattr(answer, "read1") else answer.read(64 * 1024)
        if not chunk:
            return b"".join(chunks)
        size += len(chunk)
        if size > MAX_BODY:
            raise CollateralFetchError("malformed", f"answer from {url} exceeds {MAX_BODY} bytes")
        chunks.append(chunk)


# ------------------------------------------------------------------ the cache

def cache_path(source: Source, platform: Platform, root_ca_der: bytes) -> Path:
    """The cache file for this source, platform and trust anchor."""
    key = hashlib.sha256("\n".join([source.kind, source.base_url, platform.fmspc_hex, platform.ca,
                                    hashlib.sha256(root_ca_der).hexdigest()]).encode()).hexdigest()[:16]
    return paths.collateral_cache_dir() / f"{source.kind}-{platform.fmspc_hex}-{platform.ca}-{key}.json"


def read_cache(path: Path, now: datetime) -> tuple[bytes, Collateral] | None:
    """Cached collateral that is still before its ``nextUpdate``; ``None`` otherwise."""
    from migtd.inputs import InputError, read_input

    try:
        data = read_input(path, "cached collateral", limit=MAX_BODY)
        collateral = Collateral.from_json(data)
        if next_update(collateral) <= now:
            return None
    except (InputError, FormatError, ValueError):
        return None
    return data, collateral


def write_cache(path: Path, data: bytes) -> None:
    """Write atomically (a reader never sees half a file); a cache that cannot be written is skipped."""
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".fetch-", suffix=".json")
        try:
            with os.fdopen(fd, "wb") as f:
                f.write(data)
            os.replace(tmp, path)
        except BaseException:
            os.unlink(tmp)
            raise
    except OSError:
        pass


# ------------------------------------------------------------------ a whole fetch

@dataclass(frozen=True)
class Fetched:
    """Collateral JSON for one platform, and where it came from."""

    data: bytes
    collateral: Collateral
    platform: Platform
    next_update: datetime
    from_cache: bool
    cache_file: Path | None


def fetch_collateral(quote: bytes, source: Source, root_ca_der: bytes, *, deadline: float,
                     use_cache: bool = True, root_crl: str | None = None,
                     now: datetime | None = None) -> Fetched:
    """Collateral for ``quote``'s platform from ``source``, cached until its ``nextUpdate``.

    ``deadline`` (a ``time.monotonic()`` value) bounds all requests together.
    A quote without a usable PCK certificate is a :class:`FormatError`.
    """
    now = now or datetime.now(UTC)
    platform = platform_of_quote(quote)
    where = cache_path(source, platform, root_ca_der)
    if use_cache:
        hit = read_cache(where, now)
        if hit is not None:
            return Fetched(hit[0], hit[1], platform, next_update(hit[1]), True, where)
    requests: list[Request] = requests_for(source, platform, root_ca_der, root_crl)
    responses = [http_get(r.url, deadline) for r in requests]
    data = assemble(requests, responses, platform, root_ca_der)
    collateral = Collateral.from_json(data)
    until = next_update(collateral)
    cached = None
    if until > now:
        write_cache(where, data)
        cached = where
    return Fetched(data, collateral, platform, until, False, cached)


# ------------------------------------------------------------------ the migtd hook

class CollateralFetcher:
    """``MIGTD_COLLATERAL_SOURCE`` for ``migtd``: collateral per quote, fetched once per platform.

    Called by the verifier with each quote it is about to verify; failures
    are :class:`~migtd.attest.verify.QuoteVerificationError` at step
    ``collateral`` (exit 7), the way a failed collateral request fails
    upstream's verification.
    """

    def __init__(self, source: Source, root_ca_der: bytes, deadline_s: float = DEFAULT_DEADLINE) -> None:
        self.source = source
        self.root_ca_der = root_ca_der
        self.deadline_s = deadline_s
        self._known: dict[Platform, Collateral] = {}

    def __call__(self, quote: bytes) -> Collateral:
        from migtd.attest.errors import QuoteVerificationError

        try:
            platform = platform_of_quote(quote)
        except FormatError as exc:
            raise QuoteVerificationError("parse", exc.message) from None
        known = self._known.get(platform)
        if known is not None:  # a migtd process lives for one operation: fetch once per platform
            return known
        try:
            fetched = fetch_collateral(quote, self.source, self.root_ca_der,
                                       deadline=time.monotonic() + self.deadline_s)
        except (CollateralFetchError, ConfigError) as exc:
            raise QuoteVerificationError("collateral", f"cannot fetch collateral from {self.source}: "
                                                       f"{exc.message}") from None
        self._known[platform] = fetched.collateral
        return fetched.collateral


def collateral_fetcher(env: Mapping[str, str], root_ca_der: bytes) -> CollateralFetcher | None:
    """The fetcher ``MIGTD_COLLATERAL_SOURCE`` asks for, or ``None`` when it is unset.

    A malformed value is a :class:`ConfigError` (exit 1), reported at start-up.
    """
    text = env.get(SOURCE_ENV)
    if not text:
        return None
    try:
        source = parse_source(text)
    except ConfigError as exc:
        raise ConfigError(f"Invalid {SOURCE_ENV} value {text!r}: {exc.message}") from None
    return CollateralFetcher(source, root_ca_der)
