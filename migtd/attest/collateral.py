"""Verification collateral in upstream MigTD's JSON format (attestation.md §4.1).

A :class:`Collateral` holds the collateral strings exactly as the file has them
(PEM chains, PEM CRLs, verbatim PCS bodies) plus a SHA-256 of the file so the
verifier can cache what it has already checked. The typed views of the TCB
info and QE identity JSON (:class:`TcbInfo`, :class:`QeIdentity`) are built by
the verifier only after their signatures verified, from the *signed* text —
which is why :func:`split_signed_body` returns the exact substring instead of
re-serialising parsed JSON.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from functools import cached_property
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from migtd.errors import ConfigError, FormatError

_S = "collateral"


@dataclass(frozen=True)
class PlatformCollateral:
    fmspc: str                 # upper-case hex as in the file
    tcb_info_issuer_chain: str
    tcb_info: str              # verbatim {"tcbInfo":{...},"signature":"..."}


@dataclass(frozen=True)
class Collateral:
    major_version: int
    minor_version: int
    tee_type: int
    root_ca: str
    pck_crl_issuer_chain: str
    root_ca_crl: str
    pck_crl: str
    platforms: tuple[PlatformCollateral, ...]
    qe_identity_issuer_chain: str
    qe_identity: str

    @cached_property
    def digest(self) -> bytes:
        """SHA-256 over every field: the verifier's cache key.

        Computed from the content (not taken from the file bytes) so a copy made
        with :func:`dataclasses.replace` can never be mistaken for its original.
        """
        h = hashlib.sha256(f"{self.major_version}.{self.minor_version}.{self.tee_type}".encode())
        parts = [self.root_ca, self.pck_crl_issuer_chain, self.root_ca_crl, self.pck_crl,
                 self.qe_identity_issuer_chain, self.qe_identity]
        for p in self.platforms:
            parts += [p.fmspc, p.tcb_info_issuer_chain, p.tcb_info]
        for part in parts:
            raw = part.encode()
            h.update(len(raw).to_bytes(8, "little") + raw)
        return h.digest()

    @classmethod
    def from_json(cls, data: bytes) -> Collateral:
        """Parse the JSON document; a missing or mistyped key is a :class:`FormatError`."""
        data = bytes(data)
        try:
            doc = json.loads(data)
        except (UnicodeDecodeError, json.JSONDecodeError) as exc:
            raise FormatError(_S, "document", getattr(exc, "pos", 0) or 0, f"not JSON: {exc}") from None
        if not isinstance(doc, dict):
            raise FormatError(_S, "document", 0, "not a JSON object")

        def get(obj: dict[str, Any], key: str, typ: type, where: str = "") -> Any:
            value = obj.get(key)
            if not isinstance(value, typ) or isinstance(value, bool):
                raise FormatError(_S, where + key, 0, f"missing or not a {typ.__name__}")
            return value

        platforms = []
        raw_platforms = get(doc, "platforms", list)
        for i, p in enumerate(raw_platforms):
            if not isinstance(p, dict):
                raise FormatError(_S, f"platforms[{i}]", 0, "not an object")
            where = f"platforms[{i}]."
            platforms.append(PlatformCollateral(get(p, "fmspc", str, where),
                                                get(p, "tcbInfoIssuerChain", str, where),
                                                get(p, "tcbInfo", str, where)))
        return cls(
            major_version=get(doc, "majorVersion", int), minor_version=get(doc, "minorVersion", int),
            tee_type=get(doc, "teeType", int), root_ca=get(doc, "rootCa", str),
            pck_crl_issuer_chain=get(doc, "pckCrlIssuerChain", str),
            root_ca_crl=get(doc, "rootCaCrl", str), pck_crl=get(doc, "pckCrl", str),
            platforms=tuple(platforms),
            qe_identity_issuer_chain=get(doc, "qeIdentityIssuerChain", str),
            qe_identity=get(doc, "qeIdentity", str),
        )

    def platform(self, fmspc: bytes) -> PlatformCollateral | None:
        """The entry for an FMSPC (compared as upper-case hex, like MigTD)."""
        want = fmspc.hex().upper()
        for p in self.platforms:
            if p.fmspc.upper() == want:
                return p
        return None

    def to_json(self) -> bytes:
        """Serialise in the upstream key order (used by the mock PKI)."""
        doc = {
            "majorVersion": self.major_version, "minorVersion": self.minor_version,
            "teeType": self.tee_type, "rootCa": self.root_ca,
            "pckCrlIssuerChain": self.pck_crl_issuer_chain, "rootCaCrl": self.root_ca_crl,
            "pckCrl": self.pck_crl,
            "platforms": [{"fmspc": p.fmspc, "tcbInfoIssuerChain": p.tcb_info_issuer_chain,
                           "tcbInfo": p.tcb_info} for p in self.platforms],
            "qeIdentityIssuerChain": self.qe_identity_issuer_chain, "qeIdentity": self.qe_identity,
        }
        return json.dumps(doc, indent=2).encode() + b"\n"


def load_collateral(path: str | Path) -> Collateral:
    """Read a collateral file; unreadable → :class:`ConfigError` (exit 1)."""
    try:
        data = Path(path).read_bytes()
    except OSError as exc:
        raise ConfigError(f"cannot read collateral file {path}: {exc.strerror or exc}") from None
    return Collateral.from_json(data)


def split_signed_body(body: str, key: str) -> tuple[bytes, bytes]:
    """Split a PCS body ``{"<key>":{...},"signature":"<hex>"}`` into (signed text, r||s).

    The signed text is the exact substring of the value of ``key``; Intel signs
    those bytes, so re-serialising parsed JSON would break the signature.
    """
    try:
        doc = json.loads(body)
    except json.JSONDecodeError as exc:
        raise FormatError(_S, key, exc.pos, f"not JSON: {exc.msg}") from None
    if not isinstance(doc, dict) or not isinstance(doc.get(key), dict):
        raise FormatError(_S, key, 0, f"body has no {key!r} object")
    sig_hex = doc.get("signature")
    try:
        signature = bytes.fromhex(sig_hex) if isinstance(sig_hex, str) else b""
    except ValueError:
        signature = b""
    if len(signature) != 64:
        raise FormatError(_S, key + ".signature", 0, "missing or not 64 bytes of hex")
    marker = f'"{key}"'
    pos = body.find(marker)
    colon = body.find(":", pos + len(marker)) if pos >= 0 else -1
    if colon < 0:
        raise FormatError(_S, key, 0, "cannot locate the signed object")
    start = colon + 1
    while start < len(body) and body[start] in " \t\r\n":
        start += 1
    try:
        _, end = json.JSONDecoder().raw_decode(body, start)
    except json.JSONDecodeError as exc:
        raise FormatError(_S, key, exc.pos, exc.msg) from None
    return body[start:end].encode(), signature


def parse_time(value: Any, where: str) -> datetime:
    """RFC 3339 ``YYYY-MM-DDTHH:MM:SSZ`` (fractional seconds tolerated) → aware UTC datetime."""
    if not isinstance(value, str):
        raise FormatError(_S, where, 0, "missing or not a date string")
    try:
        parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        raise FormatError(_S, where, 0, f"{value!r} is not an RFC 3339 date") from None
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=UTC)
    return parsed.astimezone(UTC)


def _hex(obj: dict[str, Any], key: str, size: int, where: str) -> bytes:
    value = obj.get(key)
    try:
        raw = bytes.fromhex(value) if isinstance(value, str) else None
    except ValueError:
        raw = None
    if raw is None or len(raw) != size:
        raise FormatError(_S, where + key, 0, f"missing or not {size} bytes of hex")
    return raw


def _int(obj: dict[str, Any], key: str, where: str) -> int:
    value = obj.get(key)
    if not isinstance(value, int) or isinstance(value, bool) or value < 0:
        raise FormatError(_S, where + key, 0, "missing or not a non-negative integer")
    return value


def _list(obj: dict[str, Any], key: str, where: str) -> list[Any]:
    value = obj.get(key)
    if not isinstance(value, list):
        raise FormatError(_S, where + key, 0, "missing or not a list")
    return value


def _advisories(level: dict[str, Any]) -> tuple[str, ...]:
    ids = level.get("advisoryIDs") or []
    return tuple(str(x) for x in ids) if isinstance(ids, list) else ()


@dataclass(frozen=True)
class TcbLevel:
    """One platform TCB level of a TDX TCB info."""

    sgx_components: tuple[int, ...]
    pcesvn: int
    tdx_components: tuple[int, ...]
    tcb_date: datetime
    status: str
    advisories: tuple[str, ...]


@dataclass(frozen=True)
class IsvLevel:
    """A level keyed by a single ISVSVN (TDX module identity or QE identity)."""

    isvsvn: int
    tcb_date: datetime
    status: str
    advisories: tuple[str, ...]


@dataclass(frozen=True)
class ModuleIdentity:
    id: str
    mrsigner: bytes
    attributes: bytes
    attributes_mask: bytes
    levels: tuple[IsvLevel, ...]


@dataclass(frozen=True)
class TcbInfo:
    id: str
    version: int
    issue_date: datetime
    next_update: datetime
    fmspc: bytes
    pce_id: bytes
    tcb_type: int
    evaluation_data_number: int
    module: ModuleIdentity | None
    module_identities: tuple[ModuleIdentity, ...]
    levels: tuple[TcbLevel, ...]

    @classmethod
    def from_signed_text(cls, text: bytes) -> TcbInfo:
        doc = _object(text, "tcbInfo")
        w = "tcbInfo."
        module = None
        if isinstance(doc.get("tdxModule"), dict):
            m = doc["tdxModule"]
            module = ModuleIdentity("", _hex(m, "mrsigner", 48, w + "tdxModule."),
                                    _hex(m, "attributes", 8, w + "tdxModule."),
                                    _hex(m, "attributesMask", 8, w + "tdxModule."), ())
        identities = []
        for i, m in enumerate(_list(doc, "tdxModuleIdentities", w) if "tdxModuleIdentities" in doc else []):
            mw = f"{w}tdxModuleIdentities[{i}]."
            if not isinstance(m, dict) or not isinstance(m.get("id"), str):
                raise FormatError(_S, mw + "id", 0, "missing")
            identities.append(ModuleIdentity(
                m["id"], _hex(m, "mrsigner", 48, mw), _hex(m, "attributes", 8, mw),
                _hex(m, "attributesMask", 8, mw), _isv_levels(m, mw)))
        levels = []
        for i, lv in enumerate(_list(doc, "tcbLevels", w)):
            lw = f"{w}tcbLevels[{i}]."
            tcb = lv.get("tcb") if isinstance(lv, dict) else None
            if not isinstance(tcb, dict):
                raise FormatError(_S, lw + "tcb", 0, "missing")
            sgx = _components(tcb, "sgxtcbcomponents", lw)
            tdx = _components(tcb, "tdxtcbcomponents", lw) if "tdxtcbcomponents" in tcb else (0,) * 16
            levels.append(TcbLevel(sgx, _int(tcb, "pcesvn", lw + "tcb."), tdx,
                                   parse_time(lv.get("tcbDate"), lw + "tcbDate"),
                                   _status(lv, lw), _advisories(lv)))
        return cls(
            id=str(doc.get("id", "")), version=_int(doc, "version", w),
            issue_date=parse_time(doc.get("issueDate"), w + "issueDate"),
            next_update=parse_time(doc.get("nextUpdate"), w + "nextUpdate"),
            fmspc=_hex(doc, "fmspc", 6, w), pce_id=_hex(doc, "pceId", 2, w),
            tcb_type=_int(doc, "tcbType", w) if "tcbType" in doc else 0,
            evaluation_data_number=_int(doc, "tcbEvaluationDataNumber", w),
            module=module, module_identities=tuple(identities), levels=tuple(levels),
        )


@dataclass(frozen=True)
class QeIdentity:
    id: str
    version: int
    issue_date: datetime
    next_update: datetime
    evaluation_data_number: int
    miscselect: bytes
    miscselect_mask: bytes
    attributes: bytes
    attributes_mask: bytes
    mrsigner: bytes
    isvprodid: int
    levels: tuple[IsvLevel, ...]

    @classmethod
    def from_signed_text(cls, text: bytes) -> QeIdentity:
        doc = _object(text, "enclaveIdentity")
        w = "enclaveIdentity."
        return cls(
            id=str(doc.get("id", "")), version=_int(doc, "version", w),
            issue_date=parse_time(doc.get("issueDate"), w + "issueDate"),
            next_update=parse_time(doc.get("nextUpdate"), w + "nextUpdate"),
            evaluation_data_number=_int(doc, "tcbEvaluationDataNumber", w),
            miscselect=_hex(doc, "miscselect", 4, w), miscselect_mask=_hex(doc, "miscselectMask", 4, w),
            attributes=_hex(doc, "attributes", 16, w), attributes_mask=_hex(doc, "attributesMask", 16, w),
            mrsigner=_hex(doc, "mrsigner", 32, w), isvprodid=_int(doc, "isvprodid", w),
            levels=_isv_levels(doc, w),
        )


def _object(text: bytes, key: str) -> dict[str, Any]:
    try:
        doc = json.loads(text)
    except (UnicodeDecodeError, json.JSONDecodeError):
        raise FormatError(_S, key, 0, "signed text is not JSON") from None
    if not isinstance(doc, dict):
        raise FormatError(_S, key, 0, "not a JSON object")
    return doc


def _status(level: dict[str, Any], where: str) -> str:
    status = level.get("tcbStatus")
    if not isinstance(status, str):
        raise FormatError(_S, where + "tcbStatus", 0, "missing")
    return status


def _components(tcb: dict[str, Any], key: str, where: str) -> tuple[int, ...]:
    comps = _list(tcb, key, where + "tcb.")
    if len(comps) != 16:
        raise FormatError(_S, f"{where}tcb.{key}", 0, f"has {len(comps)} entries, not 16")
    out = []
    for i, c in enumerate(comps):
        if not isinstance(c, dict):
            raise FormatError(_S, f"{where}tcb.{key}[{i}]", 0, "not an object")
        out.append(_int(c, "svn", f"{where}tcb.{key}[{i}]."))
    return tuple(out)


def _isv_levels(obj: dict[str, Any], where: str) -> tuple[IsvLevel, ...]:
    out = []
    for i, lv in enumerate(_list(obj, "tcbLevels", where)):
        lw = f"{where}tcbLevels[{i}]."
        tcb = lv.get("tcb") if isinstance(lv, dict) else None
        if not isinstance(tcb, dict):
            raise FormatError(_S, lw + "tcb", 0, "missing")
        out.append(IsvLevel(_int(tcb, "isvsvn", lw + "tcb."), parse_time(lv.get("tcbDate"), lw + "tcbDate"),
                            _status(lv, lw), _advisories(lv)))
    return tuple(out)
