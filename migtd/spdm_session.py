"""SPDM in ``migtd``: MigTD's migration and rebinding over SPDM 1.2 instead of RA-TLS (spec/spdm.md).

``--key-exchange spdm`` (``MIGTD_KEY_EXCHANGE=spdm``; upstream's
``spdm_attestation`` build) replaces the TLS handshake and the
ExchangeInformation records of :mod:`migtd.session` once the policy-v2
pre-session exchange is done. The source is the SPDM requester, the
destination the responder (rebinding: old MigTD requester, new MigTD
responder). The protocol is :mod:`migtd.spdm`, which is pure; this module
holds the two things it leaves to its user:

* :class:`MigtdHooks` — what a MigTD puts into the session and makes of it:
  its quote (or TDREPORT when rebinding) with REPORTDATA = SHA-384(prefix ‖
  TH1) ‖ 0¹⁶, its event log, policy hash, SERVTD_EXT and init TDINFO; the
  peer judged by the attestation mode's own verifier through the neutral
  :class:`migtd.verdict.Evidence` (the binding is the transcript hash, there
  is no ``authenticate``: FINISH proves possession); the MSK and versions of
  :mod:`migtd.protocol.msk` with the TDCS writes; the rebind token. No I/O:
  the in-memory tests run two of them against each other.
* :func:`drive` — the thin loop that moves bytes between the connection and
  a requester or responder, one transport write per SPDM message, and logs
  the typed ``spdm_*`` events (docs/events.md).

Deadlines (spdm.md §0: upstream runs the whole exchange under one 60-s
timer, which cannot fire in emulation): negotiation, public keys,
KEY_EXCHANGE, attestation and FINISH share the phase :data:`HANDSHAKE`, the
secured MSK exchange and END_SESSION the phase :data:`KEY_EXCHANGE`; each
has ``--timeout`` seconds from its start, whatever pace the peer keeps, as
the TLS handshake and the key exchange have with RA-TLS.

What is checked where, and with which code (spdm.md §5, §6, §8):

* policy v2: the peer's MigPolicyMy must be SHA-384 of the pre-session blob
  it sent (SecureSessionError, as upstream's SPDM path; RA-TLS gives 9), also
  in skip-RA migrations, as upstream;
* then the mode's verifier, unchanged: DCAP and the policy, with the
  REPORTDATA ↔ TH1 binding checked for real with the project's mock QE
  (upstream compiles it out in emulation) and bypassed, and listed in
  ``peer_attested.bypassed``, with a captured quote or in azure mode. A
  binding mismatch is MutualAttestationError with policy v2,
  SecureSessionError with v1;
* rebinding: the TDREPORT ↔ TH1 binding is never bypassed (upstream checks
  it in emulation too): a TD report that cannot carry it (``MOCK_QUOTE_FILE``)
  fails with MutualAttestationError, as upstream's does.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from typing import TYPE_CHECKING, Protocol

from migtd import verdict
from migtd.emu import rebind as rebind_fields
from migtd.emu.quote_retry import FailureInjector, quote_with_retry
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
from migtd.errors import MigtdError, NetworkError, SecureSessionError
from migtd.protocol.msk import key_fingerprint, negotiate_version
from migtd.result import MigrationResult
from migtd.spdm import MigrationInfo, Mode, Requester, Responder
from migtd.spdm import events as ev
from migtd.spdm.constants import ErrorCode
from migtd.spdm.errors import PeerError
from migtd.spdm.hooks import LocalEvidence, PeerEvidence
from migtd.transport import TransportTimeout
from migtd.verdict import Attestation, Evidence, LocalCheck, PeerVerifier, PolicyOutcome, SessionFacts, Verdict

if TYPE_CHECKING:
    from migtd.emu.quote_provider import QuoteProvider
    from migtd.emu.requests import MigrationInfo as VmmMigrationInfo
    from migtd.events import EventLog

#: Deadline phases, as the timeout messages spell them.
HANDSHAKE = "the SPDM handshake and peer verification"
KEY_EXCHANGE = "the SPDM key exchange"
#: SPDM phases run under :data:`KEY_EXCHANGE`; the others under :data:`HANDSHAKE`.
_DATA_PHASES = frozenset({ev.Phase.SECURED_EXCHANGE, ev.Phase.END_SESSION})
#: The REPORTDATA of a TDREPORT (spdm.md §7: what the rebinding binding compares).
_TDREPORT_REPORT_DATA = slice(128, 176)


class Link(Protocol):
    """The connection as :class:`migtd.session.Link` offers it (one deadline per phase)."""

    def begin(self, phase: str) -> None:
        """Start ``phase``: it has ``--timeout`` seconds from now."""
        ...

    def send(self, data: bytes) -> None:
        """One transport write (one frame)."""
        ...

    def recv_some(self) -> bytes:
        """The next bytes from the peer (NetworkError, TransportTimeout)."""
        ...


def _fingerprint(data: bytes) -> str:
    return hashlib.sha256(data).digest()[:8].hex().upper()


class MigtdHooks:
    """One MigTD's side of an SPDM session: evidence out, the peer judged, MSK or token stored.

    Implements :mod:`migtd.spdm.hooks` (``Attester``, ``PeerVerifier``,
    ``MigrationInfoExchange``, ``RebindExchange``); every refusal is a
    :class:`MigtdError` carrying the code MigTD reports (the responder sends
    it to the peer in its ERROR).
    """

    def __init__(self, *, log: EventLog, store: FieldStore, provider: QuoteProvider, verifier: PeerVerifier,
                 is_source: bool, event_log: bytes, policy_version: int, policy: bytes,
                 request: VmmMigrationInfo, local_blob: bytes | None = None, peer_blob: bytes | None = None,
                 rebinding: bool = False, injector: FailureInjector | None = None) -> None:
        self.log = log
        self.store = store
        self.provider = provider
        self.verifier = verifier
        self.is_source = is_source
        self.event_log = event_log
        self.policy_version = policy_version
        self.policy = policy
        self.request = request
        self.local_blob = local_blob
        self.peer_blob = peer_blob
        self.mode = Mode.REBIND if rebinding else Mode.MIGRATION
        self.injector = injector or FailureInjector(0)
        # learned during the session, handed to the verifier as SessionFacts
        self.local_quote = b""
        self.local_tdreport = b""
        self.local_check: LocalCheck | None = None
        self.peer_servtd_ext = b""
        self.local: MigrationInfo | None = None
        #: Called before a hook does slow work (a quote, a verification), so that what the
        #: session already did is logged first (see :func:`run`).
        self.before_work: Callable[[], None] = lambda: None

    @property
    def _where(self) -> tuple[int, tuple[int, int, int, int]]:
        return self.request.binding_handle, self.request.uuid

    # ------------------------------------------------------------------ Attester
    def local_evidence(self, report_data: bytes) -> LocalEvidence:
        """The quote (migration) or TDREPORT (rebinding) over ``report_data``, with what travels beside it."""
        self.before_work()
        bh, uuid = self._where
        report = self._td_report(report_data)
        if self.mode is Mode.MIGRATION:
            quote = quote_with_retry(self.provider, report, self.log, self.injector)
            via = getattr(self.provider, "via", None)
            self.log.emit("quote_generated", "Quote generated successfully", bytes=len(quote),
                          source=self.provider.name, **({"via": via} if via else {}))
            self.local_quote = evidence = quote
            self.local_check = self.verifier.check_local(quote)  # policy v1: our own quote first (§6.1)
            if self.local_check is not None:
                self.log.info(f"Local quote verified: TCB status {self.local_check.tcb_status}")
        else:
            self.local_tdreport = evidence = report
            self.log.info(f"TD report generated for the rebinding attestation ({len(report)} bytes)")
        if self.policy_version == 2 and self.local_blob is not None:
            policy_hash = hashlib.sha384(self.local_blob).digest()
        else:
            policy_hash = hashlib.sha384(self.policy).digest()
        if not self.is_source:
            return LocalEvidence(evidence, self.event_log, policy_hash)
        if self.store.servtd_rd(bh, uuid, SERVTD_ATTR) != 0:
            code = MigrationResult.SecureSessionError if self.mode is Mode.MIGRATION \
                else MigrationResult.InvalidParameter
            raise MigtdError("SERVTD_ATTR of the target TD is not zero: SERVTD_EXT cannot be sent", code)
        servtd_ext = rebind_fields.read_servtd_ext(self.store, bh, uuid)
        init = self.request.init_td_info if self.policy_version == 2 and self.request.has_init_data else b""
        return LocalEvidence(evidence, self.event_log, policy_hash, servtd_ext, init or report[512:1024])

    def _td_report(self, report_data: bytes) -> bytes:
        try:
            return self.provider.td_report(report_data, self.event_log)
        except MigtdError:
            raise
        except Exception as exc:  # noqa: BLE001 - providers are plug-ins; whatever they raise is code 4
            raise MigtdError(f"TD report generation failed: {type(exc).__name__}: {exc}",
                             MigrationResult.TdxModuleError) from None

    # ------------------------------------------------------------------ PeerVerifier
    def verify_peer(self, peer: PeerEvidence) -> None:
        """Judge the peer with the mode's verifier; log the verdict, then accept or raise."""
        self.before_work()
        v2 = self.policy_version == 2
        migration = self.mode is Mode.MIGRATION
        evidence = Evidence(
            quote=peer.evidence if migration else None, tdreport=None if migration else peer.evidence,
            event_log=peer.event_log, policy_hash=peer.policy_hash, servtd_ext=peer.servtd_ext,
            init_tdinfo=peer.init_tdinfo, binding=peer.expected_report_data[:48],
            binding_subject="SHA-384(prefix || TH1) of this SPDM session",
            binding_result=int(MigrationResult.MutualAttestationError) if v2 or not migration else None)
        skip_ra = self.verifier.name == "skip-ra"
        if v2 and (migration or not skip_ra):
            self._check_policy_hash(evidence)
        facts = SessionFacts(self.local_quote, self.event_log, self.local_tdreport, self.peer_blob,
                             self.local_check)
        verdict_ = self.verifier.verify(evidence, facts, self.is_source)
        if not migration and not skip_ra:
            verdict_ = self._with_tdreport_binding(verdict_, peer)
        self._log_verdict(verdict_)
        if verdict_.failure is not None:
            raise verdict_.failure
        if peer.servtd_ext is not None:
            self.peer_servtd_ext = peer.servtd_ext

    def _check_policy_hash(self, evidence: Evidence) -> None:
        """spdm.md §6.1/§6.2 step 1: MigPolicyMy = SHA-384(the peer's pre-session blob), else 6."""
        from migtd.verifiers.common import policy_hash_rule

        blob = SessionFacts(peer_blob=self.peer_blob).require_peer_blob("SPDM policy v2")
        rule, failure = policy_hash_rule(evidence, blob, "SPDM policy v2")
        if failure is None:
            return
        error = SecureSessionError("The received mig policy hash does not match the expected peer_data hash "
                                   "(MigPolicyMy is not SHA-384 of the peer's pre-session data)")
        self._log_verdict(Verdict(Attestation(quote_bytes=len(evidence.quote or evidence.tdreport or b"")),
                                  PolicyOutcome(False, 2, (rule.name,), kind="PolicyHashMismatch",
                                                reason=error.message), (rule,), failure=error))
        raise error

    def _with_tdreport_binding(self, judged: Verdict, peer: PeerEvidence) -> Verdict:
        """Rebinding: the TDREPORT must carry SHA-384(prefix ‖ TH1), whatever the mode bypasses (§7)."""
        attested = judged.attestation._replace(
            bypassed=tuple(b for b in judged.attestation.bypassed if b != "reportdata_binding"))
        warnings = tuple(w for w in judged.warnings if w != verdict.BINDING_BYPASS_WARNING)
        judged = judged._replace(attestation=attested, warnings=warnings)
        if judged.failure is not None:
            return judged
        if peer.evidence[_TDREPORT_REPORT_DATA] != peer.expected_report_data[:48]:
            return judged._replace(failure=MigtdError(
                "Rebind peer REPORTDATA does not match the expected TH1 binding (the peer's TD report does not "
                "carry SHA-384(prefix || TH1) of this session)", MigrationResult.MutualAttestationError))
        return judged

    def _log_verdict(self, judged: Verdict) -> None:
        """The verdict as RA-TLS logs it: warnings, ``peer_attested``, each rule, ``policy_decision``."""
        for warning in judged.warnings:
            self.log.warn(warning)
        attested = judged.attestation
        self.log.emit("peer_attested", f"Peer quote {'verified' if attested.verified else 'NOT verified'}",
                      "info" if attested.verified else "warn", **attested.event_fields())
        for rule in judged.rules:
            fields = rule.as_event()
            self.log.emit("policy_rule", f"Policy {fields['section']}.{fields['field']}: "
                          f"{'ok' if rule.ok else 'FAILED'}", "info" if rule.ok else "warn", **fields)
        decision, level = judged.policy.label()
        self.log.emit("policy_decision", f"Policy decision: {decision}", level, **judged.policy.event_fields())

    # ------------------------------------------------------------------ MigrationInfoExchange
    def local_info(self) -> MigrationInfo:
        """Our MSK (TDCS MIG_ENC_KEY) and version range (export on the source, import on the destination)."""
        bh, uuid = self._where
        lo_field, hi_field = ((MIN_EXPORT_VERSION, MAX_EXPORT_VERSION) if self.is_source
                              else (MIN_IMPORT_VERSION, MAX_IMPORT_VERSION))
        self.local = MigrationInfo(self.store.read_key(bh, uuid, MIG_ENC_KEY), self.store.sys_rd(lo_field),
                                   self.store.sys_rd(hi_field))
        return self.local

    def accept_peer_info(self, peer: MigrationInfo) -> None:
        """spdm.md §3.9: SERVTD_ATTR (destination), version, MIG_VERSION, MIG_DEC_KEY, approved SERVTD_EXT hash."""
        bh, uuid = self._where
        local = self.local or self.local_info()
        if not self.is_source and self.store.servtd_rd(bh, uuid, SERVTD_ATTR) != 0:
            raise MigtdError("SERVTD_ATTR is not zero", MigrationResult.InvalidParameter)
        version = negotiate_version((local.min_version, local.max_version), (peer.min_version, peer.max_version),
                                    is_source=self.is_source)
        self.store.servtd_wr(bh, uuid, MIG_VERSION, version)
        self.store.write_key(bh, uuid, MIG_DEC_KEY, peer.key)
        if not self.is_source and self.policy_version == 2 and self.peer_servtd_ext:
            self.store.write_bytes(bh, uuid, rebind_fields.SERVTD_ACCEPT_SERVTD_EXT_HASH,
                                   rebind_fields.accept_hash(self.peer_servtd_ext))
        self.log.info("Set MSK and report status")
        source_key = local.key if self.is_source else peer.key
        self.log.emit("msk_exchanged", f"Migration session key exchanged, version {version}",
                      mig_version=version, key_sha256_8=key_fingerprint(source_key))

    # ------------------------------------------------------------------ RebindExchange
    def new_token(self) -> bytes:
        """The old MigTD's rebind session token: 32 fresh random bytes."""
        from migtd.protocol import rebind as token_step

        return token_step.new_token()

    def approve(self, token: bytes) -> None:
        """Old MigTD after op 0x0A: TDG.SERVTD.REBIND.APPROVE (emulated) with the token."""
        bh, uuid = self._where
        self.store.approve_rebind(bh, uuid, token)
        self.log.info("Rebinding token sent; TDG.SERVTD.REBIND.APPROVE emulated")

    def accept_token(self, token: bytes, servtd_ext: bytes) -> None:
        """New MigTD on op 0x09: the token, SERVTD_REBIND_ATTR and the approved SERVTD_EXT hash."""
        from migtd.protocol import rebind as token_step

        bh, uuid = self._where
        accepted = token_step.accept(token, servtd_ext)
        rebind_fields.store_accept(self.store, bh, uuid, accepted.token, accepted.servtd_ext)
        self.log.info("Rebinding token accepted; SERVTD_REBIND_ACCEPT_TOKEN, SERVTD_REBIND_ATTR and "
                      "SERVTD_ACCEPT_SERVTD_EXT_HASH written")


