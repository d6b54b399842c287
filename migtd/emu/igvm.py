"""``igvm-attest``: the quote asked for through an IGVM GetQuote buffer (spec/spdm.md §11).

Upstream's ``igvm-attest`` build does not hand its TD report to the QGS
library: it writes a bare-TDREPORT ("legacy") GetQuote buffer itself — 64 KiB,
version 1, the 1024-byte TDREPORT at offset 24 — and reads the quote back from
the same buffer, judging the status word (0 success; the three "busy" values
retried 5 times with 20…320 ms back-off; anything else a failure) and the
quote length (1…8192). The AzCVMEmu VMM sees no QGS header in that buffer and
answers it as a legacy request with the quote of its usual back end.

:class:`IgvmQuoteProvider` plays both halves around the mode's own provider:
the buffer codec and status rules are :mod:`migtd.spdm.igvm` (pure), the
emulated VMM answers with ``vmm_quote(td_report)`` — the mode's quote source
(IMDS, the mock QE, ``MOCK_QUOTE_FILE``; skip-RA's emulator answers with a
mock quote, spec §11.4). What a user sees differs from the direct path only
in the log ("Detected legacy quote request", "get_quote_igvm returned
quote_size = N"), in ``quote_generated.via`` and, with skip-RA, in the quote
itself. ``MIGTD_QUOTE_FAILURES`` fails requests inside the emulated VMM, which
answers them "busy" as upstream's ``mock_quote_retry`` does.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import TYPE_CHECKING

from migtd.errors import MigtdError

if TYPE_CHECKING:
    from migtd.emu.quote_provider import QuoteProvider
    from migtd.emu.quote_retry import FailureInjector
    from migtd.events import EventLog


class IgvmQuoteProvider:
    """The mode's provider, with its quotes requested through the IGVM GetQuote buffer."""

    #: ``quote_generated.via``: how the quote was requested.
    via = "igvm"

    def __init__(self, inner: QuoteProvider, vmm_quote: Callable[[bytes], bytes]) -> None:
        self.inner = inner
        self.vmm_quote = vmm_quote
        #: The back end is the same as on the direct path (``quote_generated.source``).
        self.name = inner.name

    def td_report(self, report_data: bytes, event_log: bytes) -> bytes:
        """The mode's TD report (igvm-attest changes only how the quote is obtained)."""
        return self.inner.td_report(report_data, event_log)

    def quote(self, td_report: bytes) -> bytes:
        """One GetQuote round trip, no retry (IgvmQuoteBusy / IgvmQuoteError on failure)."""
        from migtd.spdm import igvm

        return igvm.parse_response(igvm.emulate_get_quote(igvm.build_request(td_report), self._answer(None, None)))

    def quote_with_retry(self, td_report: bytes, log: EventLog, injector: FailureInjector | None,
                         sleep: Callable[[float], object] = time.sleep) -> bytes:
        """``get_quote_igvm`` under ``get_quote_with_retry``: busy answers retried, others fail at once (7)."""
        from migtd.spdm import igvm

        answer = self._answer(log, injector)
        attempt = 0

        def transact(buffer: bytes) -> bytes:
            nonlocal attempt
            attempt += 1
            log.debug(f"AzCVMEmu: Detected legacy quote request (IGVM GetQuote buffer, attempt {attempt})")
            return igvm.emulate_get_quote(buffer, answer)

        def pause(seconds: float) -> None:
            log.warn(f"get_quote_igvm: quote service busy (attempt {attempt} of {len(igvm.RETRY_DELAYS) + 1}); "
                     f"retrying in {seconds * 1000:g} ms")
            sleep(seconds)

        try:
            quote = igvm.get_quote_with_retry(td_report, transact, pause)
        except igvm.IgvmQuoteError as exc:
            raise igvm.IgvmQuoteError(f"get_quote_igvm failed: {exc.message}") from None
        log.info(f"get_quote_igvm returned quote_size = {len(quote)}")
        return quote

    def _answer(self, log: EventLog | None, injector: FailureInjector | None) -> Callable[[bytes], bytes | None]:
        """The emulated VMM's quote for a TDREPORT, or None (answered "busy") when it fails."""
        def answer(td_report: bytes) -> bytes | None:
            if injector is not None and injector.next_fails():
                if log is not None:
                    log.warn(f"Simulating quote failure (request {injector.requests} of {injector.count})")
                return None
            try:
                return self.vmm_quote(td_report)
            except Exception as exc:  # noqa: BLE001 - any back-end failure is a busy answer, as the emulator gives
                if log is not None:
                    why = exc.message if isinstance(exc, MigtdError) else f"{type(exc).__name__}: {exc}"
                    log.warn(f"Emulated GetQuote failed: {why}")
                return None
        return answer
