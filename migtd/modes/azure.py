"""``azure`` (the default): TD reports from the Azure vTPM, quotes from IMDS, full DCAP.

The quote is Intel-signed and its REPORTDATA is bound to the paravisor's
runtime claims, not to our key, and Azure measures the RTMRs itself: the
binding and event-log replay are bypassed as upstream's AzCVMEmu build does
(protocol.md §5.6). Policy v1 verifies peers against the root CA (the
shipped Intel root by default) and the collateral the operator names, or
fetches it from ``MIGTD_COLLATERAL_SOURCE`` (there is no sensible default
file for a real platform).

Rebinding (policy v2) works as in the other DCAP modes: certificates carry the
vTPM's TDREPORT (:class:`migtd.verifiers.rebind.TdReportRebindVerifier`, with
the same bypasses), and each side's "self" facts come from its own IMDS quote
verified against its policy's collaterals, as upstream's vTPM build does.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from migtd import paths
from migtd.modes.base import Mode, Setup, TrustInput, collateral_input, dcap_verifier
from migtd.verdict import AZCVMEMU_BYPASSES

if TYPE_CHECKING:
    from migtd.emu.quote_provider import QuoteProvider
    from migtd.verdict import PeerVerifier


class Azure(Mode):
    """An Azure TDX confidential VM."""

    key = name = "azure"
    summary = "Attestation mode: normal (requires TDX/Azure CVM/TPM for real attestation)"
    quote_source = "azure-imds"
    bypasses = AZCVMEMU_BYPASSES
    needs_tpm = True
    rebinding = True

    def trust_inputs(self, policy_version: int) -> tuple[TrustInput, ...]:
        """Policy v1: MIGTD_ROOT_CA_FILE (Intel's root by default) and the platform's collateral."""
        if policy_version != 1:
            return ()
        return (TrustInput("MIGTD_ROOT_CA_FILE", "root CA file", paths.intel_root_ca),
                collateral_input(None, "attestation mode azure: MIGTD_COLLATERAL_FILE must name the collateral "
                                       "(upstream JSON) for the peer's platform, or MIGTD_COLLATERAL_SOURCE "
                                       "(pcs, pccs:URL or thim:URL) say where to fetch it"))

    def runner_root_ca(self) -> Path:
        """Intel's root CA: Azure quotes are Intel-signed."""
        return paths.intel_root_ca()

    def provider(self, setup: Setup) -> QuoteProvider:
        """The vTPM + IMDS provider; opening the TPM here reports a missing one before networking."""
        from migtd.emu.azure import AzureQuoteProvider

        return AzureQuoteProvider.from_options(env=setup.env, log=setup.log, timeout=setup.timeout)

    def verifier(self, setup: Setup) -> PeerVerifier:
        """DCAP and the policy for migration, TDREPORT and policy v2 for rebinding; the AzCVMEmu bypasses."""
        return dcap_verifier(self, setup)


AZURE = Azure()
