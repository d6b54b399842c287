"""TD relaunch statuses of v5 (TD 1.5) quotes, as Intel's quote verification library decides them.

The mock PKI's TCB info (``tcb_info_document``) has platform levels with TDX
component 2 at 3 (UpToDate), 2 (OutOfDate) and 1 (Revoked), and TDX module
identities TDX_01 (ISVSVN 6 UpToDate, 2 OutOfDate) and TDX_03. A TD launched
on module SVN 3 of TDX_01 is OutOfDate because of its module; TEE_TCB_SVN2
says which module it runs on now. Collateral variants (a ConfigurationNeeded
platform, an out-of-date QE, ...) are re-signed here with the mock TCB key.
"""

from __future__ import annotations

import dataclasses
from typing import Any

import pytest

from migtd.attest import suppl
from migtd.attest.collateral import Collateral, PlatformCollateral
from migtd.attest.tdreport import TdInfo, TdReport, TeeTcbInfo
from migtd.attest.verify import QuoteVerificationError, verify_quote
from migtd.mock.pki import MockPki, pcs_body, qe_identity_document, tcb_info_document
from migtd.mock.qe import MockQE
from migtd.policy.errors import PolicyError, PolicyErrorKind
from migtd.policy.v2.document import parse_entries
from migtd.policy.v2.evaluate import EvaluationInfo, evaluate_block

LAUNCHED_ON_OLD_MODULE = "03010300000000000000000000000000"   # module SVN 3 (TDX_01: OutOfDate), TDX comp 2 = 3


def report(svn: str, svn2: str) -> bytes:
    tee = TeeTcbInfo(tee_tcb_svn=bytes.fromhex(svn), tee_tcb_svn2=bytes.fromhex(svn2))
    return TdReport.build(report_data=bytes(64), tee_tcb_info=tee, td_info=TdInfo()).to_bytes()


def td15_quote(pki: MockPki, svn: str, svn2: str) -> bytes:
    return MockQE.from_pki(pki).quote(report(svn, svn2), version=5, td15=True)


def with_documents(pki: MockPki, tcb: dict[str, Any] | None = None, qe: dict[str, Any] | None = None) -> Collateral:
    """The PKI's collateral with its TCB info and/or QE identity replaced (signed with the TCB key)."""
    c = pki.collateral
    p = c.platforms[0]
    if tcb is not None:
        c = dataclasses.replace(c, platforms=(PlatformCollateral(p.fmspc, p.tcb_info_issuer_chain,
                                                                 pcs_body(pki.tcb_key, "tcbInfo", tcb)),))
    if qe is not None:
        c = dataclasses.replace(c, qe_identity=pcs_body(pki.tcb_key, "enclaveIdentity", qe))
    return c


def configuration_needed_platform() -> dict[str, Any]:
    doc = tcb_info_document()
    doc["tcbLevels"][0]["tcbStatus"] = "ConfigurationNeeded"
    return doc


@pytest.mark.parametrize(("svn2", "status"), [
    ("07010300000000000000000000000000", "TDRelaunchAdvised"),   # now on TDX_01 SVN 7 >= latest level 6
    ("06010300000000000000000000000000", "TDRelaunchAdvised"),   # exactly the latest module level
    ("05000300000000000000000000000000", "TDRelaunchAdvised"),   # major version 0: byte 0 vs latest level's TDX comp 0 (5)
    (LAUNCHED_ON_OLD_MODULE, "OutOfDate"),                      # still on the old module
    ("05010300000000000000000000000000", "OutOfDate"),           # a newer module, but not the latest
    ("07010200000000000000000000000000", "OutOfDate"),           # latest module, TDX comp 2 below the latest level's
    ("04000300000000000000000000000000", "OutOfDate"),           # major 0: byte 0 below the latest level's comp 0
])
def test_relaunch_advised_from_tee_tcb_svn2(pki, svn2, status):
    v = verify_quote(td15_quote(pki, LAUNCHED_ON_OLD_MODULE, svn2), pki.collateral, pki.root_ca_der)
    assert v.tcb_status == status
    assert suppl.tcb_status(v.report) == status
    assert suppl.field(v.report, "TDX_MODULE_SVN") == b"\x02"      # the launch module's matched level
    assert v.quote.version == 5 and v.quote.body.tee_tcb_svn2 == bytes.fromhex(svn2)


