"""The run planner: one request in, each side's ``migtd`` command line and environment out.

``migtd-console`` and ``./migtdemu.sh`` both start ``migtd`` processes for a
run described by roles, hosts, attestation mode, policy version, files,
timeout, request id and ports. Both ask this module, so the two cannot
disagree: the defaults (policy, root CA, collateral, a 60-s timeout) come
from the attestation-mode registry and ``migtd`` itself, and everything that
can be checked before a process starts is checked here, once, with the
runner script's messages:

1. a signed policy v2 generated from the mock report, when the mode can and
   the operator named no policy (the script only): its preconditions; it is
   written where upstream's runner writes it, ``config/AzCVMEmu/`` under the
   folder the script runs in (:data:`GENERATED_POLICY`), so upstream's help
   examples that name those files work;
2. policy v2 needs a policy and an issuer chain named;
3. every local input exists (the mock quote, each side's policy and chain,
   the root CA with policy v1, the init MigTD data, which needs policy v2);
4. the trust files the mode needs with policy v1 are named (a captured quote,
   or azure, has no default collateral: ``MIGTD_COLLATERAL_SOURCE`` may say
   where to fetch it instead) and exist;
5. no output of the run (log files, generated files, the runner's own
   output files) is one of its inputs (by device and inode); a generated
   policy v2 may be the policy of the run it is generated for (so a re-run
   in the same folder regenerates it).

Paths of a side that runs on another host (over SSH) are that host's and
are not checked here.

``migtd-tool plan`` (:func:`main`) prints a plan as shell assignments
(``--format sh``, what ``migtdemu.sh`` evaluates) or JSON; a refused request
is ``Error: <one line>`` and hints on stderr, exit 1.
"""

from __future__ import annotations

import argparse
import json
import os
import shlex
import sys
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any, NamedTuple

from migtd import modes, paths
from migtd.cli.args import DEFAULT_TIMEOUT, KEY_EXCHANGES, OPERATIONS
from migtd.errors import ConfigError
from migtd.inputs import parse_seconds, parse_uint, refuse_input_as_output

ROLES = ("source", "destination")
#: Where each front end lets the operator name a file, for the messages.
NAMING = {
    "script": {"MIGTD_COLLATERAL_FILE": "MIGTD_COLLATERAL_FILE", "MIGTD_ROOT_CA_FILE": "--root-ca-file"},
    "console": {"MIGTD_COLLATERAL_FILE": "--collateral-file", "MIGTD_ROOT_CA_FILE": "--root-ca-file"},
}
#: The inputs a generation may overwrite when they are its own last output (a re-run in the same folder).
_REGENERATED = ("policy file", "issuer chain file")
#: Where a generated policy v2 and its issuer chain go, under ``generate_into`` (upstream's runner paths).
GENERATED_POLICY = ("config", "AzCVMEmu", "policy_v2_signed.json")
GENERATED_CHAIN = ("config", "AzCVMEmu", "policy_issuer_chain.pem")
V2_EXAMPLE = ("Example: ./migtdemu.sh --policy-v2 --policy-file policy_v2_signed.json "
              "--policy-issuer-chain-file policy_issuer_chain.pem --both")


class PlanError(ConfigError):
    """A request that cannot run: one line, then hints for the operator (exit 1)."""

    def __init__(self, message: str, *hints: str) -> None:
        super().__init__(message)
        self.hints = hints


