"""Fuzz targets: the byte and text parsers MigTD-Py runs on input from a peer, the VMM or an operator.

Each target takes arbitrary bytes, runs one parser (and what a caller does
with its result next), and may end only with a value or one of the error
types the parser documents: the project's own (:class:`~migtd.errors.MigtdError`
and its kinds, :class:`~migtd.policy.errors.PolicyError`,
:class:`~migtd.policy.v1_events.EventParseError`). Anything else escaping —
``IndexError``, ``struct.error``, ``RecursionError``, a ``ValueError`` from a
conversion — is a finding.

Used by ``tests/fuzz/test_parsers.py`` (a short seeded budget in CI) and by
``scripts/fuzz_campaign.py`` (≥ 100 000 inputs per target, coverage-guided
with atheris when it is installed).
"""

from __future__ import annotations

import functools
import hashlib
import json
import random
import struct
from collections.abc import Callable
from pathlib import Path

from migtd.errors import MigtdError
from migtd.policy.errors import PolicyError
from migtd.policy.v1_events import EventParseError

ROOT = Path(__file__).resolve().parent.parent.parent
VECTORS = ROOT / "tests" / "vectors"
PVEC = VECTORS / "policy"

#: The error types each target may end with (every one is the project's own).
ALLOWED: tuple[type[BaseException], ...] = (MigtdError, PolicyError, EventParseError)


# --------------------------------------------------------------------------- targets

def eventlog_target(data: bytes) -> None:
    """CCEL: parse, replay the RTMRs, name the tagged events (policy v1/v2 use all three)."""
    from migtd import eventlog
    from migtd.policy.v1_events import name_events

    events = eventlog.parse_event_log(data)
    eventlog.replay_rtmrs(events)
    name_events(events)
    for event in events:
        _ = event.tag


def certificate_target(data: bytes) -> None:
    """The RA-TLS certificate walker, then everything a verifier reads from the result."""
    from migtd import verdict
    from migtd.ratls.certificate import parse_certificate, verify_self_signature
    from migtd.ratls.evidence import evidence_from_certificate

    cert = parse_certificate(data)
    cert.extended_key_usages()
    _ = (cert.quote, cert.event_log, cert.policy_hash)
    # the structure every mode checks first (MigTD EKU, quote, event log), as the session hands it over
    evidence_from_certificate(cert, (verdict.IDENTITY, verdict.QUOTE, verdict.EVENT_LOG))
    verify_self_signature(cert)


def exchange_information_target(data: bytes) -> None:
    """ExchangeInformation as received in the TLS session, then the version negotiation."""
    from migtd.protocol.msk import ExchangeInformation, negotiate_version

    info = ExchangeInformation.decode(data)
    repr(info)
    for is_source in (True, False):
        try:
            negotiate_version((info.min_ver, info.max_ver), (1, 1), is_source=is_source)
        except MigtdError:
            pass


def ghci_request_target(data: bytes) -> None:
    """A WaitForRequest GHCI buffer as the VMM hands it (both policy versions)."""
    from migtd.emu.ghci import decode_buffer, split_status_word
    from migtd.emu.requests import parse_request

    policy_v2 = bool(data[:1]) and data[0] & 1 == 1
    body = data[1:]
    try:
        head = decode_buffer(body)
        split_status_word(head.status)
    except MigtdError:
        pass
    request = parse_request(body, policy_v2=policy_v2)
    if request is not None:
        request.payload()


def peer_data_target(data: bytes) -> None:
    """The policy-v2 pre-session blob, then the peer's policy container inside it."""
    from migtd.policy.v2 import parse_peer_data
    from migtd.policy.v2.container import parse_container

    policy, _chain_pem = parse_peer_data(data)
    parse_container(policy, "policyData", path="peer policy")


@functools.lru_cache(maxsize=1)
def _report() -> bytes:
    return (PVEC / "src/policy/test/report.dat").read_bytes()


def policy_v1_target(data: bytes) -> None:
    """A v1 policy document: the parser, then a full evaluation against report.dat (never raises)."""
    from migtd.policy.v1 import evaluate_v1
    from migtd.policy.v1_document import parse_v1

    try:
        parse_v1(data)
    except PolicyError:
        pass
    decision = evaluate_v1(data, is_source=True, local_report=_report(), peer_report=_report())
    decision.failed_rules()
    decision.decision_event()


@functools.lru_cache(maxsize=1)
def _chain() -> bytes:
    return (PVEC / "src/policy/test/policy_v2/cert_chain/policy_issuer_chain.pem").read_bytes()


