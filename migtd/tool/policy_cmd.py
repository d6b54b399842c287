"""``migtd-tool policy check|verify|sign|generate``: migration policies offline.

``check`` evaluates a v1 or v2 policy for a local/peer pair of verified
reports (or quotes, verified with ``--collateral``/``--root-ca``), prints
one line per rule and exits 0 when the policy is satisfied, else with the
MigrationResult code (8 unsatisfied, 9 invalid policy). ``verify`` checks a
signed v2 policy against its issuer chain. ``sign`` wraps canonical JSON in
a signed container (json-signer). ``generate`` writes a v1 policy pinning
the values of a verified report; ``generate-v2`` a signed v2 policy and its
issuer chain for the mock report, and ``generate-rotation`` two such
policies whose chains differ the way a key rotation makes them differ.

Exit statuses are the engine's for the same input (see :mod:`migtd.policy.errors`
and docs/hardening.md): a signed policy that does not verify as *our own* policy
is InvalidPolicyError (9) whatever the step, as at ``migtd`` start-up; a quote
given as ``--local``/``--peer`` that does not verify is MutualAttestationError
(7) with policy v1 and PolicyUnsatisfiedError (8, ``QuoteVerification``) with
v2; an unreadable or malformed collateral or root CA file is a usage error (1).
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

from migtd.errors import ConfigError
from migtd.inputs import uint_arg
from migtd.tool.files import (
    EVENT_LOG_LIMIT,
    ISSUER_CHAIN_LIMIT,
    PEM_LIMIT,
    POLICY_LIMIT,
    QUOTE_LIMIT,
    REPORT_LIMIT,
    ROOT_CA_LIMIT,
    Files,
    read_collateral,
)


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add ``policy`` and its actions to ``migtd-tool``."""
    p = sub.add_parser("policy", help="check, verify, sign or generate migration policies",
                       description=__doc__.split("\n\n")[1].replace("``", ""))
    ps = p.add_subparsers(dest="policy_cmd", metavar="ACTION", required=True)

    c = ps.add_parser("check", help="evaluate a policy for a local/peer pair (exit 0 = satisfied)")
    c.add_argument("--policy", required=True, type=Path, help="v1 policy JSON or signed v2 policy")
    c.add_argument("--issuer-chain", type=Path, help="v2: PEM issuer chain of the policy (selects v2)")
    c.add_argument("--local", required=True, type=Path, help="local 822-byte verified report, or a quote")
    c.add_argument("--peer", required=True, type=Path, help="peer 822-byte verified report, or a quote")
    c.add_argument("--local-events", type=Path, help="local CC event log (CCEL bytes)")
    c.add_argument("--peer-events", type=Path, help="peer CC event log (CCEL bytes)")
    c.add_argument("--peer-policy", type=Path, help="v2: the peer's signed policy (default: --policy)")
    c.add_argument("--peer-issuer-chain", type=Path, help="v2: the peer's issuer chain (default: --issuer-chain)")
    c.add_argument("--role", required=True, choices=("source", "destination"), help="the local MigTD's role")
    c.add_argument("--collateral", type=Path, help="collateral JSON, to verify quote inputs")
    c.add_argument("--root-ca", type=Path, help="root CA (DER or PEM), to verify quote inputs")
    c.add_argument("--strict-rtmr", action="store_true",
                   help="fail when the peer event log does not replay to its RTMRs (AzCVMEmu tolerates it)")
    c.add_argument("--json", action="store_true", help="one JSON object on stdout")
    c.set_defaults(func=check)

    v = ps.add_parser("verify", help="verify a signed v2 policy against its issuer chain")
    v.add_argument("--policy", required=True, type=Path)
    v.add_argument("--issuer-chain", required=True, type=Path)
    v.set_defaults(func=verify)

    s = ps.add_parser("sign", help="sign canonical JSON into a {name, signature} container")
    s.add_argument("--key", required=True, type=Path, help="P-384 private key (PEM)")
    s.add_argument("--chain", required=True, type=Path, help="issuer chain whose leaf holds the key (PEM)")
    s.add_argument("--name", default="policyData", help="container member name (default policyData)")
    s.add_argument("input", type=Path)
    s.add_argument("output", type=Path)
    s.set_defaults(func=sign)

    g = ps.add_parser("generate", help="write a v1 policy from a verified report")
    g.add_argument("--from", dest="source", required=True, type=Path, help="822-byte verified report")
    g.add_argument("--template", type=Path, help="v1 policy whose literal references are filled in")
    g.add_argument("output", type=Path)
    g.set_defaults(func=generate)

    g2 = ps.add_parser("generate-v2", help="write a signed v2 policy and issuer chain for the mock report",
                       description="Verify a mock quote (or --quote) against the collateral, pin its facts and "
                                   "measurements in a v2 policy, and sign it with the mock policy chain (or a "
                                   "fresh chain with --new-chain).")
    g2.add_argument("--out", required=True, type=Path, help="signed policy file to write")
    g2.add_argument("--chain-out", required=True, type=Path, help="issuer chain (PEM) to write")
    g2.add_argument("--key-out", type=Path, help="with --new-chain: also write the signing key (PEM)")
    g2.add_argument("--new-chain", action="store_true", help="sign with a freshly generated P-384 chain")
    _facts_options(g2)
    g2.set_defaults(func=generate_v2)

    r = ps.add_parser("generate-rotation", help="write two v2 policies signed by rotated chains (a and b)",
                      description="Two signed v2 policies whose issuer chains share a fresh root and leaf "
                                  "subject; side b rotates the signers the variant names "
                                  "(none, policy, policy-mapping, all).")
    r.add_argument("--variant", required=True, help="none | policy | policy-mapping | all")
    r.add_argument("--out-dir", required=True, type=Path, help="folder for policy_v2_signed_{a,b}.json "
                                                               "and policy_issuer_chain_{a,b}.pem")
    _facts_options(r)
    r.set_defaults(func=generate_rotation)


