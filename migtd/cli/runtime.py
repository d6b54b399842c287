"""The runtime of one ``migtd`` process: from checked configuration to exit status.

Order (protocol.md §1.1, with our checks moved before the network): scan the
flags, merge the environment, open the log (refusing a ``MIGTD_LOG_FILE``
that is one of the run's inputs), load and check every file and setting
(:mod:`migtd.cli.config`), bind the destination's port, build the quote
provider and the peer verifier the attestation mode names
(:mod:`migtd.modes`), then connect or accept and run the session
(:mod:`migtd.session`). Every outcome ends in one ``exit`` event and the
MigrationResult as exit status; SIGTERM, SIGHUP and SIGINT at any point end
the run with NetworkError (5), logged.

Everything is sequential and blocking: no event loop, each network wait
bounded by the phase deadline of ``--timeout``.
"""

from __future__ import annotations

import functools
import os
import signal
import sys
from collections.abc import Callable, Mapping, Sequence
from typing import TYPE_CHECKING

import migtd
from migtd.cli.args import CliExit, Options, parse_args, print_exit, say
from migtd.cli.config import RunConfig, input_paths, load, merge_env
from migtd.errors import MigtdError
from migtd.events import EventLog, parse_level
from migtd.result import MigrationResult

if TYPE_CHECKING:
    from migtd.emu.quote_provider import QuoteProvider
    from migtd.emu.quote_retry import FailureInjector
    from migtd.emu.tdcs import FieldStore
    from migtd.session import SessionConfig
    from migtd.transport import FramedStream, Listener
    from migtd.verdict import PeerVerifier

#: Signals that end a run cleanly: the console's stop (TERM), a dropped SSH terminal (HUP), Ctrl-C (INT).
STOP_SIGNALS = (signal.SIGTERM, signal.SIGHUP, signal.SIGINT)


class Stop(BaseException):
    """A stop signal arrived; ``args[0]`` is its name. Raised from the handler, wherever the run is."""


def _raise_stop(signum: int, frame: object) -> None:
    raise Stop(signal.Signals(signum).name)


def main(argv: Sequence[str] | None = None, env: Mapping[str, str] | None = None) -> int:
    """Run ``migtd`` with ``argv`` and ``env`` (default: the process's); returns the exit status.

    Never lets a traceback out.
    """
    previous = {sig: signal.signal(sig, _raise_stop) for sig in STOP_SIGNALS}
    try:
        return _main(argv, env)
    except Stop:  # a second signal while writing the final records
        return int(MigrationResult.NetworkError)
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)


def _main(argv: Sequence[str] | None, env: Mapping[str, str] | None) -> int:
    args = list(sys.argv[1:] if argv is None else argv)
    environ = dict(os.environ if env is None else env)
    try:
        opts = merge_env(parse_args(args), environ)
    except CliExit as exc:
        print_exit(exc)
        return exc.code
    log = open_log(opts, environ)
    if log is None:
        return int(MigrationResult.InvalidParameter)
    code, reason = run_logged(opts, environ, log)
    name, _ = MigrationResult.describe(code)
    log.emit("exit", f"MigTD exiting with {code} ({name})" + (f": {reason}" if reason else ""),
             "info" if code == 0 else "error", code=code, result=name, reason=reason)
    log.close()
    return code


def open_log(opts: Options, env: Mapping[str, str]) -> EventLog | None:
    """The event log on stderr, teed to ``MIGTD_LOG_FILE``; None (after one line) when the tee is refused.

    The tee is opened without truncation and compared with every input of the
    run first (:func:`migtd.inputs.open_output`): naming the policy, say,
    stops the run here instead of emptying the policy.
    """
    from migtd.inputs import open_output

    tee = None
    path = env.get("MIGTD_LOG_FILE") or None
    if path:
        try:
            tee = open_output(path, "MIGTD_LOG_FILE", input_paths(opts, env))
        except MigtdError as exc:
            message = exc.message
            say(message[0].upper() + message[1:])
            return None
    # With stderr closed (`2>&-`) the run still happens; only the file tee, if any, sees the log.
    stream = sys.stderr if sys.stderr is not None else open(os.devnull, "w", encoding="utf-8")  # noqa: SIM115
    return EventLog(opts.role, opts.request_id, fmt=opts.log_format or "text", stream=stream,
                    level=parse_level(env.get("RUST_LOG")), tee=tee)


