"""DcapPeerVerifier in process: each step of protocol.md §5.5 and the code it fails with.

Certificates are built with the project's own builder over mock-QE quotes, so
every case is a real certificate that differs from a good one in one place.
"""

from __future__ import annotations

import hashlib
from pathlib import Path

import pytest
from cryptography.hazmat.primitives.asymmetric import ec

from migtd import eventlog, modes, paths
from migtd.attest.binding import report_data_for_key
from migtd.errors import ConfigError, MigtdError, SecureSessionError
from migtd.mock.providers import MockQeProvider
from migtd.ratls.certificate import ParsedCertificate, build_certificate, parse_certificate, public_point
from migtd.ratls.evidence import evidence_from_certificate
from migtd.result import MigrationResult as R
from migtd.verdict import AZCVMEMU_BYPASSES, BINDING_BYPASS_WARNING, SessionFacts, Verdict
from migtd.verifiers.dcap import DcapPeerVerifier

POLICY = paths.default_policy().read_bytes()
ROOT = paths.mock_root_ca().read_bytes()
LOG = eventlog.v1_event_log(POLICY, ROOT)


@pytest.fixture(scope="module")
def provider() -> MockQeProvider:
    return MockQeProvider()


def _quote(provider: MockQeProvider, key: ec.EllipticCurvePrivateKey, log: bytes = LOG) -> bytes:
    return provider.quote(provider.td_report(report_data_for_key(public_point(key)), log))


def _cert(provider: MockQeProvider, *, log: bytes = LOG, quote_key: ec.EllipticCurvePrivateKey | None = None,
          quote: bytes | None = None, policy_hash: bytes | None = None) -> ParsedCertificate:
    key = ec.generate_private_key(ec.SECP384R1())
    quote = quote if quote is not None else _quote(provider, quote_key or key, log)
    return parse_certificate(build_certificate(key, quote, log, policy_hash=policy_hash))


class Judge:
    """A verifier built by the mode registry plus the facts a session would hand it."""

    def __init__(self, verifier: DcapPeerVerifier, facts: SessionFacts) -> None:
        self.verifier = verifier
        self.facts = facts

    def verify(self, cert: ParsedCertificate, is_client: bool) -> Verdict:
        evidence = evidence_from_certificate(cert, self.verifier.needs(is_client))
        return self.verifier.verify(evidence, self.facts, is_client)


MOCK_TRUST = {"MIGTD_ROOT_CA_FILE": str(paths.mock_root_ca()), "MIGTD_COLLATERAL_FILE": str(paths.mock_collateral())}


def _judge(provider: MockQeProvider, *, key: str = "mock-report", env: dict[str, str] | None = None,
           policy_version: int = 1, policy: bytes = POLICY, issuer_chain: bytes = b"",
           local_quote: bytes | None = None, local_event_log: bytes = LOG, peer_blob: bytes | None = None) -> Judge:
    setup = modes.Setup("migration", policy_version, policy, issuer_chain,
                        {"MIGTD_ROOT_CA_FILE": str(paths.mock_root_ca())} if env is None else env, 60.0)
    verifier = modes.by_key(key).verifier(setup)
    assert isinstance(verifier, DcapPeerVerifier)
    if local_quote is None:
        local_quote = _quote(provider, ec.generate_private_key(ec.SECP384R1()), local_event_log)
    return Judge(verifier, SessionFacts(local_quote, local_event_log, peer_blob=peer_blob))


def test_good_peer_passes_with_rules_and_no_bypass(provider: MockQeProvider) -> None:
    verdict = _judge(provider).verify(_cert(provider), True)
    assert verdict.ok, verdict.failure
    assert verdict.attestation.verified is True and verdict.attestation.bypassed == ()
    assert verdict.policy.ok is True and verdict.policy.policy_version == 1
    assert len(verdict.rules) >= 20 and all(r.ok for r in verdict.rules)
    assert verdict.warnings == ()


