"""Where a MigTD's TD report and quote come from: the interface every quote source implements.

A :class:`QuoteProvider` turns REPORTDATA (what binds the session's key,
zero-padded) into a 1024-byte TDREPORT and a TDREPORT into a quote. The
session does not care which provider it has; the attestation-mode registry
(:mod:`migtd.modes`) builds one per run:

* ``skip-ra``: :class:`migtd.mock.providers.SkipRaProvider` (null attestation);
* ``mock-report``: :class:`migtd.mock.providers.MockQeProvider`, or
  :class:`migtd.mock.providers.QuoteFileProvider` with ``MOCK_QUOTE_FILE``;
* ``azure``: :class:`migtd.emu.azure.AzureQuoteProvider` (vTPM + IMDS).

A new quote source is one more class with these two methods, named by a mode
in the registry. How the quote is *requested* is separate:
``--quote-request igvm`` wraps any provider in
:class:`migtd.emu.igvm.IgvmQuoteProvider` (upstream's ``igvm-attest``).
"""

from __future__ import annotations

from typing import Protocol


class QuoteProvider(Protocol):
    """Source of TD reports and quotes for the local RA-TLS certificate."""

    name: str  # value of the quote_generated event's `source` field

    def td_report(self, report_data: bytes, event_log: bytes) -> bytes:
        """1024-byte TDREPORT whose REPORTDATA is ``report_data`` (where the mode allows)."""
        ...

    def quote(self, td_report: bytes) -> bytes:
        """Quote for ``td_report``; raise AttestationError (or any MigtdError) on failure."""
        ...