def run_logged(opts: Options, env: Mapping[str, str], log: EventLog) -> tuple[int, str]:
    """Everything after flag parsing; returns (exit code, reason)."""
    listener: Listener | None = None
    try:
        log.emit("start", f"MigTD-Py {migtd.__version__} (MigTD Version - {migtd.UPSTREAM_VERSION})",
                 version=migtd.__version__, pid=os.getpid(), attestation=opts.attestation,
                 operation=opts.operation)
        log.info(f"Migration Request information: request_id={opts.request_id} role={opts.role} "
                 f"operation={opts.operation} uuid={list(opts.uuid)} binding={opts.binding:#x} "
                 f"ip={opts.dest_ip} port={opts.dest_port}")
        config = load(opts, env, log)
        if not opts.is_source:
            # Bound now, before the heavier set-up, so a source started at the same time
            # is queued by the kernel instead of refused; "listening" comes once we are ready.
            from migtd.transport import Listener

            listener = Listener(opts.dest_ip, opts.dest_port)
        plan = prepare(config, log)
        log.emit("config", "Configuration checked", dest_ip=opts.dest_ip, dest_port=opts.dest_port,
                 attestation=opts.attestation, operation=opts.operation, policy_file=config.files.policy_path,
                 policy_version=opts.policy_version, timeout=opts.timeout, uuid=list(opts.uuid),
                 binding=f"{opts.binding:#X}".replace("0X", "0x"), key_exchange=opts.key_exchange,
                 quote_request=opts.quote_request)
        return serve(plan, listener)
    except CliExit as exc:
        print_exit(exc)
        return exc.code, exc.lines[0] if exc.lines else ""
    except MigtdError as exc:
        log.error(exc.message)
        return int(exc.result), exc.message
    except Stop as stop:
        log.warn(f"Received {stop.args[0]}; stopping")
        return int(MigrationResult.NetworkError), f"terminated by {stop.args[0]}"
    except Exception as exc:  # noqa: BLE001 - last line of defence: one line, never a traceback
        log.error(f"Internal error: {type(exc).__name__}: {exc}")
        return int(MigrationResult.InitializationError), f"internal error: {type(exc).__name__}"
    finally:
        if listener is not None:
            listener.close()


class Plan:
    """A checked configuration turned into the objects a run needs, ready to touch the network."""

    __slots__ = ("config", "injector", "log", "provider", "session", "store", "verifier")

    def __init__(self, config: RunConfig, log: EventLog, session: SessionConfig, store: FieldStore,
                 provider: QuoteProvider, verifier: PeerVerifier, injector: FailureInjector) -> None:
        self.config = config
        self.log = log
        self.session = session
        self.store = store
        self.provider = provider
        self.verifier = verifier
        self.injector = injector


def prepare(config: RunConfig, log: EventLog) -> Plan:
    """Build every local object a run needs from the mode; any failure surfaces before networking."""
    from migtd import modes
    from migtd.emu.quote_retry import FailureInjector
    from migtd.emu.tdcs import FieldStore
    from migtd.session import SessionConfig

    opts, files, mode = config.opts, config.files, config.mode
    assert opts.policy_version is not None
    store = FieldStore(msk=config.emulation.msk, version_range=config.emulation.version_range)
    setup = modes.Setup(opts.operation, opts.policy_version, files.policy, files.issuer_chain, config.env,
                        config.timeout, log, opts.quote_request or "direct")
    provider = mode.quote_provider(setup)
    verifier = mode.verifier(setup)
    session = SessionConfig(is_source=opts.is_source,
                            event_log=mode.event_log(opts.policy_version, files.policy, files.root_ca,
                                                     files.issuer_chain),
                            policy_version=opts.policy_version, policy=files.policy, issuer_chain=files.issuer_chain,
                            key_exchange=opts.key_exchange or "ratls",
                            init_check=init_data_check(verifier) if config.init_migtd_data is not None else None)
    if mode.start_warning:
        log.warn(mode.start_warning)
    return Plan(config, log, session, store, provider, verifier, FailureInjector(config.emulation.quote_failures))


