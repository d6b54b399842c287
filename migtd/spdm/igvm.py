"""The ``igvm-attest`` GetQuote buffer: codec, status rules and the emulated side (spec/spdm.md §11).

With upstream's ``igvm-attest`` feature MigTD does not ask the QGS library
for a quote; it builds a bare-TDREPORT ("legacy") GHCI GetQuote buffer
itself and reads the quote back from the same buffer::

    0  version u64 = 1          16 in_len u32 = 1024 (TDREPORT)
    8  status  u64 = 0          20 out_len u32 = 8192 (capacity hint, then quote length)
    24 TDREPORT (1024) … zero up to 65536 bytes; the answer puts the quote at 24

Status after the call: 0 success; ``0xFFFF_FFFF_FFFF_FFFF`` (still in
flight), ``0x8000_0000_0000_0000`` (error) and ``0x8000_0000_0000_0001``
(service unavailable) are "busy" — retried up to 5 times with 20/40/80/160/
320 ms back-off; anything else is a quote failure. The quote length must be
1…8192 and fit the buffer. Every failure surfaces as MutualAttestationError.

This module is independent of SPDM (it is the quote source of the
``igvm-attest`` builds, which use SPDM in Azure's images); it lives here so
the SPDM package and a quote provider can share it.
"""

from __future__ import annotations

import enum
import struct
from collections.abc import Callable

from migtd.errors import MigtdError
from migtd.result import MigrationResult

BUFFER_SIZE = 65536            # 16 pages, what get_quote_igvm allocates
MAX_BUFFER_SIZE = 131072       # servtd_get_quote refuses larger buffers
TD_QUOTE_SIZE = 8192           # largest quote MigTD accepts
TDREPORT_SIZE = 1024
HEADER = struct.Struct("<QQII")
HEADER_SIZE = HEADER.size      # 24
GET_QUOTE_VERSION = 1

STATUS_SUCCESS = 0
STATUS_IN_FLIGHT = 0xFFFF_FFFF_FFFF_FFFF
STATUS_ERROR = 0x8000_0000_0000_0000
STATUS_SERVICE_UNAVAILABLE = 0x8000_0000_0000_0001
BUSY_STATUSES = frozenset({STATUS_IN_FLIGHT, STATUS_ERROR, STATUS_SERVICE_UNAVAILABLE})

#: get_quote_with_retry in AzCVMEmu: 5 retries after the first attempt.
RETRY_DELAYS = (0.020, 0.040, 0.080, 0.160, 0.320)


class IgvmQuoteError(MigtdError):
    """The GetQuote buffer did not yield a quote (MutualAttestationError)."""

    result = MigrationResult.MutualAttestationError


class IgvmQuoteBusy(IgvmQuoteError):
    """The quote service is busy; the caller may retry."""


class QuoteStatus(enum.Enum):
    SUCCESS = "success"
    BUSY = "busy"
    FAILURE = "failure"


def classify_status(status: int) -> QuoteStatus:
    """What MigTD's ``servtd_get_quote`` makes of the status word."""
    if status == STATUS_SUCCESS:
        return QuoteStatus.SUCCESS
    if status in BUSY_STATUSES:
        return QuoteStatus.BUSY
    return QuoteStatus.FAILURE


def build_request(td_report: bytes) -> bytes:
    """The 65536-byte buffer ``get_quote_igvm`` hands to the VMM."""
    if len(td_report) != TDREPORT_SIZE:
        raise IgvmQuoteError(f"TDREPORT is {len(td_report)} bytes, expected {TDREPORT_SIZE}")
    head = HEADER.pack(GET_QUOTE_VERSION, STATUS_SUCCESS, len(td_report), TD_QUOTE_SIZE)
    return head + td_report + bytes(BUFFER_SIZE - HEADER_SIZE - len(td_report))


