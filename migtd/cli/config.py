"""Configuration loading: the environment and the files, checked before any network (protocol.md §1.4).

Three stages, in the order :mod:`migtd.cli.runtime` calls them:

1. :func:`merge_env` fills the MigTD-Py options left unset from their
   environment twins (``MIGTD_ATTESTATION`` …), then the defaults;
2. :func:`input_paths` lists every file the run will read, so that
   ``MIGTD_LOG_FILE`` can be refused when it names one of them;
3. :func:`load` applies upstream's §1.4 checks in upstream's order (presence
   first, with the usage, then loading), reads every file through
   :mod:`migtd.inputs` with upstream's size limits, and makes the checks
   upstream only makes mid-run ("Earlier checks" in the README): a
   ``MOCK_QUOTE_FILE`` that is not a quote, a migration-version range that
   does not fit the u16 wire field, rebinding without policy v2 or in a
   mode that has none, bad emulation settings, initMigtdData
   (``--init-migtd-data``) that is not 512 bytes or comes without policy v2.
   All of them exit 1.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from typing import TYPE_CHECKING

from migtd import modes, paths
from migtd.cli.args import DEFAULT_TIMEOUT, EXTENSIONS, CliExit, Options
from migtd.errors import ConfigError
from migtd.inputs import read_input

if TYPE_CHECKING:
    from migtd.events import EventLog

#: Upstream's firmware-volume limits (protocol.md §1.4).
POLICY_MAX = 1024 * 1024
ROOT_CA_MAX = 4096
ISSUER_CHAIN_MAX = 8192
#: A TD quote is about 5 KB; upstream has no limit of its own.
MOCK_QUOTE_MAX = 1024 * 1024

#: The default of each MigTD-Py option (:data:`~migtd.cli.args.EXTENSIONS`) when neither it nor its twin is set.
DEFAULTS = {"attestation": modes.DEFAULT, "policy_version": 1, "log_format": "text", "timeout": DEFAULT_TIMEOUT,
            "key_exchange": "ratls", "quote_request": "direct"}

#: Environment variables naming the run's own files, with how messages name them.
FILE_VARS = (("MIGTD_POLICY_FILE", "policy file"), ("MIGTD_ROOT_CA_FILE", "root CA file"),
             ("MIGTD_POLICY_ISSUER_CHAIN_FILE", "issuer chain file"),
             ("MIGTD_COLLATERAL_FILE", "collateral file"), ("MOCK_QUOTE_FILE", "mock quote file"))


def merge_env(opts: Options, env: Mapping[str, str]) -> Options:
    """Fill the MigTD-Py options left unset from their environment twins, then defaults."""
    from migtd.emu import init_data

    for ext in EXTENSIONS:
        if getattr(opts, ext.attr) is None:
            value = env.get(ext.env)
            setattr(opts, ext.attr, ext.parse(value, f"{ext.env} value") if value else DEFAULTS[ext.attr])
    if opts.init_migtd_data is None:
        opts.init_migtd_data = env.get(init_data.ENV_VAR) or None
    return opts


def mode_of(opts: Options, env: Mapping[str, str]) -> modes.Mode:
    """The attestation mode of this run (the variant the environment selects)."""
    assert opts.attestation is not None
    return modes.resolve(opts.attestation, env)


def input_paths(opts: Options, env: Mapping[str, str]) -> list[tuple[str, str | os.PathLike[str]]]:
    """Every file this run reads, as ``(label, path)``: no output may be one of them."""
    found: list[tuple[str, str | os.PathLike[str]]] = [(label, env[var]) for var, label in FILE_VARS
                                                       if env.get(var)]
    if opts.init_migtd_data:
        found.append(("init MigTD data file", opts.init_migtd_data))
    mode = mode_of(opts, env)
    found += mode.input_files(opts.policy_version or 1, env)
    if opts.quote_request == "igvm":
        found += mode.igvm_input_files(env)
    return found


class LoadedFiles:
    """The configuration files' bytes, read once at start-up (root CA for v1, issuer chain for v2)."""

    __slots__ = ("issuer_chain", "policy", "policy_path", "root_ca")

    def __init__(self, policy_path: str, policy: bytes, root_ca: bytes = b"", issuer_chain: bytes = b"") -> None:
        self.policy_path = policy_path
        self.policy = policy
        self.root_ca = root_ca
        self.issuer_chain = issuer_chain


def _required_path(env: Mapping[str, str], var: str, label: str, default: object = None) -> str:
    path = env.get(var) or (str(default) if default is not None else "")
    if not path:
        raise CliExit(1, f"{var} environment variable not set", usage=True)
    if not os.path.exists(path):
        raise CliExit(1, f"{label} file not found: {path}", usage=True)
    return path


def read_config_file(path: str, what: str, limit: int) -> bytes:
    """A regular, non-empty file of at most ``limit`` bytes (upstream's FV buffer rule)."""
    try:
        return read_input(path, what, limit=limit)
    except ConfigError as exc:
        raise ConfigError(f"Failed to initialize file-based emulation: {exc.message}") from None


