"""Policy v2: every case of spec/policy.md §6.2 against the vectors in tests/vectors."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import pytest

from migtd.attest import suppl as rpt
from migtd.policy import jsontext
from migtd.policy.errors import PolicyError
from migtd.policy.v1_events import NamedEvent
from migtd.policy.v2 import (
    EvaluationInfo,
    check_engine_not_older,
    check_policy_integrity,
    check_policy_svn,
    eval_int,
    eval_servtd_status,
    eval_str,
    eval_tcb_status,
    evaluate_block,
    fmspc_from_quote,
    global_eval,
    signer_key_hash,
    validate_peer_chain,
    verify_chain_and_signature,
    verify_peer_init_tdinfo_against_owner,
    verify_peer_init_tdinfo_against_suppl_data,
    verify_signed_policy,
)
from migtd.policy.v2.chain import ChainError
from migtd.policy.v2.collaterals import parse_collaterals
from migtd.policy.v2.container import decode_signature, hex_to_bytes
from migtd.policy.v2.document import make_prop, parse_entries, parse_global, parse_policy_data
from migtd.policy.v2.servtd import Measurements, parse_tcb_mapping
from migtd.result import MigrationResult

PV2 = "src/policy/test/policy_v2"
TC = f"{PV2}/cert_chain/policy_issuer_chain.pem"
TT = "config/templates/policy_issuer_chain.pem"
STATUSES = ["UpToDate", "SWHardeningNeeded", "OutOfDate", "ConfigurationNeeded",
            "ConfigurationAndSWHardeningNeeded", "OutOfDateConfigurationNeeded", "Revoked"]


def kind_of(fn, *args, **kw) -> str:  # type: ignore[no-untyped-def]
    try:
        fn(*args, **kw)
    except PolicyError as exc:
        return exc.kind.value
    return "pass"


def read(pvec: Path, rel: str) -> bytes:
    return (pvec / rel).read_bytes()


# --------------------------------------------------------------------------- §3.5 signed container

SIGNED_CASES = [
    ("V2-01", f"{PV2}/policy_v2.json", TC, "pass"),
    ("V2-02", "config/templates/policy_v2_signed.json", TT, "pass"),
    ("V2-03", f"{PV2}/policy_v2.json", TT, "SignatureVerificationFailed"),
    ("V2-05", "derived/v2/policy_v2_pretty_policydata.json", TC, "SignatureVerificationFailed"),
    ("V2-06", "derived/v2/policy_v2_svn_tampered.json", TC, "SignatureVerificationFailed"),
    ("V2-07", "derived/v2/policy_v2_sig_odd_length.json", TC, "InvalidParameter"),
    ("V2-07-nonhex", "derived/v2/policy_v2_sig_nonhex.json", TC, "InvalidParameter"),
    ("V2-09", "derived/v2/policy_v2_no_signature.json", TC, "InvalidPolicy"),
    ("V2-10", "derived/v2/policy_v2_whitespace_outside.json", TC, "pass"),
]


@pytest.mark.parametrize("case,policy,chain,expected", SIGNED_CASES, ids=[c[0] for c in SIGNED_CASES])
def test_verify_signed(pvec: Path, case: str, policy: str, chain: str, expected: str) -> None:
    assert kind_of(verify_signed_policy, read(pvec, policy), read(pvec, chain)) == expected


def test_v2_01_fields(pvec: Path) -> None:
    v = verify_signed_policy(read(pvec, f"{PV2}/policy_v2.json"), read(pvec, TC))
    assert (v.data.version, v.data.policy_svn) == ("2.0", 1)
    assert v.file_sha384.hex().upper().startswith("55F4D9E0") and v.file_sha384.hex().upper().endswith("0707A577")


def test_v2_11_chain_not_utf8(pvec: Path) -> None:
    assert kind_of(verify_signed_policy, read(pvec, f"{PV2}/policy_v2.json"), b"\xff\xfe") == "InvalidPolicy"


def test_v2_13_policy_data_file_is_the_signed_bytes(pvec: Path) -> None:
    signed = json.loads(read(pvec, f"{PV2}/policy_v2.json"))
    verify_chain_and_signature(read(pvec, TC), read(pvec, f"{PV2}/policy_data.json"),
                               decode_signature(signed["signature"]))
    with pytest.raises(ChainError):
        verify_chain_and_signature(read(pvec, TC), read(pvec, f"{PV2}/policy_data.json") + b" ",
                                   decode_signature(signed["signature"]))


def test_v2_15_parse_policy_data(pvec: Path) -> None:
    data = parse_policy_data(jsontext.loads(read(pvec, f"{PV2}/policy_data.json").decode()))
    assert data.version == "2.0" and data.policy is not None and len(data.policy) == 1


# --------------------------------------------------------------------------- V2-14: own key, schema errors

def _own_policy(pvec: Path, **changes: object) -> dict:
    data = json.loads(read(pvec, f"{PV2}/policy_data.json"))
    data.update(changes)
    return data


def _identity_and_mapping(pvec: Path) -> tuple[dict, dict]:
    sc = json.loads(read(pvec, f"{PV2}/policy_data.json"))["servtdCollateral"]
    return sc["servtdIdentity"]["tdIdentity"], sc["servtdTcbMapping"]["tdTcbMapping"]


def test_v2_14_own_key_schema_errors(pvec: Path, chain2, bundle) -> None:  # type: ignore[no-untyped-def]
    key, chain, _ = chain2
    ident, mapping = _identity_and_mapping(pvec)

    def outcome(data: dict, identity: dict = ident) -> str:
        signed = bundle(data, key, chain, td_identity=identity, tcb_mapping=mapping)
        return kind_of(verify_signed_policy, signed, chain)

    assert outcome(_own_policy(pvec)) == "pass"
    assert outcome(_own_policy(pvec, version="2.1")) == "InvalidParameter"
    assert outcome(_own_policy(pvec, id="")) == "InvalidParameter"
    assert outcome(_own_policy(pvec, policy=[{"bogus": {}}])) == "InvalidPolicy"
    no_identity_prod = {k: v for k, v in ident.items() if k != "isvProdId"}
    assert outcome(_own_policy(pvec), no_identity_prod) == "InvalidServtdIdentity"
    # servtdCollateral removed: sign the bare policyData directly
    from migtd.policy.sign import sign_document
    bare = {k: v for k, v in _own_policy(pvec).items() if k != "servtdCollateral"}
    signed = sign_document(jsontext.compact(bare).encode(), key, "policyData")
    assert kind_of(verify_signed_policy, signed, chain) == "InvalidPolicy"


# --------------------------------------------------------------------------- §3.2 chains

def test_v2_17_19_peer_chain_validation(pvec: Path) -> None:
    tt, tc = read(pvec, TT), read(pvec, TC)
    validate_peer_chain(tt, tt)                               # V2-17
    with pytest.raises(ChainError, match="not a CA"):
        validate_peer_chain(tc, tc)                           # V2-18
    with pytest.raises(ChainError, match="root"):
        validate_peer_chain(tt, tc)                           # V2-19


def test_v2_21_signer_key_hashes(pvec: Path) -> None:
    assert signer_key_hash(read(pvec, TC)).hex().upper() == (
        "1EB9EF4565CE85BFAC654035836218FA0C0E5F5EDE13484E9F2FD03D065ED5BA91CAE4EE808B5130873169D95FED9613")
    assert signer_key_hash(read(pvec, TT)).hex().upper() == (
        "BCDC571FDC9720A5660F42E0030A56CFDF4C336879851A6D9D5C7CE276B33CA74415D0F25FA0D478AF4D34306F343110")


# --------------------------------------------------------------------------- §3.4 collaterals, §3.10 FMSPC

def test_v2_22_25_collaterals(pvec: Path) -> None:
    c = parse_collaterals(jsontext.loads(read(pvec, f"{PV2}/collaterals.json").decode()))
    assert len(c.platforms) == 26                                              # V2-22
    assert c.platform(bytes.fromhex("00C06F000000")).fmspc == "00C06F000000"   # V2-23
    assert c.tcb_evaluation_number(bytes.fromhex("20C06F000000")) == 5
    assert (c.pck_crl_num, c.root_ca_crl_num) == (1, 1)                        # V2-25
    assert kind_of(c.platform, bytes.fromhex("FFFFFF000000")) == "InvalidCollateral"
    assert kind_of(c.platform, bytes(5)) == "InvalidParameter"


def test_v2_26_fmspc_from_quote(pvec: Path, vectors: Path) -> None:
    quote = (vectors / "attestation" / "az_migtd_quote.blob").read_bytes()  # upstream config/AzCVMEmu/
    assert fmspc_from_quote(quote).hex().upper() == "90C06F000000"
    assert kind_of(fmspc_from_quote, bytes(100)) == "InvalidQuote"


# --------------------------------------------------------------------------- §3.7 evaluators

def P(op: str, ref: object):  # type: ignore[no-untyped-def]
    return make_prop(op, ref, "rule")


def test_v2_27_e_int() -> None:
    rel = 2**32 - 1
    assert [eval_int(P("greater-or-equal", 5), v, rel) for v in (5, 10, 4)] == [True, True, False]


@pytest.mark.parametrize("prop,accepted", [
    (("allow-list", ["UpToDate"]), {"UpToDate", "SWHardeningNeeded", "OutOfDate"}),                    # V2-29
    (("allow-list", ["ConfigurationNeeded"]), set(STATUSES) - {"Revoked"}),                            # V2-30
    (("deny-list", ["OutOfDate"]), {"UpToDate", "SWHardeningNeeded", "OutOfDate"}),                    # V2-31
    (("equal", "UpToDate"), {"UpToDate", "SWHardeningNeeded", "OutOfDate"}),                          # V2-33
    (("allow-list", ["OutOfDateConfigurationNeeded"]), {"UpToDate", "SWHardeningNeeded", "OutOfDate"}),
])
def test_v2_29_33_tcb_status(prop: tuple, accepted: set) -> None:
    got = {s for s in STATUSES if eval_tcb_status(P(*prop), s, "UpToDate")}
    assert got == accepted


def test_v2_31_empty_string_list_deny() -> None:
    from migtd.policy.v2.document import Prop, RefKind
    empty = Prop("deny-list", RefKind.STRING_LIST, (), "[]", "rule")   # programmatic STRING_LIST []
    assert {s for s in STATUSES if eval_tcb_status(empty, s, None)} == {"UpToDate", "SWHardeningNeeded", "OutOfDate"}


def test_v2_33_relative_configuration_needed() -> None:
    got = {s for s in STATUSES if eval_tcb_status(P("equal", "ConfigurationNeeded"), s, "ConfigurationNeeded")}
    assert got == set(STATUSES) - {"Revoked"}
    assert kind_of(eval_tcb_status, P("equal", "self"), "ConfigurationNeeded", None) == "InvalidReference"
    assert kind_of(eval_tcb_status, P("equal", "Bogus"), "ConfigurationNeeded", None) == "InvalidParameter"
    assert kind_of(eval_tcb_status, P("subset", ["UpToDate"]), "ConfigurationNeeded", None) == "InvalidOperation"
    assert kind_of(eval_tcb_status, P("allow-list", []), "ConfigurationNeeded", None) == "InvalidReference"


def test_v2_34_35_servtd_status() -> None:
    for prop in (P("allow-list", []), P("allow-list", ["Revoked"])):
        assert [eval_servtd_status(prop, s) for s in ("UpToDate", "OutOfDate", "Revoked")] == [True, True, False]


def test_v2_35_rank_relations() -> None:
    from migtd.policy.v2.evaluate import SERVTD_STATUS_RANK, TCB_STATUS_RANK
    r = TCB_STATUS_RANK
    assert r["UpToDate"] == r["OutOfDate"] == r["SWHardeningNeeded"] > r["ConfigurationNeeded"]
    assert r["ConfigurationNeeded"] == r["ConfigurationAndSWHardeningNeeded"] == r["OutOfDateConfigurationNeeded"]
    assert r["OutOfDateConfigurationNeeded"] > r["Revoked"]
    assert SERVTD_STATUS_RANK["UpToDate"] == SERVTD_STATUS_RANK["OutOfDate"] > SERVTD_STATUS_RANK["Revoked"]


@pytest.mark.parametrize("op,ref,value,rel,expected", [
    ("in-range", "13..", 15, None, "InvalidReference"),          # V2-37
    ("in-range", "..18", 15, None, "InvalidReference"),
    ("in-range", "1..2..3", 2, None, "InvalidOperation"),
    ("equal", "13", 13, None, "InvalidOperation"),
    ("in-range", "13..18", 18, None, True),                      # inclusive end (v1 is exclusive)
    ("in-time-range", "13..18", 12, None, False),
    ("equal", "self", 2, None, "InvalidReference"),              # V2-38
    ("equal", "init", 2, 2, True),
    ("bogus", "self", 2, None, "InvalidReference"),              # reference resolved before operation
    ("bogus", "self", 2, 2, "InvalidOperation"),
    ("subset", [1, 3], 3, None, True),                           # V2-39
    ("subset", [], 3, None, False),
    ("subset", ["1"], 1, None, "InvalidReference"),
    ("array-equal", 5, 5, None, "InvalidOperation"),
])
def test_v2_37_39_e_int(op: str, ref: object, value: int, rel: int | None, expected: object) -> None:
    try:
        got: object = eval_int(P(op, ref), value, rel)
    except PolicyError as exc:
        got = exc.kind.value
    assert got == expected


def test_v2_47_e_str() -> None:
    assert kind_of(eval_str, P("allow-list", []), "x", None) == "InvalidReference"
    assert eval_str(P("deny-list", ["30806F000000"]), "30806F000000", None) is False
    assert eval_str(P("equal", "30806f000000"), "30806F000000", None) is False
    assert eval_str(P("greater-or-equal", "2024-01-01T00:00:00Z"), "2025-10-22T03:24:16Z", None) is True


# --------------------------------------------------------------------------- §3.8 blocks (V2-40 … V2-56)

GLOBAL_OK = {"tcb_date": "2025-09-01T00:00:00Z", "tcb_status": "UpToDate", "tcb_evaluation_number": 15,
             "fmspc": bytes.fromhex("10C06F000000")}


@pytest.mark.parametrize("case,changes,expected", [
    ("V2-40", {}, "pass"),
    ("V2-41", {"tcb_date": "2024-09-01T00:00:00Z"}, "TcbEvaluation"),
    ("V2-42", {"tcb_status": "Revoked"}, "TcbEvaluation"),
    ("V2-43", {"tcb_status": "ConfigurationNeeded", "tcb_evaluation_number": 10}, "TcbEvaluation"),
    ("V2-45", {"tcb_status": "ConfigurationNeeded"}, "pass"),
    ("V2-46a", {"tcb_status": "OutOfDateConfigurationNeeded"}, "pass"),
    ("V2-46b", {"tcb_status": "TDRelaunchAdvised"}, "TcbEvaluation"),
    ("V2-46c", {"fmspc": None}, "TcbEvaluation"),
    ("fmspc-not-listed", {"fmspc": bytes.fromhex("30806F000000")}, "TcbEvaluation"),
])
def test_v2_40_46_global(pvec: Path, case: str, changes: dict, expected: str) -> None:
    g = parse_global(jsontext.loads(read(pvec, f"{PV2}/global.json").decode()), "global")
    value = EvaluationInfo(**{**GLOBAL_OK, **changes})
    assert kind_of(global_eval, g, value, EvaluationInfo()) == expected


@pytest.mark.parametrize("case,value,skip_global,expected", [
    ("V2-49", EvaluationInfo(tcb_status="Revoked"), False, "TcbEvaluation"),
    ("V2-50", EvaluationInfo(migtd_tcb_status="Revoked"), True, "SvnMismatch"),
    ("V2-51", EvaluationInfo(tcb_status="UpToDate", migtd_tcb_status="UpToDate"), False, "pass"),
    ("V2-53a", EvaluationInfo(tcb_status="UpToDate"), False, "UnqualifiedMigTdInfo"),
    ("V2-53b", EvaluationInfo(tcb_status="UpToDate"), True, "UnqualifiedMigTdInfo"),
    ("V2-54", EvaluationInfo(tcb_status="TDRelaunchAdvised", migtd_tcb_status="UpToDate"), False,
     "InvalidParameter"),
    ("engine-status-unknown", EvaluationInfo(migtd_tcb_status="ConfigurationNeeded"), True, "InvalidParameter"),
])
def test_v2_49_54_mandatory_deny(case: str, value: EvaluationInfo, skip_global: bool, expected: str) -> None:
    assert kind_of(evaluate_block, None, value, EvaluationInfo(), skip_global) == expected


AZURE_VALUE = {"tcb_date": "2024-01-01T00:00:00Z", "tcb_status": "UpToDate", "fmspc": bytes.fromhex("90C06F000000"),
               "migtd_tcb_date": "2026-05-01T00:00:00Z", "migtd_tcb_status": "UpToDate", "migtd_isvsvn": 1}


@pytest.mark.parametrize("changes,skip_global,expected", [
    ({}, False, "pass"),
    ({"migtd_tcb_date": "2024-01-01T00:00:00Z"}, False, "SvnMismatch"),
    ({"fmspc": bytes.fromhex("30806F000000")}, False, "TcbEvaluation"),
    ({"fmspc": bytes.fromhex("30806F000000")}, True, "pass"),
])
def test_v2_55_azure_policy(pvec: Path, changes: dict, skip_global: bool, expected: str) -> None:
    doc = jsontext.loads(read(pvec, "config/Azure/policy_data_raw.json").decode())
    entries = parse_entries(doc["policy"], "policy")
    rules: list = []
    got = kind_of(evaluate_block, entries, EvaluationInfo(**{**AZURE_VALUE, **changes}), EvaluationInfo(),
                  skip_global, rules)
    assert got == expected
    assert rules and (all(r.ok for r in rules) == (expected == "pass"))


def test_v2_56_allow_all(pvec: Path) -> None:
    doc = jsontext.loads(read(pvec, "config/Azure/policy_allow_all_data_raw.json").decode())
    entries = parse_entries(doc["policy"], "policy")
    assert entries == ()
    assert kind_of(evaluate_block, entries, EvaluationInfo(**AZURE_VALUE), EvaluationInfo(), False) == "pass"


def test_v2_57_policy_svn() -> None:
    assert [kind_of(check_policy_svn, c, 2) for c in (1, 2, 3)] == ["SvnMismatch", "pass", "pass"]


# --------------------------------------------------------------------------- §3.4.2 ServTD documents

def test_v2_58_engine_svn(pvec: Path) -> None:
    m = parse_tcb_mapping(jsontext.loads(read(pvec, f"{PV2}/tcb_mapping.json").decode()))
    mrtd = "E2C7DA7CF0D93973480F0A34A6FE52A204EA81B4F1B6CD16018F5B4CAEE7B3B544A9738464A7C95E1705E20687A0ADA6"
    rtmr = "518923B0F955D08DA077C96AABA522B9DECEDE61C599CEA6C41889CFBEA4AE4D50529D96FE4D1AFDAFB65E7F95BF23C4"
    assert m.engine_svn(Measurements(mrtd, rtmr, rtmr, None, "0" * 96)) == 1
    assert m.engine_svn(Measurements("AB" * 48, rtmr, rtmr, None, "0" * 96)) is None
    assert m.engine_svn(Measurements(mrtd.lower(), rtmr, rtmr, None, "0" * 96)) == 1
    assert m.engine_svn(Measurements(mrtd, rtmr, rtmr, None, None)) is None


def _mapping(pairs: list[tuple[str, int]]):  # type: ignore[no-untyped-def]
    return parse_tcb_mapping({"id": "x", "version": 1, "issueDate": "", "nextUpdate": "", "mrSigner": "",
                              "isvProdId": 1, "svnMappings": [
                                  {"tdMeasurements": {"mrtd": b * 48, "rtmr0": b * 48, "rtmr1": b * 48}, "isvsvn": s}
                                  for b, s in pairs]})


@pytest.mark.parametrize("peer,init,expected", [
    ("A1", "B2", "SvnMismatch"), ("B2", "A1", "pass"), ("A1", "A1", "pass"),
    ("CC", "A1", "SvnMismatch"), ("A1", "CC", "SvnMismatch"),
])
def test_v2_59_engine_not_older(peer: str, init: str, expected: str) -> None:
    m = _mapping([("A1", 1), ("B2", 2)])
    meas = {b: Measurements(b * 48, b * 48, b * 48) for b in ("A1", "B2", "CC")}
    assert kind_of(check_engine_not_older, m, meas[peer], meas[init]) == expected


def test_v2_61_report_dat_engine_unknown(pvec: Path, report_dat: bytes) -> None:
    m = parse_tcb_mapping(jsontext.loads(read(pvec, f"{PV2}/tcb_mapping.json").decode()))
    target = Measurements.from_bytes(*(rpt.field(report_dat, n) for n in ("MRTD", "RTMR0", "RTMR1", "RTMR2", "RTMR3")))
    assert m.engine_svn(target) is None
    assert kind_of(evaluate_block, None, EvaluationInfo(tcb_status="UpToDate"), EvaluationInfo(), False) \
        == "UnqualifiedMigTdInfo"


def _tdinfo(mrowner: bytes = b"\xAA" * 48, svn: int = 5) -> bytearray:
    t = bytearray(512)
    t[112:160] = mrowner
    t[160:164] = svn.to_bytes(4, "little")
    return t


def _config(svn: int) -> bytes:
    return svn.to_bytes(4, "little") + bytes(44)


def test_v2_62_init_tdinfo_against_owner() -> None:
    aa, bb = b"\xAA" * 48, b"\xBB" * 48
    f = verify_peer_init_tdinfo_against_owner
    assert kind_of(f, bytes(_tdinfo(svn=5)), aa, _config(5)) == "pass"
    assert kind_of(f, bytes(_tdinfo(svn=3)), aa, _config(7)) == "pass"
    assert kind_of(f, bytes(_tdinfo(svn=10)), aa, _config(5)) == "SvnMismatch"
    assert kind_of(f, bytes(_tdinfo()), bb, _config(5)) == "PolicyHashMismatch"
    bad_init = _tdinfo()
    bad_init[200] = 1
    assert kind_of(f, bytes(bad_init), aa, _config(5)) == "InvalidParameter"
    bad_peer = bytearray(_config(5))
    bad_peer[20] = 1
    assert kind_of(f, bytes(_tdinfo()), aa, bytes(bad_peer)) == "InvalidParameter"
    assert kind_of(f, bytes(256), aa, _config(5)) == "InvalidParameter"
    assert kind_of(f, bytes(_tdinfo()), aa[:32], _config(5)) == "InvalidParameter"
    assert kind_of(f, bytes(_tdinfo()), aa, _config(5)[:32]) == "InvalidParameter"


def test_v2_63_init_tdinfo_against_suppl() -> None:
    cd = b"\xCD" * 48
    suppl = rpt.with_field(rpt.with_field(bytes(822), "MROWNER", cd), "MROWNERCONFIG", _config(5))
    f = verify_peer_init_tdinfo_against_suppl_data
    assert kind_of(f, bytes(_tdinfo(cd, 3)), suppl) == "pass"
    assert kind_of(f, bytes(_tdinfo(cd, 3)), suppl[:821]) == "InvalidParameter"
    assert kind_of(f, bytes(_tdinfo(cd, 3)), rpt.with_field(suppl, "MROWNER", b"\xEE" * 48)) == "PolicyHashMismatch"
    assert kind_of(f, bytes(_tdinfo(cd, 7)), suppl) == "SvnMismatch"


def test_v2_65_iso8601(report_dat: bytes) -> None:
    assert rpt.iso8601(1704067200) == "2024-01-01T00:00:00Z"
    assert rpt.iso8601(rpt.tcb_date_seconds(report_dat)) == "2025-10-22T03:24:16Z"


def test_v2_66_hex() -> None:
    assert hex_to_bytes("48656c6c6f") == b"Hello"
    assert hex_to_bytes("ff00ff") == b"\xff\x00\xff"
    assert kind_of(hex_to_bytes, "123g") == "InvalidParameter"
    assert kind_of(hex_to_bytes, "123") == "InvalidParameter"


def test_v2_67_policy_integrity(pvec: Path) -> None:
    signed = read(pvec, f"{PV2}/policy_v2.json")
    other = read(pvec, "config/templates/policy_v2_signed.json")
    good = {"MigTdPolicy": NamedEvent(hashlib.sha384(signed).digest())}
    assert kind_of(check_policy_integrity, good, signed) == "pass"
    assert kind_of(check_policy_integrity, {}, signed) == "PolicyHashMismatch"
    assert kind_of(check_policy_integrity, {"MigTdPolicy": NamedEvent(hashlib.sha384(other).digest())}, signed) \
        == "PolicyHashMismatch"
    assert hashlib.sha384(other).hexdigest().upper().startswith("0D34A7D8")
    assert hashlib.sha384(other).hexdigest().upper().endswith("30109F94")


def test_result_mapping() -> None:
    """§1.3: InvalidPolicy -> 9, every other policy failure -> 8."""
    from migtd.policy.errors import PolicyErrorKind
    for kind in PolicyErrorKind:
        expected = (MigrationResult.InvalidPolicyError if kind is PolicyErrorKind.InvalidPolicy
                    else MigrationResult.PolicyUnsatisfiedError)
        assert PolicyError(kind, "x").result is expected
