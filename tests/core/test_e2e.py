"""Real ``migtd`` processes on loopback, skip-RA (protocol.md §2.1, §4.1, §4.5, §4.9, §6).

Pins: both sides exit 0 after EnableLogArea → GetTDReport → StartMigration;
``msk_exchanged.key_sha256_8`` matches across sides (source logs the key it
sent, destination the key it received); default version range 0–0 gives
version 0 as with a Rust peer; incompatible ranges make both exit 1;
quote retry hook; SIGTERM/SIGHUP give a logged clean exit; the key itself
never reaches a log.
"""

from __future__ import annotations

import signal
import struct
import time
from pathlib import Path

import pytest

from migtd import paths
from migtd.protocol.msk import key_fingerprint


def pair(procs, env, port, src_env=None, dst_env=None, extra=()):
    dst = procs.start(["-m", "dst", "-t", str(port), *extra], dict(env, **(dst_env or {})))
    src = procs.start(["-m", "src", "-t", str(port), *extra], dict(env, **(src_env or {})))
    s = procs.finish(src)
    d = procs.finish(dst)
    return s, d


def test_skip_ra_migration_succeeds_with_matching_key_fingerprints(procs, cfg_env, port) -> None:
    s, d = pair(procs, cfg_env, port, extra=("-r", "77"))
    assert (s.code, d.code) == (0, 0), s.stderr + d.stderr
    for side, role in ((s, "source"), (d, "destination")):
        names = [e["event"] for e in side.events]
        assert names[0] == "start" and names[-1] == "exit"
        for required in ("config", "connected", "quote_generated", "tls_established", "peer_attested",
                         "policy_decision", "msk_exchanged"):
            assert required in names, (role, names)
        assert [e["kind"] for e in side.events if e["event"] == "request"] == [
            "EnableLogArea", "GetTDReport", "StartMigration"]
        assert [e["id"] for e in side.events if e["event"] == "request"] == [
            "800000000000004D", "400000000000004D", "000000000000004D"]
        assert [(e["kind"], e["code"]) for e in side.events if e["event"] == "report_status"] == [
            ("EnableLogArea", 0), ("GetTDReport", 0), ("StartMigration", 0)]
        assert all(e["role"] == role and e["request_id"] == 77 for e in side.events)
        assert side.event("tls_established")["cipher"] == "TLS_AES_256_GCM_SHA384"
        assert side.event("tls_established")["version"] == "TLSv1.3"
        quote = side.event("quote_generated")
        assert (quote["bytes"], quote["source"]) == (822, "skip-ra")
        assert side.event("peer_attested")["verified"] is False
        assert side.event("policy_decision")["skipped"] is True
        assert side.event("exit")["code"] == 0 and side.event("exit")["result"] == "Success"
        assert "Traceback" not in side.stderr
    assert "listening" in [e["event"] for e in d.events]
    assert s.event("msk_exchanged")["key_sha256_8"] == d.event("msk_exchanged")["key_sha256_8"]
    assert s.event("msk_exchanged")["mig_version"] == d.event("msk_exchanged")["mig_version"] == 0
    assert any("NOT attested" in e["msg"] for e in s.events if e["level"] == "warn")


def test_zero_key_fingerprint_and_no_key_in_logs(procs, cfg_env, port, tmp_path) -> None:
    """With upstream's all-zero MSK the fingerprint is known; the key bytes never appear."""
    log = tmp_path / "dst.log"
    s, d = pair(procs, dict(cfg_env, MIGTD_EMU_MSK="zero", RUST_LOG="trace"), port,
                dst_env={"MIGTD_LOG_FILE": str(log)})
    assert (s.code, d.code) == (0, 0)
    assert s.event("msk_exchanged")["key_sha256_8"] == key_fingerprint(bytes(32))
    assert log.read_text() == d.stderr
    for text in (s.stderr, d.stderr):
        assert "0" * 64 not in text and "msk\"" not in text.lower()


