"""``mock-report``: full attestation against mock material, in two variants.

* ``mock-report`` (the project's mock QE): TD reports built in software carry
  the requested REPORTDATA and RTMRs replayed from the event log, quoted
  through the committed mock PKI (``config/mock``). Peers are verified with
  DCAP against the mock root CA and collateral by default, and the REPORTDATA
  binding and event-log replay are checked for real.
* ``mock-quote-file`` (``MOCK_QUOTE_FILE`` set; upstream's mock-report): the
  quote is the file's bytes (typically a real Azure quote), so the root CA
  and collateral of its platform must be named, and the binding and replay
  are bypassed as upstream's AzCVMEmu build does (protocol.md §5.6).

Rebinding (policy v2) judges TDREPORT certificates with
:class:`migtd.verifiers.rebind.TdReportRebindVerifier`.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING

from migtd import paths
from migtd.modes.base import Mode, Setup, TrustInput, collateral_input, dcap_verifier
from migtd.verdict import AZCVMEMU_BYPASSES

if TYPE_CHECKING:
    from migtd.emu.quote_provider import QuoteProvider
    from migtd.verdict import PeerVerifier


class MockReport(Mode):
    """The mock QE over the committed mock PKI."""

    key = name = "mock-report"
    aliases = ("mock_report",)
    script_flag = console_flag = "--mock-report"
    summary = "Mock report mode: enabled (full attestation with mock TD reports/quotes)"
    quote_source = "mock-qe"
    rebinding = True
    reads_mock_quote = True
    generates_policy = True

    def trust_inputs(self, policy_version: int) -> tuple[TrustInput, ...]:
        """Policy v1: the mock PKI's root CA and collateral unless named (v2: the policy's own)."""
        if policy_version != 1:
            return ()
        return (TrustInput("MIGTD_ROOT_CA_FILE", "root CA file", paths.mock_root_ca),
                collateral_input(paths.mock_collateral))

    def input_files(self, policy_version: int, env: Mapping[str, str]) -> list[tuple[str, Path]]:
        """The trust files, and the mock QE's chain and keys."""
        mock = paths.mock_dir()
        return [*super().input_files(policy_version, env),
                *((f"mock QE file {name}", mock / name)
                  for name in ("pck_chain.pem", "pck_key.pem", "attestation_key.pem"))]

    def provider(self, setup: Setup) -> QuoteProvider:
        """The mock QE (``config/mock``, or ``MIGTD_CONFIG_DIR``); with policy v2 the TD's MROWNER and
        MROWNERCONFIG are bound to the policy, as a VMM provisions them."""
        from migtd.mock.providers import MockQeProvider

        if setup.policy_version != 2:
            return MockQeProvider()
        from migtd.emu.init_data import provisioned_owner

        return MockQeProvider(owner=provisioned_owner(setup.policy, setup.issuer_chain))

    def verifier(self, setup: Setup) -> PeerVerifier:
        """DCAP and the policy; the binding and replay are checked (see :func:`dcap_verifier`)."""
        return dcap_verifier(self, setup)

    def variant(self, env: Mapping[str, str]) -> Mode:
        """``MOCK_QUOTE_FILE`` selects the captured-quote variant."""
        return MOCK_QUOTE_FILE if env.get("MOCK_QUOTE_FILE") else self


class MockQuoteFile(MockReport):
    """Upstream's mock-report: one captured quote (``MOCK_QUOTE_FILE``) on every call."""

    key = "mock-quote-file"
    script_flag = console_flag = "--mock-quote-file"
    quote_source = "mock-quote-file"
    bypasses = AZCVMEMU_BYPASSES

    def trust_inputs(self, policy_version: int) -> tuple[TrustInput, ...]:
        """Policy v1: the quote is Intel-signed, so the operator names its root CA and collateral."""
        if policy_version != 1:
            return ()
        return (TrustInput("MIGTD_ROOT_CA_FILE", "root CA file", None,
                           "MOCK_QUOTE_FILE is set: MIGTD_ROOT_CA_FILE must name the root CA of that quote"),
                collateral_input(None, "MOCK_QUOTE_FILE is set: MIGTD_COLLATERAL_FILE must name its collateral "
                                       "(or MIGTD_COLLATERAL_SOURCE where to fetch it)"))

    def input_files(self, policy_version: int, env: Mapping[str, str]) -> list[tuple[str, Path]]:
        """The trust files the operator named (no mock QE here)."""
        return Mode.input_files(self, policy_version, env)

    def runner_root_ca(self) -> Path:
        """Intel's root CA: a captured quote is typically a real, Intel-signed one."""
        return paths.intel_root_ca()

    def provider(self, setup: Setup) -> QuoteProvider:
        """The file's bytes as the quote; the TD report derived from it."""
        from migtd.mock.providers import QuoteFileProvider

        return QuoteFileProvider(setup.env["MOCK_QUOTE_FILE"])

    def variant(self, env: Mapping[str, str]) -> Mode:
        """Without ``MOCK_QUOTE_FILE`` this is plain mock-report."""
        return self if env.get("MOCK_QUOTE_FILE") else MOCK_REPORT


MOCK_REPORT = MockReport()
MOCK_QUOTE_FILE = MockQuoteFile()
