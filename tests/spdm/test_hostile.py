"""Hostile peers: the failure table of spec/spdm.md §6.4 at the protocol level.

Each case runs a real Requester against a real Responder and lets the test
tamper with one write on the wire (or a hook refuse). Expected results follow
the spec, except where upstream reports Success (0) although no key was
written: this package reports the failure instead (README "Differences").
"""

from __future__ import annotations

import pytest

from migtd.errors import MigtdError
from migtd.result import MigrationResult as R
from migtd.spdm import NullAttestation, Responder, codec, vdm
from migtd.spdm import messages as m
from migtd.spdm.constants import Code, ErrorCode
from migtd.spdm.transport import RecordType, encode_record

from .helpers import Info, QuoteAttestation, body, code_of, pair, pump, quote_blob, rewrap


def replace_nth(direction: str, code: int, fn, nth: int = 0):
    """A tamper that applies ``fn(write)`` to the ``nth`` plain message with ``code`` going ``direction``."""
    seen = {"n": 0}

    def tamper(d: str, write: bytes) -> bytes | None:
        if d == direction and code_of(write) == code:
            seen["n"] += 1
            if seen["n"] - 1 == nth:
                return fn(write)
        return write
    return tamper


def flip_last(write: bytes) -> bytes:
    return write[:-1] + bytes([write[-1] ^ 0x01])


def errors_sent(run, direction: str = "D>S") -> list[m.ErrorResponse]:
    out = []
    for d, w in run.wire:
        if d == direction and code_of(w) == Code.ERROR:
            msg = codec.decode(body(w))
            assert isinstance(msg, m.ErrorResponse)
            out.append(msg)
    return out


def test_responder_without_spdm_12() -> None:
    req, rsp = pair()
    run = pump(req, rsp, replace_nth("D>S", Code.VERSION, lambda w: rewrap(w, bytes.fromhex("1004000000010011"))))
    assert req.result == R.SecureSessionError and "needs 1.2" in req.failure.reason
    assert rsp.result == R.SecureSessionError and "closed" in rsp.failure.reason  # waited, then the close
    assert not errors_sent(run)


def test_get_version_with_a_12_header_gets_version_mismatch_and_the_responder_waits() -> None:
    _, rsp = pair()
    rsp.receive_data(encode_record(RecordType.SPDM, bytes.fromhex("12840000")))
    (out,) = rsp.data_to_send()
    assert codec.decode(body(out)) == m.ErrorResponse(ErrorCode.VersionMismatch, 0, b"", 0x10)
    assert not rsp.done
    rsp.receive_data(encode_record(RecordType.SPDM, bytes.fromhex("10840000")))
    assert codec.decode(body(rsp.data_to_send()[0])) == m.Version()


def test_wrong_version_later_in_the_ladder() -> None:
    req, rsp = pair()
    pump(req, rsp, replace_nth("D>S", Code.ALGORITHMS, lambda w: rewrap(w, b"\x13" + body(w)[1:])))
    assert req.result == R.SecureSessionError and "SPDMVersion" in req.failure.reason
    req, rsp = pair()
    run = pump(req, rsp, replace_nth("S>D", Code.KEY_EXCHANGE, lambda w: rewrap(w, b"\x11" + body(w)[1:])))
    assert errors_sent(run)[0].error_code == ErrorCode.VersionMismatch
    assert req.result == rsp.result == R.SecureSessionError


def test_unexpected_algorithm_selection() -> None:
    req, rsp = pair()
    alg = codec.encode(m.Algorithms(base_hash=0x01))   # SHA-256
    pump(req, rsp, replace_nth("D>S", Code.ALGORITHMS, lambda w: rewrap(w, alg)))
    assert req.result == R.SecureSessionError and "BaseHashSel" in req.failure.reason
    req, rsp = pair()
    offer = codec.encode(m.NegotiateAlgorithms(alg_structs=((2, 0x0008), (3, 2), (4, 0x80), (5, 1))))  # P-256 DHE
    run = pump(req, rsp, replace_nth("S>D", Code.NEGOTIATE_ALGORITHMS, lambda w: rewrap(w, offer)))
    assert errors_sent(run)[0].error_code == ErrorCode.InvalidRequest
    assert req.result == R.SecureSessionError


