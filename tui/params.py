"""Run parameters: the console's flags and the ``migtd`` command lines they imply.

Defaults mirror the upstream runner script (role ``source`` unless ``--both``,
request id 1, ``127.0.0.1:8001``, ``config/policy.json``, a 60-s timeout).
Each side's argv and environment come from the run planner
(:mod:`migtd.plan`), the one ``migtdemu.sh`` uses too, so the two runners
start the same ``migtd`` for the same request; a request the planner refuses
(a ``--mock-quote-file`` without its collateral, a missing file) is one line
and exit 1 before the console starts anything.
"""

from __future__ import annotations

import argparse
import os
import shlex
import sys
from dataclasses import asdict, dataclass, field
from typing import Any, NoReturn

from migtd import modes
from migtd.cli.args import DEFAULT_TIMEOUT
from migtd.inputs import parse_seconds, parse_uint
from migtd.plan import PlanError, RunPlan, RunRequest, plan
from tui.settings import Settings

MODES = modes.names()
#: Network phases of a migtd run, each bounded by --timeout (migtd.session, migtd.transport): connect or
#: accept, pre-session, handshake with verification, key exchange (SPDM groups its phases the same way).
PHASES = 4


@dataclass
class RunParams:
    """Everything needed to start (or re-start) one run."""

    roles: list[str] = field(default_factory=lambda: ["source"])
    attestation: str = modes.DEFAULT
    operation: str = "migration"
    request_id: int = 1
    dest_ip: str = "127.0.0.1"
    dest_port: int = 8001
    src_host: str | None = None
    dst_host: str | None = None
    policy_file: str | None = None
    src_policy_file: str | None = None
    dst_policy_file: str | None = None
    root_ca_file: str | None = None
    collateral_file: str | None = None
    #: ``MIGTD_COLLATERAL_SOURCE`` of the console's environment: where migtd fetches the collateral
    #: that no file names (azure, a captured quote).
    collateral_source: str | None = None
    policy_version: int = 1
    policy_issuer_chain_file: str | None = None
    mock_quote_file: str | None = None
    #: initMigtdData both sides' VMMs hand over (``MIGTD_INIT_MIGTD_DATA_FILE``; policy v2).
    init_migtd_data: str | None = None
    migtd: str = "migtd"
    remote_migtd: str = "migtd"
    timeout: float = DEFAULT_TIMEOUT
    log_level: str | None = None
    ssh_config: str | None = None
    ssh_options: list[str] = field(default_factory=list)
    listen_timeout: float = 15.0
    #: ``ratls`` or ``spdm`` (``--spdm``), and ``direct`` or ``igvm`` (``--igvm-attest``): see migtd --help.
    key_exchange: str = "ratls"
    quote_request: str = "direct"

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON-able form (stored with a run)."""
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> RunParams:
        """Parameters from :meth:`to_dict`'s form; unknown keys (an older record) are ignored."""
        known = {k: v for k, v in data.items() if k in cls.__dataclass_fields__}
        return cls(**known)

    @property
    def both(self) -> bool:
        """Both sides run (destination first)."""
        return len(self.roles) == 2

    def host(self, role: str) -> str | None:
        """``[user@]host`` that runs ``role``, or None for a local process."""
        return self.src_host if role == "source" else self.dst_host

    def longest_run(self) -> float:
        """How long a healthy ``migtd`` may run: each of its phases (accept or connect, pre-session,
        handshake with verification, key exchange) has ``timeout`` seconds of its own."""
        return PHASES * self.timeout

    def to_request(self) -> RunRequest:
        """The planner's request for these parameters (the console asks for JSON events)."""
        return RunRequest(
            roles=self.roles, attestation=self.attestation, mock_quote_file=self.mock_quote_file,
            policy_version=self.policy_version, operation=self.operation, request_id=self.request_id,
            dest_ip=self.dest_ip, dest_port=self.dest_port, policy_file=self.policy_file,
            src_policy_file=self.src_policy_file, dst_policy_file=self.dst_policy_file,
            issuer_chain_file=self.policy_issuer_chain_file, root_ca_file=self.root_ca_file,
            collateral_file=self.collateral_file, collateral_source=self.collateral_source,
            timeout=self.timeout, log_level=self.log_level,
            log_format="json", hosts={"source": self.src_host, "destination": self.dst_host}, front="console",
            key_exchange=self.key_exchange, quote_request=self.quote_request,
            init_migtd_data=self.init_migtd_data)

    def plan(self) -> RunPlan:
        """Each side's ``migtd`` argv and environment; :class:`PlanError` when the request cannot run."""
        return plan(self.to_request())

    def argv(self, role: str) -> list[str]:
        """Arguments after the program name for ``role``."""
        return list(self.plan().side(role).argv)

    def env(self, role: str) -> dict[str, str]:
        """Environment variables ``migtd`` needs for ``role`` (added to the parent's)."""
        return dict(self.plan().side(role).env)

    def program(self, role: str) -> str:
        """The ``migtd`` to run for ``role``: the remote one on an SSH host, else the local one."""
        return self.remote_migtd if self.host(role) else self.migtd

    def command_line(self, role: str) -> str:
        """The shell command for ``role`` (what the SSH launcher runs remotely)."""
        env = " ".join(f"{k}={shlex.quote(v)}" for k, v in sorted(self.env(role).items()))
        argv = " ".join(shlex.quote(a) for a in [self.program(role), *self.argv(role)])
        return f"env {env} {argv}"


