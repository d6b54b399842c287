"""Kind 8 of issue #11: the same file gets the same verdict from ``migtd-tool`` and from ``migtd``.

Three tables, each run through the tool (``policy verify`` / ``policy check``,
in process) and through the engine's own code path for the same bytes:

* **own v2 policy** — upstream's signed-policy vectors, the derived tampered
  ones and a few more: the engine builds its peer verifier at start-up
  (the ``mock-report`` mode of :mod:`migtd.modes`, whose verifier verifies the
  local policy with :func:`migtd.verifiers.dcap.verify_local_policy`), and the
  issue's examples run the real ``migtd`` process too.
  Any failure is InvalidPolicyError (9): spec/policy.md §1.3, start-up.
* **v1 policy against a peer** — every upstream and derived v1 policy, the
  engine's :class:`~migtd.verifiers.dcap.DcapPeerVerifier` judging the
  evidence of a real RA-TLS certificate of the mock QE
  (:func:`migtd.ratls.evidence.evidence_from_certificate`, as the session hands
  it over), the tool judging the same quotes and event logs.
* **v2 peer policy** — our mock v2 policy judging peers whose policy is good,
  tampered, unsigned, malformed or nested 100 000 levels deep.

The expected column pins the code as well, so a change of mapping on either
side fails here.
"""

from __future__ import annotations

import hashlib
import json
import subprocess
import sys
from pathlib import Path

import pytest
from cryptography.hazmat.primitives.asymmetric import ec

from migtd import eventlog, modes, paths
from migtd.attest.binding import report_data_for_key
from migtd.errors import MigtdError
from migtd.mock.providers import MockQeProvider
from migtd.ratls.certificate import ParsedCertificate, build_certificate, parse_certificate, public_point
from migtd.ratls.evidence import evidence_from_certificate
from migtd.verdict import PeerVerifier, SessionFacts, Verdict

from .registry import ENTRY_POINTS

PV2 = "src/policy/test/policy_v2"
TC = f"{PV2}/cert_chain/policy_issuer_chain.pem"
TT = "config/templates/policy_issuer_chain.pem"
MOCK_CHAIN = "@mock_chain"
ROOT = paths.mock_root_ca()


def tool(*argv: object) -> int:
    outcome = ENTRY_POINTS["migtd-tool"].run([str(a) for a in argv], {})
    assert "Traceback" not in outcome.stderr
    return outcome.code


@pytest.fixture(scope="module")
def qe() -> MockQeProvider:
    return MockQeProvider()


