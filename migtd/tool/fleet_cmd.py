"""``migtd-tool fleet hosts|collect|matrix|diff|synth``: which hosts can migrate to which, and why.

``collect`` gathers every inventory host's evidence over SSH (``evidence
collect`` run remotely) into a folder; ``matrix`` evaluates a policy for every
ordered host pair from that evidence; ``diff`` compares two policies over the
same evidence; ``hosts`` shows how an inventory was read; ``synth`` makes a
synthetic fleet with the mock QE. See docs/fleet.md.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

from migtd.errors import ConfigError
from migtd.inputs import seconds_arg, uint_arg
from migtd.tool.files import Files

DEFAULT_CONCURRENCY = 16
DEFAULT_TIMEOUT = 120.0
DEFAULT_STALE = "24h"


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add ``fleet`` and its actions."""
    p = sub.add_parser("fleet", help="collect fleet evidence over SSH; compatibility matrix and policy diff",
                       description="Which hosts can migrate to which, under a policy, from their own quotes: "
                                   + __doc__.split("\n\n")[1].replace("``", ""))
    fs = p.add_subparsers(dest="fleet_cmd", metavar="ACTION", required=True)

    h = fs.add_parser("hosts", help="list the hosts an inventory names (with address, user, port, groups)")
    _inventory_options(h)
    h.add_argument("--json", action="store_true", help="one JSON object on stdout")
    h.set_defaults(func=hosts)

    c = fs.add_parser(
        "collect", help="collect every host's evidence over SSH (only stale or failed hosts on a re-run)",
        description="Run 'migtd-tool evidence collect' on every inventory host through the system ssh (BatchMode, "
                    "honouring ~/.ssh/config or -F), in parallel, with a deadline per host. Writes "
                    "<host>.evidence.json and fleet-state.json into --out-dir; a re-run refreshes only hosts "
                    "that failed or whose evidence is older than --refresh-stale. Exit 0 when every host has "
                    "evidence, 3 when some do not.")
    _inventory_options(c)
    c.add_argument("--out-dir", required=True, type=Path, help="folder for evidence files and fleet-state.json")
    c.add_argument("--concurrency", type=uint_arg(32, minimum=1, maximum=1024), default=DEFAULT_CONCURRENCY,
                   help=f"hosts collected at once (default {DEFAULT_CONCURRENCY})")
    c.add_argument("--timeout", type=seconds_arg(), default=DEFAULT_TIMEOUT, metavar="SECONDS",
                   help=f"seconds per host, connection included; a host that trickles output does not "
                        f"extend it (default {int(DEFAULT_TIMEOUT)})")
    c.add_argument("--refresh-stale", default=DEFAULT_STALE, metavar="AGE",
                   help=f"re-collect evidence older than AGE (s, m, h, d suffixes; default {DEFAULT_STALE})")
    c.add_argument("--all", action="store_true", help="re-collect every host, fresh or not")
    c.add_argument("-F", "--ssh-config", type=Path, help="ssh client configuration file (ssh -F)")
    c.add_argument("--ssh", default="ssh", help="ssh client program (default: ssh from PATH)")
    c.add_argument("--ssh-option", action="append", default=[], metavar="OPT",
                   help="extra ssh -o option, e.g. ProxyJump=bastion (repeatable)")
    c.add_argument("--remote-tool", default="migtd-tool",
                   help="migtd-tool on the hosts (default: migtd-tool from the remote PATH; inventory "
                        "variable migtd_tool overrides it per host)")
    c.add_argument("--attestation", choices=("azure", "mock-report", "skip-ra"),
                   help="remote --attestation (inventory variable migtd_attestation per host; default: the "
                        "host's MIGTD_ATTESTATION, else azure)")
    c.add_argument("--policy", help="remote policy path (inventory variable migtd_policy)")
    chain = c.add_mutually_exclusive_group()
    chain.add_argument("--root-ca", help="remote root CA path, policy v1 (inventory variable migtd_root_ca)")
    chain.add_argument("--issuer-chain", help="remote issuer chain path, policy v2 (migtd_issuer_chain)")
    c.add_argument("--quiet", action="store_true", help="no per-host progress lines")
    c.set_defaults(func=collect)

    m = fs.add_parser(
        "matrix", help="evaluate a policy for every ordered host pair",
        description="Verify every host's quote and run the policy as each side of a migration would (the "
                    "source judging the destination and the reverse), for every ordered host pair. Hosts with "
                    "identical evidence form one class, evaluated once. Prints the grouping, the verdict "
                    "counts, the classes, the class grid and the failing rules; --json/--csv export it.")
    _evidence_argument(m)
    _policy_options(m)
    m.add_argument("--source-policy", type=Path, help="policy of the source side (default: --policy)")
    m.add_argument("--source-issuer-chain", type=Path, help="v2: issuer chain of --source-policy")
    m.add_argument("--destination-policy", type=Path, help="policy of the destination side (default: --policy)")
    m.add_argument("--destination-issuer-chain", type=Path, help="v2: issuer chain of --destination-policy")
    m.add_argument("--json", type=Path, metavar="OUT", help="write the whole matrix as JSON")
    m.add_argument("--csv", type=Path, metavar="OUT", help="write the matrix as CSV")
    m.add_argument("--rows", choices=("classes", "hosts"), default="classes",
                   help="CSV rows: one per class pair (default) or one per host pair")
    m.add_argument("--quiet", action="store_true", help="no progress bar")
    _jobs_option(m)
    m.set_defaults(func=matrix)

    d = fs.add_parser(
        "diff", help="which host pairs change verdict between two policies, and the rules responsible",
        description="Evaluate two policies over the same evidence and list the host pairs whose verdict "
                    "flips, with the rules responsible and the rules that changed in the documents.")
    _evidence_argument(d)
    d.add_argument("--before", required=True, type=Path, help="the current policy")
    d.add_argument("--before-issuer-chain", type=Path, help="v2: its issuer chain")
    d.add_argument("--after", required=True, type=Path, help="the proposed policy")
    d.add_argument("--after-issuer-chain", type=Path, help="v2: its issuer chain")
    _anchor_options(d)
    d.add_argument("--markdown", metavar="OUT", help="write the change-review report (Markdown; - for stdout)")
    d.add_argument("--json", type=Path, metavar="OUT", help="write the diff as JSON")
    d.add_argument("--quiet", action="store_true", help="no progress bar")
    _jobs_option(d)
    d.set_defaults(func=diff)

    s = fs.add_parser("synth", help="write a synthetic fleet's evidence (mock QE) for trying the matrix",
                      description="Generate a fresh mock PKI with two platforms, N hosts in K distinct profiles "
                                  "(TCB levels, QE levels, measurements), and write their evidence, the root "
                                  "CA, the collateral and the policy into --out-dir.")
    s.add_argument("--out-dir", required=True, type=Path)
    s.add_argument("--hosts", type=uint_arg(32, minimum=1, maximum=100_000), default=50,
                   help="number of hosts (default 50)")
    s.add_argument("--profiles", type=uint_arg(32, minimum=1, maximum=10_000), default=8,
                   help="number of distinct profiles (default 8)")
    s.add_argument("--seed", type=uint_arg(32), default=1, help="profile mix seed (default 1)")
    s.add_argument("--policy-version", choices=("1", "2"), default="1")
    s.set_defaults(func=synth)


