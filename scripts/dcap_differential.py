"""Differential testing of our DCAP verifier against dcap-qvl: thousands of seeded mutations.

    .venv/bin/pip install -e '.[dev]'      # dcap-qvl is a test dependency
    .venv/bin/python scripts/dcap_differential.py [--cases 5000] [--seed 1] [--vectors DIR] [--out DIR] [--json]

Two corpora, each starting from a quote both verifiers accept at a fixed
instant (the ``baseline`` case checks that first):

* ``azure`` — the real Azure quote with Intel's production collateral at
  2025-11-20T00:00:00Z (every item valid then). dcap-qvl passes every check
  and then refuses the TD for SEPT_VE_DISABLE; that final TD-attribute rule
  is not MigTD's (attestation.md §3.5), so reaching it counts as accepting.
  Intel signed this collateral, so its mutations break signatures: they test
  what each verifier authenticates (bit flips in signed and unsigned regions,
  base64 characters of certificates, swapped and reordered certificates,
  swapped CRLs and chains, truncations, header values).
* ``mock`` — a quote of the mock QE (TD attributes with SEPT_VE_DISABLE set, so
  dcap-qvl accepts it outright) with a mock PKI whose keys we hold, at
  2030-01-01. Mutated collateral and quotes are *re-signed*, so they reach
  the semantic checks: reordered, removed and rewritten TCB levels, statuses,
  SVNs, dates, FMSPC/PCE-ID, module and QE identities, TEE_TCB_SVN(2), TD and
  SEAM attributes, QE report fields, v4/v5 bodies, re-issued certificates,
  other instants.

Each case is judged three ways: ours strictly at the case's instant
(``verify_quote(at=now)``, dcap-qvl's time rule), ours under MigTD's midpoint
rule (the default), and dcap-qvl (``verify_with_root_ca``). Outcomes:

* ``agree`` — ours (strict) and dcap-qvl reach the same decision; when both
  accept, the TCB status is compared too (``status_differs`` otherwise);
* ``time_rule`` — they agree under the strict rule but MigTD's midpoint rule
  decides otherwise (a documented difference, docs/attestation.md);
* a documented class of difference (see :data:`DOCUMENTED`), recognised by
  the mutation that produced it and the two verdicts;
* ``unexplained`` — anything else: a bug to fix. The script exits 1 when
  there is one, or when either verifier raised anything but its own error
  type (``crashes``).

Disagreeing cases are written to ``--out`` (quote, collateral JSON, root CA,
instant and both verdicts) so they can be replayed.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import random
import sys
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "scripts"))

from dcapqvl_ref import Unconvertible, Verdict, dcap_collateral, dcap_verdict, intel_root_ca

AZURE_NOW = datetime(2025, 11, 20, tzinfo=UTC)
MOCK_NOW = datetime(2030, 1, 1, tzinfo=UTC)
SEPT_VE_DISABLE = 1 << 28

@dataclass(frozen=True)
class Difference:
    """A documented difference between MigTD's rules (Intel's library) and dcap-qvl's."""

    name: str
    text: str
    applies: Callable[[Case, str, Verdict], bool]


def _m(case: Case, *prefixes: str) -> bool:
    return case.mutation.startswith(prefixes)


def _ours_rejects(strict: str, *steps: str) -> bool:
    return strict.startswith("reject:") and strict.split(":", 1)[1] in steps


def _dcap_says(verdict: Verdict, *words: str) -> bool:
    return verdict.kind == "reject" and any(w in verdict.detail for w in words)


#: Every difference the campaign may meet, each pinned by a test in
#: tests/attest/test_differential.py and described in docs/attestation.md.
#: A disagreement is documented only when its mutation, our step and dcap-qvl's
#: verdict all fit; anything else is ``unexplained``.
DOCUMENTED: tuple[Difference, ...] = (
    Difference("td_attribute_rule", "dcap-qvl refuses TDs without SEPT_VE_DISABLE, with DEBUG and other attribute "
               "bits; MigTD has no TD-attribute rule",
               lambda c, o, d: o.startswith("accept") and d.kind == "td_attributes"),
    Difference("chain_order", "Intel finds the PCK certificate, PCK CA and root of the quote's chain by name in any "
               "order; dcap-qvl takes the first certificate as the PCK certificate",
               lambda c, o, d: _m(c, "chain_reordered") and o.startswith("accept")
               and _dcap_says(d, "CaUsedAsEndEntity", "EndEntityUsedAsCa", "UnknownIssuer", "SGX extension")),
    Difference("pck_crl_issuer_chain", "Intel reads pckCrlIssuerChain ([PCK CA, root], root = trusted key; its dates "
               "count for the time rule); dcap-qvl does not use it",
               lambda c, o, d: "pck_crl_issuer_chain" in c.mutation and _ours_rejects(o, "crl", "time")
               and d.passes_migtd_checks),
    Difference("chain_count", "Intel requires exactly three certificates in the quote's PCK chain (two in each "
               "collateral chain); dcap-qvl builds a path through any number to its own trust anchor",
               lambda c, o, d: (_m(c, "chain_duplicated_cert", "chain_dropped_cert:root")
                                or (_m(c, "truncate_pem") and c.mutation.endswith(":root")))
               and _ours_rejects(o, "pck_chain", "tcb_info", "qe_identity", "crl") and d.passes_migtd_checks),
    Difference("chain_root_certificate", "Intel verifies the root certificate a chain carries (self-signed, the "
               "trusted key); dcap-qvl ignores it and uses its configured trust anchor",
               lambda c, o, d: c.mutation.endswith(":root")
               and _ours_rejects(o, "pck_chain", "root_ca", "tcb_info", "qe_identity", "crl") and d.passes_migtd_checks),
    Difference("cert_data_framing", "Intel requires certification data type 6 and a nested PCK chain (type 5) that "
               "ends exactly where the certification data ends; dcap-qvl checks neither",
               lambda c, o, d: _m(c, "flip_cert_data_type", "flip_cert_data_size", "flip_pck_cert_type",
                                  "flip_pck_cert_size") and _ours_rejects(o, "parse") and d.passes_migtd_checks),
    Difference("pce_id", "Intel requires the TCB info's pceId to be the PCK certificate's PCE-ID; dcap-qvl does not "
               "compare them",
               lambda c, o, d: _m(c, "tcb_info_pce_id") and _ours_rejects(o, "tcb_info") and d.passes_migtd_checks),
    Difference("qe_identity_mask", "Intel compares the masked QE MISCSELECT/ATTRIBUTES with the QE identity's values "
               "as given; dcap-qvl masks the identity's values too",
               lambda c, o, d: _m(c, "qe_identity_attributes", "qe_identity_miscselect")
               and _ours_rejects(o, "qe_identity_match") and d.passes_migtd_checks),
    Difference("seam_attributes", "Intel requires SEAMATTRIBUTES to be zero and equal to the module identity's "
               "attributes; dcap-qvl compares them under the identity's mask",
               lambda c, o, d: _m(c, "module_attributes", "seam_attributes") and _ours_rejects(o, "tdx_module")
               and d.passes_migtd_checks),
    Difference("qe_auth_data_size", "dcap-qvl requires 32 bytes of QE authentication data; Intel accepts any size",
               lambda c, o, d: _m(c, "qe_auth_size") and o.startswith("accept")
               and _dcap_says(d, "QE auth data")),
    Difference("ca_constraints", "dcap-qvl (webpki) requires CA basic constraints on issuers and none on the PCK "
               "certificate; Intel checks issuer names and signatures only",
               lambda c, o, d: _m(c, "reissue_leaf_as_ca", "reissue_pck_ca_not_ca", "reissue_leaf_without_key_usage")
               and o.startswith("accept") and _dcap_says(d, "CaUsedAsEndEntity", "EndEntityUsedAsCa", "KeyUsage")),
    Difference("module_level_order", "Intel takes a TDX module identity's levels highest ISVSVN first; dcap-qvl takes "
               "them in file order (a file not sorted that way gives another module level)",
               lambda c, o, d: _m(c, "module_") and o.startswith("accept") and d.kind == "accept"
               and _module_levels_unsorted(c)),
    Difference("qe_status", "Intel counts a QE identity level ConfigurationNeeded or OutOfDateConfigurationNeeded as "
               "out of date (the TCB status becomes OutOfDate); dcap-qvl leaves the platform status as it is",
               lambda c, o, d: _m(c, "qe_identity_status") and o == "accept:OutOfDate" and d.kind == "accept"),
    Difference("relaunch", "dcap-qvl evaluates TEE_TCB_SVN2 as a TCB of its own (refusing it when it matches no "
               "level or a revoked one, advising relaunch whenever it is better); Intel uses it only for the relaunch "
               "check (module OutOfDate, SGX level not out of date, QE up to date)",
               lambda c, o, d: _m(c, "relaunch") and c.counterfactual is not None
               and _counterfactual_agrees(c, o)),
)


