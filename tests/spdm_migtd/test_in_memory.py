"""The SPDM requester against the responder in memory, each side built as ``migtd`` builds it.

For every attestation mode without a TPM (azure: tests/azure/test_spdm.py) and
both policy versions, each side's quote comes from the mode's own provider and
the peer is judged by the mode's own verifier (DCAP and the policy, through
``verdict.Evidence``), not a test double: only the sockets are missing. What is
pinned, per mode (spdm.md §5, §6, §8):

* with the project's mock QE the quote's REPORTDATA is SHA-384(prefix ‖ TH1)
  and is checked (nothing bypassed); with the captured Azure quote the
  binding and the event-log replay are bypassed and listed; skip-RA checks
  nothing but, with policy v2, the MigPolicyMy hash;
* the MSK each side sent is the key the other stored in MIG_DEC_KEY, and both
  log the same ``key_sha256_8``; with policy v2 the destination records the
  SERVTD_EXT hash;
* quotes of real size (the 5006-byte Azure quote, the 4253-byte mock-QE
  quote with a policy-v1 event log) are chunked both ways.
"""

from __future__ import annotations

import hashlib

import pytest

from migtd.emu import rebind
from migtd.emu.tdcs import MIG_DEC_KEY, MIG_ENC_KEY, MIG_VERSION
from migtd.protocol.msk import key_fingerprint
from migtd.result import MigrationResult as R
from migtd.spdm.transcript import requester_report_data, responder_report_data

from .conftest import MODES, link_blobs, pump

BYPASSED = {"skip-ra": {"quote_verification", "reportdata_binding", "event_log_replay", "certificate_signature",
                        "policy"},
            "mock-report": set(),
            "mock-quote-file": {"reportdata_binding", "event_log_replay"}}
QUOTE_SIZE = {"skip-ra": 822, "mock-report": 4253, "mock-quote-file": 5006}
QUOTE_REPORT_DATA = slice(568, 632)  # quote v4: 48-byte header, REPORTDATA at 520 of the TD report body


@pytest.mark.parametrize("version", [1, 2])
@pytest.mark.parametrize("mode", MODES)
def test_migration_in_memory(cases, mode: str, version: int) -> None:  # type: ignore[no-untyped-def]
    case = cases(mode, version)
    src, dst = case.side("source"), case.side("destination")
    run = pump(src, dst)
    assert (run.requester.result, run.responder.result) == (R.Success, R.Success), \
        src.stream.getvalue() + dst.stream.getvalue()
    th1 = run.requester.th1
    assert th1 == run.responder.th1
    for side, peer in ((src, dst), (dst, src)):
        quote = side.event("quote_generated")
        assert quote["bytes"] == QUOTE_SIZE[mode]
        attested = side.event("peer_attested")
        assert set(attested["bypassed"]) == BYPASSED[mode], attested
        assert attested["verified"] is (mode != "skip-ra")
        decision = side.event("policy_decision")
        assert decision["ok"] is True and decision["policy_version"] == version
        assert decision["skipped"] is (mode == "skip-ra")
        # the MSK the peer sent is the one stored, and both sides fingerprint the source's key
        bh, uuid = side.hooks.request.binding_handle, side.hooks.request.uuid
        sent = peer.plan.store.read_key(bh, uuid, MIG_ENC_KEY)
        assert side.plan.store.read_key(bh, uuid, MIG_DEC_KEY) == sent
        assert side.plan.store.servtd_rd(bh, uuid, MIG_VERSION) == 0
        assert side.event("spdm_key_exchanged")["th1"] == th1.hex().upper()
        assert side.event("spdm_session_ended")["session_id"] == "0xFFFDFFFD"
    source_key = src.plan.store.read_key(src.hooks.request.binding_handle, src.hooks.request.uuid, MIG_ENC_KEY)
    assert src.event("msk_exchanged")["key_sha256_8"] == dst.event("msk_exchanged")["key_sha256_8"] \
        == key_fingerprint(source_key)
    # with the mock QE each quote carries SHA-384(prefix || TH1) and the peer checked it
    if mode == "mock-report":
        assert src.hooks.local_quote[QUOTE_REPORT_DATA] == requester_report_data(th1)
        assert dst.hooks.local_quote[QUOTE_REPORT_DATA] == responder_report_data(th1)
    if version == 2:
        # the destination recorded SHA-384 of the source's SERVTD_EXT (272 zero bytes in migration)
        bh, uuid = dst.hooks.request.binding_handle, dst.hooks.request.uuid
        assert dst.plan.store.read_bytes(bh, uuid, rebind.SERVTD_ACCEPT_SERVTD_EXT_HASH, 6) == \
            rebind.accept_hash(bytes(272))
    # real-size quotes travel in chunks (DataTransferSize 4032), both ways
    exchanged = src.event("spdm_evidence_exchanged")
    if mode != "skip-ra":
        assert exchanged["sent_bytes"] > 4032 and exchanged["chunks_sent"] >= 2
        assert exchanged["received_bytes"] > 4032 and exchanged["chunks_received"] >= 2
        assert dst.event("spdm_evidence_exchanged")["chunks_received"] == exchanged["chunks_sent"]
    else:
        assert (exchanged["chunks_sent"], exchanged["chunks_received"]) == (0, 0)


