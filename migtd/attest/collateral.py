"""Verification collateral in upstream MigTD's JSON format (attestation.md §4.1).

A :class:`Collateral` holds the collateral strings exactly as the file has them
(PEM chains, PEM CRLs, verbatim PCS bodies) plus a SHA-256 of their content so
the verifier's collateral cache can recognise it. The typed views of the TCB
info and QE identity (:class:`TcbInfo`, :class:`QeIdentity`) are built by the
verifier only after their signatures verified; :func:`parse_signed_body`
decodes a PCS body once and returns both the exact signed substring (Intel
signs those bytes, so re-serialising parsed JSON would break the signature)
and the decoded object the typed view is built from.

Every JSON document goes through :mod:`migtd.inputs` (depth-limited), every
file read through :func:`migtd.inputs.read_input`. Malformed content is a
:class:`~migtd.errors.FormatError`; an unreadable file a configuration error.
"""

from __future__ import annotations

import hashlib
import json
import re
from dataclasses import dataclass
from datetime import UTC, datetime
from functools import cached_property
from pathlib import Path
from typing import Any

from migtd.errors import FormatError
from migtd.inputs import InputError, check_json_depth, load_json, read_input

_S = "collateral"

#: Largest collateral file accepted (Intel's full production set is ~100 KB).
MAX_COLLATERAL_BYTES = 4 * 1024 * 1024

#: Platform TCB level statuses Intel's TCB info parser accepts (QVL ``TcbLevel``).
PLATFORM_STATUSES = frozenset({
    "UpToDate", "SWHardeningNeeded", "ConfigurationNeeded", "ConfigurationAndSWHardeningNeeded",
    "OutOfDate", "OutOfDateConfigurationNeeded", "Revoked"})
#: QE identity level statuses Intel's enclave identity parser accepts.
QE_STATUSES = frozenset({"UpToDate", "ConfigurationNeeded", "OutOfDate", "OutOfDateConfigurationNeeded",
                         "Revoked"})

