"""The SPDM responder: MigTD's migration destination (and rebinding "new" MigTD).

It answers the requests of spec/spdm.md §1 in order and keeps nothing but
one session. Requests that arrive out of order, malformed, with the wrong
version or with a bad signature/VerifyData are answered with the SPDM ERROR
a Rust responder would send (InvalidRequest, UnexpectedRequest,
VersionMismatch, DecryptError, UnsupportedRequest, …).

When the session ends, and with what result, is where this responder is
deliberately stricter than upstream (spdm.md §6.4 lists the cases where a
Rust responder reports Success although no key was written):

* before KEY_EXCHANGE, a standard SPDM error is answered and the responder
  keeps waiting (as spdm-rs does; the driver's deadline or the peer's close
  ends it);
* once a session exists, and for every failure inside a MigTD VDM handler,
  the ERROR is sent and the session ends at once with the failure's result —
  a VDM failure is answered with ERROR VendorDefined carrying that result,
  never 0, and a rejected FINISH ends with SecureSessionError instead of 0;
* a bad secured record ends the session without an answer (no key could
  protect one).
"""

from __future__ import annotations

import enum
import os

from cryptography.hazmat.primitives.asymmetric import ec

from migtd.errors import MigtdError
from migtd.result import MigrationResult
from migtd.spdm import codec, crypto, negotiation, opaque, vdm
from migtd.spdm import events as ev
from migtd.spdm import messages as m
from migtd.spdm._endpoint import Endpoint
from migtd.spdm.chunking import LargeRequestReceiver, LargeResponseSender, needs_chunking
from migtd.spdm.constants import (
    CHUNK_RESPONSE_HEADER,
    CHUNK_RESPONSE_HEADER_FIRST,
    CHUNK_SEND_ACK_HEADER,
    FINISH_CONTEXT,
    HALF_SESSION_ID,
    KEY_EXCHANGE_RSP_CONTEXT,
    MIGTD_CAPABILITIES,
    MUT_AUTH_REQUESTED,
    RANDOM_SIZE,
    REQUEST_CODES,
    SECURED_MESSAGE_VERSION_12,
    SLOT_PARAM_PROVISIONED,
    SLOT_PROVISIONED_KEY,
    SPDM_VERSION_10,
    SPDM_VERSION_12,
    Cap,
    Code,
    ErrorCode,
)
from migtd.spdm.errors import (
    AuthenticationError,
    DecodeError,
    NegotiationError,
    ProtocolError,
    SecuredRecordError,
    SpdmError,
    UnknownMessageError,
    VersionError,
)
from migtd.spdm.hooks import (
    MigrationInfo,
    Mode,
    PeerEvidence,
    Role,
)
from migtd.spdm.key_schedule import HandshakeKeys, KeySchedule
from migtd.spdm.secured import RecordOpener, RecordSealer, session_id
from migtd.spdm.transcript import requester_report_data, responder_report_data, vdm_pair_hash
from migtd.spdm.transport import Record, RecordType


class _State(enum.IntEnum):
    """Where the responder is; the order matters (``>= HANDSHAKING``: a session exists)."""

    AWAIT_VERSION = 0
    AFTER_VERSION = 1
    AFTER_CAPABILITIES = 2
    NEGOTIATED = 3
    KEYS_PROVISIONED = 4
    HANDSHAKING = 5
    ESTABLISHED = 6
    INFO_DONE = 7


class _VdmFailure(Exception):
    """A MigTD VDM handler failed: answered with ERROR VendorDefined(result), then the session ends."""

    def __init__(self, error: MigtdError) -> None:
        super().__init__(error.message)
        self.error = error


def _vdm_state_error(message: str) -> _VdmFailure:
    return _VdmFailure(SpdmError(message))


