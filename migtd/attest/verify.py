"""DCAP verification of a TDX quote, with MigTD's semantics (attestation.md §3).

``verify_quote(quote, collateral, root_ca_der)`` runs the §3.2 procedure and
returns a :class:`VerifiedQuote` whose ``report`` is the 822-byte packed
"supplemental data" MigTD's policy engine reads (§3.6). Any failure raises
:class:`QuoteVerificationError` whose ``.step`` names the check that failed.

Time (§3.4): a TD has no trusted clock, so by default the verifier does what
Intel's servtd QvE does for MigTD — it takes "now" as the midpoint between the
latest issue date and the earliest expiry found in the collateral and the PCK
chain, and treats expiry only as a flag (``collateral_expired``), never as a
failure. ``at=`` switches to a strict check at that instant instead: every
certificate, CRL, TCB info and QE identity must be valid then (what
``migtd-tool quote verify --at`` and the dcap-qvl comparison use).

Caching: everything derived from the collateral alone (parsed certificates,
signing-chain and CRL signatures, the verified TCB info and QE identity, their
dates) is kept per (collateral SHA-256, root CA SHA-256), so a second quote
against the same collateral pays only for the per-quote checks: its PCK chain,
the QE report and quote signatures, and TCB matching.
"""

from __future__ import annotations

import hashlib
import threading
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, TypeVar

from cryptography import x509
from cryptography.exceptions import InvalidSignature, UnsupportedAlgorithm
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.utils import encode_dss_signature
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat
from cryptography.x509.oid import NameOID

from migtd.attest.collateral import (
    Collateral,
    IsvLevel,
    ModuleIdentity,
    QeIdentity,
    TcbInfo,
    TcbLevel,
    split_signed_body,
)
from migtd.attest.quote import (
    ATT_KEY_TYPE_ECDSA_P256,
    INTEL_QE_VENDOR_ID,
    TEE_TYPE_TDX,
    Quote,
    parse_quote,
)
from migtd.attest.sgx_ext import SGX_EXTENSION_OID, SgxExtension, parse_sgx_extension
from migtd.errors import AttestationError, FormatError

_T = TypeVar("_T")

SUPPLEMENTAL_SIZE = 822
_ECDSA_SHA256 = ec.ECDSA(hashes.SHA256())
_VERIFY_ERRORS = (InvalidSignature, ValueError, TypeError, UnsupportedAlgorithm)
#: What cryptography raises for an unparsable certificate (InvalidVersion is not a ValueError).
_X509_ERRORS = (ValueError, x509.InvalidVersion)

#: Statuses that fail verification outright (§3.2 step 16); everything else passes.
TERMINAL_STATUSES = frozenset({"Revoked"})


class QuoteVerificationError(AttestationError):
    """A quote did not verify; ``step`` names the failing check (e.g. ``quote_signature``)."""

    def __init__(self, step: str, problem: str) -> None:
        self.step = step
        self.problem = problem
        super().__init__(f"quote verification failed at {step}: {problem}")


# --------------------------------------------------------------------------- results


@dataclass(frozen=True)
class VerifiedQuote:
    """What a successful verification established about a quote."""

    report: bytes                # 822-byte supplemental data (§3.6)
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
    root_ca_crl_number: int | None
    pck_crl_number: int | None
    verification_time: datetime
    time_rule: str               # "midpoint" (MigTD) or "explicit" (at=)
    collateral_expired: bool
    pck: SgxExtension

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


# --------------------------------------------------------------------------- helpers


def _raw_sig(sig: bytes) -> bytes:
    return encode_dss_signature(int.from_bytes(sig[:32], "big"), int.from_bytes(sig[32:], "big"))


def _point(cert: x509.Certificate) -> bytes:
    try:
        return cert.public_key().public_bytes(Encoding.X962, PublicFormat.UncompressedPoint)
    except (TypeError, ValueError, AttributeError, UnsupportedAlgorithm):
        return b""


def _load_chain(pem: bytes | str, step: str, count: int) -> list[x509.Certificate]:
    data = pem.encode() if isinstance(pem, str) else pem
    data = data.rstrip(b"\0")
    try:
        certs = x509.load_pem_x509_certificates(data)
    except _X509_ERRORS as exc:
        raise QuoteVerificationError(step, f"certificate chain does not parse: {exc}") from None
    if len(certs) != count:
        raise QuoteVerificationError(step, f"expected {count} certificates, found {len(certs)}")
    return certs