class RunRequest:
    """What an operator asked for, in the terms both runners share.

    ``attestation`` is a registry name; ``mock_quote_file`` selects its
    captured-quote variant. Per-side files override the shared ones.
    ``collateral_source`` is ``MIGTD_COLLATERAL_SOURCE`` (fetch the
    collateral where the mode has no default file and none is named).
    ``log_files`` maps a role to its ``MIGTD_LOG_FILE``; ``outputs`` are
    other files the runner writes, as ``(label, path)``. ``generate_into``
    (the script) lets the planner generate a policy v2 there.
    ``init_migtd_data`` is the initMigtdData file both sides' VMMs hand over
    (``MIGTD_INIT_MIGTD_DATA_FILE``).
    """

    __slots__ = (
        "attestation",
        "collateral_file",
        "collateral_source",
        "dest_ip",
        "dest_port",
        "dst_issuer_chain_file",
        "dst_policy_file",
        "front",
        "generate_into",
        "hosts",
        "init_migtd_data",
        "issuer_chain_file",
        "key_exchange",
        "log_files",
        "log_format",
        "log_level",
        "mock_quote_file",
        "operation",
        "outputs",
        "policy_file",
        "policy_version",
        "quote_failures",
        "quote_request",
        "request_id",
        "roles",
        "root_ca_file",
        "src_issuer_chain_file",
        "src_policy_file",
        "timeout",
    )

    def __init__(self, *, roles: Sequence[str] = ("source",), attestation: str = modes.DEFAULT,
                 mock_quote_file: str | None = None, policy_version: int = 1, operation: str = "migration",
                 request_id: int = 1, dest_ip: str = "127.0.0.1", dest_port: int = 8001,
                 policy_file: str | None = None, src_policy_file: str | None = None,
                 dst_policy_file: str | None = None, issuer_chain_file: str | None = None,
                 src_issuer_chain_file: str | None = None, dst_issuer_chain_file: str | None = None,
                 root_ca_file: str | None = None, collateral_file: str | None = None,
                 collateral_source: str | None = None, timeout: float = DEFAULT_TIMEOUT, log_level: str | None = None, log_format: str | None = None,
                 log_files: Mapping[str, str] | None = None, outputs: Iterable[tuple[str, str]] = (),
                 quote_failures: int = 0, hosts: Mapping[str, str | None] | None = None,
                 generate_into: str | None = None, front: str = "console", key_exchange: str = "ratls",
                 quote_request: str = "direct", init_migtd_data: str | None = None) -> None:
        self.roles = tuple(roles)
        #: ``--key-exchange`` (``spdm``: upstream's ``spdm_attestation``) and ``--quote-request``
        #: (``igvm``: its ``igvm-attest``); passed to migtd only when not the default.
        self.key_exchange = key_exchange
        self.quote_request = quote_request
        self.attestation = attestation
        self.mock_quote_file = mock_quote_file
        self.policy_version = policy_version
        self.operation = operation
        self.request_id = request_id
        self.dest_ip = dest_ip
        self.dest_port = dest_port
        self.policy_file = policy_file
        self.src_policy_file = src_policy_file
        self.dst_policy_file = dst_policy_file
        self.issuer_chain_file = issuer_chain_file
        self.src_issuer_chain_file = src_issuer_chain_file
        self.dst_issuer_chain_file = dst_issuer_chain_file
        self.root_ca_file = root_ca_file
        self.collateral_file = collateral_file
        self.collateral_source = collateral_source
        self.timeout = timeout
        self.log_level = log_level
        self.log_format = log_format
        self.log_files = dict(log_files or {})
        self.outputs = tuple(outputs)
        self.quote_failures = quote_failures
        self.hosts = dict(hosts or {})
        self.generate_into = generate_into
        self.front = front
        self.init_migtd_data = init_migtd_data

    def local(self, role: str) -> bool:
        """Whether ``role`` runs on this machine (its paths can be checked here)."""
        return not self.hosts.get(role)


class SidePlan(NamedTuple):
    """One ``migtd``: its role, the arguments after the program name, the environment it needs."""

    role: str
    argv: tuple[str, ...]
    env: dict[str, str]


class RunPlan(NamedTuple):
    """A checked request: the mode, one :class:`SidePlan` per role, and a policy to generate first (if any)."""

    mode: modes.Mode
    sides: dict[str, SidePlan]
    generate: tuple[str, ...]
    policy: dict[str, str]
    issuer_chain: dict[str, str]
    root_ca: str | None
    key_exchange: str = "ratls"
    quote_request: str = "direct"

    def side(self, role: str) -> SidePlan:
        """The plan of ``role``."""
        return self.sides[role]


def _mode(req: RunRequest) -> modes.Mode:
    mode = modes.by_name(req.attestation)
    if mode is None:
        raise PlanError(f"unknown attestation mode {req.attestation!r}; use {modes.spelled_out()}")
    return mode.variant({"MOCK_QUOTE_FILE": req.mock_quote_file} if req.mock_quote_file else {})


def _limit(label: str) -> int:
    """The size limit ``migtd`` applies to the input ``label`` names ("Source Policy", "Root CA", …)."""
    from migtd.attest.trust import COLLATERAL_MAX
    from migtd.cli.config import ISSUER_CHAIN_MAX, MOCK_QUOTE_MAX, POLICY_MAX, ROOT_CA_MAX
    from migtd.emu.init_data import INIT_MIGTD_DATA_SIZE
    from migtd.inputs import DEFAULT_LIMIT

    for kind, limit in (("Policy Issuer Chain", ISSUER_CHAIN_MAX), ("Policy", POLICY_MAX), ("Root CA", ROOT_CA_MAX),
                        ("Mock Quote", MOCK_QUOTE_MAX), ("Init MigTD data", INIT_MIGTD_DATA_SIZE),
                        ("Collateral", COLLATERAL_MAX)):
        if label.endswith(kind):
            return limit
    return DEFAULT_LIMIT


