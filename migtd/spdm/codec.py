"""Encode and decode the SPDM 1.2 messages of MigTD's ladder (spec/spdm.md §3).

``encode(message) -> bytes`` and ``decode(data) -> message`` are exact
inverses for every well-formed message. Decoding is strict where a Rust
MigTD is exact: every message has one valid length (no trailing bytes),
reserved fields and reserved bits must be zero, and each length field is
checked against the bytes present before anything is sliced. The
SPDMVersion byte must be 1.0 for GET_VERSION/VERSION, 1.0 or 1.2 for ERROR
(a responder answers 1.0 before GET_CAPABILITIES) and 1.2 for everything
else; anything else is a :class:`VersionError`.

The KEY_EXCHANGE_RSP layout depends on the negotiated session: this codec
decodes MigTD's (no MeasurementSummaryHash, no ResponderVerifyData because
the handshake is in the clear, P-384 signature).
"""

from __future__ import annotations

import struct
from collections.abc import Callable

from migtd.spdm import messages as m
from migtd.spdm._reader import Reader
from migtd.spdm.constants import (
    ALG_COUNT_FIXED2,
    CHUNK_SEND_ACK_HEADER,
    EARLY_ERROR_DETECTED,
    EXCHANGE_DATA_SIZE,
    FINISH_SIGNATURE_INCLUDED,
    HASH_SIZE,
    LAST_CHUNK,
    MAX_SPDM_MSG_SIZE,
    RANDOM_SIZE,
    SIGNATURE_SIZE,
    SPDM_VERSION_10,
    SPDM_VERSION_12,
    AlgType,
    Code,
    ErrorCode,
)
from migtd.spdm.errors import DecodeError, UnknownMessageError, VersionError

#: DSP0274 1.2 bound on OpaqueDataLength.
MAX_OPAQUE_DATA = 1024
#: ERROR messages a Rust requester accepts: 4 header bytes plus at most 32 bytes of extended data.
MAX_ERROR_EXTENDED = 32
#: spdm-rs accepts at most 6 AlgStructs in NEGOTIATE_ALGORITHMS.
MAX_ALG_STRUCTS = 6

_KNOWN_ALG_TYPES = frozenset(int(t) for t in AlgType)

# --- encoding ---------------------------------------------------------------------


def _hdr(code: int, p1: int = 0, p2: int = 0, version: int = SPDM_VERSION_12) -> bytes:
    return bytes((version, code, p1, p2))


def _alg_structs(structs: m.AlgStructs) -> bytes:
    return b"".join(struct.pack("<BBH", t, ALG_COUNT_FIXED2, v) for t, v in structs)


def _check_u8(value: int, name: str) -> None:
    if not 0 <= value <= 0xFF:
        raise ValueError(f"{name} {value} does not fit in one byte")


def encode(msg: m.Message) -> bytes:
    """Wire bytes of ``msg`` (a ValueError for values that cannot be encoded is a caller bug)."""
    enc = _ENCODERS.get(type(msg))
    if enc is None:
        raise TypeError(f"not an SPDM message: {type(msg).__name__}")
    return enc(msg)


def _enc_get_version(msg: m.GetVersion) -> bytes:
    return _hdr(Code.GET_VERSION, version=SPDM_VERSION_10)


def _enc_version(msg: m.Version) -> bytes:
    _check_u8(len(msg.entries), "entry count")
    return (_hdr(Code.VERSION, version=SPDM_VERSION_10) + bytes((0, len(msg.entries)))
            + b"".join(struct.pack("<H", e) for e in msg.entries))


def _enc_caps(msg: m.GetCapabilities | m.Capabilities) -> bytes:
    return (_hdr(msg.code) + struct.pack("<BBHIII", 0, msg.ct_exponent, 0, msg.flags,
                                         msg.data_transfer_size, msg.max_spdm_msg_size))


def _enc_negotiate(msg: m.NegotiateAlgorithms) -> bytes:
    n = len(msg.alg_structs)
    body = struct.pack("<HBBII12sBBBB", 32 + 4 * n, msg.measurement_spec, msg.other_params,
                       msg.base_asym, msg.base_hash, bytes(12), 0, 0, 0, 0)
    return _hdr(Code.NEGOTIATE_ALGORITHMS, n) + body + _alg_structs(msg.alg_structs)


def _enc_algorithms(msg: m.Algorithms) -> bytes:
    n = len(msg.alg_structs)
    body = struct.pack("<HBBIII11sBBBH", 36 + 4 * n, msg.measurement_spec, msg.other_params,
                       msg.measurement_hash, msg.base_asym, msg.base_hash, bytes(11), 0, 0, 0, 0)
    return _hdr(Code.ALGORITHMS, n) + body + _alg_structs(msg.alg_structs)