def _module_levels_unsorted(case: Case) -> bool:
    """Whether some TDX module identity of the case's TCB info lists its levels out of ISVSVN order."""
    from migtd.attest.collateral import parse_signed_body

    platform = case.collateral.platform(case.fmspc)
    doc = parse_signed_body(platform.tcb_info, "tcbInfo").document
    for identity in doc.get("tdxModuleIdentities", []):
        svns = [level["tcb"]["isvsvn"] for level in identity["tcbLevels"]]
        if svns != sorted(svns, reverse=True):
            return True
    return False


def _counterfactual_agrees(case: Case, strict: str) -> bool:
    """dcap-qvl on the same quote with TEE_TCB_SVN2 = TEE_TCB_SVN reaches our decision and status."""
    other = dataclasses.replace(case, quote=case.counterfactual, counterfactual=None)
    verdict, _ = dcap(other)
    if strict.startswith("accept"):
        return verdict.passes_migtd_checks and (verdict.kind != "accept" or f"accept:{verdict.status}" == strict)
    return not verdict.passes_migtd_checks


@dataclass
class Case:
    """One input: what was mutated, and everything both verifiers are given."""

    corpus: str
    mutation: str
    quote: bytes
    collateral: Any          # migtd.attest.collateral.Collateral
    root: bytes
    now: datetime
    fmspc: bytes
    note: str = ""
    counterfactual: bytes | None = None    # the same quote with TEE_TCB_SVN2 = TEE_TCB_SVN (relaunch cases)


@dataclass
class Outcome:
    case: Case
    ours_strict: str          # "accept:<status>" or "reject:<step>"
    ours_midpoint: str
    dcap: Verdict
    klass: str
    crash: str = ""


# --------------------------------------------------------------------------- our verdicts


def ours(quote: bytes, collateral: Any, root: bytes, at: datetime | None, cache: Any) -> tuple[str, str]:
    """("accept:<status>" | "reject:<step>", crash text or "")."""
    from migtd.attest.verify import QuoteVerificationError, verify_quote

    try:
        v = verify_quote(quote, collateral, root, at=at, cache=cache)
    except QuoteVerificationError as exc:
        return f"reject:{exc.step}", ""
    except Exception as exc:  # noqa: BLE001 (anything else is a crash: counted and reported)
        return f"crash:{type(exc).__name__}", f"{type(exc).__name__}: {exc}"
    return f"accept:{v.tcb_status}", ""


def dcap(case: Case) -> tuple[Verdict, str]:
    import dcap_qvl

    try:
        collateral = dcap_collateral(case.collateral, case.fmspc)
    except Unconvertible as exc:
        return Verdict("reject", detail=f"unconvertible: {exc}"), ""
    try:
        return dcap_verdict(dcap_qvl, case.quote, collateral, case.root, int(case.now.timestamp())), ""
    except BaseException as exc:
        if isinstance(exc, (KeyboardInterrupt, SystemExit)):
            raise
        return Verdict("reject", detail=f"crash {type(exc).__name__}"), f"dcap-qvl {type(exc).__name__}: {exc}"


def classify(case: Case, strict: str, midpoint: str, verdict: Verdict) -> str:
    """``agree``, ``time_rule``, the name of a documented difference, ``status_differs`` or ``unexplained``."""
    ours_ok, dcap_ok = strict.startswith("accept"), verdict.passes_migtd_checks
    same_status = not (ours_ok and verdict.kind == "accept" and strict != f"accept:{verdict.status}")
    if ours_ok == dcap_ok and same_status:
        if midpoint.startswith("accept") != ours_ok:
            return "time_rule"
        if verdict.kind == "td_attributes":
            return "td_attribute_rule"
        return "agree"
    for difference in DOCUMENTED:
        if difference.applies(case, strict, verdict):
            return difference.name
    return "unexplained" if ours_ok != dcap_ok else "status_differs"


