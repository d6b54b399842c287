"""The new MigTD's init-TDINFO checks, in upstream's order and on upstream's values (policy.md §3.9.3).

Upstream's ``authenticate_rebinding_old`` (``src/migtd/src/mig_policy.rs``)
checks the old MigTD's init TDINFO against the peer's TDREPORT owner and
policy SVN, then against SERVTD_EXT's init hash, then that the peer's engine
is not older than the init engine, and only then evaluates ``backwardPolicy``.
The engine check classifies the *masked* init TDINFO that the hash check
yields: when SERVTD_EXT's ``init_attr`` selects MRTD, RTMR0 or RTMR1 (bits 34,
38, 39), the zeroed register is what is looked up in the TCB mapping.

Every case judges a real rebinding certificate (ECDSA P-384, TDREPORT bound to
its key) with :class:`TdReportRebindVerifier`, under a signed policy whose TCB
mapping and backward policy the case chooses. A peer failing several checks
must get the error of the first one upstream makes.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import pytest
from cryptography.hazmat.primitives.asymmetric import ec

from migtd import eventlog, paths
from migtd.attest import suppl as rpt
from migtd.attest.tdreport import TdInfo, TdReport, TeeTcbInfo
from migtd.mock.providers import MOCK_MRSEAM, MOCK_TEE_TCB_SVN
from migtd.policy import generate_v2 as g
from migtd.policy import jsontext
from migtd.policy.errors import PolicyError
from migtd.policy.sign import sign_document
from migtd.policy.v2.flows import masked_tdinfo
from migtd.ratls.certificate import build_rebind_certificate, parse_certificate, public_point
from migtd.ratls.evidence import evidence_from_certificate
from migtd.result import MigrationResult
from migtd.session import peer_data_blob
from migtd.verdict import SessionFacts, Verdict
from migtd.verifiers.rebind import TdReportRebindVerifier

#: A backward policy whose evaluation fails with an error of its own kind (InvalidOperation),
#: so a case can tell "the backward policy ran first" from any init check.
BOGUS_BACKWARD = [{"servtd": {"migtdIdentity": {"isvsvn": {"operation": "bogus", "reference": 1}}}}]
#: The old MigTD's owner: MROWNER and MROWNERCONFIG (policy SVN 1) of its TDREPORT.
OWNER = bytes(range(48))
OWNER_CONFIG = (1).to_bytes(4, "little") + bytes(44)
#: init_attr bits (policy.md §3.9.3) and the TDINFO range each zeroes.
ENGINE_BITS = {34: ("MRTD", slice(16, 64)), 38: ("RTMR0", slice(208, 256)), 39: ("RTMR1", slice(256, 304))}


@dataclass
class Side:
    policy: bytes
    chain: bytes

    @property
    def blob(self) -> bytes:
        return peer_data_blob(self.policy, self.chain)

    @property
    def event_log(self) -> bytes:
        return eventlog.v2_event_log(self.chain, self.policy)


@pytest.fixture(scope="module")
def facts() -> g.TdFacts:
    return g.mock_facts(paths.mock_collateral().read_bytes(), paths.mock_root_ca().read_bytes())


@pytest.fixture(scope="module")
def signer() -> g.Signer:
    return g.Signer.load(paths.mock_dir() / "policy_signing_key.pem", paths.mock_dir() / "policy_issuer_chain.pem")


def _sign(value: Any, signer: g.Signer, name: str) -> Any:
    return jsontext.loads(sign_document(jsontext.compact(value).encode("utf-8"), signer.key_pem, name).decode())


def make_side(facts: g.TdFacts, signer: g.Signer, engines: Sequence[tuple[TdInfo, int]],
              backward: list[Any] | None = None) -> Side:
    """A signed policy whose TCB mapping holds ``engines`` (TDINFO → engine SVN), SVNs 1 and 2 UpToDate."""
    tcb_date = rpt.iso8601(rpt.tcb_date_seconds(facts.verified_report))
    identity = g.td_identity(facts, tcb_date)
    identity["tcbLevels"] = [{"tcb": {"isvsvn": svn}, "tcbDate": tcb_date, "tcbStatus": "UpToDate"}
                             for svn in (2, 1)]
    mapping = g.tcb_mapping([])
    mapping["svnMappings"] = [{"tdMeasurements": {"mrtd": info.mrtd.hex().upper(),
                                                  "rtmr0": info.rtmrs[0].hex().upper(),
                                                  "rtmr1": info.rtmrs[1].hex().upper()}, "isvsvn": svn}
                              for info, svn in engines]
    servtd = {"majorVersion": 1, "minorVersion": 0,
              "servtdIdentity": _sign(identity, signer, "tdIdentity"),
              "servtdIdentityIssuerChain": signer.chain_pem.decode("ascii"),
              "servtdTcbMapping": _sign(mapping, signer, "tdTcbMapping"),
              "servtdTcbMappingIssuerChain": signer.chain_pem.decode("ascii")}
    collateral = paths.mock_collateral().read_bytes()
    data = g.policy_data(facts, collateral, servtd, policy_id="REBIND-INIT-CHECKS")
    data["backwardPolicy"] = backward
    signed = sign_document(jsontext.compact(data).encode("utf-8"), signer.key_pem, "policyData")
    return Side(signed, signer.chain_pem)


def old_tdinfo(facts: g.TdFacts, chain: bytes) -> TdInfo:
    """The old MigTD's TDINFO: the mock TD's, with RTMRs of its v2 event log and the owner above."""
    rtmrs = eventlog.replay_rtmrs(eventlog.parse_event_log(eventlog.v2_event_log(chain, b"{}")))
    return TdInfo(attributes=facts.tdinfo.attributes, xfam=facts.tdinfo.xfam, mrtd=facts.tdinfo.mrtd,
                  mrowner=OWNER, mrownerconfig=OWNER_CONFIG, rtmrs=tuple(rtmrs))  # type: ignore[arg-type]


def servtd_ext(init: bytes, init_attr: int = 0, *, init_hash: bytes | None = None) -> bytes:
    """SERVTD_EXT with the plain init hash of ``init`` masked by ``init_attr`` (or ``init_hash``)."""
    digest = init_hash if init_hash is not None else hashlib.sha384(masked_tdinfo(init, init_attr)).digest()
    return digest + init_attr.to_bytes(8, "little") + bytes(216)


def certificate(side: Side, peer: TdInfo, init: bytes, ext: bytes) -> bytes:
    """The old MigTD's rebinding certificate: TDREPORT of ``peer`` bound to a fresh key, SERVTD_EXT, init TDINFO."""
    key = ec.generate_private_key(ec.SECP384R1())
    log = side.event_log
    rtmrs = eventlog.replay_rtmrs(eventlog.parse_event_log(log))
    info = TdInfo(peer.attributes, peer.xfam, peer.mrtd, peer.mrconfigid, peer.mrowner, peer.mrownerconfig,
                  tuple(rtmrs))  # type: ignore[arg-type]
    tee = TeeTcbInfo(valid=(1).to_bytes(8, "little"), tee_tcb_svn=MOCK_TEE_TCB_SVN, mrseam=MOCK_MRSEAM)
    report = TdReport.build(report_data=hashlib.sha384(public_point(key)).digest() + bytes(16), tee_tcb_info=tee,
                            td_info=info, cpusvn=MOCK_TEE_TCB_SVN).to_bytes()
    return build_rebind_certificate(key, log, report, policy_hash=hashlib.sha384(side.blob).digest(),
                                    servtd_ext=ext, init_tdinfo=init)


