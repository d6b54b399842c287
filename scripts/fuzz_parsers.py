"""Fuzz the attestation byte parsers: no input may raise anything but the project's own errors.

    .venv/bin/pip install -e '.[fuzz]'      # atheris: coverage-guided (libFuzzer) engine
    .venv/bin/python scripts/fuzz_parsers.py [--engine atheris|hypothesis] [--runs 100000]
                                             [--target NAME ...] [--vectors DIR] [--out DIR] [--json]

Targets (bytes in; each also checks properties of what it parsed):

* ``quote`` — :func:`parse_quote` (v4, v5 TD10/TD15); a parsed quote re-encodes
  to the bytes it came from; :func:`td_report_from_quote` on the same bytes.
* ``td_report`` — :meth:`TdReport.parse`; ``to_bytes`` gives the input back;
  :meth:`check_integrity`.
* ``sgx_extension`` — the PCK SGX-extension walker: :func:`parse_sgx_extension`
  (with its fast reader for Intel's layout) and the entry-by-entry walker
  build the same value; :func:`fmspc_of_extension` agrees on the FMSPC.
* ``pck_certificate`` — a DER certificate as the verifier reads it
  (:class:`~migtd.attest.certs.Cert`: spans, extension by OID, CN, issuer)
  and its SGX extension. ``cryptography`` refusing the DER is the gate
  before our code runs, not a finding.
* ``collateral`` — :meth:`Collateral.from_json` and, for each platform and
  the QE identity, :func:`parse_signed_body` and the typed views; the TCB
  info fast path builds exactly what the field-by-field reader builds, or
  leaves it to that reader; ``to_json`` round-trips.
* ``signed_text`` — the same typed views straight from a signed text.
* ``supplemental`` — :meth:`SupplementalData.decode` and the readers the
  policy engines use; decode ∘ encode ∘ decode is decode.

Allowed exceptions: :class:`migtd.errors.MigtdError` and subclasses. Anything
else (including a failed property) is a crash: the atheris engine stops with
the input saved under ``--out``; the hypothesis engine reports it. Seeds are
the real vectors and mock-PKI material, so mutation starts from valid input.

The atheris engine runs each target in a worker process (libFuzzer exits when
done) and reads its execution count from libFuzzer's ``Done N runs`` line.
"""

from __future__ import annotations

import argparse
import json
import re
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


# --------------------------------------------------------------------------- targets


class PropertyFailure(AssertionError):
    """A parsed value did not have a property it must have."""


def _expect(condition: bool, what: str) -> None:
    if not condition:
        raise PropertyFailure(what)


def fuzz_quote(data: bytes) -> None:
    from migtd.attest.quote import encode_quote, parse_quote, td_report_from_quote
    from migtd.errors import MigtdError

    try:
        q = parse_quote(data)
    except MigtdError:
        q = None
    if q is not None:
        again = encode_quote(q.header, q.body, q.signature, q.attestation_key, q.cert_data)
        _expect(again == data[:q.size], "a parsed quote re-encodes to its own bytes")
        _expect(parse_quote(again) == q, "the re-encoded quote parses to the same value")
    try:
        td_report_from_quote(data)
    except MigtdError:
        pass


def fuzz_td_report(data: bytes) -> None:
    from migtd.attest.tdreport import TdReport
    from migtd.errors import MigtdError

    try:
        report = TdReport.parse(data)
    except MigtdError:
        return
    _expect(report.to_bytes() == data, "a parsed TD report gives its bytes back")
    try:
        report.check_integrity()
    except MigtdError:
        pass


def fuzz_sgx_extension(data: bytes) -> None:
    from migtd.attest.sgx_ext import _parse_sgx_extension, fmspc_of_extension, parse_sgx_extension
    from migtd.errors import MigtdError

    try:
        ext = parse_sgx_extension(data)
    except MigtdError:
        ext = None
    try:
        walked = _parse_sgx_extension(data, None)
    except MigtdError:
        walked = None
    _expect(ext == walked, "the canonical-layout reader and the entry walker agree")
    try:
        fmspc = fmspc_of_extension(data)
    except MigtdError:
        fmspc = None
    if ext is not None and fmspc is not None and len(data) > 2:
        _expect(ext.fmspc == fmspc, "both readers find the same FMSPC")


