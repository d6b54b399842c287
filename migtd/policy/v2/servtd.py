"""ServTD collateral: the MigTD identity and TCB-mapping documents (§3.4.2).

A v2 policy classifies a MigTD *engine* by its measurements: the TCB mapping
turns (MRTD, RTMR0..3) into an engine SVN, and the TD identity turns that SVN
into a TCB level (date and status). Both documents are signed containers
embedded in the policy with their own issuer chains.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, TypeVar

from migtd.policy.errors import PolicyError, PolicyErrorKind
from migtd.policy.v2 import chain as chainmod
from migtd.policy.v2.container import SignedContainer, decode_signature, parse_container
from migtd.policy.v2.document import U16_MAX, array, member, obj, string, u_int

K = PolicyErrorKind
T = TypeVar("T")


@dataclass(frozen=True)
class TcbLevel:
    isvsvn: int
    tcb_date: str
    tcb_status: str


@dataclass(frozen=True)
class TdIdentity:
    id: str
    version: int
    issue_date: str
    next_update: str
    tcb_evaluation_number: int
    xfam: str
    attributes: str
    mr_config_id: str
    mr_owner: str
    mr_owner_config: str
    mrsigner: str
    isv_prod_id: int
    tcb_levels: tuple[TcbLevel, ...]

    def tcb_level(self, svn: int) -> TcbLevel | None:
        """The highest level with ``isvsvn <= svn`` (the last one on ties)."""
        best: TcbLevel | None = None
        for level in self.tcb_levels:
            if level.isvsvn <= svn and (best is None or level.isvsvn >= best.isvsvn):
                best = level
        return best


@dataclass(frozen=True)
class Measurements:
    """Hex measurement strings of a MigTD; rtmr2/rtmr3 None when not known."""

    mrtd: str
    rtmr0: str
    rtmr1: str
    rtmr2: str | None = None
    rtmr3: str | None = None

    @classmethod
    def from_bytes(cls, mrtd: bytes, rtmr0: bytes, rtmr1: bytes, rtmr2: bytes | None = None,
                   rtmr3: bytes | None = None) -> Measurements:
        """Measurements from raw register values (upper-case hex)."""
        def h(b: bytes | None) -> str | None:
            return None if b is None else b.hex().upper()
        return cls(mrtd.hex().upper(), rtmr0.hex().upper(), rtmr1.hex().upper(), h(rtmr2), h(rtmr3))


@dataclass(frozen=True)
class SvnMapping:
    measurements: Measurements
    isvsvn: int


@dataclass(frozen=True)
class TdTcbMapping:
    id: str
    version: int
    issue_date: str
    next_update: str
    mr_signer: str
    isv_prod_id: int
    svn_mappings: tuple[SvnMapping, ...]

    def engine_svn(self, target: Measurements) -> int | None:
        """SVN of the first mapping matching ``target`` (case-insensitive; absent rtmr2/3 = any)."""
        for m in self.svn_mappings:
            want = m.measurements
            if (want.mrtd.upper() != target.mrtd.upper() or want.rtmr0.upper() != target.rtmr0.upper()
                    or want.rtmr1.upper() != target.rtmr1.upper()):
                continue
            if any(w is not None and (t is None or w.upper() != t.upper())
                   for w, t in ((want.rtmr2, target.rtmr2), (want.rtmr3, target.rtmr3))):
                continue
            return m.isvsvn
        return None


def _inner(kind: PolicyErrorKind, fn: Callable[[], T]) -> T:
    """Run a parser, re-raising its PolicyError as ``kind`` (same message and path)."""
    try:
        return fn()
    except PolicyError as exc:
        raise PolicyError(kind, exc.detail, path=exc.path) from None


def _header(o: dict[str, Any], path: str) -> tuple[str, int, str, str]:
    """``id``, ``version``, ``issueDate``, ``nextUpdate``: the members both documents start with."""
    return (member(o, path, "id", string), member(o, path, "version", u_int),
            member(o, path, "issueDate", string), member(o, path, "nextUpdate", string))


def parse_td_identity(value: Any, path: str = "tdIdentity") -> TdIdentity:
    """Parse a ``tdIdentity`` object; InvalidServtdIdentity on any problem."""
    def parse() -> TdIdentity:
        req = ("id", "version", "issueDate", "nextUpdate", "tcbEvaluationNumber", "xfam", "attributes",
               "mrConfigId", "mrOwner", "mrOwnerConfig", "mrsigner", "isvProdId", "tcbLevels")
        o = obj(value, path, req)
        levels = []
        for i, lv in enumerate(array(o["tcbLevels"], f"{path}.tcbLevels")):
            w = f"{path}.tcbLevels[{i}]"
            lo = obj(lv, w, ("tcb", "tcbDate", "tcbStatus"))
            tcb = obj(lo["tcb"], f"{w}.tcb", ("isvsvn",))
            levels.append(TcbLevel(member(tcb, f"{w}.tcb", "isvsvn", u_int, U16_MAX),
                                   member(lo, w, "tcbDate", string), member(lo, w, "tcbStatus", string)))
        header = _header(o, path)  # then the members in field order: the first bad one is the one named
        evaluation_number = member(o, path, "tcbEvaluationNumber", u_int)
        xfam, attributes, mr_config_id, mr_owner, mr_owner_config, mrsigner = (
            member(o, path, k, string) for k in ("xfam", "attributes", "mrConfigId", "mrOwner",
                                                 "mrOwnerConfig", "mrsigner"))
        return TdIdentity(*header, evaluation_number, xfam, attributes, mr_config_id, mr_owner, mr_owner_config,
                          mrsigner, member(o, path, "isvProdId", u_int, U16_MAX), tuple(levels))
    return _inner(K.InvalidServtdIdentity, parse)


def parse_tcb_mapping(value: Any, path: str = "tdTcbMapping") -> TdTcbMapping:
    """Parse a ``tdTcbMapping`` object; InvalidServtdTcbMapping on any problem."""
    def parse() -> TdTcbMapping:
        o = obj(value, path, ("id", "version", "issueDate", "nextUpdate", "mrSigner", "isvProdId", "svnMappings"))
        maps = []
        for i, m in enumerate(array(o["svnMappings"], f"{path}.svnMappings")):
            w = f"{path}.svnMappings[{i}]"
            mo = obj(m, w, ("tdMeasurements", "isvsvn"))
            mw = f"{w}.tdMeasurements"
            tm = obj(mo["tdMeasurements"], mw, ("mrtd", "rtmr0", "rtmr1"))
            opt = {k: (member(tm, mw, k, string) if tm.get(k) is not None else None) for k in ("rtmr2", "rtmr3")}
            mrtd, rtmr0, rtmr1 = (member(tm, mw, k, string) for k in ("mrtd", "rtmr0", "rtmr1"))
            meas = Measurements(mrtd, rtmr0, rtmr1, opt["rtmr2"], opt["rtmr3"])
            maps.append(SvnMapping(meas, member(mo, w, "isvsvn", u_int, U16_MAX)))
        return TdTcbMapping(
            *_header(o, path), member(o, path, "mrSigner", string),
            member(o, path, "isvProdId", u_int, U16_MAX), tuple(maps))
    return _inner(K.InvalidServtdTcbMapping, parse)


def verify_signed_document(container: str, chain_pem: str, name: str, path: str) -> SignedContainer:
    """Verify an embedded ``{name: {...}, "signature": hex}`` against its chain.

    ``container`` is the container object's raw JSON text as it stands in the
    policy (the caller cuts it out), since the signature covers those bytes.
    """
    signed = parse_container(container, name, path=path)
    sig = decode_signature(signed.signature_hex, path=f"{path}.signature")
    try:
        chainmod.verify_chain_and_signature(chain_pem.encode("utf-8"), signed.raw, sig)
    except chainmod.ChainError as exc:
        raise PolicyError(K.SignatureVerificationFailed, str(exc), path=path) from None
    return signed
