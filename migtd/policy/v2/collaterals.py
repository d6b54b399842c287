"""Collaterals embedded in a v2 policy (spec/policy.md §3.4.1).

A v2 policy carries the Intel collateral its MigTD verifies quotes with. The
policy engine itself reads only three facts from it: which platform entry
belongs to an FMSPC, that entry's ``tcbEvaluationDataNumber``, and the CRL
numbers of the PCK and root-CA CRLs.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from cryptography import x509

from migtd.policy.errors import PolicyError, PolicyErrorKind
from migtd.policy.v2.document import obj, string, u_int

K = PolicyErrorKind
_REQUIRED = ("majorVersion", "minorVersion", "teeType", "rootCa", "pckCrlIssuerChain", "rootCaCrl",
             "pckCrl", "platforms", "qeIdentityIssuerChain", "qeIdentity")


@dataclass(frozen=True)
class Platform:
    fmspc: str
    tcb_info_issuer_chain: str
    tcb_info: str


@dataclass(frozen=True)
class Collaterals:
    major_version: int
    minor_version: int
    tee_type: int
    root_ca: str
    pck_crl_issuer_chain: str
    root_ca_crl: str
    pck_crl: str
    platforms: tuple[Platform, ...]
    qe_identity_issuer_chain: str
    qe_identity: str

    def platform(self, fmspc: bytes) -> Platform:
        """The first platform entry for a 6-byte FMSPC (upper-case hex match)."""
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
        try:
            number = json.loads(entry.tcb_info)["tcbInfo"]["tcbEvaluationDataNumber"]
        except (ValueError, KeyError, TypeError):
            number = None
        if isinstance(number, bool) or not isinstance(number, int) or not 0 <= number < 2**32:
            raise PolicyError(K.InvalidCollateral, f"TCB info of {entry.fmspc} has no tcbEvaluationDataNumber")
        return number

    @property
    def pck_crl_num(self) -> int:
        return crl_number(self.pck_crl, "pckCrl")

    @property
    def root_ca_crl_num(self) -> int:
        return crl_number(self.root_ca_crl, "rootCaCrl")

    def root_ca_der(self) -> bytes:
        """``rootCa`` as DER: the attestation root a v2 MigTD installs at start-up."""
        from cryptography.hazmat.primitives.serialization import Encoding
        try:
            return x509.load_pem_x509_certificate(self.root_ca.encode()).public_bytes(Encoding.DER)
        except ValueError as exc:
            raise PolicyError(K.InvalidCollateral, f"rootCa: {exc}") from None


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


def parse_collaterals(value: Any, path: str = "collaterals") -> Collaterals:
    o = obj(value, path, _REQUIRED)
    plats = o["platforms"]
    if not isinstance(plats, list):
        raise PolicyError(K.InvalidPolicy, "must be an array", path=f"{path}.platforms")
    platforms = []
    for i, p in enumerate(plats):
        where = f"{path}.platforms[{i}]"
        po = obj(p, where, ("fmspc", "tcbInfoIssuerChain", "tcbInfo"))
        platforms.append(Platform(string(po["fmspc"], f"{where}.fmspc"),
                                  string(po["tcbInfoIssuerChain"], f"{where}.tcbInfoIssuerChain"),
                                  string(po["tcbInfo"], f"{where}.tcbInfo")))
    return Collaterals(
        major_version=u_int(o["majorVersion"], f"{path}.majorVersion", 0xFFFF),
        minor_version=u_int(o["minorVersion"], f"{path}.minorVersion", 0xFFFF),
        tee_type=u_int(o["teeType"], f"{path}.teeType"),
        root_ca=string(o["rootCa"], f"{path}.rootCa"),
        pck_crl_issuer_chain=string(o["pckCrlIssuerChain"], f"{path}.pckCrlIssuerChain"),
        root_ca_crl=string(o["rootCaCrl"], f"{path}.rootCaCrl"),
        pck_crl=string(o["pckCrl"], f"{path}.pckCrl"),
        platforms=tuple(platforms),
        qe_identity_issuer_chain=string(o["qeIdentityIssuerChain"], f"{path}.qeIdentityIssuerChain"),
        qe_identity=string(o["qeIdentity"], f"{path}.qeIdentity"),
    )