def test_the_azure_quote_is_chunked_both_ways_on_the_wire(cases) -> None:  # type: ignore[no-untyped-def]
    """The 5006-byte quote: CHUNK_SEND/ACK from the source, LargeResponse + CHUNK_GET for the answer (§2.3)."""
    case = cases("mock-quote-file", 1)
    run = pump(case.side("source"), case.side("destination"))
    assert run.requester.result == R.Success
    codes = [(d, w[13]) for d, w in run.wire if w[6] == 1]
    assert ("S>D", 0x85) in codes and ("D>S", 0x05) in codes          # CHUNK_SEND, CHUNK_SEND_ACK
    assert ("S>D", 0x86) in codes and ("D>S", 0x06) in codes          # CHUNK_GET, CHUNK_RESPONSE
    assert ("D>S", 0x7F) in codes                                     # ERROR LargeResponse
    assert max(len(w) - 12 for _, w in run.wire) <= 4032


@pytest.mark.parametrize("version", [1, 2])
def test_a_mock_qe_quote_not_bound_to_the_transcript_is_refused(cases, version: int) -> None:  # type: ignore[no-untyped-def]
    """The mock QE's binding is checked for real: v2 MutualAttestationError, v1 SecureSessionError (§5)."""
    case = cases("mock-report", version)
    src, dst = case.side("source"), case.side("destination")
    provider = src.hooks.provider
    original = provider.td_report
    provider.td_report = lambda report_data, event_log: original(bytes(64), event_log)  # type: ignore[method-assign]
    run = pump(src, dst)
    expected = R.MutualAttestationError if version == 2 else R.SecureSessionError
    assert run.responder.result == expected
    assert run.requester.result == expected  # the destination's ERROR carries its code
    assert "REPORTDATA does not" in dst.event("spdm_failed")["reason"]
    assert not dst.all("msk_exchanged") and not src.all("msk_exchanged")


def test_policy_v2_policy_hash_not_the_pre_session_blob_is_a_session_error(cases) -> None:  # type: ignore[no-untyped-def]
    """MigPolicyMy ≠ SHA-384(peer blob): upstream's plain failure (6), checked even in skip-RA (§6.1, §6.2)."""
    case = cases("skip-ra", 2)
    src, dst = case.side("source"), case.side("destination")
    link_blobs(src, dst)
    dst.hooks.peer_blob = b"not the pre-session data the source sent"
    run = pump(src, dst)
    assert (run.requester.result, run.responder.result) == (R.SecureSessionError, R.SecureSessionError)
    decision = dst.event("policy_decision")
    assert decision["ok"] is False and decision["kind"] == "PolicyHashMismatch"
    assert decision["failed_rules"] == ["integrity.policy_hash"]
    assert "mig policy hash" in dst.event("spdm_failed")["reason"]
    assert not src.all("spdm_finished")


@pytest.mark.parametrize("mode", ["skip-ra", "mock-report"])
def test_rebind_prepare_in_memory(cases, mode: str) -> None:  # type: ignore[no-untyped-def]
    """Rebinding over SPDM (§7): TDREPORTs bound to TH1, the token in the secured session."""
    case = cases(mode, 2)
    old, new = case.side("source", operation="rebind-prepare"), case.side("destination", operation="rebind-prepare")
    run = pump(old, new)
    assert (run.requester.result, run.responder.result) == (R.Success, R.Success), \
        old.stream.getvalue() + new.stream.getvalue()
    bh, uuid = old.hooks.request.binding_handle, old.hooks.request.uuid
    token = old.plan.store.approved_rebind[(bh, uuid)]
    assert rebind.read_accept_token(new.plan.store, bh, uuid) == token
    ext = rebind.read_servtd_ext(old.plan.store, bh, uuid)
    assert new.plan.store.read_bytes(bh, uuid, rebind.SERVTD_ACCEPT_SERVTD_EXT_HASH, 6) == rebind.accept_hash(ext)
    if mode == "mock-report":
        th1 = run.requester.th1
        assert old.hooks.local_tdreport[128:192] == requester_report_data(th1)
        assert new.hooks.local_tdreport[128:192] == responder_report_data(th1)
        for side in (old, new):
            attested = side.event("peer_attested")
            assert attested["evidence"] == "tdreport" and "reportdata_binding" not in attested["bypassed"]
    assert not old.all("msk_exchanged")


