"""Run parameters: the console's flags and the ``migtd`` command lines they imply.

Defaults mirror the upstream runner script (role ``source`` unless ``--both``,
request id 1, ``127.0.0.1:8001``, ``config/policy.json``). Building each side's
argv and environment is pure so it is tested without starting anything.
"""

from __future__ import annotations

import argparse
import shlex
from dataclasses import asdict, dataclass, field
from typing import Any, NoReturn

from migtd import paths
from tui.settings import Settings

MODES = ("azure", "mock-report", "skip-ra")


@dataclass
class RunParams:
    """Everything needed to start (or re-start) one run."""

    roles: list[str] = field(default_factory=lambda: ["source"])
    attestation: str = "azure"
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
    policy_version: int = 1
    policy_issuer_chain_file: str | None = None
    mock_quote_file: str | None = None
    migtd: str = "migtd"
    remote_migtd: str = "migtd"
    timeout: float = 30.0
    log_level: str | None = None
    ssh_config: str | None = None
    ssh_options: list[str] = field(default_factory=list)
    listen_timeout: float = 15.0

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON-able form (stored with a run)."""
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> "RunParams":
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

    def policy_for(self, role: str) -> str:
        """``MIGTD_POLICY_FILE`` for ``role``: its own file, else the shared one, else the default."""
        specific = self.src_policy_file if role == "source" else self.dst_policy_file
        return specific or self.policy_file or str(paths.default_policy())

    def root_ca(self) -> str:
        """``MIGTD_ROOT_CA_FILE``: the given file, else Intel's (azure) or the mock root CA."""
        if self.root_ca_file:
            return self.root_ca_file
        if self.attestation == "azure":
            return str(paths.intel_root_ca())
        return str(paths.mock_root_ca())

    def argv(self, role: str) -> list[str]:
        """Arguments after the program name for ``role``."""
        args = ["--role", role, "--request-id", str(self.request_id),
                "--dest-ip", self.dest_ip, "--dest-port", str(self.dest_port),
                "--attestation", self.attestation, "--log-format", "json",
                "--timeout", _num(self.timeout)]
        if self.policy_version != 1:
            args += ["--policy-version", str(self.policy_version)]
        return args

    def env(self, role: str) -> dict[str, str]:
        """Environment variables ``migtd`` needs for ``role`` (added to the parent's)."""
        env = {"MIGTD_POLICY_FILE": self.policy_for(role)}  # --log-format json is in argv()
        if self.policy_version == 1:
            env["MIGTD_ROOT_CA_FILE"] = self.root_ca()
        elif self.policy_issuer_chain_file:
            env["MIGTD_POLICY_ISSUER_CHAIN_FILE"] = self.policy_issuer_chain_file
        if self.collateral_file:
            env["MIGTD_COLLATERAL_FILE"] = self.collateral_file
        elif self.attestation == "mock-report":
            env["MIGTD_COLLATERAL_FILE"] = str(paths.mock_collateral())
        if self.mock_quote_file:
            env["MOCK_QUOTE_FILE"] = self.mock_quote_file
        if self.log_level:
            env["RUST_LOG"] = self.log_level
        return env

    def program(self, role: str) -> str:
        """The ``migtd`` to run for ``role``: the remote one on an SSH host, else the local one."""
        return self.remote_migtd if self.host(role) else self.migtd

    def command_line(self, role: str) -> str:
        """The shell command for ``role`` (what the SSH launcher runs remotely)."""
        env = " ".join(f"{k}={shlex.quote(v)}" for k, v in sorted(self.env(role).items()))
        argv = " ".join(shlex.quote(a) for a in [self.program(role), *self.argv(role)])
        return f"env {env} {argv}"