def endpoint_for(hooks: MigtdHooks) -> Requester | Responder:
    """The requester (source, old MigTD) or responder (destination, new MigTD) ``hooks`` plays."""
    cls = Requester if hooks.is_source else Responder
    if hooks.mode is Mode.MIGRATION:
        return cls(attester=hooks, verifier=hooks, migration=hooks)
    return cls(attester=hooks, verifier=hooks, rebind=hooks, mode=Mode.REBIND)


class EventLogger:
    """Turns the state machine's events into the typed ``spdm_*`` records (docs/events.md)."""

    def __init__(self, log: EventLog) -> None:
        self.log = log
        self._spkis: tuple[bytes, bytes] = (b"", b"")
        self.session_id = 0

    def __call__(self, events: list[ev.Event]) -> None:
        log = self.log
        for event in events:
            if isinstance(event, ev.Negotiated):
                log.emit("spdm_negotiated", "SPDM 1.2 negotiated: version, capabilities and algorithms",
                         version=f"{event.version >> 4}.{event.version & 0xF}",
                         peer_capabilities=f"0x{event.peer_flags:08X}",
                         peer_data_transfer_size=event.peer_data_transfer_size,
                         peer_max_message_size=event.peer_max_message_size)
            elif isinstance(event, ev.PublicKeysExchanged):
                self._spkis = (event.local_spki, event.peer_spki)
                log.debug("SPDM public keys exchanged (vendor-defined ExchangePubKey)")
            elif isinstance(event, ev.KeyExchanged):
                self.session_id = event.session_id
                log.emit("spdm_key_exchanged", f"SPDM KEY_EXCHANGE done, session 0x{event.session_id:08X}",
                         session_id=f"0x{event.session_id:08X}", th1=event.th1.hex().upper(),
                         local_spki_sha256_8=_fingerprint(self._spkis[0]),
                         peer_spki_sha256_8=_fingerprint(self._spkis[1]))
            elif isinstance(event, ev.EvidenceExchanged):
                log.emit("spdm_evidence_exchanged",
                         f"SPDM attestation info exchanged: {event.sent_bytes} bytes sent, "
                         f"{event.received_bytes} received", sent_bytes=event.sent_bytes,
                         received_bytes=event.received_bytes, chunks_sent=event.chunks_sent,
                         chunks_received=event.chunks_received)
            elif isinstance(event, ev.HandshakeFinished):
                log.emit("spdm_finished", "SPDM FINISH verified; secured session established",
                         th2=event.th2.hex().upper())
            elif isinstance(event, ev.RebindTokenExchanged):
                log.info("Rebind token exchanged in the secured session")
            elif isinstance(event, ev.SessionEnded):
                log.emit("spdm_session_ended", "SPDM END_SESSION acknowledged",
                         session_id=f"0x{self.session_id:08X}")
            elif isinstance(event, ev.Failed):
                reason = failure_reason(event)
                log.emit("spdm_failed", f"SPDM session failed in the {event.phase.value} phase: {reason}", "error",
                         phase=event.phase.value, code=int(event.result), result=event.result.name, reason=reason)


