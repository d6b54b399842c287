"""Where a MigTD's TD report and quote come from, per attestation mode.

A :class:`QuoteProvider` turns REPORTDATA (SHA-384 of the certificate key,
zero-padded) into a 1024-byte TDREPORT and a TDREPORT into a quote. The
session does not care which provider it has; :func:`make_provider` picks one
from ``--attestation``:

* ``skip-ra``: upstream's null attestation — mock TD report, quote = 822
  zero bytes (what ``test_disable_ra_and_accept_all`` reports);
* ``mock-report``: the mock QE in ``migtd.attest.mock_provider``
  (``MockReportProvider``), also serving ``MOCK_QUOTE_FILE``;
* ``azure``: the vTPM + IMDS provider ``migtd.emu.azure.AzureQuoteProvider``.

The factory imports the latter two only when chosen, so a skip-RA run never
loads the DCAP or TPM code.
"""

from __future__ import annotations

from typing import Any, Protocol

from migtd.emu.report import mock_td_report
from migtd.errors import ConfigError

#: Size of the quote upstream's null attestation library reports (HEAD; 774 at 144af3a).
SKIP_RA_QUOTE_SIZE = 822


class QuoteProvider(Protocol):
    """Source of TD reports and quotes for the local RA-TLS certificate."""

    name: str  # value of the quote_generated event's `source` field

    def td_report(self, report_data: bytes, event_log: bytes) -> bytes:
        """1024-byte TDREPORT whose REPORTDATA is ``report_data`` (where the mode allows)."""
        ...

    def quote(self, td_report: bytes) -> bytes:
        """Quote for ``td_report``; raise AttestationError (or any MigtdError) on failure."""
        ...


class SkipRaProvider:
    """Null attestation: a mock report and an all-zero quote. Attests nothing.

    Like upstream's skip-RA build, ``MOCK_QUOTE_FILE`` (if given) is used for
    the TD report only: the report is derived from that quote, as upstream's
    mock-report mode derives it; otherwise it is a synthetic report carrying
    the requested REPORTDATA.
    """

    name = "skip-ra"

    def __init__(self, mock_quote_file: str | None = None) -> None:
        self._quote_file: QuoteProvider | None = None
        if mock_quote_file:
            from migtd.attest.providers import QuoteFileProvider

            self._quote_file = QuoteFileProvider(mock_quote_file)

    def td_report(self, report_data: bytes, event_log: bytes) -> bytes:
        """The TD report derived from ``MOCK_QUOTE_FILE``, else a mock one carrying ``report_data``."""
        if self._quote_file is not None:
            return self._quote_file.td_report(report_data, event_log)
        return mock_td_report(report_data)

    def quote(self, td_report: bytes) -> bytes:
        """Upstream's null quote: 822 zero bytes."""
        return bytes(SKIP_RA_QUOTE_SIZE)


def make_provider(mode: str, **options: Any) -> QuoteProvider:
    """The provider for ``mode``.

    Options: ``mock_quote_file`` (path or None), ``env`` (mapping), ``log``
    (EventLog), ``timeout`` (seconds for the provider's own network waits).
    Each mode takes the ones it understands. Raises :class:`ConfigError` for
    an unknown mode, so the CLI prints one line and exits 1.
    """
    if mode == "skip-ra":
        return SkipRaProvider(options.get("mock_quote_file"))
    if mode == "mock-report":
        from migtd.attest.mock_provider import MockReportProvider

        return MockReportProvider(mock_quote_file=options.get("mock_quote_file"), env=options.get("env"))
    if mode == "azure":
        from migtd.emu.azure import AzureQuoteProvider

        return AzureQuoteProvider.from_options(**options)
    raise ConfigError(f"Invalid attestation mode: {mode}. Use 'azure', 'mock-report' or 'skip-ra'")