def judge(case: Case, cache: Any = None) -> Outcome:
    strict, crash1 = ours(case.quote, case.collateral, case.root, case.now, cache)
    midpoint, crash2 = ours(case.quote, case.collateral, case.root, None, cache)
    verdict, crash3 = dcap(case)
    crash = "; ".join(c for c in (crash1, crash2, crash3) if c)
    return Outcome(case, strict, midpoint, verdict, "crash" if crash else classify(case, strict, midpoint, verdict),
                   crash)


# --------------------------------------------------------------------------- mutation helpers


def flip(data: bytes, off: int, bit: int) -> bytes:
    out = bytearray(data)
    out[off] ^= 1 << bit
    return bytes(out)


def _pem_blocks(chain: bytes) -> list[bytes]:
    text = chain.rstrip(b"\0")
    parts = text.split(b"-----END CERTIFICATE-----")
    return [p[p.index(b"-----BEGIN"):] + b"-----END CERTIFICATE-----\n" for p in parts[:-1] if b"-----BEGIN" in p]


def _with_chain(quote: bytes, chain: bytes) -> bytes:
    """The quote with another PCK chain (no signature covers the chain bytes themselves)."""
    from migtd.attest.quote import encode_quote, parse_quote

    q = parse_quote(quote)
    cd = dataclasses.replace(q.cert_data, pck_chain=chain)
    return encode_quote(q.header, q.body, q.signature, q.attestation_key, cd)


def _b64_flip(pem: bytes | str, rng: random.Random) -> tuple[bytes | str, int, int]:
    """Change one base64 character inside a random PEM block: (new text, block index, block count)."""
    text = pem.encode() if isinstance(pem, str) else pem
    spans = []
    pos = 0
    while True:
        b = text.find(b"-----BEGIN", pos)
        if b < 0:
            break
        start = text.index(b"\n", b) + 1
        end = text.find(b"-----END", start)
        if end < 0:
            break
        spans.append((start, end))
        pos = end + 5
    if not spans:
        return pem, -1, 0
    index = rng.randrange(len(spans))
    start, end = spans[index]
    alphabet = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/"
    for _ in range(20):
        off = rng.randrange(start, end)
        ch = text[off:off + 1]
        if ch.isalnum() or ch in b"+/":
            new = bytes([rng.choice([c for c in alphabet if c != ch[0]])])
            out = text[:off] + new + text[off + 1:]
            return (out.decode() if isinstance(pem, str) else out), index, len(spans)
    return pem, -1, len(spans)


def _position(index: int, count: int) -> str:
    """Where a certificate sits in a chain: ``leaf``, ``ca`` or ``root`` (the last one)."""
    return "root" if index == count - 1 else ("leaf" if index == 0 else "ca")


def _flip_text(text: str, rng: random.Random, lo: int = 0, hi: int | None = None) -> str:
    hi = len(text) if hi is None else hi
    off = rng.randrange(lo, hi)
    c = text[off]
    new = chr((ord(c) ^ (1 << rng.randrange(6))) % 128) or "x"
    return text[:off] + new + text[off + 1:]


# --------------------------------------------------------------------------- quote-level mutations (any corpus)


def quote_mutations(quote: bytes, rng: random.Random) -> Iterator[tuple[str, bytes]]:
    """Endless (name, mutated quote) pairs of the raw-byte kinds."""
    from migtd.attest.quote import parse_quote

    q = parse_quote(quote)
    signed_end = len(q.signed_region)
    sig = signed_end + 4
    qe = sig + 134
    auth = qe + 384 + 64
    chain_at = auth + 2 + len(q.cert_data.qe_auth_data) + 6
    blocks = _pem_blocks(q.cert_data.pck_chain)
    def chain_flip() -> tuple[str, bytes]:
        chain, index, count = _b64_flip(q.cert_data.pck_chain, rng)
        return f"flip_pck_chain_base64:{_position(index, count)}", _with_chain(quote, chain)  # type: ignore[arg-type]

    def chain_byte_flip() -> tuple[str, bytes]:
        off = rng.randrange(chain_at, q.size)
        # a byte belongs to the block whose END marker it precedes (so a BEGIN line is its block's)
        index = min(q.cert_data.pck_chain[:off - chain_at].count(b"-----END CERTIFICATE-----"), len(blocks) - 1)
        return f"flip_pck_chain_byte:{_position(index, len(blocks))}", flip(quote, off, rng.randrange(8))

    def dropped() -> tuple[str, bytes]:
        drop = rng.randrange(len(blocks))
        kept = b"".join(b for i, b in enumerate(blocks) if i != drop)
        return f"chain_dropped_cert:{_position(drop, len(blocks))}", _with_chain(quote, kept + b"\0")

    def reordered() -> tuple[str, bytes]:
        order = list(range(len(blocks)))
        while order == sorted(order):
            rng.shuffle(order)
        return f"chain_reordered:{''.join(map(str, order))}", _with_chain(
            quote, b"".join(blocks[i] for i in order) + b"\0")

    kinds: list[Callable[[], tuple[str, bytes]]] = [
        lambda: ("flip_header", flip(quote, rng.randrange(0, 48), rng.randrange(8))),
        lambda: ("flip_body", flip(quote, rng.randrange(48, signed_end), rng.randrange(8))),
        lambda: ("flip_quote_signature", flip(quote, rng.randrange(sig, sig + 64), rng.randrange(8))),
        lambda: ("flip_attestation_key", flip(quote, rng.randrange(sig + 64, sig + 128), rng.randrange(8))),
        lambda: ("flip_cert_data_type", flip(quote, rng.randrange(sig + 128, sig + 130), rng.randrange(8))),
        lambda: ("flip_cert_data_size", flip(quote, rng.randrange(sig + 130, sig + 134), rng.randrange(8))),
        lambda: ("flip_qe_report", flip(quote, rng.randrange(qe, qe + 384), rng.randrange(8))),
        lambda: ("flip_qe_report_signature", flip(quote, rng.randrange(qe + 384, qe + 448), rng.randrange(8))),
        lambda: ("flip_qe_auth_size", flip(quote, rng.randrange(auth, auth + 2), rng.randrange(8))),
        lambda: ("flip_qe_auth_data", flip(quote, rng.randrange(auth + 2, chain_at - 6), rng.randrange(8))),
        lambda: ("flip_pck_cert_type", flip(quote, rng.randrange(chain_at - 6, chain_at - 4), rng.randrange(8))),
        lambda: ("flip_pck_cert_size", flip(quote, rng.randrange(chain_at - 4, chain_at), rng.randrange(8))),
        chain_byte_flip, chain_flip, chain_flip,
        lambda: ("truncate", quote[:rng.randrange(0, q.size)]),
        lambda: ("trailing_bytes", quote + bytes(rng.randrange(256) for _ in range(rng.randrange(1, 80)))),
        reordered, dropped,
        lambda: ("chain_duplicated_cert", _with_chain(quote, b"".join(blocks + [rng.choice(blocks)]) + b"\0")),
        lambda: ("chain_without_nul", _with_chain(quote, q.cert_data.pck_chain.rstrip(b"\0"))),
        lambda: ("chain_crlf", _with_chain(quote, q.cert_data.pck_chain.replace(b"\n", b"\r\n"))),
        lambda: ("chain_text_between", _with_chain(quote, blocks[0] + b"junk\n" + b"".join(blocks[1:]) + b"\0")),
        lambda: ("header_version", rng.choice([3, 5, 6, 0x104]).to_bytes(2, "little") + quote[2:]),
        lambda: ("header_key_type", quote[:2] + rng.choice([0, 1, 3]).to_bytes(2, "little") + quote[4:]),
        lambda: ("header_tee_type", quote[:4] + rng.choice([0, 0x80, 0x181]).to_bytes(4, "little") + quote[8:]),
    ]
    while True:
        yield rng.choice(kinds)()


