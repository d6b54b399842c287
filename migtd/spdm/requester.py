"""The SPDM requester: MigTD's migration source (and rebinding "old" MigTD).

It drives the ladder of spec/spdm.md §1 — GET_VERSION … ALGORITHMS, the
public-key VDM, KEY_EXCHANGE, the attestation VDM (chunked when it exceeds
the DataTransferSize), FINISH, then the secured MSK (or rebind-token) VDM and
END_SESSION — one request at a time. Every response is checked against the
request it answers: wrong message, wrong version, bad signature or
VerifyData, unexpected algorithms, malformed or oversized bytes end the
session with ``Failed`` and SecureSessionError; an ERROR from the peer ends
it with the result of spdm.md §6.3 (VendorDefined ERROR data = the peer's
MigrationResult; never Success); a hook's MigtdError ends it with that
error's result.

Usage (sans I/O)::

    req = Requester(attester=..., verifier=..., migration=...)
    req.start()
    while not req.done:
        for write in req.data_to_send(): send_frame(write)
        data = recv()                      # with the driver's deadline
        events = req.receive_data(data) if data else req.receive_eof()
    req.result                             # MigrationResult
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
from migtd.spdm.chunking import LargeRequestSender, LargeResponseReceiver, needs_chunking
from migtd.spdm.constants import (
    FINISH_CONTEXT,
    HALF_SESSION_ID,
    KEY_EXCHANGE_RSP_CONTEXT,
    MIGTD_CAPABILITIES,
    MUT_AUTH_REQUESTED,
    RANDOM_SIZE,
    SECURED_MESSAGE_VERSION_12,
    SLOT_PARAM_PROVISIONED,
    SLOT_PROVISIONED_KEY,
    SPDM_VERSION_10,
    SPDM_VERSION_12,
    Cap,
    ErrorCode,
)
from migtd.spdm.errors import (
    AuthenticationError,
    DecodeError,
    LimitError,
    LocalProtocolError,
    NegotiationError,
    PeerError,
    ProtocolError,
    SpdmError,
)
from migtd.spdm.hooks import (
    LocalEvidence,
    MigrationInfo,
    Mode,
    PeerEvidence,
    Role,
)
from migtd.spdm.key_schedule import HandshakeKeys, KeySchedule
from migtd.spdm.secured import RecordOpener, RecordSealer, session_id
from migtd.spdm.transcript import requester_report_data, responder_report_data, vdm_pair_hash
from migtd.spdm.transport import Record, RecordType


class _Wait(enum.Enum):
    """What the requester waits for."""

    NOT_STARTED = enum.auto()
    VERSION = enum.auto()
    CAPABILITIES = enum.auto()
    ALGORITHMS = enum.auto()
    PUBLIC_KEY = enum.auto()
    KEY_EXCHANGE_RSP = enum.auto()
    ATTESTATION = enum.auto()
    FINISH_RSP = enum.auto()
    SECURED_INFO = enum.auto()
    END_SESSION_ACK = enum.auto()


_SECURED = frozenset({_Wait.SECURED_INFO, _Wait.END_SESSION_ACK})


def _evidence_failure(exc: ValueError) -> MigtdError:
    return MigtdError(f"local evidence is malformed: {exc}", MigrationResult.MutualAttestationError)


class Requester(Endpoint):
    """Sans-I/O SPDM requester for MigTD's migration or rebinding ladder."""

    role = Role.REQUESTER

    def _init_ladder(self) -> None:
        self._wait = _Wait.NOT_STARTED
        self._peer_caps: m.Capabilities | None = None
        self._sent: bytes = b""                      # the request the current response answers
        self._chunk_out: LargeRequestSender | None = None
        self._chunk_in: LargeResponseReceiver | None = None
        self._chunk_handle = 0
        self._chunks_sent = 0
        self._chunks_received = 0
        self._signing_key: ec.EllipticCurvePrivateKey | None = None
        self._peer_key: ec.EllipticCurvePublicKey | None = None
        self._local_spki = b""
        self._dhe_key: ec.EllipticCurvePrivateKey | None = None
        self._schedule: KeySchedule | None = None
        self._handshake: HandshakeKeys | None = None
        self._local_info: MigrationInfo | None = None
        self._token = b""

    # --- driver API -------------------------------------------------------------------

    def start(self) -> None:
        """Queue GET_VERSION: the requester speaks first."""
        if self._wait is not _Wait.NOT_STARTED:
            raise LocalProtocolError("start() called twice")
        self._wait = _Wait.VERSION
        self._request(codec.encode(m.GetVersion()))

    # --- sending ------------------------------------------------------------------------

    def _request(self, message: bytes) -> None:
        """Send a clear request, chunked when it exceeds what the responder takes in one message."""
        self._sent = message
        peer_dts = self._peer_caps.data_transfer_size if self._peer_caps else self.local_dts
        if not needs_chunking(len(message), self.local_dts, peer_dts):
            self._send_plain(message)
            return
        if self._peer_caps is None or not self._peer_caps.flags & Cap.CHUNK:
            raise NegotiationError(f"{len(message)}-byte request needs chunking, which the responder lacks")
        self._chunk_handle = (self._chunk_handle + 1) & 0xFF
        self._chunk_out = LargeRequestSender(message, self._chunk_handle, min(self.local_dts, peer_dts),
                                             self._peer_caps.max_spdm_msg_size)
        self._chunks_sent += self._chunk_out.chunk_count
        self._send_plain(self._chunk_out.next_chunk())

    # --- receiving ------------------------------------------------------------------------

    def _on_record(self, record: Record) -> None:
        if self._wait is _Wait.NOT_STARTED:
            raise ProtocolError("data from the responder before start()")
        if self._wait in _SECURED:
            if record.type is not RecordType.SECURED:
                raise DecodeError("VmCall record", "message type", 6, "plain SPDM message inside the session")
            self._on_response(self._open(record))
            return
        if record.type is not RecordType.SPDM:
            raise DecodeError("VmCall record", "message type", 6, "secured record before the session is established")
        if len(record.body) > self.local_dts:
            raise LimitError("SPDM message", "length", 0,
                             f"{len(record.body)} bytes exceed the DataTransferSize {self.local_dts}")
        if self._chunk_out is not None:
            reply = self._chunk_out.on_reply(codec.decode(record.body))
            if reply is None:
                self._send_plain(self._chunk_out.next_chunk())
                return
            self._chunk_out = None
            self._on_response(reply)
            return
        if self._chunk_in is not None:
            whole = self._chunk_in.accept(codec.decode(record.body))
            if whole is None:
                self._send_plain(self._chunk_in.request())
                return
            self._chunks_received += self._chunk_in.chunks
            self._chunk_in = None
            self._on_response(whole, reassembled=True)
            return
        self._on_response(record.body)

    def _on_response(self, raw: bytes, reassembled: bool = False) -> None:
        msg = codec.decode(raw)
        if isinstance(msg, m.ErrorResponse):
            self._on_error_response(msg, reassembled)
            return
        if msg.code not in _EXPECTED[self._wait]:
            raise ProtocolError(f"expected {_EXPECTED[self._wait][0].name}, got {msg.code.name}")
        getattr(self, _HANDLERS[self._wait])(msg, raw)

    def _on_error_response(self, msg: m.ErrorResponse, reassembled: bool) -> None:
        if msg.error_code == ErrorCode.LargeResponse:
            if reassembled or self._wait in _SECURED:
                raise ProtocolError("LargeResponse where a complete response is required")
            if self._peer_caps is None or not self._peer_caps.flags & Cap.CHUNK:
                raise ProtocolError("LargeResponse from a responder without CHUNK_CAP")
            self._chunk_in = LargeResponseReceiver(msg.extended[0], self.local_dts, self.local_max)
            self._send_plain(self._chunk_in.request())
            return
        negotiated = SPDM_VERSION_10 if self._wait in (_Wait.VERSION, _Wait.CAPABILITIES) else SPDM_VERSION_12
        if msg.version != negotiated:
            raise SpdmError(f"peer sent ERROR 0x{msg.error_code:02X} with version 0x{msg.version:02X}, "
                            f"expected 0x{negotiated:02X}")
        raise PeerError(msg.error_code, msg.error_data)

    # --- the ladder ---------------------------------------------------------------------------

    def _on_version(self, msg: m.Version, raw: bytes) -> None:
        negotiation.check_version(msg)
        self.transcript.add(self._sent)
        self.transcript.add(raw)
        self._wait = _Wait.CAPABILITIES
        req = codec.encode(m.GetCapabilities(int(MIGTD_CAPABILITIES), self.local_dts, self.local_max))
        self._request(req)

    def _on_capabilities(self, msg: m.Capabilities, raw: bytes) -> None:
        negotiation.check_capabilities(msg.flags, msg.data_transfer_size, msg.max_spdm_msg_size,
                                       from_requester=False)
        self._peer_caps = msg
        self.transcript.add(self._sent)
        self.transcript.add(raw)
        self._wait = _Wait.ALGORITHMS
        self._request(codec.encode(m.NegotiateAlgorithms()))

    def _on_algorithms(self, msg: m.Algorithms, raw: bytes) -> None:
        negotiation.check_algorithms(msg)
        self.transcript.add(self._sent)
        self.transcript.add(raw)
        assert self._peer_caps is not None
        self._emit(ev.Negotiated(SPDM_VERSION_12, self._peer_caps.flags, self._peer_caps.data_transfer_size,
                                 self._peer_caps.max_spdm_msg_size))
        self.phase = ev.Phase.PUBLIC_KEYS
        key = self._signing_key = crypto.generate_signing_key()
        self._local_spki = crypto.spki_of(key)
        self._wait = _Wait.PUBLIC_KEY
        self._request(vdm.encode_message(vdm.PubKeyRequest(self._local_spki)))

    def _on_public_key(self, msg: m.VendorDefinedResponse, raw: bytes) -> None:
        vdm.check_vendor(msg)
        body = vdm.decode_payload(msg.payload, vdm.PubKeyResponse)
        assert isinstance(body, vdm.PubKeyResponse)
        self._peer_key = crypto.load_peer_spki(body.spki)
        self.transcript.add(vdm_pair_hash(self._sent, raw))  # P
        self._emit(ev.PublicKeysExchanged(self._local_spki, body.spki))
        self.phase = ev.Phase.KEY_EXCHANGE
        dhe = self._dhe_key = crypto.generate_dhe_key()
        ke = codec.encode(m.KeyExchange(os.urandom(RANDOM_SIZE), crypto.exchange_data(dhe),
                                        opaque.encode_supported_versions(), HALF_SESSION_ID))
        self.transcript.add(ke)
        self._wait = _Wait.KEY_EXCHANGE_RSP
        self._request(ke)

    def _on_key_exchange_rsp(self, msg: m.KeyExchangeRsp, raw: bytes) -> None:
        if msg.mut_auth_requested != MUT_AUTH_REQUESTED:
            raise NegotiationError(f"MutAuthRequested 0x{msg.mut_auth_requested:02X}; MigTD requires 0x01")
        if msg.slot_id_param != SLOT_PARAM_PROVISIONED:
            raise NegotiationError(f"SlotIDParam 0x{msg.slot_id_param:02X}; MigTD requires 0x0F")
        if msg.heartbeat_period != 0:
            raise NegotiationError(f"HeartbeatPeriod {msg.heartbeat_period} without HBEAT_CAP")
        selection = opaque.decode(msg.opaque)
        if selection.data_id != opaque.SM_VERSION_SELECTION or selection.versions != (SECURED_MESSAGE_VERSION_12,):
            raise NegotiationError("KEY_EXCHANGE_RSP does not select secured-message version 1.2")
        self.transcript.add(codec.key_exchange_rsp_body(msg))
        th_kr_sig = self.transcript.digest()
        assert self._peer_key is not None and self._dhe_key is not None
        crypto.verify(self._peer_key, crypto.signing_message(KEY_EXCHANGE_RSP_CONTEXT, th_kr_sig), msg.signature,
                      "KEY_EXCHANGE_RSP")
        self.transcript.add(msg.signature)
        self.th1 = self.transcript.digest()
        shared = crypto.dhe_shared_secret(self._dhe_key, msg.exchange_data, "KEY_EXCHANGE_RSP")
        self._schedule = KeySchedule(shared)
        self._handshake = self._schedule.handshake(self.th1)
        self.session_id = session_id(HALF_SESSION_ID, msg.rsp_session_id)
        self._emit(ev.KeyExchanged(self.session_id, self.th1))
        self.phase = ev.Phase.ATTESTATION
        evidence = self._attester.local_evidence(requester_report_data(self.th1))
        try:
            request = vdm.encode_message(self._attest_request(evidence))
        except ValueError as exc:
            raise _evidence_failure(exc) from None
        self._wait = _Wait.ATTESTATION
        self._request(request)

    def _attest_request(self, e: LocalEvidence) -> vdm.VdmBody:
        if self.mode is Mode.MIGRATION:
            return vdm.MigrationAttestRequest(e.evidence, e.event_log, e.policy_hash, e.servtd_ext, e.init_tdinfo)
        return vdm.RebindAttestRequest(e.evidence, e.event_log, e.policy_hash, e.servtd_ext, e.init_tdinfo)

    def _on_attestation(self, msg: m.VendorDefinedResponse, raw: bytes) -> None:
        vdm.check_vendor(msg)
        expected = vdm.MigrationAttestResponse if self.mode is Mode.MIGRATION else vdm.RebindAttestResponse
        body = vdm.decode_payload(msg.payload, expected)
        assert isinstance(body, (vdm.MigrationAttestResponse, vdm.RebindAttestResponse)) and self.th1 is not None
        evidence = body.quote if isinstance(body, vdm.MigrationAttestResponse) else body.td_report
        self._verifier.verify_peer(PeerEvidence(self.mode, Role.RESPONDER, evidence, body.event_log,
                                                body.policy_hash, self.th1, responder_report_data(self.th1)))
        self.transcript.add(vdm_pair_hash(self._sent, raw))  # Q
        self._emit(ev.EvidenceExchanged(len(self._sent), len(raw), self._chunks_sent, self._chunks_received))
        self.phase = ev.Phase.FINISH
        header = codec.finish_header(True, SLOT_PROVISIONED_KEY)
        self.transcript.add(header)
        assert self._signing_key is not None and self._handshake is not None
        signature = crypto.sign(self._signing_key, crypto.signing_message(FINISH_CONTEXT, self.transcript.digest()))
        self.transcript.add(signature)
        verify_data = self._handshake.requester_verify_data(self.transcript.digest())
        self.transcript.add(verify_data)
        self._wait = _Wait.FINISH_RSP
        self._request(codec.encode(m.Finish(signature, verify_data, SLOT_PROVISIONED_KEY)))

    def _on_finish_rsp(self, msg: m.FinishRsp, raw: bytes) -> None:
        assert self._handshake is not None and self.session_id is not None
        self.transcript.add(raw[:4])
        expected = self._handshake.responder_verify_data(self.transcript.digest())
        if not crypto.constant_time_equal(expected, msg.verify_data):
            raise AuthenticationError("FINISH_RSP: ResponderVerifyData does not verify")
        self.transcript.add(msg.verify_data)
        self.th2 = self.transcript.digest()
        assert self._schedule is not None
        keys = self._schedule.data(self.th2)
        self._sealer = RecordSealer(self.session_id, keys.request)
        self._opener = RecordOpener(self.session_id, keys.response, max_message=self.local_dts)
        self._emit(ev.HandshakeFinished(self.th2))
        self.phase = ev.Phase.SECURED_EXCHANGE
        if self.mode is Mode.MIGRATION:
            assert self._migration is not None
            info = self._migration.local_info()
            self._local_info = info
            try:
                body: vdm.VdmBody = vdm.MigrationInfoRequest(info.min_version, info.max_version, info.key)
                message = vdm.encode_message(body)
            except (ValueError, OverflowError) as exc:
                raise MigtdError(f"local migration information is malformed: {exc}",
                                 MigrationResult.InvalidParameter) from None
        else:
            assert self._rebind is not None
            self._token = self._rebind.new_token()
            try:
                message = vdm.encode_message(vdm.RebindInfoRequest(self._token))
            except ValueError as exc:
                raise MigtdError(f"rebind token is malformed: {exc}", MigrationResult.InvalidParameter) from None
        self._wait = _Wait.SECURED_INFO
        self._sent = message
        self._send_secured(message)

    def _on_secured_info(self, msg: m.VendorDefinedResponse, raw: bytes) -> None:
        vdm.check_vendor(msg)
        if self.mode is Mode.MIGRATION:
            body = vdm.decode_payload(msg.payload, vdm.MigrationInfoResponse)
            assert isinstance(body, vdm.MigrationInfoResponse)
            assert self._migration is not None and self._local_info is not None
            peer = MigrationInfo(body.key, body.min_version, body.max_version)
            self._migration.accept_peer_info(peer)
            self._emit(ev.MigrationInfoExchanged(self._local_info, peer))
        else:
            vdm.decode_payload(msg.payload, vdm.RebindInfoResponse)
            assert self._rebind is not None
            self._rebind.approve(self._token)
            self._emit(ev.RebindTokenExchanged())
        self.phase = ev.Phase.END_SESSION
        self._wait = _Wait.END_SESSION_ACK
        self._sent = codec.encode(m.EndSession())
        self._send_secured(self._sent)

    def _on_end_session_ack(self, msg: m.EndSessionAck, raw: bytes) -> None:
        self._succeed()


