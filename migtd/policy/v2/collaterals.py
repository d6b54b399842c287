"""Collaterals embedded in a v2 policy (spec/policy.md §3.4.1).

A v2 policy carries the Intel collateral its MigTD verifies quotes with. The
policy engine itself reads only three facts from it: which platform entry
belongs to an FMSPC, that entry's ``tcbEvaluationDataNumber``, and the CRL
numbers of the PCK and root-CA CRLs.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass
from typing import Any

from cryptography import x509
from cryptography.hazmat.primitives.serialization import Encoding

from migtd.attest.collateral import Collateral, PlatformCollateral
from migtd.policy import jsontext
from migtd.policy.errors import PolicyError, PolicyErrorKind
from migtd.policy.v2.document import U16_MAX, array, member, obj, string, u_int

K = PolicyErrorKind
_REQUIRED = ("majorVersion", "minorVersion", "teeType", "rootCa", "pckCrlIssuerChain", "rootCaCrl",
             "pckCrl", "platforms", "qeIdentityIssuerChain", "qeIdentity")


@dataclass(frozen=True)
class Collaterals:
    """The policy's collaterals: the DCAP verifier's :class:`Collateral` plus the policy's lookups.

    ``collateral`` is exactly what quote verification is given (§3.4.1: the
    collateral set is handed to the quote verifier as is); the methods here are
    the policy engine's own reads of it, with policy error kinds. The reads
    are pure functions of the (immutable) documents and a peer is judged with
    them once per migration — a fleet matrix once per class pair — so each
    successful read is cached (a failure is not, and raises again).
    """

    collateral: Collateral

    @property
    def platforms(self) -> tuple[PlatformCollateral, ...]:
        """The ``platforms[]`` entries, in document order."""
        return self.collateral.platforms

    def platform(self, fmspc: bytes) -> PlatformCollateral:
        """The first platform entry for a 6-byte FMSPC (exact upper-case hex match, §3.4.1)."""
        if len(fmspc) != 6:
            raise PolicyError(K.InvalidParameter, f"FMSPC must be 6 bytes, not {len(fmspc)}")
        key = fmspc.hex().upper()
        for p in self.platforms:
            if p.fmspc == key:
                return p
        raise PolicyError(K.InvalidCollateral, f"the policy's collaterals have no platform {key}")

    def tcb_evaluation_number(self, fmspc: bytes) -> int:
        """``tcbInfo.tcbEvaluationDataNumber`` of the FMSPC's TCB info."""
        entry = self.platform(fmspc)
        return _tcb_evaluation_number(entry.tcb_info, entry.fmspc)

    @functools.cached_property
    def pck_crl_num(self) -> int:
        """CRL Number of ``pckCrl``."""
        return crl_number(self.collateral.pck_crl, "pckCrl")

    @functools.cached_property
    def root_ca_crl_num(self) -> int:
        """CRL Number of ``rootCaCrl``."""
        return crl_number(self.collateral.root_ca_crl, "rootCaCrl")

    def root_ca_der(self) -> bytes:
        """``rootCa`` as DER: the attestation root a v2 MigTD installs at start-up."""
        try:
            return x509.load_pem_x509_certificate(self.collateral.root_ca.encode()).public_bytes(Encoding.DER)
        except ValueError as exc:
            raise PolicyError(K.InvalidCollateral, f"rootCa: {exc}") from None


@functools.lru_cache(maxsize=64)
def _tcb_evaluation_number(tcb_info: str, fmspc: str) -> int:
    """``tcbEvaluationDataNumber`` of one TCB info text (cached by content: a JSON parse per read otherwise)."""
    try:
        number = jsontext.loads(tcb_info)["tcbInfo"]["tcbEvaluationDataNumber"]
    except (ValueError, KeyError, TypeError):
        number = None
    if isinstance(number, bool) or not isinstance(number, int) or not 0 <= number < 2**32:
        raise PolicyError(K.InvalidCollateral, f"TCB info of {fmspc} has no tcbEvaluationDataNumber")
    return number


def crl_number(pem: str, name: str) -> int:
    """The CRL Number extension (2.5.29.20) as u32; InvalidCollateral when absent."""
    try:
        crl = x509.load_pem_x509_crl(pem.encode())
        number = crl.extensions.get_extension_for_class(x509.CRLNumber).value.crl_number
    except (ValueError, x509.ExtensionNotFound) as exc:
        raise PolicyError(K.InvalidCollateral, f"{name}: no readable CRL number ({exc})") from None
    if not 0 <= number < 2**32:
        raise PolicyError(K.InvalidCollateral, f"{name}: CRL number {number} does not fit u32")
    return number


def _bounded(text: str, path: str) -> None:
    """The TCB info and QE identity are JSON held in strings, parsed by the quote verifier later:
    bound their depth now, so a deep one is this policy's InvalidPolicy, not a RecursionError per peer."""
    try:
        jsontext.check_depth(text)
    except ValueError as exc:
        raise PolicyError(K.InvalidPolicy, str(exc), path=path) from None


def parse_collaterals(value: Any, path: str = "collaterals") -> Collaterals:
    """Parse ``collaterals`` (§3.4.1); a missing or mistyped member is InvalidPolicy naming its path."""
    o = obj(value, path, _REQUIRED)
    platforms = []
    for i, p in enumerate(array(o["platforms"], f"{path}.platforms")):
        where = f"{path}.platforms[{i}]"
        po = obj(p, where, ("fmspc", "tcbInfoIssuerChain", "tcbInfo"))
        platforms.append(PlatformCollateral(*(member(po, where, k, string)
                                              for k in ("fmspc", "tcbInfoIssuerChain", "tcbInfo"))))
        _bounded(platforms[-1].tcb_info, f"{where}.tcbInfo")
    _bounded(member(o, path, "qeIdentity", string), f"{path}.qeIdentity")
    return Collaterals(Collateral(
        major_version=member(o, path, "majorVersion", u_int, U16_MAX),
        minor_version=member(o, path, "minorVersion", u_int, U16_MAX),
        tee_type=member(o, path, "teeType", u_int),
        root_ca=member(o, path, "rootCa", string),
        pck_crl_issuer_chain=member(o, path, "pckCrlIssuerChain", string),
        root_ca_crl=member(o, path, "rootCaCrl", string),
        pck_crl=member(o, path, "pckCrl", string),
        platforms=tuple(platforms),
        qe_identity_issuer_chain=member(o, path, "qeIdentityIssuerChain", string),
        qe_identity=member(o, path, "qeIdentity", string),
    ))
