"""Policy v2 end to end with our own signing key: §3.9 peer authentication and direction rules.

The reports are report.dat (FMSPC 30806F000000, which the test collaterals
list); the TCB mapping built here maps report.dat's MRTD/RTMR0/RTMR1 to engine
SVN 1, and the identity gives SVN 1 the status UpToDate.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from cryptography import x509

from migtd.attest import suppl as rpt
from migtd.eventlog import v2_event_log
from migtd.policy.errors import PolicyError
from migtd.policy.v2 import (
    authenticate_migration_dest,
    authenticate_migration_source,
    authenticate_rebinding_new,
    authenticate_rebinding_old,
    build_peer_data,
    evaluation_info,
    parse_peer_data,
    verify_signed_policy,
)
from migtd.result import MigrationResult

RULES = [
    {"global": {"tcb": {"tcbEvaluationDataNumber": {"operation": "greater-or-equal", "reference": 5},
                        "tcbStatusAccepted": {"operation": "allow-list", "reference": ["UpToDate"]},
                        "tcbDate": {"operation": "greater-or-equal", "reference": "2025-01-01T00:00:00Z"}},
                "platform": {"fmspc": {"operation": "equal", "reference": "self"}},
                "crl": {"pckCrlNum": {"operation": "greater-or-equal", "reference": 1}}}},
    {"servtd": {"migtdIdentity": {"isvsvn": {"operation": "greater-or-equal", "reference": "self"},
                                  "tcbStatusAccepted": {"operation": "allow-list", "reference": ["UpToDate"]}}}},
]


class Side:
    def __init__(self, policy: bytes, chain: bytes, report: bytes) -> None:
        self.policy, self.chain, self.report = policy, chain, report
        self.verified = verify_signed_policy(policy, chain)
        self.log = v2_event_log(chain, policy)


@pytest.fixture(scope="module")
def make_side(pvec: Path, report_dat: bytes, chain3, bundle):  # type: ignore[no-untyped-def]
    key, chain, _ = chain3
    base = json.loads((pvec / "src/policy/test/policy_v2/policy_data.json").read_bytes())
    sc = base["servtdCollateral"]
    ident = dict(sc["servtdIdentity"]["tdIdentity"],
                 tcbLevels=[{"tcb": {"isvsvn": 1}, "tcbDate": "2025-01-01T00:00:00Z", "tcbStatus": "UpToDate"}])
    mapping = dict(sc["servtdTcbMapping"]["tdTcbMapping"], svnMappings=[{"tdMeasurements": {
        "mrtd": rpt.field(report_dat, "MRTD").hex().upper(), "rtmr0": rpt.field(report_dat, "RTMR0").hex().upper(),
        "rtmr1": rpt.field(report_dat, "RTMR1").hex().upper()}, "isvsvn": 1}])

    def make(svn: int = 1, report: bytes = report_dat, rules: list | None = None, forward: list | None = None,
             signer: tuple[bytes, bytes] | None = None) -> Side:
        data = {"id": base["id"], "version": "2.0", "policySvn": svn, "policy": rules if rules is not None else RULES,
                "forwardPolicy": forward, "backwardPolicy": None, "collaterals": base["collaterals"]}
        k, c = signer or (key, chain)
        return Side(bundle(data, k, c, td_identity=ident, tcb_mapping=mapping), c, report)
    return make


def dest(local: Side, peer: Side, **kw):  # type: ignore[no-untyped-def]
    return authenticate_migration_dest(local.verified, local_report=local.report, peer_report=peer.report,
                                       peer_event_log=kw.pop("log", peer.log), peer_policy=peer.policy,
                                       peer_chain=peer.chain, tolerate_rtmr_mismatch=kw.pop("tolerate", True))


def source(local: Side, peer: Side):  # type: ignore[no-untyped-def]
    return authenticate_migration_source(local.verified, local_report=local.report, peer_report=peer.report,
                                         peer_event_log=peer.log, peer_policy=peer.policy, peer_chain=peer.chain,
                                         tolerate_rtmr_mismatch=True)


def test_same_policy_both_directions(make_side) -> None:  # type: ignore[no-untyped-def]
    a = make_side()
    for decision in (dest(a, a), source(a, a)):
        assert decision.ok, decision.error
        names = decision.failed_rules()
        assert names == []
        fields = {r.name for r in decision.rules}
        assert {"global.tcb.tcbDate", "global.platform.fmspc", "servtd.migtdIdentity.isvsvn",
                "mandatory.migtd_tcb_status", "chains.policy_issuer_chain", "integrity.MigTdPolicy"} <= fields
        assert decision.policy_version == "2.0"
        assert any("tolerated" in n for n in decision.notes)


def test_rtmr_mismatch_is_fatal_unless_tolerated(make_side) -> None:  # type: ignore[no-untyped-def]
    a = make_side()
    assert dest(a, a, tolerate=False).kind == "InvalidEventLog"


def test_destination_policy_svn_must_not_be_older(make_side) -> None:  # type: ignore[no-untyped-def]
    src, old_dst = make_side(svn=2), make_side(svn=1)
    d = dest(src, old_dst)
    assert d.kind == "SvnMismatch" and d.failed_rules() == ["policySvn.policySvn"]
    assert d.result is MigrationResult.PolicyUnsatisfiedError
    assert source(old_dst, src).ok          # a destination accepts a source with an older/newer policy


def test_forward_policy_applies_only_to_destination_checks(make_side) -> None:  # type: ignore[no-untyped-def]
    strict = [{"global": {"tcb": {"tcbEvaluationDataNumber": {"operation": "greater-or-equal", "reference": 99}}}}]
    a = make_side(forward=strict)
    assert dest(a, a).kind == "TcbEvaluation"
    assert source(a, a).ok


def test_peer_policy_not_the_measured_one(make_side) -> None:  # type: ignore[no-untyped-def]
    a, b = make_side(), make_side(svn=3)
    d = dest(a, b, log=v2_event_log(b.chain, a.policy))
    assert d.kind == "PolicyHashMismatch"


def test_peer_chain_with_another_root(make_side, chain_factory) -> None:  # type: ignore[no-untyped-def]
    key, chain, _ = chain_factory(3)
    a, stranger = make_side(), make_side(signer=(key, chain))
    assert dest(a, stranger).kind == "PeerCertChainValidation"


def test_unknown_engine_is_denied(make_side, report_dat: bytes) -> None:  # type: ignore[no-untyped-def]
    a = make_side()
    other = make_side(report=rpt.with_field(report_dat, "MRTD", b"\x01" * 48))
    d = dest(a, other)
    assert d.kind == "UnqualifiedMigTdInfo"
    assert d.failed_rules() == ["servtd.migtdIdentity.isvsvn"]


def test_revoked_platform_is_denied(make_side, report_dat: bytes) -> None:  # type: ignore[no-untyped-def]
    revoked = rpt.with_field(report_dat, "TCB_STATUS", b"Revoked".ljust(32, b"\0"))
    a = make_side(rules=[])
    d = dest(a, make_side(rules=[], report=revoked))
    assert d.kind == "TcbEvaluation" and d.failed_rules() == ["mandatory.tcb_status"]


def test_bad_peer_inputs_never_raise(make_side) -> None:  # type: ignore[no-untyped-def]
    a = make_side()
    for kw, kind in (({"peer_policy": b"{"}, "InvalidPolicy"), ({"peer_event_log": b"x"}, "InvalidEventLog"),
                     ({"peer_chain": b"junk"}, "SignatureVerificationFailed"),
                     ({"peer_report": b"\0" * 100}, "InvalidParameter")):
        args = {"local_report": a.report, "peer_report": a.report, "peer_event_log": a.log, "peer_policy": a.policy,
                "peer_chain": a.chain, "tolerate_rtmr_mismatch": True}
        args.update(kw)
        assert authenticate_migration_dest(a.verified, **args).kind == kind


def test_peer_chain_with_an_unknown_key_algorithm_is_a_decision(make_side, chain3) -> None:  # type: ignore[no-untyped-def]
    """cryptography raises UnsupportedAlgorithm (not a ValueError) for such a key; it must not escape."""
    from cryptography.hazmat.primitives import serialization
    a = make_side()
    _, _, certs = chain3
    der = certs[1].public_bytes(serialization.Encoding.DER)
    ec_key_oid = bytes.fromhex("06072a8648ce3d0201")                 # id-ecPublicKey
    unknown = der.replace(ec_key_oid, bytes.fromhex("06072a8648ce3d0209"), 1)
    pem = b"".join(c.public_bytes(serialization.Encoding.PEM) for c in
                   (certs[0], x509.load_der_x509_certificate(unknown), certs[2]))
    d = authenticate_migration_dest(a.verified, local_report=a.report, peer_report=a.report, peer_event_log=a.log,
                                    peer_policy=a.policy, peer_chain=pem, tolerate_rtmr_mismatch=True)
    assert d.kind == "SignatureVerificationFailed" and "unreadable public key" in d.error.message  # type: ignore[union-attr]


def test_evaluation_info_from_report(make_side, report_dat: bytes) -> None:  # type: ignore[no-untyped-def]
    a = make_side()
    info = evaluation_info(report_dat, identity_of=a.verified, collaterals=a.verified.collaterals)
    assert (info.tcb_status, info.tcb_date, info.fmspc.hex().upper()) == ("UpToDate", "2025-10-22T03:24:16Z",  # type: ignore[union-attr]
                                                                         "30806F000000")
    assert (info.tcb_evaluation_number, info.pck_crl_num, info.root_ca_crl_num) == (5, 1, 1)
    assert (info.migtd_isvsvn, info.migtd_tcb_status) == (1, "UpToDate")
    with pytest.raises(PolicyError) as err:
        evaluation_info(rpt.with_field(report_dat, "FMSPC", bytes.fromhex("90C06F000000")), identity_of=a.verified,
                        collaterals=a.verified.collaterals)
    assert err.value.kind.value == "InvalidCollateral"


def test_rebinding(make_side, report_dat: bytes) -> None:  # type: ignore[no-untyped-def]
    a, newer = make_side(svn=1), make_side(svn=2)
    tdreport = bytearray(1024)
    tdreport[512 + 16:512 + 64] = rpt.field(report_dat, "MRTD")
    tdreport[512 + 208:512 + 256] = rpt.field(report_dat, "RTMR0")
    tdreport[512 + 256:512 + 304] = rpt.field(report_dat, "RTMR1")
    from migtd.policy.v2 import EvaluationInfo
    rel = EvaluationInfo(migtd_isvsvn=1)
    assert authenticate_rebinding_new(a.verified, peer_policy=newer.verified, peer_tdreport=bytes(tdreport),
                                      rel=rel).ok
    assert authenticate_rebinding_new(newer.verified, peer_policy=a.verified, peer_tdreport=bytes(tdreport),
                                      rel=rel).kind == "SvnMismatch"
    assert authenticate_rebinding_old(a.verified, peer_policy=a.verified, peer_tdreport=bytes(tdreport)).ok
    assert authenticate_rebinding_old(a.verified, peer_policy=a.verified, peer_tdreport=b"short").kind \
        == "InvalidTdReport"


def test_evaluation_info_from_tdreport_reads_the_tdreport_fields(make_side, report_dat: bytes) -> None:  # type: ignore[no-untyped-def]
    """TEE_TCB_SVN is TEE_TCB_INFO bytes 8..24 (after VALID); the engine is found by MRTD/RTMR0/RTMR1."""
    from migtd.attest.tdreport import TdInfo, TdReport, TeeTcbInfo
    from migtd.policy.v2.flows import evaluation_info_from_tdreport
    a = make_side()
    svn = bytes(range(1, 17))
    rtmrs = (rpt.field(report_dat, "RTMR0"), rpt.field(report_dat, "RTMR1"), bytes(48), bytes(48))
    tdreport = TdReport.build(report_data=bytes(64), tee_tcb_info=TeeTcbInfo(valid=b"\xff" * 8, tee_tcb_svn=svn),
                              td_info=TdInfo(mrtd=rpt.field(report_dat, "MRTD"), rtmrs=rtmrs)).to_bytes()
    info = evaluation_info_from_tdreport(tdreport, identity_of=a.verified)
    assert info.tee_tcb_svn == svn
    assert info.migtd_isvsvn is not None and info.migtd_tcb_status == "UpToDate"


def test_peer_data_blob() -> None:
    blob = build_peer_data(b"policy", b"chain")
    assert parse_peer_data(blob) == (b"policy", b"chain")
    for bad in (blob + b"x", blob[:-1], b"\x01\x00", b""):
        with pytest.raises(PolicyError) as err:
            parse_peer_data(bad)
        assert err.value.kind.value == "InvalidParameter"


def servtd_ext(init_hash: bytes, init_attr: int) -> bytes:
    """A 272-byte SERVTD_EXT carrying ``init_hash`` and ``init_attr`` (protocol.md §7 layout)."""
    return init_hash + init_attr.to_bytes(8, "little") + bytes(216)


def test_source_with_init_tdinfo(make_side, report_dat: bytes) -> None:  # type: ignore[no-untyped-def]
    """SPDM variant: init MigTD owner/SVN binding, ServtdExt hash and engine-not-older."""
    from migtd.policy.v2.flows import servtd_ext_hash
    a = make_side()
    init = bytearray(512)
    init[16:64] = rpt.field(report_dat, "MRTD")
    init[208:256] = rpt.field(report_dat, "RTMR0")
    init[256:304] = rpt.field(report_dat, "RTMR1")
    init[112:160] = rpt.field(report_dat, "MROWNER")
    good_hash = servtd_ext_hash(bytes(init), 1 << 36)

    def run(tdinfo: bytes, digest: bytes = good_hash):  # type: ignore[no-untyped-def]
        return authenticate_migration_source(a.verified, local_report=a.report, peer_report=a.report,
                                             peer_event_log=a.log, peer_policy=a.policy, peer_chain=a.chain,
                                             tolerate_rtmr_mismatch=True, init_tdinfo=tdinfo,
                                             servtd_ext=servtd_ext(digest, 1 << 36))
    assert run(bytes(init)).ok
    changed_owner = bytearray(init)
    changed_owner[112] ^= 1
    assert run(bytes(changed_owner)).kind == "PolicyHashMismatch"
    assert run(bytes(init), bytes(48)).kind == "InvalidTdReport"
    unknown_engine = bytearray(init)
    unknown_engine[16] ^= 1
    assert run(bytes(unknown_engine), servtd_ext_hash(bytes(unknown_engine), 1 << 36)).kind == "SvnMismatch"
    # the MROWNER field is excluded from the hash by init_attr bit 36
    assert servtd_ext_hash(bytes(changed_owner), 1 << 36) == good_hash
    # the engine check classifies the masked init TDINFO (upstream): masking MRTD, RTMR0 or RTMR1 of the
    # known engine leaves one the mapping does not know
    for bit in (34, 38, 39):
        attr = 1 << 36 | 1 << bit
        decision = authenticate_migration_source(
            a.verified, local_report=a.report, peer_report=a.report, peer_event_log=a.log, peer_policy=a.policy,
            peer_chain=a.chain, tolerate_rtmr_mismatch=True, init_tdinfo=bytes(init),
            servtd_ext=servtd_ext(servtd_ext_hash(bytes(init), attr), attr))
        assert decision.kind == "SvnMismatch" and decision.failed_rules() == ["init.engine_not_older"], bit
    assert [r.name for r in run(bytes(init)).rules][-3:] == ["init.owner", "init.servtd_ext_hash",
                                                             "init.engine_not_older"]


def test_start_up_and_init_data_bindings(make_side) -> None:  # type: ignore[no-untyped-def]
    """§3.9.1 step 3 (verify_own_tdinfo) and §3.9.3 verify_init_migtd_data_policy_binding."""
    from migtd.attest.tdreport import TdInfo
    from migtd.policy.v2 import signer_key_hash, verify_init_migtd_data_policy_binding, verify_own_tdinfo

    def kind(fn, *args) -> str:  # type: ignore[no-untyped-def]
        try:
            fn(*args)
        except PolicyError as exc:
            return exc.kind.value
        return "pass"

    a = make_side(svn=3)
    signer = signer_key_hash(a.chain)
    config = (3).to_bytes(4, "little") + bytes(44)
    assert kind(verify_own_tdinfo, a.verified, signer, config) == "pass"
    assert kind(verify_own_tdinfo, a.verified, signer, (4).to_bytes(4, "little") + bytes(44)) == "SvnMismatch"
    assert kind(verify_own_tdinfo, a.verified, bytes(48), config) == "PolicyHashMismatch"

    def init(owner: bytes, cfg: bytes) -> bytes:
        return TdInfo(mrowner=owner, mrownerconfig=cfg).to_bytes()
    bind = verify_init_migtd_data_policy_binding
    assert kind(bind, a.verified, init(signer, (2).to_bytes(4, "little") + bytes(44))) == "pass"
    assert kind(bind, a.verified, init(signer, config)) == "pass"
    assert kind(bind, a.verified, init(signer, (4).to_bytes(4, "little") + bytes(44))) == "SvnMismatch"
    assert kind(bind, a.verified, init(bytes(48), config)) == "PolicyHashMismatch"
    assert kind(bind, a.verified, init(signer, config[:47] + b"\x01")) == "InvalidParameter"
    assert kind(bind, a.verified, bytes(100)) == "InvalidParameter"
