"""Two real ``migtd`` processes on loopback with ``--key-exchange spdm``, for every mode and policy version.

Each pair runs the whole request flow (EnableLogArea → GetTDReport →
StartMigration, policy v2 with the pre-session exchange first) and the SPDM
ladder over the u32-framed TCP stream; azure runs on swtpm and the local IMDS
in tests/azure/test_spdm.py. Rebinding over SPDM (rebind-prepare, policy v2)
as far as upstream supports it in emulation: skip-RA and the project's mock QE
succeed; a captured quote cannot carry the TDREPORT binding and fails with
MutualAttestationError, as upstream's mock-report does (spdm.md §7).
"""

from __future__ import annotations

import pytest

from migtd.result import MigrationResult as R

from .conftest import MODES

#: The SPDM events of a successful run, in order, on both sides.
LADDER = ["spdm_negotiated", "spdm_key_exchanged", "spdm_evidence_exchanged", "spdm_finished", "msk_exchanged",
          "spdm_session_ended"]


@pytest.mark.parametrize("version", [1, 2])
@pytest.mark.parametrize("mode", MODES)
def test_spdm_migration_between_two_processes(procs, cases, port, mode: str, version: int) -> None:  # type: ignore[no-untyped-def]
    case = cases(mode, version)
    src, dst = procs.pair(port, case.env)
    assert (src.code, dst.code) == (0, 0), src.stderr + dst.stderr
    for run in (src, dst):
        run.clean()
        names = [e["event"] for e in run.events]
        assert [n for n in names if n in LADDER] == LADDER
        assert "tls_established" not in names
        assert run.event("config")["key_exchange"] == "spdm"
        assert [e["kind"] for e in run.all("request")] == ["EnableLogArea", "GetTDReport", "StartMigration"]
        assert run.event("report_status")["code"] == 0
        assert run.event("policy_decision")["ok"] is True
        assert run.event("peer_attested")["verified"] is (mode != "skip-ra")
        assert run.event("spdm_negotiated") == {**run.event("spdm_negotiated"), "version": "1.2",
                                                "peer_capabilities": "0x000383C0",
                                                "peer_data_transfer_size": 4032, "peer_max_message_size": 65536}
    assert src.event("msk_exchanged")["key_sha256_8"] == dst.event("msk_exchanged")["key_sha256_8"]
    assert src.event("spdm_key_exchanged")["th1"] == dst.event("spdm_key_exchanged")["th1"]
    assert src.event("spdm_key_exchanged")["local_spki_sha256_8"] == \
        dst.event("spdm_key_exchanged")["peer_spki_sha256_8"]
    assert src.event("spdm_finished")["th2"] == dst.event("spdm_finished")["th2"]
    if mode != "skip-ra":  # real-size quotes: chunked over the real connection
        assert src.event("spdm_evidence_exchanged")["chunks_sent"] >= 2
        assert dst.event("spdm_evidence_exchanged")["chunks_sent"] >= 2
    if mode == "mock-quote-file":
        for run in (src, dst):
            assert run.event("peer_attested")["bypassed"] == ["reportdata_binding", "event_log_replay"]
            assert "AzCVMEmu mode: Skipping public key verification in TD report" in \
                [e["msg"] for e in run.events if e["level"] == "warn"]
    if version == 2:
        assert "Pre-Session-Message Version: 0x0100" in [e["msg"] for e in src.events]


@pytest.mark.parametrize("mode, expected", [("skip-ra", (0, 0)), ("mock-report", (0, 0)),
                                            ("mock-quote-file", (R.MutualAttestationError,) * 2)])
def test_spdm_rebind_prepare_between_two_processes(procs, cases, port, mode: str,  # type: ignore[no-untyped-def]
                                                   expected: tuple[int, int]) -> None:
    case = cases(mode, 2)
    src, dst = procs.pair(port, case.env, args=("-o", "rebind-prepare"))
    assert (src.code, dst.code) == expected, src.stderr + dst.stderr
    for run in (src, dst):
        run.clean()
        assert [e["kind"] for e in run.all("request")] == ["EnableLogArea", "GetMigtdData", "StartRebinding"]
    if expected == (0, 0):
        assert "Rebinding token sent; TDG.SERVTD.REBIND.APPROVE emulated" in [e["msg"] for e in src.events]
        assert any("Rebinding token accepted" in e["msg"] for e in dst.events)
        assert "Rebind completed" in [e["msg"] for e in dst.events]
    else:
        assert "Rebind peer REPORTDATA does not match" in dst.reason
        assert "MutualAttestationError" in src.reason


def test_one_side_on_spdm_and_the_other_on_ratls_fail_with_one_line_each(procs, cases, port) -> None:  # type: ignore[no-untyped-def]
    """A mismatch of --key-exchange: the RA-TLS side sees no TLS, the SPDM side no SPDM; 6 each, no hang."""
    case = cases("skip-ra", 1)
    src, dst = procs.pair(port, dict(case.env, MIGTD_TIMEOUT="5"), src_env=dict(case.env, MIGTD_KEY_EXCHANGE="ratls",
                                                                                 MIGTD_TIMEOUT="5"))
    for run in (src, dst):
        run.clean()
        assert run.code in (R.SecureSessionError, R.NetworkError)
    assert dst.code == R.SecureSessionError