def test_bad_key_exchange_signature() -> None:
    req, rsp = pair()
    run = pump(req, rsp, replace_nth("D>S", Code.KEY_EXCHANGE_RSP, flip_last))
    assert req.result == R.SecureSessionError and "KEY_EXCHANGE_RSP: signature" in req.failure.reason
    assert rsp.result == R.SecureSessionError and "closed" in rsp.failure.reason   # waits → 6
    assert not errors_sent(run)


@pytest.mark.parametrize("where,what", [(-1, "RequesterVerifyData"), (60, "FINISH: signature")])
def test_bad_finish_hmac_or_signature(where: int, what: str) -> None:
    def corrupt(w: bytes) -> bytes:
        b = bytearray(w)
        b[where] ^= 0x40
        return bytes(b)
    req, rsp = pair()
    run = pump(req, rsp, replace_nth("S>D", Code.FINISH, corrupt))
    assert errors_sent(run)[-1].error_code == ErrorCode.DecryptError
    # upstream's responder tears down and reports 0 here (spdm.md §6.4); this one reports the failure
    assert rsp.result == R.SecureSessionError and what in rsp.failure.reason
    assert req.result == R.SecureSessionError


def test_bad_finish_rsp_hmac() -> None:
    req, rsp = pair()
    pump(req, rsp, replace_nth("D>S", Code.FINISH_RSP, flip_last))
    assert req.result == R.SecureSessionError and "ResponderVerifyData" in req.failure.reason
    assert rsp.result == R.SecureSessionError


def _nth_secured(direction: str, nth: int, fn):
    seen = {"n": 0}

    def tamper(d: str, write: bytes) -> bytes | None:
        if d == direction and write[6] == 2:
            seen["n"] += 1
            if seen["n"] - 1 == nth:
                return fn(write)
        return write
    return tamper


def test_corrupted_secured_record_from_the_source() -> None:
    info = Info()
    req, rsp = pair(rsp_info=info)
    run = pump(req, rsp, _nth_secured("S>D", 0, flip_last))
    assert rsp.result == R.SecureSessionError and "tag" in rsp.failure.reason
    assert info.peer is None                                 # nothing written
    assert req.result == R.SecureSessionError
    assert not [w for d, w in run.wire if d == "D>S" and w[6] == 2]   # no answer can be protected


def test_corrupted_secured_record_from_the_destination() -> None:
    info = Info()
    req, rsp = pair(req_info=info)
    pump(req, rsp, _nth_secured("D>S", 0, flip_last))
    assert req.result == R.SecureSessionError and info.peer is None
    assert rsp.result == R.SecureSessionError               # waits for END_SESSION → 6


def test_replayed_sequence_number() -> None:
    first: list[bytes] = []

    def tamper(d: str, write: bytes) -> bytes | None:
        if d == "S>D" and write[6] == 2:
            if not first:
                first.append(write)
            else:
                return first[0]                              # END_SESSION replaced by record 0 again
        return write
    req, rsp = pair()
    pump(req, rsp, tamper)
    assert rsp.result == R.SecureSessionError and "replayed" in rsp.failure.reason
    assert req.result == R.SecureSessionError


def test_plain_message_inside_the_session() -> None:
    end = codec.encode(m.EndSession())

    def tamper(d: str, write: bytes) -> bytes | None:
        if d == "S>D" and write[6] == 2 and int.from_bytes(write[16:24], "little") == 1:
            return encode_record(RecordType.SPDM, end)
        return write
    req, rsp = pair()
    pump(req, rsp, tamper)
    assert rsp.result == R.SecureSessionError and "outside the session" in rsp.failure.reason


def _chunked_pair():
    blob = quote_blob()
    return pair(req_att=QuoteAttestation(blob), rsp_att=QuoteAttestation(blob))