def _anchors(files: Files, args: argparse.Namespace, verified: Any | None) -> tuple[bytes, Any]:
    """Root CA (DER) and collateral to verify quote inputs with.

    ``--collateral``/``--root-ca`` when given; with policy v2 and neither,
    the collaterals embedded in the local policy, which is what ``migtd``
    verifies peer quotes against. A malformed file is a usage error (exit 1),
    as ``quote verify`` and ``migtd`` (MIGTD_COLLATERAL_FILE) report it.
    """
    from migtd.attest.trust import der_certificate
    from migtd.policy.errors import PolicyError
    from migtd.result import MigrationResult

    if args.collateral is None and args.root_ca is None and verified is not None:
        try:
            return verified.collaterals.root_ca_der(), verified.collaterals.collateral
        except PolicyError as exc:  # our own policy's collaterals: a start-up failure (§1.3)
            raise PolicyError(exc.kind, f"the policy's embedded collaterals: {exc.detail}",
                              result=MigrationResult.InvalidPolicyError) from None
    if args.collateral is None or args.root_ca is None:
        raise ConfigError("to use a quote as --local or --peer, pass --collateral and --root-ca"
                          + (" (or neither, to use the policy's embedded collaterals)" if verified is not None
                             else ""))
    _, collateral = read_collateral(files, args.collateral)
    root = der_certificate(files.read(args.root_ca, "root CA", ROOT_CA_LIMIT), f"root CA {args.root_ca}")
    return root, collateral