def failure_reason(failed: ev.Failed) -> str:
    """One line for the operator; a peer's ERROR says which code it refused with."""
    error = failed.error
    if isinstance(error, PeerError):
        if error.peer_error_code == ErrorCode.VendorDefined and failed.result != MigrationResult.SecureSessionError:
            return (f"the peer refused with {failed.result.name} ({int(failed.result)}; SPDM ERROR VendorDefined) "
                    f"in the {failed.phase.value} phase")
        return f"{error.message} in the {failed.phase.value} phase"
    return failed.reason


def drive(endpoint: Requester | Responder, link: Link, log: EventLog, on_events: EventLogger | None = None) -> None:
    """Run ``endpoint`` over ``link`` to its end; a failure is raised as :class:`MigtdError` with its code.

    Transport failures are SecureSessionError (spdm.md §6.4: the peer closed,
    a write failed), a phase past its deadline NetworkError (5).
    """
    on_events = on_events or EventLogger(log)
    if isinstance(endpoint, Requester):
        endpoint.start()
    link.begin(HANDSHAKE)
    in_data_phase = False
    while True:
        _flush(endpoint, link, on_events)
        if endpoint.done:
            break
        if not in_data_phase and endpoint.phase in _DATA_PHASES:
            link.begin(KEY_EXCHANGE)
            in_data_phase = True
        try:
            data = link.recv_some()
        except TransportTimeout as exc:
            on_events(endpoint.abort(TransportTimeout(f"{exc.message}; SPDM phase: {endpoint.phase.value}")))
            continue
        except NetworkError as exc:
            on_events(endpoint.abort(SecureSessionError(f"SPDM transport failed in the {endpoint.phase.value} "
                                                        f"phase: {exc.message}")))
            continue
        on_events(endpoint.receive_data(data))
    failed = endpoint.failure
    if failed is not None:
        raise MigtdError(failure_reason(failed), failed.result)


