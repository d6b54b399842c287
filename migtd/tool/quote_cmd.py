"""``migtd-tool quote inspect|verify``: look inside a TD quote, or verify it offline.

``inspect FILE`` decodes every field (header, TD report body, signature data,
QE report, QE auth data, PCK chain and its SGX extension). ``verify FILE
--collateral F [--root-ca F]`` runs the same DCAP verification as ``migtd``
(MigTD's midpoint time rule, or a strict check at ``--at``) against the given
root CA, by default the shipped Intel SGX root CA, exits 0 when the quote
verifies and 7 otherwise, naming the failing step. An unreadable, malformed
collateral or root CA file is a usage error (exit 1), as it is for ``migtd``.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import sys
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from migtd import paths
from migtd.errors import ConfigError
from migtd.tool.files import QUOTE_LIMIT, ROOT_CA_LIMIT, Files, print_tree, read_collateral


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add ``quote inspect`` and ``quote verify``."""
    p = sub.add_parser("quote", help="inspect or verify a TD quote",
                       description="Inspect or verify a TDX DCAP quote (v4 or v5).")
    qs = p.add_subparsers(dest="quote_cmd", metavar="ACTION", required=True)
    i = qs.add_parser("inspect", help="print every field of a quote, decoded")
    i.add_argument("file", type=Path)
    i.add_argument("--json", action="store_true", help="one JSON object on stdout")
    i.set_defaults(func=inspect)
    v = qs.add_parser("verify", help="verify a quote against collateral and a root CA (exit 0 = verified)")
    v.add_argument("file", type=Path)
    v.add_argument("--collateral", required=True, type=Path, help="collateral JSON (upstream MigTD format)")
    v.add_argument("--root-ca", type=Path, default=None,
                   help="trusted root CA certificate (DER or PEM; default: the shipped Intel SGX root CA)")
    v.add_argument("--at", help="verify strictly at this ISO 8601 instant instead of MigTD's midpoint rule")
    v.add_argument("--json", action="store_true", help="one JSON object on stdout")
    v.set_defaults(func=verify)


def _hex(b: bytes) -> str:
    return b.hex().upper()


def _iso(dt: datetime) -> str:
    return dt.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def describe_quote(data: bytes) -> dict[str, Any]:
    """Every field of a quote as JSON-ready values (hex upper-case, dates ISO 8601)."""
    from cryptography import x509
    from cryptography.hazmat.primitives.serialization import Encoding

    from migtd.attest.quote import parse_quote
    from migtd.attest.sgx_ext import SGX_EXTENSION_OID, parse_sgx_extension
    from migtd.errors import FormatError

    q = parse_quote(data)
    b, cd, qr = q.body, q.cert_data, q.cert_data.qe_report
    body: dict[str, Any] = {
        "tee_tcb_svn": _hex(b.tee_tcb_svn), "mrseam": _hex(b.mrseam), "mrsignerseam": _hex(b.mrsignerseam),
        "seam_attributes": _hex(b.seam_attributes), "td_attributes": _hex(b.td_attributes),
        "xfam": _hex(b.xfam), "mrtd": _hex(b.mrtd), "mrconfigid": _hex(b.mrconfigid),
        "mrowner": _hex(b.mrowner), "mrownerconfig": _hex(b.mrownerconfig),
        "rtmr0": _hex(b.rtmrs[0]), "rtmr1": _hex(b.rtmrs[1]), "rtmr2": _hex(b.rtmrs[2]),
        "rtmr3": _hex(b.rtmrs[3]), "report_data": _hex(b.report_data),
    }
    if b.tee_tcb_svn2 is not None:
        body["tee_tcb_svn2"] = _hex(b.tee_tcb_svn2)
        body["mrservicetd"] = _hex(b.mrservicetd or b"")
    chain: list[dict[str, Any]] = []
    sgx: dict[str, Any] | None = None
    try:
        certs = x509.load_pem_x509_certificates(cd.pck_chain.rstrip(b"\0"))
    except (ValueError, x509.InvalidVersion) as exc:
        certs = []
        chain.append({"error": f"PCK chain does not parse: {exc}"})
    for cert in certs:
        entry: dict[str, Any] = {"sha256": hashlib.sha256(cert.public_bytes(Encoding.DER)).hexdigest().upper()}
        try:
            entry.update({
                "subject": cert.subject.rfc4514_string(), "issuer": cert.issuer.rfc4514_string(),
                "serial": f"{cert.serial_number:#x}", "not_before": _iso(cert.not_valid_before_utc),
                "not_after": _iso(cert.not_valid_after_utc),
            })
        except ValueError as exc:
            entry["error"] = f"certificate fields do not decode: {exc}"
        chain.append(entry)
    if certs:
        try:
            raw = certs[0].extensions.get_extension_for_oid(x509.ObjectIdentifier(SGX_EXTENSION_OID)).value
            e = parse_sgx_extension(raw.value)  # type: ignore[attr-defined]
            sgx = {"fmspc": _hex(e.fmspc), "pce_id": _hex(e.pce_id), "tcb_components": list(e.tcb_components),
                   "pcesvn": e.pcesvn, "cpusvn": _hex(e.cpusvn), "ppid": _hex(e.ppid), "sgx_type": e.sgx_type,
                   "platform_instance_id": _hex(e.platform_instance_id) if e.platform_instance_id else None,
                   "configuration": e.configuration}
        except (x509.ExtensionNotFound, x509.DuplicateExtension, FormatError, ValueError,
                AttributeError) as exc:
            sgx = {"error": str(exc) or "PCK certificate has no SGX extension"}
    return {
        "size": len(data), "quote_size": q.size, "trailing_bytes": len(data) - q.size,
        "header": {"version": q.header.version, "att_key_type": q.header.att_key_type,
                   "tee_type": f"{q.header.tee_type:#x}", "reserved": _hex(q.header.reserved),
                   "qe_vendor_id": _hex(q.header.qe_vendor_id), "user_data": _hex(q.header.user_data)},
        "body_type": q.body_type,
        "body": body,
        "signature_data": {
            "quote_signature": _hex(q.signature), "attestation_key": _hex(q.attestation_key),
            "cert_data_type": q.cert_data_type,
        },
        "qe_report": {
            "cpusvn": _hex(qr.cpusvn), "miscselect": _hex(qr.miscselect), "isvextprodid": _hex(qr.isvextprodid),
            "attributes": _hex(qr.attributes), "mrenclave": _hex(qr.mrenclave), "mrsigner": _hex(qr.mrsigner),
            "configid": _hex(qr.configid), "isvprodid": qr.isvprodid, "isvsvn": qr.isvsvn,
            "configsvn": qr.configsvn, "isvfamilyid": _hex(qr.isvfamilyid), "report_data": _hex(qr.report_data),
        },
        "qe_report_signature": _hex(cd.qe_report_signature),
        "qe_auth_data": _hex(cd.qe_auth_data),
        "pck_cert_type": cd.pck_cert_type,
        "pck_chain_bytes": len(cd.pck_chain),
        "pck_chain": chain,
        "sgx_extension": sgx,
    }