def _inventory_options(p: argparse.ArgumentParser) -> None:
    p.add_argument("--inventory", "-i", required=True, type=Path,
                   help="inventory: a YAML or INI host list, or an Ansible inventory")
    p.add_argument("--inventory-reader", choices=("auto", "ansible", "builtin"), default="auto",
                   help="auto (default): Ansible's ansible-inventory when installed, else the built-in reader "
                        "of static INI/YAML inventories")
    p.add_argument("--limit", help="only hosts in this group (or with this name)")


def _jobs_value(text: str) -> int:
    """``--jobs``: ``auto`` (the CPU count up to 4) or a whole number from 1 to 64."""
    import os

    if text == "auto":
        return max(1, min(os.cpu_count() or 1, 4))
    return uint_arg(32, minimum=1, maximum=64)(text)


def _jobs_option(p: argparse.ArgumentParser) -> None:
    p.add_argument("--jobs", type=_jobs_value, default="auto",
                   help="worker processes for large fleets (quote verification from 1 500 hosts, class pairs "
                        "from 2 500): a number, or auto = the CPU count up to 4 (default)")


def _evidence_argument(p: argparse.ArgumentParser) -> None:
    p.add_argument("evidence", nargs="+", type=Path,
                   help="collection folders (from fleet collect) and/or evidence files")