def test_local_verification_is_done_once_per_quote(provider: MockQeProvider) -> None:
    judge = _judge(provider)
    verifier = judge.verifier
    calls: list[bytes] = []
    genuine = verifier._verify

    def counting(quote: bytes):  # type: ignore[no-untyped-def]
        calls.append(quote)
        return genuine(quote)

    verifier._verify = counting  # type: ignore[method-assign]
    check = verifier.check_local(judge.facts.local_quote)
    assert check is not None and check.tcb_status == "UpToDate" and len(calls) == 1
    judge.facts = judge.facts._replace(local_check=check)
    assert judge.verify(_cert(provider), True).ok
    assert len(calls) == 2                           # the peer's quote only: ours was reused
    other = _quote(provider, ec.generate_private_key(ec.SECP384R1()))
    judge.facts = judge.facts._replace(local_quote=other)
    assert judge.verify(_cert(provider), True).ok
    assert len(calls) == 4 and calls[2] == other     # a new local quote is verified again


def test_tampered_peer_quote_fails_with_7_naming_the_step(provider: MockQeProvider) -> None:
    key = ec.generate_private_key(ec.SECP384R1())
    quote = bytearray(_quote(provider, key))
    quote[48 + 200] ^= 1                              # a byte of the TD quote body (MRTD region)
    verdict = _judge(provider).verify(_cert(provider, quote=bytes(quote)), True)
    assert verdict.failure is not None and verdict.failure.result == R.MutualAttestationError
    assert verdict.attestation.verified is False
    assert verdict.attestation.failed_step == "quote_signature"
    assert verdict.policy.skipped is True and verdict.rules == ()


def test_reportdata_of_another_key_fails_with_6(provider: MockQeProvider) -> None:
    cert = _cert(provider, quote_key=ec.generate_private_key(ec.SECP384R1()))
    verdict = _judge(provider).verify(cert, False)
    assert isinstance(verdict.failure, SecureSessionError)
    assert "MismatchPublicKeyError" in verdict.failure.message
    assert verdict.attestation.verified is True


def test_bad_self_signature_fails_with_6(provider: MockQeProvider) -> None:
    cert = _cert(provider)
    tbs = bytearray(cert.tbs)
    tbs[-1] ^= 1                                      # inside the last extension's value
    verdict = _judge(provider).verify(cert._replace(tbs=bytes(tbs)), True)
    assert isinstance(verdict.failure, SecureSessionError)
    assert "self-signature" in verdict.failure.message


def test_event_log_not_replaying_to_the_rtmrs_fails_with_8(provider: MockQeProvider) -> None:
    # quote over the genuine log, certificate carrying another one
    key = ec.generate_private_key(ec.SECP384R1())
    quote = _quote(provider, key)
    other_log = eventlog.v1_event_log(POLICY + b" ", ROOT)
    cert = parse_certificate(build_certificate(key, quote, other_log))
    verdict = _judge(provider).verify(cert, True)
    assert verdict.failure is not None and verdict.failure.result == R.PolicyUnsatisfiedError
    assert verdict.policy.kind == "InvalidEventLog"


def test_quote_file_mode_bypasses_binding_and_replay_with_the_upstream_warning(provider: MockQeProvider) -> None:
    key = ec.generate_private_key(ec.SECP384R1())
    quote = _quote(provider, ec.generate_private_key(ec.SECP384R1()))  # binds another key
    cert = parse_certificate(build_certificate(key, quote, eventlog.v1_event_log(POLICY, ROOT)))
    verdict = _judge(provider, key="mock-quote-file", env=MOCK_TRUST).verify(cert, True)
    assert verdict.ok, verdict.failure
    assert verdict.attestation.bypassed == AZCVMEMU_BYPASSES
    assert verdict.warnings == (BINDING_BYPASS_WARNING,)


def test_local_quote_that_does_not_verify_fails_with_7_before_the_peer_is_looked_at(
        provider: MockQeProvider) -> None:
    quote = bytearray(_quote(provider, ec.generate_private_key(ec.SECP384R1())))
    quote[100] ^= 1
    judge = _judge(provider, local_quote=bytes(quote))
    with pytest.raises(MigtdError) as exc:
        judge.verifier.check_local(bytes(quote))
    assert exc.value.result == R.MutualAttestationError
    verdict = judge.verify(_cert(provider), True)
    assert verdict.failure is not None and verdict.failure.result == R.MutualAttestationError
    assert verdict.attestation.failed_step == "local_quote"


def _v2_verifier(provider: MockQeProvider, policy: bytes, blob: bytes) -> Judge:
    chain = (paths.mock_dir() / "policy_issuer_chain.pem").read_bytes()
    log = eventlog.v2_event_log(chain, policy)
    return _judge(provider, policy_version=2, policy=policy, issuer_chain=chain, peer_blob=blob,
                  local_event_log=log)


