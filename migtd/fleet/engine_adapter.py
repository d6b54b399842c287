"""The one place where the fleet code reaches into the engine's quote providers and mock material.

Everything the fleet package needs from the attestation-mode registry
(:mod:`migtd.modes`) and the mock material (:mod:`migtd.mock`) goes through
this file:

* :func:`present` — what a MigTD in a given mode and configuration would put
  in its RA-TLS certificate: a quote (from the mode's provider) and the CCEL
  event log it measured at start-up (the mode's own rule, as ``migtd``
  measures it). ``migtd-tool evidence collect`` calls it.
* :func:`mock_material` — the mock QE/PKI building blocks the synthetic fleet
  generator (:mod:`migtd.fleet.synthetic`) signs with.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from types import SimpleNamespace
from typing import Any


@dataclass(frozen=True)
class Presented:
    """A MigTD's evidence: its quote, its event log, and which provider produced the quote."""

    quote: bytes
    event_log: bytes
    quote_source: str


def local_event_log(mode: str, policy_version: int, policy: bytes, root_ca: bytes,
                    issuer_chain: bytes) -> bytes:
    """The CCEL log a MigTD in attestation ``mode`` measures at start-up (:meth:`migtd.modes.Mode.event_log`).

    skip-RA logs one test-feature event; policy v1 measures the policy and the
    root CA file; policy v2 the issuer chain and the signed policy.
    """
    from migtd import modes

    return modes.resolve(mode, {}).event_log(policy_version, policy, root_ca, issuer_chain)


def present(mode: str, *, policy_version: int, policy: bytes, root_ca: bytes, issuer_chain: bytes,
            report_data: bytes, mock_quote_file: str | None, env: Mapping[str, str],
            timeout: float) -> Presented:
    """Ask the ``mode`` provider for a TD report over ``report_data`` and its quote.

    ``mock_quote_file`` replaces any ``MOCK_QUOTE_FILE`` of ``env`` (it selects
    the captured-quote variant of mock-report, and skip-RA's TD report).
    Raises the providers' own errors (:class:`~migtd.errors.MigtdError`
    subclasses: ConfigError for an unknown mode or a missing TPM library,
    AttestationError when no quote can be had), which ``migtd-tool`` prints as
    one line with the matching exit status.
    """
    from migtd import modes

    run_env = {k: v for k, v in env.items() if k != "MOCK_QUOTE_FILE"}
    if mock_quote_file:
        run_env["MOCK_QUOTE_FILE"] = mock_quote_file
    chosen = modes.resolve(mode, run_env)
    log = chosen.event_log(policy_version, policy, root_ca, issuer_chain)
    provider = chosen.provider(modes.Setup("migration", policy_version, policy, issuer_chain, run_env, timeout))
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
    from migtd.mock import pki as mock_pki
    from migtd.mock import platform, providers

    return SimpleNamespace(
        MockPki=mock_pki.MockPki, pcs_body=mock_pki.pcs_body, tcb_info_document=mock_pki.tcb_info_document,
        qe_identity_document=mock_pki.qe_identity_document, raw_signature=platform.raw_signature,
        pem=mock_pki.pem, PCK_TCB_COMPONENTS=platform.PCK_TCB_COMPONENTS, PCK_PCESVN=platform.PCK_PCESVN,
        QE_MRENCLAVE=platform.QE_MRENCLAVE, QE_MRSIGNER=platform.QE_MRSIGNER,
        QE_ISVPRODID=platform.QE_ISVPRODID, QE_ISVSVN=platform.QE_ISVSVN, QE_ATTRIBUTES=platform.QE_ATTRIBUTES,
        MOCK_MRTD=providers.MOCK_MRTD, MOCK_MRSEAM=providers.MOCK_MRSEAM,
        MOCK_TEE_TCB_SVN=providers.MOCK_TEE_TCB_SVN, MOCK_XFAM=providers.MOCK_XFAM,
        MOCK_TD_ATTRIBUTES=providers.MOCK_TD_ATTRIBUTES,
    )