def _anchor_options(p: argparse.ArgumentParser) -> None:
    p.add_argument("--root-ca", type=Path, help="policy v1: root CA quotes are verified against "
                                                "(DER or PEM; default: the mock root CA)")
    p.add_argument("--collateral", type=Path, help="policy v1: collateral JSON (default: the mock collateral)")


def _policy_options(p: argparse.ArgumentParser) -> None:
    p.add_argument("--policy", type=Path, help="policy both sides run (default: config/policy.json)")
    p.add_argument("--issuer-chain", type=Path, help="v2: the policy's issuer chain")
    _anchor_options(p)


# --------------------------------------------------------------------------- inventory and collection


def _load_inventory(args: argparse.Namespace) -> Any:
    from migtd.fleet.inventory import load_inventory

    inventory = load_inventory(args.inventory, reader=args.inventory_reader)
    if args.limit:
        inventory = inventory.limited(args.limit)
    return inventory


def hosts(args: argparse.Namespace) -> int:
    """``fleet hosts``: the parsed inventory, one host per line."""
    import json

    inventory = _load_inventory(args)
    if args.json:
        print(json.dumps(inventory.to_dict(), indent=2))
        return 0
    print(f"{len(inventory.hosts)} hosts from {args.inventory} (read by {inventory.reader})")
    for h in inventory.hosts:
        where = h.address + (f":{h.port}" if h.port else "")
        who = f"{h.user}@" if h.user else ""
        extra = " ".join(f"{k}={v}" for k, v in sorted(h.vars.items()))
        print(f"  {h.name:<30} {who}{where:<28} groups: {','.join(h.groups) or '-'}"
              + (f"  {extra}" if extra else ""))
    return 0


def collect(args: argparse.Namespace) -> int:
    """``fleet collect``: evidence from every stale or failed host; 0 when all have evidence, else 3."""
    import shutil

    from migtd.fleet.collect import CollectOptions, collect_fleet, parse_age

    concurrency: int = args.concurrency
    timeout: float = args.timeout
    stale = parse_age(args.refresh_stale)
    if shutil.which(args.ssh) is None:
        raise ConfigError(f"ssh client {args.ssh!r} not found (install openssh-client or pass --ssh)")
    if args.ssh_config is not None:
        from migtd.inputs import read_input

        read_input(args.ssh_config, "ssh config file", allow_empty=True)  # regular and readable, before any host
    inventory = _load_inventory(args)
    options = CollectOptions(
        out_dir=args.out_dir, concurrency=concurrency, timeout=timeout, stale_after=stale, refresh_all=args.all,
        ssh=args.ssh, ssh_config=str(args.ssh_config) if args.ssh_config else None, ssh_options=args.ssh_option,
        remote_tool=args.remote_tool, attestation=args.attestation, policy=args.policy, root_ca=args.root_ca,
        issuer_chain=args.issuer_chain, inventory_label=str(args.inventory))
    report = None if args.quiet else _collect_line
    summary = collect_fleet(inventory, options, report=report)
    print(summary.text())
    return 0 if summary.complete else 3