def parse_response(buf: bytes) -> bytes:
    """The quote in a completed buffer; IgvmQuoteBusy or IgvmQuoteError otherwise."""
    if len(buf) > MAX_BUFFER_SIZE:
        raise IgvmQuoteError(f"GetQuote buffer of {len(buf)} bytes exceeds {MAX_BUFFER_SIZE}",
                             MigrationResult.InvalidParameter)
    if len(buf) < HEADER_SIZE:
        raise IgvmQuoteError(f"GetQuote buffer truncated: {len(buf)} bytes")
    version, status, _in_len, out_len = HEADER.unpack_from(buf)
    kind = classify_status(status)
    if kind is QuoteStatus.BUSY:
        raise IgvmQuoteBusy(f"quote service busy (status 0x{status:016X})")
    if kind is QuoteStatus.FAILURE:
        raise IgvmQuoteError(f"quote generation failed (status 0x{status:016X})")
    if version != GET_QUOTE_VERSION:
        raise IgvmQuoteError(f"GetQuote buffer version {version}, expected 1")
    if not 1 <= out_len <= TD_QUOTE_SIZE:
        raise IgvmQuoteError(f"quote length {out_len} is not in 1…{TD_QUOTE_SIZE}")
    if HEADER_SIZE + out_len > len(buf):
        raise IgvmQuoteError(f"quote length {out_len} runs past the {len(buf)}-byte buffer")
    return bytes(buf[HEADER_SIZE:HEADER_SIZE + out_len])


def is_qgs_message(buf: bytes) -> bool:
    """Whether the emulator would read bytes [24..44) as a QGS message (big-endian size, v1.1, type 0/2)."""
    if len(buf) < HEADER_SIZE + 16:
        return False
    major, minor, mtype = struct.unpack_from("<HHI", buf, HEADER_SIZE + 4)
    return major == 1 and minor == 1 and mtype in (0, 2)


def emulate_get_quote(buf: bytes, quote_for: Callable[[bytes], bytes | None]) -> bytes:
    """The AzCVMEmu VMM's answer to a legacy (bare TDREPORT) request (spdm.md §11.3).

    ``quote_for(td_report)`` returns the quote, or None when quote generation
    fails; the answer then carries status ``0x8000_0000_0000_0000`` (busy, so
    MigTD retries). A QGS-framed request is not handled here.
    """
    if len(buf) < HEADER_SIZE + TDREPORT_SIZE:
        raise IgvmQuoteError(f"GetQuote buffer of {len(buf)} bytes cannot hold a TDREPORT")
    if is_qgs_message(buf):
        raise IgvmQuoteError("QGS-framed GetQuote request: not the igvm-attest legacy form")
    version = struct.unpack_from("<Q", buf)[0]
    td_report = bytes(buf[HEADER_SIZE:HEADER_SIZE + TDREPORT_SIZE])
    quote = quote_for(td_report)
    out = bytearray(buf)
    if quote is None:
        struct.pack_into("<Q", out, 8, STATUS_ERROR)
        return bytes(out)
    if HEADER_SIZE + len(quote) > len(buf):
        raise IgvmQuoteError(f"{len(quote)}-byte quote does not fit the {len(buf)}-byte buffer")
    HEADER.pack_into(out, 0, version, STATUS_SUCCESS, TDREPORT_SIZE, len(quote))
    out[HEADER_SIZE:HEADER_SIZE + len(quote)] = quote
    return bytes(out)


def get_quote_with_retry(td_report: bytes, transact: Callable[[bytes], bytes],
                         sleep: Callable[[float], None], delays: tuple[float, ...] = RETRY_DELAYS) -> bytes:
    """Build the buffer, call ``transact`` (the VMM), retry while busy; the quote or IgvmQuoteError.

    ``transact`` and ``sleep`` are the caller's I/O (a real GetQuote call or
    :func:`emulate_get_quote`; ``time.sleep`` or a test clock).
    """
    request = build_request(td_report)
    for attempt in range(len(delays) + 1):
        try:
            return parse_response(transact(request))
        except IgvmQuoteBusy as exc:
            if attempt == len(delays):
                raise IgvmQuoteError(f"quote service still busy after {attempt + 1} attempts: {exc}") from None
            sleep(delays[attempt])
    raise AssertionError("unreachable")  # pragma: no cover
