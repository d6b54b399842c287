"""Mock-report migrations with real ``migtd`` processes: the DCAP + policy path of protocol.md §5.5.

Who fails with what, and why (protocol.md §5.1, §5.5, §5.7):

* The source is the TLS client. It judges the destination's certificate as
  soon as the server's flight arrives, *before* it sends its own Finished.
  A source that rejects never sends Finished, so the destination's handshake
  ends with the connection closing: the destination exits 6.
* The destination judges the source only after the handshake is complete;
  by then the source has sent its 40-byte ExchangeInformation and waits for
  the destination's. A destination that rejects closes without answering,
  so the source's read finds the session gone: the source exits 6 too.
"""

from __future__ import annotations

import copy
import json
import sys
from pathlib import Path
from typing import Any

import pytest

from migtd import paths
from migtd.result import MigrationResult

R = MigrationResult
MIGTD = [sys.executable, "-m", "migtd"]
BAD_PEER = [sys.executable, str(Path(__file__).with_name("bad_peer.py"))]


def _assert_clean(*runs: Any) -> None:
    for run in runs:
        assert "Traceback" not in run.stderr, run.stderr
        assert run.event("exit")["code"] == run.code


def _default_policy() -> dict[str, Any]:
    return json.loads(paths.default_policy().read_bytes())


def _migtd_block(policy: dict[str, Any]) -> dict[str, Any]:
    return next(b for b in policy["policy"] if "MigTD" in b)["MigTD"]


# ------------------------------------------------------------------- success


def test_both_sides_attest_each_other(procs, mock_env, port) -> None:  # type: ignore[no-untyped-def]
    src, dst = procs.pair(port, mock_env)
    assert (src.code, dst.code) == (0, 0), src.stderr + dst.stderr
    _assert_clean(src, dst)
    assert src.event("msk_exchanged")["key_sha256_8"] == dst.event("msk_exchanged")["key_sha256_8"]
    for run in (src, dst):
        assert run.event("quote_generated")["source"] == "mock-qe"
        attested = run.event("peer_attested")
        assert attested["verified"] is True
        assert attested["tcb_status"] == "UpToDate"
        assert attested["fmspc"] == "90C06F000000"
        assert attested["bypassed"] == []           # mock-qe: binding and replay are checked for real
        assert len(attested["rtmrs"]) == 4 and attested["rtmrs"][2] != "00" * 48
        decision = run.event("policy_decision")
        assert decision["ok"] is True and decision["skipped"] is False and decision["policy_version"] == 1
        rules = run.all("policy_rule")
        names = {f"{r['section']}.{r['field']}" for r in rules}
        assert {"Platform.fmspc", "MigTD.TDINFO.MRTD", "MigTD.TDINFO.RTMR2",
                "MigTD.EventLog.Digest.MigTdPolicy"} <= names, names
        assert all(r["ok"] for r in rules)
        assert not any("Skipping public key verification" in w for w in run.warnings())


def test_upstream_quote_file_with_intel_collateral_bypasses_binding_and_replay(
        procs, mock_env, port, vectors: Path) -> None:  # type: ignore[no-untyped-def]
    att = vectors / "attestation"
    env = dict(mock_env, MOCK_QUOTE_FILE=str(att / "az_migtd_quote.blob"),
               MIGTD_ROOT_CA_FILE=str(paths.intel_root_ca()),
               MIGTD_COLLATERAL_FILE=str(att / "collateral_azure_thim.json"))
    src, dst = procs.pair(port, env)
    assert (src.code, dst.code) == (0, 0), src.stderr + dst.stderr
    _assert_clean(src, dst)
    assert src.event("msk_exchanged")["key_sha256_8"] == dst.event("msk_exchanged")["key_sha256_8"]
    for run in (src, dst):
        assert run.event("quote_generated")["source"] == "mock-quote-file"
        assert run.event("quote_generated")["bytes"] == (att / "az_migtd_quote.blob").stat().st_size
        attested = run.event("peer_attested")
        assert attested["verified"] is True and attested["tcb_status"] == "UpToDate"
        assert attested["fmspc"] == "90C06F000000"
        assert attested["bypassed"] == ["reportdata_binding", "event_log_replay"]
        assert run.warnings().count("AzCVMEmu mode: Skipping public key verification in TD report") == 1
        decision = run.event("policy_decision")
        assert decision["ok"] is True
        assert any("tolerated" in note for note in decision["notes"])


