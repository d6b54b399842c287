"""``migtd``: one Migration TD in AzCVMEmu mode, flag-for-flag with upstream.

The scanner below reproduces upstream's hand-written argument loop (§1.2):
options are matched left to right, an option lacking its value falls through
to "Unknown argument", later occurrences win, a bad value prints one line and
the usage and exits 1, unknown arguments print the usage and exit 0. We add
``--attestation``, ``--policy-version``, ``--log-format``, ``--timeout`` and
``--version``, each with an environment twin, and, unlike upstream, check
environment and files *before* touching the network.

The process exit status is the MigrationResult of the outcome. This module
stays cheap to import: asyncio, OpenSSL and cryptography load only when a
migration actually runs.
"""

from __future__ import annotations

import os
import stat
import sys
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

import migtd
from migtd.errors import ConfigError, MigtdError
from migtd.events import EventLog, parse_level
from migtd.result import MigrationResult

if TYPE_CHECKING:  # heavy modules load only when a run actually starts
    from migtd.emu.quote_provider import QuoteProvider
    from migtd.emu.quote_retry import FailureInjector
    from migtd.emu.tdcs import FieldStore
    from migtd.session import SessionConfig
    from migtd.verdict import PeerVerifier

USAGE = """\
MigTD AzCVMEmu Mode Usage:
  migtd [OPTIONS]

Runs one Migration TD (source or destination) with the TDX services emulated:
requests come from an in-process VMM queue and the peer is reached over TCP.

Required Environment Variables:
  MIGTD_POLICY_FILE               migration policy file
  MIGTD_ROOT_CA_FILE              root CA certificate (DER) for quote verification
                                  (not used with --policy-version 2)
  MIGTD_POLICY_ISSUER_CHAIN_FILE  policy issuer certificate chain (--policy-version 2 only)
  For --attestation azure the vTPM (/dev/tpmrm0) may need root access.

Optional Environment Variables:
  MIGTD_LOG_FILE                  also write every log line to this file
  MOCK_QUOTE_FILE                 raw quote used instead of the mock QE's (mock-report);
                                  with skip-ra only the TD report is derived from it
  MIGTD_COLLATERAL_FILE           collateral JSON for quote verification (policy v1); mock-report
                                  defaults to config/mock, MOCK_QUOTE_FILE and azure need it
  RUST_LOG                        log level: error, warn, info (default), debug, trace
  MIGTD_ATTESTATION, MIGTD_POLICY_VERSION, MIGTD_LOG_FORMAT, MIGTD_TIMEOUT
                                  defaults for the options of the same name
  MIGTD_EMU_MSK=zero              use upstream's all-zero migration key (default: random)
  MIGTD_EMU_MIG_VERSION=MIN-MAX   emulated migration version range (default 0-0)
  MIGTD_QUOTE_FAILURES=N          fail the first N quote requests (retry testing)
  MIGTD_CONFIG_DIR                folder holding mock/ (the mock QE keys, root CA and
                                  collateral of mock-report; default: config/ beside the package)

Environment Variables for --attestation azure:
  TSS2_TCTI                       the TPM to use (default: device:/dev/tpmrm0; e.g.
                                  swtpm:host=127.0.0.1,port=2321)
  MIGTD_IMDS_URL                  quote endpoint (default: http://169.254.169.254/acc/tdquote)
  MIGTD_VTPM_SETTLE=SECONDS       longest wait for the paravisor to refresh the TD report
                                  after the report data is written (default: 3)
  TSS2_LOG                        TSS library logging (default: all+NONE, i.e. silent)

Command Line Options:
  -r, --request-id ID             migration request ID (decimal, default: 1)
  -m, --role ROLE                 source|src or destination|dst|target (default: source)
  -o, --operation OP              migration|mig, rebind-prepare|rp, rebind-finalize|rf
                                  (default: migration)
  -u, --uuid U1 U2 U3 U4          target TD UUID as four 32-bit integers (default: 1 2 3 4)
  -b, --binding HANDLE            binding handle, decimal or 0x-hex (default: 0x1234)
  -d, --dest-ip IP                destination IP: bind address (destination) or
                                  address to connect to (source) (default: 127.0.0.1)
  -t, --dest-port PORT            destination TCP port (default: 8001)
  -h, --help                      show this help

MigTD-Py Options:
  --attestation MODE              azure (default), mock-report or skip-ra
  --policy-version 1|2            migration policy format (default: 1)
  --log-format text|json          log lines or JSON events on stderr (default: text)
  --timeout SECONDS               bound on every network wait (default: 60)
  --version                       print the version and exit

Examples:
  export MIGTD_POLICY_FILE=config/policy.json
  export MIGTD_ROOT_CA_FILE=config/Intel_SGX_Provisioning_Certification_RootCA.cer

  Migration (EnableLogArea and GetTDReport are queued automatically):
    migtd --role destination --request-id 42 --dest-port 8001
    migtd --role source --request-id 42 --dest-ip 127.0.0.1 --dest-port 8001

  Rebinding (needs --policy-version 2; MigTD-Py supports it with skip-ra and mock-report):
    migtd -m dst -o rebind-prepare -r 7 -u 1 2 3 4 -b 0x1234 --policy-version 2
    migtd -m src -o rebind-prepare -r 7 -u 1 2 3 4 -b 0x1234 --policy-version 2

  Without attestation (testing only):
    migtd --attestation skip-ra -m dst & migtd --attestation skip-ra -m src
"""

