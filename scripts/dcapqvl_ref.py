"""dcap-qvl (Phala Network's DCAP verifier, PyPI ``dcap-qvl``) as a reference for ours.

Used by ``benchmarks/verify_quote.py`` (timing) and ``scripts/dcap_differential.py``
with its CI subset ``tests/attest/test_differential.py`` (decisions):

* :func:`dcap_collateral` gives MigTD's collateral to dcap-qvl
  (attestation.md §4.6). The PCS bodies are split with plain string
  operations — at the last ``,"signature":"`` — not with our parser, so
  dcap-qvl parses the signed JSON itself; CRLs go over as DER.
* :func:`dcap_verdict` runs ``verify_with_root_ca`` and sorts its answer into
  ``accept``, ``td_attributes`` (every signature, revocation and TCB step
  passed, then its TD-attribute rule refused the TD: MigTD has no such rule,
  attestation.md §3.5) and ``reject``; a collateral it cannot even be given
  is ``reject`` with kind detail ``unconvertible``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

#: The release the comparison and the benchmark were written against (``pyproject.toml`` pins it).
DCAP_QVL_VERSION = "0.7.0"

#: dcap-qvl's final TD-attribute policy (its last step, after every cryptographic and TCB check).
TD_ATTRIBUTE_REASONS = (
    "SEPT_VE_DISABLE is not enabled", "Debug mode is enabled", "Reserved bits in TD attributes are set",
    "TD profiling is enabled", "SERVTD_EXT is enabled", "TD migration is enabled", "Invalid MR service TD",
)


def intel_root_ca() -> bytes:
    """Intel's production root CA (DER): the copy the package ships (``migtd.paths.intel_root_ca``)."""
    from migtd import paths
    from migtd.inputs import read_input

    return read_input(paths.intel_root_ca(), "Intel root CA")


class Unconvertible(ValueError):
    """The collateral cannot be put into dcap-qvl's form (a CRL or a PCS body is malformed)."""


@dataclass(frozen=True)
class Verdict:
    """dcap-qvl's answer: ``kind`` is ``accept``, ``td_attributes`` or ``reject``."""

    kind: str
    status: str = ""
    advisories: tuple[str, ...] = field(default=())
    detail: str = ""

    @property
    def passes_migtd_checks(self) -> bool:
        """Whether every check MigTD also makes passed (its TD-attribute rule set aside)."""
        return self.kind in ("accept", "td_attributes")


def _split_body(body: str, key: str) -> tuple[str, bytes]:
    prefix = f'{{"{key}":'
    marker = ',"signature":"'
    end = body.rfind(marker)
    if not body.startswith(prefix) or end < 0 or not body.endswith('"}'):
        raise Unconvertible(f"{key} body is not {{\"{key}\":...,\"signature\":\"...\"}}")
    try:
        signature = bytes.fromhex(body[end + len(marker):-2])
    except ValueError:
        raise Unconvertible(f"{key} signature is not hex") from None
    return body[len(prefix):end], signature


def _crl_der(text: str, what: str) -> bytes:
    from cryptography import x509
    from cryptography.hazmat.primitives.serialization import Encoding

    try:
        if "-----BEGIN" in text:
            return x509.load_pem_x509_crl(text.encode()).public_bytes(Encoding.DER)
        return bytes.fromhex(text.strip())
    except ValueError as exc:
        raise Unconvertible(f"{what}: {exc}") from None


def dcap_collateral(collateral: Any, fmspc: bytes) -> Any:
    """``collateral`` (:class:`migtd.attest.collateral.Collateral`) as ``dcap_qvl.QuoteCollateralV3``
    for the platform ``fmspc``; :class:`Unconvertible` when that cannot be built."""
    import dcap_qvl

    platform = collateral.platform(fmspc)
    if platform is None:
        raise Unconvertible(f"no platform {fmspc.hex().upper()}")
    tcb_text, tcb_sig = _split_body(platform.tcb_info, "tcbInfo")
    qe_text, qe_sig = _split_body(collateral.qe_identity, "enclaveIdentity")
    try:
        return dcap_qvl.QuoteCollateralV3(
            pck_crl_issuer_chain=collateral.pck_crl_issuer_chain,
            root_ca_crl=_crl_der(collateral.root_ca_crl, "rootCaCrl"),
            pck_crl=_crl_der(collateral.pck_crl, "pckCrl"),
            tcb_info_issuer_chain=platform.tcb_info_issuer_chain, tcb_info=tcb_text, tcb_info_signature=tcb_sig,
            qe_identity_issuer_chain=collateral.qe_identity_issuer_chain, qe_identity=qe_text,
            qe_identity_signature=qe_sig)
    except (ValueError, TypeError) as exc:
        raise Unconvertible(str(exc)) from None


def dcap_verdict(dcap_qvl: Any, quote: bytes, collateral: Any, root_ca_der: bytes, now: int) -> Verdict:
    """Run dcap-qvl (``verify_with_root_ca``) and classify its answer."""
    try:
        result = dcap_qvl.verify_with_root_ca(quote, collateral, root_ca_der, now)
    except ValueError as exc:
        reason = " ".join(str(exc).split())
        first = reason.removeprefix("Verification failed: ").split(" Caused by:", 1)[0].strip()
        if first in TD_ATTRIBUTE_REASONS:     # the final TD-attribute step itself, not e.g. a QE report check
            return Verdict("td_attributes", detail=reason)
        return Verdict("reject", detail=reason)
    return Verdict("accept", result.status, tuple(result.advisory_ids), result.status)