def _exists(path: str, label: str) -> None:
    """``path`` is a usable input: upstream's line when it is missing, else :func:`read_input`'s judgement.

    A FIFO, a device or a folder is named as such (not "not found"), and an
    empty file or one above the limit ``migtd`` applies is refused here, so
    the runner never starts a side that would refuse it at once. The file is
    opened without blocking and read up to its limit, as ``migtd`` reads it.
    """
    from migtd.inputs import InputError, read_input

    if not os.path.exists(path):
        raise PlanError(f"{label} file not found: {path}", "Please ensure the file exists or specify a different path.")
    try:
        read_input(path, f"{label} file", limit=_limit(label))
    except InputError as exc:
        raise PlanError(exc.message) from None


def _seconds(value: float) -> str:
    return str(int(value)) if float(value).is_integer() else repr(float(value))


def plan(req: RunRequest) -> RunPlan:
    """Check ``req`` and turn it into each side's argv and environment (see the module doc for the order)."""
    mode = _mode(req)
    if req.key_exchange not in KEY_EXCHANGES:
        raise PlanError(f"unknown key exchange {req.key_exchange!r}; use 'ratls' or 'spdm'")
    if req.quote_request not in modes.QUOTE_REQUESTS:
        raise PlanError(f"unknown quote request {req.quote_request!r}; use 'direct' or 'igvm'")
    if req.operation != "migration" and not mode.rebinding:
        raise PlanError(f"rebinding with attestation mode {mode.name} is not implemented (only "
                        f"{', '.join(m.name for m in modes.MODES if m.rebinding and m.key == m.name)})")
    v2 = req.policy_version == 2
    named_policy = bool(req.policy_file or req.src_policy_file or req.dst_policy_file)
    root_ca = req.root_ca_file or str(mode.runner_root_ca())
    # 1. a policy v2 generated from the mock report data
    generate: tuple[str, ...] = ()
    policy_file, chain_file = req.policy_file, req.issuer_chain_file
    if v2 and mode.generates_policy and not named_policy and req.generate_into is not None:
        gen_policy = str(Path(req.generate_into, *GENERATED_POLICY))
        gen_chain = str(Path(req.generate_into, *GENERATED_CHAIN))
        generate = ("policy", "generate-v2", "--out", gen_policy, "--chain-out", gen_chain)
        if req.mock_quote_file and not req.collateral_file:
            raise PlanError("a policy generated from --mock-quote-file needs the collateral of the quote's platform",
                            "Set MIGTD_COLLATERAL_FILE (e.g. collateral_azure_thim.json for upstream's "
                            "az_migtd_quote.blob).")
        if req.mock_quote_file:
            _exists(req.mock_quote_file, "Mock Quote")
            generate += ("--quote", req.mock_quote_file, "--root-ca", root_ca)
        if req.collateral_file:
            generate += ("--collateral", req.collateral_file)
        policy_file, chain_file = gen_policy, gen_chain
    # 2. policy v2 needs both files named
    if v2:
        if not (policy_file or req.src_policy_file or req.dst_policy_file):
            raise PlanError("When using --policy-v2, you must explicitly specify a policy file with --policy-file",
                            V2_EXAMPLE)
        if not (chain_file or req.src_issuer_chain_file or req.dst_issuer_chain_file):
            raise PlanError("When using --policy-v2, you must specify a policy issuer chain file with "
                            "--policy-issuer-chain-file", V2_EXAMPLE)
    default_policy = str(paths.default_policy())
    policy = {"source": req.src_policy_file or policy_file or default_policy,
              "destination": req.dst_policy_file or policy_file or default_policy}
    chain = {"source": req.src_issuer_chain_file or chain_file or "",
             "destination": req.dst_issuer_chain_file or chain_file or ""}
    # 3. local inputs exist (generated files do not exist yet)
    generated = set(generate[3:6:2]) if generate else set()
    local_roles = [r for r in ROLES if r in req.roles and req.local(r)]
    if req.mock_quote_file and local_roles:
        _exists(req.mock_quote_file, "Mock Quote")
    for role in local_roles:
        label = "Source" if role == "source" else "Destination"
        if policy[role] not in generated:
            _exists(policy[role], f"{label} Policy")
    if v2:
        for role in local_roles:
            label = "Source" if role == "source" else "Destination"
            if chain[role] and chain[role] not in generated:
                _exists(chain[role], f"{label} Policy Issuer Chain")
    elif local_roles:
        _exists(root_ca, "Root CA")
    if req.init_migtd_data:
        if not v2:
            raise PlanError("--init-migtd-data needs --policy-v2 (a policy v1 MigTD rejects initMigtdData)")
        if local_roles:
            _exists(req.init_migtd_data, "Init MigTD data")
    # 4. the mode's trust files (policy v1)
    trust: dict[str, str] = {}
    for item in mode.trust_inputs(req.policy_version):
        if item.var == "MIGTD_ROOT_CA_FILE":
            continue  # passed with every policy v1 run, checked above
        value = req.collateral_file if item.var == "MIGTD_COLLATERAL_FILE" else None
        if not value and item.default is not None:
            value = str(item.default())
        if not value and item.alternative and req.collateral_source:
            continue  # fetched by migtd (MIGTD_COLLATERAL_SOURCE is in each side's environment)
        if not value:
            subject, whose = (("--mock-quote-file", "the quote's") if mode.reads_mock_quote
                              else (f"attestation mode {mode.name}", "the peers'"))
            where = NAMING.get(req.front, NAMING["console"])[item.var]
            also = f" (or fetch it: {item.alternative})" if item.alternative else ""
            raise PlanError(f"{subject} needs the {item.label.replace(' file', '')} of {whose} platform: "
                            f"name it with {where}{also}")
        if local_roles:
            _exists(value, item.label[0].upper() + item.label[1:].replace(" file", ""))
        trust[item.var] = value
    # 5. no output is an input
    inputs: list[tuple[str, str | None]] = [("policy file", p) for p in policy.values()]
    inputs += [("issuer chain file", c) for c in chain.values() if c]
    inputs += [("root CA file", root_ca), ("mock quote file", req.mock_quote_file),
               ("collateral file", req.collateral_file), ("init MigTD data file", req.init_migtd_data)]
    none: frozenset[str] = frozenset()
    outputs = [*((f"{role} log file", path, none) for role, path in req.log_files.items()),
               *((label, path, none) for label, path in req.outputs)]
    if generate:
        # A generated policy and chain are read by the run they are written for: a re-run in the same
        # folder regenerates them (as the runner always has); every other input stays protected.
        own = frozenset(generated)
        outputs += [("generated policy", generate[3], own), ("generated issuer chain", generate[5], own)]
    for label, path, exempt in outputs:
        if path:
            try:
                refuse_input_as_output(path, [(k, v) for k, v in inputs
                                              if v and not (v in exempt and k in _REGENERATED)], label)
            except ConfigError as exc:
                raise PlanError(exc.message) from None
    sides = {role: _side(req, mode, role, policy[role], chain[role], root_ca, trust) for role in req.roles}
    return RunPlan(mode, sides, generate, policy, chain, root_ca if not v2 else None, req.key_exchange,
                   req.quote_request)


