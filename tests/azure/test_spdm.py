"""SPDM (``--key-exchange spdm``) in azure mode: TD reports from a swtpm, quotes from the local IMDS.

The same as tests/spdm_migtd for the mode that needs a TPM: the requester
against the responder in memory, each side built as ``migtd`` builds it (the
vTPM + IMDS provider, DCAP against the mock PKI standing in for Intel's, the
AzCVMEmu bypasses: the paravisor fixes REPORTDATA, so the binding to TH1
cannot hold and is bypassed and listed, as upstream's azure build does), and
two real ``migtd`` processes, with policy v1 and v2, and with the quote asked
for through the IGVM GetQuote buffer (``--quote-request igvm``).

Policy v2 pins the TD's RTMR1 (the issuer-chain measurement), so for v2 each
swtpm is provisioned with an HCL report around the mock-QE TD report of the
v2 event log.
"""

from __future__ import annotations

import io
import json
import os
import subprocess
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

from migtd import eventlog, paths
from migtd.emu import hcl
from migtd.mock.providers import MockQeProvider
from migtd.result import MigrationResult as R

if TYPE_CHECKING:
    from tests.conftest import Processes

MIGTD = [sys.executable, "-m", "migtd"]


def _env(tpm: Any, imds: Any, policy_version: int, files: dict[str, Path], **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("MIGTD_", "MOCK_QUOTE", "RUST_LOG", "TSS2_"))}
    env.update(MIGTD_ATTESTATION="azure", MIGTD_KEY_EXCHANGE="spdm", MIGTD_LOG_FORMAT="json", MIGTD_TIMEOUT="30",
               TSS2_TCTI=tpm.tcti, MIGTD_IMDS_URL=imds.url, MIGTD_VTPM_SETTLE="0", **extra)
    if policy_version == 2:
        env.update(MIGTD_POLICY_VERSION="2", MIGTD_POLICY_FILE=str(files["policy"]),
                   MIGTD_POLICY_ISSUER_CHAIN_FILE=str(files["chain"]))
    else:
        env.update(MIGTD_POLICY_FILE=str(paths.default_policy()), MIGTD_ROOT_CA_FILE=str(paths.mock_root_ca()),
                   MIGTD_COLLATERAL_FILE=str(paths.mock_collateral()))
    return env


@pytest.fixture
def v2_files(tmp_path: Path, provisioned_swtpm: Any, second_swtpm: Any) -> dict[str, Path]:
    """A signed v2 policy over the mock PKI, and both swtpms holding a TD report of the v2 event log."""
    from migtd.policy.generate_v2 import Signer, Signers, build_signed_policy, mock_facts

    collateral = paths.mock_collateral().read_bytes()
    signer = Signer.load(paths.mock_dir() / "policy_signing_key.pem", paths.mock_dir() / "policy_issuer_chain.pem")
    gen = build_signed_policy(mock_facts(collateral, paths.mock_root_ca().read_bytes()), collateral,
                              Signers.single(signer))
    files = {"policy": tmp_path / "policy_v2.json", "chain": tmp_path / "chain.pem"}
    files["policy"].write_bytes(gen.policy)
    files["chain"].write_bytes(gen.chain)
    report = MockQeProvider().td_report(bytes(64), eventlog.v2_event_log(gen.chain, gen.policy))
    for n, tpm in enumerate((provisioned_swtpm, second_swtpm)):
        tpm.provision_hcl(hcl.build_hcl_report(report, hcl.runtime_claims(bytes([n]) * 64)))
    return files


def _files(version: int, request: pytest.FixtureRequest) -> dict[str, Path]:
    return request.getfixturevalue("v2_files") if version == 2 else {}


# --------------------------------------------------------------------------- in memory

class Side:
    def __init__(self, role: str, env: dict[str, str]) -> None:
        from migtd.cli.args import parse_args
        from migtd.cli.config import load, merge_env
        from migtd.cli.runtime import prepare
        from migtd.emu.requests import MigrationInfo
        from migtd.events import EventLog
        from migtd.spdm_session import MigtdHooks

        opts = merge_env(parse_args(["-m", role]), env)
        self.stream = io.StringIO()
        log = EventLog(opts.role, 1, fmt="json", level="info", stream=self.stream)
        self.plan = prepare(load(opts, env, log), log)
        s = self.plan.session
        self.hooks = MigtdHooks(log=log, store=self.plan.store, provider=self.plan.provider,
                                verifier=self.plan.verifier, is_source=role == "source", event_log=s.event_log,
                                policy_version=s.policy_version, policy=s.policy,
                                request=MigrationInfo(1, role == "source", opts.uuid, opts.binding))

    def event(self, name: str) -> dict[str, Any]:
        found = [e for e in map(json.loads, self.stream.getvalue().splitlines()) if e["event"] == name]
        assert found, self.stream.getvalue()
        return found[-1]