def _verified_reports(files: Files, args: argparse.Namespace, verified: Any | None = None) -> tuple[bytes, bytes]:
    """``--local`` and ``--peer`` as 822-byte verified reports; a quote is verified first.

    ``verified`` is the local v2 policy (None for v1): it decides how a quote
    that does not verify is reported, the way the engine reports it (v1: 7,
    v2: PolicyError QuoteVerification, 8).
    """
    from migtd.attest.suppl import REPORT_SIZE

    data = {who: files.read(path, f"{who} report", REPORT_LIMIT) for who, path in (("local", args.local),
                                                                                     ("peer", args.peer))}
    quotes = [who for who in data if len(data[who]) != REPORT_SIZE]
    if not quotes:
        return data["local"], data["peer"]
    from migtd.attest.verify import QuoteVerificationError, verify_quote
    from migtd.errors import MigtdError
    from migtd.policy.errors import PolicyError, PolicyErrorKind
    from migtd.result import MigrationResult

    if args.collateral is None and args.root_ca is None and verified is None:
        who = quotes[0]
        raise ConfigError(f"{getattr(args, who)} is {len(data[who])} bytes, not an {REPORT_SIZE}-byte verified "
                          "report; to use a quote, pass --collateral and --root-ca")
    root, collateral = _anchors(files, args, verified)
    for who in quotes:
        try:
            data[who] = verify_quote(data[who], collateral, root).report
        except QuoteVerificationError as exc:
            if verified is not None:
                raise PolicyError(PolicyErrorKind.QuoteVerification, f"{who} {exc.message}") from None
            raise MigtdError(f"{who} {exc.message}", MigrationResult.MutualAttestationError) from None
    return data["local"], data["peer"]


def _short(value: str, width: int = 24) -> str:
    return value if len(value) <= width else value[:width - 3] + "..."


def _print_decision(decision: Any, as_json: bool) -> None:
    if as_json:
        print(json.dumps({
            "ok": decision.ok, "result": decision.result.name, "code": int(decision.result),
            "kind": decision.kind, "error": decision.error.message if decision.error else "",
            "policy_version": decision.policy_version, "failed_rules": decision.failed_rules(),
            "notes": decision.notes,
            "rules": [dict(r.as_event(), path=r.path) for r in decision.rules],
        }, indent=2))
        return
    for r in decision.rules:
        mark = "pass" if r.ok else "FAIL"
        line = (f"{mark}  {r.name:<44} {r.operation:<22} ref={_short(r.reference)}  "
                f"local={_short(r.local)}  peer={_short(r.actual)}")
        print(line + (f"\n      {r.reason}" if not r.ok else ""))
    for note in decision.notes:
        print(f"note: {note}")
    if decision.ok:
        print(f"policy v{decision.policy_version}: satisfied ({len(decision.rules)} rules checked)")
    else:
        err = decision.error
        print(f"policy v{decision.policy_version}: NOT satisfied: {err.variant if err else ''}: "
              f"{err.message if err else ''} -> exit {int(decision.result)} ({decision.result.name})")


def _is_v2(policy: bytes, args: argparse.Namespace) -> bool:
    """A v2 policy: ``--issuer-chain`` given, or a signed container (v1 then reports what is wrong)."""
    from migtd.policy import jsontext

    if args.issuer_chain is not None:
        return True
    try:
        doc = jsontext.loads(policy.decode("utf-8").strip("\0"))
    except ValueError:  # not UTF-8, not JSON, nested too deep: the v1 parser says so in one line
        return False
    return isinstance(doc, dict) and "policyData" in doc


def check(args: argparse.Namespace) -> int:
    """``policy check``: print the rule table; exit 0, or the decision's MigrationResult."""
    from migtd.policy import authenticate_v1, evaluate_v1

    files = Files(inputs=[("policy", args.policy), ("issuer chain", args.issuer_chain), ("local report", args.local),
                          ("peer report", args.peer), ("local event log", args.local_events),
                          ("peer event log", args.peer_events), ("peer policy", args.peer_policy),
                          ("peer issuer chain", args.peer_issuer_chain), ("collateral file", args.collateral),
                          ("root CA", args.root_ca)])
    policy = files.read(args.policy, "policy", POLICY_LIMIT)
    if _is_v2(policy, args):
        decision = _check_v2(files, args, policy)
        _print_decision(decision, args.json)
        return int(decision.result)
    local, peer = _verified_reports(files, args)
    local_log = files.read(args.local_events, "local event log", EVENT_LOG_LIMIT) if args.local_events else None
    peer_log = files.read(args.peer_events, "peer event log", EVENT_LOG_LIMIT) if args.peer_events else None
    is_source = args.role == "source"
    if local_log is not None or peer_log is not None:
        if local_log is None or peer_log is None:
            raise ConfigError("pass both --local-events and --peer-events, or neither")
        decision = authenticate_v1(policy, is_source=is_source, local_report=local, local_event_log=local_log,
                                   peer_report=peer, peer_event_log=peer_log,
                                   tolerate_rtmr_mismatch=not args.strict_rtmr)
    else:
        decision = evaluate_v1(policy, is_source=is_source, local_report=local, peer_report=peer)
        decision.notes.append("no event logs given: EventLog rules see no events")
    _print_decision(decision, args.json)
    return int(decision.result)