class _Parser(argparse.ArgumentParser):
    """Bad flags: one line on stderr and exit 1 (InvalidParameter), like ``migtd``."""

    def error(self, message: str) -> NoReturn:
        self.exit(1, f"{self.prog}: {message} (see --help)\n")


def build_parser() -> argparse.ArgumentParser:
    """The ``migtd-console`` flags (see docs/console.md)."""
    p = _Parser(
        prog="migtd-console",
        description="Run MigTD source and destination (locally or over SSH) and watch the migration.")
    who = p.add_mutually_exclusive_group()
    who.add_argument("--both", action="store_true",
                     help="start the destination, wait until it listens, then the source")
    who.add_argument("--role", choices=["source", "destination"], default=None,
                     help="run one side only (default: source, like the runner script)")
    group = p.add_mutually_exclusive_group()
    for mode in modes.MODES:  # the registry names each mode's console flag
        if mode.key == mode.name and mode.console_flag:
            group.add_argument(mode.console_flag, dest=_flag_dest(mode), action="store_true", help=mode.summary)
    p.add_argument("--operation", choices=["migration", "rebind-prepare", "rebind-finalize"], default="migration",
                   help="what both sides do (default: migration; rebinding needs --policy-v2)")
    p.add_argument("--request-id", type=_u64, default=1)
    p.add_argument("--dest-ip", default="127.0.0.1")
    p.add_argument("--dest-port", type=_port, default=8001)
    p.add_argument("--src-host", metavar="[USER@]HOST", help="run the source over SSH on HOST")
    p.add_argument("--dst-host", metavar="[USER@]HOST", help="run the destination over SSH on HOST")
    p.add_argument("--policy-file", "--policy", metavar="F",
                   help="policy for both sides (default: config/policy.json); with --fleet, the policy evaluated")
    p.add_argument("--src-policy-file", "--src-policy", metavar="F")
    p.add_argument("--dst-policy-file", "--dst-policy", metavar="F")
    p.add_argument("--root-ca-file", metavar="F")
    p.add_argument("--collateral-file", metavar="F")
    p.add_argument("--policy-v2", action="store_true", help="policy v2 (needs --policy-issuer-chain-file)")
    p.add_argument("--policy-issuer-chain-file", "--issuer-chain", metavar="F")
    p.add_argument("--mock-quote-file", metavar="F", help="quote blob for mock-report (implies --mock-report)")
    p.add_argument("--spdm", action="store_true",
                   help="exchange the MSK over SPDM 1.2 instead of RA-TLS (upstream's spdm_attestation)")
    p.add_argument("--igvm-attest", action="store_true",
                   help="ask for quotes through the IGVM GetQuote buffer (upstream's igvm-attest)")
    p.add_argument("--init-migtd-data", metavar="F",
                   help="initMigtdData (the init MigTD's 512-byte TDINFO) both VMMs hand over (policy v2)")
    p.add_argument("--migtd", metavar="PATH", default=None, help="local migtd program")
    p.add_argument("--remote-migtd", metavar="PATH", default=None,
                   help="migtd program on SSH hosts (default: --migtd, else 'migtd')")
    p.add_argument("--timeout", type=_seconds, default=None,
                   help=f"deadline of each migtd protocol phase, seconds (default {DEFAULT_TIMEOUT:g})")
    p.add_argument("--log-level", choices=["trace", "debug", "info", "warn", "error"])
    p.add_argument("--ssh-config", metavar="F", help="ssh_config file passed to ssh -F")
    p.add_argument("--ssh-option", metavar="OPT", action="append", default=[],
                   help="extra 'ssh -o' option (repeatable)")
    p.add_argument("--replay", metavar="RUN", help="open a saved run (history id or JSON file) instead")
    return p


