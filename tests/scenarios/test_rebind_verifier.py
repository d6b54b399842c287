"""The mock-report rebinding verifier on certificates built in-process (protocol.md §7).

Pins the order of checks and the code each failure gets: missing rebinding
extensions → session error (6); policy hash ≠ SHA-384(peer blob) → 9; a
TDREPORT whose hashes do not cover its TDINFO, an init TDINFO that does not
match SERVTD_EXT, a peer chain under another root → 8; a TDREPORT that does
not bind the certificate key → 6. The SERVTD_EXT init hash is accepted in its
two published forms and in no other.
"""

from __future__ import annotations

import hashlib
import struct
from dataclasses import dataclass

import pytest
from cryptography.hazmat.primitives.asymmetric import ec

from migtd import eventlog, paths
from migtd.emu import rebind
from migtd.emu.tdcs import FieldStore
from migtd.errors import MigtdError, SecureSessionError
from migtd.mock.providers import MockQeProvider
from migtd.policy import generate_v2 as g
from migtd.policy.errors import PolicyError
from migtd.ratls.certificate import build_rebind_certificate, parse_certificate, public_point
from migtd.ratls.evidence import evidence_from_certificate
from migtd.result import MigrationResult
from migtd.session import peer_data_blob
from migtd.verdict import SessionFacts, Verdict
from migtd.verifiers.rebind import TdReportRebindVerifier, check_init_hash

BH, UUID = 0x1234, (1, 2, 3, 4)


@dataclass
class Side:
    policy: bytes
    chain: bytes

    @property
    def blob(self) -> bytes:
        return peer_data_blob(self.policy, self.chain)

    def verifier(self) -> TdReportRebindVerifier:
        return TdReportRebindVerifier(policy=self.policy, issuer_chain=self.chain, bypass=False)


@pytest.fixture(scope="module")
def facts() -> g.TdFacts:
    return g.mock_facts(paths.mock_collateral().read_bytes(), paths.mock_root_ca().read_bytes())


def _side(facts: g.TdFacts, signer: g.Signer | None = None) -> Side:
    signer = signer or g.Signer.load(paths.mock_dir() / "policy_signing_key.pem",
                                     paths.mock_dir() / "policy_issuer_chain.pem")
    gen = g.build_signed_policy(facts, paths.mock_collateral().read_bytes(), g.Signers.single(signer))
    return Side(gen.policy, gen.chain)


def certificate(side: Side, *, old: bool, tamper_tdinfo: bool = False, bad_ext: bool = False,
                unbound: bool = False, policy_hash: bytes | None = None) -> bytes:
    """A rebinding certificate as the session builds it, optionally broken one way."""
    key = ec.generate_private_key(ec.SECP384R1())
    log = eventlog.v2_event_log(side.chain, side.policy)
    provider = MockQeProvider()
    rd = bytes(64) if unbound else hashlib.sha384(public_point(key)).digest() + bytes(16)
    report = bytearray(provider.td_report(rd, log))
    extra: dict[str, bytes] = {}
    if old:
        store = FieldStore(msk=bytes(32), version_range=(0, 0))
        rebind.populate_servtd_fields(store, BH, UUID, provider.td_report(bytes(64), log))
        ext = bytearray(rebind.read_servtd_ext(store, BH, UUID))
        if bad_ext:
            ext[0] ^= 1
        extra = {"servtd_ext": bytes(ext), "init_tdinfo": bytes(report[512:1024])}
    if tamper_tdinfo:
        report[600] ^= 1  # inside MRCONFIGID, not covered by a recomputed hash
    return build_rebind_certificate(key, log, bytes(report),
                                    policy_hash=policy_hash or hashlib.sha384(side.blob).digest(), **extra)


def judge(judge_side: Side, peer_side: Side, der: bytes, *, judge_is_old: bool) -> Verdict:
    verifier = judge_side.verifier()
    evidence = evidence_from_certificate(parse_certificate(der), verifier.needs(judge_is_old))
    return verifier.verify(evidence, SessionFacts(peer_blob=peer_side.blob), judge_is_old)


def test_both_directions_accept_a_well_formed_peer(facts: g.TdFacts) -> None:
    side = _side(facts)
    new_judges_old = judge(side, side, certificate(side, old=True), judge_is_old=False)
    assert new_judges_old.ok, new_judges_old.failure
    names = [r.name for r in new_judges_old.rules]
    assert names[:6] == ["integrity.policy_hash", "integrity.event_log_replay", "chains.policy_issuer_chain",
                         "chains.servtd_identity_issuer_chain", "chains.servtd_tcb_mapping_issuer_chain",
                         "integrity.MigTdPolicy"]
    assert "init.servtd_ext_hash" in names and "policySvn.policySvn" not in names
    old_judges_new = judge(side, side, certificate(side, old=False), judge_is_old=True)
    assert old_judges_new.ok, old_judges_new.failure
    assert "policySvn.policySvn" in [r.name for r in old_judges_new.rules]
    assert old_judges_new.attestation.verified is True and old_judges_new.attestation.mrtd.startswith("556FD5FC")


def test_new_side_needs_servtd_ext(facts: g.TdFacts) -> None:
    side = _side(facts)
    with pytest.raises(SecureSessionError, match="SERVTD_EXT"):
        judge(side, side, certificate(side, old=False), judge_is_old=False)