def test_text_format_logs(procs, cfg_env, port) -> None:
    s, d = pair(procs, dict(cfg_env, MIGTD_LOG_FORMAT="text"), port)
    assert (s.code, d.code) == (0, 0)
    assert "INFO  - [req_id: 1] Migration key exchange successful!" in s.stderr
    assert "{" not in d.stderr.splitlines()[0]


def test_negotiated_version_from_overlapping_ranges(procs, cfg_env, port) -> None:
    s, d = pair(procs, cfg_env, port, src_env={"MIGTD_EMU_MIG_VERSION": "1-3"},
                dst_env={"MIGTD_EMU_MIG_VERSION": "2-5"})
    assert (s.code, d.code) == (0, 0)
    assert s.event("msk_exchanged")["mig_version"] == d.event("msk_exchanged")["mig_version"] == 3


def test_version_mismatch_fails_both_sides_with_1(procs, cfg_env, port) -> None:
    s, d = pair(procs, cfg_env, port, src_env={"MIGTD_EMU_MIG_VERSION": "1-1"},
                dst_env={"MIGTD_EMU_MIG_VERSION": "2-2"})
    assert (s.code, d.code) == (1, 1)
    for side in (s, d):
        assert side.event("exit")["result"] == "InvalidParameter"
        assert "incompatible migration versions" in side.stderr
        assert [e["event"] for e in side.events].count("msk_exchanged") == 0
        assert side.event("report_status")["code"] == 1


def test_quote_failures_within_retries_recover(procs, cfg_env, port) -> None:
    s, d = pair(procs, cfg_env, port, src_env={"MIGTD_QUOTE_FAILURES": "2"})
    assert (s.code, d.code) == (0, 0)
    warns = [e["msg"] for e in s.events if "Simulating quote failure" in e["msg"]]
    assert len(warns) == 2 and all(e["level"] == "warn" for e in s.events if e["msg"] in warns)


def test_quote_failure_after_retries_is_7(procs, cfg_env, port) -> None:
    s, d = pair(procs, dict(cfg_env, MIGTD_TIMEOUT="5"), port, src_env={"MIGTD_QUOTE_FAILURES": "6"})
    assert s.code == 7 and s.event("exit")["result"] == "MutualAttestationError"
    assert d.code == 6  # the source hung up before the TLS handshake
    assert len([e for e in s.events if "Simulating quote failure" in e["msg"]]) == 6


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGHUP])
def test_signal_gives_logged_clean_exit(procs, cfg_env, port, sig) -> None:
    dst = procs.start(["-m", "dst", "-t", str(port)], cfg_env)
    deadline = time.monotonic() + 10
    line = ""
    while '"listening"' not in line and time.monotonic() < deadline:
        line = dst.stderr.readline()
    assert '"listening"' in line
    dst.send_signal(sig)
    d = procs.finish(dst, timeout=10)
    assert d.code == 5 and "Traceback" not in d.stderr
    assert d.event("exit")["reason"] == f"terminated by {sig.name}"


def test_silent_source_times_out(procs, cfg_env, port, connect_to) -> None:
    dst = procs.start(["-m", "dst", "-t", str(port), "--timeout", "1"], cfg_env)
    sock = connect_to(port)
    start = time.monotonic()
    d = procs.finish(dst, timeout=15)
    sock.close()
    assert d.code == 5 and time.monotonic() - start < 5
    assert "no data from the peer within 1 s" in d.event("exit")["reason"]


def test_silent_destination_times_out(procs, cfg_env, listener) -> None:
    server, port = listener()
    src = procs.start(["-m", "src", "-t", str(port), "--timeout", "1"], cfg_env)
    conn, _ = server.accept()
    start = time.monotonic()
    s = procs.finish(src, timeout=15)
    conn.close()
    assert s.code == 5 and time.monotonic() - start < 5