POLICY_MAX = 1024 * 1024
ROOT_CA_MAX = 4096
ISSUER_CHAIN_MAX = 8192
DEFAULT_TIMEOUT = 60.0

ATTESTATION_MODES = {"azure": "azure", "mock-report": "mock-report", "mock_report": "mock-report",
                     "skip-ra": "skip-ra", "skip_ra": "skip-ra"}
ROLES = {"source": True, "src": True, "destination": False, "dst": False, "target": False}
OPERATIONS = {"migration": "migration", "mig": "migration",
              "rebind-prepare": "rebind-prepare", "rebind_prepare": "rebind-prepare", "rp": "rebind-prepare",
              "rebind-finalize": "rebind-finalize", "rebind_finalize": "rebind-finalize",
              "rf": "rebind-finalize"}


class CliExit(Exception):
    """Stop now: print ``stdout`` lines (and the usage if asked) and exit with ``code``."""

    def __init__(self, code: int, *lines: str, usage: bool = False) -> None:
        super().__init__(code)
        self.code = code
        self.lines = lines
        self.usage = usage


@dataclass
class Options:
    """The command line after scanning (values not yet merged with the environment)."""

    request_id: int = 1
    is_source: bool = True
    operation: str = "migration"
    uuid: tuple[int, int, int, int] = (1, 2, 3, 4)
    binding: int = 0x1234
    dest_ip: str = "127.0.0.1"
    dest_port: int = 8001
    attestation: str | None = None
    policy_version: int | None = None
    log_format: str | None = None
    timeout: float | None = None

    @property
    def role(self) -> str:
        """``source`` or ``destination``, as the events spell it."""
        return "source" if self.is_source else "destination"


def rust_uint(text: str, bits: int, radix: int = 10) -> int | None:
    """Rust's unsigned ``from_str``: optional one '+', digits of ``radix``, in range."""
    body = text[1:] if text.startswith("+") else text
    digits = "0123456789" if radix == 10 else "0123456789abcdefABCDEF"
    if not body or any(c not in digits for c in body):
        return None
    value = int(body, radix)
    return value if value < 1 << bits else None