def test_policy_v2_both_sides(procs, v2_env, port) -> None:  # type: ignore[no-untyped-def]
    src, dst = procs.pair(port, v2_env())
    assert (src.code, dst.code) == (0, 0), src.stderr + dst.stderr
    _assert_clean(src, dst)
    assert src.event("msk_exchanged")["key_sha256_8"] == dst.event("msk_exchanged")["key_sha256_8"]
    for run in (src, dst):
        assert run.event("peer_attested")["verified"] is True
        assert run.event("peer_attested")["bypassed"] == []
        decision = run.event("policy_decision")
        assert decision["ok"] is True and decision["policy_version"] == 2
        names = [f"{r['section']}.{r['field']}" for r in run.all("policy_rule")]
        assert names[0] == "integrity.policy_hash"
        assert {"chains.policy_issuer_chain", "integrity.MigTdPolicy", "global.tcb.tcbEvaluationDataNumber",
                "global.platform.fmspc", "servtd.migtdIdentity.isvsvn", "mandatory.migtd_tcb_status"} <= set(names)
    # only the source judges its destination against policySvn (§3.9.3)
    assert "policySvn.policySvn" in [f"{r['section']}.{r['field']}" for r in src.all("policy_rule")]
    assert "policySvn.policySvn" not in [f"{r['section']}.{r['field']}" for r in dst.all("policy_rule")]


# ------------------------------------------------------------------- rejections


@pytest.mark.parametrize("checker", ["source", "destination"])
def test_policy_requiring_another_mrtd_fails_with_8_on_the_checking_side(
        procs, mock_env, write_policy, port, checker: str) -> None:  # type: ignore[no-untyped-def]
    # The non-checking side must accept a peer whose policy file (hence RTMR2 and the
    # policy digest) differs, so neither side pins those two; the checker also pins MRTD.
    lax = _default_policy()
    block = _migtd_block(lax)
    del block["TDINFO"]["RTMR2"], block["EventLog"]["Digest.MigTdPolicy"]
    strict = copy.deepcopy(lax)
    _migtd_block(strict)["TDINFO"]["MRTD"] = {"operation": "equal", "reference": "AB" * 48}
    envs = {"source": dict(mock_env, MIGTD_POLICY_FILE=write_policy("lax.json", lax)),
            "destination": dict(mock_env, MIGTD_POLICY_FILE=write_policy("lax.json", lax))}
    envs[checker] = dict(mock_env, MIGTD_POLICY_FILE=write_policy("strict.json", strict))
    src, dst = procs.pair(port, envs["destination"], envs["source"])
    _assert_clean(src, dst)
    runs = {"source": src, "destination": dst}
    checking, other = runs[checker], runs["destination" if checker == "source" else "source"]
    assert checking.code == R.PolicyUnsatisfiedError, checking.stderr
    assert other.code == R.SecureSessionError, other.stderr
    decision = checking.event("policy_decision")
    assert decision["ok"] is False and decision["failed_rules"] == ["MigTD.TDINFO.MRTD"]
    assert decision["kind"] == "UnqualifiedMigTdInfo"
    failed = [r for r in checking.all("policy_rule") if not r["ok"]]
    assert [(r["reference"], r["actual"]) for r in failed] == [("AB" * 48, checking.event("peer_attested")["mrtd"])]
    assert checking.event("peer_attested")["verified"] is True   # attested fine, refused by policy
    assert not checking.all("msk_exchanged") and not other.all("msk_exchanged")


def test_invalid_policy_json_fails_with_9(procs, mock_env, write_policy, port) -> None:  # type: ignore[no-untyped-def]
    broken = dict(mock_env, MIGTD_POLICY_FILE=write_policy("broken.json", '{"id": "x", "policy": [}'))
    src, dst = procs.pair(port, mock_env, broken)
    _assert_clean(src, dst)
    assert (src.code, dst.code) == (R.InvalidPolicyError, R.SecureSessionError), src.stderr + dst.stderr
    assert src.event("policy_decision")["kind"] == "InvalidPolicy"