def _issued_by(cert: x509.Certificate, issuer: x509.Certificate, step: str, what: str) -> None:
    try:
        cert.verify_directly_issued_by(issuer)
    except _VERIFY_ERRORS as exc:
        raise QuoteVerificationError(step, f"{what} is not signed by its issuer ({exc or 'bad signature'})") from None


def _cn(cert: x509.Certificate) -> str:
    try:
        attrs = cert.subject.get_attributes_for_oid(NameOID.COMMON_NAME)
    except ValueError:
        return ""
    return str(attrs[0].value) if attrs else ""


def _crl(pem: str, what: str) -> x509.CertificateRevocationList:
    data = pem.encode()
    try:
        if b"-----BEGIN" in data:
            return x509.load_pem_x509_crl(data)
        return x509.load_der_x509_crl(bytes.fromhex(pem.strip()))
    except ValueError as exc:
        raise QuoteVerificationError("crl", f"{what} does not parse: {exc}") from None


def _crl_number(crl: x509.CertificateRevocationList) -> int | None:
    try:
        return int(crl.extensions.get_extension_for_class(x509.CRLNumber).value.crl_number)
    except (x509.ExtensionNotFound, x509.DuplicateExtension, ValueError):
        return None


def _utc(dt: datetime | None) -> datetime | None:
    if dt is None:
        return None
    return dt.replace(tzinfo=UTC) if dt.tzinfo is None else dt.astimezone(UTC)


@dataclass
class _Window:
    """Validity windows collected for the time rule: (what, start, end)."""

    items: list[tuple[str, datetime | None, datetime | None]] = field(default_factory=list)

    def cert(self, what: str, cert: x509.Certificate) -> None:
        self.items.append((what, cert.not_valid_before_utc, cert.not_valid_after_utc))

    def crl(self, what: str, crl: x509.CertificateRevocationList) -> None:
        self.items.append((what, _utc(crl.last_update_utc), _utc(crl.next_update_utc)))


# --------------------------------------------------------------------------- collateral cache


@dataclass
class _TcbEntry:
    info: TcbInfo
    window: _Window


@dataclass
class _Prepared:
    """Collateral checked once against one trusted root."""

    root: x509.Certificate
    root_der: bytes
    root_point: bytes
    root_revoked: frozenset[int]
    root_crl_number: int | None
    pck_crl: x509.CertificateRevocationList
    pck_revoked: frozenset[int]
    pck_crl_number: int | None
    pck_crl_issuers_ok: set[bytes]           # PCK CA DERs whose signature on the PCK CRL checked out
    root_signed: set[bytes]                  # DERs of certificates already verified as issued by the root
    qe_identity: QeIdentity
    window: _Window                          # root CRL, PCK CRL, PCK CRL chain, QE identity (+chain)
    collateral: Collateral
    tcb: dict[bytes, _TcbEntry] = field(default_factory=dict)
    lock: threading.Lock = field(default_factory=threading.Lock)


_CACHE: OrderedDict[tuple[bytes, bytes], _Prepared] = OrderedDict()
_CACHE_MAX = 8
_CACHE_LOCK = threading.Lock()


def clear_cache() -> None:
    """Forget all verified collateral (benchmarks use this for cold runs)."""
    with _CACHE_LOCK:
        _CACHE.clear()


def _signing_chain(pem: str, prepared_root: x509.Certificate, root_point: bytes,
                   root_revoked: frozenset[int], step: str, what: str) -> list[x509.Certificate]:
    chain = _load_chain(pem, step, 2)
    signer, root = chain
    if _point(root) != root_point:
        raise QuoteVerificationError(step, f"{what} issuer chain does not end at the trusted root CA")
    _issued_by(signer, prepared_root, step, f"{what} signing certificate")
    if signer.serial_number in root_revoked:
        raise QuoteVerificationError(step, f"{what} signing certificate is revoked by the root CA CRL")
    return chain


def _verify_body(text_and_sig: tuple[bytes, bytes], signer: x509.Certificate, step: str, what: str) -> None:
    text, sig = text_and_sig
    try:
        signer.public_key().verify(_raw_sig(sig), text, _ECDSA_SHA256)  # type: ignore[call-arg, union-attr]
    except _VERIFY_ERRORS + (AttributeError,):
        raise QuoteVerificationError(step, f"{what} signature does not verify") from None


