"""DCAP verification of a TDX quote, with MigTD's semantics (attestation.md §3).

``verify_quote(quote, collateral, root_ca_der)`` runs the §3.2 procedure and
returns a :class:`VerifiedQuote` whose ``report`` is the 822-byte packed
supplemental data MigTD's policy engines read (:mod:`migtd.attest.suppl`).
Any failure raises :class:`QuoteVerificationError` whose ``.step`` names the
check that failed.

The procedure is spread over modules by concern:

* :mod:`~migtd.attest.collateral_cache` — what depends on the collateral only
  (CRLs, signing chains, TCB info and QE identity), checked once per
  collateral and trust anchor and kept in a :class:`CollateralCache`;
* this module — what depends on the quote: header, PCK chain (remembered per
  exact chain bytes in the verified collateral), QE report and its binding of
  the attestation key, QE identity, quote signature, TDX module identity;
* :mod:`~migtd.attest.tcb` — TCB level matching, convergence and the TD
  relaunch check;
* :mod:`~migtd.attest.validity` — the time rule;
* :mod:`~migtd.attest.suppl` — the supplemental data written from the result.

Time (§3.4): by default "now" is the midpoint between the latest issue date
and the earliest expiry found in the collateral and the PCK chain, and expiry
is only a flag (``collateral_expired``), as Intel's servtd library does for
MigTD. ``at=`` switches to a strict check at that instant instead (what
``migtd-tool quote verify --at`` and the dcap-qvl comparison use).

Caching: ``cache=`` is the :class:`CollateralCache` to use (the process-wide
:data:`DEFAULT_CACHE` unless given); ``cache=None`` verifies everything from
scratch and keeps nothing.

Speed of a fresh verification (``cache=None`` or collateral not cached yet):
the nine ECDSA checks are run together after an optimistic pass that takes
each to hold, and that pass's result is kept only when all of them do hold;
otherwise the quote is verified again with every check in its place, so the
outcome, including which step fails, is always the in-place one
(:func:`_verify_fresh`).
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from cryptography.exceptions import InvalidSignature, UnsupportedAlgorithm
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec

from migtd.attest import tcb as tcbmod
from migtd.attest.certs import (
    NAME_ERRORS,
    Crl,
    check_issued_by,
    deferred_signatures,
    ecdsa_verify,
    load_pem_chain,
    p256_key,
    pck_chain_roles,
    signatures_hold,
)
from migtd.attest.collateral import Collateral
from migtd.attest.collateral_cache import (
    DEFAULT_CACHE,
    CollateralCache,
    VerifiedCollateral,
    VerifiedPlatform,
    cert_window,
    raw_signature_der,
    verify_collateral,
)
from migtd.attest.errors import QuoteVerificationError
from migtd.attest.quote import (
    ATT_KEY_TYPE_ECDSA_P256,
    BODY_TYPE_TD15,
    INTEL_QE_VENDOR_ID,
    TEE_TYPE_TDX,
    Quote,
    parse_quote,
)
from migtd.attest.sgx_ext import SGX_EXTENSION_OID, SgxExtension, parse_sgx_extension
from migtd.attest.suppl import SIZE as SUPPLEMENTAL_SIZE
from migtd.attest.suppl import TD10_BODY_SIZE, SupplementalData
from migtd.attest.tcb import TERMINAL_STATUSES
from migtd.attest.validity import check_at, midpoint
from migtd.der import encode_oid_body
from migtd.errors import FormatError

__all__ = [
    "DEFAULT_CACHE",
    "SUPPLEMENTAL_SIZE",
    "TERMINAL_STATUSES",
    "CollateralCache",
    "QuoteVerificationError",
    "VerifiedQuote",
    "clear_cache",
    "verify_quote",
]

_ECDSA_SHA256 = ec.ECDSA(hashes.SHA256())
_VERIFY_ERRORS = (InvalidSignature, ValueError, TypeError, AttributeError, UnsupportedAlgorithm)
_SGX_OID = encode_oid_body(SGX_EXTENSION_OID)


def clear_cache() -> None:
    """Forget all verified collateral in :data:`DEFAULT_CACHE` (tests and cold benchmarks)."""
    DEFAULT_CACHE.clear()


@dataclass(frozen=True)
class VerifiedQuote:
    """What a successful verification established about a quote."""

    report: bytes                # 822-byte supplemental data (migtd.attest.suppl)
    tcb_status: str
    advisories: list[str]
    fmspc: bytes
    mrtd: bytes
    rtmrs: list[bytes]
    tee_tcb_svn: bytes
    report_data: bytes
    quote: Quote
    quote_bytes: int
    qe_tcb_status: str
    platform_tcb_date: datetime
    qe_tcb_date: datetime
    tcb_date: datetime
    module_svn: int
    tcb_evaluation_data_number: int
    verification_time: datetime
    time_rule: str               # "midpoint" (MigTD) or "explicit" (at=)
    collateral_expired: bool
    pck: SgxExtension
    #: (root CA CRL, PCK CRL): their CRL numbers are decoded only when asked for.
    crls: tuple[Crl, Crl] = field(repr=False, compare=False)

    @property
    def root_ca_crl_number(self) -> int | None:
        """CRL Number of the root CA CRL (``None`` when it has none)."""
        return self.crls[0].number

    @property
    def pck_crl_number(self) -> int | None:
        """CRL Number of the PCK CRL (``None`` when it has none)."""
        return self.crls[1].number

    def event_fields(self) -> dict[str, Any]:
        """Fields of the ``peer_attested`` event (docs/events.md), hex upper-case."""
        return {
            "verified": True,
            "tcb_status": self.tcb_status,
            "advisories": list(self.advisories),
            "fmspc": self.fmspc.hex().upper(),
            "mrtd": self.mrtd.hex().upper(),
            "rtmrs": [r.hex().upper() for r in self.rtmrs],
            "tee_tcb_svn": self.tee_tcb_svn.hex().upper(),
            "quote_bytes": self.quote_bytes,
        }


def verify_platform(vc: VerifiedCollateral, chain: bytes) -> VerifiedPlatform:
    """Steps 3–7 for a quote's PCK chain: chain to the anchor, CRLs, SGX extension, TCB info."""
    leaf, pck_ca, chain_root = pck_chain_roles(load_pem_chain(chain, "pck_chain", 3, vc.known), "pck_chain")
    if not chain_root.same_key(vc.root):
        raise QuoteVerificationError("root_ca", "the quote's PCK chain does not end at the trusted root CA")
    if chain_root.der != vc.root.der:
        check_issued_by(chain_root, chain_root, "pck_chain", "root CA in the quote")
    vc.root_issued(pck_ca, "pck_chain", "PCK CA")
    check_issued_by(leaf, pck_ca, "pck_chain", "PCK certificate")

    # 4. CRLs (their signatures by the anchor / the collateral's PCK CA were checked with the collateral)
    if pck_ca.der not in vc.pck_crl_issuers:
        try:
            signed = vc.pck_crl.x509.issuer == pck_ca.x509.subject and vc.pck_crl.signed_by(pck_ca.key)
        except NAME_ERRORS:
            signed = False
        if not signed:
            raise QuoteVerificationError("crl", "PCK CRL is not signed by the quote's PCK CA")
        vc.pck_crl_issuers.add(pck_ca.der)
    if vc.root_crl.revokes(pck_ca.x509.serial_number):
        raise QuoteVerificationError("revoked", "PCK CA certificate is revoked by the root CA CRL")
    serial = leaf.x509.serial_number
    if vc.pck_crl.revokes(serial):
        raise QuoteVerificationError("revoked", f"PCK certificate serial {serial:#x} is revoked")

    # 5. SGX extension
    try:
        value = leaf.extension(_SGX_OID)
        if value is None:
            raise QuoteVerificationError("sgx_extension", "PCK certificate has no SGX extension")
        pck = parse_sgx_extension(value)
    except FormatError as exc:
        raise QuoteVerificationError("sgx_extension", exc.message) from None

    # 6. TCB info (7. QE identity was checked with the collateral)
    entry = vc.tcb(pck.fmspc)
    if entry.info.pce_id != pck.pce_id:
        raise QuoteVerificationError("tcb_info", "TCB info PCE-ID is not the PCK's")
    windows = (*vc.windows, *entry.windows, cert_window("PCK certificate", leaf), cert_window("PCK CA", pck_ca),
               cert_window("root CA", chain_root))
    return VerifiedPlatform(leaf, pck, entry, windows)


