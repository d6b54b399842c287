"""``MockReportProvider``: the entry point the engine's provider factory imports.

``migtd.emu.quote_provider.make_provider("mock-report", mock_quote_file=..., env=...)``
constructs this class. It chooses between the two providers of
:mod:`migtd.attest.providers`: the quote file (``mock_quote_file`` or
``MOCK_QUOTE_FILE`` in ``env``) when one is given, else the mock QE over the
committed mock PKI (``config/mock``).
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path

from migtd.attest.providers import MockQeProvider, QuoteFileProvider


class MockReportProvider:
    """Delegates to :class:`QuoteFileProvider` or :class:`MockQeProvider`; ``name`` says which."""

    def __init__(self, mock_quote_file: str | Path | None = None, env: Mapping[str, str] | None = None) -> None:
        env = os.environ if env is None else env
        path = mock_quote_file or env.get("MOCK_QUOTE_FILE") or None
        self._inner: MockQeProvider | QuoteFileProvider = (
            QuoteFileProvider(path) if path else MockQeProvider())
        self.name = self._inner.name

    def td_report(self, report_data: bytes, event_log: bytes) -> bytes:
        """The chosen provider's TD report (see :mod:`migtd.attest.providers`)."""
        return self._inner.td_report(report_data, event_log)

    def quote(self, td_report: bytes) -> bytes:
        """The chosen provider's quote of ``td_report``."""
        return self._inner.quote(td_report)