# --------------------------------------------------------------------------- the azure corpus


def azure_cases(vectors: Path, rng: random.Random) -> Iterator[Case]:
    from migtd.attest.collateral import Collateral
    from migtd.inputs import read_input

    a = vectors / "attestation"
    quote = read_input(a / "az_migtd_quote.blob", "quote")
    coll = Collateral.from_json(read_input(a / "collateral_production_fmspc.json", "collateral file"))
    root = intel_root_ca()
    fmspc = bytes.fromhex("90C06F000000")
    yield Case("azure", "baseline", quote, coll, root, AZURE_NOW, fmspc)
    quotes = quote_mutations(quote, rng)
    platform = coll.platform(fmspc)
    assert platform is not None
    others = tuple(p for p in coll.platforms if p is not platform)

    def with_platform(**changes: str) -> Any:
        return dataclasses.replace(coll, platforms=(dataclasses.replace(platform, **changes), *others))

    pem_fields = ("pck_crl_issuer_chain", "qe_identity_issuer_chain", "root_ca_crl", "pck_crl")

    def flip_pem(name: str) -> tuple[str, Any]:
        if name == "tcb_info_issuer_chain":
            text, index, count = _b64_flip(platform.tcb_info_issuer_chain, rng)
            return f"flip_pem_base64:{name}:{_position(index, count)}", with_platform(tcb_info_issuer_chain=text)
        text, index, count = _b64_flip(getattr(coll, name), rng)
        return f"flip_pem_base64:{name}:{_position(index, count)}", dataclasses.replace(coll, **{name: text})

    def truncate_pem(name: str) -> tuple[str, Any]:
        text = getattr(coll, name)
        cut = rng.randrange(len(text))
        index = text[:cut].count("-----BEGIN") - 1
        count = text.count("-----BEGIN")
        return f"truncate_pem:{name}:{_position(max(index, 0), count)}", dataclasses.replace(coll, **{name: text[:cut]})
    collateral_kinds: list[Callable[[], tuple[str, Any]]] = [
        lambda: ("flip_tcb_info_text", with_platform(tcb_info=_flip_text(platform.tcb_info, rng, 12,
                                                                           platform.tcb_info.rfind(',"signature"')))),
        lambda: ("flip_tcb_info_signature", with_platform(tcb_info=_flip_text(
            platform.tcb_info, rng, platform.tcb_info.rfind(",\"signature\"") + 14, len(platform.tcb_info) - 2))),
        lambda: ("flip_qe_identity_text", dataclasses.replace(coll, qe_identity=_flip_text(
            coll.qe_identity, rng, 20, coll.qe_identity.rfind(',"signature"')))),
        lambda: flip_pem(rng.choice(pem_fields)),
        lambda: flip_pem("tcb_info_issuer_chain"),
        lambda: ("swap_crls", dataclasses.replace(coll, root_ca_crl=coll.pck_crl, pck_crl=coll.root_ca_crl)),
        lambda: ("swap_chains_tcb_pckcrl", with_platform(tcb_info_issuer_chain=coll.pck_crl_issuer_chain)),
        lambda: ("swap_chains_qe_pckcrl", dataclasses.replace(coll, qe_identity_issuer_chain=coll.pck_crl_issuer_chain)),
        lambda: ("swap_chains_pckcrl_qe", dataclasses.replace(coll, pck_crl_issuer_chain=coll.qe_identity_issuer_chain)),
        lambda: truncate_pem(rng.choice(pem_fields)),
        lambda: ("tcb_info_of_other_platform", with_platform(tcb_info=rng.choice(others).tcb_info)),
        lambda: ("tcb_levels_reordered_unsigned", with_platform(tcb_info=_reorder_levels_text(platform.tcb_info))),
        lambda: ("date_shifted_unsigned", with_platform(tcb_info=platform.tcb_info.replace(
            '"issueDate":"2025', '"issueDate":"2024', 1))),
    ]
    while True:
        if rng.random() < 0.6:
            name, q = next(quotes)
            yield Case("azure", name, q, coll, root, AZURE_NOW, fmspc)
        else:
            name, c = rng.choice(collateral_kinds)()
            yield Case("azure", name, quote, c, root, AZURE_NOW, fmspc)


def _reorder_levels_text(body: str) -> str:
    """The same TCB info text with its tcbLevels array reversed (the signature no longer matches)."""
    from migtd.inputs import load_json

    doc = load_json(body, "TCB info")
    doc["tcbInfo"]["tcbLevels"].reverse()
    return json.dumps(doc, separators=(",", ":"))


# --------------------------------------------------------------------------- the mock corpus