def _flush(endpoint: Requester | Responder, link: Link, on_events: EventLogger) -> None:
    """Send every queued write; a failed write ends the session (after that, writes are best effort)."""
    for write in endpoint.data_to_send():
        if endpoint.done and endpoint.failure is not None:
            try:
                link.send(write)  # an ERROR the peer may never read
            except NetworkError:
                pass
            continue
        try:
            link.send(write)
        except TransportTimeout as exc:
            on_events(endpoint.abort(exc))
        except NetworkError as exc:
            on_events(endpoint.abort(SecureSessionError(f"SPDM transport failed: {exc.message}")))


def run(hooks: MigtdHooks, link: Link) -> None:
    """The whole SPDM exchange of one migration or rebinding for ``hooks``' side (after the pre-session)."""
    role = "requester" if hooks.is_source else "responder"
    what = "migration" if hooks.mode is Mode.MIGRATION else "rebinding"
    hooks.log.info(f"SPDM {what} as {role} (spdm_attestation): SPDM 1.2, MigTD vendor-defined messages")
    endpoint = endpoint_for(hooks)
    on_events = EventLogger(hooks.log)
    hooks.before_work = lambda: on_events(endpoint.take_events())
    drive(endpoint, link, hooks.log, on_events)
    hooks.log.info("MSK exchange completed" if hooks.mode is Mode.MIGRATION else "Rebind completed")