def _enc_vdm(msg: m.VendorDefinedRequest | m.VendorDefinedResponse) -> bytes:
    _check_u8(len(msg.vendor_id), "vendor id length")
    if len(msg.payload) > 0xFFFF:
        raise ValueError("VDM payload longer than 65535 bytes")
    return (_hdr(msg.code) + struct.pack("<HB", msg.standard_id, len(msg.vendor_id)) + msg.vendor_id
            + struct.pack("<H", len(msg.payload)) + msg.payload)


def _enc_key_exchange(msg: m.KeyExchange) -> bytes:
    return (_hdr(Code.KEY_EXCHANGE, msg.measurement_hash_type, msg.slot_id)
            + struct.pack("<HBB", msg.req_session_id, msg.session_policy, 0)
            + msg.random + msg.exchange_data + struct.pack("<H", len(msg.opaque)) + msg.opaque)


def key_exchange_rsp_body(msg: m.KeyExchangeRsp) -> bytes:
    """KEY_EXCHANGE_RSP without its Signature: what TH_KR_sig covers (spdm.md §4.1)."""
    return (_hdr(Code.KEY_EXCHANGE_RSP, msg.heartbeat_period, 0)
            + struct.pack("<HBB", msg.rsp_session_id, msg.mut_auth_requested, msg.slot_id_param)
            + msg.random + msg.exchange_data + struct.pack("<H", len(msg.opaque)) + msg.opaque)


def _enc_key_exchange_rsp(msg: m.KeyExchangeRsp) -> bytes:
    return key_exchange_rsp_body(msg) + msg.signature


def finish_header(signed: bool, slot_id: int) -> bytes:
    """The 4-byte FINISH header (TH_F_sig ends with it)."""
    return _hdr(Code.FINISH, FINISH_SIGNATURE_INCLUDED if signed else 0, slot_id)


def _enc_finish(msg: m.Finish) -> bytes:
    return finish_header(bool(msg.signature), msg.slot_id) + msg.signature + msg.verify_data


def _enc_finish_rsp(msg: m.FinishRsp) -> bytes:
    return _hdr(Code.FINISH_RSP) + msg.verify_data


def _enc_end_session(msg: m.EndSession) -> bytes:
    return _hdr(Code.END_SESSION, 1 if msg.preserve_negotiated_state else 0)


def _enc_end_session_ack(msg: m.EndSessionAck) -> bytes:
    return _hdr(Code.END_SESSION_ACK)


def _enc_chunk(msg: m.ChunkSend | m.ChunkResponse) -> bytes:
    out = (_hdr(msg.code, LAST_CHUNK if msg.last else 0, msg.handle)
           + struct.pack("<HHI", msg.seq, 0, len(msg.data)))
    if msg.seq == 0:
        if msg.large_message_size is None:
            raise ValueError("chunk 0 carries LargeMessageSize")
        out += struct.pack("<I", msg.large_message_size)
    elif msg.large_message_size is not None:
        raise ValueError("only chunk 0 carries LargeMessageSize")
    return out + msg.data


def _enc_chunk_send_ack(msg: m.ChunkSendAck) -> bytes:
    return (_hdr(Code.CHUNK_SEND_ACK, EARLY_ERROR_DETECTED if msg.early_error else 0, msg.handle)
            + struct.pack("<H", msg.seq) + msg.response)


def _enc_chunk_get(msg: m.ChunkGet) -> bytes:
    return _hdr(Code.CHUNK_GET, 0, msg.handle) + struct.pack("<H", msg.seq)


def _enc_error(msg: m.ErrorResponse) -> bytes:
    return _hdr(Code.ERROR, msg.error_code, msg.error_data, version=msg.version) + msg.extended


_ENCODERS: dict[type, Callable[..., bytes]] = {
    m.GetVersion: _enc_get_version, m.Version: _enc_version,
    m.GetCapabilities: _enc_caps, m.Capabilities: _enc_caps,
    m.NegotiateAlgorithms: _enc_negotiate, m.Algorithms: _enc_algorithms,
    m.VendorDefinedRequest: _enc_vdm, m.VendorDefinedResponse: _enc_vdm,
    m.KeyExchange: _enc_key_exchange, m.KeyExchangeRsp: _enc_key_exchange_rsp,
    m.Finish: _enc_finish, m.FinishRsp: _enc_finish_rsp,
    m.EndSession: _enc_end_session, m.EndSessionAck: _enc_end_session_ack,
    m.ChunkSend: _enc_chunk, m.ChunkResponse: _enc_chunk,
    m.ChunkSendAck: _enc_chunk_send_ack, m.ChunkGet: _enc_chunk_get,
    m.ErrorResponse: _enc_error,
}

