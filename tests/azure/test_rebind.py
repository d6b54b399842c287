"""Rebinding in azure mode: two real ``migtd`` processes, each on its own swtpm, quoting through a local IMDS.

Each side's rebinding certificate carries the TDREPORT its vTPM returns (the
HCL report in NV 0x01400001 wraps it); the REPORTDATA binding and the RTMR
replay are bypassed as azure mode does for migration. Each side's "self"
facts come from its own IMDS quote, verified against the collaterals of its
policy v2 (upstream's ``get_local_tcb_evaluation_info``), so the local IMDS
stand-in answers exactly one quote request per side. The swtpm TD is the
mock-qe TD whose RTMR1 measures the policy issuer chain, the engine the
generated policy's TCB mapping knows; an HCL report around another engine is
refused by the new MigTD's init check (8).
"""

from __future__ import annotations

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

if TYPE_CHECKING:
    from tests.conftest import Processes

MIGTD = [sys.executable, "-m", "migtd"]
CHAIN = paths.mock_dir() / "policy_issuer_chain.pem"


@pytest.fixture(scope="module")
def policy_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A signed policy v2 over the mock PKI: its TCB mapping knows the mock-qe engine under the mock chain."""
    from migtd.policy import generate_v2 as g

    facts = g.mock_facts(paths.mock_collateral().read_bytes(), paths.mock_root_ca().read_bytes())
    signer = g.Signer.load(paths.mock_dir() / "policy_signing_key.pem", CHAIN)
    gen = g.build_signed_policy(facts, paths.mock_collateral().read_bytes(), g.Signers.single(signer))
    path = tmp_path_factory.mktemp("azure_rebind") / "policy_v2.json"
    path.write_bytes(gen.policy)
    return path


def provision(tpm: Any, policy: Path, *, known_engine: bool = True) -> None:
    """NV 0x01400001 := an HCL report around the mock-qe TD report of a MigTD running ``policy``.

    ``known_engine=False``: the event log is empty, so RTMR1 does not measure the chain and the TCB
    mapping does not know the engine.
    """
    log = eventlog.v2_event_log(CHAIN.read_bytes(), policy.read_bytes()) if known_engine else \
        eventlog.build_event_log([])
    report = MockQeProvider().td_report(bytes(64), log)
    tpm.provision_hcl(hcl.build_hcl_report(report, hcl.runtime_claims(os.urandom(64))))


def env_for(tpm: Any, imds: Any, policy: Path, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("MIGTD_", "MOCK_QUOTE", "RUST_LOG", "TSS2_"))}
    env.update(MIGTD_ATTESTATION="azure", MIGTD_LOG_FORMAT="json", MIGTD_POLICY_VERSION="2", MIGTD_TIMEOUT="30",
               TSS2_TCTI=tpm.tcti, MIGTD_IMDS_URL=imds.url, MIGTD_VTPM_SETTLE="0",
               MIGTD_POLICY_FILE=str(policy), MIGTD_POLICY_ISSUER_CHAIN_FILE=str(CHAIN), **extra)
    return env


class Run:
    def __init__(self, code: int, stderr: str) -> None:
        self.code, self.stderr = code, stderr
        self.events = [json.loads(line) for line in stderr.splitlines() if line.startswith("{")]

    def all(self, name: str) -> list[dict[str, Any]]:
        return [e for e in self.events if e["event"] == name]

    def rules(self) -> dict[str, bool]:
        return {f"{e['section']}.{e['field']}": e["ok"] for e in self.all("policy_rule")}


def rebind(processes: Processes, port: int, new_env: dict[str, str], old_env: dict[str, str],
           operation: str = "rebind-prepare") -> tuple[Run, Run]:
    """The new MigTD (destination) then the old one (source); returns (old, new)."""
    new, old = (processes.popen(MIGTD + ["-m", role, "-o", operation, "-t", str(port)], env=env,
                                stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
                for role, env in (("dst", new_env), ("src", old_env)))
    _, old_err = old.communicate(timeout=60)
    _, new_err = new.communicate(timeout=60)
    return Run(old.returncode, old_err), Run(new.returncode, new_err)


def test_two_azure_migtds_rebind(swtpm: Any, second_swtpm: Any, imds: Any, port: int, processes: Processes,
                                 policy_file: Path) -> None:
    for tpm in (swtpm, second_swtpm):
        provision(tpm, policy_file)
    old, new = rebind(processes, port, env_for(second_swtpm, imds, policy_file), env_for(swtpm, imds, policy_file))
    assert (old.code, new.code) == (0, 0), old.stderr + new.stderr
    for run in (old, new):
        (attested,) = run.all("peer_attested")
        assert attested["evidence"] == "tdreport" and attested["verified"] is True
        assert {"reportdata_binding", "event_log_replay"} <= set(attested["bypassed"])
        (quote,) = run.all("quote_generated")          # the local reference: one IMDS quote per side
        assert quote["source"] == "azure-imds"
        assert all(run.rules().values()) and run.rules()
        assert "Traceback" not in run.stderr
    assert {"init.owner", "init.servtd_ext_hash", "init.engine_not_older"} <= set(new.rules())
    assert "policySvn.policySvn" in old.rules()
    assert len(imds.requests) == 2
    assert any(e["msg"].startswith("Rebinding token accepted") for e in new.events)


def test_azure_rebind_finalize(swtpm: Any, second_swtpm: Any, imds: Any, port: int, processes: Processes,
                               policy_file: Path) -> None:
    for tpm in (swtpm, second_swtpm):
        provision(tpm, policy_file)
    old, new = rebind(processes, port, env_for(second_swtpm, imds, policy_file), env_for(swtpm, imds, policy_file),
                      "rebind-finalize")
    assert (old.code, new.code) == (0, 0), old.stderr + new.stderr
    assert not imds.requests                              # nothing is attested to clear a token


def test_an_old_migtd_whose_engine_the_policy_does_not_know_is_refused_with_8(
        swtpm: Any, second_swtpm: Any, imds: Any, port: int, processes: Processes, policy_file: Path) -> None:
    provision(swtpm, policy_file, known_engine=False)      # the old MigTD's vTPM
    provision(second_swtpm, policy_file)
    _, new = rebind(processes, port, env_for(second_swtpm, imds, policy_file), env_for(swtpm, imds, policy_file))
    assert new.code == 8, new.stderr
    (decision,) = new.all("policy_decision")
    assert decision["failed_rules"] == ["init.engine_not_older"]
    assert not any(e["msg"].startswith("Rebinding token accepted") for e in new.events)
    # (the old MigTD, the TLS client, has sent its token and finished before the new one judged it; as
    # with upstream's TLS 1.3 client, it learns nothing more)


def test_a_local_quote_that_cannot_be_had_is_8(swtpm: Any, second_swtpm: Any, imds: Any, port: int,
                                               processes: Processes, policy_file: Path) -> None:
    """Every quote attempt of the new MigTD fails: no "self" facts, PolicyUnsatisfiedError (QuoteGeneration)."""
    for tpm in (swtpm, second_swtpm):
        provision(tpm, policy_file)
    old, new = rebind(processes, port, env_for(second_swtpm, imds, policy_file, MIGTD_QUOTE_FAILURES="6"),
                      env_for(swtpm, imds, policy_file))
    assert new.code == 8, new.stderr
    (exit_event,) = new.all("exit")
    assert exit_event["reason"].startswith("local quote: quote generation failed after 6 attempts")
    assert old.code != 0



def test_azure_rebinding_over_spdm_fails_with_7_as_upstream(swtpm: Any, second_swtpm: Any, imds: Any, port: int,
                                                             processes: Processes, policy_file: Path) -> None:
    """Over SPDM a rebinding TDREPORT must carry SHA-384(prefix ‖ TH1) (spdm.md §7), a binding upstream
    never bypasses; the vTPM's TD report carries the paravisor's REPORTDATA instead, so each new MigTD
    refuses the old one's report with 7 and the old one learns it from the ERROR, as upstream's would."""
    for tpm in (swtpm, second_swtpm):
        provision(tpm, policy_file)
    old, new = rebind(processes, port, env_for(second_swtpm, imds, policy_file, MIGTD_KEY_EXCHANGE="spdm"),
                      env_for(swtpm, imds, policy_file, MIGTD_KEY_EXCHANGE="spdm"))
    assert (old.code, new.code) == (7, 7), old.stderr + new.stderr
    for run in (old, new):
        assert "Traceback" not in run.stderr
    (failed,) = new.all("spdm_failed")
    assert failed["phase"] == "attestation" and "TH1 binding" in failed["reason"]
    assert not any(e["msg"].startswith("Rebinding token accepted") for e in new.events)