def fuzz_pck_certificate(data: bytes) -> None:
    from cryptography import x509

    from migtd.attest.certs import Cert, self_issued
    from migtd.attest.sgx_ext import SGX_EXTENSION_OID, parse_sgx_extension
    from migtd.der import encode_oid_body
    from migtd.errors import MigtdError

    try:
        cert = Cert.from_der(data)
    except (ValueError, x509.InvalidVersion):
        return                               # cryptography refused the DER: our walker never sees it
    try:
        value = cert.extension(encode_oid_body(SGX_EXTENSION_OID))
        cert.common_name()
        self_issued(cert)
        _expect(cert.tbs in data and cert.subject_name in cert.tbs, "the spans lie inside the certificate")
        if value is not None:
            parse_sgx_extension(value)
    except MigtdError:
        pass


def _typed_views(collateral: object) -> None:
    from migtd.attest.collateral import QeIdentity, TcbInfo, _tcb_info_fast, parse_signed_body
    from migtd.errors import MigtdError

    for platform in collateral.platforms:  # type: ignore[attr-defined]
        try:
            doc = parse_signed_body(platform.tcb_info, "tcbInfo").document
        except MigtdError:
            continue
        fast = _tcb_info_fast(doc)
        try:
            checked = TcbInfo._from_document_checked(doc)
        except MigtdError:
            _expect(fast is None, "the TCB info fast path refuses what the checked reader refuses")
            continue
        _expect(fast is None or fast == checked, "the TCB info fast path builds what the checked reader builds")
    try:
        QeIdentity.from_document(parse_signed_body(collateral.qe_identity, "enclaveIdentity").document)  # type: ignore[attr-defined]
    except MigtdError:
        pass


def fuzz_collateral(data: bytes) -> None:
    from migtd.attest.collateral import Collateral
    from migtd.errors import MigtdError

    try:
        collateral = Collateral.from_json(data)
    except MigtdError:
        return
    _expect(Collateral.from_json(collateral.to_json()) == collateral, "collateral JSON round-trips")
    _typed_views(collateral)


def fuzz_signed_text(data: bytes) -> None:
    from migtd.attest.collateral import QeIdentity, TcbInfo, _tcb_info_fast, parse_signed_body
    from migtd.errors import MigtdError
    from migtd.inputs import load_json

    for fn in (TcbInfo.from_signed_text, QeIdentity.from_signed_text):
        try:
            fn(data)
        except MigtdError:
            pass
    try:
        doc = load_json(data, "fuzz")
    except MigtdError:
        doc = None
    if isinstance(doc, dict):
        fast = _tcb_info_fast(doc)
        try:
            checked = TcbInfo._from_document_checked(doc)
        except MigtdError:
            checked = None
            _expect(fast is None, "the TCB info fast path refuses what the checked reader refuses")
        _expect(fast is None or fast == checked, "the TCB info fast path builds what the checked reader builds")
    text = data.decode("utf-8", "replace")
    for key in ("tcbInfo", "enclaveIdentity"):
        try:
            signed = parse_signed_body(text, key)
        except MigtdError:
            continue
        _expect(signed.text.decode() in text and len(signed.signature) == 64, "the signed span lies in the body")


def fuzz_supplemental(data: bytes) -> None:
    from migtd.attest import suppl
    from migtd.errors import MigtdError

    for name in suppl.FIELDS:
        suppl.field(data, name)
    suppl.rtmrs(data)
    for reader in (suppl.tcb_status, lambda d: suppl.iso8601(suppl.tcb_date_seconds(d))):
        try:
            reader(data)
        except MigtdError:
            pass
    try:
        value = suppl.SupplementalData.decode(data)
    except MigtdError:
        return
    _expect(suppl.SupplementalData.decode(value.encode()) == value, "decode(encode(decode(x))) == decode(x)")


