"""Rebinding in skip-RA (protocol.md §7, §2.1, §2.3).

Pins: emulator set-up of the service-TD fields from the TD report (both hash
fields = SHA-384(SHA-384(TDINFO) ‖ u16 0 ‖ u64 0), cpusvn, TEE_TCB_SVN);
SERVTD_EXT layout (272 bytes: init hash 48, init attr 8, reserved 8, cpusvn 16,
tee_tcb_svn 16, tee_model 12, reserved 4, current hash 48, current attr 8,
reserved 104); rebinding certificates carry a TDREPORT (…1.5) instead of a
quote, the old MigTD adds SERVTD_EXT (…1.6) and init TDINFO (…1.7); the new
MigTD stores the 32-byte token, the peer's current attributes and SHA-384 of
SERVTD_EXT with the current fields zeroed; rebind-finalize (byte 10 = 1)
clears the session token on both sides and succeeds, unlike upstream, whose
MigTD rejects byte 10 as reserved; rebind without policy v2 is refused up front (1);
every mode, azure included, has a rebinding verifier.
"""

from __future__ import annotations

import hashlib
import io
import threading

from migtd import eventlog, modes
from migtd.emu import rebind
from migtd.emu.requests import rebinding_queue
from migtd.emu.tdcs import SERVTD_ATTR, FieldStore
from migtd.emu.vmm import EmulatedVmm
from migtd.events import EventLog
from migtd.mock.providers import SkipRaProvider
from migtd.ratls import certificate as c
from migtd.ratls.evidence import evidence_from_certificate
from migtd.result import MigrationResult
from migtd.session import Migration, SessionConfig
from migtd.transport import connect
from migtd.verdict import SessionFacts
from migtd.verifiers.skip_ra import SkipRaRebindVerifier

UUID = (1, 2, 3, 4)
BH = 0x1234


def _report() -> bytes:
    report = bytearray(SkipRaProvider().td_report(bytes(64), b""))
    report[16:32] = bytes(range(1, 17))           # cpu_svn
    report[256 + 8:256 + 24] = bytes(range(32, 48))  # tee_tcb_svn
    report[512:520] = b"TDINFO!!"
    return bytes(report)


def test_servtd_ext_layout_from_the_emulator_fields() -> None:
    store = FieldStore(msk=bytes(32), version_range=(0, 0))
    report = _report()
    rebind.populate_servtd_fields(store, BH, UUID, report)
    ext = rebind.read_servtd_ext(store, BH, UUID)
    expected_hash = hashlib.sha384(hashlib.sha384(report[512:]).digest() + bytes(10)).digest()
    assert len(ext) == 272
    assert ext[0:48] == expected_hash == ext[112:160]
    assert ext[48:64] == bytes(16)
    assert ext[64:80] == bytes(range(1, 17))
    assert ext[80:96] == bytes(range(32, 48))
    assert ext[96:112] == bytes(16)
    assert ext[160:272] == bytes(112)
    assert store.servtd_rd(BH, UUID, SERVTD_ATTR) == 0


def test_accept_records() -> None:
    store = FieldStore(msk=bytes(32), version_range=(0, 0))
    ext = bytes(range(256)) + bytes(16)
    token = bytes(range(100, 132))
    rebind.store_accept(store, BH, UUID, token, ext)
    assert rebind.read_accept_token(store, BH, UUID) == token
    assert store.servtd_rd(BH, UUID, rebind.SERVTD_REBIND_ATTR) == int.from_bytes(ext[160:168], "little")
    zeroed = ext[:112] + bytes(56) + ext[168:]
    stored = b"".join(store.servtd_rd(BH, UUID, rebind.SERVTD_ACCEPT_SERVTD_EXT_HASH + i).to_bytes(8, "little")
                      for i in range(6))
    assert stored == hashlib.sha384(zeroed).digest() == rebind.accept_hash(ext)


def test_rebind_certificate_extensions() -> None:
    from cryptography.hazmat.primitives.asymmetric import ec

    key = ec.generate_private_key(ec.SECP384R1())
    old = c.parse_certificate(c.build_rebind_certificate(
        key, b"log", bytes(1024), policy_hash=bytes(48), servtd_ext=bytes(272), init_tdinfo=bytes(512)))
    assert old.extension_order == (c.OID_KEY_USAGE, c.OID_EXT_KEY_USAGE, c.OID_EVENT_LOG, c.OID_TDREPORT,
                                   c.OID_POLICY_HASH, c.OID_SERVTD_EXT, c.OID_INIT_TDINFO)
    assert old.quote is None
    new = c.parse_certificate(c.build_rebind_certificate(key, b"log", bytes(1024), policy_hash=bytes(48)))
    assert new.extension(c.OID_SERVTD_EXT) is None
    verifier = SkipRaRebindVerifier()

    def judge(peer: c.ParsedCertificate, is_client: bool) -> bool:
        evidence = evidence_from_certificate(peer, verifier.needs(is_client))
        return verifier.verify(evidence, SessionFacts(), is_client).ok

    assert judge(new, is_client=True)  # the old side accepts anything
    assert judge(old, is_client=False)
    import pytest

    from migtd.errors import MigtdError, SecureSessionError

    with pytest.raises(SecureSessionError, match="SERVTD_EXT"):
        judge(new, is_client=False)  # the new side needs the old one's SERVTD_EXT
    # azure rebinds too: its verifier is the TDREPORT one, which starts by verifying the local policy v2
    assert modes.resolve("azure", {}).rebinding
    with pytest.raises(MigtdError) as err:
        modes.resolve("azure", {}).verifier(modes.Setup("rebind-prepare", 2, b"", b"", {}, 60.0))
    assert err.value.result == MigrationResult.InvalidPolicyError