# --- decoding ---------------------------------------------------------------------


def peek_code(data: bytes) -> tuple[int, int]:
    """(SPDMVersion, RequestResponseCode) of a message, without judging either."""
    if len(data) < 2:
        raise DecodeError("SPDM message", "header", len(data), f"truncated: {len(data)} bytes")
    return data[0], data[1]


def decode(data: bytes) -> m.Message:
    """Decode one complete SPDM message (as sent, without transport header)."""
    version, code = peek_code(data)
    dec = _DECODERS.get(code)
    if dec is None:
        raise UnknownMessageError("SPDM message", "RequestResponseCode", 1,
                                  f"0x{code:02X} is not a message of MigTD's ladder")
    name = Code(code).name
    if code in (Code.GET_VERSION, Code.VERSION):
        allowed: tuple[int, ...] = (SPDM_VERSION_10,)
    elif code == Code.ERROR:
        allowed = (SPDM_VERSION_10, SPDM_VERSION_12)
    else:
        allowed = (SPDM_VERSION_12,)
    if version not in allowed:
        raise VersionError(name, "SPDMVersion", 0,
                           f"0x{version:02X}, expected " + " or ".join(f"0x{v:02X}" for v in allowed))
    if len(data) < 4:
        raise DecodeError(name, "Param1/Param2", len(data), f"truncated: {len(data)}-byte message")
    r = Reader(data, name, 2)
    msg = dec(r)
    r.end()
    return msg


def _params_zero(r: Reader, p1: bool = True, p2: bool = True) -> None:
    if p1:
        r.zero(1, "Param1")
    else:
        r.pos += 1
    if p2:
        r.zero(1, "Param2")
    else:
        r.pos += 1


def _dec_get_version(r: Reader) -> m.GetVersion:
    _params_zero(r)
    return m.GetVersion()


def _dec_version(r: Reader) -> m.Version:
    _params_zero(r)
    r.zero(1, "Reserved")
    at = r.pos
    count = r.u8("VersionNumberEntryCount")
    if count == 0:
        raise DecodeError(r.structure, "VersionNumberEntryCount", at, "no version entries")
    r.limit(2 * count, r.remaining(), "VersionNumberEntryCount", at)
    entries = []
    for _ in range(count):
        at = r.pos
        entry = r.u16("VersionNumberEntry")
        if (entry >> 8) < 0x10:  # major.minor byte below 1.0: spdm-rs refuses it
            raise DecodeError(r.structure, "VersionNumberEntry", at, f"invalid version 0x{entry:04X}")
        entries.append(entry)
    return m.Version(tuple(entries))


def _dec_caps(r: Reader, cls: type[m.GetCapabilities | m.Capabilities]) -> m.GetCapabilities | m.Capabilities:
    _params_zero(r)
    r.zero(1, "Reserved")
    ct = r.u8("CTExponent")
    r.zero(2, "Reserved")
    flags = r.u32("Flags")
    dts = r.u32("DataTransferSize")
    mx = r.u32("MaxSPDMmsgSize")
    return cls(flags=flags, data_transfer_size=dts, max_spdm_msg_size=mx, ct_exponent=ct)


def _dec_alg_structs(r: Reader, count: int) -> m.AlgStructs:
    out = []
    prev = -1
    for _ in range(count):
        at = r.pos
        t = r.u8("AlgType")
        if t not in _KNOWN_ALG_TYPES:
            raise DecodeError(r.structure, "AlgType", at, f"unknown algorithm type {t}")
        if t <= prev:
            raise DecodeError(r.structure, "AlgType", at, "AlgStructs not in strictly ascending order")
        prev = t
        r.expect(ALG_COUNT_FIXED2, r.u8("AlgCount"), "AlgCount", at + 1)
        out.append((t, r.u16("AlgSupported")))
    return tuple(out)


