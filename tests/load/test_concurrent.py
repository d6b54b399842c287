"""Twenty migrations at once, real ``migtd`` processes on distinct loopback ports (issue #11).

Forty processes start together (17 skip-RA pairs and 3 mock-report pairs,
which run the full DCAP path against the mock PKI); every one must exit 0,
and within each pair both sides must log the same MSK fingerprint, which no
other pair shares (a fresh random key per run). A slow machine makes them
slower, never wrong: the phase deadline is generous and the test's own wait
is bounded.
"""

from __future__ import annotations

import socket

from .conftest import Procs

PAIRS = 20
MOCK_REPORT_PAIRS = 3
TIMEOUT = "60"


def test_twenty_concurrent_pairs(procs: Procs, skip_ra_env: dict[str, str], mock_report_env: dict[str, str]) -> None:
    # Hold every port until all are chosen, so no two pairs get the same one.
    holders = [socket.socket() for _ in range(PAIRS)]
    for holder in holders:
        holder.bind(("127.0.0.1", 0))
    ports = [str(holder.getsockname()[1]) for holder in holders]
    for holder in holders:
        holder.close()
    envs = [mock_report_env if i < MOCK_REPORT_PAIRS else skip_ra_env for i in range(PAIRS)]
    started = []
    for i, (port, env) in enumerate(zip(ports, envs)):
        rid = str(100 + i)
        dst = procs.start(["-m", "dst", "-t", port, "-r", rid, "--timeout", TIMEOUT], env)
        src = procs.start(["-m", "src", "-t", port, "-r", rid, "--timeout", TIMEOUT], env)
        started.append((src, dst))
    fingerprints = []
    for i, (src, dst) in enumerate(started):
        s, d = procs.finish(src, timeout=120), procs.finish(dst, timeout=120)
        assert (s.code, d.code) == (0, 0), f"pair {i} on port {ports[i]}:\n{s.stderr}\n{d.stderr}"
        for side in (s, d):
            assert "Traceback" not in side.stderr
            assert {e["request_id"] for e in side.events} == {100 + i}
        key = s.event("msk_exchanged")["key_sha256_8"]
        assert d.event("msk_exchanged")["key_sha256_8"] == key, f"pair {i}: the two sides hold different keys"
        mock = i < MOCK_REPORT_PAIRS
        for side in (s, d):
            assert side.event("quote_generated")["source"] == ("mock-qe" if mock else "skip-ra")
            assert side.event("peer_attested")["verified"] is mock
        fingerprints.append(key)
    assert len(set(fingerprints)) == PAIRS