@dataclass
class MockWorld:
    """A mock PKI with its keys, and the TD report fields of the baseline quote."""

    pki: Any
    svn: bytes = bytes.fromhex("07010300000000000000000000000000")
    attributes: bytes = SEPT_VE_DISABLE.to_bytes(8, "little")
    extra: dict[str, Any] = field(default_factory=dict)

    def quote(self, *, svn: bytes | None = None, svn2: bytes | None = None, attributes: bytes | None = None,
              mrsignerseam: bytes = bytes(48), seam_attributes: bytes = bytes(8), version: int = 4,
              td15: bool = False, qe: dict[str, Any] | None = None, auth_data: bytes | None = None,
              servtd: bytes = bytes(48)) -> bytes:
        """A properly signed mock quote with the given fields."""
        import hashlib

        from migtd.attest.quote import CERT_TYPE_PCK_CHAIN, QeCertData, TdQuoteBody, encode_quote, signed_region
        from migtd.attest.tdreport import TdInfo, TdReport, TeeTcbInfo
        from migtd.mock.platform import raw_signature
        from migtd.mock.qe import QE_AUTH_DATA, MockQE

        mqe = MockQE.from_pki(self.pki)
        tee = TeeTcbInfo(tee_tcb_svn=svn or self.svn, mrsignerseam=mrsignerseam, attributes=seam_attributes,
                         tee_tcb_svn2=svn2 if svn2 is not None else (svn or self.svn))
        info = TdInfo(attributes=attributes if attributes is not None else self.attributes,
                      xfam=bytes.fromhex("e718060000000000"), servtd_hash=servtd)
        report = TdReport.build(report_data=bytes(64), tee_tcb_info=tee, td_info=info)
        body = TdQuoteBody.from_td_report(report)
        if td15:
            body = dataclasses.replace(body, tee_tcb_svn2=report.tee_tcb_info.tee_tcb_svn2, mrservicetd=servtd)
        header = dataclasses.replace(mqe._header, version=version)
        cd = mqe._cert_data
        if qe is not None or auth_data is not None:
            auth = QE_AUTH_DATA if auth_data is None else auth_data
            rep = dataclasses.replace(cd.qe_report, **(qe or {}), report_data=hashlib.sha256(
                mqe.attestation_public_key + auth).digest() + bytes(32))
            raw = rep.to_bytes()
            cd = QeCertData(rep, raw, raw_signature(self.pki.pck_key, raw), auth, CERT_TYPE_PCK_CHAIN, cd.pck_chain)
        signature = raw_signature(self.pki.attestation_key, signed_region(header, body))
        return encode_quote(header, body, signature, mqe.attestation_public_key, cd)


def _resigned(pki: Any, tcb: dict[str, Any] | None = None, qe: dict[str, Any] | None = None) -> Any:
    from migtd.attest.collateral import PlatformCollateral
    from migtd.mock.pki import pcs_body

    c = pki.collateral
    if tcb is not None:
        p = c.platforms[0]
        c = dataclasses.replace(c, platforms=(PlatformCollateral(p.fmspc, p.tcb_info_issuer_chain,
                                                                 pcs_body(pki.tcb_key, "tcbInfo", tcb)),))
    if qe is not None:
        c = dataclasses.replace(c, qe_identity=pcs_body(pki.tcb_key, "enclaveIdentity", qe))
    return c


def _svn_bytes(rng: random.Random) -> bytes:
    out = bytearray(16)
    out[0] = rng.choice([0, 1, 2, 3, 5, 6, 7, 9])
    out[1] = rng.choice([0, 1, 1, 1, 2, 3])
    out[2] = rng.choice([0, 1, 2, 3, 4])
    if rng.random() < 0.2:
        out[rng.randrange(3, 16)] = rng.randrange(1, 4)
    return bytes(out)


def _iso(dt: datetime) -> str:
    return dt.strftime("%Y-%m-%dT%H:%M:%SZ")