def test_policy_hash_must_cover_the_pre_session_blob(facts: g.TdFacts) -> None:
    side = _side(facts)
    verdict = judge(side, side, certificate(side, old=False, policy_hash=bytes(48)), judge_is_old=True)
    assert verdict.failure is not None and verdict.failure.result == MigrationResult.InvalidPolicyError


def test_tdreport_whose_hash_does_not_cover_tdinfo_is_refused(facts: g.TdFacts) -> None:
    side = _side(facts)
    verdict = judge(side, side, certificate(side, old=False, tamper_tdinfo=True), judge_is_old=True)
    assert isinstance(verdict.failure, PolicyError) and verdict.failure.kind.value == "TdReportVerification"
    assert verdict.failure.result == MigrationResult.PolicyUnsatisfiedError


def test_init_tdinfo_must_match_servtd_ext(facts: g.TdFacts) -> None:
    side = _side(facts)
    verdict = judge(side, side, certificate(side, old=True, bad_ext=True), judge_is_old=False)
    assert isinstance(verdict.failure, PolicyError) and verdict.failure.kind.value == "InvalidTdReport"
    assert verdict.policy.failed_rules == ("init.servtd_ext_hash",)


def test_peer_under_another_root_is_refused(facts: g.TdFacts) -> None:
    mine, theirs = _side(facts), _side(facts, g.IssuerCa.generate().issue())
    verdict = judge(mine, theirs, certificate(theirs, old=False), judge_is_old=True)
    assert isinstance(verdict.failure, PolicyError) and verdict.failure.kind.value == "PeerCertChainValidation"
    assert verdict.policy.failed_rules == ("chains.policy_issuer_chain",)


def test_rotated_policy_leaf_is_accepted(facts: g.TdFacts) -> None:
    a, b = g.rotation_pair("all")
    col = paths.mock_collateral().read_bytes()
    pa = g.build_signed_policy(facts, col, a, peer_chains=[b.policy.chain_pem])
    pb = g.build_signed_policy(facts, col, b, peer_chains=[a.policy.chain_pem])
    old, new = Side(pa.policy, pa.chain), Side(pb.policy, pb.chain)
    assert judge(new, old, certificate(old, old=True), judge_is_old=False).ok
    assert judge(old, new, certificate(new, old=False), judge_is_old=True).ok


def test_report_data_must_bind_the_certificate_key(facts: g.TdFacts) -> None:
    side = _side(facts)
    verdict = judge(side, side, certificate(side, old=False, unbound=True), judge_is_old=True)
    assert isinstance(verdict.failure, SecureSessionError)


def test_local_policy_must_verify_at_start_up(facts: g.TdFacts) -> None:
    side = _side(facts)
    with pytest.raises(MigtdError) as err:
        Side(side.policy, b"not a chain").verifier()
    assert err.value.result == MigrationResult.InvalidPolicyError


def test_init_hash_accepts_the_two_published_forms_only() -> None:
    tdinfo = bytes(range(256)) * 2
    plain = hashlib.sha384(tdinfo).digest()
    module_form = rebind.servtd_info_hash(tdinfo)
    for init_hash in (plain, module_form):
        ext = init_hash + struct.pack("<Q", 0) + bytes(216)
        assert check_init_hash(tdinfo, ext).startswith("SHA-384(")
    with pytest.raises(PolicyError, match="does not match"):
        check_init_hash(tdinfo, bytes(48) + bytes(224))
    masked_attr = 1 << 34  # MRTD excluded: a different MRTD must still match
    other = tdinfo[:16] + bytes(48) + tdinfo[64:]
    ext = hashlib.sha384(other).digest() + struct.pack("<Q", masked_attr) + bytes(216)
    assert check_init_hash(tdinfo, ext) == "SHA-384(TDINFO)"


def test_self_references_come_from_our_own_verified_quote(facts: g.TdFacts, vectors) -> None:  # type: ignore[no-untyped-def]
    """Upstream's get_local_tcb_evaluation_info: our quote, verified against our policy's collaterals,
    gives the "self" facts; a quote that does not verify there is QuoteVerification (8)."""
    from migtd.policy.v2 import relative_reference

    side = _side(facts)
    verifier = side.verifier()
    provider = MockQeProvider()
    quote = provider.quote(provider.td_report(bytes(64), eventlog.v2_event_log(side.chain, side.policy)))
    check = verifier.check_local(quote)
    assert check.tcb_status == "UpToDate"
    rel = verifier._relative_reference(SessionFacts(local_quote=quote, local_check=check))
    assert rel == relative_reference(verifier.local, check.record[1].report)
    assert rel is not None and rel.tcb_status == "UpToDate" and rel.migtd_isvsvn == g.ENGINE_SVN
    # a stale check (another quote) is not used; the TDREPORT stands in
    report = provider.td_report(bytes(64), eventlog.v2_event_log(side.chain, side.policy))
    fallback = verifier._relative_reference(SessionFacts(local_quote=b"other", local_check=check,
                                                         local_tdreport=report))
    assert fallback is not None and fallback.tcb_status is None and fallback.migtd_isvsvn == g.ENGINE_SVN
    with pytest.raises(PolicyError) as err:
        verifier.check_local((vectors / "attestation" / "az_migtd_quote.blob").read_bytes())
    assert err.value.kind.value == "QuoteVerification" and err.value.result == MigrationResult.PolicyUnsatisfiedError