_U8, _U16, _U32 = 0xFF, 0xFFFF, 0xFFFF_FFFF
_INT_ONLY = {int}
_STR_ONLY = {str}


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
        """SHA-256 over every field: the collateral cache's key.

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
        doc = _load(bytes(data), "document")
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


def _problem(exc: InputError, what: str) -> str:
    """An :mod:`migtd.inputs` message without its ``<what>: `` prefix (the FormatError names it)."""
    return exc.message.removeprefix(f"{what}: ")


def _load(data: bytes | str, what: str) -> Any:
    """JSON through :func:`migtd.inputs.load_json` (depth-limited); problems as :class:`FormatError`."""
    try:
        return load_json(data, what)
    except InputError as exc:
        raise FormatError(_S, what, 0, _problem(exc, what)) from None


def load_collateral(path: str | Path) -> Collateral:
    """Read a collateral file: unreadable, not a regular file or too large → exit 1
    (:class:`~migtd.inputs.InputError`); malformed content → :class:`FormatError`."""
    return Collateral.from_json(read_input(path, "collateral file", limit=MAX_COLLATERAL_BYTES))


# --------------------------------------------------------------------------- signed PCS bodies

_DECODER = json.JSONDecoder()
_WS = " \t\r\n"


@dataclass(frozen=True)
class SignedBody:
    """A PCS body ``{"<key>": {...}, "signature": "<hex>"}`` decoded once.

    ``text`` is the exact substring Intel signed (the value of ``key``),
    ``signature`` the 64-byte r‖s, ``document`` the decoded value of ``key``.
    """

    text: bytes
    signature: bytes
    document: dict[str, Any]


def _skip_ws(body: str, i: int) -> int:
    n = len(body)
    while i < n and body[i] in _WS:
        i += 1
    return i


def parse_signed_body(body: str, key: str) -> SignedBody:
    """Decode a PCS body once, keeping the signed value's exact span.

    The top-level object is walked member by member with the standard JSON
    decoder (after :func:`~migtd.inputs.check_json_depth`), so the span of
    ``key``'s value is known without searching the text or decoding it twice.
    Duplicate members keep the last one, as :func:`json.loads` does.
    """
    try:
        check_json_depth(body, key)
    except InputError as exc:
        raise FormatError(_S, key, 0, _problem(exc, key)) from None
    fast = _pcs_layout(body, key)
    if fast is not None:
        return fast
    members: dict[str, tuple[Any, int, int]] = {}
    i = _skip_ws(body, 0)
    try:
        if body[i:i + 1] != "{":
            raise FormatError(_S, key, i, "body is not a JSON object")
        i = _skip_ws(body, i + 1)
        if body[i:i + 1] != "}":
            while True:
                name, i = _DECODER.raw_decode(body, i)
                if not isinstance(name, str):
                    raise FormatError(_S, key, i, "object member name is not a string")
                i = _skip_ws(body, i)
                if body[i:i + 1] != ":":
                    raise FormatError(_S, key, i, "expected ':' after a member name")
                start = _skip_ws(body, i + 1)
                value, i = _DECODER.raw_decode(body, start)
                members[name] = (value, start, i)
                i = _skip_ws(body, i)
                sep = body[i:i + 1]
                if sep == ",":
                    i = _skip_ws(body, i + 1)
                    continue
                if sep == "}":
                    break
                raise FormatError(_S, key, i, "expected ',' or '}' in the body object")
        if _skip_ws(body, i + 1) != len(body):
            raise FormatError(_S, key, i + 1, "data after the body object")
    except json.JSONDecodeError as exc:
        raise FormatError(_S, key, exc.pos, f"not JSON: {exc.msg}") from None
    except (ValueError, RecursionError) as exc:  # e.g. an integer past Python's digit limit
        raise FormatError(_S, key, 0, f"not JSON: {exc}") from None
    member = members.get(key)
    if member is None or not isinstance(member[0], dict):
        raise FormatError(_S, key, 0, f"body has no {key!r} object")
    sig_hex = members.get("signature", (None, 0, 0))[0]
    try:
        signature = bytes.fromhex(sig_hex) if isinstance(sig_hex, str) else b""
    except ValueError:
        signature = b""
    if len(signature) != 64:
        raise FormatError(_S, key + ".signature", 0, "missing or not 64 bytes of hex")
    document, start, end = member
    return SignedBody(body[start:end].encode(), signature, document)


_PCS_SIGNATURE = re.compile(r',"signature":"([0-9A-Fa-f]{128})"}')


def _pcs_layout(body: str, key: str) -> SignedBody | None:
    """:func:`parse_signed_body` for a body exactly as Intel's PCS writes it —
    ``{"<key>":<object>,"signature":"<128 hex digits>"}``, no white space between
    the members — with its value decoded once; ``None`` for any other text, which
    the member-by-member reader then decides (the same result for this layout)."""
    head = f'{{"{key}":'
    if not body.startswith(head):
        return None
    start = len(head)
    try:
        document, end = _DECODER.raw_decode(body, start)
    except ValueError:    # JSONDecodeError included
        return None
    tail = _PCS_SIGNATURE.fullmatch(body, end)
    if tail is None or type(document) is not dict:
        return None
    return SignedBody(body[start:end].encode(), bytes.fromhex(tail.group(1)), document)


def split_signed_body(body: str, key: str) -> tuple[bytes, bytes]:
    """(signed text, r‖s) of a PCS body: :func:`parse_signed_body` without the decoded object."""
    signed = parse_signed_body(body, key)
    return signed.text, signed.signature


# --------------------------------------------------------------------------- typed views


def parse_time(value: Any, where: str) -> datetime:
    """RFC 3339 ``YYYY-MM-DDTHH:MM:SSZ`` (fractional seconds tolerated) → aware UTC datetime."""
    if not isinstance(value, str):
        raise FormatError(_S, where, 0, "missing or not a date string")
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError:
        raise FormatError(_S, where, 0, f"{value!r} is not an RFC 3339 date") from None
    if parsed.tzinfo is None:
        return parsed.replace(tzinfo=UTC)
    return parsed if parsed.tzinfo is UTC else parsed.astimezone(UTC)


def _hex(obj: dict[str, Any], key: str, size: int, where: str) -> bytes:
    value = obj.get(key)
    try:
        raw = bytes.fromhex(value) if isinstance(value, str) else None
    except ValueError:
        raw = None
    if raw is None or len(raw) != size:
        raise FormatError(_S, where + key, 0, f"missing or not {size} bytes of hex")
    return raw


def _int(obj: dict[str, Any], key: str, where: str, maximum: int = _U32) -> int:
    value = obj.get(key)
    if type(value) is not int or not 0 <= value <= maximum:
        raise FormatError(_S, where + key, 0, f"missing or not an integer in 0..{maximum}")
    return value


def _list(obj: dict[str, Any], key: str, where: str) -> list[Any]:
    value = obj.get(key)
    if not isinstance(value, list):
        raise FormatError(_S, where + key, 0, "missing or not a list")
    return value


def _advisories(level: dict[str, Any], where: str) -> tuple[str, ...]:
    ids = level.get("advisoryIDs")
    if ids is None:
        return ()
    if not isinstance(ids, list) or not all(isinstance(x, str) for x in ids):
        raise FormatError(_S, where + "advisoryIDs", 0, "not a list of strings")
    return tuple(ids)


def _status(level: dict[str, Any], where: str, allowed: frozenset[str] | None) -> str:
    status = level.get("tcbStatus")
    if not isinstance(status, str):
        raise FormatError(_S, where + "tcbStatus", 0, "missing or not a string")
    if allowed is not None and status not in allowed:
        raise FormatError(_S, where + "tcbStatus", 0, f"{status!r} is not a valid TCB status")
    return status


def _components(tcb: dict[str, Any], key: str, where: str) -> tuple[int, ...]:
    """16 component SVNs (each 0..255) of ``tcb[key]``."""
    comps = tcb.get(key)
    try:  # fast path for well-formed input; any doubt falls through to the precise checks
        svns = tuple([c["svn"] for c in comps])  # type: ignore[union-attr]
        if len(svns) == 16 and set(map(type, svns)) == _INT_ONLY and min(svns) >= 0 and max(svns) <= _U8:
            return svns
    except (TypeError, KeyError):
        pass
    comps = _list(tcb, key, where + "tcb.")
    if len(comps) != 16:
        raise FormatError(_S, f"{where}tcb.{key}", 0, f"has {len(comps)} entries, not 16")
    out = []
    for i, c in enumerate(comps):
        if not isinstance(c, dict):
            raise FormatError(_S, f"{where}tcb.{key}[{i}]", 0, "not an object")
        out.append(_int(c, "svn", f"{where}tcb.{key}[{i}].", _U8))
    return tuple(out)


@dataclass(frozen=True, slots=True)
class TcbLevel:
    """One platform TCB level of a TDX TCB info."""

    sgx_components: tuple[int, ...]
    pcesvn: int
    tdx_components: tuple[int, ...]
    tcb_date: datetime
    status: str
    advisories: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class IsvLevel:
    """A level keyed by a single ISVSVN (TDX module identity or QE identity)."""

    isvsvn: int
    tcb_date: datetime
    status: str
    advisories: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class ModuleIdentity:
    id: str
    mrsigner: bytes
    attributes: bytes
    attributes_mask: bytes
    levels: tuple[IsvLevel, ...]


def _isv_levels(obj: dict[str, Any], where: str, allowed: frozenset[str] | None) -> tuple[IsvLevel, ...]:
    out = []
    for i, lv in enumerate(_list(obj, "tcbLevels", where)):
        lw = f"{where}tcbLevels[{i}]."
        tcb = lv.get("tcb") if isinstance(lv, dict) else None
        if not isinstance(tcb, dict):
            raise FormatError(_S, lw + "tcb", 0, "missing")
        out.append(IsvLevel(_int(tcb, "isvsvn", lw + "tcb.", _U16), parse_time(lv.get("tcbDate"), lw + "tcbDate"),
                            _status(lv, lw, allowed), _advisories(lv, lw)))
    return tuple(out)


def _document(text: bytes, key: str) -> dict[str, Any]:
    """The signed text of a body as a JSON object (depth-limited)."""
    doc = _load(text, key)
    if not isinstance(doc, dict):
        raise FormatError(_S, key, 0, "not a JSON object")
    return doc


@dataclass(frozen=True)
class TcbInfo:
    """A TDX TCB info (v3), levels in file order (matching order is :mod:`migtd.attest.tcb`'s)."""

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
        """From the signed text of a ``tcbInfo`` body (decoded with the depth limit)."""
        return cls.from_document(_document(text, "tcbInfo"))

    @classmethod
    def from_document(cls, doc: dict[str, Any]) -> TcbInfo:
        """From the decoded ``tcbInfo`` object (what :func:`parse_signed_body` returns)."""
        return _tcb_info_fast(doc) or cls._from_document_checked(doc)

    @classmethod
    def _from_document_checked(cls, doc: dict[str, Any]) -> TcbInfo:
        """Field by field, naming the first field that is wrong."""
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
            # Module level statuses are judged when a level is used, as Intel does.
            identities.append(ModuleIdentity(
                m["id"], _hex(m, "mrsigner", 48, mw), _hex(m, "attributes", 8, mw),
                _hex(m, "attributesMask", 8, mw), _isv_levels(m, mw, None)))
        levels = []
        for i, lv in enumerate(_list(doc, "tcbLevels", w)):
            lw = f"{w}tcbLevels[{i}]."
            tcb = lv.get("tcb") if isinstance(lv, dict) else None
            if not isinstance(tcb, dict):
                raise FormatError(_S, lw + "tcb", 0, "missing")
            sgx = _components(tcb, "sgxtcbcomponents", lw)
            tdx = _components(tcb, "tdxtcbcomponents", lw) if "tdxtcbcomponents" in tcb else (0,) * 16
            levels.append(TcbLevel(sgx, _int(tcb, "pcesvn", lw + "tcb.", _U16), tdx,
                                   parse_time(lv.get("tcbDate"), lw + "tcbDate"),
                                   _status(lv, lw, PLATFORM_STATUSES), _advisories(lv, lw)))
        return cls(
            id=str(doc.get("id", "")), version=_int(doc, "version", w),
            issue_date=parse_time(doc.get("issueDate"), w + "issueDate"),
            next_update=parse_time(doc.get("nextUpdate"), w + "nextUpdate"),
            fmspc=_hex(doc, "fmspc", 6, w), pce_id=_hex(doc, "pceId", 2, w),
            tcb_type=_int(doc, "tcbType", w) if "tcbType" in doc else 0,
            evaluation_data_number=_int(doc, "tcbEvaluationDataNumber", w),
            module=module, module_identities=tuple(identities), levels=tuple(levels),
        )


_ZERO16 = (0,) * 16


def _svns_ok(values: tuple[int, ...], maximum: int) -> bool:
    return set(map(type, values)) <= _INT_ONLY and min(values) >= 0 and max(values) <= maximum


def _advisories_fast(level: dict[str, Any]) -> tuple[str, ...] | None:
    ids = level.get("advisoryIDs")
    if ids is None:
        return ()
    if type(ids) is list and set(map(type, ids)) <= _STR_ONLY:
        return tuple(ids)
    return None


def _isv_levels_fast(levels: Any, allowed: frozenset[str] | None) -> tuple[IsvLevel, ...] | None:
    if type(levels) is not list:
        return None
    out = []
    for lv in levels:
        isvsvn, status = lv["tcb"]["isvsvn"], lv["tcbStatus"]
        advisories = _advisories_fast(lv)
        if type(isvsvn) is not int or not 0 <= isvsvn <= _U16 or type(status) is not str \
                or (allowed is not None and status not in allowed) or advisories is None:
            return None
        out.append(IsvLevel(isvsvn, parse_time(lv["tcbDate"], ""), status, advisories))
    return tuple(out)


def _tcb_info_fast(doc: dict[str, Any]) -> TcbInfo | None:
    """:meth:`TcbInfo.from_document` for a TCB info that is well formed in every field.

    It accepts exactly what the field-by-field reader accepts and builds the
    same value; anything unusual (a missing key, a wrong type, a value out of
    range, an exception) returns ``None`` so the checked reader runs and
    names the problem. This is the TCB info parse of every cold verification.
    """
    try:
        levels = []
        for lv in doc["tcbLevels"]:
            tcb = lv["tcb"]
            sgx = tuple([c["svn"] for c in tcb["sgxtcbcomponents"]])
            tdx = tuple([c["svn"] for c in tcb["tdxtcbcomponents"]]) if "tdxtcbcomponents" in tcb else _ZERO16
            pcesvn, status = tcb["pcesvn"], lv["tcbStatus"]
            advisories = _advisories_fast(lv)
            if len(sgx) != 16 or len(tdx) != 16 or not _svns_ok(sgx + tdx, _U8) or type(pcesvn) is not int \
                    or not 0 <= pcesvn <= _U16 or type(status) is not str or status not in PLATFORM_STATUSES \
                    or advisories is None:
                return None
            levels.append(TcbLevel(sgx, pcesvn, tdx, parse_time(lv["tcbDate"], ""), status, advisories))
        module = None
        m = doc.get("tdxModule")
        if type(m) is dict:
            module = ModuleIdentity("", _hex(m, "mrsigner", 48, ""), _hex(m, "attributes", 8, ""),
                                    _hex(m, "attributesMask", 8, ""), ())
        identities = []
        if "tdxModuleIdentities" in doc:
            raw = doc["tdxModuleIdentities"]
            if type(raw) is not list:
                return None
            for m in raw:
                if type(m["id"]) is not str:
                    return None
                mod_levels = _isv_levels_fast(m["tcbLevels"], None)
                if mod_levels is None:
                    return None
                identities.append(ModuleIdentity(m["id"], _hex(m, "mrsigner", 48, ""), _hex(m, "attributes", 8, ""),
                                                 _hex(m, "attributesMask", 8, ""), mod_levels))
        version, tcb_type, number = doc["version"], doc.get("tcbType", 0), doc["tcbEvaluationDataNumber"]
        if not _svns_ok((version, tcb_type, number), _U32) or type(doc["tcbLevels"]) is not list:
            return None
        return TcbInfo(
            id=str(doc.get("id", "")), version=version, issue_date=parse_time(doc.get("issueDate"), ""),
            next_update=parse_time(doc.get("nextUpdate"), ""), fmspc=_hex(doc, "fmspc", 6, ""),
            pce_id=_hex(doc, "pceId", 2, ""), tcb_type=tcb_type, evaluation_data_number=number,
            module=module, module_identities=tuple(identities), levels=tuple(levels))
    except (FormatError, KeyError, TypeError, ValueError):
        return None


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
        """From the signed text of an ``enclaveIdentity`` body (decoded with the depth limit)."""
        return cls.from_document(_document(text, "enclaveIdentity"))

    @classmethod
    def from_document(cls, doc: dict[str, Any]) -> QeIdentity:
        """From the decoded ``enclaveIdentity`` object."""
        w = "enclaveIdentity."
        return cls(
            id=str(doc.get("id", "")), version=_int(doc, "version", w),
            issue_date=parse_time(doc.get("issueDate"), w + "issueDate"),
            next_update=parse_time(doc.get("nextUpdate"), w + "nextUpdate"),
            evaluation_data_number=_int(doc, "tcbEvaluationDataNumber", w),
            miscselect=_hex(doc, "miscselect", 4, w), miscselect_mask=_hex(doc, "miscselectMask", 4, w),
            attributes=_hex(doc, "attributes", 16, w), attributes_mask=_hex(doc, "attributesMask", 16, w),
            mrsigner=_hex(doc, "mrsigner", 32, w), isvprodid=_int(doc, "isvprodid", w, _U16),
            levels=_isv_levels(doc, w, QE_STATUSES),
        )
