"""Where a cold DCAP verification's time goes, next to dcap-qvl, in one process.

    .venv/bin/python benchmarks/verify_quote_parts.py [--rounds 60] [--batch 10]

Same input as ``benchmarks/verify_quote.py`` (the Azure quote, production
collateral, Intel's root, judged at 2025-11-20). Rows, alternated (order
reversed every other round), each timed per round as a batch, thread CPU time;
reported: each row's median per call and its ratio to dcap-qvl's median:

* ``dcap-qvl`` and ``cold``: as in ``verify_quote.py``;
* ``nine ECDSA checks``: the nine P-256 signature checks of a cold verification
  (root CRL, PCK CRL, PCK CA, TCB signing certificate, TCB info, QE identity,
  PCK certificate, QE report, quote) with their real keys and data, back to back;
* ``cold, no ECDSA``: the cold verification with every ECDSA check replaced by
  nothing (the keys are still decoded): parsing, X.509 and JSON work, checks;
* ``no ECDSA, then nine``: the two above in one call.

This is a diagnostic: the replaced checks make ``cold, no ECDSA`` a
verification that is not one. The like-for-like figure is ``verify_quote.py``'s.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
import types
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "scripts"))

from dcapqvl_ref import dcap_collateral, intel_root_ca

NOW = datetime(2025, 11, 20, tzinfo=UTC)


def _uint(text: str) -> int:
    from migtd.inputs import parse_uint

    value = parse_uint(text, 32)
    if value is None:
        raise argparse.ArgumentTypeError(f"{text!r} is not an unsigned integer")
    return value


class _NoCheck:
    """A key whose verify() accepts anything (diagnostic only)."""

    def verify(self, *args: Any) -> None:
        pass


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--rounds", type=_uint, default=60)
    ap.add_argument("--batch", type=_uint, default=10)
    args = ap.parse_args(argv)
    if args.rounds < 30 or args.batch < 1:
        ap.error("--rounds must be at least 30 and --batch at least 1")
    try:
        import dcap_qvl
    except ImportError:
        print("dcap-qvl is not installed: .venv/bin/pip install -e '.[bench]'", file=sys.stderr)
        return 1
    from cryptography.hazmat.primitives import hashes
    from cryptography.hazmat.primitives.asymmetric import ec

    from migtd.attest import certs, verify
    from migtd.attest.collateral import Collateral, parse_signed_body
    from migtd.attest.collateral_cache import raw_signature_der
    from migtd.attest.quote import parse_quote
    from migtd.inputs import read_input

    a = ROOT / "tests" / "vectors" / "attestation"
    quote = read_input(a / "az_migtd_quote.blob", "quote")
    collateral = Collateral.from_json(read_input(a / "collateral_production_fmspc.json", "collateral file"))
    root = intel_root_ca()
    fmspc = bytes.fromhex("90C06F000000")
    dcap_coll = dcap_collateral(collateral, fmspc)
    now_secs = int(NOW.timestamp())

    def dcap() -> None:
        try:
            dcap_qvl.verify(quote, dcap_coll, now_secs)
        except ValueError:
            pass

    def cold() -> None:
        verify.verify_quote(quote, collateral, root, at=NOW, cache=None)

    q = parse_quote(quote)
    anchor = certs.load_anchor(root)
    root_crl, pck_crl = certs.load_crl(collateral.root_ca_crl, "root CRL"), certs.load_crl(collateral.pck_crl, "PCK CRL")
    leaf, pck_ca, _ = certs.pck_chain_roles(certs.load_pem_chain(q.cert_data.pck_chain, "pck", 3), "pck")
    platform = collateral.platform(fmspc)
    assert platform is not None
    signer = certs.signing_chain_roles(certs.load_pem_chain(platform.tcb_info_issuer_chain, "tcb", 2), "tcb", "TCB")[0]
    tcb = parse_signed_body(platform.tcb_info, "tcbInfo")
    qe = parse_signed_body(collateral.qe_identity, "enclaveIdentity")
    att_key = ec.EllipticCurvePublicKey.from_encoded_point(ec.SECP256R1(), b"\x04" + q.attestation_key)
    checks = [
        (anchor.key, root_crl.x509.signature, root_crl.tbs), (pck_ca.key, pck_crl.x509.signature, pck_crl.tbs),
        (anchor.key, pck_ca.x509.signature, pck_ca.tbs), (anchor.key, signer.x509.signature, signer.tbs),
        (signer.key, raw_signature_der(tcb.signature), tcb.text), (signer.key, raw_signature_der(qe.signature), qe.text),
        (pck_ca.key, leaf.x509.signature, leaf.tbs),
        (leaf.key, raw_signature_der(q.cert_data.qe_report_signature), q.cert_data.qe_report_raw),
        (att_key, raw_signature_der(q.signature), q.signed_region),
    ]
    algorithm = ec.ECDSA(hashes.SHA256())

    def nine() -> None:
        for key, signature, data in checks:
            key.verify(signature, data, algorithm)  # type: ignore[union-attr]

    real_key = certs.Cert.key
    no_check_key = property(lambda self: _NoCheck() if real_key.fget(self) is not None else None)  # type: ignore[attr-defined]
    no_check_ec = types.SimpleNamespace(EllipticCurvePublicKey=types.SimpleNamespace(
        from_encoded_point=lambda curve, point: _NoCheck()))

    def no_ecdsa() -> None:
        saved_ec = verify.ec
        certs.Cert.key = no_check_key  # type: ignore[method-assign]
        verify.ec = no_check_ec  # type: ignore[assignment]
        try:
            cold()
        finally:
            certs.Cert.key = real_key  # type: ignore[method-assign]
            verify.ec = saved_ec

    def both() -> None:
        no_ecdsa()
        nine()

    rows: dict[str, Callable[[], None]] = {"dcap-qvl": dcap, "cold": cold, "nine ECDSA checks": nine,
                                           "cold, no ECDSA": no_ecdsa, "no ECDSA, then nine": both}
    for fn in rows.values():
        for _ in range(20):
            fn()
    times: dict[str, list[float]] = {name: [] for name in rows}
    order = list(rows)
    load = __import__("os").getloadavg()[0]
    for r in range(args.rounds):
        for name in (order if r % 2 == 0 else order[::-1]):
            fn = rows[name]
            t0 = time.thread_time()
            for _ in range(args.batch):
                fn()
            times[name].append((time.thread_time() - t0) / args.batch * 1e6)
    base = statistics.median(times["dcap-qvl"])
    print(f"{datetime.now(UTC):%Y-%m-%d %H:%M} UTC, load avg {load:.2f} -> {__import__('os').getloadavg()[0]:.2f}, "
          f"{args.rounds} rounds x {args.batch} calls, thread CPU time")
    for name, values in times.items():
        med = statistics.median(values)
        print(f"  {name:22s} {med:8.1f} us per call  {med / base:5.2f} x dcap-qvl")
    return 0


if __name__ == "__main__":
    sys.exit(main())