@pytest.fixture(scope="module")
def mock_v2(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """A v2 policy over the mock PKI signed by the committed mock policy chain, and variants of it."""
    d = tmp_path_factory.mktemp("kind8")
    policy, chain = d / "policy.json", d / "chain.pem"
    assert tool("policy", "generate-v2", "--out", policy, "--chain-out", chain) == 0
    raw = policy.read_bytes()
    doc = json.loads(raw)
    sig = doc["signature"]
    files = {"good": policy, "chain": chain}

    def variant(name: str, data: bytes) -> None:
        files[name] = d / f"{name}.json"
        files[name].write_bytes(data)

    variant("sig_flipped", raw.replace(sig.encode(), (sig[:-2] + ("00" if sig[-2:] != "00" else "01")).encode()))
    variant("svn_tampered", raw.replace(b'"policySvn":1', b'"policySvn":2', 1))
    variant("unsigned", json.dumps({"policyData": doc["policyData"]}).encode())
    variant("sig_odd", raw.replace(sig.encode(), sig[:-1].encode()))
    variant("not_json", raw[: len(raw) // 2])
    variant("nested", b'{"policyData":' + b"[" * 100_000 + b"]" * 100_000 + b',"signature":"00"}')
    # correctly signed, but the attestation root it embeds (installed at start-up) is not a certificate
    from migtd.policy import jsontext
    from migtd.policy.generate_v2 import Signer
    from migtd.policy.sign import sign_document

    signer = Signer.load(paths.mock_dir() / "policy_signing_key.pem", paths.mock_dir() / "policy_issuer_chain.pem")
    data = jsontext.loads(raw.decode())["policyData"]
    data["collaterals"]["rootCa"] = "not a certificate"
    variant("bad_root_ca", sign_document(jsontext.compact(data).encode(), signer.key_pem, "policyData"))
    return files


# --------------------------------------------------------------------------- own v2 policy

OWN_V2 = [  # (case, policy, chain, expected exit status)
    ("V2-01 upstream policy_v2.json", f"{PV2}/policy_v2.json", TC, 0),
    ("V2-02 template policy", "config/templates/policy_v2_signed.json", TT, 0),
    ("V2-03 wrong chain", f"{PV2}/policy_v2.json", TT, 9),
    ("V2-05 re-indented policyData", "derived/v2/policy_v2_pretty_policydata.json", TC, 9),
    ("V2-06 policySvn tampered", "derived/v2/policy_v2_svn_tampered.json", TC, 9),
    ("V2-07 odd-length signature", "derived/v2/policy_v2_sig_odd_length.json", TC, 9),
    ("V2-07 non-hex signature", "derived/v2/policy_v2_sig_nonhex.json", TC, 9),
    ("V2-09 no signature", "derived/v2/policy_v2_no_signature.json", TC, 9),
    ("V2-10 whitespace outside", "derived/v2/policy_v2_whitespace_outside.json", TC, 0),
    ("mock policy", "@good", MOCK_CHAIN, 0),
    ("mock policy, signature flipped", "@sig_flipped", MOCK_CHAIN, 9),
    ("mock policy, policySvn tampered", "@svn_tampered", MOCK_CHAIN, 9),
    ("mock policy, unsigned", "@unsigned", MOCK_CHAIN, 9),
    ("mock policy, odd signature", "@sig_odd", MOCK_CHAIN, 9),
    ("mock policy, truncated JSON", "@not_json", MOCK_CHAIN, 9),
    ("100 000-level nesting", "@nested", MOCK_CHAIN, 9),
    ("mock policy, embedded rootCa not a certificate", "@bad_root_ca", MOCK_CHAIN, 9),
    ("mock policy, upstream chain", "@good", TC, 9),
    ("v1 policy as v2", "config/policy.json", MOCK_CHAIN, 9),
]


def _resolve(pvec: Path, mock: dict[str, Path], name: str) -> Path:
    if name == MOCK_CHAIN:
        return mock["chain"]
    if name.startswith("@"):
        return mock[name[1:]]
    return pvec / name


def _engine_verifier(policy_version: int, policy: bytes, chain: bytes = b"") -> PeerVerifier:
    """The migration verifier ``migtd --attestation mock-report`` builds at start-up from these files."""
    env = {"MIGTD_ROOT_CA_FILE": str(ROOT), "MIGTD_COLLATERAL_FILE": str(paths.mock_collateral())}
    setup = modes.Setup("migration", policy_version, policy, chain, env, 60.0)
    return modes.by_key("mock-report").verifier(setup)


def _engine_startup(policy: bytes, chain: bytes) -> int:
    """What ``migtd --policy-version 2 --attestation mock-report`` does with the files before the network."""
    try:
        _engine_verifier(2, policy, chain)
    except MigtdError as exc:
        return int(exc.result)
    return 0


def _engine_verdict(verifier: PeerVerifier, cert: ParsedCertificate, facts: SessionFacts) -> int:
    """The exit status the engine's session gives a peer presenting ``cert`` (as the source, TLS client)."""
    try:
        evidence = evidence_from_certificate(cert, verifier.needs(True))
    except MigtdError as exc:
        return int(exc.result)
    verdict: Verdict = verifier.verify(evidence, facts, True)
    return 0 if verdict.failure is None else int(verdict.failure.result)


@pytest.mark.parametrize("case,policy,chain,expected", OWN_V2, ids=[c[0] for c in OWN_V2])
def test_own_v2_policy_same_code_from_tool_and_engine(case: str, policy: str, chain: str, expected: int,
                                                      vectors: Path, mock_v2: dict[str, Path]) -> None:
    pvec = vectors / "policy"
    p, c = _resolve(pvec, mock_v2, policy), _resolve(pvec, mock_v2, chain)
    engine = _engine_startup(p.read_bytes(), c.read_bytes())
    verify = tool("policy", "verify", "--policy", p, "--issuer-chain", c)
    assert (engine, verify) == (expected, expected), case
    if expected:
        # policy check judges the same local policy first: the same code, whatever the reports
        rep = pvec / "src/policy/test/report.dat"
        assert tool("policy", "check", "--policy", p, "--issuer-chain", c, "--local", rep, "--peer", rep,
                    "--role", "source") == expected


@pytest.mark.timeout(120)
def test_the_issue_example_real_processes(mock_v2: dict[str, Path], tmp_path: Path) -> None:
    """``migtd-tool policy verify`` of a tampered v2 policy and ``migtd`` with it: both exit 9."""
    from tests.loopback import free_port

    bindir = Path(sys.executable).parent
    for name in ("sig_flipped", "svn_tampered", "unsigned", "nested"):
        policy = mock_v2[name]
        proc = subprocess.run([str(bindir / "migtd-tool"), "policy", "verify", "--policy", str(policy),
                               "--issuer-chain", str(mock_v2["chain"])], capture_output=True, text=True,
                              timeout=60, check=False)
        env = {"PATH": "/usr/bin:/bin", "MIGTD_POLICY_FILE": str(policy),
               "MIGTD_POLICY_ISSUER_CHAIN_FILE": str(mock_v2["chain"])}
        engine = subprocess.run([str(bindir / "migtd"), "-m", "dst", "--attestation", "mock-report",
                                 "--policy-version", "2", "--dest-port", str(free_port()), "--timeout", "5"],
                                capture_output=True, text=True, timeout=60, env=env, check=False)
        assert (proc.returncode, engine.returncode) == (9, 9), (name, proc.stderr, engine.stdout, engine.stderr)
        assert len(proc.stderr.splitlines()) == 1 and "Traceback" not in engine.stderr + engine.stdout


# --------------------------------------------------------------------------- v1 against a peer

def _v1_policies(vectors: Path) -> list[Path]:
    pvec = vectors / "policy"
    found = sorted((pvec / "src/policy/test").glob("policy*.json")) + sorted((pvec / "derived/v1_policies").glob("*.json"))
    return [paths.default_policy(), *found, pvec / "config/policy_production_fmspc.json"]


def _quote_for(qe: MockQeProvider, key: ec.EllipticCurvePrivateKey, log: bytes) -> bytes:
    return qe.quote(qe.td_report(report_data_for_key(public_point(key)), log))


V1_NAMES = [p.name if p.parent.name != "v1_policies" else f"derived/{p.name}"
            for p in _v1_policies(Path(__file__).resolve().parent.parent / "vectors")]


@pytest.mark.parametrize("index", range(len(V1_NAMES)), ids=V1_NAMES)
def test_v1_policy_same_code_from_tool_and_engine(index: int, vectors: Path, qe: MockQeProvider,
                                                  tmp_path: Path) -> None:
    _v1_parity(_v1_policies(vectors)[index], index == 0, qe, tmp_path)


def test_v1_policy_nested_100_000_levels(qe: MockQeProvider, tmp_path: Path) -> None:
    """A v1 policy that is one deep array: InvalidPolicyError (9) from both, no RecursionError."""
    nested = tmp_path / "nested_policy.json"
    nested.write_bytes(b"[" * 100_000 + b"]" * 100_000)
    (tmp_path / "run").mkdir()
    # genuine peer 9, tampered quote 7 (verified first), broken event log 8 (replayed before the policy is read)
    assert _v1_parity(nested, False, qe, tmp_path / "run") == {9, 7, 8}


def _v1_parity(policy_path: Path, check_quote_verify: bool, qe: MockQeProvider, tmp_path: Path) -> set[int]:
    """Run the three peers of the v1 table through the engine and the tool; return the codes seen."""
    seen: set[int] = set()
    policy = policy_path.read_bytes()
    log = eventlog.v1_event_log(policy, ROOT.read_bytes())
    local_key, peer_key = ec.generate_private_key(ec.SECP384R1()), ec.generate_private_key(ec.SECP384R1())
    local_quote, peer_quote = _quote_for(qe, local_key, log), _quote_for(qe, peer_key, log)
    tampered = bytearray(peer_quote)
    tampered[48 + 200] ^= 1
    bad_log = bytearray(log)
    bad_log[eventlog.SPEC_ID_HEADER_SIZE + 14] ^= 1   # a byte of the first event's digest: no longer replays
    rows = [("genuine peer", peer_quote, log), ("tampered peer quote", bytes(tampered), log),
            ("broken peer event log", peer_quote, bytes(bad_log))]
    for label, quote, peer_log in rows:
        cert = parse_certificate(build_certificate(peer_key, quote, peer_log))
        engine = _engine_verdict(_engine_verifier(1, policy), cert, SessionFacts(local_quote, log))
        for name, data in (("local.bin", local_quote), ("peer.bin", quote), ("local.log", log), ("peer.log", peer_log)):
            (tmp_path / name).write_bytes(data)
        code = tool("policy", "check", "--policy", policy_path, "--local", tmp_path / "local.bin",
                    "--peer", tmp_path / "peer.bin", "--collateral", paths.mock_collateral(), "--root-ca", ROOT,
                    "--local-events", tmp_path / "local.log", "--peer-events", tmp_path / "peer.log",
                    "--role", "source", "--strict-rtmr")
        assert code == engine, (policy_path.name, label)
        seen.add(code)
        if check_quote_verify and label != "broken peer event log":
            # quote verify judges a quote as the v1 engine judges a peer's: 0, or MutualAttestationError (7)
            assert tool("quote", "verify", tmp_path / "peer.bin", "--collateral", paths.mock_collateral(),
                        "--root-ca", ROOT) == (0 if label == "genuine peer" else 7)
        if label == "tampered peer quote":
            assert code == 7
        elif code == 0:
            assert label == "genuine peer"
    return seen


# --------------------------------------------------------------------------- v2 peer policy

V2_PEERS = [("good", 0), ("sig_flipped", 8), ("svn_tampered", 8), ("sig_odd", 8), ("unsigned", 9),
            ("not_json", 9), ("nested", 9)]


@pytest.mark.parametrize("peer,expected", V2_PEERS, ids=[p for p, _ in V2_PEERS])
def test_v2_peer_policy_same_code_from_tool_and_engine(peer: str, expected: int, mock_v2: dict[str, Path],
                                                       qe: MockQeProvider, tmp_path: Path) -> None:
    from migtd.policy.v2 import build_peer_data

    local_policy, chain = mock_v2["good"].read_bytes(), mock_v2["chain"].read_bytes()
    peer_policy = mock_v2[peer].read_bytes()
    local_log, peer_log = eventlog.v2_event_log(chain, local_policy), eventlog.v2_event_log(chain, peer_policy)
    local_key, peer_key = ec.generate_private_key(ec.SECP384R1()), ec.generate_private_key(ec.SECP384R1())
    local_quote, peer_quote = _quote_for(qe, local_key, local_log), _quote_for(qe, peer_key, peer_log)
    blob = build_peer_data(peer_policy, chain)
    cert = parse_certificate(build_certificate(peer_key, peer_quote, peer_log,
                                               policy_hash=hashlib.sha384(blob).digest()))
    engine = _engine_verdict(_engine_verifier(2, local_policy, chain), cert,
                             SessionFacts(local_quote, local_log, peer_blob=blob))
    for name, data in (("local.bin", local_quote), ("peer.bin", peer_quote), ("peer.log", peer_log)):
        (tmp_path / name).write_bytes(data)
    code = tool("policy", "check", "--policy", mock_v2["good"], "--issuer-chain", mock_v2["chain"],
                "--peer-policy", mock_v2[peer], "--peer-issuer-chain", mock_v2["chain"],
                "--local", tmp_path / "local.bin", "--peer", tmp_path / "peer.bin",
                "--peer-events", tmp_path / "peer.log", "--role", "source", "--strict-rtmr")
    assert (code, engine) == (expected, expected), peer


# --------------------------------------------------------------------------- size limits

@pytest.mark.timeout(120)
def test_files_too_large_for_migtd_are_too_large_for_the_tool(mock_v2: dict[str, Path], tmp_path: Path) -> None:
    """A policy, issuer chain or root CA just past ``migtd``'s limit: exit 1 from both programs."""
    from migtd.tool.files import ISSUER_CHAIN_LIMIT, POLICY_LIMIT, ROOT_CA_LIMIT
    from tests.loopback import free_port

    big_policy, big_chain, big_root = tmp_path / "policy.json", tmp_path / "chain.pem", tmp_path / "root.der"
    big_policy.write_bytes(mock_v2["good"].read_bytes().ljust(POLICY_LIMIT + 1, b" "))
    big_chain.write_bytes(mock_v2["chain"].read_bytes().ljust(ISSUER_CHAIN_LIMIT + 1, b"\n"))
    big_root.write_bytes(ROOT.read_bytes().ljust(ROOT_CA_LIMIT + 1, b"\0"))
    bindir = Path(sys.executable).parent
    runs = [  # (engine environment and flags, the tool's arguments)
        ({"MIGTD_POLICY_FILE": str(big_policy), "MIGTD_POLICY_ISSUER_CHAIN_FILE": str(mock_v2["chain"])},
         ["--policy-version", "2"], ["policy", "verify", "--policy", big_policy, "--issuer-chain", mock_v2["chain"]]),
        ({"MIGTD_POLICY_FILE": str(mock_v2["good"]), "MIGTD_POLICY_ISSUER_CHAIN_FILE": str(big_chain)},
         ["--policy-version", "2"], ["policy", "verify", "--policy", mock_v2["good"], "--issuer-chain", big_chain]),
        ({"MIGTD_POLICY_FILE": str(paths.default_policy()), "MIGTD_ROOT_CA_FILE": str(big_root)}, [],
         ["quote", "verify", paths.sample_quote(), "--collateral", paths.mock_collateral(), "--root-ca", big_root]),
    ]
    for env, flags, tool_args in runs:
        engine = subprocess.run([str(bindir / "migtd"), "-m", "dst", "--attestation", "mock-report", *flags,
                                 "--dest-port", str(free_port()), "--timeout", "5"],
                                capture_output=True, text=True, timeout=60, env={"PATH": "/usr/bin:/bin", **env},
                                check=False)
        assert (engine.returncode, tool(*tool_args)) == (1, 1), (env, engine.stdout[-300:], engine.stderr[-300:])


def test_every_reader_of_a_kind_of_file_has_the_engines_limit() -> None:
    """migtd-tool (every command) and the fleet's evidence and matrix read the engine's files with its limits."""
    from migtd.attest import trust
    from migtd.cli import config
    from migtd.fleet import config_files as fleet
    from migtd.tool import files as tool

    engine = (config.POLICY_MAX, config.ISSUER_CHAIN_MAX, config.ROOT_CA_MAX, trust.COLLATERAL_MAX)
    assert trust.ROOT_CA_MAX == config.ROOT_CA_MAX and tool.QUOTE_LIMIT == config.MOCK_QUOTE_MAX
    assert (tool.POLICY_LIMIT, tool.ISSUER_CHAIN_LIMIT, tool.ROOT_CA_LIMIT, tool.COLLATERAL_LIMIT) == engine
    assert (fleet.POLICY_MAX, fleet.ISSUER_CHAIN_MAX, fleet.ROOT_CA_MAX, fleet.COLLATERAL_MAX) == engine