def _dec_negotiate(r: Reader) -> m.NegotiateAlgorithms:
    count = r.u8("Param1")
    if count > MAX_ALG_STRUCTS:
        raise DecodeError(r.structure, "Param1", 2, f"{count} AlgStructs, at most {MAX_ALG_STRUCTS}")
    r.zero(1, "Param2")
    at = r.pos
    r.expect(32 + 4 * count, r.u16("Length"), "Length", at)
    ms = r.u8("MeasurementSpecification")
    other = r.u8("OtherParamsSupport")
    asym = r.u32("BaseAsymAlgo")
    hsh = r.u32("BaseHashAlgo")
    r.zero(12, "Reserved")
    at = r.pos
    r.expect(0, r.u8("ExtAsymCount"), "ExtAsymCount", at)
    r.expect(0, r.u8("ExtHashCount"), "ExtHashCount", at + 1)
    r.zero(2, "Reserved")
    return m.NegotiateAlgorithms(ms, other, asym, hsh, _dec_alg_structs(r, count))


def _dec_algorithms(r: Reader) -> m.Algorithms:
    count = r.u8("Param1")
    if count > MAX_ALG_STRUCTS:
        raise DecodeError(r.structure, "Param1", 2, f"{count} AlgStructs, at most {MAX_ALG_STRUCTS}")
    r.zero(1, "Param2")
    at = r.pos
    r.expect(36 + 4 * count, r.u16("Length"), "Length", at)
    ms = r.u8("MeasurementSpecificationSel")
    other = r.u8("OtherParamsSelection")
    mh = r.u32("MeasurementHashAlgo")
    asym = r.u32("BaseAsymSel")
    hsh = r.u32("BaseHashSel")
    r.zero(12, "Reserved")
    at = r.pos
    r.expect(0, r.u8("ExtAsymSelCount"), "ExtAsymSelCount", at)
    r.expect(0, r.u8("ExtHashSelCount"), "ExtHashSelCount", at + 1)
    r.zero(2, "Reserved")
    return m.Algorithms(ms, other, mh, asym, hsh, _dec_alg_structs(r, count))


def _dec_vdm(r: Reader, cls: type[m.VendorDefinedRequest | m.VendorDefinedResponse]
             ) -> m.VendorDefinedRequest | m.VendorDefinedResponse:
    _params_zero(r)
    sid = r.u16("StandardID")
    vid = r.take(r.u8("VendorIDLen"), "VendorID")
    at = r.pos
    n = r.u16("ReqLength" if cls is m.VendorDefinedRequest else "RspLength")
    if n != r.remaining():
        raise DecodeError(r.structure, "ReqLength" if cls is m.VendorDefinedRequest else "RspLength", at,
                          f"announces {n} payload bytes, {r.remaining()} present")
    return cls(sid, vid, r.take(n, "VendorDefinedPayload"))


def _opaque(r: Reader) -> bytes:
    at = r.pos
    n = r.u16("OpaqueDataLength")
    r.limit(n, MAX_OPAQUE_DATA, "OpaqueDataLength", at)
    return r.take(n, "OpaqueData")


def _dec_key_exchange(r: Reader) -> m.KeyExchange:
    mht = r.u8("Param1")
    slot = r.u8("Param2")
    sid = r.u16("ReqSessionID")
    policy = r.u8("SessionPolicy")
    r.zero(1, "Reserved")
    rnd = r.take(RANDOM_SIZE, "RandomData")
    xd = r.take(EXCHANGE_DATA_SIZE, "ExchangeData")
    return m.KeyExchange(rnd, xd, _opaque(r), sid, mht, slot, policy)


def _dec_key_exchange_rsp(r: Reader) -> m.KeyExchangeRsp:
    hb = r.u8("Param1")
    r.zero(1, "Param2")
    sid = r.u16("RspSessionID")
    mut = r.u8("MutAuthRequested")
    slot = r.u8("SlotIDParam")
    rnd = r.take(RANDOM_SIZE, "RandomData")
    xd = r.take(EXCHANGE_DATA_SIZE, "ExchangeData")
    opaque = _opaque(r)
    sig = r.take(SIGNATURE_SIZE, "Signature")
    return m.KeyExchangeRsp(rnd, xd, opaque, sig, sid, mut, slot, hb)


def _dec_finish(r: Reader) -> m.Finish:
    at = r.pos
    attrs = r.u8("Param1")
    if attrs & ~FINISH_SIGNATURE_INCLUDED:
        raise DecodeError(r.structure, "Param1", at, f"reserved attribute bits set (0x{attrs:02X})")
    slot = r.u8("Param2")
    sig = r.take(SIGNATURE_SIZE, "Signature") if attrs & FINISH_SIGNATURE_INCLUDED else b""
    return m.Finish(sig, r.take(HASH_SIZE, "RequesterVerifyData"), slot)


def _dec_finish_rsp(r: Reader) -> m.FinishRsp:
    _params_zero(r)
    return m.FinishRsp(r.take(HASH_SIZE, "ResponderVerifyData"))