def _check_v2(files: Files, args: argparse.Namespace, policy: bytes) -> Any:
    """The v2 flow for our role, over the same functions ``migtd``'s verifier runs.

    Our own policy is verified first and, like at ``migtd`` start-up, any
    failure is InvalidPolicyError (9); the peer's policy goes through the
    flow, whose errors map as on the RA-TLS path (InvalidPolicy 9, others 8).
    """
    from migtd.eventlog import v2_event_log
    from migtd.policy import PolicyDecision
    from migtd.policy.errors import PolicyError
    from migtd.policy.v2 import authenticate_migration_dest, authenticate_migration_source
    from migtd.policy.v2.verify import verify_own_policy

    if args.issuer_chain is None:
        raise ConfigError("a v2 policy needs --issuer-chain")
    chain = files.read(args.issuer_chain, "issuer chain", ISSUER_CHAIN_LIMIT)
    peer_policy = files.read(args.peer_policy, "peer policy", POLICY_LIMIT) if args.peer_policy else policy
    peer_chain = (files.read(args.peer_issuer_chain, "peer issuer chain", ISSUER_CHAIN_LIMIT)
                  if args.peer_issuer_chain else chain)
    peer_log = files.read(args.peer_events, "peer event log", EVENT_LOG_LIMIT) if args.peer_events else None
    if args.local_events:
        files.read(args.local_events, "local event log", EVENT_LOG_LIMIT)  # checked, as v1 does; v2 reads only the peer's
    try:
        verified = verify_own_policy(policy, chain)
    except PolicyError as exc:
        return PolicyDecision.failed(exc, version="2.0")
    try:
        local, peer = _verified_reports(files, args, verified)
    except PolicyError as exc:
        return PolicyDecision.failed(exc, version="2.0")
    notes = []
    if peer_log is None:
        peer_log = v2_event_log(peer_chain, peer_policy)
        notes.append("no --peer-events: assumed the peer measured exactly its policy and chain")
    flow = authenticate_migration_dest if args.role == "source" else authenticate_migration_source
    decision = flow(verified, local_report=local, peer_report=peer, peer_event_log=peer_log,
                    peer_policy=peer_policy, peer_chain=peer_chain, tolerate_rtmr_mismatch=not args.strict_rtmr)
    decision.notes[:0] = notes
    return decision


def verify(args: argparse.Namespace) -> int:
    """``policy verify``: verify a signed v2 policy as ``migtd`` verifies its own at start-up.

    Any failure exits InvalidPolicyError (9), the status ``migtd
    --policy-version 2`` exits with for the same policy and chain.
    """
    from migtd.policy.v2.verify import verify_own_policy

    files = Files(inputs=[("policy", args.policy), ("issuer chain", args.issuer_chain)])
    v = verify_own_policy(files.read(args.policy, "policy", POLICY_LIMIT),
                          files.read(args.issuer_chain, "issuer chain", ISSUER_CHAIN_LIMIT))
    d = v.data
    print(f"verified: id {d.id}, version {d.version}, policySvn {d.policy_svn}, "
          f"{len(v.collaterals.platforms)} collateral platforms, "
          f"{len(v.tcb_mapping.svn_mappings)} engine mappings, {len(v.td_identity.tcb_levels)} identity levels")
    print(f"policy sha384: {v.file_sha384.hex().upper()}")
    return 0