def test_no_source_connects_within_timeout(procs, cfg_env, port) -> None:
    d = procs.finish(procs.start(["-m", "dst", "-t", str(port), "--timeout", "0.5"], cfg_env), timeout=15)
    assert d.code == 5 and "no source connected" in d.event("exit")["reason"]


@pytest.fixture
def v2_env(cfg_env, tmp_path):
    chain = tmp_path / "issuer_chain.pem"
    chain.write_text("-----BEGIN CERTIFICATE-----\nnot checked in skip-RA\n-----END CERTIFICATE-----\n")
    env = dict(cfg_env, MIGTD_POLICY_VERSION="2", MIGTD_POLICY_ISSUER_CHAIN_FILE=str(chain))
    env.pop("MIGTD_ROOT_CA_FILE")
    return env


def test_policy_v2_pre_session_then_migration(procs, v2_env, port) -> None:
    s, d = pair(procs, v2_env, port)
    assert (s.code, d.code) == (0, 0), s.stderr + d.stderr
    assert "Pre-Session-Message Version: 0x0100" in s.stderr
    assert s.event("policy_decision")["policy_version"] == 2


def test_policy_v2_pre_session_bytes_match_the_transcript(procs, v2_env, listener, fake_peer) -> None:
    """§4.9: HELLO header, HELLO payload, PRE_SESSION_DATA header, blob, START_SESSION."""
    server, port = listener()
    src = procs.start(["-m", "src", "-t", str(port), "--timeout", "3"], v2_env)
    conn, _ = server.accept()
    peer = fake_peer(conn)
    policy = Path(v2_env["MIGTD_POLICY_FILE"]).read_bytes()
    chain = Path(v2_env["MIGTD_POLICY_ISSUER_CHAIN_FILE"]).read_bytes()
    blob = struct.pack("<I", len(policy)) + policy + struct.pack("<I", len(chain)) + chain
    assert [peer.recv_frame(), peer.recv_frame()] == [bytes.fromhex("FF00000008000000"),
                                                      bytes.fromhex("4D47544400010001")]
    peer.send_frame(bytes.fromhex("FF00000008000000") + b"MGTD\x00\x01\x00\x02")  # coalesced: allowed
    assert [peer.recv_frame(), peer.recv_frame()] == [b"\x01\x00\x00\x00" + struct.pack("<I", len(blob)), blob]
    peer.send_frame(b"\x01\x00\x00\x00" + struct.pack("<I", len(blob)))
    peer.send_frame(blob)
    assert peer.recv_frame() == bytes.fromhex("0200000000000000")
    peer.send_frame(bytes.fromhex("0200000004000000"))  # START_SESSION must have length 0
    s = procs.finish(src)
    peer.close()
    assert s.code == 1 and "expected START_SESSION" in s.event("exit")["reason"]
    assert "Pre-Session-Message Version: 0x0100" in s.stderr


def test_policy_v2_hello_without_common_version_is_1(procs, v2_env, listener, fake_peer) -> None:
    server, port = listener()
    src = procs.start(["-m", "src", "-t", str(port), "--timeout", "3"], v2_env)
    peer = fake_peer(server.accept()[0])
    peer.send_frame(bytes.fromhex("FF00000008000000"))
    peer.send_frame(b"MGTD\x00\x02\x00\x02")  # the peer only speaks 0x0200
    s = procs.finish(src)
    peer.close()
    assert s.code == 1 and "no common version" in s.event("exit")["reason"]


def test_policy_v2_oversized_peer_blob_is_refused(procs, v2_env, listener, fake_peer) -> None:
    server, port = listener()
    src = procs.start(["-m", "src", "-t", str(port), "--timeout", "3"], v2_env)
    peer = fake_peer(server.accept()[0])
    peer.send_frame(bytes.fromhex("FF00000008000000") + b"MGTD\x00\x01\x00\x01")
    peer.send_frame(b"\x01\x00\x00\x00" + struct.pack("<I", 0xFFFFFFF0))
    s = procs.finish(src)
    peer.close()
    assert s.code == 1 and "exceeds" in s.event("exit")["reason"]


