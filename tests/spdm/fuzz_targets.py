"""Fuzz targets for every decoder of migtd.spdm, shared by the hypothesis tests and the campaign script.

Each target takes arbitrary bytes and may only return or raise one of the
package's own error types (:data:`OWN_ERRORS`); anything else escaping is a
bug. ``SEEDS`` holds one valid input per target so mutations reach deep.
"""

from __future__ import annotations

import os
import struct
from collections.abc import Callable

from migtd.spdm import NullAttestation, Requester, Responder, codec, crypto, igvm, opaque, vdm
from migtd.spdm import messages as m
from migtd.spdm.chunking import LargeRequestReceiver, LargeResponseReceiver
from migtd.spdm.errors import SpdmError
from migtd.spdm.hooks import MigrationInfo
from migtd.spdm.key_schedule import DirectionKeys
from migtd.spdm.secured import RecordOpener, RecordSealer
from migtd.spdm.transport import RecordReader, RecordType, decode_record, encode_record

OWN_ERRORS: tuple[type[BaseException], ...] = (SpdmError, igvm.IgvmQuoteError)

_KEYS = DirectionKeys(bytes(range(32)), bytes(range(12)))
_SPKI = crypto.spki_of(crypto.generate_signing_key())


class _Info:
    def local_info(self) -> MigrationInfo:
        return MigrationInfo(bytes(32))

    def accept_peer_info(self, peer: MigrationInfo) -> None:
        pass


def t_codec(data: bytes) -> None:
    msg = codec.decode(data)
    assert codec.encode(msg) == data  # whatever decodes must re-encode to the same bytes


def _vdm_target(cls: type) -> Callable[[bytes], None]:
    def target(data: bytes) -> None:
        body = vdm.decode_payload(data, cls)
        assert vdm.encode_payload(body) == data
    target.__name__ = f"t_vdm_{cls.__name__}"
    return target


def t_vdm_message(data: bytes) -> None:
    msg = codec.decode(data)
    if isinstance(msg, (m.VendorDefinedRequest, m.VendorDefinedResponse)):
        vdm.check_vendor(msg)
        op = vdm.peek_op(msg.payload)
        cls = vdm.BY_OP.get(op)
        if cls is not None:
            vdm.decode_payload(msg.payload, cls)


def t_transport(data: bytes) -> None:
    try:
        rec = decode_record(data)
        assert encode_record(rec.type, rec.body) == data
    except SpdmError:
        pass
    reader = RecordReader()
    for i in range(0, len(data), 7):
        reader.feed(data[i:i + 7])
        while reader.next_record() is not None:
            pass


def t_opaque(data: bytes) -> None:
    opaque.decode(data)


def t_secured(data: bytes) -> None:
    RecordOpener(0xFFFDFFFD, _KEYS, first_sequence=0).open(data)


def t_chunk_send(data: bytes) -> None:
    r = LargeRequestReceiver()
    for piece in _split_messages(data):
        msg = codec.decode(piece)
        if isinstance(msg, m.ChunkSend):
            r.accept(msg)


def t_chunk_response(data: bytes) -> None:
    r = LargeResponseReceiver(1)
    for piece in _split_messages(data):
        r.accept(codec.decode(piece))


def t_spki(data: bytes) -> None:
    crypto.load_peer_spki(data)


def t_igvm(data: bytes) -> None:
    igvm.parse_response(data)


def t_responder(data: bytes) -> bool:
    """A responder after VERSION/CAPABILITIES/ALGORITHMS, then arbitrary bytes: events only, never a raise.

    False ("rejected") when it answered with an ERROR or ended the session.
    """
    att = NullAttestation()
    rsp = Responder(attester=att, verifier=att, migration=_Info())
    rsp.receive_data(_PREFIX)
    rsp.data_to_send()
    rsp.receive_data(data)
    answers = rsp.data_to_send()
    refused = rsp.done or any(w[6] == RecordType.SPDM and w[13:14] == b"\x7f" for w in answers)
    rsp.receive_eof()
    return not refused


def t_requester(data: bytes) -> bool:
    """A requester waiting for VERSION fed arbitrary bytes (wrapped in a record unless they start with one).

    False ("rejected") when it ended the session before the close.
    """
    att = NullAttestation()
    req = Requester(attester=att, verifier=att, migration=_Info())
    req.start()
    req.receive_data(data if data[:4] == b"SPDM" else encode_record(RecordType.SPDM, data))
    refused = req.done
    req.receive_eof()
    return not refused


def _split_messages(data: bytes) -> list[bytes]:
    """Input format for multi-message targets: u16 length-prefixed pieces."""
    out, pos = [], 0
    while pos + 2 <= len(data):
        (n,) = struct.unpack_from("<H", data, pos)
        out.append(data[pos + 2:pos + 2 + n])
        pos += 2 + n
    return out


def _join(msgs: list[bytes]) -> bytes:
    return b"".join(struct.pack("<H", len(x)) + x for x in msgs)