def verify_quote(quote: bytes, collateral: Collateral, root_ca_der: bytes, *, at: datetime | None = None,
                 cache: CollateralCache | None = DEFAULT_CACHE) -> VerifiedQuote:
    """Verify a TDX quote against collateral and a trusted root CA (attestation.md §3.2).

    ``at=None`` applies MigTD's midpoint time rule (expiry never fatal); an
    explicit ``at`` requires every collateral item to be valid at that instant.
    ``cache`` keeps verified collateral between calls (``None``: keep nothing).
    """
    quote = bytes(quote)
    try:
        q = parse_quote(quote)
    except FormatError as exc:
        raise QuoteVerificationError("parse", exc.message) from None

    # 1. header values
    h = q.header
    if h.att_key_type != ATT_KEY_TYPE_ECDSA_P256:
        raise QuoteVerificationError("header", f"attestation key type {h.att_key_type} is not ECDSA P-256 (2)")
    if h.tee_type != TEE_TYPE_TDX:
        raise QuoteVerificationError("header", f"TEE type {h.tee_type:#x} is not TDX (0x81)")
    if h.qe_vendor_id != INTEL_QE_VENDOR_ID:
        raise QuoteVerificationError("header", "QE vendor id is not Intel's")

    if cache is None or (collateral, root_ca_der) not in cache:
        # Nothing verified to start from: one optimistic pass with the signature checks
        # run together at its end, kept only when all of them hold.
        done = _verify_fresh(q, len(quote), collateral, root_ca_der, at)
        if done is not None:
            if cache is not None:
                cache.put(collateral, root_ca_der, done[1])
            return done[0]
    vc = cache.verified(collateral, root_ca_der) if cache is not None else verify_collateral(collateral, root_ca_der)
    return _verify_with(q, len(quote), vc, at)


