#!/usr/bin/env python3
"""CPU cost of a full in-memory SPDM ladder vs an in-memory RA-TLS exchange (skip-RA, both roles).

Each round runs, in one process and in alternating order:

* **SPDM**: a migtd.spdm Requester against a Responder, wired in memory, with
  the null (skip-RA) attestation: negotiation, public-key VDMs, KEY_EXCHANGE
  (ECDHE + ECDSA), 822-byte-quote attestation VDMs (+177-byte event log),
  FINISH (ECDSA + HMAC), the secured MSK VDMs and END_SESSION;
* **RA-TLS**: what the engine does for the same job today — per side a fresh
  P-384 key and a MigTD certificate (822-byte quote, skip-RA event log),
  a TLS 1.3 handshake between two ``migtd.ratls.tls.TlsEngine`` in memory,
  the skip-RA verifier on each peer certificate, and the 40-byte
  ExchangeInformation each way.

Both exclude sockets, process start and quote generation: this measures the
protocol work the 1.2× target of issue #14 is about. The figure is the median
of per-round ratios SPDM/RA-TLS (CPU time, ``time.process_time``) with its
interquartile range, after warm-up rounds.

    .venv/bin/python benchmarks/spdm_ladder.py [--rounds 40] [--batch 5]
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))


def spdm_once() -> None:
    from migtd.spdm import MigrationInfo, NullAttestation, Requester, Responder

    class Info:
        def __init__(self) -> None:
            self.key = os.urandom(32)

        def local_info(self) -> MigrationInfo:
            return MigrationInfo(self.key)

        def accept_peer_info(self, peer: MigrationInfo) -> None:
            pass

    log = bytes(177)
    a, b = NullAttestation(event_log=log), NullAttestation(event_log=log)
    req = Requester(attester=a, verifier=a, migration=Info())
    rsp = Responder(attester=b, verifier=b, migration=Info())
    req.start()
    while not (req.done and rsp.done):
        moved = False
        for w in req.data_to_send():
            rsp.receive_data(w)
            moved = True
        for w in rsp.data_to_send():
            req.receive_data(w)
            moved = True
        if not moved:
            break
    assert req.result == 0 and rsp.result == 0, (req.failure, rsp.failure)


def ratls_once() -> None:
    from cryptography.hazmat.primitives.asymmetric import ec

    from migtd import eventlog
    from migtd.ratls import certificate
    from migtd.ratls.evidence import evidence_from_certificate
    from migtd.ratls.tls import TlsEngine
    from migtd.verdict import SessionFacts
    from migtd.verifiers.skip_ra import SkipRaVerifier

    def identity():
        key = ec.generate_private_key(ec.SECP384R1())
        return key, certificate.build_certificate(key, bytes(822), eventlog.skip_ra_event_log())

    ck, ccert = identity()
    sk, scert = identity()
    client = TlsEngine(is_client=True, certificate_der=ccert, private_key=ck)
    server = TlsEngine(is_client=False, certificate_der=scert, private_key=sk)
    for _ in range(10):
        c_done = client.step_handshake()
        server.feed(client.take_outgoing())
        s_done = server.step_handshake()
        client.feed(server.take_outgoing())
        if c_done and s_done:
            break
    else:
        raise AssertionError("TLS handshake did not finish")
    verifier = SkipRaVerifier()
    for peer_der, is_client in ((server.peer_certificate_der(), False), (client.peer_certificate_der(), True)):
        evidence = evidence_from_certificate(certificate.parse_certificate(peer_der), verifier.needs(is_client))
        assert verifier.verify(evidence, SessionFacts(), is_client=is_client).ok
    client.write(bytes(40))
    server.feed(client.take_outgoing())
    assert server.read(40) == bytes(40)
    server.write(bytes(40))
    client.feed(server.take_outgoing())
    assert client.read(40) == bytes(40)


def cpu(fn, batch: int) -> float:
    start = time.process_time()
    for _ in range(batch):
        fn()
    return (time.process_time() - start) / batch


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--rounds", type=int, default=40, help="measured rounds (default 40, at least 30)")
    ap.add_argument("--batch", type=int, default=5, help="runs of each side per round (default 5)")
    ap.add_argument("--warmup", type=int, default=3)
    args = ap.parse_args()
    for _ in range(args.warmup):
        spdm_once()
        ratls_once()
    ratios, spdm_t, tls_t = [], [], []
    for i in range(args.rounds):
        if i % 2:
            t_tls = cpu(ratls_once, args.batch)
            t_spdm = cpu(spdm_once, args.batch)
        else:
            t_spdm = cpu(spdm_once, args.batch)
            t_tls = cpu(ratls_once, args.batch)
        spdm_t.append(t_spdm)
        tls_t.append(t_tls)
        ratios.append(t_spdm / t_tls)
    q1, med, q3 = statistics.quantiles(ratios, n=4)
    print(f"rounds {args.rounds} x batch {args.batch}, load avg {os.getloadavg()[0]:.2f}")
    print(f"SPDM ladder   median {statistics.median(spdm_t) * 1e3:7.2f} ms CPU")
    print(f"RA-TLS        median {statistics.median(tls_t) * 1e3:7.2f} ms CPU")
    print(f"ratio SPDM/RA-TLS: median {med:.3f}  IQR {q1:.3f}-{q3:.3f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