def _side(is_source: bool, store: FieldStore, stream) -> Migration:
    cfg = SessionConfig(is_source=is_source, event_log=eventlog.skip_ra_event_log(), policy_version=2,
                        policy=b'{"p": 1}', issuer_chain=b"chain")
    provider = SkipRaProvider()
    rebind.populate_servtd_fields(store, BH, UUID, provider.td_report(bytes(64), eventlog.skip_ra_event_log()))
    log = EventLog("source" if is_source else "destination", 5, stream=io.StringIO(), fmt="json")
    verifier = modes.resolve("skip-ra", {}).verifier(modes.Setup("rebind-prepare", 2, b"", b"", {}, 60.0))
    return Migration(cfg, log, stream, EmulatedVmm(rebinding_queue(5, is_source, UUID, BH, finalize=False)),
                     store, provider, verifier)


def test_rebind_prepare_in_process_token_reaches_the_new_migtd() -> None:
    """Both MigTDs in one process (the new one in a thread) over real loopback TCP, so their TDCS stores
    can be compared."""
    from migtd.transport import Listener

    old_store = FieldStore(msk=bytes(32), version_range=(0, 0))
    new_store = FieldStore(msk=bytes(32), version_range=(0, 0))
    listener = Listener("127.0.0.1", 0)
    results: dict[str, MigrationResult] = {}

    def new_side() -> None:
        stream = listener.accept(5)
        try:
            results["new"] = _side(False, new_store, stream).run()
        finally:
            stream.close()

    thread = threading.Thread(target=new_side)
    thread.start()
    stream = connect("127.0.0.1", listener.port, 5)
    try:
        results["old"] = _side(True, old_store, stream).run()
    finally:
        stream.close()
        thread.join(20)
    assert results == {"new": MigrationResult.Success, "old": MigrationResult.Success}
    token = old_store.approved_rebind[(BH, UUID)]
    assert len(token) == 32 and token != bytes(32)
    assert rebind.read_accept_token(new_store, BH, UUID) == token
    old_ext = rebind.read_servtd_ext(old_store, BH, UUID)
    stored = b"".join(new_store.servtd_rd(BH, UUID, rebind.SERVTD_ACCEPT_SERVTD_EXT_HASH + i).to_bytes(8, "little")
                      for i in range(6))
    assert stored == rebind.accept_hash(old_ext)


def test_rebind_processes(procs, cfg_env, port, tmp_path) -> None:
    chain = tmp_path / "chain.pem"
    chain.write_text("chain")
    env = dict(cfg_env, MIGTD_POLICY_VERSION="2", MIGTD_POLICY_ISSUER_CHAIN_FILE=str(chain))
    for op in ("rebind-prepare", "rebind-finalize"):
        dst = procs.start(["-m", "dst", "-o", op, "-t", str(port)], env)
        src = procs.finish(procs.start(["-m", "src", "-o", op, "-t", str(port)], env))
        d = procs.finish(dst)
        assert (src.code, d.code) == (0, 0), src.stderr + d.stderr
        kinds = [e["kind"] for e in src.events if e["event"] == "request"]
        assert kinds == ["EnableLogArea", "GetMigtdData", "StartRebinding"]
        gmd = [e for e in src.events if e["event"] == "report_status" and e["kind"] == "GetMigtdData"]
        assert gmd[0]["data_len"] == 512  # the TDINFO_STRUCT
        if op == "rebind-finalize":
            assert "Rebinding session token cleared (the approved token" in src.stderr
            assert "Rebinding session token cleared (SERVTD_REBIND_ACCEPT_TOKEN zeroed)" in d.stderr
            assert "tls_established" not in [e["event"] for e in src.events]  # finalize is local


def test_finalize_request_byte_and_token_clearing() -> None:
    from migtd.emu.requests import Operation, parse_request

    req = rebinding_queue(5, True, UUID, BH, finalize=True)[2]
    parsed = parse_request(req.encode(), policy_v2=True)
    assert parsed is not None and parsed.operation == Operation.StartRebinding
    assert parsed.migration is not None and parsed.migration.operation_byte == 1
    bad = bytearray(req.encode())
    bad[bad.find(req.payload()) + 10] = 2  # byte 10 = 2: no such rebind operation
    import pytest

    from migtd.emu.requests import RequestError

    with pytest.raises(RequestError, match="byte 10"):
        parse_request(bytes(bad), policy_v2=True)
    store = FieldStore(msk=bytes(32), version_range=(0, 0))
    rebind.populate_servtd_fields(store, BH, UUID, _report())
    rebind.seed_prepared_session(store, BH, UUID, is_old=False, token=bytes(range(32)))
    assert rebind.read_accept_token(store, BH, UUID) == bytes(range(32))
    assert rebind.clear_accept_token(store, BH, UUID) is True
    assert rebind.read_accept_token(store, BH, UUID) == bytes(32)
    assert rebind.clear_accept_token(store, BH, UUID) is False


def test_rebind_with_other_modes_is_refused_before_networking(procs, cfg_env, port, tmp_path) -> None:
    chain = tmp_path / "chain.pem"
    chain.write_text("chain")
    env = dict(cfg_env, MIGTD_POLICY_VERSION="2", MIGTD_POLICY_ISSUER_CHAIN_FILE=str(chain),
               MIGTD_ATTESTATION="mock-report")
    # mock-report rebinding verifies the local policy v2 at start-up: this one is not signed (9)
    d = procs.finish(procs.start(["-m", "dst", "-o", "rp", "-t", str(port)], env))
    assert d.code == 9 and "listening" not in [e["event"] for e in d.events]