def _verify_fresh(q: Quote, size: int, collateral: Collateral, root_ca_der: bytes,
                  at: datetime | None) -> tuple[VerifiedQuote, VerifiedCollateral] | None:
    """The whole verification from scratch with every ECDSA check deferred to its end.

    While the checks are deferred each is taken to hold, so when all of them
    do hold, every step saw what it would have seen with the check in place and
    the result is the one the in-place verification gives. Anything else — a
    check that fails, or any error on the way, which a failed check might have
    preempted — returns ``None``, and the caller decides again with every check
    in place. Only speed differs: OpenSSL's checks run faster back to back
    (:mod:`migtd.attest.certs`). The :class:`VerifiedCollateral` built here is
    new and seen by nobody else until the caller keeps it.
    """
    with deferred_signatures() as checks:
        try:
            vc = verify_collateral(collateral, root_ca_der)
            result = _verify_with(q, size, vc, at)
        except Exception:  # noqa: BLE001 -- decided again, checks in place, by the caller
            return None
    return (result, vc) if signatures_hold(checks) else None


def _verify_with(q: Quote, size: int, vc: VerifiedCollateral, at: datetime | None) -> VerifiedQuote:
    """Steps 3–16 for a parsed quote whose header was checked, against verified collateral."""
    qe_id = vc.qe_identity
    assert qe_id is not None

    # 3.–7. the PCK chain, once per exact chain bytes
    cd = q.cert_data
    plat = vc.platform(cd.pck_chain)
    if plat is None:
        plat = verify_platform(vc, cd.pck_chain)
        vc.remember_platform(cd.pck_chain, plat)
    pck, info = plat.pck, plat.tcb.info

    # time: the midpoint rule, or the strict check at `at`
    if at is None:
        if plat.midpoint is None:
            plat.midpoint = midpoint(plat.windows)
        now, expired = plat.midpoint
        rule = "midpoint"
    else:
        now, expired, rule = check_at(plat.windows, at), False, "explicit"

    # 9. QE report signature by the PCK leaf
    try:
        ecdsa_verify(plat.leaf.key, raw_signature_der(cd.qe_report_signature), cd.qe_report_raw, _ECDSA_SHA256)
    except _VERIFY_ERRORS:
        raise QuoteVerificationError("qe_report_signature", "QE report is not signed by the PCK key") from None

    # 10. QE report data binds the attestation key
    qr = cd.qe_report
    if hashlib.sha256(q.attestation_key + cd.qe_auth_data).digest() != qr.report_data[:32]:
        raise QuoteVerificationError("qe_report_data",
                                     "QE REPORTDATA is not SHA-256 of the attestation key and QE auth data")

    # 11. QE identity
    miscselect = bytes(a & m for a, m in zip(qr.miscselect, qe_id.miscselect_mask))
    if miscselect != qe_id.miscselect:
        raise QuoteVerificationError("qe_identity_match", "QE MISCSELECT does not match the QE identity")
    attributes = bytes(a & m for a, m in zip(qr.attributes, qe_id.attributes_mask))
    if attributes != qe_id.attributes:
        raise QuoteVerificationError("qe_identity_match", "QE ATTRIBUTES do not match the QE identity")
    if qr.mrsigner != qe_id.mrsigner:
        raise QuoteVerificationError("qe_identity_match", "QE MRSIGNER does not match the QE identity")
    if qr.isvprodid != qe_id.isvprodid:
        raise QuoteVerificationError("qe_identity_match", "QE ISVPRODID does not match the QE identity")
    qe_level = tcbmod.qe_level(qe_id, qr.isvsvn)

    # 12. quote signature by the attestation key
    try:
        att_key = p256_key(b"\x04" + q.attestation_key)
        ecdsa_verify(att_key, raw_signature_der(q.signature), q.signed_region, _ECDSA_SHA256)
    except _VERIFY_ERRORS:
        raise QuoteVerificationError("quote_signature", "quote is not signed by its attestation key") from None

    # 8. TDX module identity; 13.–15. TCB levels, relaunch, convergence
    body = q.body
    svn = body.tee_tcb_svn
    module = tcbmod.check_module_signer(info, svn, body.mrsignerseam, body.seam_attributes)
    svn2 = body.tee_tcb_svn2 if q.body_type == BODY_TYPE_TD15 else None
    match = tcbmod.evaluate(info, module, pck.tcb_components, pck.pcesvn, svn, svn2, qe_level)
    level = match.level

    tcb_date = min(level.tcb_date, qe_level.tcb_date)
    report = SupplementalData(
        td10_body=body.to_bytes()[:TD10_BODY_SIZE], fmspc=pck.fmspc,
        tdx_tcb_components=bytes(level.tdx_components), pce_svn=level.pcesvn,
        sgx_tcb_components=bytes(level.sgx_components), tdx_module_major_ver=svn[1],
        tdx_module_svn=match.module_svn, qe_miscselect=miscselect, qe_miscselect_mask=qe_id.miscselect_mask,
        qe_attributes=attributes, qe_attributes_mask=qe_id.attributes_mask, qe_mrenclave=qr.mrenclave,
        qe_mrsigner=qr.mrsigner, qe_isvprodid=qr.isvprodid, qe_isvsvn=qe_level.isvsvn,
        tcb_date=_seconds(tcb_date), tcb_status=match.status, platform_tcb_date=_seconds(level.tcb_date),
        qe_tcb_date=_seconds(qe_level.tcb_date), qe_tcb_status=qe_level.status,
    ).encode()
    return VerifiedQuote(
        report=report, tcb_status=match.status, advisories=list(match.advisories), fmspc=pck.fmspc,
        mrtd=body.mrtd, rtmrs=list(body.rtmrs), tee_tcb_svn=svn, report_data=body.report_data, quote=q,
        quote_bytes=size, qe_tcb_status=qe_level.status, platform_tcb_date=level.tcb_date,
        qe_tcb_date=qe_level.tcb_date, tcb_date=tcb_date, module_svn=match.module_svn,
        tcb_evaluation_data_number=info.evaluation_data_number,
        verification_time=now, time_rule=rule, collateral_expired=expired, pck=pck, crls=(vc.root_crl, vc.pck_crl),
    )


def _seconds(dt: datetime) -> int:
    """Unix seconds of a date for the supplemental data (dates before 1970 as 0)."""
    return max(int(dt.timestamp()), 0)