@pytest.mark.parametrize("case", ["truncated", "oversized", "huge_total", "wrong_seq", "early_last"])
def test_bad_chunk_send(case: str) -> None:
    def tamper_chunk(w: bytes) -> bytes:
        msg = codec.decode(body(w))
        assert isinstance(msg, m.ChunkSend)
        if case == "truncated":   # ChunkSize says one byte more than is there
            raw = codec.encode(msg)
            return rewrap(w, raw[:8] + (len(msg.data) + 1).to_bytes(4, "little") + raw[12:])
        if case == "oversized":   # a first chunk bigger than DTS − 16
            return rewrap(w, codec.encode(m.ChunkSend(msg.handle, 0, msg.data + bytes(40), False,
                                                      msg.large_message_size)))
        if case == "huge_total":
            return rewrap(w, codec.encode(m.ChunkSend(msg.handle, 0, msg.data, False, 0x10000)))
        if case == "wrong_seq":
            return rewrap(w, codec.encode(m.ChunkSend(msg.handle, 5, msg.data, msg.last)))
        return rewrap(w, codec.encode(m.ChunkSend(msg.handle, 0, msg.data, True, msg.large_message_size)))
    nth = 1 if case == "wrong_seq" else 0
    req, rsp = _chunked_pair()
    run = pump(req, rsp, replace_nth("S>D", Code.CHUNK_SEND, tamper_chunk, nth))
    # (huge_total: 65536 is allowed, but the last chunk then arrives before the announced total)
    assert errors_sent(run)[-1].error_code == ErrorCode.InvalidRequest
    assert rsp.result == req.result == R.SecureSessionError
    assert "CHUNK_SEND" in rsp.failure.reason


@pytest.mark.parametrize("case", ["truncated", "oversized_total", "oversized_chunk", "wrong_handle"])
def test_bad_chunk_response(case: str) -> None:
    def tamper_chunk(w: bytes) -> bytes:
        msg = codec.decode(body(w))
        assert isinstance(msg, m.ChunkResponse)
        raw = codec.encode(msg)
        if case == "truncated":
            return rewrap(w, raw[:-1])
        if case == "oversized_total":
            return rewrap(w, raw[:12] + (65537).to_bytes(4, "little") + raw[16:])
        if case == "oversized_chunk":
            return rewrap(w, codec.encode(m.ChunkResponse(1, 0, msg.data + b"x", False, msg.large_message_size)))
        return rewrap(w, codec.encode(m.ChunkResponse(9, 0, msg.data, False, msg.large_message_size)))
    req, rsp = _chunked_pair()
    pump(req, rsp, replace_nth("D>S", Code.CHUNK_RESPONSE, tamper_chunk))
    assert req.result == R.SecureSessionError
    assert rsp.result == R.SecureSessionError


def test_oversized_plain_message_to_the_requester() -> None:
    req, rsp = pair()
    big = encode_record(RecordType.SPDM, bytes(4033))
    pump(req, rsp, replace_nth("D>S", Code.VERSION, lambda w: big))
    assert req.result == R.SecureSessionError and "DataTransferSize" in req.failure.reason


def test_oversized_transport_length_to_the_responder() -> None:
    _, rsp = pair()
    rsp.receive_data(b"SPDM\x00\x01\x01\x00" + (5000).to_bytes(4, "little"))
    assert rsp.result == R.SecureSessionError and "4084" in rsp.failure.reason


class Refuse:
    """Attestation hook failing with a given MigrationResult at generation or verification."""

    def __init__(self, generate: R | None = None, verify: R | None = None) -> None:
        self.inner = NullAttestation()
        self.generate, self.verify = generate, verify

    def local_evidence(self, report_data: bytes):
        if self.generate is not None:
            raise MigtdError("quote generation failed", self.generate)
        return self.inner.local_evidence(report_data)

    def verify_peer(self, peer) -> None:
        if self.verify is not None:
            raise MigtdError("peer refused", self.verify)


@pytest.mark.parametrize("side,hook,code,expect_s,expect_d", [
    ("S", "generate", R.MutualAttestationError, R.MutualAttestationError, R.SecureSessionError),
    ("D", "generate", R.MutualAttestationError, R.MutualAttestationError, R.MutualAttestationError),
    ("S", "verify", R.PolicyUnsatisfiedError, R.PolicyUnsatisfiedError, R.SecureSessionError),
    # upstream: D reports 0 after tearing down (spdm.md §6.4); here D reports what it sent
    ("D", "verify", R.PolicyUnsatisfiedError, R.PolicyUnsatisfiedError, R.PolicyUnsatisfiedError),
    ("D", "verify", R.MutualAttestationError, R.MutualAttestationError, R.MutualAttestationError),
])
def test_attestation_failures(side: str, hook: str, code: R, expect_s: R, expect_d: R) -> None:
    bad = Refuse(**{hook: code})
    req, rsp = pair(req_att=bad) if side == "S" else pair(rsp_att=bad)
    run = pump(req, rsp)
    assert (req.result, rsp.result) == (expect_s, expect_d)
    if side == "D":
        err = errors_sent(run)[-1]
        assert (err.error_code, err.error_data) == (ErrorCode.VendorDefined, int(code))