def parse_args(argv: Sequence[str]) -> Options:
    """Scan ``argv`` (without the program name) the way upstream does."""
    opts = Options()
    help_requested = False
    i = 0
    n = len(argv)
    while i < n:
        arg = argv[i]
        has_value = i + 1 < n
        if arg in ("-r", "--request-id") and has_value:
            value = rust_uint(argv[i + 1], 64)
            if value is None:
                raise CliExit(1, f"Invalid request ID value: {argv[i + 1]}", usage=True)
            opts.request_id = value
            i += 2
        elif arg in ("-m", "--role") and has_value:
            role = ROLES.get(argv[i + 1].lower())
            if role is None:
                raise CliExit(1, f"Invalid role value: {argv[i + 1]}. Use 'source' or 'destination'", usage=True)
            opts.is_source = role
            i += 2
        elif arg in ("-o", "--operation") and has_value:
            op = OPERATIONS.get(argv[i + 1].lower())
            if op is None:
                raise CliExit(1, f"Invalid operation: {argv[i + 1]}. Use 'migration', 'rebind-prepare', "
                                 "or 'rebind-finalize'", usage=True)
            opts.operation = op
            i += 2
        elif arg in ("-u", "--uuid") and i + 4 < n:
            words = [rust_uint(w, 32) for w in argv[i + 1:i + 5]]
            if any(w is None for w in words):
                raise CliExit(1, "Invalid UUID values. Expected 4 unsigned integers", usage=True)
            opts.uuid = tuple(words)  # type: ignore[assignment]
            i += 5
        elif arg in ("-b", "--binding") and has_value:
            text = argv[i + 1]
            value = (rust_uint(text[2:], 64, 16) if text[:2] in ("0x", "0X") else rust_uint(text, 64))
            if value is None:
                raise CliExit(1, f"Invalid binding handle value: {text}", usage=True)
            opts.binding = value
            i += 2
        elif arg in ("-d", "--dest-ip") and has_value:
            opts.dest_ip = argv[i + 1]
            i += 2
        elif arg in ("-t", "--dest-port") and has_value:
            value = rust_uint(argv[i + 1], 16)
            if value is None:
                raise CliExit(1, f"Invalid destination port value: {argv[i + 1]}", usage=True)
            opts.dest_port = value
            i += 2
        elif arg == "--attestation" and has_value:
            opts.attestation = _attestation(argv[i + 1], "attestation mode")
            i += 2
        elif arg == "--policy-version" and has_value:
            opts.policy_version = _policy_version(argv[i + 1], "policy version")
            i += 2
        elif arg == "--log-format" and has_value:
            opts.log_format = _log_format(argv[i + 1], "log format")
            i += 2
        elif arg == "--timeout" and has_value:
            opts.timeout = _timeout(argv[i + 1], "timeout")
            i += 2
        elif arg in ("-h", "--help"):
            help_requested = True  # like upstream: keep scanning, a bad value still exits 1
            i += 1
        elif arg == "--version":
            raise CliExit(0, f"migtd {migtd.__version__} (MigTD-Py; upstream MigTD {migtd.UPSTREAM_VERSION} "
                             "AzCVMEmu compatible)")
        else:
            _say(f"Unknown argument: {arg}")
            help_requested = True
            i += 1
    if help_requested:
        raise CliExit(0, usage=True)
    return opts


def _attestation(text: str, what: str) -> str:
    mode = ATTESTATION_MODES.get(text.strip().lower())
    if mode is None:
        raise CliExit(1, f"Invalid {what}: {text}. Use 'azure', 'mock-report' or 'skip-ra'", usage=True)
    return mode


def _policy_version(text: str, what: str) -> int:
    if text.strip() not in ("1", "2"):
        raise CliExit(1, f"Invalid {what}: {text}. Use 1 or 2", usage=True)
    return int(text)


def _log_format(text: str, what: str) -> str:
    if text.strip().lower() not in ("text", "json"):
        raise CliExit(1, f"Invalid {what}: {text}. Use 'text' or 'json'", usage=True)
    return text.strip().lower()


def _timeout(text: str, what: str) -> float:
    try:
        value = float(text)
    except ValueError:
        value = -1.0
    if not 0 < value <= 86400:  # also refuses nan and inf
        raise CliExit(1, f"Invalid {what}: {text}. Use a number of seconds between 0 and 86400", usage=True)
    return value


def merge_env(opts: Options, env: Mapping[str, str]) -> Options:
    """Fill the MigTD-Py options left unset from their environment twins, then defaults."""
    twins = (("attestation", "MIGTD_ATTESTATION", _attestation, "azure"),
             ("policy_version", "MIGTD_POLICY_VERSION", _policy_version, 1),
             ("log_format", "MIGTD_LOG_FORMAT", _log_format, "text"),
             ("timeout", "MIGTD_TIMEOUT", _timeout, DEFAULT_TIMEOUT))
    for attr, var, parse, default in twins:
        if getattr(opts, attr) is None:
            setattr(opts, attr, parse(env[var], f"{var} value") if env.get(var) else default)
    return opts