def mock_cases(pki: Any, rng: random.Random) -> Iterator[Case]:
    """Re-signed semantic mutations over a mock PKI (``MockPki.generate()``)."""
    from migtd.mock.pki import qe_identity_document, tcb_info_document
    from migtd.paths import MOCK_FMSPC

    world = MockWorld(pki)
    base_quote = world.quote()
    coll, root, fmspc = pki.collateral, pki.root_ca_der, MOCK_FMSPC
    yield Case("mock", "baseline", base_quote, coll, root, MOCK_NOW, fmspc)
    quotes = quote_mutations(base_quote, rng)

    def tcb_doc() -> dict[str, Any]:
        return tcb_info_document(fmspc)

    def level_edit() -> tuple[str, Any]:
        doc = tcb_doc()
        lv = rng.choice(doc["tcbLevels"])
        what = rng.choice(["status", "sgx", "tdx", "pcesvn", "date", "drop", "advisories"])
        if what == "status":
            lv["tcbStatus"] = rng.choice(["UpToDate", "SWHardeningNeeded", "ConfigurationNeeded", "OutOfDate",
                                          "ConfigurationAndSWHardeningNeeded", "OutOfDateConfigurationNeeded",
                                          "Revoked"])
        elif what in ("sgx", "tdx"):
            comps = lv["tcb"]["sgxtcbcomponents" if what == "sgx" else "tdxtcbcomponents"]
            comps[rng.randrange(16)]["svn"] = rng.randrange(0, 8)
        elif what == "pcesvn":
            lv["tcb"]["pcesvn"] = rng.choice([0, 5, 13, 14, 20])
        elif what == "date":
            lv["tcbDate"] = _iso(datetime(2020, 1, 1, tzinfo=UTC) + timedelta(days=rng.randrange(4000)))
        elif what == "drop":
            doc["tcbLevels"].remove(lv)
        else:
            lv["advisoryIDs"] = [f"INTEL-SA-{rng.randrange(10000):05d}"]
        return f"tcb_level_{what}", _resigned(pki, tcb=doc)

    def module_edit() -> tuple[str, Any]:
        doc = tcb_doc()
        ident = rng.choice(doc["tdxModuleIdentities"])
        what = rng.choice(["status", "isvsvn", "drop_level", "id", "mrsigner", "attributes", "drop_identity"])
        if what == "status":
            rng.choice(ident["tcbLevels"])["tcbStatus"] = rng.choice(["UpToDate", "OutOfDate", "Revoked"])
        elif what == "isvsvn":
            rng.choice(ident["tcbLevels"])["tcb"]["isvsvn"] = rng.randrange(0, 10)
        elif what == "drop_level":
            ident["tcbLevels"].pop(rng.randrange(len(ident["tcbLevels"])))
        elif what == "id":
            ident["id"] = rng.choice(["TDX_02", "tdx_01", "TDX_1", "TDX_03"])
        elif what == "mrsigner":
            ident["mrsigner"] = "01" * 48
        elif what == "attributes":
            ident["attributes"] = rng.choice(["0100000000000000", "0000000000000000"])
            ident["attributesMask"] = rng.choice(["FFFFFFFFFFFFFFFF", "FEFFFFFFFFFFFFFF", "0000000000000000"])
        else:
            doc["tdxModuleIdentities"].remove(ident)
        return f"module_{what}", _resigned(pki, tcb=doc)

    def info_edit() -> tuple[str, Any]:
        doc = tcb_doc()
        what = rng.choice(["reorder", "issue_date", "next_update", "fmspc", "pce_id", "version", "id", "eval",
                           "tdx_module_signer"])
        if what == "reorder":
            rng.shuffle(doc["tcbLevels"])
        elif what == "issue_date":
            doc["issueDate"] = _iso(MOCK_NOW + timedelta(days=rng.choice([-4000, -10, 1, 30])))
        elif what == "next_update":
            doc["nextUpdate"] = _iso(MOCK_NOW + timedelta(days=rng.choice([-30, -1, 1, 4000])))
        elif what == "fmspc":
            doc["fmspc"] = rng.choice([doc["fmspc"].lower(), "00606A000000"])
        elif what == "pce_id":
            doc["pceId"] = "0100"
        elif what == "version":
            doc["version"] = rng.choice([2, 4])
        elif what == "id":
            doc["id"] = rng.choice(["SGX", "tdx"])
        elif what == "eval":
            doc["tcbEvaluationDataNumber"] = rng.randrange(0, 100)
        else:
            doc["tdxModule"]["mrsigner"] = "02" * 48
        return f"tcb_info_{what}", _resigned(pki, tcb=doc)

    def qe_edit() -> tuple[str, Any]:
        doc = qe_identity_document()
        what = rng.choice(["status", "isvsvn", "miscselect", "attributes", "mrsigner", "isvprodid", "version", "id",
                           "dates", "levels"])
        if what == "status":
            doc["tcbLevels"][0]["tcbStatus"] = rng.choice(["OutOfDate", "Revoked", "ConfigurationNeeded",
                                                           "OutOfDateConfigurationNeeded"])
        elif what == "isvsvn":
            doc["tcbLevels"][0]["tcb"]["isvsvn"] = rng.choice([3, 4, 5])
        elif what == "miscselect":
            doc["miscselect"], doc["miscselectMask"] = rng.choice([("00000001", "FFFFFFFF"), ("00000001", "FEFFFFFF")])
        elif what == "attributes":
            doc["attributes"] = rng.choice(["15000000000000000000000000000000", "11000000000000000000000000000001"])
        elif what == "mrsigner":
            doc["mrsigner"] = "00" * 32
        elif what == "isvprodid":
            doc["isvprodid"] = 3
        elif what == "version":
            doc["version"] = rng.choice([1, 3])
        elif what == "id":
            doc["id"] = "QE"
        elif what == "dates":
            doc["nextUpdate"] = _iso(MOCK_NOW - timedelta(days=1))
        else:
            doc["tcbLevels"].insert(0, {"tcb": {"isvsvn": 9}, "tcbDate": "2025-01-01T00:00:00Z", "tcbStatus": "UpToDate"})
            doc["tcbLevels"][1]["tcbStatus"] = "OutOfDate"
        return f"qe_identity_{what}", _resigned(pki, qe=doc)

    def quote_edit() -> tuple[str, bytes, bytes | None]:
        name, quote = quote_edit_()
        if name != "relaunch":
            return name, quote, None
        svn, svn2 = _svn_bytes(rng), _svn_bytes(rng)
        return name, world.quote(svn=svn, svn2=svn2, version=5, td15=True), \
            world.quote(svn=svn, svn2=svn, version=5, td15=True)

    def quote_edit_() -> tuple[str, bytes]:
        what = rng.choice(["svn", "svn", "relaunch", "td_attributes", "mrsignerseam", "seam_attributes", "v5_td10",
                           "qe_isvsvn", "qe_fields", "qe_auth_size"])
        if what == "svn":
            return "tee_tcb_svn", world.quote(svn=_svn_bytes(rng))
        if what == "relaunch":
            return "relaunch", b""
        if what == "td_attributes":
            return "td_attributes", world.quote(attributes=(rng.choice([0, 1, SEPT_VE_DISABLE | 1, 1 << 29 | SEPT_VE_DISABLE])).to_bytes(8, "little"))
        if what == "mrsignerseam":
            return "mrsignerseam", world.quote(mrsignerseam=b"\x01" * 48)
        if what == "seam_attributes":
            return "seam_attributes", world.quote(seam_attributes=rng.choice([b"\x01", b"\x80"]) + bytes(7))
        if what == "v5_td10":
            return "v5_td10", world.quote(version=5)
        if what == "qe_isvsvn":
            return "qe_isvsvn", world.quote(qe={"isvsvn": rng.choice([0, 3, 4, 5])})
        if what == "qe_fields":
            key, value = rng.choice([("isvprodid", 3), ("miscselect", b"\x01\x00\x00\x00"),
                                     ("attributes", bytes.fromhex("1700000000000000e700000000000000")),
                                     ("mrsigner", bytes(32))])
            return f"qe_{key}", world.quote(qe={key: value})
        return "qe_auth_size", world.quote(auth_data=bytes(range(rng.choice([0, 16, 31, 33, 64]))))

    def time_edit() -> tuple[str, datetime]:
        return "instant", rng.choice([datetime(2023, 6, 1, tzinfo=UTC), datetime(2050, 6, 1, tzinfo=UTC),
                                      datetime(2024, 1, 1, tzinfo=UTC), datetime(2049, 12, 30, tzinfo=UTC)])

    reissued = _reissued_chains(pki)
    while True:
        r = rng.random()
        if r < 0.25:
            name, q = next(quotes)
            yield Case("mock", name, q, coll, root, MOCK_NOW, fmspc)
        elif r < 0.5:
            name, q, counterfactual = quote_edit()
            yield Case("mock", name, q, coll, root, MOCK_NOW, fmspc, counterfactual=counterfactual)
        elif r < 0.85:
            name, c = rng.choice([level_edit, level_edit, module_edit, info_edit, qe_edit])()
            yield Case("mock", name, base_quote, c, root, MOCK_NOW, fmspc)
        elif r < 0.93:
            name, when = time_edit()
            yield Case("mock", name, base_quote, coll, root, when, fmspc)
        else:
            name, chain = rng.choice(reissued)
            yield Case("mock", name, _with_chain(base_quote, chain), coll, root, MOCK_NOW, fmspc)