def load_files(opts: Options, env: Mapping[str, str], log: EventLog) -> LoadedFiles:
    """§1.4 checks, in upstream's order: presence first (with usage), then loading."""
    policy_path = _required_path(env, "MIGTD_POLICY_FILE", "Policy")
    log.info(f"MIGTD_POLICY_FILE set to: {policy_path}")
    root_path = chain_path = None
    if opts.policy_version == 2:
        chain_path = env.get("MIGTD_POLICY_ISSUER_CHAIN_FILE")
        if not chain_path:
            raise ConfigError("MIGTD_POLICY_ISSUER_CHAIN_FILE environment variable not set")
        if not os.path.exists(chain_path):
            raise CliExit(1, f"Policy issuer chain file not found: {chain_path}", usage=True)
        log.info(f"MIGTD_POLICY_ISSUER_CHAIN_FILE set to: {chain_path}")
    else:
        root_path = _required_path(env, "MIGTD_ROOT_CA_FILE", "Root CA",
                                   paths.default_root_ca(opts.attestation or ""))
        log.info(f"MIGTD_ROOT_CA_FILE set to: {root_path}" if env.get("MIGTD_ROOT_CA_FILE")
                 else f"MIGTD_ROOT_CA_FILE not set; using the shipped Intel SGX root CA: {root_path}")
    files = LoadedFiles(policy_path, read_config_file(policy_path, "policy file", POLICY_MAX))
    if root_path:
        files.root_ca = read_config_file(root_path, "root CA file", ROOT_CA_MAX)
    if chain_path:
        files.issuer_chain = read_config_file(chain_path, "issuer chain file", ISSUER_CHAIN_MAX)
    return files


def check_mock_quote(mode: modes.Mode, env: Mapping[str, str], log: EventLog) -> None:
    """``MOCK_QUOTE_FILE``, where the mode reads it, must be a TD quote a report can be derived from.

    Upstream finds out only when it first generates a report (and then aborts
    or sends an empty quote); we parse it once here and exit 1.
    """
    path = env.get("MOCK_QUOTE_FILE")
    if not path or not mode.reads_mock_quote:
        return
    from migtd.attest.quote import td_report_from_quote
    from migtd.errors import FormatError

    data = read_config_file(path, "MOCK_QUOTE_FILE", MOCK_QUOTE_MAX)
    try:
        td_report_from_quote(data)
    except FormatError as exc:
        raise ConfigError(f"MOCK_QUOTE_FILE {path} is not a TD quote: {exc.message}") from None
    log.info(f"MOCK_QUOTE_FILE set to: {path}")


def check_operation(opts: Options, mode: modes.Mode) -> None:
    """Rebinding needs policy v2 (protocol.md §7) and a mode that implements it."""
    if opts.operation == "migration":
        return
    if opts.policy_version != 2:
        raise ConfigError(f"{opts.operation} needs --policy-version 2 (rebinding exists only with policy v2)")
    if not mode.rebinding:
        raise ConfigError(f"rebinding with attestation mode {mode.name} is not implemented")


def load_init_data(opts: Options, log: EventLog) -> bytes | None:
    """initMigtdData for the emulated VMM: 512 bytes, and only for a policy-v2 MigTD.

    A policy-v1 MigTD rejects a start request that carries it (upstream:
    ``has_init_data`` must be 0 without ``policy_v2``, InvalidParameter), so
    that is refused here, before any network, like a malformed file.
    """
    from migtd.emu import init_data

    if not opts.init_migtd_data:
        return None
    if opts.policy_version != 2:
        raise ConfigError("--init-migtd-data needs --policy-version 2 (a policy v1 MigTD rejects a start "
                          "request carrying initMigtdData)")
    data = init_data.load(opts.init_migtd_data)
    log.info(f"{init_data.ENV_VAR} set to: {opts.init_migtd_data} ({init_data.describe(data)})")
    return data


def check_trust_inputs(opts: Options, mode: modes.Mode, env: Mapping[str, str]) -> None:
    """The trust files the mode needs must be named (their contents are read when the verifier is built)."""
    modes.resolve_trust(mode.trust_inputs(opts.policy_version or 1), env)


class Emulation:
    """What the emulated TDX module and VMM are told by the environment (MIGTD_EMU_*, MIGTD_QUOTE_FAILURES)."""

    __slots__ = ("msk", "quote_failures", "version_range")

    def __init__(self, msk: bytes, version_range: tuple[int, int], quote_failures: int) -> None:
        self.msk = msk
        self.version_range = version_range
        self.quote_failures = quote_failures


def emulation_from_env(env: Mapping[str, str]) -> Emulation:
    """Parse the emulation settings now, so a bad one is exit 1 before any network."""
    from migtd.emu.quote_retry import quote_failures_from_env
    from migtd.emu.tdcs import msk_from_env, version_range_from_env

    return Emulation(msk_from_env(env), version_range_from_env(env), quote_failures_from_env(env))


class RunConfig:
    """Everything checked before the network: options, mode, files, emulation settings, environment."""

    __slots__ = ("emulation", "env", "files", "init_migtd_data", "mode", "opts")

    def __init__(self, opts: Options, mode: modes.Mode, files: LoadedFiles, emulation: Emulation,
                 env: Mapping[str, str], init_migtd_data: bytes | None = None) -> None:
        self.opts = opts
        self.mode = mode
        self.files = files
        self.emulation = emulation
        self.env = env
        #: initMigtdData the emulated VMM appends to the start request (None: has_init_data = 0).
        self.init_migtd_data = init_migtd_data

    @property
    def timeout(self) -> float:
        """``--timeout``: the deadline of each protocol phase."""
        return self.opts.timeout or DEFAULT_TIMEOUT


def load(opts: Options, env: Mapping[str, str], log: EventLog) -> RunConfig:
    """Every check that needs no network, in upstream's order where upstream has one."""
    if not opts.dest_ip:
        raise ConfigError("Failed to initialize TCP emulation: IP address cannot be empty")
    files = load_files(opts, env, log)
    mode = mode_of(opts, env)
    check_mock_quote(mode, env, log)
    log.info("File-based emulation initialized with real file access")
    check_operation(opts, mode)
    init_migtd_data = load_init_data(opts, log)
    check_trust_inputs(opts, mode, env)
    return RunConfig(opts, mode, files, emulation_from_env(env), env, init_migtd_data)