@pytest.mark.parametrize("liar", ["source", "destination"])
def test_peer_whose_reportdata_does_not_bind_its_key_fails_with_6(
        procs, mock_env, port, liar: str) -> None:  # type: ignore[no-untyped-def]
    """A genuine mock-QE quote over another key's hash: DCAP passes, the binding (§5.5 step 5) does not."""
    bad = dict(mock_env, MIGTD_BAD_PEER="wrong-reportdata")
    if liar == "source":
        src, dst = procs.pair(port, mock_env, bad, src_cmd=BAD_PEER, dst_cmd=MIGTD)
        checking = dst
    else:
        src, dst = procs.pair(port, bad, mock_env, src_cmd=MIGTD, dst_cmd=BAD_PEER)
        checking = src
    _assert_clean(src, dst)
    assert (src.code, dst.code) == (R.SecureSessionError, R.SecureSessionError), src.stderr + dst.stderr
    attested = checking.event("peer_attested")
    assert attested["verified"] is True and attested["bypassed"] == []
    assert "REPORTDATA does not bind the certificate's public key" in checking.event("exit")["reason"]
    assert checking.event("policy_decision")["skipped"] is True   # refused before the policy step


def test_policy_v2_forward_policy_mismatch_fails_with_8_on_the_source(
        procs, v2_env, port) -> None:  # type: ignore[no-untyped-def]
    strict = [{"global": {"tcb": {"tcbEvaluationDataNumber": {"operation": "greater-or-equal",
                                                               "reference": 99}}}}]
    env = v2_env(forward=strict)
    src, dst = procs.pair(port, env)
    _assert_clean(src, dst)
    # forwardPolicy applies when a source judges its destination (§3.9.3); the destination never gets to judge
    assert (src.code, dst.code) == (R.PolicyUnsatisfiedError, R.SecureSessionError), src.stderr + dst.stderr
    decision = src.event("policy_decision")
    assert decision["kind"] == "TcbEvaluation"
    assert decision["failed_rules"] == ["global.tcb.tcbEvaluationDataNumber"]


def test_policy_v2_policy_hash_not_matching_pre_session_data_fails_with_9(
        procs, v2_env, port) -> None:  # type: ignore[no-untyped-def]
    env = v2_env()
    src, dst = procs.pair(port, env, dict(env, MIGTD_BAD_PEER="wrong-policy-hash"), src_cmd=BAD_PEER, dst_cmd=MIGTD)
    _assert_clean(src, dst)
    assert (src.code, dst.code) == (R.SecureSessionError, R.InvalidPolicyError), src.stderr + dst.stderr
    assert dst.event("policy_decision")["failed_rules"] == ["integrity.policy_hash"]


# ------------------------------------------------------------------- start-up


def test_quote_file_without_collateral_exits_1_before_listening(procs, mock_env, port, tmp_path) -> None:  # type: ignore[no-untyped-def]
    quote = tmp_path / "quote.bin"
    quote.write_bytes((paths.mock_dir() / "sample_quote.bin").read_bytes())
    run = procs.finish(procs.start(["-m", "dst", "-t", str(port)], dict(mock_env, MOCK_QUOTE_FILE=str(quote))))
    assert run.code == R.InvalidParameter, run.stderr
    assert "MIGTD_COLLATERAL_FILE must name its collateral" in run.event("exit")["reason"]
    assert not run.all("listening")
    _assert_clean(run)


def test_tampered_v2_policy_exits_9_before_listening(procs, v2_env, port) -> None:  # type: ignore[no-untyped-def]
    env = v2_env()
    path = Path(env["MIGTD_POLICY_FILE"])
    path.write_bytes(path.read_bytes().replace(b'"policySvn":1', b'"policySvn":7'))
    run = procs.finish(procs.start(["-m", "dst", "-t", str(port)], env))
    assert run.code == R.InvalidPolicyError, run.stderr
    assert "SignatureVerificationFailed" in run.event("exit")["reason"]
    assert not run.all("listening")
    _assert_clean(run)