def sign(args: argparse.Namespace) -> int:
    """``policy sign``: json-signer; the key must be the chain's leaf, and the output is re-verified."""
    from cryptography.exceptions import UnsupportedAlgorithm
    from cryptography.hazmat.primitives import serialization

    from migtd.policy.errors import PolicyError, PolicyErrorKind
    from migtd.policy.sign import load_private_key, sign_document
    from migtd.policy.v2.chain import ChainError, load_chain, verify_chain_and_signature, verify_chain_links
    from migtd.policy.v2.container import decode_signature, parse_container

    files = Files(inputs=[("input", args.input), ("key", args.key), ("chain", args.chain)],
                  outputs=[("output", args.output)])
    data = files.read(args.input, "input", POLICY_LIMIT)
    key_pem = files.read(args.key, "key", PEM_LIMIT)
    chain = files.read(args.chain, "chain", PEM_LIMIT)
    try:
        certs = load_chain(chain)
        verify_chain_links(certs)
    except ChainError as exc:
        raise ConfigError(f"{args.chain}: {exc}") from None
    fmt = serialization.PublicFormat.SubjectPublicKeyInfo
    try:
        leaf_pub = certs[0].public_key().public_bytes(serialization.Encoding.DER, fmt)
    except (ValueError, UnsupportedAlgorithm) as exc:
        raise ConfigError(f"{args.chain}: unreadable leaf public key ({exc})") from None
    key_pub = load_private_key(key_pem).public_key().public_bytes(serialization.Encoding.DER, fmt)
    if leaf_pub != key_pub:
        raise ConfigError(f"{args.key} is not the key of the leaf certificate in {args.chain}")
    signed = sign_document(data, key_pem, args.name)
    container = parse_container(signed, args.name)
    try:
        verify_chain_and_signature(chain, container.raw, decode_signature(container.signature_hex))
    except ChainError as exc:
        raise PolicyError(PolicyErrorKind.SignatureVerificationFailed, f"the signed output does not verify: {exc}"
                          ) from None
    files.write(args.output, signed, "output")
    print(f"signed {args.input} -> {args.output} ({len(signed)} bytes)")
    return 0


def generate(args: argparse.Namespace) -> int:
    """``policy generate``: a v1 policy pinning a verified report (optionally into a template)."""
    from migtd.policy.generate import dump, policy_from_report, policy_from_template

    files = Files(inputs=[("report", args.source), ("template", args.template)], outputs=[("output", args.output)])
    rep = files.read(args.source, "report", REPORT_LIMIT)
    if args.template is not None:
        doc = policy_from_template(files.read(args.template, "template", POLICY_LIMIT), rep)
    else:
        doc = policy_from_report(rep)
    files.write(args.output, dump(doc), "output")
    print(f"wrote {args.output} (policy id {doc['id']})")
    return 0


def _facts_options(p: argparse.ArgumentParser) -> None:
    p.add_argument("--quote", type=Path, help="take the TD's facts from this quote (e.g. MOCK_QUOTE_FILE) "
                                              "instead of the mock QE; it must verify against --collateral")
    p.add_argument("--collateral", type=Path, help="collateral JSON to verify with and embed "
                                                   "(default: the mock PKI's)")
    p.add_argument("--root-ca", type=Path, help="root CA, DER or PEM (default: the mock root CA)")
    p.add_argument("--policy-svn", type=uint_arg(32), default=1, help="policySvn, a u32 (default 1)")
    p.add_argument("--forward-min-isvsvn", type=uint_arg(16),
                   help="add a forwardPolicy requiring this peer engine SVN (for negative tests)")


def _fact_inputs(args: argparse.Namespace) -> list[tuple[str, Any]]:
    """Every file ``generate-v2``/``generate-rotation`` read (defaults included): none may be an output."""
    from migtd import paths

    inputs: list[tuple[str, Any]] = [("quote", args.quote), ("collateral", args.collateral or paths.mock_collateral()),
                                     ("root CA", args.root_ca or paths.mock_root_ca())]
    if not getattr(args, "new_chain", True):
        inputs += [("mock policy signing key", paths.mock_dir() / "policy_signing_key.pem"),
                   ("mock policy issuer chain", paths.mock_dir() / "policy_issuer_chain.pem")]
    return inputs