def _num(value: float) -> str:
    return str(int(value)) if float(value).is_integer() else str(value)


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
    mode = p.add_mutually_exclusive_group()
    mode.add_argument("--skip-ra", action="store_true", help="no attestation (accept all; NOT ATTESTED)")
    mode.add_argument("--mock-report", action="store_true",
                      help="full attestation against the project's mock PKI")
    p.add_argument("--request-id", type=_u64, default=1)
    p.add_argument("--dest-ip", default="127.0.0.1")
    p.add_argument("--dest-port", type=_port, default=8001)
    p.add_argument("--src-host", metavar="[USER@]HOST", help="run the source over SSH on HOST")
    p.add_argument("--dst-host", metavar="[USER@]HOST", help="run the destination over SSH on HOST")
    p.add_argument("--policy-file", metavar="F", help="policy for both sides (default: config/policy.json)")
    p.add_argument("--src-policy-file", metavar="F")
    p.add_argument("--dst-policy-file", metavar="F")
    p.add_argument("--root-ca-file", metavar="F")
    p.add_argument("--collateral-file", metavar="F")
    p.add_argument("--policy-v2", action="store_true", help="policy v2 (needs --policy-issuer-chain-file)")
    p.add_argument("--policy-issuer-chain-file", metavar="F")
    p.add_argument("--mock-quote-file", metavar="F", help="quote blob for mock-report (implies --mock-report)")
    p.add_argument("--migtd", metavar="PATH", default=None, help="local migtd program")
    p.add_argument("--remote-migtd", metavar="PATH", default=None,
                   help="migtd program on SSH hosts (default: --migtd, else 'migtd')")
    p.add_argument("--timeout", type=_seconds, default=None,
                   help="migtd network timeout, seconds (default 30)")
    p.add_argument("--log-level", choices=["trace", "debug", "info", "warn", "error"])
    p.add_argument("--ssh-config", metavar="F", help="ssh_config file passed to ssh -F")
    p.add_argument("--ssh-option", metavar="OPT", action="append", default=[],
                   help="extra 'ssh -o' option (repeatable)")
    p.add_argument("--replay", metavar="RUN", help="open a saved run (history id or JSON file) instead")
    return p


def _decimal(text: str, what: str) -> int:
    try:
        return int(text, 10)
    except ValueError:
        raise argparse.ArgumentTypeError(f"invalid {what}: {text!r}") from None


def _u64(text: str) -> int:
    value = _decimal(text, "request id")
    if not 0 <= value < 2**64:
        raise argparse.ArgumentTypeError(f"request id out of range: {text}")
    return value


def _seconds(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"invalid seconds: {text!r}") from None
    if not 0 < value < 86400:
        raise argparse.ArgumentTypeError(f"timeout out of range: {text}")
    return value


def _port(text: str) -> int:
    value = _decimal(text, "port")
    if not 0 < value < 65536:
        raise argparse.ArgumentTypeError(f"invalid port: {text}")
    return value


def params_from_args(ns: argparse.Namespace, default_migtd: str,
                     settings: Settings | None = None) -> RunParams:
    """Translate parsed flags into :class:`RunParams` (flags > settings > defaults)."""
    conf = settings or Settings()
    if ns.both:
        roles = ["destination", "source"]
    else:
        roles = [ns.role or "source"]
    if ns.skip_ra:
        mode = "skip-ra"
    elif ns.mock_report or ns.mock_quote_file:
        mode = "mock-report"
    else:
        mode = "azure"
    migtd = ns.migtd or conf.migtd or default_migtd
    return RunParams(
        roles=roles, attestation=mode, request_id=ns.request_id, dest_ip=ns.dest_ip,
        dest_port=ns.dest_port, src_host=ns.src_host, dst_host=ns.dst_host,
        policy_file=ns.policy_file, src_policy_file=ns.src_policy_file,
        dst_policy_file=ns.dst_policy_file, root_ca_file=ns.root_ca_file,
        collateral_file=ns.collateral_file, policy_version=2 if ns.policy_v2 else 1,
        policy_issuer_chain_file=ns.policy_issuer_chain_file, mock_quote_file=ns.mock_quote_file,
        migtd=migtd, remote_migtd=ns.remote_migtd or conf.remote_migtd or ns.migtd or "migtd",
        timeout=ns.timeout or conf.timeout or 30.0, log_level=ns.log_level,
        ssh_config=ns.ssh_config or conf.ssh_config, ssh_options=list(ns.ssh_option))
