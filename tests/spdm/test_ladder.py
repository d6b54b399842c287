"""Requester against Responder in memory: the whole migration and rebinding ladders."""

from __future__ import annotations

import hashlib

import pytest
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.utils import encode_dss_signature
from cryptography.hazmat.primitives.serialization import load_der_public_key

from migtd.result import MigrationResult
from migtd.spdm import Mode, NullAttestation, codec, vdm
from migtd.spdm import events as ev
from migtd.spdm import messages as m
from migtd.spdm.constants import Code
from migtd.spdm.transcript import reference_hashes, vdm_pair_hash

from .helpers import QUOTE_REPORT_DATA, Info, QuoteAttestation, Rebind, body, code_of, pair, pump, quote_blob

PHASES = [ev.Phase.NEGOTIATION, ev.Phase.PUBLIC_KEYS, ev.Phase.KEY_EXCHANGE, ev.Phase.ATTESTATION,
          ev.Phase.FINISH, ev.Phase.SECURED_EXCHANGE, ev.Phase.END_SESSION]


def _verify_raw(spki: bytes, message: bytes, sig: bytes) -> None:
    key = load_der_public_key(spki)
    assert isinstance(key, ec.EllipticCurvePublicKey)
    der = encode_dss_signature(int.from_bytes(sig[:48], "big"), int.from_bytes(sig[48:], "big"))
    key.verify(der, message, ec.ECDSA(hashes.SHA384()))


def test_skip_ra_ladder_bytes_transcript_and_signatures() -> None:
    req_info, rsp_info = Info(min_version=0, max_version=3), Info(min_version=1, max_version=2)
    req, rsp = pair(req_info=req_info, rsp_info=rsp_info)
    run = pump(req, rsp)
    assert req.result == rsp.result == MigrationResult.Success
    assert [e.phase for e in run.req_events] == PHASES
    assert [e.phase for e in run.rsp_events] == PHASES

    writes = [w for _, w in run.wire]
    plain = [body(w) for w in writes if w[6] == 1]
    codes = [p[1] for p in plain]
    assert codes == [Code.GET_VERSION, Code.VERSION, Code.GET_CAPABILITIES, Code.CAPABILITIES,
                     Code.NEGOTIATE_ALGORITHMS, Code.ALGORITHMS, Code.VENDOR_DEFINED_REQUEST,
                     Code.VENDOR_DEFINED_RESPONSE, Code.KEY_EXCHANGE, Code.KEY_EXCHANGE_RSP,
                     Code.VENDOR_DEFINED_REQUEST, Code.VENDOR_DEFINED_RESPONSE, Code.FINISH, Code.FINISH_RSP]
    assert [len(p) for p in plain] == [4, 8, 20, 20, 48, 52, 143, 143, 154, 246, 1701, 905, 148, 52]
    secured = [body(w) for w in writes if w[6] == 2]
    assert [len(s) for s in secured] == [97, 97, 36, 36]                  # spdm.md §4.4
    assert {s[:4] for s in secured} == {b"\xfd\xff\xfd\xff"}
    assert [int.from_bytes(s[4:12], "little") for s in secured] == [0, 0, 1, 1]

    # the transcript, recomputed from whole messages the plain way
    a = b"".join(plain[:6])
    p = vdm_pair_hash(plain[6], plain[7])
    q = vdm_pair_hash(plain[10], plain[11])
    ref = reference_hashes(a, p, plain[8], plain[9], q, plain[12], plain[13])
    assert req.th1 == rsp.th1 == ref.th1
    assert req.th2 == rsp.th2 == ref.th2
    # both signatures verify with the SPKIs of the public-key VDMs, checked by cryptography directly
    spki_s = vdm.decode_payload(codec.decode(plain[6]).payload, vdm.PubKeyRequest).spki  # type: ignore[union-attr]
    spki_d = vdm.decode_payload(codec.decode(plain[7]).payload, vdm.PubKeyResponse).spki  # type: ignore[union-attr]
    prefix = b"dmtf-spdm-v1.2.*" * 4
    _verify_raw(spki_d, prefix + b"\0\0responder-key_exchange_rsp signing" + ref.th_kr_sig, plain[9][150:])
    _verify_raw(spki_s, prefix + bytes(12) + b"requester-finish signing" + ref.th_f_sig, plain[12][4:100])

    # the MSK and versions went through the secured VDMs, each way
    assert req_info.peer is not None and rsp_info.peer is not None
    assert req_info.peer.key == rsp_info.key and rsp_info.peer.key == req_info.key
    assert (rsp_info.peer.min_version, rsp_info.peer.max_version) == (0, 3)
    assert (req_info.peer.min_version, req_info.peer.max_version) == (1, 2)
    exchanged = next(e for e in run.req_events if isinstance(e, ev.MigrationInfoExchanged))
    assert req_info.key.hex() not in repr(exchanged)
    # skip-RA: 822 zero bytes of quote each way, nothing verified (the null attestation saw both)
    assert req.failure is None and len(plain[10]) == 879 + 822