@pytest.mark.parametrize(("blob", "problem"), [
    (struct.pack("<I", 2) + b"{}" + struct.pack("<I", 0), "empty issuer chain"),
    (struct.pack("<I", 2) + b"{}" + struct.pack("<I", 1) + b"cX", "1 trailing bytes"),
    (struct.pack("<I", 9) + b"{}", "runs past the end"),
])
def test_policy_v2_malformed_peer_blob_is_1(procs, v2_env, listener, fake_peer, blob, problem) -> None:
    server, port = listener()
    src = procs.start(["-m", "src", "-t", str(port), "--timeout", "3"], v2_env)
    peer = fake_peer(server.accept()[0])
    peer.send_frame(bytes.fromhex("FF00000008000000") + b"MGTD\x00\x01\x00\x01")
    peer.send_frame(b"\x01\x00\x00\x00" + struct.pack("<I", len(blob)) + blob)
    s = procs.finish(src)
    peer.close()
    assert s.code == 1 and "pre-session: peer data" in s.event("exit")["reason"]
    assert problem in s.event("exit")["reason"]


def test_rebind_without_policy_v2_is_refused_before_the_network(procs, cfg_env, port) -> None:
    """Upstream's v1 build answers StartRebinding with 12 once connected; we know before (README "Earlier
    checks"): exit 1, one line, no listening, no request taken."""
    s, d = pair(procs, dict(cfg_env, MIGTD_TIMEOUT="2"), port, extra=("-o", "rebind-prepare"))
    for side in (s, d):
        assert side.code == 1, side.stderr
        assert "needs --policy-version 2" in side.event("exit")["reason"]
        names = [e["event"] for e in side.events]
        assert "listening" not in names and "connected" not in names and "request" not in names


def test_upstream_config_files_pass_the_checks(procs, cfg_env, port, vectors) -> None:
    """Upstream's own policy.json and Intel root CA (v1; the shipped copy), as a Rust MigTD would load them."""
    cfg = vectors / "policy" / "config"
    env = dict(cfg_env, MIGTD_POLICY_FILE=str(cfg / "policy.json"), MIGTD_ROOT_CA_FILE=str(paths.intel_root_ca()))
    s, d = pair(procs, env, port)
    assert (s.code, d.code) == (0, 0), s.stderr + d.stderr


def test_upstream_v2_files_cross_frame_boundaries(procs, cfg_env, port, vectors) -> None:
    """The 172 KB signed v2 policy makes a pre-session blob split into ≤ 65 524-byte frames."""
    tpl = vectors / "policy" / "config" / "templates"
    env = dict(cfg_env, MIGTD_POLICY_VERSION="2", MIGTD_POLICY_FILE=str(tpl / "policy_v2_signed.json"),
               MIGTD_POLICY_ISSUER_CHAIN_FILE=str(tpl / "policy_issuer_chain.pem"))
    s, d = pair(procs, env, port)
    assert (s.code, d.code) == (0, 0), s.stderr + d.stderr
    assert s.event("msk_exchanged")["key_sha256_8"] == d.event("msk_exchanged")["key_sha256_8"]


def test_destination_reports_the_real_port_when_given_0(procs, cfg_env) -> None:
    dst = procs.start(["-m", "dst", "-t", "0", "--timeout", "5"], cfg_env)
    line = dst.stderr.readline()
    while '"listening"' not in line and line:
        line = dst.stderr.readline()
    import json

    port = json.loads(line)["port"]
    assert port > 0
    s = procs.finish(procs.start(["-m", "src", "-t", str(port)], cfg_env))
    d = procs.finish(dst)
    assert (s.code, d.code) == (0, 0)