def test_policy_v2_certificate_without_policy_hash_is_a_session_error(provider: MockQeProvider, v2_policy) -> None:  # type: ignore[no-untyped-def]
    verifier = _v2_verifier(provider, v2_policy(), b"\x01\x00\x00\x00x\x01\x00\x00\x00y")
    with pytest.raises(SecureSessionError, match="policy-hash"):
        verifier.verify(_cert(provider), True)


def test_policy_v2_hash_mismatch_fails_with_9(provider: MockQeProvider, v2_policy) -> None:  # type: ignore[no-untyped-def]
    blob = b"\x01\x00\x00\x00x\x01\x00\x00\x00y"
    verifier = _v2_verifier(provider, v2_policy(), blob)
    verdict = verifier.verify(_cert(provider, policy_hash=hashlib.sha384(blob + b"!").digest()), False)
    assert verdict.failure is not None and verdict.failure.result == R.InvalidPolicyError
    assert verdict.policy.failed_rules == ("integrity.policy_hash",)
    assert verdict.attestation.verified is False


def test_policy_v2_peer_quote_failure_is_a_policy_error_8(provider: MockQeProvider, v2_policy) -> None:  # type: ignore[no-untyped-def]
    blob = b"\x01\x00\x00\x00x\x01\x00\x00\x00y"
    verifier = _v2_verifier(provider, v2_policy(), blob)
    quote = bytearray(_quote(provider, ec.generate_private_key(ec.SECP384R1())))
    quote[48 + 200] ^= 1
    cert = _cert(provider, quote=bytes(quote), policy_hash=hashlib.sha384(blob).digest())
    verdict = verifier.verify(cert, True)
    assert verdict.failure is not None and verdict.failure.result == R.PolicyUnsatisfiedError
    assert verdict.policy.kind == "QuoteVerification"
    assert verdict.attestation.failed_step == "quote_signature"


def test_azure_mode_needs_the_collateral_named(provider: MockQeProvider) -> None:
    with pytest.raises(ConfigError, match="MIGTD_COLLATERAL_FILE"):
        _judge(provider, key="azure")


def test_unsigned_v2_policy_is_refused_at_start_up_with_9(provider: MockQeProvider, tmp_path: Path) -> None:
    chain = (paths.mock_dir() / "policy_issuer_chain.pem").read_bytes()
    with pytest.raises(MigtdError) as exc:
        _judge(provider, policy_version=2, policy=b'{"policyData": {}}', issuer_chain=chain)
    assert exc.value.result == R.InvalidPolicyError


def test_arbitrary_quote_and_event_log_never_escape_as_anything_but_a_coded_failure(
        provider: MockQeProvider) -> None:
    from hypothesis import HealthCheck, given, settings
    from hypothesis import strategies as st

    verifier = _judge(provider)
    key = ec.generate_private_key(ec.SECP384R1())
    genuine_quote = _quote(provider, key)

    def mutate(data: bytes, flips: list[int]) -> bytes:
        out = bytearray(data)
        for f in flips:
            out[f % len(out)] ^= 1 + f % 255
        return bytes(out)

    @settings(max_examples=60, deadline=None, suppress_health_check=list(HealthCheck))
    @given(st.one_of(st.binary(max_size=600), st.lists(st.integers(0, 10**6), min_size=1, max_size=4)
                     .map(lambda f: mutate(genuine_quote, f))),
           st.one_of(st.just(LOG), st.binary(max_size=300),
                     st.lists(st.integers(0, 10**6), min_size=1, max_size=3).map(lambda f: mutate(LOG, f))),
           st.booleans())
    def check(quote: bytes, log: bytes, is_client: bool) -> None:
        cert = parse_certificate(build_certificate(key, quote, log))
        try:
            verdict = verifier.verify(cert, is_client)
        except MigtdError as exc:
            assert exc.result in (R.SecureSessionError,)
            return
        if verdict.failure is not None:
            assert verdict.failure.result in (R.SecureSessionError, R.MutualAttestationError,
                                              R.PolicyUnsatisfiedError, R.InvalidPolicyError)
        else:  # accepted: only bytes that no check covers may differ (e.g. the Spec ID header)
            assert quote[:632] == genuine_quote[:632]          # signed header + TD body
            replay = eventlog.replay_rtmrs
            assert replay(eventlog.parse_event_log(log)) == replay(eventlog.parse_event_log(LOG))

    check()