def _signed_document(body: str, key: str, signer: x509.Certificate, step: str, what: str,
                     parse: Callable[[bytes], _T]) -> _T:
    """A PCS body ``{key: {...}, "signature": ...}``: split, signature checked with ``signer``
    (failure at ``<step>_signature``), then the signed text parsed; other failures at ``step``."""
    try:
        signed = split_signed_body(body, key)
    except FormatError as exc:
        raise QuoteVerificationError(step, exc.message) from None
    _verify_body(signed, signer, f"{step}_signature", what)
    try:
        return parse(signed[0])
    except FormatError as exc:
        raise QuoteVerificationError(step, exc.message) from None


def _prepare(collateral: Collateral, root_ca_der: bytes) -> _Prepared:
    try:
        if root_ca_der.lstrip().startswith(b"-----BEGIN"):
            root = x509.load_pem_x509_certificate(root_ca_der)
        else:
            root = x509.load_der_x509_certificate(root_ca_der)
    except _X509_ERRORS as exc:
        raise QuoteVerificationError("root_ca", f"trusted root CA does not parse: {exc}") from None
    root_point = _point(root)
    if not root_point:
        raise QuoteVerificationError("root_ca", "trusted root CA does not hold an EC public key")
    _issued_by(root, root, "root_ca", "trusted root CA")
    window = _Window()

    root_crl = _crl(collateral.root_ca_crl, "root CA CRL")
    try:
        root_crl_ok = root_crl.is_signature_valid(root.public_key())  # type: ignore[arg-type]
    except _VERIFY_ERRORS:
        root_crl_ok = False
    if not root_crl_ok:
        raise QuoteVerificationError("crl", "root CA CRL is not signed by the trusted root CA")
    window.crl("root CA CRL", root_crl)
    root_revoked = frozenset(r.serial_number for r in root_crl)

    pck_crl = _crl(collateral.pck_crl, "PCK CRL")
    window.crl("PCK CRL", pck_crl)
    issuers_ok: set[bytes] = set()
    root_signed: set[bytes] = set()
    crl_chain = _load_chain(collateral.pck_crl_issuer_chain, "crl", 2)
    for i, cert in enumerate(crl_chain):
        window.cert(f"PCK CRL issuer chain[{i}]", cert)
    if _point(crl_chain[1]) == root_point:
        try:
            crl_chain[0].verify_directly_issued_by(root)
            root_signed.add(crl_chain[0].public_bytes(Encoding.DER))
            if pck_crl.is_signature_valid(crl_chain[0].public_key()):  # type: ignore[arg-type]
                issuers_ok.add(crl_chain[0].public_bytes(Encoding.DER))
        except _VERIFY_ERRORS:
            pass  # the quote's own PCK CA decides below, as Intel does

    qe_chain = _signing_chain(collateral.qe_identity_issuer_chain, root, root_point, root_revoked,
                              "qe_identity", "QE identity")
    for i, cert in enumerate(qe_chain):
        window.cert(f"QE identity issuer chain[{i}]", cert)
    qe = _signed_document(collateral.qe_identity, "enclaveIdentity", qe_chain[0], "qe_identity", "QE identity",
                          QeIdentity.from_signed_text)
    if qe.id != "TD_QE" or qe.version not in (2, 3):
        raise QuoteVerificationError("qe_identity", f"QE identity is {qe.id!r} v{qe.version}, need TD_QE v2 or v3")
    window.items.append(("QE identity", qe.issue_date, qe.next_update))
    return _Prepared(root, root.public_bytes(Encoding.DER), root_point, root_revoked,
                     _crl_number(root_crl), pck_crl, frozenset(r.serial_number for r in pck_crl),
                     _crl_number(pck_crl), issuers_ok, root_signed, qe, window, collateral)


def _prepared(collateral: Collateral, root_ca_der: bytes) -> _Prepared:
    key = (collateral.digest, hashlib.sha256(root_ca_der).digest())
    with _CACHE_LOCK:
        hit = _CACHE.get(key)
        if hit is not None:
            _CACHE.move_to_end(key)
            return hit
    prepared = _prepare(collateral, root_ca_der)
    with _CACHE_LOCK:
        _CACHE[key] = prepared
        while len(_CACHE) > _CACHE_MAX:
            _CACHE.popitem(last=False)
    return prepared