TARGETS: dict[str, Callable[[bytes], None]] = {
    "quote": fuzz_quote, "td_report": fuzz_td_report, "sgx_extension": fuzz_sgx_extension,
    "pck_certificate": fuzz_pck_certificate, "collateral": fuzz_collateral, "signed_text": fuzz_signed_text,
    "supplemental": fuzz_supplemental,
}


def _signed_text_parses(data: bytes) -> object:
    from migtd.attest.collateral import QeIdentity, TcbInfo, parse_signed_body
    from migtd.errors import MigtdError

    try:
        return TcbInfo.from_signed_text(data)
    except MigtdError:
        pass
    try:
        return QeIdentity.from_signed_text(data)
    except MigtdError:
        return parse_signed_body(data.decode(), "tcbInfo")


def _valid_parsers() -> dict[str, Callable[[bytes], object]]:
    """What each target's seeds must parse with (so fuzzing starts from valid input)."""
    from migtd.attest.certs import Cert
    from migtd.attest.collateral import Collateral
    from migtd.attest.quote import parse_quote
    from migtd.attest.sgx_ext import SGX_EXTENSION_OID, parse_sgx_extension
    from migtd.attest.suppl import SupplementalData
    from migtd.attest.tdreport import TdReport
    from migtd.der import encode_oid_body

    return {"quote": parse_quote, "td_report": TdReport.parse, "sgx_extension": parse_sgx_extension,
            "pck_certificate": lambda d: Cert.from_der(d).extension(encode_oid_body(SGX_EXTENSION_OID)) or True,
            "collateral": Collateral.from_json, "signed_text": _signed_text_parses,
            "supplemental": SupplementalData.decode}


# --------------------------------------------------------------------------- seeds


def seeds(vectors: Path | None) -> dict[str, list[bytes]]:
    """Valid inputs for every target: the real vectors (when given) and fresh mock-PKI material."""
    from cryptography.hazmat.primitives.serialization import Encoding

    from migtd.attest.collateral import Collateral, parse_signed_body
    from migtd.attest.quote import parse_quote, td_report_from_quote
    from migtd.attest.sgx_ext import SGX_EXTENSION_OID
    from migtd.attest.tdreport import TdInfo, TdReport, TeeTcbInfo
    from migtd.attest.verify import verify_quote
    from migtd.der import encode_oid_body
    from migtd.inputs import read_input
    from migtd.mock.pki import MockPki
    from migtd.mock.qe import MockQE

    pki = MockPki.generate()
    qe = MockQE.from_pki(pki)
    tee = TeeTcbInfo(tee_tcb_svn=bytes.fromhex("03010300000000000000000000000000"),
                     tee_tcb_svn2=bytes.fromhex("07010300000000000000000000000000"))
    report = TdReport.build(report_data=bytes(range(64)), tee_tcb_info=tee, td_info=TdInfo(mrtd=b"\x22" * 48))
    quotes = [qe.quote(report.to_bytes()), qe.quote(report.to_bytes(), version=5),
              qe.quote(report.to_bytes(), version=5, td15=True)]
    collaterals = [pki.collateral.to_json()]
    supplementals = [verify_quote(q, pki.collateral, pki.root_ca_der).report for q in quotes]
    reports = [report.to_bytes(), td_report_from_quote(quotes[2])]
    if vectors is not None:
        a = vectors / "attestation"
        quotes.append(read_input(a / "az_migtd_quote.blob", "quote"))
        collaterals.append(read_input(a / "collateral_azure_thim.json", "collateral"))
        supplementals += [read_input(a / "derived" / f"expected_suppl822_az_quote_{n}.bin", "report")
                          for n in ("thim", "prod")]
        reports += [read_input(a / "derived" / "mock_td_report_from_QUOTE.bin", "report"),
                    read_input(a / "azure" / "hcl-report-tdx.bin", "HCL report")[32:1056]]
    certs = []
    for q in quotes:
        from cryptography import x509

        for cert in x509.load_pem_x509_certificates(parse_quote(q).cert_data.pck_chain.rstrip(b"\0")):
            certs.append(cert.public_bytes(Encoding.DER))
    oid = encode_oid_body(SGX_EXTENSION_OID)
    from migtd.attest.certs import Cert

    extensions = [v for v in (Cert.from_der(d).extension(oid) for d in certs) if v is not None]
    texts = []
    for raw in collaterals:
        c = Collateral.from_json(raw)
        texts += [parse_signed_body(p.tcb_info, "tcbInfo").text for p in c.platforms]
        texts.append(parse_signed_body(c.qe_identity, "enclaveIdentity").text)
        texts += [p.tcb_info.encode() for p in c.platforms[:1]]
    return {"quote": quotes, "td_report": reports, "sgx_extension": extensions, "pck_certificate": certs,
            "collateral": collaterals, "signed_text": texts, "supplemental": supplementals}