def _side(req: RunRequest, mode: modes.Mode, role: str, policy: str, chain: str, root_ca: str,
          trust: Mapping[str, str]) -> SidePlan:
    argv = ["--role", role, "--request-id", str(req.request_id), "--operation", req.operation,
            "--attestation", mode.name]
    if req.policy_version != 1:
        argv += ["--policy-version", str(req.policy_version)]
    argv += ["--dest-ip", req.dest_ip, "--dest-port", str(req.dest_port), "--timeout", _seconds(req.timeout)]
    if req.log_format:
        argv += ["--log-format", req.log_format]
    if req.key_exchange != "ratls":
        argv += ["--key-exchange", req.key_exchange]
    if req.quote_request != "direct":
        argv += ["--quote-request", req.quote_request]
    env = {"MIGTD_POLICY_FILE": policy, "RUST_LOG": req.log_level or "info"}
    if req.policy_version == 2:
        env["MIGTD_POLICY_ISSUER_CHAIN_FILE"] = chain
    else:
        env["MIGTD_ROOT_CA_FILE"] = root_ca
    env.update(trust)
    if req.collateral_file:
        env["MIGTD_COLLATERAL_FILE"] = req.collateral_file
    if req.collateral_source:
        env["MIGTD_COLLATERAL_SOURCE"] = req.collateral_source
    if req.mock_quote_file:
        env["MOCK_QUOTE_FILE"] = req.mock_quote_file
    if req.quote_failures:
        env["MIGTD_QUOTE_FAILURES"] = str(req.quote_failures)
    if req.log_files.get(role):
        env["MIGTD_LOG_FILE"] = req.log_files[role]
    if req.init_migtd_data:
        env["MIGTD_INIT_MIGTD_DATA_FILE"] = req.init_migtd_data
    return SidePlan(role, tuple(argv), env)