def new_judges(side: Side, der: bytes) -> Verdict:
    verifier = TdReportRebindVerifier(policy=side.policy, issuer_chain=side.chain, bypass=False)
    evidence = evidence_from_certificate(parse_certificate(der), verifier.needs(False))
    return verifier.verify(evidence, SessionFacts(peer_blob=side.blob), False)


def outcome(verdict: Verdict) -> tuple[str, list[str]]:
    """(error kind, failing rules) of a verdict; ("OK", []) when accepted."""
    failure = verdict.failure
    if failure is None:
        return "OK", []
    assert isinstance(failure, PolicyError), failure
    assert failure.result == MigrationResult.PolicyUnsatisfiedError or failure.kind.value == "InvalidPolicy"
    return failure.kind.value, [r.name for r in verdict.rules if not r.ok]


def with_field(info: TdInfo, **fields: Any) -> TdInfo:
    values = {name: getattr(info, name) for name in ("attributes", "xfam", "mrtd", "mrconfigid", "mrowner",
                                                     "mrownerconfig", "rtmrs", "servtd_hash")}
    values.update(fields)
    return TdInfo(**values)


def test_a_well_formed_old_migtd_passes_every_init_check_in_order(facts: g.TdFacts, signer: g.Signer) -> None:
    peer = old_tdinfo(facts, signer.chain_pem)
    side = make_side(facts, signer, [(peer, 1)])
    init = peer.to_bytes()
    verdict = new_judges(side, certificate(side, peer, init, servtd_ext(init)))
    assert outcome(verdict) == ("OK", [])
    names = [r.name for r in verdict.rules]
    init_rules = [n for n in names if n.startswith("init.")]
    assert init_rules == ["init.owner", "init.servtd_ext_hash", "init.engine_not_older"]
    assert names.index("init.engine_not_older") < names.index("mandatory.migtd_tcb_status")
    engine = next(r for r in verdict.rules if r.name == "init.engine_not_older")
    assert (engine.local, engine.actual) == ("1", "1")


