"""Quote providers that attest nothing real: ``mock-report`` and ``skip-ra``.

The engine asks a provider for a TD report (with the REPORTDATA binding its TLS
key and the CCEL event log it will present) and then for a quote of that
report (the ``QuoteProvider`` protocol of :mod:`migtd.emu.quote_provider`).
The attestation-mode registry (:mod:`migtd.modes`) picks one:

* :class:`MockQeProvider` (``mock-qe``, the default): the TD report carries the
  requested REPORTDATA and RTMRs replayed from the given event log, and the
  mock QE signs it through the mock PKI. A peer can therefore check the
  REPORTDATA binding and the event-log replay (protocol.md §5.5) for real.
* :class:`QuoteFileProvider` (``mock-quote-file``, when ``MOCK_QUOTE_FILE`` is
  set): upstream's behaviour — the quote is the file's bytes on every call and
  the TD report is derived from it (attestation.md §5.1), whatever was asked.
  Peers must then bypass the binding and replay checks, as AzCVMEmu does.

TDINFO/TEE_TCB_INFO of the mock-qe report are fixed, and equal to those of the
captured Azure quote (MRTD, MRSEAM, TEE_TCB_SVN, XFAM), so one policy can
accept both providers' quotes; only REPORTDATA and the RTMRs differ, and,
with policy v2, MROWNER/MROWNERCONFIG, which carry the policy signer's key
hash and the policy SVN as a VMM provisions them (:mod:`migtd.emu.init_data`).

* :class:`SkipRaProvider` (``skip-ra``): upstream's null attestation library —
  a mock TD report and a quote of 822 zero bytes.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from migtd.errors import AttestationError, ConfigError, FormatError
from migtd.result import MigrationResult

if TYPE_CHECKING:
    from migtd.mock.qe import MockQE

#: Size of the quote upstream's null attestation library reports (HEAD; 774 at 144af3a).
SKIP_RA_QUOTE_SIZE = 822
#: Largest MOCK_QUOTE_FILE accepted (a real quote is about 5 KB).
MOCK_QUOTE_MAX = 1024 * 1024

#: Values of the captured Azure quote (attestation.md §8.1) used for the mock TD.
MOCK_TEE_TCB_SVN = bytes.fromhex("07010300000000000000000000000000")
MOCK_MRSEAM = bytes.fromhex("49b66faa451d19ebbdbe89371b8daf2b65aa3984ec90110343e9e2eec116af08"
                            "850fa20e3b1aa9a874d77a65380ee7e6")
MOCK_MRTD = bytes.fromhex("556fd5fcbf8a8c5a5490a1333fdcd5f261b7345f1735feb3e36dda3f70a1d18e"
                          "0561284da5771db75a787571a0241507")
MOCK_XFAM = bytes.fromhex("e718060000000000")
MOCK_TD_ATTRIBUTES = bytes(8)


class MockQeProvider:
    """TD reports built in software, quoted by the mock QE (``mock-qe``)."""

    name = "mock-qe"

    def __init__(self, qe: MockQE | None = None, *, mock_dir: Path | None = None,
                 owner: tuple[bytes, bytes] | None = None) -> None:
        self._qe = qe
        self._mock_dir = mock_dir
        #: MROWNER and MROWNERCONFIG of the TD, as a VMM provisions them for a policy v2 (zero by default).
        self.owner = owner or (bytes(48), bytes(48))

    @property
    def qe(self) -> MockQE:
        """The mock QE, loaded from ``mock_dir`` (default ``config/mock``) on first use."""
        if self._qe is None:
            from migtd.mock.qe import MockQE

            self._qe = MockQE.load(self._mock_dir)
        return self._qe

    def td_report(self, report_data: bytes, event_log: bytes) -> bytes:
        """A TD report with ``report_data`` (64 bytes) and RTMRs replayed from ``event_log``."""
        from migtd.attest.tdreport import TdInfo, TdReport, TeeTcbInfo
        from migtd.eventlog import parse_event_log, replay_rtmrs

        if len(report_data) != 64:
            raise AttestationError(f"TD report: REPORTDATA must be 64 bytes, got {len(report_data)}",
                                   MigrationResult.TdxModuleError)
        try:
            rtmrs = replay_rtmrs(parse_event_log(event_log))
        except FormatError as exc:
            raise AttestationError(f"TD report: event log: {exc.message}", MigrationResult.TdxModuleError) from None
        tee = TeeTcbInfo(valid=(1).to_bytes(8, "little"), tee_tcb_svn=MOCK_TEE_TCB_SVN, mrseam=MOCK_MRSEAM)
        info = TdInfo(attributes=MOCK_TD_ATTRIBUTES, xfam=MOCK_XFAM, mrtd=MOCK_MRTD, mrowner=self.owner[0],
                      mrownerconfig=self.owner[1], rtmrs=tuple(rtmrs))  # type: ignore[arg-type]
        return TdReport.build(report_data=bytes(report_data), tee_tcb_info=tee, td_info=info,
                              cpusvn=MOCK_TEE_TCB_SVN).to_bytes()

    def quote(self, td_report: bytes) -> bytes:
        """The mock QE's v4 quote of ``td_report``."""
        return self.qe.quote(td_report)


class QuoteFileProvider:
    """Upstream mock-report with ``MOCK_QUOTE_FILE``: the same quote every time."""

    name = "mock-quote-file"

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)

    def _read(self, result: MigrationResult) -> bytes:
        """The file as it is now: upstream reads it at every report and quote generation."""
        from migtd.inputs import read_input

        try:
            return read_input(self.path, "MOCK_QUOTE_FILE", limit=MOCK_QUOTE_MAX)
        except ConfigError as exc:
            raise AttestationError(exc.message, result) from None

    def td_report(self, report_data: bytes, event_log: bytes) -> bytes:
        """The report upstream derives from the quote file; the arguments are ignored."""
        from migtd.attest.quote import td_report_from_quote

        data = self._read(MigrationResult.TdxModuleError)
        try:
            return td_report_from_quote(data)
        except FormatError as exc:
            raise AttestationError(f"MOCK_QUOTE_FILE {self.path}: {exc.message}",
                                   MigrationResult.TdxModuleError) from None

    def quote(self, td_report: bytes) -> bytes:
        """The file's bytes, whatever ``td_report`` is (an unreadable or empty file fails with 7)."""
        return self._read(MigrationResult.MutualAttestationError)



class SkipRaProvider:
    """Null attestation: a mock report and an all-zero quote. Attests nothing.

    Like upstream's skip-RA build, ``MOCK_QUOTE_FILE`` (if given) is used for
    the TD report only: the report is derived from that quote, as upstream's
    mock-report mode derives it; otherwise it is a synthetic report carrying
    the requested REPORTDATA.
    """

    name = "skip-ra"

    def __init__(self, mock_quote_file: str | Path | None = None) -> None:
        self._quote_file = QuoteFileProvider(mock_quote_file) if mock_quote_file else None

    def td_report(self, report_data: bytes, event_log: bytes) -> bytes:
        """The TD report derived from ``MOCK_QUOTE_FILE``, else a mock one carrying ``report_data``."""
        if self._quote_file is not None:
            return self._quote_file.td_report(report_data, event_log)
        from migtd.mock.report import mock_td_report

        return mock_td_report(report_data)

    def quote(self, td_report: bytes) -> bytes:
        """Upstream's null quote: 822 zero bytes."""
        return bytes(SKIP_RA_QUOTE_SIZE)
