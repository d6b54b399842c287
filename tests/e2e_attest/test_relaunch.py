"""TD relaunch statuses end to end: real ``migtd`` pairs whose quote is a v5 (TD 1.5) mock-QE quote.

The quote is given as ``MOCK_QUOTE_FILE`` (upstream's way of running a fixed
quote in mock-report mode): both sides present it, each verifies the other's
against the mock PKI. The TD was launched on an out-of-date TDX module and runs
on the latest one now (TEE_TCB_SVN2), so the verifier reports
``TDRelaunchAdvised`` (unit tests: ``tests/attest/test_relaunch.py``).

* Policy v1 has no TCB-status rule: the migration succeeds and the
  ``peer_attested`` event carries the status.
* Policy v2's ``tcbStatusAccepted`` knows only upstream's seven statuses, so
  the generated policy (``migtd-tool policy generate-v2``) refuses the peer
  with PolicyUnsatisfiedError, naming that rule — what MigTD does with
  Intel's library.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path
from typing import Any

from migtd import paths
from migtd.attest.tdreport import TdInfo, TdReport, TeeTcbInfo
from migtd.mock.qe import MockQE
from migtd.result import MigrationResult

R = MigrationResult
LAUNCH_SVN = "03010300000000000000000000000000"    # TDX_01 module SVN 3: OutOfDate in the mock TCB info
CURRENT_SVN = "07010300000000000000000000000000"   # TDX_01 module SVN 7: the latest level (6) or above


def _relaunch_quote(path: Path) -> Path:
    """A v5 TD15 quote of the committed mock QE, written to ``path``."""
    tee = TeeTcbInfo(tee_tcb_svn=bytes.fromhex(LAUNCH_SVN), tee_tcb_svn2=bytes.fromhex(CURRENT_SVN))
    td_report = TdReport.build(report_data=bytes(64), tee_tcb_info=tee,
                               td_info=TdInfo(mrtd=b"\x11" * 48)).to_bytes()
    path.write_bytes(MockQE.load().quote(td_report, version=5, td15=True))
    return path


def _assert_clean(*runs: Any) -> None:
    for run in runs:
        assert "Traceback" not in run.stderr, run.stderr
        assert run.event("exit")["code"] == run.code


def test_policy_v1_migrates_and_reports_the_relaunch_status(procs, mock_env, port, tmp_path) -> None:  # type: ignore[no-untyped-def]
    env = dict(mock_env, MOCK_QUOTE_FILE=str(_relaunch_quote(tmp_path / "td15.bin")),
               MIGTD_COLLATERAL_FILE=str(paths.mock_collateral()))
    src, dst = procs.pair(port, env)
    assert (src.code, dst.code) == (0, 0), src.stderr + dst.stderr
    _assert_clean(src, dst)
    for run in (src, dst):
        attested = run.event("peer_attested")
        assert attested["verified"] is True and attested["tcb_status"] == "TDRelaunchAdvised"
        assert attested["tee_tcb_svn"] == LAUNCH_SVN.upper()
        assert run.event("policy_decision")["ok"] is True


def test_policy_v2_tcb_status_rule_refuses_a_relaunch_status(procs, mock_env, port, tmp_path) -> None:  # type: ignore[no-untyped-def]
    quote = _relaunch_quote(tmp_path / "td15.bin")
    tool = str(Path(sys.executable).with_name("migtd-tool"))
    subprocess.run([tool, "policy", "generate-v2", "--out", str(tmp_path / "p.json"),
                    "--chain-out", str(tmp_path / "c.pem"), "--quote", str(quote),
                    "--collateral", str(paths.mock_collateral()), "--root-ca", str(paths.mock_root_ca())],
                   check=True, capture_output=True, timeout=60)
    env = {k: v for k, v in mock_env.items() if k != "MIGTD_ROOT_CA_FILE"}
    env.update(MIGTD_POLICY_VERSION="2", MIGTD_POLICY_FILE=str(tmp_path / "p.json"),
               MIGTD_POLICY_ISSUER_CHAIN_FILE=str(tmp_path / "c.pem"), MOCK_QUOTE_FILE=str(quote))
    src, dst = procs.pair(port, env)
    _assert_clean(src, dst)
    judged = [run for run in (src, dst) if run.all("policy_decision")]
    assert judged, src.stderr + dst.stderr
    for run in judged:
        assert run.event("peer_attested")["tcb_status"] == "TDRelaunchAdvised"
        decision = run.event("policy_decision")
        assert decision["ok"] is False and decision["failed_rules"] == ["global.tcb.tcbStatusAccepted"]
        assert run.code == R.PolicyUnsatisfiedError, run.stderr
