"""``migtd-tool policy generate-v2`` / ``generate-rotation`` and the module behind them.

Pins: the generated policy verifies with the engine's own verifier and is the
compact form json-signer signs; its TCB mapping gives the mock TD (as the mock
QE reports it with that chain measured in RTMR1) engine SVN 1; rotation
variants change exactly the signers they name while keeping root and leaf
subject, so every pair passes peer-chain validation and a fresh root does not;
bad inputs are one line and exit 1.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from migtd import eventlog, paths
from migtd.mock.providers import MockQeProvider
from migtd.policy import generate_v2 as g
from migtd.policy import jsontext
from migtd.policy.errors import PolicyError
from migtd.policy.v2 import ChainError, validate_peer_chain, verify_signed_policy
from migtd.policy.v2.flows import tdinfo_measurements

ROOT = Path(__file__).resolve().parents[2]
#: The tool installed next to the interpreter running the tests (the project venv in CI).
TOOL = Path(sys.executable).with_name("migtd-tool")


@pytest.fixture(scope="module")
def facts() -> g.TdFacts:
    return g.mock_facts(paths.mock_collateral().read_bytes(), paths.mock_root_ca().read_bytes())


def _mock_signer() -> g.Signer:
    return g.Signer.load(paths.mock_dir() / "policy_signing_key.pem", paths.mock_dir() / "policy_issuer_chain.pem")


def test_generated_policy_verifies_and_is_canonical(facts: g.TdFacts) -> None:
    gen = g.build_signed_policy(facts, paths.mock_collateral().read_bytes(), g.Signers.single(_mock_signer()),
                                policy_svn=7)
    v = verify_signed_policy(gen.policy, gen.chain)
    assert v.policy_svn == 7 and v.data.version == "2.0"
    text = gen.policy.decode()
    assert text == jsontext.compact(jsontext.loads(text)) and not text.endswith("\n")
    doc = json.loads(text)["policyData"]
    assert list(doc) == ["id", "version", "policySvn", "policy", "collaterals", "servtdCollateral"]
    assert doc["collaterals"] == json.loads(paths.mock_collateral().read_bytes())
    tcb = doc["policy"][0]["global"]["tcb"]
    assert tcb["tcbDate"] == {"operation": "greater-or-equal", "reference": "2024-11-13T00:00:00Z"}
    assert doc["policy"][0]["global"]["platform"]["fmspc"]["reference"] == ["90C06F000000"]


def test_mapping_matches_what_the_mock_qe_reports(facts: g.TdFacts) -> None:
    signer = _mock_signer()
    gen = g.build_signed_policy(facts, paths.mock_collateral().read_bytes(), g.Signers.single(signer))
    report = MockQeProvider().td_report(bytes(64), eventlog.v2_event_log(signer.chain_pem, gen.policy))
    assert gen.verified.tcb_mapping.engine_svn(tdinfo_measurements(report[512:1024])) == g.ENGINE_SVN
    other = g.IssuerCa.generate().issue()
    report = MockQeProvider().td_report(bytes(64), eventlog.v2_event_log(other.chain_pem, gen.policy))
    assert gen.verified.tcb_mapping.engine_svn(tdinfo_measurements(report[512:1024])) is None


@pytest.mark.parametrize("variant", list(g.ROTATION_VARIANTS))
def test_rotation_variants(variant: str) -> None:
    a, b = g.rotation_pair(variant)
    rotated = dict(zip(("policy", "mapping", "identity"), g.ROTATION_VARIANTS[variant]))
    for role in ("policy", "mapping", "identity"):
        mine, theirs = getattr(a, role), getattr(b, role)
        assert (mine.key_pem != theirs.key_pem) == rotated[role]
        validate_peer_chain(mine.chain_pem, theirs.chain_pem)  # same root, same leaf subject
    stranger = g.IssuerCa.generate().issue()
    with pytest.raises(ChainError):
        validate_peer_chain(a.policy.chain_pem, stranger.chain_pem)
    with pytest.raises(PolicyError):
        g.rotation_pair("sideways")


def test_forward_policy_option(facts: g.TdFacts) -> None:
    gen = g.build_signed_policy(facts, paths.mock_collateral().read_bytes(), g.Signers.single(_mock_signer()),
                                forward_min_isvsvn=3)
    assert gen.verified.data.forward_policy is not None
    assert '"forwardPolicy":[{"servtd":{"migtdIdentity":{"isvsvn":{"operation":"greater-or-equal","reference":3}' \
        in gen.policy.decode()


def _tool(args: list[str], cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run([str(TOOL), *args], cwd=cwd, check=False, capture_output=True, text=True, timeout=60)


def test_tool_writes_where_asked_and_verifies(tmp_path: Path) -> None:
    proc = _tool(["policy", "generate-v2", "--new-chain", "--key-out", "k.pem", "--out", "out/p.json",
                  "--chain-out", "out/c.pem"], tmp_path)
    assert proc.returncode == 0, proc.stderr
    assert (tmp_path / "k.pem").stat().st_mode & 0o777 == 0o600
    check = _tool(["policy", "verify", "--policy", "out/p.json", "--issuer-chain", "out/c.pem"], tmp_path)
    assert check.returncode == 0 and "policySvn 1" in check.stdout
    proc = _tool(["policy", "generate-rotation", "--variant", "all", "--out-dir", "rot"], tmp_path)
    assert proc.returncode == 0, proc.stderr
    assert sorted(p.name for p in (tmp_path / "rot").iterdir()) == [
        "policy_issuer_chain_a.pem", "policy_issuer_chain_b.pem", "policy_v2_signed_a.json",
        "policy_v2_signed_b.json"]


@pytest.mark.parametrize("args, message", [
    (["generate-rotation", "--variant", "sideways", "--out-dir", "r"], "unknown --variant 'sideways'"),
    (["generate-v2", "--out", "p", "--chain-out", "c", "--policy-svn", "-1"], "argument --policy-svn: '-1' is not an unsigned 32-bit integer"),
    (["generate-v2", "--out", "p", "--chain-out", "c", "--key-out", "k"], "--key-out needs --new-chain"),
    (["generate-v2", "--out", "p", "--chain-out", "c", "--quote", "missing.bin"], "quote missing.bin does not exist"),
    (["generate-v2", "--out", "p", "--chain-out", "c", "--quote", "q.bin"], "does not verify against the collateral"),
])
def test_tool_errors_are_one_line(tmp_path: Path, args: list[str], message: str) -> None:
    (tmp_path / "q.bin").write_bytes(b"\x04\x00" + bytes(600))
    proc = _tool(["policy", *args], tmp_path)
    assert proc.returncode == 1
    assert message in proc.stderr and "Traceback" not in proc.stderr
    assert len(proc.stderr.strip().splitlines()) == 1
    assert not (tmp_path / "p").exists()
