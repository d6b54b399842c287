"""The one place where the fleet code reaches into the engine's quote providers and mock material.

The engine is being restructured (attestation modes become a registry; the
mock QE and mock PKI move out of ``migtd.attest``). Everything the fleet
package needs from those modules goes through this file, so that merge is a
change here and nowhere else:

* :func:`present` — what a MigTD in a given mode and configuration would put
  in its RA-TLS certificate: a quote (from the mode's provider) and the CCEL
  event log it measured at start-up. ``migtd-tool evidence collect`` calls it.
* :func:`mock_material` — the mock QE/PKI building blocks the synthetic fleet
  generator (:mod:`migtd.fleet.synthetic`) signs with.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from types import SimpleNamespace
from typing import Any

from migtd import eventlog


@dataclass(frozen=True)
class Presented:
    """A MigTD's evidence: its quote, its event log, and which provider produced the quote."""

    quote: bytes
    event_log: bytes
    quote_source: str


def local_event_log(mode: str, policy_version: int, policy: bytes, root_ca: bytes,
                    issuer_chain: bytes) -> bytes:
    """The CCEL log a MigTD measures at start-up, per mode and policy version.

    The same rule as the session's ``local_event_log`` (``migtd/session.py``):
    skip-RA logs one test-feature event; policy v1 measures the policy and the
    root CA file; policy v2 the issuer chain and the signed policy.
    """
    if mode == "skip-ra":
        return eventlog.skip_ra_event_log()
    if policy_version == 2:
        return eventlog.v2_event_log(issuer_chain, policy)
    return eventlog.v1_event_log(policy, root_ca)


def present(mode: str, *, policy_version: int, policy: bytes, root_ca: bytes, issuer_chain: bytes,
            report_data: bytes, mock_quote_file: str | None, env: Mapping[str, str],
            timeout: float) -> Presented:
    """Ask the ``mode`` provider for a TD report over ``report_data`` and its quote.

    Raises the providers' own errors (:class:`~migtd.errors.MigtdError`
    subclasses: ConfigError for an unknown mode or a missing TPM library,
    AttestationError when no quote can be had), which ``migtd-tool`` prints as
    one line with the matching exit status.
    """
    from migtd.emu.quote_provider import make_provider

    log = local_event_log(mode, policy_version, policy, root_ca, issuer_chain)
    provider = make_provider(mode, mock_quote_file=mock_quote_file, env=env, timeout=timeout)
    report = provider.td_report(report_data, log)
    quote = provider.quote(report)
    return Presented(bytes(quote), log, str(provider.name))


def mock_material() -> Any:
    """The mock PKI and QE pieces the synthetic fleet signs with (imported on demand).

    Attributes: ``MockPki`` (fresh root, PCK CA, TCB signer, keys),
    ``pcs_body`` (a PCS-style signed body), ``tcb_info_document`` and
    ``qe_identity_document`` (the mock TCB info / QE identity),
    ``raw_signature`` (ECDSA P-256 r‖s), ``pem``, and the mock TD constants
    (``MOCK_MRTD``, ``MOCK_MRSEAM``, ``MOCK_TEE_TCB_SVN``, ``MOCK_XFAM``).
    """
    from migtd.attest import mock_pki, providers

    return SimpleNamespace(
        MockPki=mock_pki.MockPki, pcs_body=mock_pki.pcs_body, tcb_info_document=mock_pki.tcb_info_document,
        qe_identity_document=mock_pki.qe_identity_document, raw_signature=mock_pki.raw_signature,
        pem=mock_pki.pem, PCK_TCB_COMPONENTS=mock_pki.PCK_TCB_COMPONENTS, PCK_PCESVN=mock_pki.PCK_PCESVN,
        QE_MRENCLAVE=mock_pki.QE_MRENCLAVE, QE_MRSIGNER=mock_pki.QE_MRSIGNER,
        QE_ISVPRODID=mock_pki.QE_ISVPRODID, QE_ISVSVN=mock_pki.QE_ISVSVN, QE_ATTRIBUTES=mock_pki.QE_ATTRIBUTES,
        MOCK_MRTD=providers.MOCK_MRTD, MOCK_MRSEAM=providers.MOCK_MRSEAM,
        MOCK_TEE_TCB_SVN=providers.MOCK_TEE_TCB_SVN, MOCK_XFAM=providers.MOCK_XFAM,
        MOCK_TD_ATTRIBUTES=providers.MOCK_TD_ATTRIBUTES,
    )