def inspect(args: argparse.Namespace) -> int:
    """``quote inspect``: print :func:`describe_quote` as a tree or as JSON."""
    files = Files(inputs=[("quote", args.file)])
    info = describe_quote(files.read(args.file, "quote", QUOTE_LIMIT))
    if args.json:
        json.dump(info, sys.stdout, indent=2)
        print()
    else:
        print_tree(info)
    return 0


def _parse_at(value: str | None) -> datetime | None:
    if value is None:
        return None
    try:
        dt = datetime.fromisoformat(value.replace("Z", "+00:00").replace("z", "+00:00"))
    except ValueError:
        raise ConfigError(f"--at {value!r} is not an ISO 8601 date/time") from None
    return dt.replace(tzinfo=UTC) if dt.tzinfo is None else dt


def verify(args: argparse.Namespace) -> int:
    """``quote verify``: 0 when the quote verifies, 7 (QuoteVerificationError) otherwise."""
    from migtd.attest.trust import der_certificate
    from migtd.attest.verify import QuoteVerificationError, verify_quote

    at = _parse_at(args.at)
    root_path = args.root_ca or paths.intel_root_ca()
    files = Files(inputs=[("quote", args.file), ("collateral file", args.collateral), ("root CA", root_path)])
    quote = files.read(args.file, "quote", QUOTE_LIMIT)
    # A root CA that is not a certificate is a configuration error in ``migtd`` (exit 1), not a failed quote.
    root = der_certificate(files.read(root_path, "root CA", ROOT_CA_LIMIT), f"root CA {root_path}")
    _, collateral = read_collateral(files, args.collateral)  # malformed: a usage error (1), not a failed quote
    try:
        v = verify_quote(quote, collateral, root, at=at)
    except QuoteVerificationError as exc:
        if args.json:
            print(json.dumps({"verified": False, "step": exc.step, "error": exc.problem}))
            return int(exc.result)
        raise
    fields = v.event_fields()
    fields.update({
        "tcb_date": _iso(v.tcb_date), "qe_tcb_status": v.qe_tcb_status,
        "tdx_module_svn": v.module_svn, "tcb_evaluation_data_number": v.tcb_evaluation_data_number,
        "td_attributes": _hex(v.quote.body.td_attributes), "xfam": _hex(v.quote.body.xfam),
        "report_data": _hex(v.report_data), "time_rule": v.time_rule,
        "verification_time": _iso(v.verification_time), "collateral_expired": v.collateral_expired,
        "report_sha256": hashlib.sha256(v.report).hexdigest().upper(),
    })
    if args.json:
        print(json.dumps(fields, indent=2))
        return 0
    print(f"verified: yes ({v.time_rule} time {fields['verification_time']}"
          f"{', collateral expired (not fatal)' if v.collateral_expired else ''})")
    print(f"tcb_status: {v.tcb_status}")
    print(f"advisories: {', '.join(v.advisories) or '(none)'}")
    for key in ("fmspc", "tee_tcb_svn", "tdx_module_svn", "tcb_date", "qe_tcb_status",
                "tcb_evaluation_data_number", "td_attributes", "xfam", "mrtd"):
        print(f"{key}: {fields[key]}")
    for i, rtmr in enumerate(fields["rtmrs"]):
        print(f"rtmr{i}: {rtmr}")
    print(f"report_data: {fields['report_data']}")
    return 0
