"""Collateral verified once per trusted root, and the cache that keeps it.

Everything DCAP verification derives from the collateral alone — the trust
anchor's key, the root CA and PCK CRLs and their signatures, the signing
chains of the TCB info and QE identity, those two documents' signatures and
contents — is the same for every quote verified against that collateral.
:func:`verify_collateral` checks it once and returns a
:class:`VerifiedCollateral`; :class:`CollateralCache` keeps a few of them,
keyed by (SHA-256 of the collateral's content, SHA-256 of the root CA), so a
second quote pays only for what depends on it.

A :class:`VerifiedCollateral` also remembers, per exact PCK certificate chain
bytes, the result of checking that chain against it (:class:`VerifiedPlatform`:
chain, CRLs, SGX extension, the platform's TCB info): a platform's chain is
the same in every quote it produces, so only the first one pays for it.
Nothing is cached for a check that failed; it is redone on the next call and
fails the same way.

Certificates shared between chains are checked once: the TCB signing
certificate usually signs both the TCB info and the QE identity, and the
collateral's PCK CA (``pckCrlIssuerChain``) is usually the quote's.
"""

from __future__ import annotations

import hashlib
import threading
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import TypeVar

from cryptography.exceptions import InvalidSignature, UnsupportedAlgorithm
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.utils import encode_dss_signature

from migtd.attest.certs import (
    Cert,
    Crl,
    check_issued_by,
    ecdsa_verify,
    load_anchor,
    load_crl,
    load_pem_chain,
    signing_chain_roles,
)
from migtd.attest.collateral import Collateral, QeIdentity, SignedBody, TcbInfo, parse_signed_body
from migtd.attest.errors import QuoteVerificationError
from migtd.attest.sgx_ext import SgxExtension
from migtd.attest.validity import Window, utc
from migtd.errors import FormatError

_T = TypeVar("_T")
_ECDSA_SHA256 = ec.ECDSA(hashes.SHA256())
#: PCK chains remembered per collateral (one per platform a MigTD talks to; a handful in practice).
MAX_PLATFORMS = 32


def raw_signature_der(sig: bytes) -> bytes:
    """A 64-byte big-endian r‖s as the DER ECDSA-Sig-Value ``cryptography`` verifies."""
    return encode_dss_signature(int.from_bytes(sig[:32], "big"), int.from_bytes(sig[32:], "big"))


def cert_window(what: str, cert: Cert) -> Window:
    return what, cert.x509.not_valid_before_utc, cert.x509.not_valid_after_utc


def crl_window(what: str, crl: Crl) -> Window:
    return what, utc(crl.x509.last_update_utc), utc(crl.x509.next_update_utc)


@dataclass(frozen=True, slots=True)
class TcbEntry:
    """A platform's TCB info, its signature checked, and the validity windows it brought."""

    info: TcbInfo
    windows: tuple[Window, ...]


@dataclass(slots=True)
class VerifiedPlatform:
    """A PCK certificate chain checked against a :class:`VerifiedCollateral` (steps 3–7)."""

    leaf: Cert
    pck: SgxExtension
    tcb: TcbEntry
    windows: tuple[Window, ...]                  # collateral + TCB info + this chain: all the time rule needs
    midpoint: tuple[datetime, bool] | None = None  # (now, expired) under the midpoint rule, once computed


