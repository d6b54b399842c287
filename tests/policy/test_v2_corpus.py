"""The upstream v2 data files (spec/policy.md §4), each with its expected parse/verify outcome."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from migtd.policy import jsontext
from migtd.policy.errors import PolicyError
from migtd.policy.sign import check_canonical
from migtd.policy.v2 import verify_servtd_collateral
from migtd.policy.v2.chain import verify_chain_and_signature
from migtd.policy.v2.collaterals import parse_collaterals
from migtd.policy.v2.container import decode_signature, parse_container
from migtd.policy.v2.document import parse_entries, parse_policy_data
from migtd.policy.v2.servtd import parse_tcb_mapping, parse_td_identity

TT = "config/templates/policy_issuer_chain.pem"


def text(pvec: Path, rel: str) -> str:
    return (pvec / rel).read_text()


@pytest.mark.parametrize("rel", ["src/policy/test/policy_v2/servtd_collateral.json",
                                 "config/templates/servtd_collateral.json"])
def test_servtd_collaterals_verify(pvec: Path, rel: str) -> None:
    sc = verify_servtd_collateral(text(pvec, rel))
    assert sc.identity.tcb_levels and sc.mapping.svn_mappings


def test_servtd_collateral_tampered_identity_fails(pvec: Path) -> None:
    raw = text(pvec, "config/templates/servtd_collateral.json").replace('"isvProdId":1', '"isvProdId":2', 1)
    with pytest.raises(PolicyError) as err:
        verify_servtd_collateral(raw)
    assert err.value.kind.value == "SignatureVerificationFailed"
    assert err.value.path.startswith("servtdCollateral.servtd")


@pytest.mark.parametrize("rel,name", [("config/templates/td_identity_signed.json", "tdIdentity"),
                                      ("config/templates/tcb_mapping_signed.json", "tdTcbMapping")])
def test_template_signed_documents_verify_with_template_chain(pvec: Path, rel: str, name: str) -> None:
    c = parse_container((pvec / rel).read_bytes(), name)
    verify_chain_and_signature((pvec / TT).read_bytes(), c.raw, decode_signature(c.signature_hex))
    unsigned = (pvec / rel.replace("_signed", "")).read_bytes()
    assert c.raw == unsigned.rstrip(b"\n")          # the signed raw value is the canonical input file


@pytest.mark.parametrize("rel,parse", [
    ("config/templates/td_identity.json", parse_td_identity),
    ("config/AzCVMEmu/td_identity.json", parse_td_identity),
    ("config/templates/tcb_mapping.json", parse_tcb_mapping),
    ("config/AzCVMEmu/tcb_mapping.json", parse_tcb_mapping),
    ("src/policy/test/policy_v2/tcb_mapping.json", parse_tcb_mapping),
])
def test_servtd_documents_parse(pvec: Path, rel: str, parse) -> None:  # type: ignore[no-untyped-def]
    assert parse(jsontext.loads(text(pvec, rel)))


def test_template_policy_data_is_a_canonical_signing_input(pvec: Path) -> None:
    raw = (pvec / "config/templates/policy_v2.json").read_bytes()
    check_canonical(raw.rstrip(b"\n"))
    data = parse_policy_data(jsontext.loads(raw.decode()))
    assert data.version == "2.0"
    assert len(parse_collaterals(data.collaterals).platforms) > 0


@pytest.mark.parametrize("rel", ["config/AzCVMEmu/policy_v2_raw.json", "config/Azure/policy_data_raw.json",
                                 "config/Azure/policy_allow_all_data_raw.json"])
def test_raw_policy_bases_parse(pvec: Path, rel: str) -> None:
    doc = jsontext.loads(text(pvec, rel))
    assert doc["version"] == "2.0"
    assert parse_entries(doc["policy"], "policy") is not None


@pytest.mark.parametrize("name,count,evalnum,fmspc", [  # upstream's config/ collaterals, kept in attestation/
    ("collateral_production_fmspc.json", 13, 18, None),
    ("collateral_pre_production_fmspc.json", 32, 5, None),
    ("collateral_azure_thim.json", 3, None, "90C06F000000"),
])
def test_collateral_files(vectors: Path, name: str, count: int, evalnum: int | None, fmspc: str | None) -> None:
    c = parse_collaterals(jsontext.loads((vectors / "attestation" / name).read_text()))
    assert len(c.platforms) == count
    if evalnum is not None:
        assert {c.tcb_evaluation_number(bytes.fromhex(p.fmspc)) for p in c.platforms} == {evalnum}
    if fmspc is not None:
        assert c.platform(bytes.fromhex(fmspc)).fmspc == fmspc
    assert (c.pck_crl_num, c.root_ca_crl_num) == (1, 1)
    assert c.root_ca_der()[:1] == b"\x30"


def test_policy_v2_global_json_parses(pvec: Path) -> None:
    from migtd.policy.v2.document import parse_global
    g = parse_global(json.loads(text(pvec, "src/policy/test/policy_v2/global.json")), "global")
    assert set(g.tcb) == {"tcbEvaluationDataNumber", "tcbDate", "tcbStatusAccepted"} and "fmspc" in g.platform