def policy_v2_target(data: bytes) -> None:
    """A signed v2 policy as a file: §3.5 verification with the upstream issuer chain."""
    from migtd.policy.v2 import verify_signed_policy

    verify_signed_policy(data, _chain())


def policy_v2_document_target(data: bytes) -> None:
    """The ``policyData`` schema and its embedded collaterals, past the signature (which fuzzing
    cannot forge): the JSON reader, the document parser, the collateral facts."""
    from migtd.policy import jsontext
    from migtd.policy.v2.collaterals import parse_collaterals
    from migtd.policy.v2.document import parse_policy_data

    try:
        value = jsontext.loads(data.decode("utf-8"))
    except ValueError:  # the documented answer of the JSON reader (JSONDecodeError, TooDeep, not UTF-8)
        return
    doc = parse_policy_data(value)
    coll = parse_collaterals(doc.collaterals, "collaterals")
    for platform in coll.platforms:
        try:
            coll.tcb_evaluation_number(bytes.fromhex(platform.fmspc) if len(platform.fmspc) == 12 else b"")
        except (PolicyError, ValueError):
            pass


def hcl_report_target(data: bytes) -> None:
    """An Azure HCL report from the vTPM, then what the provider and ``azure hcl`` read from it."""
    from migtd.attest.tdreport import TdReport
    from migtd.emu.hcl import parse_hcl_report

    report = parse_hcl_report(data)
    report.user_data()
    report.claims_bound()
    TdReport.parse(report.td_report)


def imds_response_target(data: bytes) -> None:
    """An IMDS ``/acc/tdquote`` answer body."""
    from migtd.emu.imds import decode_response

    decode_response(data)


TARGETS: dict[str, Callable[[bytes], None]] = {
    "eventlog": eventlog_target,
    "certificate": certificate_target,
    "exchange_information": exchange_information_target,
    "ghci_request": ghci_request_target,
    "peer_data": peer_data_target,
    "policy_v1": policy_v1_target,
    "policy_v2": policy_v2_target,
    "policy_v2_document": policy_v2_document_target,
    "hcl_report": hcl_report_target,
    "imds_response": imds_response_target,
}


def run(name: str, data: bytes) -> bool:
    """Run one target; True when the input was accepted, False when refused with an allowed error."""
    try:
        TARGETS[name](data)
    except ALLOWED:
        return False
    return True


# --------------------------------------------------------------------------- seeds

@functools.lru_cache(maxsize=1)
def seeds() -> dict[str, list[bytes]]:
    """Valid inputs for every target, so mutations start deep inside each parser."""
    from cryptography.hazmat.primitives.asymmetric import ec

    from migtd import eventlog, paths
    from migtd.emu.hcl import build_hcl_report, runtime_claims
    from migtd.emu.imds import b64url_encode
    from migtd.emu.requests import migration_queue, rebinding_queue
    from migtd.policy.v2 import build_peer_data
    from migtd.protocol.msk import ExchangeInformation
    from migtd.ratls.certificate import build_certificate, build_rebind_certificate

    v1 = paths.default_policy().read_bytes()
    root = paths.mock_root_ca().read_bytes()
    v2 = (PVEC / "src/policy/test/policy_v2/policy_v2.json").read_bytes()
    logs = [eventlog.v1_event_log(v1, root), eventlog.v2_event_log(_chain(), v2), eventlog.skip_ra_event_log()]
    key = ec.generate_private_key(ec.SECP384R1())
    quote = paths.sample_quote().read_bytes()
    certs = [build_certificate(key, quote, logs[0]),
             build_certificate(key, bytes(64), logs[1], policy_hash=hashlib.sha384(b"x").digest()),
             build_rebind_certificate(key, logs[1], bytes(1024), policy_hash=bytes(48), servtd_ext=bytes(16),
                                      init_tdinfo=bytes(512))]
    requests = [r.encode()[:200] for q in (migration_queue(7, True, (1, 2, 3, 4), 9),
                                           rebinding_queue(7, False, (1, 2, 3, 4), 9, finalize=True))
                for r in q]
    td_report = (VECTORS / "attestation" / "derived" / "mock_td_report_from_QUOTE.bin").read_bytes()[:1024]
    hcl_real = (VECTORS / "attestation" / "azure" / "hcl-report-tdx.bin").read_bytes()
    v1_files = sorted((PVEC / "src/policy/test").glob("policy*.json")) + sorted(
        (PVEC / "derived/v1_policies").glob("*.json"))
    policy_data = (PVEC / "src/policy/test/policy_v2/policy_data.json").read_bytes()
    return {
        "eventlog": logs,
        "certificate": certs,
        "exchange_information": [ExchangeInformation(bytes(range(32)), 1, 3).encode()],
        "ghci_request": [bytes([flag]) + r for r in requests for flag in (0, 1)],
        "peer_data": [build_peer_data(v2, _chain()), build_peer_data(b"{}", b"")],
        "policy_v1": [v1, *(p.read_bytes() for p in v1_files[:12])],
        "policy_v2": [v2, *(p.read_bytes() for p in sorted((PVEC / "derived/v2").glob("*.json")))],
        "policy_v2_document": [policy_data, json.dumps(json.loads(policy_data)).encode()],
        "hcl_report": [hcl_real, build_hcl_report(td_report, runtime_claims(bytes(64)))] if len(td_report) == 1024
        else [hcl_real],
        "imds_response": [json.dumps({"quote": b64url_encode(quote)}).encode(), b'{"quote":"AAAA"}'],
    }