class VerifiedCollateral:
    """Collateral checked against one trusted root; see the module docstring."""

    def __init__(self, collateral: Collateral, root: Cert, root_crl: Crl, pck_crl: Crl,
                 windows: list[Window]) -> None:
        self.collateral = collateral
        self.root = root
        self.root_crl = root_crl
        self.pck_crl = pck_crl
        self.windows = windows                              # root CRL, PCK CRL, their chains, QE identity
        self.pck_crl_issuers: set[bytes] = set()            # DERs of PCK CAs whose PCK CRL signature verified
        self.qe_identity: QeIdentity | None = None
        self._root_signed: dict[bytes, Cert] = {}           # DER -> certificate verified as issued by the root
        self.known: dict[bytes, Cert] = {root.der: root}    # DER or PEM text -> certificate (anchor, collateral CAs)
        self._signing_chains: dict[str, list[Cert]] = {}    # issuer-chain PEM -> verified chain
        self._tcb: dict[bytes, TcbEntry] = {}
        self._platforms: OrderedDict[bytes, VerifiedPlatform] = OrderedDict()
        self._lock = threading.Lock()

    # ------------------------------------------------------------------ shared certificates

    def root_issued(self, cert: Cert, step: str, what: str) -> None:
        """Check that the trust anchor issued ``cert``, once per certificate."""
        if cert.der in self._root_signed:
            return
        check_issued_by(cert, self.root, step, what)
        with self._lock:
            self._root_signed[cert.der] = cert

    def load_chain(self, pem: bytes | str, step: str, count: int) -> list[Cert]:
        """A collateral chain, its certificates kept in :attr:`known` for the chains that follow."""
        with self._lock:
            return load_pem_chain(pem, step, count, self.known, learn=True)

    def signing_chain(self, pem: str, step: str, what: str) -> list[Cert]:
        """A [signer, root] chain ending at the anchor, the signer issued by it and not revoked."""
        chain = self._signing_chains.get(pem)
        if chain is not None:
            return chain
        signer, root = signing_chain_roles(self.load_chain(pem, step, 2), step, what)
        if not root.same_key(self.root):
            raise QuoteVerificationError(step, f"{what} issuer chain does not end at the trusted root CA")
        if root.der != self.root.der:
            check_issued_by(root, root, step, f"root CA of the {what} issuer chain")
        self.root_issued(signer, step, f"{what} signing certificate")
        if self.root_crl.revokes(signer.x509.serial_number):
            raise QuoteVerificationError(step, f"{what} signing certificate is revoked by the root CA CRL")
        chain = [signer, root]
        with self._lock:
            self._signing_chains[pem] = chain
        return chain

    def signed_document(self, body: str, key: str, signer: Cert, step: str, what: str,
                        build: Callable[[SignedBody], _T]) -> _T:
        """A PCS body decoded once, its signature checked with ``signer`` (failure at
        ``<step>_signature``), then ``build`` on it; other failures at ``step``."""
        try:
            signed = parse_signed_body(body, key)
        except FormatError as exc:
            raise QuoteVerificationError(step, exc.message) from None
        try:
            ecdsa_verify(signer.key, raw_signature_der(signed.signature), signed.text, _ECDSA_SHA256)
        except (InvalidSignature, ValueError, TypeError, AttributeError, UnsupportedAlgorithm):
            raise QuoteVerificationError(f"{step}_signature", f"{what} signature does not verify") from None
        try:
            return build(signed)
        except FormatError as exc:
            raise QuoteVerificationError(step, exc.message) from None

    # ------------------------------------------------------------------ per platform

    def tcb(self, fmspc: bytes) -> TcbEntry:
        """The signature-checked TCB info for an FMSPC (step 6), verified on first use."""
        entry = self._tcb.get(fmspc)
        if entry is not None:
            return entry
        platform = self.collateral.platform(fmspc)
        if platform is None:
            raise QuoteVerificationError("tcb_info", f"collateral has no TCB info for FMSPC {fmspc.hex().upper()}")
        chain = self.signing_chain(platform.tcb_info_issuer_chain, "tcb_info", "TCB info")
        info = self.signed_document(platform.tcb_info, "tcbInfo", chain[0], "tcb_info", "TCB info",
                                    lambda s: TcbInfo.from_document(s.document))
        if info.id != "TDX" or info.version < 3:
            raise QuoteVerificationError("tcb_info", f"TCB info is {info.id!r} v{info.version}, need TDX v3 or later")
        if info.fmspc != fmspc:
            raise QuoteVerificationError("tcb_info", f"TCB info FMSPC {info.fmspc.hex().upper()} is not the PCK's")
        entry = TcbEntry(info, (cert_window("TCB info issuer chain[0]", chain[0]),
                                cert_window("TCB info issuer chain[1]", chain[1]),
                                ("TCB info", info.issue_date, info.next_update)))
        with self._lock:
            self._tcb[fmspc] = entry
        return entry

    def platform(self, chain: bytes) -> VerifiedPlatform | None:
        """The remembered result of checking this exact PCK chain, if any."""
        with self._lock:
            found = self._platforms.get(chain)
            if found is not None:
                self._platforms.move_to_end(chain)
            return found

    def remember_platform(self, chain: bytes, platform: VerifiedPlatform) -> None:
        with self._lock:
            self._platforms[chain] = platform
            while len(self._platforms) > MAX_PLATFORMS:
                self._platforms.popitem(last=False)