class Responder(Endpoint):
    """Sans-I/O SPDM responder for MigTD's migration or rebinding ladder."""

    role = Role.RESPONDER

    def _init_ladder(self) -> None:
        self._state = _State.AWAIT_VERSION
        self._peer_caps: m.GetCapabilities | None = None
        self._chunks_in = LargeRequestReceiver(self.local_dts, self.local_max)
        self._large_out: LargeResponseSender | None = None
        self._rsp_handle = 0
        self._chunks_received = 0
        self._chunks_sent = 0
        self._signing_key: ec.EllipticCurvePrivateKey | None = None
        self._local_spki = b""
        self._peer_key: ec.EllipticCurvePublicKey | None = None
        self._peer_spki = b""
        self._schedule: KeySchedule | None = None
        self._handshake: HandshakeKeys | None = None
        self._q_set = False
        self._servtd_ext = b""
        self._after_reply: MigtdError | None = None
        self._end_after_reply = False

    # --- record level ----------------------------------------------------------------------

    def _on_record(self, record: Record) -> None:
        secured = record.type is RecordType.SECURED
        if secured:
            if self._state < _State.ESTABLISHED:
                raise SecuredRecordError("secured record before the session is established")
            raw = self._open(record)  # any failure ends the session without an answer
        else:
            raw = record.body
        reply = self._answer(raw, secured)
        if reply is not None:
            self._respond(reply, secured)
        if self._after_reply is not None:
            err, self._after_reply = self._after_reply, None
            self._fail(err)
        elif self._end_after_reply:
            self._succeed()

    def _answer(self, raw: bytes, secured: bool) -> bytes | None:
        """The response message for one request (an ERROR when it is refused)."""
        try:
            return self._handle(raw, secured)
        except _VdmFailure as failure:
            self._after_reply = failure.error
            result = failure.error.result if failure.error.result != MigrationResult.Success \
                else MigrationResult.SecureSessionError
            return self._error(ErrorCode.VendorDefined, int(result))
        except MigtdError as exc:
            code = exc.error_code if isinstance(exc, SpdmError) else ErrorCode.Unspecified
            data = raw[1] if isinstance(exc, UnknownMessageError) and len(raw) > 1 else 0
            if self._state >= _State.HANDSHAKING:
                self._after_reply = exc
            return self._error(code, data)

    def _error(self, code: int, data: int = 0) -> bytes:
        version = SPDM_VERSION_10 if self._state <= _State.AFTER_VERSION else SPDM_VERSION_12
        return codec.encode(m.ErrorResponse(code, data & 0xFF, b"", version))

    def _respond(self, reply: bytes, secured: bool) -> None:
        if secured:
            self._send_secured(reply)
            return
        peer_dts = self._peer_caps.data_transfer_size if self._peer_caps else self.local_dts
        if not needs_chunking(len(reply), self.local_dts, peer_dts):
            self._send_plain(reply)
            return
        peer_max = self._peer_caps.max_spdm_msg_size if self._peer_caps else self.local_max
        chunk_ok = self._peer_caps is not None and bool(self._peer_caps.flags & Cap.CHUNK)
        if len(reply) > peer_max or not chunk_ok:
            why = "exceeds the requester's MaxSPDMmsgSize" if chunk_ok else "needs chunking the requester lacks"
            self._after_reply = self._after_reply or SpdmError(f"{len(reply)}-byte response {why}")
            self._send_plain(self._error(ErrorCode.ResponseTooLarge))
            return
        self._rsp_handle = (self._rsp_handle + 1) & 0xFF
        self._large_out = LargeResponseSender(reply, self._rsp_handle, min(self.local_dts, peer_dts))
        self._send_plain(self._large_out.announcement(SPDM_VERSION_12))

    # --- request level ----------------------------------------------------------------------

    def _handle(self, raw: bytes, secured: bool) -> bytes | None:
        _, code = codec.peek_code(raw)
        if code not in REQUEST_CODES:
            raise UnknownMessageError("SPDM request", "RequestResponseCode", 1,
                                      f"0x{code:02X} is not a request this responder serves")
        if self._large_out is not None and code != Code.CHUNK_GET:
            # spdm-rs: another request abandons the pending large response and skips a handle
            self._large_out = None
            self._rsp_handle = (self._rsp_handle + 1) & 0xFF
        msg = codec.decode(raw)
        if isinstance(msg, m.ChunkGet):
            return self._on_chunk_get(msg)
        if isinstance(msg, m.ChunkSend):
            if secured:
                raise ProtocolError("CHUNK_SEND inside the session")
            return self._on_chunk_send(msg)
        return self._dispatch(msg, raw, secured)

    def _dispatch(self, msg: m.Message, raw: bytes, secured: bool) -> bytes:
        if secured != (self._state >= _State.ESTABLISHED) and not isinstance(msg, m.VendorDefinedRequest):
            raise ProtocolError(f"{msg.code.name} {'inside' if secured else 'outside'} the session")
        if isinstance(msg, m.GetVersion):
            return self._on_get_version()
        if isinstance(msg, m.GetCapabilities):
            return self._on_get_capabilities(msg, raw)
        if isinstance(msg, m.NegotiateAlgorithms):
            return self._on_negotiate_algorithms(msg, raw)
        if isinstance(msg, m.VendorDefinedRequest):
            return self._on_vendor_defined(msg, raw, secured)
        if isinstance(msg, m.KeyExchange):
            return self._on_key_exchange(msg, raw)
        if isinstance(msg, m.Finish):
            return self._on_finish(msg, raw)
        if isinstance(msg, m.EndSession):
            return self._on_end_session()
        raise ProtocolError(f"{msg.code.name} is not a request")  # pragma: no cover - REQUEST_CODES guard

    # --- chunks ---------------------------------------------------------------------------------

    def _on_chunk_send(self, chunk: m.ChunkSend) -> bytes:
        if self._peer_caps is None or not self._peer_caps.flags & Cap.CHUNK:
            raise SpdmError("CHUNK_SEND without negotiated chunking", error_code=ErrorCode.UnsupportedRequest)
        whole = self._chunks_in.accept(chunk)
        self._chunks_received += 1
        if whole is None:
            return self._chunks_in.ack(chunk)
        _, code = codec.peek_code(whole)
        if code in (Code.CHUNK_SEND, Code.CHUNK_GET):
            raise DecodeError("CHUNK_SEND", "LargeMessage", 0, "a chunked chunk message")
        response = self._answer(whole, secured=False)
        assert response is not None
        peer_dts = self._peer_caps.data_transfer_size
        if len(response) + CHUNK_SEND_ACK_HEADER <= min(self.local_dts, peer_dts):
            return self._chunks_in.ack(chunk, response)
        # what a Rust responder does: a bare LargeResponse, then CHUNK_GET
        if len(response) > self._peer_caps.max_spdm_msg_size:
            self._after_reply = self._after_reply or SpdmError("response exceeds the requester's MaxSPDMmsgSize")
            return self._error(ErrorCode.ResponseTooLarge)
        self._rsp_handle = (self._rsp_handle + 1) & 0xFF
        self._large_out = LargeResponseSender(response, self._rsp_handle, min(self.local_dts, peer_dts))
        return self._large_out.announcement(SPDM_VERSION_12)

    def _on_chunk_get(self, get: m.ChunkGet) -> bytes:
        if self._large_out is None:
            raise ProtocolError("CHUNK_GET without a pending large response")
        try:
            out = self._large_out.serve(get)
        except DecodeError:
            self._large_out = None
            raise
        self._chunks_sent += 1
        if self._large_out.done:
            self._large_out = None
        return out

    def _chunks_for(self, response: bytes) -> int:
        """How many CHUNK_RESPONSEs ``response`` will take (0 when it goes in one message)."""
        dts = min(self.local_dts, self._peer_caps.data_transfer_size if self._peer_caps else self.local_dts)
        if len(response) <= dts:
            return 0
        first = dts - CHUNK_RESPONSE_HEADER_FIRST
        return 1 + -(-(len(response) - first) // (dts - CHUNK_RESPONSE_HEADER))

    # --- negotiation ------------------------------------------------------------------------------

    def _on_get_version(self) -> bytes:
        if self._state > _State.NEGOTIATED:
            raise ProtocolError("GET_VERSION after the public keys were exchanged")
        # GET_VERSION restarts the connection (DSP0274); A starts again
        self.transcript = type(self.transcript)()
        self._peer_caps = None
        self._state = _State.AFTER_VERSION
        response = codec.encode(m.Version())
        self.transcript.add(codec.encode(m.GetVersion()))
        self.transcript.add(response)
        return response

    def _on_get_capabilities(self, msg: m.GetCapabilities, raw: bytes) -> bytes:
        if self._state != _State.AFTER_VERSION:
            raise ProtocolError("GET_CAPABILITIES out of order")
        negotiation.check_capabilities(msg.flags, msg.data_transfer_size, msg.max_spdm_msg_size,
                                       from_requester=True)
        self._peer_caps = msg
        response = codec.encode(m.Capabilities(int(MIGTD_CAPABILITIES), self.local_dts, self.local_max))
        self.transcript.add(raw)
        self.transcript.add(response)
        self._state = _State.AFTER_CAPABILITIES
        return response

    def _on_negotiate_algorithms(self, msg: m.NegotiateAlgorithms, raw: bytes) -> bytes:
        if self._state != _State.AFTER_CAPABILITIES:
            raise ProtocolError("NEGOTIATE_ALGORITHMS out of order")
        response = codec.encode(negotiation.select_algorithms(msg))
        self.transcript.add(raw)
        self.transcript.add(response)
        self._state = _State.NEGOTIATED
        assert self._peer_caps is not None
        self._emit(ev.Negotiated(SPDM_VERSION_12, self._peer_caps.flags, self._peer_caps.data_transfer_size,
                                 self._peer_caps.max_spdm_msg_size))
        self.phase = ev.Phase.PUBLIC_KEYS
        return response

    # --- vendor-defined messages ---------------------------------------------------------------------

    def _on_vendor_defined(self, msg: m.VendorDefinedRequest, raw: bytes, secured: bool) -> bytes:
        if self._state <= _State.AFTER_VERSION:
            # the negotiated version is still 1.0 (spdm.md §3.5)
            raise VersionError("VENDOR_DEFINED_REQUEST", "SPDMVersion", 0, "0x12 before GET_CAPABILITIES")
        vdm.check_vendor(msg)
        try:
            op = vdm.peek_op(msg.payload)
            if op == vdm.Op.ExchangePubKeyReq:
                return self._on_public_key(msg, raw)
            if op in (vdm.Op.ExchangeMigrationAttestInfoReq, vdm.Op.ExchangeRebindAttestInfoReq):
                return self._on_attestation(op, msg, raw, secured)
            if op in (vdm.Op.ExchangeMigrationInfoReq, vdm.Op.ExchangeRebindInfoReq):
                return self._on_secured_info(op, msg, secured)
            raise DecodeError("VdmMessage", "op code", 2, f"0x{op:02X} is not a request op")
        except MigtdError as exc:
            raise _VdmFailure(exc) from None

    def _on_public_key(self, msg: m.VendorDefinedRequest, raw: bytes) -> bytes:
        if self._state != _State.NEGOTIATED:
            raise SpdmError("cannot exchange public keys now: "
                            + ("ALGORITHMS not negotiated" if self._state < _State.NEGOTIATED else "already done"))
        body = vdm.decode_payload(msg.payload, vdm.PubKeyRequest)
        assert isinstance(body, vdm.PubKeyRequest)
        self._peer_key = crypto.load_peer_spki(body.spki)
        self._peer_spki = body.spki
        key = self._signing_key = crypto.generate_signing_key()
        self._local_spki = crypto.spki_of(key)
        response = vdm.encode_message(vdm.PubKeyResponse(self._local_spki))
        self.transcript.add(vdm_pair_hash(raw, response))  # P
        self._state = _State.KEYS_PROVISIONED
        self._emit(ev.PublicKeysExchanged(self._local_spki, body.spki))
        self.phase = ev.Phase.KEY_EXCHANGE
        return response

    def _on_attestation(self, op: int, msg: m.VendorDefinedRequest, raw: bytes, secured: bool) -> bytes:
        wanted = vdm.Op.ExchangeMigrationAttestInfoReq if self.mode is Mode.MIGRATION \
            else vdm.Op.ExchangeRebindAttestInfoReq
        if op != wanted:
            raise DecodeError("VdmMessage", "op code", 2, f"op 0x{op:02X} in a {self.mode.value} session")
        if self._state != _State.HANDSHAKING or secured:
            raise SpdmError("attestation info without a handshaking session")
        if self._q_set:
            raise SpdmError("attestation info has already been exchanged")
        assert self.th1 is not None
        if self.mode is Mode.MIGRATION:
            body = vdm.decode_payload(msg.payload, vdm.MigrationAttestRequest)
            assert isinstance(body, vdm.MigrationAttestRequest)
            evidence = body.quote
        else:
            body = vdm.decode_payload(msg.payload, vdm.RebindAttestRequest)
            assert isinstance(body, vdm.RebindAttestRequest)
            evidence = body.td_report
        # upstream's order (spdm.md §3.7): the responder's own evidence first (a policy v1
        # verifier checks its own quote before the peer's), then the peer is judged
        local = self._attester.local_evidence(responder_report_data(self.th1))
        self._verifier.verify_peer(PeerEvidence(
            self.mode, Role.REQUESTER, evidence, body.event_log, body.policy_hash, self.th1,
            requester_report_data(self.th1), body.servtd_ext, body.init_tdinfo))
        try:
            rbody: vdm.VdmBody = (
                vdm.MigrationAttestResponse(local.evidence, local.event_log, local.policy_hash)
                if self.mode is Mode.MIGRATION
                else vdm.RebindAttestResponse(local.evidence, local.event_log, local.policy_hash))
            response = vdm.encode_message(rbody)
        except ValueError as exc:
            raise MigtdError(f"local evidence is malformed: {exc}", MigrationResult.MutualAttestationError) from None
        self._servtd_ext = body.servtd_ext
        self.transcript.add(vdm_pair_hash(raw, response))  # Q
        self._q_set = True
        self._emit(ev.EvidenceExchanged(len(response), len(raw), self._chunks_for(response), self._chunks_received))
        self.phase = ev.Phase.FINISH
        return response

    def _on_secured_info(self, op: int, msg: m.VendorDefinedRequest, secured: bool) -> bytes:
        if not secured:
            raise SpdmError("migration information received outside the secured session")
        if self._state != _State.ESTABLISHED:
            raise SpdmError("secured information exchanged twice")
        if self.mode is Mode.MIGRATION:
            if op != vdm.Op.ExchangeMigrationInfoReq:
                raise DecodeError("VdmMessage", "op code", 2, f"op 0x{op:02X} in a migration session")
            body = vdm.decode_payload(msg.payload, vdm.MigrationInfoRequest)
            assert isinstance(body, vdm.MigrationInfoRequest) and self._migration is not None
            peer = MigrationInfo(body.key, body.min_version, body.max_version)
            local = self._migration.local_info()
            self._migration.accept_peer_info(peer)
            try:
                response = vdm.encode_message(vdm.MigrationInfoResponse(local.min_version, local.max_version,
                                                                        local.key))
            except (ValueError, OverflowError) as exc:
                raise MigtdError(f"local migration information is malformed: {exc}",
                                 MigrationResult.InvalidParameter) from None
            self._emit(ev.MigrationInfoExchanged(local, peer))
        else:
            if op != vdm.Op.ExchangeRebindInfoReq:
                raise DecodeError("VdmMessage", "op code", 2, f"op 0x{op:02X} in a rebind session")
            rbody = vdm.decode_payload(msg.payload, vdm.RebindInfoRequest)
            assert isinstance(rbody, vdm.RebindInfoRequest) and self._rebind is not None
            self._rebind.accept_token(rbody.token, self._servtd_ext)
            response = vdm.encode_message(vdm.RebindInfoResponse())
            self._emit(ev.RebindTokenExchanged())
        self._state = _State.INFO_DONE
        self.phase = ev.Phase.END_SESSION
        return response

    # --- session ----------------------------------------------------------------------------------------

    def _on_key_exchange(self, msg: m.KeyExchange, raw: bytes) -> bytes:
        if self._state == _State.NEGOTIATED:
            raise SpdmError("KEY_EXCHANGE before the public keys were exchanged",
                            error_code=ErrorCode.InvalidRequest)
        if self._state != _State.KEYS_PROVISIONED:
            raise ProtocolError("KEY_EXCHANGE out of order")
        if msg.measurement_hash_type != 0:
            raise DecodeError("KEY_EXCHANGE", "Param1", 2, "measurement summary hash requested without MEAS_CAP")
        if msg.slot_id != SLOT_PROVISIONED_KEY:
            raise DecodeError("KEY_EXCHANGE", "Param2", 3, f"SlotID 0x{msg.slot_id:02X}; only 0xFF (provisioned key)")
        offer = opaque.decode(msg.opaque)
        if offer.data_id != opaque.SM_SUPPORTED_VERSION_LIST or SECURED_MESSAGE_VERSION_12 not in offer.versions:
            raise NegotiationError("KEY_EXCHANGE does not offer secured-message version 1.2")
        dhe = crypto.generate_dhe_key()
        shared = crypto.dhe_shared_secret(dhe, msg.exchange_data, "KEY_EXCHANGE")
        rsp = m.KeyExchangeRsp(os.urandom(RANDOM_SIZE), crypto.exchange_data(dhe), opaque.encode_version_selection(),
                               b"", HALF_SESSION_ID, MUT_AUTH_REQUESTED, SLOT_PARAM_PROVISIONED, 0)
        self.transcript.add(raw)
        self.transcript.add(codec.key_exchange_rsp_body(rsp))
        assert self._signing_key is not None
        signature = crypto.sign(self._signing_key,
                                crypto.signing_message(KEY_EXCHANGE_RSP_CONTEXT, self.transcript.digest()))
        self.transcript.add(signature)
        self.th1 = self.transcript.digest()
        self._schedule = KeySchedule(shared)
        self._handshake = self._schedule.handshake(self.th1)
        self.session_id = session_id(msg.req_session_id, HALF_SESSION_ID)
        self._state = _State.HANDSHAKING
        self._emit(ev.KeyExchanged(self.session_id, self.th1))
        self.phase = ev.Phase.ATTESTATION
        return codec.key_exchange_rsp_body(rsp) + signature

    def _on_finish(self, msg: m.Finish, raw: bytes) -> bytes:
        if self._state != _State.HANDSHAKING:
            raise ProtocolError("FINISH without a handshaking session")
        if not self._q_set:
            raise ProtocolError("FINISH before the attestation exchange")
        if not msg.signature:
            raise DecodeError("FINISH", "Param1", 2, "no signature although mutual authentication was requested")
        if msg.slot_id != SLOT_PROVISIONED_KEY:
            raise DecodeError("FINISH", "Param2", 3, f"ReqSlotID 0x{msg.slot_id:02X}, expected 0xFF")
        assert self._peer_key is not None and self._handshake is not None and self._schedule is not None
        self.transcript.add(raw[:4])
        crypto.verify(self._peer_key, crypto.signing_message(FINISH_CONTEXT, self.transcript.digest()),
                      msg.signature, "FINISH")
        self.transcript.add(msg.signature)
        if not crypto.constant_time_equal(self._handshake.requester_verify_data(self.transcript.digest()),
                                          msg.verify_data):
            raise AuthenticationError("FINISH: RequesterVerifyData does not verify")
        self.transcript.add(msg.verify_data)
        header = bytes((SPDM_VERSION_12, Code.FINISH_RSP, 0, 0))
        self.transcript.add(header)
        verify_data = self._handshake.responder_verify_data(self.transcript.digest())
        self.transcript.add(verify_data)
        self.th2 = self.transcript.digest()
        keys = self._schedule.data(self.th2)
        assert self.session_id is not None
        self._sealer = RecordSealer(self.session_id, keys.response)
        self._opener = RecordOpener(self.session_id, keys.request, max_message=self.local_dts)
        self._state = _State.ESTABLISHED
        self._emit(ev.HandshakeFinished(self.th2))
        self.phase = ev.Phase.SECURED_EXCHANGE
        return header + verify_data

    def _on_end_session(self) -> bytes:
        if self._state < _State.ESTABLISHED:
            raise ProtocolError("END_SESSION outside a session")
        if self._state == _State.ESTABLISHED:
            # upstream reports Success here although no key was exchanged (spdm.md §6.4)
            self._after_reply = SpdmError("requester ended the session before the secured exchange")
        else:
            self._end_after_reply = True
        return codec.encode(m.EndSessionAck())