def mutate(data: bytes, ops: list[tuple[int, int, int]], extra: bytes = b"") -> bytes:
    """Apply (op, position, value) mutations: set a byte, flip a bit, truncate, write a u32, splice."""
    out = bytearray(data)
    for op, pos, value in ops:
        if not out:
            out += extra
            continue
        i = pos % len(out)
        if op == 0:
            out[i] = value & 0xFF
        elif op == 1:
            out[i] ^= 1 << (value % 8)
        elif op == 2:
            del out[i:]
        elif op == 3 and len(out) >= 4:
            struct.pack_into("<I", out, min(i, len(out) - 4), value)
        elif op == 4:
            out[i:i] = extra
    return bytes(out)


#: Targets whose input is a JSON document: they also get structure-aware mutations.
JSON_TARGETS = frozenset({"policy_v1", "policy_v2", "policy_v2_document", "imds_response"})

_SPECIAL = [0, 1, -1, 255, 256, 65535, 65536, 2**32 - 1, 2**32, 2**63, 2**64 - 1, 2**64, 10**30, 1.5, -0.0,
            True, False, None, "", "self", "init", "0..", "..5", "1..2", "0.." + "9" * 30, "equal",
            "greater-or-equal", "in-range", "in-time-range", "subset", "allow-list", "deny-list",
            "array-equal", "array-greater-or-equal", "UpToDate", "Revoked", "2025-01-01T00:00:00Z",
            "00" * 48, "zz", "\u0000", "\ud800", [], {}, [0] * 300, ["a"], {"": None}]


def _copy(value: object) -> object:
    """A fresh copy: a shared list or dict would let a later mutation make the document circular."""
    return json.loads(json.dumps(value))


def _nodes(value: object, path: tuple[object, ...] = ()) -> list[tuple[object, ...]]:
    out = [path]
    if isinstance(value, dict):
        for k, v in value.items():
            out += _nodes(v, (*path, k))
    elif isinstance(value, list):
        for i, v in enumerate(value):
            out += _nodes(v, (*path, i))
    return out


def mutate_json(data: bytes, rng: random.Random) -> bytes | None:
    """A structure-aware mutation of a JSON document: one node replaced, removed, duplicated or
    swapped for a boundary value; None when ``data`` is not JSON (the caller mutates bytes then)."""
    try:
        doc = json.loads(data)
    except (ValueError, RecursionError):
        return None
    for _ in range(rng.randint(1, 3)):
        paths = _nodes(doc)
        path = rng.choice(paths)
        if not path:
            continue
        parent = doc
        for key in path[:-1]:
            parent = parent[key]  # type: ignore[index]
        key = path[-1]
        op = rng.randrange(5)
        if op == 0 and isinstance(parent, dict):
            del parent[key]
        elif op == 1 and isinstance(parent, list):
            parent.insert(int(key), _copy(parent[key]))  # type: ignore[arg-type,call-overload]
        elif op == 2:
            other = rng.choice(paths)
            node = doc
            for k in other:
                node = node[k]  # type: ignore[index]
            parent[key] = _copy(node)  # type: ignore[index]
        else:
            parent[key] = _copy(rng.choice(_SPECIAL))  # type: ignore[index]
    text = json.dumps(doc, separators=(",", ":") if rng.random() < 0.7 else (", ", ": "))
    return text.encode("utf-8", "surrogatepass")