def _facts(files: Files, args: argparse.Namespace) -> tuple[Any, bytes]:
    from migtd import paths
    from migtd.policy.generate_v2 import mock_facts

    collateral, _ = read_collateral(files, args.collateral or paths.mock_collateral(), "collateral")
    root = files.read(args.root_ca or paths.mock_root_ca(), "root CA", ROOT_CA_LIMIT)  # DER or PEM
    quote = files.read(args.quote, "quote", QUOTE_LIMIT) if args.quote else None
    return mock_facts(collateral, root, quote), collateral


def generate_v2(args: argparse.Namespace) -> int:
    """``policy generate-v2``: a signed v2 policy and issuer chain for the mock TD."""
    from migtd import paths
    from migtd.policy.generate_v2 import IssuerCa, Signer, Signers, build_signed_policy, signer_fingerprint

    if args.key_out is not None and not args.new_chain:
        raise ConfigError("--key-out needs --new-chain (the mock signing key is already in config/mock)")
    files = Files(inputs=_fact_inputs(args), outputs=[("--out", args.out), ("--chain-out", args.chain_out),
                                                      ("--key-out", args.key_out)])
    facts, collateral = _facts(files, args)
    if args.new_chain:
        signer = IssuerCa.generate().issue()
    else:
        signer = Signer.load(paths.mock_dir() / "policy_signing_key.pem",
                             paths.mock_dir() / "policy_issuer_chain.pem")
    gen = build_signed_policy(facts, collateral, Signers.single(signer), policy_svn=args.policy_svn,
                              forward_min_isvsvn=args.forward_min_isvsvn)
    if args.key_out is not None:  # the key first: a chain on disk without its key is of no use
        files.write(args.key_out, signer.key_pem, "--key-out", mode=0o600, parents=True)
    files.write(args.chain_out, gen.chain, "--chain-out", parents=True)
    files.write(args.out, gen.policy, "--out", parents=True)
    source = f"quote {args.quote}" if args.quote else "the mock QE report"
    print(f"wrote {args.out} ({len(gen.policy)} bytes, policySvn {gen.verified.policy_svn}, "
          f"{len(gen.verified.tcb_mapping.svn_mappings)} engine mapping(s), facts from {source})")
    print(f"wrote {args.chain_out} (signer key {signer_fingerprint(gen.chain)}..., "
          f"{'new chain' if args.new_chain else 'mock policy chain'})")
    return 0


def generate_rotation(args: argparse.Namespace) -> int:
    """``policy generate-rotation``: policies a and b whose signers differ as the variant says."""
    from migtd.policy.generate_v2 import ROTATION_VARIANTS, build_signed_policy, rotation_pair, signer_fingerprint

    if args.variant not in ROTATION_VARIANTS:
        raise ConfigError(f"unknown --variant {args.variant!r}; use one of {', '.join(ROTATION_VARIANTS)}")
    names = [(f"policy_v2_signed_{n}.json", f"policy_issuer_chain_{n}.pem") for n in ("a", "b")]
    files = Files(inputs=_fact_inputs(args),
                  outputs=[(f"--out-dir file {f}", args.out_dir / f) for pair in names for f in pair])
    facts, collateral = _facts(files, args)
    a, b = rotation_pair(args.variant)
    for (policy_name, chain_name), (name, own, other) in zip(names, (("a", a, b), ("b", b, a))):
        gen = build_signed_policy(facts, collateral, own, peer_chains=[other.policy.chain_pem],
                                  policy_svn=args.policy_svn, forward_min_isvsvn=args.forward_min_isvsvn)
        files.write(args.out_dir / chain_name, gen.chain, "issuer chain", parents=True)
        files.write(args.out_dir / policy_name, gen.policy, "policy", parents=True)
        print(f"{name}: policy signer {signer_fingerprint(own.policy.chain_pem)}, identity signer "
              f"{signer_fingerprint(own.identity.chain_pem)}, mapping signer "
              f"{signer_fingerprint(own.mapping.chain_pem)}")
    print(f"wrote {args.out_dir}/policy_v2_signed_{{a,b}}.json and policy_issuer_chain_{{a,b}}.pem "
          f"(variant {args.variant})")
    return 0