@dataclass
class LoadedFiles:
    """The configuration files' bytes, read once at start-up (root CA for v1, issuer chain for v2)."""

    policy_path: str
    policy: bytes
    root_ca: bytes = b""
    issuer_chain: bytes = b""


def _required_path(env: Mapping[str, str], var: str, label: str) -> str:
    path = env.get(var)
    if not path:
        raise CliExit(1, f"{var} environment variable not set", usage=True)
    if not os.path.exists(path):
        raise CliExit(1, f"{label} file not found: {path}", usage=True)
    return path


def read_config_file(path: str, what: str, limit: int) -> bytes:
    """A regular, non-empty file of at most ``limit`` bytes (upstream's FV buffer rule)."""
    problem = None
    try:
        st = os.stat(path)
        if not stat.S_ISREG(st.st_mode):
            problem = "is not a regular file"
        elif st.st_size == 0:
            problem = "is empty"
        elif st.st_size > limit:
            problem = f"is {st.st_size} bytes, above the {limit}-byte limit"
        else:
            with open(path, "rb") as f:
                data = f.read(limit + 1)
            if not data or len(data) > limit:
                problem = "changed while being read"
            else:
                return data
    except OSError as exc:
        problem = f"cannot be read ({exc.strerror or exc})"
    raise ConfigError(f"Failed to initialize file-based emulation: {what} {path} {problem}")


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
        root_path = _required_path(env, "MIGTD_ROOT_CA_FILE", "Root CA")
        log.info(f"MIGTD_ROOT_CA_FILE set to: {root_path}")
    files = LoadedFiles(policy_path, read_config_file(policy_path, "policy file", POLICY_MAX))
    if root_path:
        files.root_ca = read_config_file(root_path, "root CA file", ROOT_CA_MAX)
    if chain_path:
        files.issuer_chain = read_config_file(chain_path, "issuer chain file", ISSUER_CHAIN_MAX)
    mock_quote = env.get("MOCK_QUOTE_FILE")
    if mock_quote:
        read_config_file(mock_quote, "MOCK_QUOTE_FILE", 1 << 20)
        log.info(f"MOCK_QUOTE_FILE set to: {mock_quote}")
    log.info("File-based emulation initialized with real file access")
    return files


def _print_exit(exc: CliExit) -> None:
    _say(*exc.lines, *([USAGE.rstrip("\n")] if exc.usage else []))


def _say(*lines: str) -> None:
    """Print to stdout like upstream, surviving a closed or broken stdout (no traceback)."""
    out = sys.stdout
    if out is None:
        return
    try:
        for line in lines:
            out.write(line + "\n")
        out.flush()
    except (BrokenPipeError, ValueError, OSError):
        # The reader went away; point stdout at /dev/null so the interpreter's
        # final flush does not complain either.
        try:
            sys.stdout = open(os.devnull, "w", encoding="utf-8")  # noqa: SIM115 - lives until exit
        except OSError:
            sys.stdout = None  # type: ignore[assignment]


class _Stop(BaseException):
    """SIGTERM/SIGHUP arrived outside the event loop (set-up or shutdown)."""


def _raise_stop(signum: int, frame: object) -> None:
    import signal

    raise _Stop(signal.Signals(signum).name)


def _install_stop_handlers() -> dict[int, object]:
    """Turn SIGTERM/SIGHUP into a logged, clean exit while no event loop owns them."""
    import signal

    previous = {}
    for sig in (signal.SIGTERM, signal.SIGHUP):
        previous[sig] = signal.signal(sig, _raise_stop)
    return previous


def _restore_handlers(previous: dict[int, object]) -> None:
    import signal

    for sig, handler in previous.items():
        signal.signal(sig, handler)  # type: ignore[arg-type]


def main(argv: Sequence[str] | None = None, env: Mapping[str, str] | None = None) -> int:
    """Entry point: returns the exit status; never lets a traceback out."""
    previous = _install_stop_handlers()
    try:
        return _main(argv, env)
    except _Stop:  # a second signal while writing the final records
        return int(MigrationResult.NetworkError)
    finally:
        _restore_handlers(previous)


