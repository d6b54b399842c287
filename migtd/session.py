"""The migration flow of one MigTD: a thin driver over the I/O-free protocol steps.

Order of work (protocol.md §2, §4, §5): take EnableLogArea, GetTDReport and
StartMigration from the emulated VMM; for StartMigration run the optional
policy-v2 pre-session exchange, build a fresh RA-TLS certificate, do the TLS
1.3 handshake (source = client, destination = server), judge the peer's
evidence *before* any application data, swap 40-byte ExchangeInformation
records, agree on the version and store the peer's key. Rebinding (§7,
policy v2) follows the same path with GetMigtdData/StartRebinding, TDREPORT
certificates and a 32-byte token instead of the ExchangeInformation swap.

With ``--key-exchange spdm`` the TLS handshake and ExchangeInformation are
replaced by SPDM 1.2 (:mod:`migtd.spdm_session`), after the same pre-session.

Decisions are made by the pure modules — :mod:`migtd.protocol` (pre-session,
ExchangeInformation, token), :class:`migtd.ratls.tls.TlsEngine`, the
verifier of the attestation mode — and this module only moves their bytes.
Each network phase (pre-session exchange, TLS handshake with peer
verification, key exchange) runs under its own deadline of ``--timeout``
seconds (:class:`migtd.transport.Deadline`): a peer trickling bytes cannot
stretch it.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from typing import TYPE_CHECKING

from migtd.emu.quote_retry import FailureInjector, quote_with_retry
from migtd.emu.requests import HOST_REPORT_DATA, MigrationInfo, Operation, Request, RequestError, parse_request
from migtd.emu.tdcs import (
    MAX_EXPORT_VERSION,
    MAX_IMPORT_VERSION,
    MIG_DEC_KEY,
    MIG_ENC_KEY,
    MIG_VERSION,
    MIN_EXPORT_VERSION,
    MIN_IMPORT_VERSION,
    SERVTD_ATTR,
    FieldStore,
)
from migtd.emu.vmm import EmulatedVmm, enable_log_area
from migtd.errors import MigtdError, NetworkError, SecureSessionError
from migtd.protocol import presession
from migtd.protocol.msk import EXCHANGE_INFO_SIZE, ExchangeInformation, agree, key_fingerprint
from migtd.result import MigrationResult
from migtd.transport import FramedStream, TransportTimeout
from migtd.verdict import LocalCheck, PeerVerifier, SessionFacts

if TYPE_CHECKING:  # the TLS engine pulls in pyOpenSSL; import it only when a session runs

    from cryptography.hazmat.primitives.asymmetric.ec import EllipticCurvePrivateKey

    from migtd.emu.quote_provider import QuoteProvider
    from migtd.events import EventLog
    from migtd.ratls.certificate import ParsedCertificate
    from migtd.ratls.tls import TlsEngine

#: Names of the network phases, as the timeout messages spell them.
PRE_SESSION = "the pre-session exchange"
HANDSHAKE = "the TLS handshake and peer verification"
KEY_EXCHANGE = "the key exchange"


class SessionConfig:
    """Everything the flow needs, already validated by the CLI.

    Request id, UUID and binding handle come with each VMM request, not from here.
    """

    __slots__ = ("event_log", "init_check", "is_source", "issuer_chain", "key_exchange", "policy", "policy_version")

    def __init__(self, *, is_source: bool, event_log: bytes, policy_version: int = 1, policy: bytes = b"",
                 issuer_chain: bytes = b"", key_exchange: str = "ratls",
                 init_check: Callable[[bytes], None] | None = None) -> None:
        self.is_source = is_source
        #: ``ratls`` or ``spdm`` (``--key-exchange``): what follows the pre-session exchange.
        self.key_exchange = key_exchange
        #: The CCEL log this MigTD measured at start-up (§5.3; the attestation mode decides its events).
        self.event_log = event_log
        self.policy_version = policy_version
        self.policy = policy
        self.issuer_chain = issuer_chain
        #: Binds VMM-supplied initMigtdData to the local policy (raises PolicyError); None: nothing to bind to.
        self.init_check = init_check


def peer_data_blob(policy: bytes, issuer_chain: bytes) -> bytes:
    """Policy-v2 pre-session blob: ``len ‖ policy ‖ len ‖ issuer chain`` (§4.2)."""
    return presession.build_blob(policy, issuer_chain)


class Link:
    """The connection as one byte stream for the protocol steps (frame boundaries carry no meaning)."""

    def __init__(self, stream: FramedStream) -> None:
        self.stream = stream
        self._buf = bytearray()

    def begin(self, phase: str) -> None:
        """Start a phase: it has ``--timeout`` seconds from now."""
        self.stream.begin(phase)

    def send(self, data: bytes) -> None:
        """One write: ``data`` as one frame (or more above 65 524 bytes)."""
        self.stream.send(data)

    def recv_some(self) -> bytes:
        """Whatever is buffered, else the next frame's payload."""
        if self._buf:
            out = bytes(self._buf)
            self._buf.clear()
            return out
        return self.stream.recv()

    def unread(self, data: bytes) -> None:
        """Give back bytes a step did not use (they belong to the next one)."""
        self._buf[:0] = data