# --------------------------------------------------------------------------- engines


def check_one(target: str, data: bytes) -> str | None:
    """Run one input; the problem as text if it raised anything but the project's errors."""
    from migtd.errors import MigtdError

    try:
        TARGETS[target](data)
    except MigtdError:
        return None
    except Exception as exc:  # noqa: BLE001 - that is exactly what is looked for
        return f"{type(exc).__name__}: {exc}"
    return None


def run_hypothesis(target: str, runs: int, seed_inputs: list[bytes], seed: int = 0) -> tuple[int, list[str]]:
    """``runs`` inputs (arbitrary bytes and mutated seeds) through ``target``: (inputs tried, problems)."""
    from hypothesis import HealthCheck, given, settings
    from hypothesis import strategies as st

    problems: list[str] = []
    count = 0

    def mutate(args: tuple[bytes, list[tuple[int, int]], int | None, bytes, int]) -> bytes:
        base, flips, cut, insert, at = args
        out = bytearray(base)
        for off, x in flips:
            if out:
                out[off % len(out)] ^= x
        if insert and out:
            out[at % len(out):at % len(out)] = insert
        return bytes(out[:cut] if cut is not None else out)

    mutated = st.tuples(st.sampled_from(seed_inputs),
                        st.lists(st.tuples(st.integers(0, 1 << 20), st.integers(1, 255)), max_size=6),
                        st.one_of(st.none(), st.integers(0, 1 << 17)), st.binary(max_size=8),
                        st.integers(0, 1 << 20)).map(mutate)
    inputs = st.one_of(st.binary(max_size=4096), mutated) if seed_inputs else st.binary(max_size=4096)

    @settings(max_examples=runs, deadline=None, database=None, derandomize=seed == 0,
              suppress_health_check=list(HealthCheck))
    @given(inputs)
    def run(data: bytes) -> None:
        nonlocal count
        count += 1
        problem = check_one(target, data)
        if problem is not None and len(problems) < 5:
            problems.append(f"{problem} on {data[:64].hex()}{'...' if len(data) > 64 else ''} ({len(data)} B)")

    for data in seed_inputs:
        problem = check_one(target, data)
        if problem is not None:
            problems.append(f"seed: {problem}")
    run()
    return count + len(seed_inputs), problems


def _atheris_worker(target: str, runs: int, corpus: Path, out: Path) -> None:
    """Runs inside its own process: libFuzzer calls exit when done."""
    import atheris

    with atheris.instrument_imports():
        import migtd.attest.certs
        import migtd.attest.collateral
        import migtd.attest.quote
        import migtd.attest.sgx_ext
        import migtd.attest.suppl
        import migtd.attest.tdreport
        import migtd.inputs  # noqa: F401

    def one(data: bytes) -> None:
        problem = check_one(target, data)
        if problem is not None:
            raise RuntimeError(f"{target}: {problem}")

    atheris.Setup([sys.argv[0], f"-runs={runs}", f"-artifact_prefix={out}/{target}-", "-max_len=16384",
                   "-print_final_stats=1", str(corpus)], one)
    atheris.Fuzz()