def _collect_line(progress: Any) -> None:
    print(progress.line(), file=sys.stderr, flush=True)


# --------------------------------------------------------------------------- matrix and diff


def _anchors(args: argparse.Namespace) -> Any:
    from migtd import paths
    from migtd.fleet.config_files import ROOT_CA_MAX, load_collateral_file, read_config, root_ca_der
    from migtd.fleet.profile import Anchors

    root_path = args.root_ca or paths.mock_root_ca()
    coll_path = args.collateral or paths.mock_collateral()
    root = root_ca_der(read_config(root_path, "root CA file", ROOT_CA_MAX), f"root CA file {root_path}")
    return Anchors(root, load_collateral_file(coll_path), f"{root_path.name} + {coll_path.name}")


def _inputs(args: argparse.Namespace, *names: str) -> list[tuple[str, Any]]:
    from migtd.fleet.hosts import fleet_files

    files, _ = fleet_files(args.evidence)
    found = [("evidence file", f) for f in files]
    for name in names:
        value = getattr(args, name, None)
        if value is not None:
            found.append((name.replace("_", " "), value))
    return found


def _progress(args: argparse.Namespace) -> Any:
    from migtd.fleet.progress import ProgressBar

    return ProgressBar(enabled=not args.quiet)


def _warn(line: str) -> None:
    print(f"migtd-tool: warning: {line}", file=sys.stderr, flush=True)


def matrix(args: argparse.Namespace) -> int:
    """``fleet matrix``: the summary on stdout, exports on request."""
    from migtd import paths
    from migtd.fleet.config_files import load_policy_spec
    from migtd.fleet.export import matrix_text
    from migtd.fleet.hosts import fleet_files, iter_fleet
    from migtd.fleet.matrix import build_matrix

    policy = args.policy or paths.default_policy()
    source = load_policy_spec(args.source_policy or policy,
                              args.source_issuer_chain if args.source_policy else args.issuer_chain)
    destination = load_policy_spec(args.destination_policy or policy,
                                   args.destination_issuer_chain if args.destination_policy else args.issuer_chain)
    anchors = _anchors(args) if source.version == 1 else None
    inputs = _inputs(args, "policy", "issuer_chain", "source_policy", "source_issuer_chain", "destination_policy",
                     "destination_issuer_chain", "root_ca", "collateral")
    # the exports checked before any work: never an input, never a folder, never both on one file
    files = Files(inputs, [("JSON output", args.json), ("CSV output", args.csv)])
    jobs: int = args.jobs
    _, total = fleet_files(args.evidence)
    bar = _progress(args)
    try:
        m = build_matrix(iter_fleet(args.evidence, _warn), source, destination, anchors=anchors, progress=bar,
                         total_hosts=total, workers=jobs)
    finally:
        bar.close()
    _write_exports(m, args, files)
    print(matrix_text(m), end="")
    return 0


def _write_exports(m: Any, args: argparse.Namespace, files: Files) -> None:
    import json

    from migtd.fleet.export import matrix_to_dict, write_matrix_csv
    from migtd.inputs import atomic_output

    if args.csv is not None:
        if args.rows == "hosts":  # refuse before the output is opened (and emptied)
            from migtd.fleet.export import MAX_HOST_ROWS

            if m.total_pairs > MAX_HOST_ROWS:
                raise ConfigError(f"{m.total_pairs} host pairs is more than --rows hosts writes ({MAX_HOST_ROWS}); "
                                  "use --rows classes (each row names its host count)")
        with atomic_output(args.csv, "CSV output", files.inputs) as out:   # streamed: up to 2 000 000 rows
            rows = write_matrix_csv(m, out, args.rows)
        print(f"wrote {args.csv} ({rows} rows)", file=sys.stderr)
    if args.json is not None:
        # streamed like the CSV: json.dumps of a 10 000-host matrix would hold the whole 31 MiB text (and
        # its pieces) in memory at once, which was most of that run's peak
        with atomic_output(args.json, "JSON output", files.inputs) as out:
            json.dump(matrix_to_dict(m), out, indent=1)
            out.write("\n")
        print(f"wrote {args.json}", file=sys.stderr)


