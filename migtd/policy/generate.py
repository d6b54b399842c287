"""Build v1 policies whose reference values come from a verified report.

This is what upstream's policy generator and its AzCVMEmu test script do for
mock reports: take the 822-byte verified report of a known-good MigTD and pin
its values, so the mock-report flow can run with a policy that matches it.

Without a template the policy pins everything the report carries: the
platform by FMSPC (TCB components and PCE SVN as minimums), the QE and TDX
module identities (SVNs as minimums), and all ten TDINFO fields exactly (the
ATTRIBUTES/XFAM values already masked, since only those bits are compared);
the EventLog rules require the same policy file and SGX root CA as the
evaluating MigTD ("self"). With a template, the template's structure is
kept and each literal reference is replaced by the report's value in the form
its operation needs; "self" and range references are left alone.
"""

from __future__ import annotations

import json
import uuid
from typing import Any

from migtd.attest import suppl as rpt
from migtd.policy import jsontext
from migtd.policy.errors import PolicyError, PolicyErrorKind
from migtd.policy.v1 import QE_FIELDS, TCB_INFO_FIELDS, TDINFO_FIELDS, TDX_MODULE_FIELDS, masked_field
from migtd.policy.v1_document import decode_text, parse_v1
from migtd.result import MigrationResult

_SECTION_FIELDS = {
    ("Platform", "TcbInfo"): TCB_INFO_FIELDS,
    ("QE", "QeIdentity"): QE_FIELDS,
    ("TDXModule", "TDXModule_Identity"): TDX_MODULE_FIELDS,
    ("MigTD", "TDINFO"): TDINFO_FIELDS,
}


def reference_for(operation: str, value: bytes) -> Any:
    """The reference that makes ``value`` satisfy ``operation`` exactly at the boundary."""
    if operation in ("array-equal", "array-greater-or-equal"):
        return list(value)
    if operation == "greater-or-equal" or (operation == "equal" and len(value) <= 2):
        return int.from_bytes(value, "little")
    return value.hex().upper()


def _rule(operation: str, report: bytes, name: str) -> dict[str, Any]:
    return {"operation": operation, "reference": reference_for(operation, masked_field(report, name))}


def policy_from_report(report: bytes, *, policy_id: str | None = None) -> dict[str, Any]:
    """A complete v1 policy document pinning ``report``'s values (see module doc)."""
    _check_size(report)
    r = report
    return {
        "id": policy_id or str(uuid.uuid4()).upper(),
        "policy": [
            {"fmspc": rpt.field(r, "FMSPC").hex().upper(),
             "Platform": {"TcbInfo": {
                 "sgxtcbcomponents": _rule("array-greater-or-equal", r, "SGX_TCB_COMPONENTS"),
                 "pcesvn": _rule("greater-or-equal", r, "PCE_SVN"),
                 "tdxtcbcomponents": _rule("array-greater-or-equal", r, "TDX_TCB_COMPONENTS")}}},
            {"QE": {"QeIdentity": {
                "MISCSELECT": _rule("equal", r, "QE_MISCSELECT"),
                "ATTRIBUTES": _rule("equal", r, "QE_ATTRIBUTES"),
                "MRSIGNER": _rule("equal", r, "QE_MRSIGNER"),
                "ISVPRODID": _rule("equal", r, "QE_ISVPRODID"),
                "ISVSVN": _rule("greater-or-equal", r, "QE_ISVSVN")}}},
            {"TDXModule": {"TDXModule_Identity": {
                "TDXModuleMajorVersion": _rule("equal", r, "TDX_MODULE_MAJOR_VER"),
                "TDXModuleSVN": _rule("greater-or-equal", r, "TDX_MODULE_SVN"),
                "MRSIGNERSEAM": _rule("equal", r, "MRSIGNERSEAM"),
                "ATTRIBUTES": _rule("equal", r, "SEAM_ATTRIBUTES")}}},
            {"MigTD": {
                "TDINFO": {name: _rule("equal", r, field) for name, field in TDINFO_FIELDS.items()},
                "EventLog": {"Digest.MigTdPolicy": {"operation": "equal", "reference": "self"},
                             "Digest.MigTdSgxRootKey": {"operation": "equal", "reference": "self"}}}},
        ],
    }


def _check_size(report: bytes) -> None:
    if len(report) != rpt.REPORT_SIZE:
        raise PolicyError(PolicyErrorKind.InvalidParameter,
                          f"a verified report has {rpt.REPORT_SIZE} bytes, this one {len(report)}",
                          result=MigrationResult.InvalidParameter)


def _fill_section(section: dict[str, Any], fields: dict[str, str], report: bytes) -> None:
    for name, prop in section.items():
        field = fields.get(name)
        ref = prop.get("reference") if isinstance(prop, dict) else None
        if field is None or ref == "self" or (isinstance(ref, str) and ".." in ref):
            continue
        prop["reference"] = reference_for(prop["operation"], masked_field(report, field))


def policy_from_template(template: bytes, report: bytes) -> dict[str, Any]:
    """The template with its literal references replaced by ``report``'s values.

    The template must itself be a valid v1 policy (checked with the same
    parser the engine uses, so errors name the JSON path).
    """
    _check_size(report)
    parse_v1(template)
    doc = jsontext.loads(decode_text(template))
    for block in doc["policy"]:
        if "fmspc" in block and block["fmspc"] != "self" and "Platform" in block:
            block["fmspc"] = rpt.field(report, "FMSPC").hex().upper()
        for (outer, inner), fields in _SECTION_FIELDS.items():
            section = block.get(outer, {})
            if isinstance(section, dict) and isinstance(section.get(inner), dict):
                _fill_section(section[inner], fields, report)
    return doc


def dump(doc: dict[str, Any]) -> bytes:
    """Serialise a generated policy: 4-space indent like upstream's generator, LF at the end."""
    return (json.dumps(doc, indent=4, ensure_ascii=False) + "\n").encode("utf-8")