def test_quote_attestation_chunked_both_ways_with_transcript_binding() -> None:
    """The real 5006-byte Azure quote: CHUNK_SEND one way, LargeResponse + CHUNK_GET the other."""
    blob = quote_blob()
    req_att = QuoteAttestation(blob, policy_hash=b"S" * 48, peer_policy_hash=b"D" * 48)
    rsp_att = QuoteAttestation(blob, policy_hash=b"D" * 48, peer_policy_hash=b"S" * 48)
    req, rsp = pair(req_att=req_att, rsp_att=rsp_att)
    run = pump(req, rsp)
    assert req.result == rsp.result == MigrationResult.Success, (req.failure, rsp.failure)
    codes = [code_of(w) for _, w in run.wire]
    assert codes.count(Code.CHUNK_SEND) == 2 and codes.count(Code.CHUNK_SEND_ACK) == 1
    assert codes.count(Code.CHUNK_GET) == 2 and codes.count(Code.CHUNK_RESPONSE) == 2
    assert codes.count(Code.ERROR) == 1                               # the bare LargeResponse
    got = next(e for e in run.req_events if isinstance(e, ev.EvidenceExchanged))
    assert got == ev.EvidenceExchanged(879 + 5006 + 177, 83 + 5006 + 177, 2, 2)
    got = next(e for e in run.rsp_events if isinstance(e, ev.EvidenceExchanged))
    assert got == ev.EvidenceExchanged(83 + 5006 + 177, 879 + 5006 + 177, 2, 2)
    # REPORTDATA = H("MigTDReq"/"MigTDRsp" ‖ TH1) ‖ 0^16, checked by each verifier and here again
    (seen_by_rsp,), (seen_by_req,) = rsp_att.seen, req_att.seen
    th1 = req.th1
    assert th1 is not None
    assert seen_by_rsp.evidence[QUOTE_REPORT_DATA:QUOTE_REPORT_DATA + 64] == \
        hashlib.sha384(b"MigTDReq" + th1).digest() + bytes(16)
    assert seen_by_req.evidence[QUOTE_REPORT_DATA:QUOTE_REPORT_DATA + 64] == \
        hashlib.sha384(b"MigTDRsp" + th1).digest() + bytes(16)
    assert seen_by_rsp.servtd_ext == b"\x11" * 272 and seen_by_rsp.init_tdinfo == b"\x22" * 512
    assert seen_by_req.servtd_ext is None and seen_by_rsp.policy_hash == b"S" * 48


def test_a_quote_not_bound_to_this_session_is_refused() -> None:
    blob = quote_blob()
    req, rsp = pair(req_att=QuoteAttestation(blob, bind=False), rsp_att=QuoteAttestation(blob))
    pump(req, rsp)
    assert rsp.result == req.result == MigrationResult.MutualAttestationError
    assert "TH1 binding" in rsp.failure.reason  # type: ignore[union-attr]