def run_atheris(target: str, runs: int, seed_inputs: list[bytes], out: Path) -> tuple[int, list[str], float]:
    """One worker process for ``target``: (inputs executed, problems, seconds)."""
    out.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory() as tmp:
        corpus = Path(tmp)
        for i, data in enumerate(seed_inputs):
            (corpus / f"seed-{i}").write_bytes(data)
        t0 = time.monotonic()
        proc = subprocess.run([sys.executable, __file__, "--worker", target, "--runs", str(runs),
                               "--corpus", str(corpus), "--out", str(out)],
                              check=False, capture_output=True, text=True, timeout=max(600, runs // 20))
        elapsed = time.monotonic() - t0
    log = proc.stderr
    done = re.findall(r"Done (\d+) runs", log)
    executed = int(done[-1]) if done else 0
    problems = []
    if proc.returncode != 0 or not done:
        problems.append("; ".join(line for line in log.splitlines()
                                  if "Error" in line or "RuntimeError" in line or "crash" in line.lower())[:800]
                        or f"worker exited {proc.returncode}")
    return executed, problems, elapsed


def _uint(text: str) -> int:
    """A count from the command line, read by the project's one integer parser."""
    from migtd.inputs import parse_uint

    value = parse_uint(text, 32)
    if value is None:
        raise argparse.ArgumentTypeError(f"{text!r} is not an unsigned integer")
    return value


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--engine", choices=("atheris", "hypothesis"), default=None,
                    help="atheris when installed, else hypothesis")
    ap.add_argument("--runs", type=_uint, default=100_000, help="inputs per target")
    ap.add_argument("--target", action="append", choices=sorted(TARGETS), help="default: every target")
    ap.add_argument("--vectors", type=Path, default=ROOT / "tests" / "vectors")
    ap.add_argument("--out", type=Path, default=Path("fuzz-artifacts"), help="where crashing inputs are saved")
    ap.add_argument("--json", action="store_true")
    ap.add_argument("--worker", help=argparse.SUPPRESS)
    ap.add_argument("--corpus", type=Path, help=argparse.SUPPRESS)
    args = ap.parse_args(argv)
    if args.worker:
        _atheris_worker(args.worker, args.runs, args.corpus, args.out)
        return 0
    engine = args.engine
    if engine is None:
        try:
            import atheris  # noqa: F401
            engine = "atheris"
        except ImportError:
            engine = "hypothesis"
    vectors = args.vectors if (args.vectors / "attestation").is_dir() else None
    all_seeds = seeds(vectors)
    results = {}
    for target in args.target or list(TARGETS):
        t0 = time.monotonic()
        if engine == "atheris":
            executed, problems, elapsed = run_atheris(target, args.runs, all_seeds[target], args.out)
        else:
            executed, problems = run_hypothesis(target, args.runs, all_seeds[target])
            elapsed = time.monotonic() - t0
        results[target] = {"inputs": executed, "crashes": len(problems), "problems": problems,
                           "seconds": round(elapsed, 1)}
        if not args.json:
            print(f"{target:16s} {executed:>9d} inputs  {len(problems)} crashes  {elapsed:7.1f} s", flush=True)
            for p in problems:
                print(f"    {p}")
    summary = {"engine": engine, "runs_per_target": args.runs, "vectors": str(vectors) if vectors else None,
               "targets": results}
    if args.json:
        print(json.dumps(summary, indent=2))
    return 1 if any(r["crashes"] or r["inputs"] < args.runs for r in results.values()) else 0


if __name__ == "__main__":
    sys.exit(main())