def test_rebind_with_a_captured_quote_fails_the_tdreport_binding_with_7(cases) -> None:  # type: ignore[no-untyped-def]
    """A TD report derived from MOCK_QUOTE_FILE cannot carry TH1; upstream checks this binding in emulation
    too and fails with MutualAttestationError (§7, §8), and so does MigTD-Py (on both sides)."""
    case = cases("mock-quote-file", 2)
    old, new = case.side("source", operation="rebind-prepare"), case.side("destination", operation="rebind-prepare")
    run = pump(old, new)
    assert (run.requester.result, run.responder.result) == (R.MutualAttestationError, R.MutualAttestationError)
    assert "Rebind peer REPORTDATA does not match" in new.event("spdm_failed")["reason"]
    attested = new.event("peer_attested")
    assert "reportdata_binding" not in attested["bypassed"] and "event_log_replay" in attested["bypassed"]
    bh, uuid = new.hooks.request.binding_handle, new.hooks.request.uuid
    assert not any(rebind.read_accept_token(new.plan.store, bh, uuid))


def test_version_ranges_that_do_not_meet_fail_both_sides_with_1(cases) -> None:  # type: ignore[no-untyped-def]
    """The destination refuses op 0x05 (VDM 1 → ERROR 0xFF/1), so both report InvalidParameter (§6.4)."""
    case = cases("skip-ra", 1)
    src = case.side("source", env={"MIGTD_EMU_MIG_VERSION": "1-1"})
    dst = case.side("destination", env={"MIGTD_EMU_MIG_VERSION": "2-2"})
    run = pump(src, dst)
    assert (run.requester.result, run.responder.result) == (R.InvalidParameter, R.InvalidParameter)
    assert "incompatible migration versions" in dst.event("spdm_failed")["reason"]
    assert not src.all("msk_exchanged") and not dst.all("msk_exchanged")


def test_negotiated_version_from_overlapping_ranges(cases) -> None:  # type: ignore[no-untyped-def]
    case = cases("skip-ra", 1)
    src = case.side("source", env={"MIGTD_EMU_MIG_VERSION": "1-3"})
    dst = case.side("destination", env={"MIGTD_EMU_MIG_VERSION": "2-5"})
    run = pump(src, dst)
    assert run.requester.result == R.Success
    assert src.event("msk_exchanged")["mig_version"] == dst.event("msk_exchanged")["mig_version"] == 3


def test_no_key_material_in_any_record(cases) -> None:  # type: ignore[no-untyped-def]
    case = cases("mock-report", 1)
    src, dst = case.side("source"), case.side("destination")
    pump(src, dst)
    bh, uuid = src.hooks.request.binding_handle, src.hooks.request.uuid
    for side in (src, dst):
        text = side.stream.getvalue()
        key = side.plan.store.read_key(bh, uuid, MIG_ENC_KEY)
        assert key.hex() not in text.lower() and key.hex().upper() not in text
        assert hashlib.sha384(key).hexdigest() not in text.lower()


def test_the_destinations_policy_refusal_is_8_on_both_sides(cases, tmp_path) -> None:  # type: ignore[no-untyped-def]
    """The destination's v1 policy wants another MRTD: it reports 8 and so does the source, from the
    destination's ERROR (upstream's destination reports 0 here, spdm.md §6.4)."""
    import json

    from migtd import paths

    policy = json.loads(paths.default_policy().read_bytes())
    block = next(b for b in policy["policy"] if "MigTD" in b)["MigTD"]
    block["TDINFO"]["MRTD"] = {"operation": "equal", "reference": "AB" * 48}
    strict = tmp_path / "strict_policy.json"
    strict.write_text(json.dumps(policy))
    case = cases("mock-report", 1)
    src, dst = case.side("source"), case.side("destination", env={"MIGTD_POLICY_FILE": str(strict)})
    run = pump(src, dst)
    decision = dst.event("policy_decision")
    assert decision["ok"] is False and "MigTD.TDINFO.MRTD" in decision["failed_rules"]
    assert (run.requester.result, run.responder.result) == (R.PolicyUnsatisfiedError,) * 2
    assert not src.all("peer_attested") and not dst.all("msk_exchanged")


def test_the_sources_forward_policy_refusal_is_8_and_the_destination_6(cases, tmp_path) -> None:  # type: ignore[no-untyped-def]
    """A v2 forwardPolicy the destination's engine cannot meet: the source refuses with 8 after the
    destination accepted it; the destination, waiting for FINISH, sees the source hang up: 6 (as upstream)."""
    from .conftest import write_v2_policy

    policy, chain = write_v2_policy(tmp_path, "forward", forward_min_isvsvn=99)
    case = cases("mock-report", 2)
    env = {"MIGTD_POLICY_FILE": str(policy), "MIGTD_POLICY_ISSUER_CHAIN_FILE": str(chain)}
    src, dst = case.side("source", env=env), case.side("destination", env=env)
    run = pump(src, dst)
    assert src.event("policy_decision")["ok"] is False and dst.event("policy_decision")["ok"] is True
    assert (run.requester.result, run.responder.result) == (R.PolicyUnsatisfiedError, R.SecureSessionError)
    assert not dst.all("spdm_finished")
