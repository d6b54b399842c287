"""``migtd-tool evidence collect|show``: capture what this host's MigTD would present, or look at it.

``collect`` asks the attestation mode's quote provider for a TD quote (Azure:
vTPM report + IMDS quote; mock-report: the mock QE, or ``MOCK_QUOTE_FILE``),
builds the CCEL event log a MigTD with this policy and root CA (v1) or issuer
chain (v2) measures at start-up, and writes both, with the digests of those
files, the host name and the time, as one evidence file (docs/fleet.md).
``fleet collect`` runs it on every host of an inventory over SSH.
"""

from __future__ import annotations

import argparse
import os
import socket
import sys
from pathlib import Path

from migtd.errors import ConfigError
from migtd.inputs import seconds_arg
from migtd.tool.files import Files

MODES = ("azure", "mock-report", "skip-ra")
DEFAULT_TIMEOUT = 60.0


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add ``evidence collect`` and ``evidence show``."""
    p = sub.add_parser("evidence", help="capture this host's attestation evidence, or show an evidence file",
                       description="Capture the quote and event log a MigTD on this host would present "
                                   "(for fleet compatibility matrices), or show an evidence file.")
    es = p.add_subparsers(dest="evidence_cmd", metavar="ACTION", required=True)
    c = es.add_parser(
        "collect", help="write this host's evidence file",
        description="Write one evidence file: the TD quote from the attestation mode's provider, the CCEL "
                    "event log a MigTD with this policy would measure, digests of the policy and root CA "
                    "(v1) or issuer chain (v2), the host name and the collection time. Never a private key.")
    c.add_argument("--out", required=True, help="evidence file to write, or - for standard output")
    c.add_argument("--attestation", choices=MODES,
                   help="quote source (default: MIGTD_ATTESTATION, else azure, like migtd)")
    c.add_argument("--policy", type=Path, help="the policy the MigTD runs (default: MIGTD_POLICY_FILE, "
                                               "else config/policy.json)")
    chain = c.add_mutually_exclusive_group()
    chain.add_argument("--root-ca", type=Path, help="policy v1: the root CA file the MigTD measures "
                                                    "(default: MIGTD_ROOT_CA_FILE; the mock root with "
                                                    "mock-report)")
    chain.add_argument("--issuer-chain", type=Path, help="policy v2: the policy issuer chain (PEM); selects v2 "
                                                         "(default: MIGTD_POLICY_ISSUER_CHAIN_FILE for v2)")
    c.add_argument("--policy-version", choices=("1", "2"),
                   help="default: MIGTD_POLICY_VERSION, else 2 with an issuer chain or a signed policy, else 1")
    c.add_argument("--host-name", help="name recorded in the file (default: this host's name)")
    c.add_argument("--mock-quote-file", type=Path, help="mock-report: quote every time with this file's "
                                                        "bytes, like MOCK_QUOTE_FILE")
    c.add_argument("--timeout", type=seconds_arg(), default=DEFAULT_TIMEOUT, metavar="SECONDS",
                   help=f"seconds the quote provider may wait (IMDS), default {DEFAULT_TIMEOUT:g}")
    c.set_defaults(func=collect)
    s = es.add_parser("show", help="summarise an evidence file (checks its format and digests)")
    s.add_argument("file", type=Path)
    s.add_argument("--json", action="store_true", help="one JSON object on stdout")
    s.set_defaults(func=show)


def _path(given: Path | None, env_name: str) -> Path | None:
    if given is not None:
        return given
    value = os.environ.get(env_name)
    return Path(value) if value else None


def collect(args: argparse.Namespace) -> int:
    """``evidence collect``: build the evidence and write it (to stdout with ``--out -``)."""
    from migtd import __version__, paths
    from migtd.fleet import config_files as cf
    from migtd.fleet.engine_adapter import present
    from migtd.fleet.evidence import (
        Evidence,
        FileDigest,
        contains_private_key,
        now_utc,
        report_data_for,
        valid_host_name,
    )

    mode = args.attestation or (os.environ.get("MIGTD_ATTESTATION") or "azure").strip().lower()
    if mode not in MODES:
        raise ConfigError(f"Invalid MIGTD_ATTESTATION value: {mode}. Use 'azure', 'mock-report' or 'skip-ra'")
    timeout: float = args.timeout
    host = args.host_name or socket.gethostname()
    if not valid_host_name(host):
        raise ConfigError(f"Invalid --host-name {host!r}: printable ASCII without spaces, at most 253 characters")
    policy_path = _path(args.policy, "MIGTD_POLICY_FILE") or paths.default_policy()
    policy = cf.read_config(policy_path, "policy file", cf.POLICY_MAX)
    version_text = args.policy_version or os.environ.get("MIGTD_POLICY_VERSION", "").strip()
    if version_text not in ("", "1", "2"):
        raise ConfigError(f"Invalid MIGTD_POLICY_VERSION value: {version_text}. Use 1 or 2")
    if version_text:
        version = int(version_text)
    elif args.issuer_chain is not None or args.root_ca is not None:
        version = 2 if args.issuer_chain is not None else 1
    else:
        version = 2 if cf.looks_like_v2(policy) else 1
    chain_path = (args.issuer_chain or _path(None, "MIGTD_POLICY_ISSUER_CHAIN_FILE")) if version == 2 else None
    root_ca = chain = b""
    root_path: Path | None = None
    if version == 2:
        if chain_path is None:
            raise ConfigError("policy v2: give the policy issuer chain (--issuer-chain or "
                              "MIGTD_POLICY_ISSUER_CHAIN_FILE)")
        if args.root_ca is not None:
            raise ConfigError("--root-ca is for policy v1; a v2 MigTD takes its root CA from the policy")
        chain = cf.read_config(chain_path, "issuer chain file", cf.ISSUER_CHAIN_MAX)
        cf.check_issuer_chain(chain, f"issuer chain file {chain_path}")
    else:
        if args.issuer_chain is not None:
            raise ConfigError("--issuer-chain is for policy v2, but the policy is v1")
        root_path = _path(args.root_ca, "MIGTD_ROOT_CA_FILE")
        if root_path is None and mode == "mock-report":
            root_path = paths.mock_root_ca()
        if root_path is None and mode == "azure":
            raise ConfigError("policy v1 in azure mode: give the root CA file the MigTD measures "
                              "(--root-ca or MIGTD_ROOT_CA_FILE)")
        if root_path is not None:
            root_ca = cf.read_config(root_path, "root CA file", cf.ROOT_CA_MAX)
            cf.root_ca_der(root_ca, f"root CA file {root_path}")
    if mode != "skip-ra":
        cf.PolicySpec(version, policy, chain, policy_path.name).checked()
    quote_file = (args.mock_quote_file or _path(None, "MOCK_QUOTE_FILE")) if mode != "azure" else None
    if quote_file is not None:  # read and judged as migtd judges MOCK_QUOTE_FILE at start-up (exit 1)
        from migtd.attest.quote import td_report_from_quote
        from migtd.errors import FormatError

        try:
            td_report_from_quote(cf.read_config(quote_file, "mock quote file", 1 << 20))
        except FormatError as exc:
            raise ConfigError(f"mock quote file {quote_file} is not a TD quote: {exc.message}") from None
    inputs = [("policy file", policy_path), ("root CA file", root_path), ("issuer chain file", chain_path),
              ("mock quote file", quote_file)]
    # --out checked against every input (and for being a folder) before the provider is asked for a quote
    files = Files(inputs, [("evidence file", None if args.out == "-" else args.out)])
    collected_at = now_utc()
    report_data = report_data_for(host, collected_at)
    presented = present(mode, policy_version=version, policy=policy, root_ca=root_ca, issuer_chain=chain,
                        report_data=report_data, mock_quote_file=str(quote_file) if quote_file else None,
                        env=os.environ, timeout=timeout)
    evidence = Evidence(
        host=host, collected_at=collected_at, tool=f"migtd-tool {__version__}", attestation=mode,
        quote_source=presented.quote_source, report_data=report_data, quote=presented.quote,
        event_log=presented.event_log, policy_version=version, policy=FileDigest.of(policy),
        root_ca=FileDigest.of(root_ca) if root_ca else None, issuer_chain=FileDigest.of(chain) if chain else None)
    data = evidence.to_json()
    if contains_private_key(data):  # cannot happen (every input was checked); never ship one if it did
        raise ConfigError("refusing to write evidence that contains a private key")
    if args.out == "-":
        sys.stdout.buffer.write(data)
        sys.stdout.buffer.flush()
        return 0
    # Written only now, after the provider answered, and atomically: a failed or interrupted
    # collection leaves an old file intact.
    files.write(args.out, data, "evidence file")
    print(f"wrote {args.out}: {host}, {mode} ({presented.quote_source}), policy v{version}, "
          f"quote {len(presented.quote)} bytes, event log {len(presented.event_log)} bytes", file=sys.stderr)
    return 0


def show(args: argparse.Namespace) -> int:
    """``evidence show``: the evidence's description, its quote's identity and its event log."""
    import json

    from migtd.fleet.evidence import load_evidence
    from migtd.fleet.profile import describe_evidence

    info = describe_evidence(load_evidence(args.file))
    if args.json:
        print(json.dumps(info, indent=2))
    else:
        from migtd.tool.files import print_tree

        print_tree(info)
    return 0