def _in_memory(src: Side, dst: Side) -> tuple[Any, Any]:
    from migtd.protocol.presession import build_blob
    from migtd.spdm_session import EventLogger, endpoint_for

    if src.hooks.policy_version == 2:
        blobs = [build_blob(s.plan.session.policy, s.plan.session.issuer_chain) for s in (src, dst)]
        src.hooks.local_blob, src.hooks.peer_blob = blobs
        dst.hooks.peer_blob, dst.hooks.local_blob = blobs
    req, rsp = endpoint_for(src.hooks), endpoint_for(dst.hooks)
    log_s, log_d = EventLogger(src.hooks.log), EventLogger(dst.hooks.log)
    req.start()
    while not (req.done and rsp.done):
        writes = [(w, rsp, log_d) for w in req.data_to_send()] + [(w, req, log_s) for w in rsp.data_to_send()]
        if not writes:
            break
        for write, receiver, log in writes:
            log(receiver.receive_data(write))
    return req, rsp


@pytest.mark.parametrize("version", [1, 2])
def test_spdm_in_memory_in_azure_mode(provisioned_swtpm: Any, second_swtpm: Any, imds: Any, version: int,
                                      request: pytest.FixtureRequest) -> None:
    files = _files(version, request)
    src = Side("source", _env(provisioned_swtpm, imds, version, files))
    dst = Side("destination", _env(second_swtpm, imds, version, files))
    req, rsp = _in_memory(src, dst)
    assert (req.result, rsp.result) == (R.Success, R.Success), src.stream.getvalue() + dst.stream.getvalue()
    for side in (src, dst):
        assert side.event("quote_generated")["source"] == "azure-imds"
        attested = side.event("peer_attested")
        assert attested["verified"] is True and attested["tcb_status"] == "UpToDate"
        assert attested["bypassed"] == ["reportdata_binding", "event_log_replay"]
        assert side.event("policy_decision")["ok"] is True
    assert src.event("msk_exchanged")["key_sha256_8"] == dst.event("msk_exchanged")["key_sha256_8"]
    assert len(imds.requests) == 2


# --------------------------------------------------------------------------- processes

def _pair(processes: Processes, port: int, dst_env: dict[str, str], src_env: dict[str, str]) -> tuple[Any, Any]:
    dst, src = (processes.popen(MIGTD + ["-m", role, "-t", str(port)], env=env,
                                stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
                for role, env in (("dst", dst_env), ("src", src_env)))
    _, src_err = src.communicate(timeout=90)
    _, dst_err = dst.communicate(timeout=90)
    return (src.returncode, src_err), (dst.returncode, dst_err)


def _events(stderr: str) -> list[dict[str, Any]]:
    return [json.loads(line) for line in stderr.splitlines() if line.startswith("{")]


@pytest.mark.parametrize("version, quote_request", [(1, "direct"), (2, "direct"), (1, "igvm")])
def test_two_azure_migtds_over_spdm(provisioned_swtpm: Any, second_swtpm: Any, imds: Any, port: int,
                                    processes: Processes, version: int, quote_request: str,
                                    request: pytest.FixtureRequest) -> None:
    files = _files(version, request)
    (s_code, s_err), (d_code, d_err) = _pair(
        processes, port, _env(second_swtpm, imds, version, files, MIGTD_QUOTE_REQUEST=quote_request),
        _env(provisioned_swtpm, imds, version, files, MIGTD_QUOTE_REQUEST=quote_request))
    assert (s_code, d_code) == (0, 0), s_err + d_err
    fingerprints = []
    for err in (s_err, d_err):
        assert "Traceback" not in err
        events = _events(err)
        by_name = {e["event"]: e for e in events}
        assert by_name["config"]["key_exchange"] == "spdm"
        assert by_name["quote_generated"]["source"] == "azure-imds"
        assert by_name["peer_attested"]["verified"] is True
        assert by_name["peer_attested"]["bypassed"] == ["reportdata_binding", "event_log_replay"]
        assert by_name["policy_decision"]["ok"] is True and by_name["policy_decision"]["policy_version"] == version
        assert by_name["spdm_evidence_exchanged"]["chunks_sent"] >= 1  # a 4-5 KB quote is chunked
        fingerprints.append(by_name["msk_exchanged"]["key_sha256_8"])
        if quote_request == "igvm":
            assert by_name["quote_generated"]["via"] == "igvm"
            assert any(e["msg"].startswith("get_quote_igvm returned quote_size = ") for e in events)
        else:
            assert "via" not in by_name["quote_generated"]
    assert fingerprints[0] == fingerprints[1]
    assert len(imds.requests) == 2