def test_relaunch_advised_configuration_needed(pki):
    collateral = with_documents(pki, tcb=configuration_needed_platform())
    quote = td15_quote(pki, LAUNCHED_ON_OLD_MODULE, "07010300000000000000000000000000")
    v = verify_quote(quote, collateral, pki.root_ca_der)
    assert v.tcb_status == "TDRelaunchAdvisedConfigurationNeeded"
    # the 36-character name fills the 32-byte TCB_STATUS field, as a C writer copying into char[32] does
    assert suppl.field(v.report, "TCB_STATUS") == b"TDRelaunchAdvisedConfigurationNe"
    assert suppl.SupplementalData.decode(v.report).tcb_status == "TDRelaunchAdvisedConfigurationNe"
    # without the relaunch, the same TD is out of date and needs configuration
    stays = verify_quote(td15_quote(pki, LAUNCHED_ON_OLD_MODULE, LAUNCHED_ON_OLD_MODULE), collateral, pki.root_ca_der)
    assert stays.tcb_status == "OutOfDateConfigurationNeeded"


@pytest.mark.parametrize("body", ["v4", "v5-td10"])
def test_no_relaunch_without_a_td15_body(pki, body):
    r = report(LAUNCHED_ON_OLD_MODULE, "07010300000000000000000000000000")
    quote = MockQE.from_pki(pki).quote(r, version=4 if body == "v4" else 5)
    assert verify_quote(quote, pki.collateral, pki.root_ca_der).tcb_status == "OutOfDate"


def test_no_relaunch_when_the_module_is_current(pki):
    """Out of date for a platform TDX component, not the module: Intel's rule does not advise relaunch."""
    v = verify_quote(td15_quote(pki, "07010200000000000000000000000000", "07010300000000000000000000000000"),
                     pki.collateral, pki.root_ca_der)
    assert v.tcb_status == "OutOfDate" and v.advisories == ["MOCK-SA-0001"]


def test_no_relaunch_when_the_qe_is_out_of_date(pki):
    qe = qe_identity_document()
    qe["tcbLevels"] = [{"tcb": {"isvsvn": 9}, "tcbDate": "2025-01-01T00:00:00Z", "tcbStatus": "UpToDate"},
                       {"tcb": {"isvsvn": 4}, "tcbDate": "2024-11-13T00:00:00Z", "tcbStatus": "OutOfDate"}]
    v = verify_quote(td15_quote(pki, LAUNCHED_ON_OLD_MODULE, "07010300000000000000000000000000"),
                     with_documents(pki, qe=qe), pki.root_ca_der)
    assert (v.tcb_status, v.qe_tcb_status) == ("OutOfDate", "OutOfDate")


def test_no_relaunch_when_the_sgx_level_is_out_of_date(pki):
    doc = tcb_info_document()
    for level in doc["tcbLevels"]:
        level["tcbStatus"] = "OutOfDate" if level["tcbStatus"] != "Revoked" else "Revoked"
    v = verify_quote(td15_quote(pki, LAUNCHED_ON_OLD_MODULE, "07010300000000000000000000000000"),
                     with_documents(pki, tcb=doc), pki.root_ca_der)
    assert v.tcb_status == "OutOfDate"


def test_relaunch_to_an_unknown_module_is_a_module_mismatch(pki):
    with pytest.raises(QuoteVerificationError) as err:
        verify_quote(td15_quote(pki, LAUNCHED_ON_OLD_MODULE, "07020300000000000000000000000000"),
                     pki.collateral, pki.root_ca_der)
    assert err.value.step == "tdx_module" and "TEE_TCB_SVN2" in err.value.problem