# ----------------------------------------------------------------------------- order

def test_owner_is_checked_before_the_hash_the_engine_and_the_backward_policy(facts: g.TdFacts,
                                                                              signer: g.Signer) -> None:
    """A peer failing all four checks gets the owner's error (upstream: PolicyHashMismatch)."""
    peer = old_tdinfo(facts, signer.chain_pem)
    side = make_side(facts, signer, [(peer, 1)], backward=BOGUS_BACKWARD)
    init = with_field(peer, mrowner=bytes(48), mrtd=b"\x01" * 48).to_bytes()  # other owner, unknown engine
    verdict = new_judges(side, certificate(side, peer, init, servtd_ext(init, init_hash=bytes(48))))
    assert outcome(verdict) == ("PolicyHashMismatch", ["init.owner"])


def test_a_higher_init_policy_svn_is_the_owner_check_too(facts: g.TdFacts, signer: g.Signer) -> None:
    peer = old_tdinfo(facts, signer.chain_pem)
    side = make_side(facts, signer, [(peer, 1)], backward=BOGUS_BACKWARD)
    init = with_field(peer, mrownerconfig=(2).to_bytes(4, "little") + bytes(44)).to_bytes()
    verdict = new_judges(side, certificate(side, peer, init, servtd_ext(init, init_hash=bytes(48))))
    assert outcome(verdict) == ("SvnMismatch", ["init.owner"])


def test_the_hash_is_checked_before_the_engine_and_the_backward_policy(facts: g.TdFacts,
                                                                       signer: g.Signer) -> None:
    peer = old_tdinfo(facts, signer.chain_pem)
    side = make_side(facts, signer, [(peer, 1)], backward=BOGUS_BACKWARD)
    init = with_field(peer, mrtd=b"\x01" * 48).to_bytes()
    verdict = new_judges(side, certificate(side, peer, init, servtd_ext(init, init_hash=bytes(48))))
    assert outcome(verdict) == ("InvalidTdReport", ["init.servtd_ext_hash"])


def test_the_engine_is_checked_before_the_backward_policy(facts: g.TdFacts, signer: g.Signer) -> None:
    """Init engine unknown to our mapping, backward policy broken: the engine's SvnMismatch wins."""
    peer = old_tdinfo(facts, signer.chain_pem)
    side = make_side(facts, signer, [(peer, 1)], backward=BOGUS_BACKWARD)
    init = with_field(peer, mrtd=b"\x01" * 48).to_bytes()
    verdict = new_judges(side, certificate(side, peer, init, servtd_ext(init)))
    assert outcome(verdict) == ("SvnMismatch", ["init.engine_not_older"])
    engine = next(r for r in verdict.rules if r.name == "init.engine_not_older")
    assert (engine.local, engine.actual) == ("not in the TCB mapping", "1")


def test_an_older_peer_engine_is_refused_before_the_backward_policy(facts: g.TdFacts, signer: g.Signer) -> None:
    """The init engine has SVN 2, the peer's SVN 1: the peer was downgraded since the initial binding."""
    peer = old_tdinfo(facts, signer.chain_pem)
    newer = with_field(peer, mrtd=b"\x02" * 48)
    side = make_side(facts, signer, [(peer, 1), (newer, 2)], backward=BOGUS_BACKWARD)
    init = newer.to_bytes()
    verdict = new_judges(side, certificate(side, peer, init, servtd_ext(init)))
    assert outcome(verdict) == ("SvnMismatch", ["init.engine_not_older"])
    assert "below the init MigTD's 2" in str(verdict.failure)


def test_the_backward_policy_comes_last(facts: g.TdFacts, signer: g.Signer) -> None:
    peer = old_tdinfo(facts, signer.chain_pem)
    side = make_side(facts, signer, [(peer, 1)], backward=BOGUS_BACKWARD)
    init = peer.to_bytes()
    verdict = new_judges(side, certificate(side, peer, init, servtd_ext(init)))
    assert outcome(verdict) == ("InvalidOperation", ["servtd.migtdIdentity.isvsvn"])
    names = [r.name for r in verdict.rules]
    assert names[-4:] == ["init.owner", "init.servtd_ext_hash", "init.engine_not_older",
                          "servtd.migtdIdentity.isvsvn"]