# ---------------------------------------------------------------- migtd-tool plan

def build_parser(parser: argparse.ArgumentParser | None = None) -> argparse.ArgumentParser:
    """The ``migtd-tool plan`` flags: the runner script's, after its own parsing."""
    p = parser or argparse.ArgumentParser(prog="migtd-tool plan")
    p.add_argument("--format", choices=["sh", "json"], default="json", help="output: shell assignments or JSON")
    p.add_argument("--front", choices=sorted(NAMING), default="script", help="whose flags the messages name")
    p.add_argument("--role", action="append", choices=ROLES, help="a side to plan (repeatable; default source)")
    for mode in modes.MODES:
        if mode.key == mode.name and mode.script_flag:
            p.add_argument(mode.script_flag, dest="flag_" + mode.key.replace("-", "_"), action="store_true",
                           help=mode.summary)
    p.add_argument("--mock-quote-file", metavar="F")
    p.add_argument("--policy-version", choices=["1", "2"], default="1")
    p.add_argument("--operation", default="migration")
    p.add_argument("--request-id", default="1")
    p.add_argument("--dest-ip", default="127.0.0.1")
    p.add_argument("--dest-port", default="8001")
    for name in ("policy-file", "src-policy-file", "dst-policy-file", "policy-issuer-chain-file",
                 "src-policy-issuer-chain-file", "dst-policy-issuer-chain-file", "root-ca-file", "collateral-file"):
        p.add_argument(f"--{name}", metavar="F")
    p.add_argument("--collateral-source", metavar="SOURCE",
                   help="MIGTD_COLLATERAL_SOURCE: where migtd fetches collateral no file names")
    p.add_argument("--timeout", default=None)
    p.add_argument("--log-level", default=None)
    p.add_argument("--log-file", action="append", default=[], metavar="ROLE=PATH")
    p.add_argument("--output", action="append", default=[], metavar="LABEL=PATH",
                   help="another file the runner writes (refused if it is an input)")
    p.add_argument("--quote-failures", default="0")
    p.add_argument("--generate-into", metavar="DIR",
                   help="allow generating a policy v2 into DIR/config/AzCVMEmu (upstream's runner paths)")
    p.add_argument("--init-migtd-data", metavar="F", help="initMigtdData for both sides (MIGTD_INIT_MIGTD_DATA_FILE)")
    p.add_argument("--key-exchange", choices=list(KEY_EXCHANGES), default="ratls",
                   help="ratls, or spdm (upstream's spdm_attestation)")
    p.add_argument("--quote-request", choices=list(modes.QUOTE_REQUESTS), default="direct",
                   help="direct, or igvm (upstream's igvm-attest)")
    return p


