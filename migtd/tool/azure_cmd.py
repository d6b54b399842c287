"""``migtd-tool azure hcl|mock-hcl|provision``: look at and stage Azure vTPM HCL reports.

* ``hcl [FILE] [--tcti T]`` decodes an HCL report — from a file, or read live
  from NV 0x01400001 of the TPM at ``--tcti`` — so an operator on an Azure CVM
  can see what the paravisor hands MigTD (header, runtime claims, TD report
  measurements, whether REPORTDATA is bound to the claims).
* ``mock-hcl --out FILE`` writes a small, layout-valid HCL report around the
  mock TD report (the measurements the mock PKI's policy accepts); it fits
  swtpm's 2048-byte NV index limit.
* ``provision --tcti T FILE`` writes an HCL report into NV 0x01400001, which
  makes a swtpm look like an Azure vTPM for ``--attestation azure`` off Azure.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

from migtd.errors import ConfigError, FormatError
from migtd.inputs import InputError, load_json
from migtd.tool.files import HCL_LIMIT, Files, print_tree


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add ``azure hcl``, ``azure mock-hcl`` and ``azure provision``."""
    p = sub.add_parser("azure", help="inspect or stage Azure vTPM HCL reports",
                       description="Inspect Azure HCL reports, build a mock one, or provision a (software) TPM.")
    az = p.add_subparsers(dest="azure_cmd", metavar="ACTION", required=True)
    h = az.add_parser("hcl", help="decode an HCL report from a file or from the vTPM (NV 0x01400001)")
    h.add_argument("file", nargs="?", type=Path, help="HCL report file (omit to read the TPM)")
    h.add_argument("--tcti", help="read NV 0x01400001 through this TCTI (default: TSS2_TCTI or "
                                  "device:/dev/tpmrm0) when no file is given")
    h.add_argument("--json", action="store_true", help="one JSON object on stdout")
    h.set_defaults(func=inspect_hcl)
    m = az.add_parser("mock-hcl", help="write a small HCL report around the mock TD report")
    m.add_argument("--out", required=True, type=Path)
    m.add_argument("--user-data", default="00" * 64, help="64 bytes, hex, for the user-data claim")
    m.set_defaults(func=mock_hcl)
    v = az.add_parser("provision", help="write an HCL report into NV 0x01400001 of a TPM (e.g. swtpm)")
    v.add_argument("file", type=Path)
    v.add_argument("--tcti", required=True, help="e.g. swtpm:host=127.0.0.1,port=2321")
    v.set_defaults(func=provision)


def describe_hcl(blob: bytes) -> dict[str, Any]:
    """The fields of an HCL report an operator needs, as JSON-ready values."""
    from migtd.attest.tdreport import TdReport
    from migtd.emu.hcl import parse_hcl_report

    report = parse_hcl_report(blob)
    td = TdReport.parse(report.td_report)
    try:
        td.check_integrity()
        integrity = "ok"
    except FormatError as exc:
        integrity = exc.problem
    try:
        claims: Any = load_json(report.runtime_claims, "runtime claims")
    except InputError:
        claims = None
    user_data = report.user_data()
    info = td.td_info
    return {
        "size": len(blob),
        "header": {"version": report.version, "report_size": report.report_size,
                   "request_type": report.request_type, "status": report.status},
        "hcl_data": {"version": report.hcl_data_version, "report_type": "TDX",
                     "hash_type": report.hash_type.name, "runtime_claims_bytes": len(report.runtime_claims)},
        "runtime_claims_keys": sorted(claims) if isinstance(claims, dict) else None,
        "user_data": user_data.hex().upper() if user_data is not None else None,
        "report_data": report.report_data.hex().upper(),
        "report_data_bound_to_claims": report.claims_bound(),
        "td_report": {
            "tee_tcb_svn": td.tee_tcb_info.tee_tcb_svn.hex().upper(),
            "mrseam": td.tee_tcb_info.mrseam.hex().upper(),
            "td_attributes": info.attributes.hex().upper(), "xfam": info.xfam.hex().upper(),
            "mrtd": info.mrtd.hex().upper(),
            **{f"rtmr{i}": r.hex().upper() for i, r in enumerate(info.rtmrs)},
            "integrity": integrity,
        },
    }


def inspect_hcl(args: argparse.Namespace) -> int:
    """``azure hcl``: decode an HCL report from a file or from the TPM."""
    if args.file is not None:
        blob = Files(inputs=[("HCL report", args.file)]).read(args.file, "HCL report", HCL_LIMIT)
    else:
        from migtd.emu.vtpm import HCL_REPORT_INDEX, Vtpm, tcti_from_env

        blob = Vtpm(args.tcti or tcti_from_env()).read_index(HCL_REPORT_INDEX)
    described = describe_hcl(blob)
    if args.json:
        print(json.dumps(described))
    else:
        print_tree(described)
    return 0


def mock_hcl(args: argparse.Namespace) -> int:
    """``azure mock-hcl``: an HCL report around the mock-qe TD report (empty event log)."""
    from migtd.emu.hcl import build_hcl_report, runtime_claims
    from migtd.eventlog import build_event_log
    from migtd.mock.providers import MockQeProvider

    try:
        user_data = bytes.fromhex(args.user_data)
    except ValueError:
        raise ConfigError(f"Invalid --user-data value: {args.user_data}. Use 128 hex digits") from None
    if len(user_data) != 64:
        raise ConfigError(f"Invalid --user-data value: {len(user_data)} bytes. Use 64 bytes (128 hex digits)")
    td = MockQeProvider().td_report(bytes(64), build_event_log([]))
    blob = build_hcl_report(td, runtime_claims(user_data))
    Files(outputs=[("--out", args.out)]).write(args.out, blob, "--out")
    print(f"wrote {args.out} ({len(blob)} bytes)")
    return 0


def provision(args: argparse.Namespace) -> int:
    """``azure provision``: write a valid HCL report into NV 0x01400001 of a TPM."""
    from migtd.emu.hcl import parse_hcl_report
    from migtd.emu.vtpm import HCL_REPORT_INDEX, Vtpm

    blob = Files(inputs=[("HCL report", args.file)]).read(args.file, "HCL report", HCL_LIMIT)
    parse_hcl_report(blob)  # refuse to stage something MigTD would reject
    Vtpm(args.tcti).provision(HCL_REPORT_INDEX, blob)
    print(f"provisioned NV 0x{HCL_REPORT_INDEX:08x} with {len(blob)} bytes through {args.tcti}")
    return 0