def _tcb_entry(p: _Prepared, fmspc: bytes) -> _TcbEntry:
    with p.lock:
        entry = p.tcb.get(fmspc)
    if entry is not None:
        return entry
    platform = p.collateral.platform(fmspc)
    if platform is None:
        raise QuoteVerificationError("tcb_info", f"collateral has no TCB info for FMSPC {fmspc.hex().upper()}")
    chain = _signing_chain(platform.tcb_info_issuer_chain, p.root, p.root_point, p.root_revoked,
                           "tcb_info", "TCB info")
    info = _signed_document(platform.tcb_info, "tcbInfo", chain[0], "tcb_info", "TCB info", TcbInfo.from_signed_text)
    if info.id != "TDX" or info.version < 3:
        raise QuoteVerificationError("tcb_info", f"TCB info is {info.id!r} v{info.version}, need TDX v3 or later")
    if info.fmspc != fmspc:
        raise QuoteVerificationError("tcb_info", f"TCB info FMSPC {info.fmspc.hex().upper()} is not the PCK's")
    window = _Window()
    for i, cert in enumerate(chain):
        window.cert(f"TCB info issuer chain[{i}]", cert)
    window.items.append(("TCB info", info.issue_date, info.next_update))
    entry = _TcbEntry(info, window)
    with p.lock:
        p.tcb[fmspc] = entry
    return entry


# --------------------------------------------------------------------------- TCB logic


def _converge(status: str, other: str) -> str:
    """Fold a module/QE status into the platform status (Intel's convergence rules)."""
    if other == "Revoked":
        return "Revoked"
    if other == "UpToDate":
        return status
    if status in ("UpToDate", "SWHardeningNeeded"):
        return "OutOfDate"
    if status in ("ConfigurationNeeded", "ConfigurationAndSWHardeningNeeded"):
        return "OutOfDateConfigurationNeeded"
    return status


def _match_platform(levels: tuple[TcbLevel, ...], pck: SgxExtension, tee_tcb_svn: bytes) -> TcbLevel:
    start = 2 if tee_tcb_svn[1] > 0 else 0
    sgx_found = False
    for level in levels:
        if all(p >= l for p, l in zip(pck.tcb_components, level.sgx_components)) \
                and pck.pcesvn >= level.pcesvn:
            sgx_found = True
            if all(tee_tcb_svn[i] >= level.tdx_components[i] for i in range(start, 16)):
                return level
    which = "TDX" if sgx_found else "SGX"
    raise QuoteVerificationError("tcb_level", f"no TCB level matches the platform's {which} components "
                                              "(TCB not supported)")


def _first_isv(levels: tuple[IsvLevel, ...], isvsvn: int) -> IsvLevel | None:
    for level in levels:
        if level.isvsvn <= isvsvn:
            return level
    return None


def _module_identity(info: TcbInfo, tee_tcb_svn: bytes) -> ModuleIdentity | None:
    ver = tee_tcb_svn[1]
    if ver == 0:
        return info.module
    want = f"TDX_{ver:02X}"
    for m in info.module_identities:
        if m.id.upper() == want:
            return m
    return None


def _status_bytes(status: str) -> bytes:
    raw = status.encode("ascii", "replace")[:31]
    return raw + bytes(32 - len(raw))


def _ts(dt: datetime) -> bytes:
    return max(int(dt.timestamp()), 0).to_bytes(8, "little")


# --------------------------------------------------------------------------- the procedure