def request_from_args(ns: argparse.Namespace) -> RunRequest:
    """The request the ``migtd-tool plan`` flags describe; bad values are PlanErrors."""
    chosen = [m for m in modes.MODES if m.key == m.name and getattr(ns, "flag_" + m.key.replace("-", "_"), False)]
    if len(chosen) > 1:
        raise PlanError(f"{chosen[-1].script_flag} and {chosen[0].script_flag} options are mutually exclusive"
                        if len(chosen) == 2 else "the attestation mode options are mutually exclusive",
                        "Use --skip-ra to bypass attestation entirely, or --mock-report to test with mock data "
                        "but full attestation flow")
    attestation = chosen[0].name if chosen else modes.DEFAULT
    if ns.mock_quote_file and attestation == modes.DEFAULT:
        attestation = modes.by_key("mock-quote-file").name
    operation = OPERATIONS.get(ns.operation.lower())
    if operation is None:
        raise PlanError(f"Operation must be 'migration', 'rebind-prepare', or 'rebind-finalize', got: {ns.operation}")
    request_id = parse_uint(ns.request_id, 64)
    port = parse_uint(ns.dest_port, 16)
    failures = parse_uint(ns.quote_failures, 32)
    timeout = parse_seconds(ns.timeout) if ns.timeout is not None else DEFAULT_TIMEOUT
    for value, what, text in ((request_id, "request ID", ns.request_id), (port, "destination port", ns.dest_port),
                              (failures, "quote failure count", ns.quote_failures),
                              (timeout, "timeout", ns.timeout)):
        if value is None:  # a value of thousands of characters is shown cut, as uint_arg shows it
            raise PlanError(f"Invalid {what}: {text if len(text) <= 24 else text[:21] + '...'}")
    log_files = dict(_pair(item, "--log-file") for item in ns.log_file)
    if not set(log_files) <= set(ROLES):
        raise PlanError(f"--log-file takes ROLE=PATH with ROLE source or destination, got: {', '.join(log_files)}")
    return RunRequest(
        roles=tuple(ns.role or ("source",)), attestation=attestation, mock_quote_file=ns.mock_quote_file,
        policy_version=int(ns.policy_version), operation=operation, request_id=request_id,  # type: ignore[arg-type]
        dest_ip=ns.dest_ip, dest_port=port, policy_file=ns.policy_file,  # type: ignore[arg-type]
        src_policy_file=ns.src_policy_file, dst_policy_file=ns.dst_policy_file,
        issuer_chain_file=ns.policy_issuer_chain_file, src_issuer_chain_file=ns.src_policy_issuer_chain_file,
        dst_issuer_chain_file=ns.dst_policy_issuer_chain_file, root_ca_file=ns.root_ca_file,
        collateral_file=ns.collateral_file, collateral_source=ns.collateral_source, timeout=timeout, log_level=ns.log_level,  # type: ignore[arg-type]
        log_files=log_files, outputs=[_pair(item, "--output") for item in ns.output],
        quote_failures=failures, generate_into=ns.generate_into, front=ns.front,  # type: ignore[arg-type]
        key_exchange=ns.key_exchange, quote_request=ns.quote_request, init_migtd_data=ns.init_migtd_data)


def _pair(item: str, flag: str) -> tuple[str, str]:
    key, sep, value = item.partition("=")
    if not sep or not key or not value:
        raise PlanError(f"{flag} takes KEY=PATH, got: {item}")
    return key, value


def as_shell(run: RunPlan, req: RunRequest) -> str:
    """The plan as bash assignments (every value quoted); arrays for argv and environments."""
    def array(name: str, values: Iterable[str]) -> str:
        return f"{name}=(" + " ".join(shlex.quote(v) for v in values) + ")"

    lines = [f"plan_attestation={shlex.quote(run.mode.name)}", f"plan_mode={shlex.quote(run.mode.key)}",
             f"plan_summary={shlex.quote(run.mode.summary)}", f"plan_needs_tpm={str(run.mode.needs_tpm).lower()}",
             f"plan_root_ca={shlex.quote(run.root_ca or '')}",
             f"plan_key_exchange={shlex.quote(run.key_exchange)}",
             f"plan_quote_request={shlex.quote(run.quote_request)}",
             array("plan_generate", run.generate), array("plan_roles", run.sides)]
    for role in ROLES:
        lines.append(f"plan_policy_{role}={shlex.quote(run.policy[role])}")
        lines.append(f"plan_chain_{role}={shlex.quote(run.issuer_chain[role])}")
        if role in run.sides:
            side = run.sides[role]
            lines.append(array(f"plan_env_{role}", (f"{k}={v}" for k, v in side.env.items())))
            lines.append(array(f"plan_args_{role}", side.argv))
    return "\n".join(lines) + "\n"


def as_json(run: RunPlan) -> str:
    """The plan as one JSON document."""
    doc: dict[str, Any] = {"attestation": run.mode.name, "mode": run.mode.key, "generate": list(run.generate),
                           "key_exchange": run.key_exchange, "quote_request": run.quote_request,
                           "sides": {r: {"argv": list(s.argv), "env": s.env} for r, s in run.sides.items()}}
    return json.dumps(doc, indent=2, sort_keys=True) + "\n"


def run_command(ns: argparse.Namespace) -> int:
    """``migtd-tool plan``: print the plan, or ``Error: …`` and hints on stderr and exit 1."""
    try:
        req = request_from_args(ns)
        result = plan(req)
    except PlanError as exc:
        for line in (f"Error: {exc.message}", *exc.hints):
            print(line, file=sys.stderr)
        return 1
    sys.stdout.write(as_shell(result, req) if ns.format == "sh" else as_json(result))
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    """``python -m migtd.plan``: the same as ``migtd-tool plan``."""
    return run_command(build_parser().parse_args(argv))


if __name__ == "__main__":
    sys.exit(main())