def verify_collateral(collateral: Collateral, root_ca: bytes) -> VerifiedCollateral:
    """Check everything in ``collateral`` that does not depend on a quote (steps 3–4, 7 of §3.2).

    The trust anchor (DER or PEM) is configured, hence trusted as given: its
    self-signature is not checked. Raises :class:`QuoteVerificationError`.
    """
    root = load_anchor(bytes(root_ca))
    if root.key is None:
        raise QuoteVerificationError("root_ca", "trusted root CA does not hold an EC public key")
    root_crl = load_crl(collateral.root_ca_crl, "root CA CRL")
    if not root_crl.signed_by(root.key):
        raise QuoteVerificationError("crl", "root CA CRL is not signed by the trusted root CA")
    pck_crl = load_crl(collateral.pck_crl, "PCK CRL")
    windows = [crl_window("root CA CRL", root_crl), crl_window("PCK CRL", pck_crl)]
    vc = VerifiedCollateral(collateral, root, root_crl, pck_crl, windows)
    crl_chain = vc.load_chain(collateral.pck_crl_issuer_chain, "crl", 2)
    windows += [cert_window("PCK CRL issuer chain[0]", crl_chain[0]),
                cert_window("PCK CRL issuer chain[1]", crl_chain[1])]
    pck_ca, crl_root = signing_chain_roles(crl_chain, "crl", "PCK CRL")
    if crl_root.same_key(root):
        try:
            vc.root_issued(pck_ca, "crl", "PCK CRL issuer")
        except QuoteVerificationError:
            pass  # the quote's own PCK CA decides, as Intel does
        else:
            if pck_crl.signed_by(pck_ca.key):
                vc.pck_crl_issuers.add(pck_ca.der)

    qe_chain = vc.signing_chain(collateral.qe_identity_issuer_chain, "qe_identity", "QE identity")
    windows += [cert_window("QE identity issuer chain[0]", qe_chain[0]),
                cert_window("QE identity issuer chain[1]", qe_chain[1])]
    qe = vc.signed_document(collateral.qe_identity, "enclaveIdentity", qe_chain[0], "qe_identity", "QE identity",
                            lambda s: QeIdentity.from_document(s.document))
    if qe.id != "TD_QE" or qe.version not in (2, 3):
        raise QuoteVerificationError("qe_identity", f"QE identity is {qe.id!r} v{qe.version}, need TD_QE v2 or v3")
    windows.append(("QE identity", qe.issue_date, qe.next_update))
    vc.qe_identity = qe
    return vc


class CollateralCache:
    """Verified collateral kept per (collateral content, trust anchor), least recently used out.

    Thread-safe. ``verified()`` returns the cached :class:`VerifiedCollateral`
    or verifies and keeps it; a collateral that fails is not kept.
    """

    def __init__(self, max_entries: int = 8) -> None:
        if max_entries < 1:
            raise ValueError("a collateral cache holds at least one entry")
        self.max_entries = max_entries
        self._entries: OrderedDict[tuple[bytes, bytes], VerifiedCollateral] = OrderedDict()
        self._lock = threading.Lock()

    def verified(self, collateral: Collateral, root_ca: bytes) -> VerifiedCollateral:
        """The :class:`VerifiedCollateral` for this collateral and root CA (verified on a miss)."""
        key = (collateral.digest, hashlib.sha256(root_ca).digest())
        with self._lock:
            hit = self._entries.get(key)
            if hit is not None:
                self._entries.move_to_end(key)
                return hit
        verified = verify_collateral(collateral, root_ca)
        with self._lock:
            self._entries[key] = verified
            while len(self._entries) > self.max_entries:
                self._entries.popitem(last=False)
        return verified

    def put(self, collateral: Collateral, root_ca: bytes, verified: VerifiedCollateral) -> None:
        """Keep collateral the caller verified itself (:func:`migtd.attest.verify.verify_quote`'s
        first pass), as :meth:`verified` would have kept it."""
        key = (collateral.digest, hashlib.sha256(root_ca).digest())
        with self._lock:
            self._entries[key] = verified
            self._entries.move_to_end(key)
            while len(self._entries) > self.max_entries:
                self._entries.popitem(last=False)

    def clear(self) -> None:
        """Forget everything (the next quote verifies its collateral from scratch)."""
        with self._lock:
            self._entries.clear()

    def __len__(self) -> int:
        return len(self._entries)

    def __contains__(self, item: tuple[Collateral, bytes]) -> bool:
        collateral, root_ca = item
        return (collateral.digest, hashlib.sha256(root_ca).digest()) in self._entries


#: The process-wide cache :func:`migtd.attest.verify.verify_quote` uses unless told otherwise.
DEFAULT_CACHE = CollateralCache()