@pytest.mark.parametrize("side,code,expect_s,expect_d", [
    ("D", R.InvalidParameter, R.InvalidParameter, R.InvalidParameter),
    ("D", R.TdxModuleError, R.TdxModuleError, R.TdxModuleError),
    ("S", R.InvalidParameter, R.InvalidParameter, R.SecureSessionError),   # D waits for END_SESSION
    ("S", R.TdxModuleError, R.TdxModuleError, R.SecureSessionError),
])
def test_migration_info_refused(side: str, code: R, expect_s: R, expect_d: R) -> None:
    refusing = Info(fail_with=code)
    req, rsp = pair(rsp_info=refusing) if side == "D" else pair(req_info=refusing)
    run = pump(req, rsp)
    assert (req.result, rsp.result) == (expect_s, expect_d)
    if side == "D":  # the ERROR travelled inside the session
        assert [w for d, w in run.wire if d == "D>S" and w[6] == 2]


def test_requester_never_turns_error_data_0_into_success() -> None:
    err = codec.encode(m.ErrorResponse(ErrorCode.VendorDefined, 0))
    req, rsp = pair()
    pump(req, rsp, replace_nth("D>S", Code.VENDOR_DEFINED_RESPONSE, lambda w: rewrap(w, err), 1))
    assert req.result == R.SecureSessionError       # upstream: 0 (spdm.md §6.3)
    req, rsp = pair()
    err8 = codec.encode(m.ErrorResponse(ErrorCode.VendorDefined, 8, b"", 0x10))   # wrong version byte
    pump(req, rsp, replace_nth("D>S", Code.VENDOR_DEFINED_RESPONSE, lambda w: rewrap(w, err8), 1))
    assert req.result == R.SecureSessionError and "version" in req.failure.reason
    req, rsp = pair()
    err99 = codec.encode(m.ErrorResponse(ErrorCode.VendorDefined, 99))             # not a MigrationResult
    pump(req, rsp, replace_nth("D>S", Code.VENDOR_DEFINED_RESPONSE, lambda w: rewrap(w, err99), 1))
    assert req.result == R.SecureSessionError


def test_out_of_order_attestation_vdm_ends_the_responder_at_once() -> None:
    """op 0x03 before KEY_EXCHANGE: upstream answers ERROR 0xFF/0 and ends with 6 (§6.4)."""
    attest = vdm.encode_message(vdm.MigrationAttestRequest(bytes(822), b"", bytes(48), bytes(272), bytes(512)))
    req, rsp = pair()
    run = pump(req, rsp, replace_nth("S>D", Code.KEY_EXCHANGE, lambda w: rewrap(w, attest)))
    err = errors_sent(run)[-1]
    assert (err.error_code, err.error_data) == (ErrorCode.VendorDefined, int(R.SecureSessionError))
    assert rsp.result == R.SecureSessionError and "handshaking session" in rsp.failure.reason
    assert req.result == R.SecureSessionError


def test_public_key_vdm_before_algorithms() -> None:
    pk = vdm.encode_message(vdm.PubKeyRequest(b"\x30" * 120))
    _, rsp = pair()
    for msg in (bytes.fromhex("10840000"), codec.encode(m.GetCapabilities()), pk):
        rsp.receive_data(encode_record(RecordType.SPDM, msg))
    *_, out = rsp.data_to_send()
    assert codec.decode(body(out)) == m.ErrorResponse(ErrorCode.VendorDefined, 6)
    assert rsp.result == R.SecureSessionError and "ALGORITHMS not negotiated" in rsp.failure.reason