def test_relaunch_to_a_module_without_levels_is_not_supported(pki):
    doc = tcb_info_document()
    doc["tdxModuleIdentities"][0]["tcbLevels"] = []          # TDX_03
    with pytest.raises(QuoteVerificationError) as err:
        verify_quote(td15_quote(pki, LAUNCHED_ON_OLD_MODULE, "07030300000000000000000000000000"),
                     with_documents(pki, tcb=doc), pki.root_ca_der)
    assert err.value.step == "module_tcb"


def test_latest_level_is_the_highest_whatever_the_file_order(pki):
    """Intel orders platform and module levels itself: the relaunch check compares with the highest."""
    doc = tcb_info_document()
    doc["tcbLevels"].reverse()
    doc["tdxModuleIdentities"][1]["tcbLevels"].reverse()
    collateral = with_documents(pki, tcb=doc)
    assert verify_quote(td15_quote(pki, LAUNCHED_ON_OLD_MODULE, "07010300000000000000000000000000"),
                        collateral, pki.root_ca_der).tcb_status == "TDRelaunchAdvised"
    assert verify_quote(td15_quote(pki, LAUNCHED_ON_OLD_MODULE, "05010300000000000000000000000000"),
                        collateral, pki.root_ca_der).tcb_status == "OutOfDate"


# --------------------------------------------------------------------------- policy v2 sees them

ACCEPT_GOOD_STATUSES = [{"global": {"tcb": {"tcbStatusAccepted": {
    "operation": "allow-list", "reference": ["UpToDate", "OutOfDate", "ConfigurationNeeded"]}}}}]


def _facts(v) -> EvaluationInfo:  # type: ignore[no-untyped-def]
    """The facts policy v2 takes from a verified report (TCB status read back from the 822 bytes)."""
    return EvaluationInfo(tcb_status=suppl.tcb_status(v.report), migtd_tcb_status="UpToDate")


@pytest.mark.parametrize("relaunch", ["TDRelaunchAdvised", "TDRelaunchAdvisedConfigurationNeeded"])
def test_policy_v2_tcb_status_rule_refuses_relaunch_statuses(pki, relaunch):
    """Upstream's v2 TcbStatus knows seven statuses; a relaunch status is none of them, so the
    tcbStatusAccepted rule has no valid value (TcbEvaluation) and, without a rule, the mandatory
    deny refuses it as an invalid parameter — exactly as MigTD with Intel's library."""
    collateral = pki.collateral if relaunch == "TDRelaunchAdvised" else with_documents(
        pki, tcb=configuration_needed_platform())
    v = verify_quote(td15_quote(pki, LAUNCHED_ON_OLD_MODULE, "07010300000000000000000000000000"), collateral,
                     pki.root_ca_der)
    assert v.tcb_status == relaunch
    entries = parse_entries(ACCEPT_GOOD_STATUSES, "policy")
    with pytest.raises(PolicyError) as err:
        evaluate_block(entries, _facts(v), EvaluationInfo(), skip_global=False)
    assert err.value.kind is PolicyErrorKind.TcbEvaluation
    with pytest.raises(PolicyError) as err:
        evaluate_block(None, _facts(v), EvaluationInfo(), skip_global=False)
    assert err.value.kind is PolicyErrorKind.InvalidParameter
    # the same TD before the relaunch check (still on its old module) passes the same rule
    stays = verify_quote(td15_quote(pki, LAUNCHED_ON_OLD_MODULE, LAUNCHED_ON_OLD_MODULE), collateral, pki.root_ca_der)
    rules = evaluate_block(entries, _facts(stays), EvaluationInfo(), skip_global=False)
    assert [(r.field, r.ok) for r in rules if r.field == "tcbStatusAccepted"] == [("tcbStatusAccepted", True)]