_PREFIX = b"".join(encode_record(RecordType.SPDM, x) for x in (
    codec.encode(m.GetVersion()), codec.encode(m.GetCapabilities()), codec.encode(m.NegotiateAlgorithms())))

_SEALED = RecordSealer(0xFFFDFFFD, _KEYS).seal(vdm.encode_message(vdm.MigrationInfoRequest(0, 0, bytes(32))))
_BIG = os.urandom(6000)

TARGETS: dict[str, Callable[[bytes], bool | None]] = {
    "codec": t_codec,
    "vdm_message": t_vdm_message,
    **{f"vdm_{cls.__name__}": _vdm_target(cls) for cls in vdm.BY_OP.values()},
    "transport": t_transport,
    "opaque": t_opaque,
    "secured": t_secured,
    "chunk_send": t_chunk_send,
    "chunk_response": t_chunk_response,
    "spki": t_spki,
    "igvm": t_igvm,
    "responder": t_responder,
    "requester": t_requester,
}

SEEDS: dict[str, list[bytes]] = {
    "codec": [codec.encode(x) for x in (
        m.Version(), m.GetCapabilities(), m.Algorithms(), m.NegotiateAlgorithms(),
        m.KeyExchange(bytes(32), bytes(96), opaque.encode_supported_versions()),
        m.KeyExchangeRsp(bytes(32), bytes(96), opaque.encode_version_selection(), bytes(96)),
        m.Finish(bytes(96), bytes(48)), m.ChunkSend(1, 0, bytes(64), False, 5000), m.ChunkResponse(1, 1, b"x", True),
        m.ChunkSendAck(1, 0, b"\x12\x7f\x0f\x00\x01"), m.ErrorResponse(0x0F, 0, b"\x01"), m.ChunkGet(1, 0))],
    "vdm_message": [vdm.encode_message(vdm.PubKeyRequest(_SPKI)),
                    vdm.encode_message(vdm.MigrationAttestResponse(bytes(100), bytes(20), bytes(48)))],
    "transport": [encode_record(RecordType.SPDM, b"\x10\x84\x00\x00") * 2, encode_record(RecordType.SECURED, _SEALED)],
    "opaque": [opaque.encode_supported_versions(), opaque.encode_version_selection()],
    "secured": [_SEALED],
    "chunk_send": [_join([codec.encode(m.ChunkSend(1, 0, _BIG[:4016], False, 6000)),
                          codec.encode(m.ChunkSend(1, 1, _BIG[4016:], True))])],
    "chunk_response": [_join([codec.encode(m.ChunkResponse(1, 0, _BIG[:4016], False, 6000)),
                              codec.encode(m.ChunkResponse(1, 1, _BIG[4016:], True))])],
    "spki": [_SPKI],
    "igvm": [igvm.emulate_get_quote(igvm.build_request(bytes(1024)), lambda r: bytes(100))[:200]],
    "responder": [encode_record(RecordType.SPDM, vdm.encode_message(vdm.PubKeyRequest(_SPKI))),
                  encode_record(RecordType.SPDM, codec.encode(m.ChunkSend(1, 0, bytes(4016), False, 6000)))],
    "requester": [codec.encode(m.Version()), encode_record(RecordType.SPDM, codec.encode(m.Version()))
                  + encode_record(RecordType.SPDM, b"")[:6]],
}
for _cls in vdm.BY_OP.values():
    _sample = {
        vdm.PubKeyRequest: vdm.PubKeyRequest(_SPKI), vdm.PubKeyResponse: vdm.PubKeyResponse(_SPKI),
        vdm.MigrationAttestRequest: vdm.MigrationAttestRequest(b"q" * 30, b"e", bytes(48), bytes(272), bytes(512)),
        vdm.MigrationAttestResponse: vdm.MigrationAttestResponse(b"q" * 30, b"e", bytes(48)),
        vdm.RebindAttestRequest: vdm.RebindAttestRequest(bytes(1024), b"e", bytes(48), bytes(272), bytes(512)),
        vdm.RebindAttestResponse: vdm.RebindAttestResponse(bytes(1024), b"e", bytes(48)),
        vdm.MigrationInfoRequest: vdm.MigrationInfoRequest(0, 0, bytes(32)),
        vdm.MigrationInfoResponse: vdm.MigrationInfoResponse(0, 0, bytes(32)),
        vdm.RebindInfoRequest: vdm.RebindInfoRequest(bytes(32)),
        vdm.RebindInfoResponse: vdm.RebindInfoResponse(),
    }[_cls]
    SEEDS[f"vdm_{_cls.__name__}"] = [vdm.encode_payload(_sample)]


def run(name: str, data: bytes) -> bool:
    """Run one input; True if accepted, False if rejected (an own error, or a state machine refusing).

    Any other exception propagates: that is a finding.
    """
    try:
        return TARGETS[name](data) is not False
    except OWN_ERRORS:
        return False