@pytest.mark.parametrize("piece", [1, 7, 4096])
def test_any_split_of_the_stream(piece: int) -> None:
    blob = quote_blob()
    req, rsp = pair(req_att=QuoteAttestation(blob), rsp_att=QuoteAttestation(blob))
    pump(req, rsp, piece=piece)
    assert req.result == rsp.result == MigrationResult.Success


def test_rebinding_ladder() -> None:
    report = bytes(range(256)) * 4
    att = NullAttestation(evidence=report, event_log=b"log", servtd_ext=b"\x33" * 272)
    req_rb, rsp_rb = Rebind(), Rebind()
    req, rsp = pair(Mode.REBIND, req_att=att, rsp_att=NullAttestation(evidence=report),
                    req_rebind=req_rb, rsp_rebind=rsp_rb)
    run = pump(req, rsp)
    assert req.result == rsp.result == MigrationResult.Success
    plain = [body(w) for _, w in run.wire if w[6] == 1]
    assert plain[10][13 + 2] == vdm.Op.ExchangeRebindAttestInfoReq
    assert plain[11][13 + 2] == vdm.Op.ExchangeRebindAttestInfoRsp
    assert rsp_rb.accepted == (req_rb.token, b"\x33" * 272)
    assert req_rb.approved == req_rb.token
    assert any(isinstance(e, ev.RebindTokenExchanged) for e in run.rsp_events)
    secured = [body(w) for _, w in run.wire if w[6] == 2]
    assert [len(s) for s in secured] == [13 + 4 + 6 + 32 + 32, 17 + 32, 36, 36]


def test_mode_mismatch_fails_both_sides() -> None:
    req, _ = pair(Mode.REBIND, req_att=NullAttestation(evidence=bytes(1024)))
    _, rsp = pair(Mode.MIGRATION)
    pump(req, rsp)
    assert req.result == rsp.result == MigrationResult.SecureSessionError
    assert "op 0x07 in a migration session" in rsp.failure.reason  # type: ignore[union-attr]


def test_local_evidence_of_the_wrong_shape_is_an_attestation_failure() -> None:
    req, rsp = pair(Mode.REBIND)  # an 822-byte quote where a 1024-byte TDREPORT belongs
    pump(req, rsp)
    assert req.result == MigrationResult.MutualAttestationError
    assert rsp.result == MigrationResult.SecureSessionError


def test_events_carry_no_secrets_and_sessions_are_fresh() -> None:
    info = Info()
    req, rsp = pair(req_info=info)
    run = pump(req, rsp)
    text = "".join(repr(e) for e in run.req_events + run.rsp_events)
    assert info.key.hex() not in text and repr(info.key) not in text
    req2, rsp2 = pair()
    pump(req2, rsp2)
    assert req2.th1 != req.th1 and req2.session_id == req.session_id == 0xFFFDFFFD
    assert isinstance(codec.decode(codec.encode(m.EndSession())), m.EndSession)


def test_rebind_tdreport_binding_helper() -> None:
    """A verifier for rebinding reads REPORTDATA at TDREPORT[128..192) and compares it (spdm.md §7)."""
    from migtd.spdm.transcript import TDREPORT_REPORT_DATA, report_data_matches, requester_report_data

    th1 = hashlib.sha384(b"th1").digest()
    report = bytearray(1024)
    report[TDREPORT_REPORT_DATA] = requester_report_data(th1)
    assert report_data_matches(bytes(report[TDREPORT_REPORT_DATA]), requester_report_data(th1))
    report[130] ^= 1
    assert not report_data_matches(bytes(report[TDREPORT_REPORT_DATA]), requester_report_data(th1))
    assert not report_data_matches(b"short", requester_report_data(th1))