def init_data_check(verifier: PeerVerifier) -> Callable[[bytes], None]:
    """``verify_init_migtd_data_policy_binding`` against the policy v2 the mode's verifier verified.

    A mode whose verifier holds no verified policy is skip-ra: upstream's
    ``test_disable_ra_and_accept_all`` build returns from its measurements
    before it initialises the policy, so the binding check finds no policy
    (InvalidParameter) and the request fails with 8; so does ours.
    """
    from migtd.policy.errors import PolicyError, PolicyErrorKind
    from migtd.policy.v2 import verify_init_migtd_data_policy_binding

    local = getattr(verifier, "local_policy", None)
    if local is None:
        def no_policy(init_tdinfo: bytes) -> None:
            raise PolicyError(PolicyErrorKind.InvalidParameter,
                              "this MigTD never initialised a policy v2 to bind initMigtdData to (skip-RA, as "
                              "upstream's test_disable_ra_and_accept_all build)")
        return no_policy
    return functools.partial(verify_init_migtd_data_policy_binding, local)


def prepare_rebinding_fields(plan: Plan, event_log: bytes) -> None:
    """Emulator set-up at queue time (§7): service-TD fields from the local TD report.

    With initMigtdData, the init hash is that TDINFO's. For rebind-finalize
    also the session a completed rebind-prepare left (a fresh token).
    """
    from migtd.emu.rebind import TOKEN_SIZE, populate_servtd_fields, seed_prepared_session

    opts = plan.config.opts
    report = plan.provider.td_report(bytes(64), event_log)
    populate_servtd_fields(plan.store, opts.binding, opts.uuid, report, plan.config.init_migtd_data)
    if opts.operation == "rebind-finalize":
        seed_prepared_session(plan.store, opts.binding, opts.uuid, is_old=opts.is_source,
                              token=os.urandom(TOKEN_SIZE))


def serve(plan: Plan, listener: Listener | None) -> tuple[int, str]:
    """Connect (source) or accept (destination), then run the request loop to its result."""
    from migtd.emu.requests import migration_queue, rebinding_queue
    from migtd.emu.vmm import EmulatedVmm
    from migtd.session import Migration
    from migtd.transport import connect

    opts, log, timeout = plan.config.opts, plan.log, plan.config.timeout
    stream: FramedStream
    if listener is None:
        stream = connect(opts.dest_ip, opts.dest_port, timeout)
        log.info(f"Successfully connected to destination server at: {opts.dest_ip}:{opts.dest_port}")
    else:
        log.emit("listening", f"TCP server started successfully on: {opts.dest_ip}:{listener.port}",
                 ip=opts.dest_ip, port=listener.port)
        stream = listener.accept(timeout)
    log.emit("connected", f"Connected to peer {stream.peer}", peer=stream.peer)
    try:
        if opts.operation == "migration":
            log.info("Setting up migration flow (EnableLogArea -> GetTDReport -> StartMigration)")
            queue = migration_queue(opts.request_id, opts.is_source, opts.uuid, opts.binding,
                                    plan.config.init_migtd_data)
        else:
            log.info("Setting up rebinding flow (EnableLogArea -> GetMigtdData -> StartRebinding)")
            queue = rebinding_queue(opts.request_id, opts.is_source, opts.uuid, opts.binding,
                                    finalize=opts.operation == "rebind-finalize",
                                    init_td_info=plan.config.init_migtd_data)
        run = Migration(plan.session, log, stream, EmulatedVmm(queue), plan.store, plan.provider, plan.verifier,
                        plan.injector)
        if opts.operation != "migration" and opts.policy_version == 2:
            prepare_rebinding_fields(plan, run.event_log)
        result = run.run()
    finally:
        stream.close()
    if result == MigrationResult.Success:
        return 0, ""
    return int(result), run.failure or result.meaning