def test_vdm_before_capabilities_is_a_version_mismatch_and_not_fatal() -> None:
    pk = vdm.encode_message(vdm.PubKeyRequest(b"\x30" * 120))
    _, rsp = pair()
    rsp.receive_data(encode_record(RecordType.SPDM, bytes.fromhex("10840000")))
    rsp.receive_data(encode_record(RecordType.SPDM, pk))
    assert codec.decode(body(rsp.data_to_send()[-1])) == m.ErrorResponse(ErrorCode.VersionMismatch, 0, b"", 0x10)
    assert not rsp.done


def test_unknown_and_out_of_order_requests_before_the_session() -> None:
    _, rsp = pair()
    send = [bytes.fromhex("10840000"), bytes.fromhex("12D00000"), bytes.fromhex("10040000"),
            codec.encode(m.NegotiateAlgorithms()), codec.encode(m.KeyExchange(bytes(32), bytes(96), bytes(16)))]
    for msg in send:
        rsp.receive_data(encode_record(RecordType.SPDM, msg))
    outs = [codec.decode(body(w)) for w in rsp.data_to_send()]
    assert outs[0] == m.Version()
    assert outs[1] == m.ErrorResponse(ErrorCode.UnsupportedRequest, 0xD0, b"", 0x10)   # ErrorData = the code
    assert outs[2] == m.ErrorResponse(ErrorCode.UnsupportedRequest, 0x04, b"", 0x10)   # a response code
    assert outs[3] == m.ErrorResponse(ErrorCode.UnexpectedRequest, 0, b"", 0x10)
    assert outs[4] == m.ErrorResponse(ErrorCode.UnexpectedRequest, 0, b"", 0x10)
    assert not rsp.done                                  # spdm-rs keeps waiting before a session exists


def test_finish_before_attestation_and_end_session_before_the_exchange() -> None:
    req, rsp = pair()
    fin = codec.encode(m.Finish(bytes(96), bytes(48)))

    def skip_attestation(d: str, w: bytes) -> bytes | None:
        if d == "S>D" and code_of(w) == Code.VENDOR_DEFINED_REQUEST and len(w) > 500:
            return rewrap(w, fin)
        return w
    run = pump(req, rsp, skip_attestation)
    assert errors_sent(run)[-1].error_code == ErrorCode.UnexpectedRequest
    assert rsp.result == R.SecureSessionError and "before the attestation" in rsp.failure.reason

    end_first = {"n": 0}
    info = Info()

    def end_early(d: str, w: bytes) -> bytes | None:   # drop op 0x05; END_SESSION then arrives with seq 0
        if d == "S>D" and w[6] == 2:
            end_first["n"] += 1
            if end_first["n"] == 1:
                return None
        return w
    req, rsp = pair(rsp_info=info)
    pump(req, rsp, end_early)
    assert rsp.result == R.SecureSessionError and info.peer is None


def test_timeout_and_eof_are_reported_by_the_driver_api() -> None:
    req, rsp = pair()
    req.start()
    ev = req.abort(MigtdError("no answer within 60 s", R.NetworkError))
    assert req.result == R.NetworkError and ev[-1].reason == "no answer within 60 s"
    assert req.receive_data(b"late bytes") == [] and req.result == R.NetworkError
    rsp.receive_data(b"SPDM\x00\x01")
    rsp.receive_eof()
    assert rsp.result == R.SecureSessionError and "in the middle of a record" in rsp.failure.reason


def test_responder_refuses_a_response_too_large_for_the_requester() -> None:
    from migtd.spdm import Requester
    blob = quote_blob()
    att = QuoteAttestation(blob)
    req = Requester(attester=att, verifier=att, migration=Info(), max_message_size=4096)
    _, rsp = pair(rsp_att=QuoteAttestation(blob))
    run = pump(req, rsp)
    assert [e.error_code for e in errors_sent(run)] == [ErrorCode.ResponseTooLarge]
    assert rsp.result == R.SecureSessionError and req.result == R.SecureSessionError


def test_responder_constructor_needs_the_hook_of_its_mode() -> None:
    from migtd.spdm import LocalProtocolError, Mode
    with pytest.raises(LocalProtocolError):
        Responder(attester=NullAttestation(), verifier=NullAttestation())
    with pytest.raises(LocalProtocolError):
        Responder(attester=NullAttestation(), verifier=NullAttestation(), migration=Info(), mode=Mode.REBIND)
