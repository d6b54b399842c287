"""``skip-ra``: no remote attestation (upstream's ``test_disable_ra_and_accept_all`` build).

Quotes: the null attestation library's 822 zero bytes over a mock TD report
(derived from ``MOCK_QUOTE_FILE`` when given, as upstream does); through the
IGVM GetQuote buffer (``--quote-request igvm``) the emulated VMM answers with a
mock quote instead, as upstream's skip-RA + igvm-attest build does. Peers: only
structure is checked; everything else is bypassed and said so on every run.
Nothing is trusted, so no trust files are read.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from migtd.modes.base import Mode, Setup

if TYPE_CHECKING:
    from collections.abc import Callable, Mapping
    from pathlib import Path

    from migtd.emu.quote_provider import QuoteProvider
    from migtd.verdict import PeerVerifier


class SkipRa(Mode):
    """Accept-all attestation, for testing only."""

    key = name = "skip-ra"
    aliases = ("skip_ra",)
    script_flag = console_flag = "--skip-ra"
    summary = "Skip RA mode: enabled (mock attestation, no TDX/Azure CVM/TPM required)"
    quote_source = "skip-ra"
    rebinding = True
    reads_mock_quote = True
    start_warning = ("SKIP-RA MODE: remote attestation is disabled - peers are accepted without "
                     "quote verification or policy checks. For testing only.")

    def provider(self, setup: Setup) -> QuoteProvider:
        """Null quotes; the TD report comes from ``MOCK_QUOTE_FILE`` when one is given."""
        from migtd.mock.providers import SkipRaProvider

        return SkipRaProvider(setup.env.get("MOCK_QUOTE_FILE") or None)

    def verifier(self, setup: Setup) -> PeerVerifier:
        """Structure only (§9.2); for rebinding, only the new MigTD's SERVTD_EXT requirement (§7)."""
        from migtd.verifiers.skip_ra import SkipRaRebindVerifier, SkipRaVerifier

        if setup.operation == "migration":
            return SkipRaVerifier(setup.policy_version)
        return SkipRaRebindVerifier(setup.policy_version)

    def igvm_quote(self, setup: Setup, provider: QuoteProvider) -> Callable[[bytes], bytes]:
        """Upstream's skip-RA build has the mock-report emulator, whose GetQuote answers with the mock
        quote (spec/spdm.md §11.4): ``MOCK_QUOTE_FILE``, else the project's mock QE's quote."""
        path = setup.env.get("MOCK_QUOTE_FILE")
        if path:
            from migtd.mock.providers import QuoteFileProvider

            return QuoteFileProvider(path).quote
        from migtd.mock.providers import MockQeProvider

        return MockQeProvider().quote

    def igvm_input_files(self, env: Mapping[str, str]) -> list[tuple[str, Path]]:
        """The mock QE's chain and keys, which answer the GetQuote when no ``MOCK_QUOTE_FILE`` does."""
        if env.get("MOCK_QUOTE_FILE"):
            return []
        from migtd import paths

        mock = paths.mock_dir()
        return [(f"mock QE file {name}", mock / name) for name in ("pck_chain.pem", "pck_key.pem",
                                                                   "attestation_key.pem")]

    def event_log(self, policy_version: int, policy: bytes, root_ca: bytes, issuer_chain: bytes) -> bytes:
        """Only the test-feature event (§5.3)."""
        from migtd import eventlog

        return eventlog.skip_ra_event_log()


SKIP_RA = SkipRa()