def _flag_dest(mode: modes.Mode) -> str:
    return "mode_" + mode.key.replace("-", "_")


def _u64(text: str) -> int:
    value = parse_uint(text, 64)
    if value is None:
        raise argparse.ArgumentTypeError(f"invalid request id: {text!r}")
    return value


def _seconds(text: str) -> float:
    value = parse_seconds(text)
    if value is None:
        raise argparse.ArgumentTypeError(f"invalid seconds: {text!r} (a number between 0 and 86400)")
    return value


def _port(text: str) -> int:
    value = parse_uint(text, 16)
    if value is None or value == 0:
        raise argparse.ArgumentTypeError(f"invalid port: {text!r}")
    return value


def params_from_args(ns: argparse.Namespace, default_migtd: str,
                     settings: Settings | None = None, *, check: bool = True) -> RunParams:
    """Translate parsed flags into :class:`RunParams` (flags > settings > defaults), checked by the planner.

    A request the planner refuses ends the console here: one line on stderr, exit 1. ``check=False``
    (the Fleet screen, which plans each pair when it is launched) leaves the planning for later.
    """
    conf = settings or Settings()
    if ns.both:
        roles = ["destination", "source"]
    else:
        roles = [ns.role or "source"]
    chosen = [m for m in modes.MODES if m.key == m.name and getattr(ns, _flag_dest(m), False)]
    # --mock-quote-file selects mock-report (its captured-quote variant), as in the runner script
    mode = chosen[0].name if chosen else modes.by_key("mock-quote-file").name if ns.mock_quote_file else modes.DEFAULT
    migtd = ns.migtd or conf.migtd or default_migtd
    params = RunParams(
        roles=roles, attestation=mode, operation=ns.operation, request_id=ns.request_id, dest_ip=ns.dest_ip,
        dest_port=ns.dest_port, src_host=ns.src_host, dst_host=ns.dst_host,
        policy_file=ns.policy_file, src_policy_file=ns.src_policy_file,
        dst_policy_file=ns.dst_policy_file, root_ca_file=ns.root_ca_file,
        collateral_file=ns.collateral_file, collateral_source=os.environ.get("MIGTD_COLLATERAL_SOURCE") or None,
        policy_version=2 if ns.policy_v2 or ns.operation != "migration" else 1,
        policy_issuer_chain_file=ns.policy_issuer_chain_file, mock_quote_file=ns.mock_quote_file,
        init_migtd_data=ns.init_migtd_data, migtd=migtd, remote_migtd=ns.remote_migtd or conf.remote_migtd or ns.migtd or "migtd",
        timeout=ns.timeout or conf.timeout or DEFAULT_TIMEOUT, log_level=ns.log_level or os.environ.get("RUST_LOG"),
        ssh_config=ns.ssh_config or conf.ssh_config, ssh_options=list(ns.ssh_option),
        key_exchange="spdm" if ns.spdm else "ratls", quote_request="igvm" if ns.igvm_attest else "direct")
    if check and not ns.replay:
        try:
            params.plan()
        except PlanError as exc:
            print(f"migtd-console: {exc.message}", file=sys.stderr)
            raise SystemExit(1) from None
    return params