def test_root_ca_that_is_not_a_certificate_exits_1(procs, mock_env, port, tmp_path) -> None:  # type: ignore[no-untyped-def]
    root = tmp_path / "root.der"
    root.write_bytes(b"\x30\x03\x02\x01\x01")
    run = procs.finish(procs.start(["-m", "dst", "-t", str(port)], dict(mock_env, MIGTD_ROOT_CA_FILE=str(root))))
    assert run.code == R.InvalidParameter, run.stderr
    assert "is not an X.509 certificate" in run.event("exit")["reason"]
    _assert_clean(run)


def _other_root_ca(path: Path) -> str:
    """A valid self-signed CA that did not issue the mock PCK chain."""
    import datetime

    from cryptography import x509
    from cryptography.hazmat.primitives import hashes
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.hazmat.primitives.serialization import Encoding
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "Intel SGX Root CA")])
    start = datetime.datetime(2024, 1, 1, tzinfo=datetime.UTC)
    cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(key.public_key())
            .serial_number(1).not_valid_before(start).not_valid_after(start + datetime.timedelta(days=9000))
            .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
            .sign(key, hashes.SHA256()))
    path.write_bytes(cert.public_bytes(Encoding.DER))
    return str(path)


def test_local_quote_not_verifying_fails_with_7_before_the_handshake(
        procs, mock_env, port, tmp_path) -> None:  # type: ignore[no-untyped-def]
    """Our own quote is checked first (§5.5 v1 step 1): against the wrong root it fails, before TLS."""
    wrong = dict(mock_env, MIGTD_ROOT_CA_FILE=_other_root_ca(tmp_path / "other_root.der"))
    src, dst = procs.pair(port, wrong, mock_env)
    _assert_clean(src, dst)
    assert dst.code == R.MutualAttestationError, dst.stderr
    # the collateral is checked against the root before any quote (attestation.md §3.2)
    assert dst.event("exit")["reason"] == ("local quote verification failed at crl: root CA CRL is not "
                                          "signed by the trusted root CA")
    assert not dst.all("tls_established") and not dst.all("peer_attested")
    # the source had sent its ClientHello and finds the connection closed mid-handshake
    assert src.code == R.SecureSessionError, src.stderr
    assert "Local quote verified: TCB status UpToDate" in [e["msg"] for e in src.events]


def test_policy_v2_with_the_upstream_quote_file_and_intel_collateral_in_the_policy(
        procs, mock_env, port, tmp_path, vectors: Path) -> None:  # type: ignore[no-untyped-def]
    """v2 verifies quotes against the collaterals *in the local policy* (policy.md §3.9.2): here Intel's,
    embedded by ``migtd-tool policy generate-v2``; MIGTD_ROOT_CA_FILE/MIGTD_COLLATERAL_FILE play no part."""
    import subprocess

    att = vectors / "attestation"
    quote = att / "az_migtd_quote.blob"
    subprocess.run([str(Path(sys.executable).with_name("migtd-tool")), "policy", "generate-v2",
                    "--out", str(tmp_path / "p.json"), "--chain-out", str(tmp_path / "c.pem"),
                    "--quote", str(quote), "--collateral", str(att / "collateral_azure_thim.json"),
                    "--root-ca", str(paths.intel_root_ca())],
                   check=True, capture_output=True, timeout=60)
    env = {k: v for k, v in mock_env.items() if k != "MIGTD_ROOT_CA_FILE"}
    env.update(MIGTD_POLICY_VERSION="2", MIGTD_POLICY_FILE=str(tmp_path / "p.json"),
               MIGTD_POLICY_ISSUER_CHAIN_FILE=str(tmp_path / "c.pem"), MOCK_QUOTE_FILE=str(quote))
    src, dst = procs.pair(port, env)
    assert (src.code, dst.code) == (0, 0), src.stderr + dst.stderr
    _assert_clean(src, dst)
    for run in (src, dst):
        attested = run.event("peer_attested")
        assert attested["verified"] is True and attested["bypassed"] == ["reportdata_binding", "event_log_replay"]
        assert run.warnings().count("AzCVMEmu mode: Skipping public key verification in TD report") == 1
        decision = run.event("policy_decision")
        assert decision["ok"] is True and decision["policy_version"] == 2
        assert any("tolerated" in note for note in decision["notes"])