class Migration:
    """One run of the request loop against an emulated VMM."""

    def __init__(self, cfg: SessionConfig, log: EventLog, stream: FramedStream, vmm: EmulatedVmm,
                 store: FieldStore, provider: QuoteProvider, verifier: PeerVerifier,
                 injector: FailureInjector | None = None) -> None:
        self.cfg = cfg
        self.log = log
        self.link = Link(stream)
        self.vmm = vmm
        self.store = store
        self.provider = provider
        self.verifier = verifier
        self.injector = injector or FailureInjector(0)
        #: One line saying why the run failed (empty on success), for the exit event.
        self.failure = ""
        self.event_log = cfg.event_log
        # What the session learns before it judges the peer; handed over as SessionFacts.
        self._local_quote = b""
        self._local_tdreport = b""
        self._local_check: LocalCheck | None = None
        self._peer_blob: bytes | None = None

    # ------------------------------------------------------------ request loop
    def run(self) -> MigrationResult:
        """Serve requests until the migration request is done; its result is the exit code."""
        policy_v2 = self.cfg.policy_version == 2
        while True:
            buf = self.vmm.wait_for_request()
            if buf is None:
                raise MigtdError("the VMM request queue ran empty before a migration request",
                                 MigrationResult.InvalidParameter)
            try:
                req = parse_request(buf, policy_v2=policy_v2)
            except RequestError as exc:
                self.log.error(f"Malformed request: {exc.message}")
                self._report(exc.request_id, "Unknown", exc.result, b"")
                self.log.error(f"wait_for_request failed with code: {int(exc.result)}")
                self.failure = exc.message
                return exc.result
            if req is None:
                continue
            self.log.debug(f"tdvmcall_migtd_waitforrequest: {req.operation.name} request_id={req.request_id:#x}")
            self.log.emit("request", f"Processing {req.operation.name} request", kind=req.operation.name,
                          id=f"{req.request_id:016X}")
            if req.operation == Operation.EnableLogArea:
                result, data = enable_log_area(req.log_level)
                if result == MigrationResult.Success:
                    self.log.info(f"enable_logarea: Logging has been enabled with MaxLevel: {req.log_level}")
                self._report(req.request_id, req.operation.name, result, data)
            elif req.operation in (Operation.GetTDReport, Operation.GetMigtdData):
                self._handle_report(req)
            elif req.operation == Operation.StartMigration:
                return self._handle_start(req, self.exchange_msk, "exchange_msk()",
                                          "Migration key exchange successful!", "Migration key exchange failed")
            else:  # StartRebinding (only reachable with policy v2)
                return self._handle_start(req, self.start_rebinding, "start_rebinding()",
                                          "Rebinding successful!", "Rebinding failed")

    def _report(self, request_id: int, kind: str, result: MigrationResult, data: bytes) -> None:
        report = self.vmm.report_status(request_id, result, data)
        self.log.debug(f"tdvmcall_migtd_reportstatus: request_id={request_id:#x} "
                       f"status={report.pre_migration_status} interrupt=0x50 ({report.kind}, "
                       f"{len(report.data)} bytes)")
        self.log.emit("report_status", f"ReportStatus for {kind}: {result.name}", kind=kind,
                      code=int(result), result=result.name, data_len=len(data))

    def _handle_report(self, req: Request) -> None:
        report_data = HOST_REPORT_DATA if req.operation == Operation.GetTDReport else req.report_data
        try:
            report = self.provider.td_report(report_data, self.event_log)
        except Exception as exc:  # noqa: BLE001 - a failed report never ends the loop (§2.4)
            self.log.error(f"TD report generation failed: {_describe(exc)}")
            failed = (MigrationResult.TdxModuleError if req.operation == Operation.GetTDReport
                      else MigrationResult.InvalidParameter)
            self._report(req.request_id, req.operation.name, failed, b"")
            return
        data = report if req.operation == Operation.GetTDReport else report[512:1024]
        self._report(req.request_id, req.operation.name, MigrationResult.Success, data)

    def _handle_start(self, req: Request, step: Callable[[Request], None], name: str,
                      ok_line: str, fail_line: str) -> MigrationResult:
        """Run StartMigration/StartRebinding, report its status, return its result."""
        assert req.migration is not None
        try:
            step(req)
            result = MigrationResult.Success
            self.log.info(f"{name} returned Ok")
        except MigtdError as exc:
            result = exc.result
            self.failure = exc.message
            self.log.error(f"{exc.message}")
            self.log.error(f"{name} returned error code {int(result)}")
        except Exception as exc:  # noqa: BLE001 - a bug must still end in a code, not a traceback
            result = MigrationResult.SecureSessionError
            self.failure = f"unexpected failure: {_describe(exc)}"
            self.log.error(f"unexpected failure in {name}: {_describe(exc)}")
        self._report(req.request_id, req.operation.name, result, b"")
        if result == MigrationResult.Success:
            self.log.info(ok_line)
        else:
            self.log.error(f"{fail_line} with code: {int(result)}")
        return result

    # ------------------------------------------------------------ exchange_msk
    def exchange_msk(self, req: Request) -> None:
        """§4.1: pre-session (v2), RA-TLS, ExchangeInformation both ways, version, TDCS writes."""
        info = req.migration
        assert info is not None
        self._bind_init_data(info, "exchange_msk")
        is_source = self.cfg.is_source
        blob = None
        if self.cfg.policy_version == 2:
            blob = peer_data_blob(self.cfg.policy, self.cfg.issuer_chain)
            self.pre_session(blob)
        if self.cfg.key_exchange == "spdm":
            self._spdm(info, blob, rebinding=False)
            return
        bh, uuid = info.binding_handle, info.uuid
        lo_field, hi_field = ((MIN_EXPORT_VERSION, MAX_EXPORT_VERSION) if is_source
                              else (MIN_IMPORT_VERSION, MAX_IMPORT_VERSION))
        local = ExchangeInformation(self.store.read_key(bh, uuid, MIG_ENC_KEY),
                                    self.store.sys_rd(lo_field), self.store.sys_rd(hi_field))
        record = local.encode()
        engine = self._tls(blob)
        self.link.begin(KEY_EXCHANGE)
        engine.write(record)
        self.link.send(engine.take_outgoing())
        peer_record = self._read_app(engine, EXCHANGE_INFO_SIZE, "ExchangeInformation",
                                     MigrationResult.SecureSessionError)
        agreed = agree(local, peer_record, is_source=is_source)
        if self.store.servtd_rd(bh, uuid, SERVTD_ATTR) != 0:
            raise MigtdError("SERVTD_ATTR is not zero", MigrationResult.InvalidParameter)
        self.store.servtd_wr(bh, uuid, MIG_VERSION, agreed.version)
        self.store.write_key(bh, uuid, MIG_DEC_KEY, agreed.peer_key)
        self.log.info("Set MSK and report status")
        self.log.emit("msk_exchanged", f"Migration session key exchanged, version {agreed.version}",
                      mig_version=agreed.version, key_sha256_8=key_fingerprint(agreed.source_key))

    def start_rebinding(self, req: Request) -> None:
        """§7: pre-session, TLS with TDREPORT certificates, 32-byte token old → new (or finalize)."""
        from migtd.emu import rebind
        from migtd.protocol import rebind as token_step
        from migtd.ratls.certificate import OID_SERVTD_EXT, build_rebind_certificate

        info = req.migration
        assert info is not None
        self._bind_init_data(info, "start_rebinding")
        bh, uuid, is_old = info.binding_handle, info.uuid, self.cfg.is_source
        if info.operation_byte == 1:
            self.finalize_rebinding(bh, uuid)
            return
        blob = peer_data_blob(self.cfg.policy, self.cfg.issuer_chain)
        self.pre_session(blob)
        if self.cfg.key_exchange == "spdm":
            self._spdm(info, blob, rebinding=True)
            return
        key, report = self._keyed_report()
        self._local_tdreport = report
        self._local_reference()
        extra: dict[str, bytes] = {}
        if is_old:
            if self.store.servtd_rd(bh, uuid, SERVTD_ATTR) != 0:
                raise MigtdError("current SERVTD_ATTR is not zero", MigrationResult.InvalidParameter)
            # The init TDINFO: the VMM's initMigtdData when it gave one, else our own TDINFO (as upstream).
            init_tdinfo = info.init_td_info if info.has_init_data == 1 else report[512:1024]
            extra = {"servtd_ext": rebind.read_servtd_ext(self.store, bh, uuid), "init_tdinfo": init_tdinfo}
        cert = build_rebind_certificate(key, self.event_log, report, policy_hash=hashlib.sha384(blob).digest(),
                                        **extra)
        engine, peer = self._handshake(key, cert)
        self.link.begin(KEY_EXCHANGE)
        if is_old:
            token = token_step.new_token()
            engine.write(token)
            self.link.send(engine.take_outgoing())
            self.store.approve_rebind(bh, uuid, token)
            self.log.info("Rebinding token sent; TDG.SERVTD.REBIND.APPROVE emulated")
            return
        token = self._read_app(engine, token_step.TOKEN_SIZE, "rebinding token", MigrationResult.NetworkError)
        ext = peer.extension(OID_SERVTD_EXT)
        accepted = token_step.accept(token, ext.value if ext is not None else None)
        rebind.store_accept(self.store, bh, uuid, accepted.token, accepted.servtd_ext)
        self.log.info("Rebinding token accepted; SERVTD_REBIND_ACCEPT_TOKEN, SERVTD_REBIND_ATTR and "
                      "SERVTD_ACCEPT_SERVTD_EXT_HASH written")

    def _bind_init_data(self, info: MigrationInfo, step: str) -> None:
        """initMigtdData from the VMM must be bound to our policy before anything is exchanged (8 if not).

        Upstream runs ``verify_init_migtd_data_policy_binding`` first thing in
        ``exchange_msk`` and ``start_rebinding`` (policy.md §3.9.3) and maps any
        failure to PolicyUnsatisfiedError; nothing has been sent yet.
        """
        if info.has_init_data != 1:
            return
        from migtd.emu.init_data import describe
        from migtd.policy.errors import PolicyError, PolicyErrorKind

        try:
            if self.cfg.init_check is None:
                raise PolicyError(PolicyErrorKind.InvalidParameter, "no local policy v2 to bind it to")
            self.cfg.init_check(info.init_td_info)
        except PolicyError as exc:
            raise MigtdError(f"{step}: initMigtdData policy binding verification failed: {exc.kind.value}: "
                             f"{exc.detail}", MigrationResult.PolicyUnsatisfiedError) from None
        self.log.info(f"{step}: initMigtdData is bound to the local policy ({describe(info.init_td_info)})")

    def finalize_rebinding(self, bh: int, uuid: tuple[int, int, int, int]) -> None:
        """rebind-finalize: end the rebinding session by clearing its token on this side.

        The old MigTD forgets the token it approved; the new MigTD zeroes
        SERVTD_REBIND_ACCEPT_TOKEN. Nothing crosses the network: each side
        clears only its own state, so a replayed token can no longer be used.
        Upstream's MigTD rejects this request (protocol.md §7); this is the
        phase its two-phase model described.
        """
        from migtd.emu import rebind

        if self.cfg.is_source:
            if self.store.approved_rebind.pop((bh, uuid), None) is None:
                raise MigtdError("rebind-finalize: no approved rebinding token to clear",
                                 MigrationResult.InvalidParameter)
            self.log.info("Rebinding session token cleared (the approved token of TDG.SERVTD.REBIND.APPROVE "
                          "is released)")
        else:
            if not rebind.clear_accept_token(self.store, bh, uuid):
                raise MigtdError("rebind-finalize: SERVTD_REBIND_ACCEPT_TOKEN holds no token to clear",
                                 MigrationResult.InvalidParameter)
            self.log.info("Rebinding session token cleared (SERVTD_REBIND_ACCEPT_TOKEN zeroed)")

    def _spdm(self, info: MigrationInfo, blob: bytes | None, *, rebinding: bool) -> None:
        """SPDM instead of RA-TLS (``--key-exchange spdm``): :mod:`migtd.spdm_session` runs it over this link."""
        from migtd.spdm_session import MigtdHooks, run

        run(MigtdHooks(log=self.log, store=self.store, provider=self.provider, verifier=self.verifier,
                       is_source=self.cfg.is_source, event_log=self.event_log, policy_version=self.cfg.policy_version,
                       policy=self.cfg.policy, request=info, local_blob=blob, peer_blob=self._peer_blob,
                       rebinding=rebinding, injector=self.injector), self.link)

    def pre_session(self, blob: bytes) -> None:
        """Policy-v2 HELLO / PRE_SESSION_DATA / START_SESSION exchange (§4.2), one deadline for all of it."""
        self.link.begin(PRE_SESSION)
        step = presession.PreSession(blob)
        while True:
            for data in step.writes():
                self.link.send(data)
            event = step.next_event()
            if isinstance(event, presession.NeedData):
                step.receive_data(self.link.recv_some())
            elif isinstance(event, presession.PeerHello):
                self.log.info(f"Pre-Session-Message Version: {event.version:#06x}")
            elif isinstance(event, presession.PeerData):
                self._peer_blob = event.blob
            else:  # SessionStart
                self.link.unread(step.trailing_data)
                return

    # ------------------------------------------------------------ RA-TLS
    def _keyed_report(self) -> tuple[EllipticCurvePrivateKey, bytes]:
        """A fresh P-384 key and a TD report whose REPORTDATA is SHA-384(public key) ‖ 16 zeros (§5.2)."""
        from cryptography.hazmat.primitives.asymmetric import ec

        from migtd.attest.binding import report_data_for_key
        from migtd.ratls.certificate import public_point

        key = ec.generate_private_key(ec.SECP384R1())
        return key, self._td_report(report_data_for_key(public_point(key)), self.event_log)

    def _local_reference(self) -> None:
        """Rebinding: our own quote, for the policy's "self" references, as upstream gets it.

        Upstream's ``get_local_tcb_evaluation_info`` quotes a fresh TD report
        with zero REPORTDATA and verifies it against the local policy's
        collaterals; the verifier does the latter (:meth:`PeerVerifier.check_local`)
        and hands the result back through :class:`SessionFacts`. Failures are
        policy failures (8), as in upstream's verification callback.
        """
        from migtd.policy.errors import PolicyError, PolicyErrorKind

        try:
            report = self._td_report(bytes(64), self.event_log)
        except MigtdError as exc:
            raise PolicyError(PolicyErrorKind.GetTdxReport, f"local TD report: {exc.message}") from None
        try:
            quote = quote_with_retry(self.provider, report, self.log, self.injector)
        except MigtdError as exc:
            raise PolicyError(PolicyErrorKind.QuoteGeneration, f"local quote: {exc.message}") from None
        self.log.emit("quote_generated", "Quote generated successfully", bytes=len(quote), source=self.provider.name)
        self._local_quote = quote
        self._local_check = self.verifier.check_local(quote)
        if self._local_check is not None:
            self.log.info(f"Local quote verified: TCB status {self._local_check.tcb_status}")

    def _local_certificate(self, blob: bytes | None) -> tuple[EllipticCurvePrivateKey, bytes]:
        """Fresh P-384 key, TD report over SHA-384(key), quote, certificate (§5.2, §5.8)."""
        from migtd.ratls.certificate import build_certificate

        key, report = self._keyed_report()
        quote = quote_with_retry(self.provider, report, self.log, self.injector)
        via = getattr(self.provider, "via", None)  # igvm-attest (--quote-request igvm)
        self.log.emit("quote_generated", "Quote generated successfully", bytes=len(quote),
                      source=self.provider.name, **({"via": via} if via else {}))
        self._local_quote = quote
        self._local_check = self.verifier.check_local(quote)  # DCAP: our own quote first (§5.5 v1 step 1)
        if self._local_check is not None:
            self.log.info(f"Local quote verified: TCB status {self._local_check.tcb_status}")
        policy_hash = hashlib.sha384(blob).digest() if blob is not None else None
        try:
            cert = build_certificate(key, quote, self.event_log, policy_hash=policy_hash)
        except ValueError as exc:
            raise SecureSessionError(f"building the RA-TLS certificate failed: {exc}") from None
        return key, cert

    def _td_report(self, report_data: bytes, event_log: bytes) -> bytes:
        """The provider's TD report; any failure is TdxModuleError (4), as upstream maps it."""
        try:
            return self.provider.td_report(report_data, event_log)
        except MigtdError:
            raise
        except Exception as exc:  # noqa: BLE001 - providers are plug-ins; whatever they raise is code 4
            raise MigtdError(f"TD report generation failed: {_describe(exc)}",
                             MigrationResult.TdxModuleError) from None

    def _recv_tls(self) -> bytes:
        """Next bytes for TLS; transport failures inside TLS are session errors (§3.5), timeouts stay 5."""
        try:
            return self.link.recv_some()
        except TransportTimeout:
            raise
        except NetworkError as exc:
            raise SecureSessionError(f"TLS transport failed: {exc.message}") from None

    def _tls(self, blob: bytes | None) -> TlsEngine:
        """Migration RA-TLS: fresh certificate with a quote (and the policy hash of ``blob``), handshake, peer judged."""
        key, cert = self._local_certificate(blob)
        engine, _ = self._handshake(key, cert)
        return engine

    def _handshake(self, key: EllipticCurvePrivateKey, cert: bytes) -> tuple[TlsEngine, ParsedCertificate]:
        """Handshake, then judge the peer before any application data is written; one deadline for both."""
        from migtd.ratls.tls import TlsEngine

        self.link.begin(HANDSHAKE)
        engine = TlsEngine(is_client=self.cfg.is_source, certificate_der=cert, private_key=key)
        while True:
            try:
                done = engine.step_handshake()
            except SecureSessionError:
                alert = engine.take_outgoing()
                if alert:
                    try:
                        self.link.send(alert)
                    except NetworkError:
                        pass  # the peer is gone anyway; the handshake error is what we report
                raise
            if done:
                break
            out = engine.take_outgoing()
            if out:
                self.link.send(out)
            engine.feed(self._recv_tls())
        self.log.emit("tls_established", f"TLS established: {engine.version} {engine.cipher}",
                      version=engine.version, cipher=engine.cipher)
        peer = self._verify_peer(engine)
        self.link.stream.deadline.check("peer verification to finish")
        return engine, peer

    def _verify_peer(self, engine: TlsEngine) -> ParsedCertificate:
        """Parse the peer certificate, run the mode's verifier on its evidence, log the verdict, raise on rejection."""
        from migtd.ratls.certificate import parse_certificate
        from migtd.ratls.evidence import evidence_from_certificate

        der = engine.peer_certificate_der()
        if der is None:
            raise SecureSessionError("peer presented no certificate")
        peer = parse_certificate(der)
        is_client = self.cfg.is_source
        evidence = evidence_from_certificate(peer, self.verifier.needs(is_client))
        facts = SessionFacts(self._local_quote, self.event_log, self._local_tdreport, self._peer_blob,
                             self._local_check)
        verdict = self.verifier.verify(evidence, facts, is_client)
        for warning in verdict.warnings:
            self.log.warn(warning)
        attested = verdict.attestation
        self.log.emit("peer_attested", f"Peer quote {'verified' if attested.verified else 'NOT verified'}",
                      "info" if attested.verified else "warn", **attested.event_fields())
        for rule in verdict.rules:
            fields = rule.as_event()
            self.log.emit("policy_rule", f"Policy {fields['section']}.{fields['field']}: "
                          f"{'ok' if rule.ok else 'FAILED'}", "info" if rule.ok else "warn", **fields)
        decision, level = verdict.policy.label()
        self.log.emit("policy_decision", f"Policy decision: {decision}", level, **verdict.policy.event_fields())
        if verdict.failure is not None:
            raise verdict.failure
        return peer

    def _read_app(self, engine: TlsEngine, n: int, what: str, on_nothing: MigrationResult) -> bytes:
        """Exactly ``n`` bytes of application data.

        A peer that stops after some bytes gives NetworkError (a short read,
        §4.1); one that goes away before sending any gives ``on_nothing``
        (a TLS transport error for the MSK exchange, NetworkError for the
        rebinding token, as upstream maps them).
        """
        from migtd.ratls.tls import PeerClosed, WantMore

        buf = b""
        while len(buf) < n:
            try:
                buf += engine.read(n - len(buf))
                continue
            except WantMore:
                pass
            except PeerClosed:
                raise NetworkError(f"peer closed the session after {len(buf)} of {n} bytes of {what}") from None
            out = engine.take_outgoing()
            if out:
                self.link.send(out)
            try:
                data = self._recv_tls()
            except SecureSessionError as exc:
                if buf:
                    raise NetworkError(f"short {what}: {len(buf)} of {n} bytes") from None
                raise MigtdError(exc.message, on_nothing) from None
            engine.feed(data)
        return buf


def _describe(exc: BaseException) -> str:
    if isinstance(exc, MigtdError):
        return exc.message
    return f"{type(exc).__name__}: {exc}"