def diff(args: argparse.Namespace) -> int:
    """``fleet diff``: flips between --before and --after over the same evidence."""
    import json

    from migtd.fleet.config_files import load_policy_spec
    from migtd.fleet.diff import diff_matrices
    from migtd.fleet.export import diff_markdown, diff_text, diff_to_dict
    from migtd.fleet.hosts import load_fleet
    from migtd.fleet.matrix import build_matrix

    before = load_policy_spec(args.before, args.before_issuer_chain)
    after = load_policy_spec(args.after, args.after_issuer_chain)
    if before.version != after.version:
        raise ConfigError(f"--before is policy v{before.version} and --after v{after.version}: compare policies "
                          "of one version (a fleet runs one engine)")
    anchors = _anchors(args) if before.version == 1 else None
    inputs = _inputs(args, "before", "before_issuer_chain", "after", "after_issuer_chain", "root_ca", "collateral")
    markdown = None if args.markdown in (None, "-") else Path(args.markdown)
    files = Files(inputs, [("Markdown output", markdown), ("JSON output", args.json)])
    jobs: int = args.jobs
    fleet = load_fleet(args.evidence, _warn)
    bar = _progress(args)
    try:
        m_before = build_matrix(fleet, before, anchors=anchors, total_hosts=len(fleet), workers=jobs,
                                progress=lambda stage, done, total: bar(f"before: {stage}", done, total))
        m_after = build_matrix(fleet, after, anchors=anchors, total_hosts=len(fleet), workers=jobs,
                               progress=lambda stage, done, total: bar(f"after: {stage}", done, total))
    finally:
        bar.close()
    d = diff_matrices(m_before, m_after)
    if markdown is not None:
        files.write(markdown, diff_markdown(d).encode(), "Markdown output")
        print(f"wrote {markdown}", file=sys.stderr)
    if args.json is not None:
        files.write(args.json, (json.dumps(diff_to_dict(d), indent=1) + "\n").encode(), "JSON output")
        print(f"wrote {args.json}", file=sys.stderr)
    if args.markdown == "-":
        print(diff_markdown(d), end="")
    else:
        print(diff_text(d), end="")
    return 0


def synth(args: argparse.Namespace) -> int:
    """``fleet synth``: a synthetic fleet (mock QE) in --out-dir."""
    from migtd.fleet.hosts import EVIDENCE_SUFFIX
    from migtd.fleet.synthetic import SyntheticFleet, standard_profiles, write_fleet

    count: int = args.hosts
    profiles: int = args.profiles
    seed: int = args.seed
    out: Path = args.out_dir
    if out.exists() and (not out.is_dir() or any(out.glob(f"*{EVIDENCE_SUFFIX}"))):
        raise ConfigError(f"{out} already holds evidence (or is not a folder); choose an empty folder")
    fleet = SyntheticFleet.create()
    if args.policy_version == "2":
        fleet.policy, fleet.issuer_chain = fleet.with_v2_policy()
        fleet.policy_version = 2
    files = write_fleet(out, fleet, count, standard_profiles(min(profiles, count), seed))
    print(f"wrote {count} evidence files in {min(profiles, count)} profiles to {out}")
    chain = f" --issuer-chain {files['issuer_chain']}" if "issuer_chain" in files else \
        f" --root-ca {files['root_ca']} --collateral {files['collateral']}"
    print(f"try: migtd-tool fleet matrix {out} --policy {files['policy']}{chain}")
    return 0