def _reissued_chains(pki: Any) -> list[tuple[str, bytes]]:
    """PCK chains with a leaf or CA re-issued by the real issuer key but with other properties."""
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes
    from cryptography.hazmat.primitives.asymmetric import ec

    from migtd.mock.pki import pem

    def leaf(*, ca: bool = False, key_usage: bool = True, not_after: datetime | None = None,
             subject_cn: str | None = None) -> x509.Certificate:
        builder = (x509.CertificateBuilder().subject_name(
            pki.pck.subject if subject_cn is None else x509.Name([x509.NameAttribute(x509.NameOID.COMMON_NAME,
                                                                                      subject_cn)]))
            .issuer_name(pki.pck_ca.subject).public_key(pki.pck_key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(pki.pck.not_valid_before_utc)
            .not_valid_after(not_after or pki.pck.not_valid_after_utc)
            .add_extension(x509.BasicConstraints(ca=ca, path_length=None), critical=True))
        if key_usage:
            builder = builder.add_extension(x509.KeyUsage(True, False, False, False, False, ca, ca, False, False),
                                            critical=True)
        for ext in pki.pck.extensions:
            if ext.oid.dotted_string == "1.2.840.113741.1.13.1":
                builder = builder.add_extension(ext.value, critical=False)
        return builder.sign(pki.pck_ca_key, hashes.SHA256())

    def pck_ca_without_ca_flag() -> x509.Certificate:
        return (x509.CertificateBuilder().subject_name(pki.pck_ca.subject).issuer_name(pki.root.subject)
                .public_key(pki.pck_ca_key.public_key()).serial_number(x509.random_serial_number())
                .not_valid_before(pki.pck_ca.not_valid_before_utc).not_valid_after(pki.pck_ca.not_valid_after_utc)
                .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
                .sign(pki.root_key, hashes.SHA256()))

    stranger = ec.generate_private_key(ec.SECP256R1())
    forged = (x509.CertificateBuilder().subject_name(pki.pck.subject).issuer_name(pki.pck_ca.subject)
              .public_key(pki.pck_key.public_key()).serial_number(1).not_valid_before(pki.pck.not_valid_before_utc)
              .not_valid_after(pki.pck.not_valid_after_utc).sign(stranger, hashes.SHA256()))
    return [
        ("reissue_leaf_as_ca", (pem(leaf(ca=True), pki.pck_ca, pki.root) + "\0").encode()),
        ("reissue_leaf_without_key_usage", (pem(leaf(key_usage=False), pki.pck_ca, pki.root) + "\0").encode()),
        ("reissue_leaf_expired", (pem(leaf(not_after=datetime(2029, 1, 1, tzinfo=UTC)), pki.pck_ca, pki.root)
                                  + "\0").encode()),
        ("reissue_leaf_other_cn", (pem(leaf(subject_cn="Intel SGX PCK Certificate copy"), pki.pck_ca, pki.root)
                                   + "\0").encode()),
        ("reissue_pck_ca_not_ca", (pem(pki.pck, pck_ca_without_ca_flag(), pki.root) + "\0").encode()),
        ("reissue_forged_leaf", (pem(forged, pki.pck_ca, pki.root) + "\0").encode()),
    ]


# --------------------------------------------------------------------------- one example per difference


def examples(pki: Any) -> dict[str, Case]:
    """A case for each documented difference (and the time rule), built on ``pki``: what the
    tests pin, so a change in either verifier that removes or alters a difference is noticed."""
    from migtd.mock.pki import qe_identity_document, tcb_info_document
    from migtd.paths import MOCK_FMSPC

    world = MockWorld(pki)
    quote = world.quote()
    coll, root = pki.collateral, pki.root_ca_der
    blocks = _pem_blocks(_chain_of(quote))
    rng = random.Random(0)

    def case(name: str, q: bytes = quote, c: Any = coll, now: datetime = MOCK_NOW, **kw: Any) -> Case:
        return Case("mock", name, q, c, root, now, MOCK_FMSPC, **kw)

    def flipped_root_block() -> bytes:
        while True:
            chain, index, count = _b64_flip(_chain_of(quote), rng)
            if index == count - 1:
                return _with_chain(quote, chain)  # type: ignore[arg-type]

    tcb, qe, module = tcb_info_document(MOCK_FMSPC), qe_identity_document(), tcb_info_document(MOCK_FMSPC)
    tcb["pceId"] = "0100"
    qe["attributes"] = "15000000000000000000000000000000"
    module["tdxModuleIdentities"][1]["attributes"] = "0100000000000000"
    module["tdxModuleIdentities"][1]["attributesMask"] = "FEFFFFFFFFFFFFFF"
    ascending = tcb_info_document(MOCK_FMSPC)
    ascending["tdxModuleIdentities"][1]["tcbLevels"][0]["tcb"]["isvsvn"] = 0   # TDX_01: 0 UpToDate, then 2 OutOfDate
    qe_status = qe_identity_document()
    qe_status["tcbLevels"][0]["tcbStatus"] = "ConfigurationNeeded"
    crl_chain = coll.pck_crl_issuer_chain
    reissued = dict(_reissued_chains(pki))
    launch, now_on = bytes.fromhex("07010200000000000000000000000000"), bytes.fromhex("07010300000000000000000000000000")
    cert_type_7 = bytearray(quote)
    cert_type_7[636 + 128] = 7
    return {
        "time_rule": case("instant", now=datetime(2050, 6, 1, tzinfo=UTC)),
        "td_attribute_rule": case("td_attributes", world.quote(attributes=bytes(8))),
        "chain_order": case("chain_reordered:102", _with_chain(quote, blocks[1] + blocks[0] + blocks[2] + b"\0")),
        "chain_count": case("chain_duplicated_cert", _with_chain(quote, b"".join(blocks + blocks[:1]) + b"\0")),
        "chain_root_certificate": case("flip_pck_chain_base64:root", flipped_root_block()),
        "pck_crl_issuer_chain": case("truncate_pem:pck_crl_issuer_chain:root", c=dataclasses.replace(
            coll, pck_crl_issuer_chain=crl_chain[:crl_chain.rindex("-----BEGIN")])),
        "cert_data_framing": case("flip_cert_data_type", bytes(cert_type_7)),
        "pce_id": case("tcb_info_pce_id", c=_resigned(pki, tcb=tcb)),
        "qe_identity_mask": case("qe_identity_attributes", c=_resigned(pki, qe=qe)),
        "seam_attributes": case("module_attributes", c=_resigned(pki, tcb=module)),
        "qe_auth_data_size": case("qe_auth_size", world.quote(auth_data=bytes(16))),
        "ca_constraints": case("reissue_leaf_as_ca", _with_chain(quote, reissued["reissue_leaf_as_ca"])),
        "qe_status": case("qe_identity_status", c=_resigned(pki, qe=qe_status)),
        "module_level_order": case("module_isvsvn", c=_resigned(pki, tcb=ascending)),
        "relaunch": case("relaunch", world.quote(svn=launch, svn2=now_on, version=5, td15=True),
                         counterfactual=world.quote(svn=launch, svn2=launch, version=5, td15=True)),
    }


def _chain_of(quote: bytes) -> bytes:
    from migtd.attest.quote import parse_quote

    return parse_quote(quote).cert_data.pck_chain


# --------------------------------------------------------------------------- campaign


@dataclass
class Tally:
    cases: int = 0
    by_class: Counter[str] = field(default_factory=Counter)
    by_mutation: dict[str, Counter[str]] = field(default_factory=dict)
    examples: dict[str, list[Outcome]] = field(default_factory=dict)

    def add(self, o: Outcome) -> None:
        self.cases += 1
        self.by_class[o.klass] += 1
        self.by_mutation.setdefault(o.case.mutation.split(":")[0], Counter())[o.klass] += 1
        if o.klass != "agree":
            self.examples.setdefault(o.klass, [])
            if len(self.examples[o.klass]) < 5:
                self.examples[o.klass].append(o)

    @property
    def failures(self) -> int:
        return self.by_class["unexplained"] + self.by_class["crash"] + self.by_class["status_differs"]


def campaign(cases: int, seed: int, vectors: Path | None, pki: Any = None) -> Tally:
    """Judge ``cases`` cases (split between the corpora) from ``seed``; the baselines must agree."""
    from migtd.attest.collateral_cache import CollateralCache
    from migtd.mock.pki import MockPki

    rng = random.Random(seed)
    tally = Tally()
    sources: list[Iterator[Case]] = []
    if vectors is not None:
        sources.append(azure_cases(vectors, random.Random(rng.random())))
    sources.append(mock_cases(pki or MockPki.generate(), random.Random(rng.random())))
    per = -(-cases // len(sources))
    for source in sources:
        cache = CollateralCache(max_entries=2)
        baseline = judge(next(source), cache)
        if baseline.klass not in ("agree", "td_attribute_rule") or not baseline.ours_strict.startswith("accept"):
            raise RuntimeError(f"{baseline.case.corpus} baseline: ours {baseline.ours_strict}, dcap-qvl "
                               f"{baseline.dcap.kind} ({baseline.dcap.detail})")
        tally.add(baseline)
        for _ in range(per - 1):
            case = next(source)
            same_collateral = case.collateral is baseline.case.collateral
            tally.add(judge(case, cache if same_collateral else None))
    return tally


def _dump(out: Path, tally: Tally) -> None:
    """Each disagreeing (or crashing) case's inputs and verdicts, one folder per case under ``out``."""
    from migtd.inputs import open_output

    out.mkdir(parents=True, exist_ok=True)
    for klass, outcomes in tally.examples.items():
        for i, o in enumerate(outcomes):
            d = out / f"{klass}-{i}-{o.case.corpus}-{o.case.mutation}"
            d.mkdir(exist_ok=True)
            verdicts = json.dumps({
                "now": o.case.now.isoformat(), "ours_strict": o.ours_strict, "ours_midpoint": o.ours_midpoint,
                "dcap_qvl": dataclasses.asdict(o.dcap), "class": o.klass, "crash": o.crash}, indent=2) + "\n"
            for name, data in (("quote.bin", o.case.quote), ("collateral.json", o.case.collateral.to_json()),
                               ("root_ca.der", o.case.root), ("verdicts.json", verdicts.encode())):
                with open_output(d / name, "differential case file", binary=True) as f:
                    f.write(data)


def _uint(text: str) -> int:
    """A count from the command line, read by the project's one integer parser."""
    from migtd.inputs import parse_uint

    value = parse_uint(text, 32)
    if value is None:
        raise argparse.ArgumentTypeError(f"{text!r} is not an unsigned integer")
    return value


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--cases", type=_uint, default=5000)
    ap.add_argument("--seed", type=_uint, default=1)
    ap.add_argument("--vectors", type=Path, default=ROOT / "tests" / "vectors")
    ap.add_argument("--out", type=Path, help="write disagreeing cases here")
    ap.add_argument("--json", action="store_true")
    args = ap.parse_args(argv)
    try:
        import dcap_qvl  # noqa: F401
    except ImportError:
        print("dcap-qvl is not installed: .venv/bin/pip install -e '.[dev]'", file=sys.stderr)
        return 1
    from migtd.errors import MigtdError

    try:
        tally = campaign(args.cases, args.seed, args.vectors)
    except MigtdError as exc:
        print(f"vectors: {exc.message} (--vectors names the folder holding attestation/)", file=sys.stderr)
        return 1
    if args.out is not None:
        _dump(args.out, tally)
    result = {"cases": tally.cases, "seed": args.seed, "by_class": dict(tally.by_class),
              "by_mutation": {m: dict(c) for m, c in sorted(tally.by_mutation.items())},
              "examples": {k: [f"{o.case.corpus}/{o.case.mutation}: ours {o.ours_strict} (midpoint "
                                f"{o.ours_midpoint}), dcap-qvl {o.dcap.kind} {o.dcap.status or o.dcap.detail[:100]}"
                                + (f" CRASH {o.crash}" if o.crash else "") for o in v]
                           for k, v in tally.examples.items()}}
    if args.json:
        print(json.dumps(result, indent=2))
    else:
        print(f"{tally.cases} cases, seed {args.seed}")
        for klass, n in tally.by_class.most_common():
            print(f"  {klass:22s} {n}")
        for klass, lines in result["examples"].items():
            print(f"{klass}:")
            for line in lines:
                print(f"  {line}")
    return 1 if tally.failures else 0


if __name__ == "__main__":
    sys.exit(main())
