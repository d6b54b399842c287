"""``--attestation azure``: TD reports from the Azure vTPM, quotes from IMDS.

This is what MigTD runs inside an Azure TDX CVM: the report comes from the
paravisor through vTPM NV indexes (:mod:`migtd.emu.vtpm`), the quote from the
IMDS endpoint (:mod:`migtd.emu.imds`). Configuration comes from the
environment, as upstream's emulator does:

* ``TSS2_TCTI`` — the TPM to talk to (default ``device:/dev/tpmrm0``);
* ``MIGTD_IMDS_URL`` — the quote endpoint (default ``http://169.254.169.254/acc/tdquote``);
* ``MIGTD_VTPM_SETTLE`` — the longest wait, in seconds, for the paravisor to
  refresh the HCL report after the report data is written (default 3, as upstream).

The event log argument of :meth:`td_report` is ignored: on Azure the platform,
not MigTD, measures into the RTMRs, and peers tolerate the mismatch (§7).
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from typing import Any

from migtd.emu.imds import DEFAULT_URL, ImdsClient
from migtd.emu.vtpm import (
    DEFAULT_ATTEMPTS,
    DEFAULT_RETRY_WAIT,
    DEFAULT_SETTLE,
    DEFAULT_TCTI,
    Vtpm,
    VtpmReportSource,
    tcti_from_env,
)
from migtd.errors import ConfigError
from migtd.events import EventLog

#: Bound on the IMDS call when the engine passes none (its own --timeout default).
DEFAULT_TIMEOUT = 60.0


class AzureQuoteProvider:
    """Quote provider for Azure TDX CVMs (the engine's ``QuoteProvider`` protocol).

    Construction imports tpm2-pytss and opens the TPM once, so a missing
    package, device or permission is reported at start-up as one line rather
    than in the middle of a migration.
    """

    name = "azure-imds"

    def __init__(self, tcti: str = DEFAULT_TCTI, imds_url: str = DEFAULT_URL,
                 timeout: float = DEFAULT_TIMEOUT, log: EventLog | None = None, *,
                 settle: float = DEFAULT_SETTLE, attempts: int = DEFAULT_ATTEMPTS,
                 retry_wait: float = DEFAULT_RETRY_WAIT, probe: bool = True) -> None:
        self.tcti = tcti
        self.imds_url = imds_url
        vtpm = Vtpm(tcti, log)
        self.log = vtpm.log  # ``log``, or events.null_log()
        self.reports = VtpmReportSource(vtpm, settle=settle, attempts=attempts, retry_wait=retry_wait)
        self.imds = ImdsClient(imds_url, timeout, self.log)
        if probe:
            buffer_max = self.reports.probe()
            self.log.debug(f"vTPM at '{self.tcti}' is reachable (NV buffer {buffer_max} bytes); "
                           f"IMDS endpoint {self.imds_url}")

    @classmethod
    def from_options(cls, env: Mapping[str, str] | None = None, log: EventLog | None = None,
                     timeout: float | None = None, **_ignored: Any) -> AzureQuoteProvider:
        """Build from the environment; the engine's factory passes its generic options here.

        ``timeout`` is the engine's validated ``--timeout``/``MIGTD_TIMEOUT``
        (:data:`DEFAULT_TIMEOUT` when not given). Options meant for other modes
        (``mock_quote_file``) are ignored, as upstream ignores
        ``MOCK_QUOTE_FILE`` outside mock-report.
        """
        source = os.environ if env is None else env
        return cls(tcti=tcti_from_env(source), imds_url=source.get("MIGTD_IMDS_URL") or DEFAULT_URL,
                   timeout=DEFAULT_TIMEOUT if timeout is None else timeout, log=log,
                   settle=_seconds(source, "MIGTD_VTPM_SETTLE", DEFAULT_SETTLE))

    def td_report(self, report_data: bytes, event_log: bytes) -> bytes:
        """The 1024-byte TDREPORT the paravisor produced for ``report_data``.

        Its REPORTDATA is SHA-256 of the runtime claims (which embed
        ``report_data``), not ``report_data`` itself; peers in AzCVMEmu mode
        bypass that binding check (attestation.md §7).
        """
        report = self.reports.hcl_report(report_data)
        self.log.debug(f"HCL report v{report.version}: {len(report.runtime_claims)} bytes of "
                       f"runtime claims, REPORTDATA bound to them: {report.claims_bound()}")
        return report.td_report

    def quote(self, td_report: bytes) -> bytes:
        """The quote IMDS issues for ``td_report`` (parsed and checked before it is returned)."""
        return self.imds.get_quote(td_report)


#: Longest paravisor settle time accepted (upstream waits up to 3 s).
MAX_SETTLE = 600.0


def _seconds(env: Mapping[str, str], name: str, default: float) -> float:
    """A number of seconds from ``env[name]``, 0 to :data:`MAX_SETTLE`; unset or empty gives ``default``.

    Parsed by :func:`migtd.inputs.parse_seconds` (ASCII decimal only: no ``nan``, ``inf``, ``1e400``
    or Unicode digits), with 0 allowed: a settle time of 0 means "do not wait".
    """
    from migtd.inputs import parse_seconds

    raw = env.get(name, "").strip()
    if not raw:
        return default
    if re.fullmatch(r"\+?(0+\.?0*|\.0+)", raw):
        return 0.0
    value = parse_seconds(raw, maximum=MAX_SETTLE)
    if value is None:
        raise ConfigError(f"Invalid {name} value: {raw}. Use a number of seconds from 0 to {MAX_SETTLE:g}")
    return value