def _dec_end_session(r: Reader) -> m.EndSession:
    at = r.pos
    attrs = r.u8("Param1")
    if attrs & ~1:
        raise DecodeError(r.structure, "Param1", at, f"reserved attribute bits set (0x{attrs:02X})")
    r.zero(1, "Param2")
    return m.EndSession(bool(attrs & 1))


def _dec_end_session_ack(r: Reader) -> m.EndSessionAck:
    _params_zero(r)
    return m.EndSessionAck()


def _dec_chunk(r: Reader, cls: type[m.ChunkSend | m.ChunkResponse]) -> m.ChunkSend | m.ChunkResponse:
    at = r.pos
    attrs = r.u8("Param1")
    if attrs & ~LAST_CHUNK:
        raise DecodeError(r.structure, "Param1", at, f"reserved attribute bits set (0x{attrs:02X})")
    handle = r.u8("Param2")
    seq = r.u16("ChunkSeqNo")
    r.zero(2, "Reserved")
    at = r.pos
    size = r.u32("ChunkSize")
    large = None
    if seq == 0:
        lat = r.pos
        large = r.u32("LargeMessageSize")
        r.limit(large, MAX_SPDM_MSG_SIZE, "LargeMessageSize", lat)
    if size != r.remaining():
        raise DecodeError(r.structure, "ChunkSize", at, f"announces {size} bytes, {r.remaining()} present")
    return cls(handle, seq, r.take(size, "Chunk"), bool(attrs & LAST_CHUNK), large)


def _dec_chunk_send_ack(r: Reader) -> m.ChunkSendAck:
    at = r.pos
    attrs = r.u8("Param1")
    if attrs & ~EARLY_ERROR_DETECTED:
        raise DecodeError(r.structure, "Param1", at, f"reserved attribute bits set (0x{attrs:02X})")
    handle = r.u8("Param2")
    seq = r.u16("ChunkSeqNo")
    r.limit(r.remaining(), MAX_SPDM_MSG_SIZE, "ResponseToLargeRequest", CHUNK_SEND_ACK_HEADER)
    return m.ChunkSendAck(handle, seq, r.rest(), bool(attrs & EARLY_ERROR_DETECTED))


def _dec_chunk_get(r: Reader) -> m.ChunkGet:
    r.zero(1, "Param1")
    handle = r.u8("Param2")
    return m.ChunkGet(handle, r.u16("ChunkSeqNo"))


def _dec_error(r: Reader) -> m.ErrorResponse:
    code = r.u8("ErrorCode")
    data = r.u8("ErrorData")
    r.limit(r.remaining(), MAX_ERROR_EXTENDED, "ExtendedErrorData", 4)
    ext = r.rest()
    if code == ErrorCode.LargeResponse and len(ext) < 1:
        raise DecodeError(r.structure, "ExtendedErrorData", 4, "LargeResponse without its handle")
    return m.ErrorResponse(code, data, ext, r.data[0])


_DECODERS: dict[int, Callable[[Reader], m.Message]] = {
    Code.GET_VERSION: _dec_get_version,
    Code.VERSION: _dec_version,
    Code.GET_CAPABILITIES: lambda r: _dec_caps(r, m.GetCapabilities),
    Code.CAPABILITIES: lambda r: _dec_caps(r, m.Capabilities),
    Code.NEGOTIATE_ALGORITHMS: _dec_negotiate,
    Code.ALGORITHMS: _dec_algorithms,
    Code.VENDOR_DEFINED_REQUEST: lambda r: _dec_vdm(r, m.VendorDefinedRequest),
    Code.VENDOR_DEFINED_RESPONSE: lambda r: _dec_vdm(r, m.VendorDefinedResponse),
    Code.KEY_EXCHANGE: _dec_key_exchange,
    Code.KEY_EXCHANGE_RSP: _dec_key_exchange_rsp,
    Code.FINISH: _dec_finish,
    Code.FINISH_RSP: _dec_finish_rsp,
    Code.END_SESSION: _dec_end_session,
    Code.END_SESSION_ACK: _dec_end_session_ack,
    Code.CHUNK_SEND: lambda r: _dec_chunk(r, m.ChunkSend),
    Code.CHUNK_RESPONSE: lambda r: _dec_chunk(r, m.ChunkResponse),
    Code.CHUNK_SEND_ACK: _dec_chunk_send_ack,
    Code.CHUNK_GET: _dec_chunk_get,
    Code.ERROR: _dec_error,
}