def test_a_short_servtd_ext_is_invalid_parameter_after_the_owner_check(facts: g.TdFacts, signer: g.Signer) -> None:
    peer = old_tdinfo(facts, signer.chain_pem)
    side = make_side(facts, signer, [(peer, 1)], backward=BOGUS_BACKWARD)
    init = peer.to_bytes()
    verdict = new_judges(side, certificate(side, peer, init, servtd_ext(init)[:271]))
    assert outcome(verdict) == ("InvalidParameter", ["init.servtd_ext_hash"])
    long_ext = new_judges(side, certificate(side, peer, init, servtd_ext(init) + b"\xff" * 8))
    assert outcome(long_ext) == ("InvalidOperation", ["servtd.migtdIdentity.isvsvn"])   # read from its start, as upstream reads it


# ----------------------------------------------------------------------------- masked fields

def init_engine(peer: TdInfo) -> TdInfo:
    """An init MigTD engine other than the peer's, with MRTD, RTMR0 and RTMR1 all non-zero."""
    rtmrs = (b"\x22" * 48, b"\x33" * 48, *peer.rtmrs[2:])
    return with_field(peer, mrtd=b"\x11" * 48, rtmrs=rtmrs)


@pytest.mark.parametrize("bit", sorted(ENGINE_BITS))
def test_engine_check_sees_the_masked_register_not_the_raw_one(facts: g.TdFacts, signer: g.Signer,
                                                               bit: int) -> None:
    """init_attr masks MRTD/RTMR0/RTMR1: the zeroed engine is not in the mapping, so the peer is refused.

    The raw init engine is in the mapping with the peer's SVN: a check on it would pass.
    """
    peer = old_tdinfo(facts, signer.chain_pem)
    init_info = init_engine(peer)
    side = make_side(facts, signer, [(peer, 1), (init_info, 1)])
    init = init_info.to_bytes()
    verdict = new_judges(side, certificate(side, peer, init, servtd_ext(init, 1 << bit)))
    assert outcome(verdict) == ("SvnMismatch", ["init.engine_not_older"])
    engine = next(r for r in verdict.rules if r.name == "init.engine_not_older")
    assert (engine.local, engine.actual) == ("not in the TCB mapping", "1")
    unmasked = new_judges(side, certificate(side, peer, init, servtd_ext(init)))
    assert outcome(unmasked) == ("OK", [])


@pytest.mark.parametrize("bit", sorted(ENGINE_BITS))
def test_a_masked_register_is_looked_up_as_zero(facts: g.TdFacts, signer: g.Signer, bit: int) -> None:
    """The raw init register is unknown, the mapping knows the engine with that register zero: accepted,
    and with the zeroed engine's SVN (2 here) compared with the peer's (1): refused as older."""
    name, where = ENGINE_BITS[bit]
    peer = old_tdinfo(facts, signer.chain_pem)
    raw = bytearray(init_engine(peer).to_bytes())
    raw[where] = b"\x5a" * 48                       # an engine no mapping knows
    zeroed = TdInfo.parse(masked_tdinfo(bytes(raw), 1 << bit), base=0)
    assert {"MRTD": zeroed.mrtd, "RTMR0": zeroed.rtmrs[0], "RTMR1": zeroed.rtmrs[1]}[name] == bytes(48)
    for svn, expected in ((1, ("OK", [])), (2, ("SvnMismatch", ["init.engine_not_older"]))):
        side = make_side(facts, signer, [(peer, 1), (zeroed, svn)])
        verdict = new_judges(side, certificate(side, peer, bytes(raw), servtd_ext(bytes(raw), 1 << bit)))
        assert outcome(verdict) == expected


@pytest.mark.parametrize("bit", [32, 33, 35, 36, 37, 40, 41])
def test_other_masked_fields_do_not_reach_the_engine_check(facts: g.TdFacts, signer: g.Signer, bit: int) -> None:
    """Bits that mask ATTRIBUTES, XFAM, MRCONFIGID, MROWNER(CONFIG), RTMR2/3: the hash ignores the field,
    the engine is still the peer's. (MROWNER/MROWNERCONFIG stay as they are, for the owner check.)"""
    peer = old_tdinfo(facts, signer.chain_pem)
    side = make_side(facts, signer, [(peer, 1)])
    init = peer.to_bytes()
    ext = servtd_ext(init, 1 << bit)
    verdict = new_judges(side, certificate(side, peer, init, ext))
    assert outcome(verdict) == ("OK", [])
    # and the hash really ignores that field: changing it in the SERVTD_EXT's TDINFO still matches
    offsets = {32: 0, 33: 8, 35: 64, 36: 112, 37: 160, 40: 304, 41: 352}
    other = bytearray(init)
    other[offsets[bit]] ^= 0xFF
    assert servtd_ext(bytes(other), 1 << bit) == ext