def verify_quote(quote: bytes, collateral: Collateral, root_ca_der: bytes, *,
                 at: datetime | None = None) -> VerifiedQuote:
    """Verify a TDX quote against collateral and a trusted root CA (attestation.md §3.2).

    ``at=None`` applies MigTD's midpoint time rule (expiry never fatal); an
    explicit ``at`` requires every collateral item to be valid at that instant.
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

    p = _prepared(collateral, root_ca_der)

    # 3. PCK chain to the trusted root
    leaf, pck_ca, chain_root = _load_chain(q.cert_data.pck_chain, "pck_chain", 3)
    if _point(chain_root) != p.root_point:
        raise QuoteVerificationError("root_ca", "the quote's PCK chain does not end at the trusted root CA")
    if chain_root.public_bytes(Encoding.DER) != p.root_der:
        _issued_by(chain_root, chain_root, "pck_chain", "root CA in the quote")
    pck_ca_der = pck_ca.public_bytes(Encoding.DER)
    if pck_ca_der not in p.root_signed:  # the collateral's PCK CA was checked when preparing
        _issued_by(pck_ca, p.root, "pck_chain", "PCK CA")
    _issued_by(leaf, pck_ca, "pck_chain", "PCK certificate")
    if "SGX PCK Certificate" not in _cn(leaf):
        raise QuoteVerificationError("pck_chain", f"leaf {_cn(leaf)!r} is not an SGX PCK Certificate")
    if "CA" not in _cn(pck_ca):
        raise QuoteVerificationError("pck_chain", f"intermediate {_cn(pck_ca)!r} is not a PCK CA")

    # 4. CRLs (signatures were checked when the collateral was prepared)
    if pck_ca_der not in p.pck_crl_issuers_ok:
        try:
            signed_by_ca = p.pck_crl.issuer == pck_ca.subject and \
                p.pck_crl.is_signature_valid(pck_ca.public_key())  # type: ignore[arg-type]
        except _VERIFY_ERRORS:
            signed_by_ca = False
        if not signed_by_ca:
            raise QuoteVerificationError("crl", "PCK CRL is not signed by the quote's PCK CA")
        with p.lock:
            p.pck_crl_issuers_ok.add(pck_ca_der)
    if pck_ca.serial_number in p.root_revoked:
        raise QuoteVerificationError("revoked", "PCK CA certificate is revoked by the root CA CRL")
    if leaf.serial_number in p.pck_revoked:
        raise QuoteVerificationError("revoked", f"PCK certificate serial {leaf.serial_number:#x} is revoked")

    # 5. SGX extension
    try:
        ext = leaf.extensions.get_extension_for_oid(x509.ObjectIdentifier(SGX_EXTENSION_OID)).value
        pck = parse_sgx_extension(ext.value)  # type: ignore[attr-defined]
    except x509.ExtensionNotFound:
        raise QuoteVerificationError("sgx_extension", "PCK certificate has no SGX extension") from None
    except (FormatError, ValueError, AttributeError, x509.DuplicateExtension) as exc:
        raise QuoteVerificationError("sgx_extension", str(exc) or type(exc).__name__) from None

    # 6. TCB info (7. QE identity was checked when preparing)
    entry = _tcb_entry(p, pck.fmspc)
    info = entry.info
    if info.pce_id != pck.pce_id:
        raise QuoteVerificationError("tcb_info", "TCB info PCE-ID is not the PCK's")
    qe_id = p.qe_identity

    # time: collect windows, then either the midpoint rule or the strict check
    window = _Window(p.window.items + entry.window.items)
    for name, cert in (("PCK certificate", leaf), ("PCK CA", pck_ca), ("root CA", chain_root)):
        window.cert(name, cert)
    now, rule, expired = _judge_time(window, at)

    # 9. QE report signature by the PCK leaf
    cd = q.cert_data
    try:
        leaf_key = leaf.public_key()
        leaf_key.verify(_raw_sig(cd.qe_report_signature), cd.qe_report_raw,  # type: ignore[union-attr]
                        _ECDSA_SHA256)  # type: ignore[call-arg]
    except _VERIFY_ERRORS + (AttributeError,):
        raise QuoteVerificationError("qe_report_signature", "QE report is not signed by the PCK key") from None

    # 10. QE report data binds the attestation key
    if hashlib.sha256(q.attestation_key + cd.qe_auth_data).digest() != cd.qe_report.report_data[:32]:
        raise QuoteVerificationError("qe_report_data",
                                     "QE REPORTDATA is not SHA-256 of the attestation key and QE auth data")

    # 11. QE identity
    qr = cd.qe_report
    if bytes(a & m for a, m in zip(qr.miscselect, qe_id.miscselect_mask)) != qe_id.miscselect:
        raise QuoteVerificationError("qe_identity_match", "QE MISCSELECT does not match the QE identity")
    if bytes(a & m for a, m in zip(qr.attributes, qe_id.attributes_mask)) != qe_id.attributes:
        raise QuoteVerificationError("qe_identity_match", "QE ATTRIBUTES do not match the QE identity")
    if qr.mrsigner != qe_id.mrsigner:
        raise QuoteVerificationError("qe_identity_match", "QE MRSIGNER does not match the QE identity")
    if qr.isvprodid != qe_id.isvprodid:
        raise QuoteVerificationError("qe_identity_match", "QE ISVPRODID does not match the QE identity")
    qe_level = _first_isv(qe_id.levels, qr.isvsvn)
    if qe_level is None:
        raise QuoteVerificationError("qe_tcb", f"QE ISVSVN {qr.isvsvn} is below every QE identity level")

    # 12. quote signature by the attestation key
    try:
        att_key = ec.EllipticCurvePublicKey.from_encoded_point(ec.SECP256R1(), b"\x04" + q.attestation_key)
        att_key.verify(_raw_sig(q.signature), q.signed_region, _ECDSA_SHA256)
    except _VERIFY_ERRORS:
        raise QuoteVerificationError("quote_signature", "quote is not signed by its attestation key") from None

    # 8. TDX module identity
    body = q.body
    svn = body.tee_tcb_svn
    module = _module_identity(info, svn)
    if module is None:
        raise QuoteVerificationError("tdx_module", f"TCB info has no identity for TDX module major version {svn[1]}")
    if body.mrsignerseam != module.mrsigner:
        raise QuoteVerificationError("tdx_module", "MRSIGNERSEAM does not match the TDX module identity")
    if any(body.seam_attributes) or body.seam_attributes != module.attributes:
        raise QuoteVerificationError("tdx_module", "SEAM attributes do not match the TDX module identity")

    # 13. platform TCB level, 14. module TCB level, 15. converge
    level = _match_platform(info.levels, pck, svn)
    status = level.status
    advisories = list(level.advisories)
    module_svn = 0
    if svn[1] > 0:
        mod_level = _first_isv(module.levels, svn[0])
        if mod_level is None:
            raise QuoteVerificationError("module_tcb", f"TDX module SVN {svn[0]} is below every module TCB level")
        module_svn = mod_level.isvsvn
        status = _converge(status, mod_level.status)
        advisories += mod_level.advisories
    qe_status = qe_level.status
    status = _converge(status, qe_status)
    advisories += qe_level.advisories
    advisories = list(dict.fromkeys(advisories))
    if status in TERMINAL_STATUSES:
        raise QuoteVerificationError("tcb_status", f"TCB status is {status}")

    tcb_date = min(level.tcb_date, qe_level.tcb_date)
    report = (body.to_bytes()[:584] + pck.fmspc + bytes(level.tdx_components)
              + level.pcesvn.to_bytes(2, "little") + bytes(level.sgx_components)
              + bytes([svn[1], module_svn])
              + bytes(a & m for a, m in zip(qr.miscselect, qe_id.miscselect_mask)) + qe_id.miscselect_mask
              + bytes(a & m for a, m in zip(qr.attributes, qe_id.attributes_mask)) + qe_id.attributes_mask
              + qr.mrenclave + qr.mrsigner + qr.isvprodid.to_bytes(2, "little")
              + qe_level.isvsvn.to_bytes(2, "little") + _ts(tcb_date) + _status_bytes(status)
              + _ts(level.tcb_date) + _ts(qe_level.tcb_date) + _status_bytes(qe_status))
    assert len(report) == SUPPLEMENTAL_SIZE
    return VerifiedQuote(
        report=report, tcb_status=status, advisories=advisories, fmspc=pck.fmspc, mrtd=body.mrtd,
        rtmrs=list(body.rtmrs), tee_tcb_svn=svn, report_data=body.report_data, quote=q,
        quote_bytes=len(quote), qe_tcb_status=qe_status, platform_tcb_date=level.tcb_date,
        qe_tcb_date=qe_level.tcb_date, tcb_date=tcb_date, module_svn=module_svn,
        tcb_evaluation_data_number=info.evaluation_data_number,
        root_ca_crl_number=p.root_crl_number, pck_crl_number=p.pck_crl_number,
        verification_time=now, time_rule=rule, collateral_expired=expired, pck=pck,
    )


def _judge_time(window: _Window, at: datetime | None) -> tuple[datetime, str, bool]:
    """Pick "now" and decide expiry (§3.4); strict mode raises on the first bad item."""
    if at is not None:
        now = _utc(at)
        assert now is not None
        for what, start, end in window.items:
            if start is not None and now < start:
                raise QuoteVerificationError("time", f"{what} is not valid until {start:%Y-%m-%dT%H:%M:%SZ}")
            if end is not None and now > end:
                raise QuoteVerificationError("time", f"{what} expired at {end:%Y-%m-%dT%H:%M:%SZ}")
        return now, "explicit", False
    starts = [int(s.timestamp()) for _, s, _ in window.items if s is not None]
    ends = [int(e.timestamp()) for _, _, e in window.items if e is not None]
    latest, earliest = max(starts), min(ends)
    now = datetime.fromtimestamp((latest + earliest) // 2, UTC)
    expired = any(e is not None and e < now for _, _, e in window.items)
    return now, "midpoint", expired