def _main(argv: Sequence[str] | None, env: Mapping[str, str] | None) -> int:
    args = list(sys.argv[1:] if argv is None else argv)
    environ = dict(os.environ if env is None else env)
    try:
        opts = merge_env(parse_args(args), environ)
    except CliExit as exc:
        _print_exit(exc)
        return exc.code
    try:
        # With stderr closed (`2>&-`) the run still happens; only the file tee, if any, sees the log.
        stream = sys.stderr if sys.stderr is not None else open(os.devnull, "w", encoding="utf-8")  # noqa: SIM115
        log = EventLog(opts.role, opts.request_id, fmt=opts.log_format or "text", stream=stream,
                       level=parse_level(environ.get("RUST_LOG")), tee_path=environ.get("MIGTD_LOG_FILE") or None)
    except OSError as exc:
        _say(f"Cannot open MIGTD_LOG_FILE {environ.get('MIGTD_LOG_FILE')}: {exc.strerror or exc}")
        return 1
    code, reason = _run_logged(opts, environ, log)
    _install_stop_handlers()  # _serve's remove_signal_handler reset them to the defaults
    name, _ = MigrationResult.describe(code)
    log.emit("exit", f"MigTD exiting with {code} ({name})" + (f": {reason}" if reason else ""),
             "info" if code == 0 else "error", code=code, result=name, reason=reason)
    log.close()
    return code


def _run_logged(opts: Options, env: Mapping[str, str], log: EventLog) -> tuple[int, str]:
    """Everything after flag parsing; returns (exit code, reason)."""
    try:
        log.emit("start", f"MigTD-Py {migtd.__version__} (MigTD Version - {migtd.UPSTREAM_VERSION})",
                 version=migtd.__version__, pid=os.getpid(), attestation=opts.attestation,
                 operation=opts.operation)
        log.info(f"Migration Request information: request_id={opts.request_id} role={opts.role} "
                 f"operation={opts.operation} uuid={list(opts.uuid)} binding={opts.binding:#x} "
                 f"ip={opts.dest_ip} port={opts.dest_port}")
        if not opts.dest_ip:
            raise ConfigError("Failed to initialize TCP emulation: IP address cannot be empty")
        files = load_files(opts, env, log)
        plan = prepare(opts, files, env, log)
        log.emit("config", "Configuration checked", dest_ip=opts.dest_ip, dest_port=opts.dest_port,
                 attestation=opts.attestation, operation=opts.operation, policy_file=files.policy_path,
                 policy_version=opts.policy_version, timeout=opts.timeout, uuid=list(opts.uuid),
                 binding=f"{opts.binding:#X}".replace("0X", "0x"))
        return serve(plan)
    except CliExit as exc:
        _print_exit(exc)
        return exc.code, exc.lines[0] if exc.lines else ""
    except MigtdError as exc:
        log.error(exc.message)
        return int(exc.result), exc.message
    except _Stop as stop:
        log.warn(f"Received {stop.args[0]}; stopping")
        return int(MigrationResult.NetworkError), f"terminated by {stop.args[0]}"
    except KeyboardInterrupt:
        log.error("Interrupted")
        return int(MigrationResult.NetworkError), "interrupted"
    except Exception as exc:  # last line of defence: one line, never a traceback
        log.error(f"Internal error: {type(exc).__name__}: {exc}")
        return int(MigrationResult.InitializationError), f"internal error: {type(exc).__name__}"


@dataclass
class Plan:
    """A checked configuration, ready to touch the network."""

    opts: Options
    log: EventLog
    session: SessionConfig
    store: FieldStore
    provider: QuoteProvider
    verifier: PeerVerifier
    injector: FailureInjector


def prepare(opts: Options, files: LoadedFiles, env: Mapping[str, str], log: EventLog) -> Plan:
    """Build every local object a run needs; any ConfigError surfaces before networking."""
    from migtd import modes
    from migtd.emu.quote_retry import FailureInjector
    from migtd.emu.tdcs import store_from_env
    from migtd.session import SessionConfig

    assert opts.attestation is not None and opts.policy_version is not None
    mode = modes.resolve(opts.attestation, env)
    cfg = SessionConfig(is_source=opts.is_source,
                        event_log=mode.event_log(opts.policy_version, files.policy, files.root_ca,
                                                 files.issuer_chain),
                        policy_version=opts.policy_version, policy=files.policy, issuer_chain=files.issuer_chain)
    store = store_from_env(env)
    injector = FailureInjector.from_env(env)
    setup = modes.Setup(opts.operation, opts.policy_version, files.policy, files.issuer_chain, env,
                        opts.timeout or DEFAULT_TIMEOUT, log)
    provider = mode.provider(setup)
    verifier = mode.verifier(setup)
    if mode.start_warning:
        log.warn(mode.start_warning)
    return Plan(opts, log, cfg, store, provider, verifier, injector)