_EXPECTED: dict[_Wait, tuple[m.Code, ...]] = {
    _Wait.VERSION: (m.Code.VERSION,),
    _Wait.CAPABILITIES: (m.Code.CAPABILITIES,),
    _Wait.ALGORITHMS: (m.Code.ALGORITHMS,),
    _Wait.PUBLIC_KEY: (m.Code.VENDOR_DEFINED_RESPONSE,),
    _Wait.KEY_EXCHANGE_RSP: (m.Code.KEY_EXCHANGE_RSP,),
    _Wait.ATTESTATION: (m.Code.VENDOR_DEFINED_RESPONSE,),
    _Wait.FINISH_RSP: (m.Code.FINISH_RSP,),
    _Wait.SECURED_INFO: (m.Code.VENDOR_DEFINED_RESPONSE,),
    _Wait.END_SESSION_ACK: (m.Code.END_SESSION_ACK,),
}
_HANDLERS: dict[_Wait, str] = {
    _Wait.VERSION: "_on_version",
    _Wait.CAPABILITIES: "_on_capabilities",
    _Wait.ALGORITHMS: "_on_algorithms",
    _Wait.PUBLIC_KEY: "_on_public_key",
    _Wait.KEY_EXCHANGE_RSP: "_on_key_exchange_rsp",
    _Wait.ATTESTATION: "_on_attestation",
    _Wait.FINISH_RSP: "_on_finish_rsp",
    _Wait.SECURED_INFO: "_on_secured_info",
    _Wait.END_SESSION_ACK: "_on_end_session_ack",
}