def prepare_rebinding_fields(plan: Plan, event_log: bytes) -> None:
    """Emulator set-up at queue time (§7): service-TD fields from the local TD report.

    For rebind-finalize also the session a completed rebind-prepare left (a fresh token).
    """
    from migtd.emu.rebind import populate_servtd_fields

    report = plan.provider.td_report(bytes(64), event_log)
    populate_servtd_fields(plan.store, plan.opts.binding, plan.opts.uuid, report)
    if plan.opts.operation == "rebind-finalize":
        from migtd.emu.rebind import TOKEN_SIZE, seed_prepared_session

        seed_prepared_session(plan.store, plan.opts.binding, plan.opts.uuid, is_old=plan.opts.is_source,
                              token=os.urandom(TOKEN_SIZE))


def serve(plan: Plan) -> tuple[int, str]:
    """Connect, run the request loop, and turn SIGTERM/SIGHUP into a logged clean exit."""
    import asyncio

    return asyncio.run(_serve(plan))


async def _serve(plan: Plan) -> tuple[int, str]:
    import asyncio
    import signal

    from migtd.emu.requests import migration_queue, rebinding_queue
    from migtd.emu.vmm import EmulatedVmm
    from migtd.session import Migration
    from migtd.transport import connect, listen_once

    opts, log = plan.opts, plan.log
    loop = asyncio.get_running_loop()
    task = asyncio.current_task()
    received: list[str] = []

    def on_signal(sig: signal.Signals) -> None:
        received.append(sig.name)
        if task is not None:
            task.cancel()

    for sig in (signal.SIGTERM, signal.SIGHUP, signal.SIGINT):
        loop.add_signal_handler(sig, on_signal, sig)
    assert opts.timeout is not None
    try:
        if opts.is_source:
            stream = await connect(opts.dest_ip, opts.dest_port, opts.timeout)
            log.info(f"Successfully connected to destination server at: {opts.dest_ip}:{opts.dest_port}")
        else:
            def listening(ip: str, port: int) -> None:
                log.emit("listening", f"TCP server started successfully on: {ip}:{port}", ip=ip, port=port)

            stream = await listen_once(opts.dest_ip, opts.dest_port, opts.timeout, listening)
        log.emit("connected", f"Connected to peer {stream.peer}", peer=stream.peer)
        try:
            if opts.operation == "migration":
                log.info("Setting up migration flow (EnableLogArea -> GetTDReport -> StartMigration)")
                queue = migration_queue(opts.request_id, opts.is_source, opts.uuid, opts.binding)
            else:
                log.info("Setting up rebinding flow (EnableLogArea -> GetMigtdData -> StartRebinding)")
                queue = rebinding_queue(opts.request_id, opts.is_source, opts.uuid, opts.binding,
                                        finalize=opts.operation == "rebind-finalize")
            run = Migration(plan.session, log, stream, EmulatedVmm(queue), plan.store,
                            plan.provider, plan.verifier, plan.injector)
            if opts.operation != "migration" and opts.policy_version == 2:
                prepare_rebinding_fields(plan, run.event_log)
            result = await run.run()
        finally:
            await stream.close()
    except asyncio.CancelledError:
        name = received[0] if received else "cancellation"
        log.warn(f"Received {name}; stopping")
        return int(MigrationResult.NetworkError), f"terminated by {name}"
    finally:
        for sig in (signal.SIGTERM, signal.SIGHUP, signal.SIGINT):
            loop.remove_signal_handler(sig)
    if result == MigrationResult.Success:
        return 0, ""
    return int(result), run.failure or result.meaning


if __name__ == "__main__":
    sys.exit(main())
