"""initMigtdData end to end: the emulated VMM hands it over, each MigTD binds it to its policy first.

Real ``migtd`` processes in mock-report with policy v2. ``--init-migtd-data``
(or ``MIGTD_INIT_MIGTD_DATA_FILE``) makes the VMM append the 512-byte init
TDINFO to StartMigration / StartRebinding (``has_init_data`` = 1). Before the
key exchange and before rebinding, each side runs
``verify_init_migtd_data_policy_binding`` (policy.md §3.9.3): MROWNER must be
its policy signer's key hash and the init policy SVN not above its own; any
failure is 8, before a byte is sent, so the peer sees the connection close.
An old MigTD presents the init TDINFO in its certificate, which the new one
checks against its owner, its SERVTD_EXT and its engine. The files come from
``migtd-tool init-data``; skip-RA never initialises a policy, as upstream's
build does not, so there the check always fails with 8.
"""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from migtd import paths

TOOL = [sys.executable, "-m", "migtd.tool"]
SIGNER_HEX_ZERO = "00" * 48


def tool(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([*TOOL, *args], capture_output=True, text=True, timeout=60, check=False)


@pytest.fixture(scope="module")
def files(tmp_path_factory: pytest.TempPathFactory, v2_policy: Callable[..., bytes]) -> dict[str, Any]:
    """A policy v2 environment and init-data files: good, SVN above the policy's, foreign owner."""
    where = tmp_path_factory.mktemp("init_data")
    policy, chain = where / "policy_v2.json", str(paths.mock_dir() / "policy_issuer_chain.pem")
    policy.write_bytes(v2_policy())
    env = {k: v for k, v in os.environ.items() if not k.startswith(("MIGTD_", "MOCK_QUOTE", "RUST_LOG", "TSS2_"))}
    env.update(MIGTD_ATTESTATION="mock-report", MIGTD_LOG_FORMAT="json", MIGTD_TIMEOUT="20",
               MIGTD_POLICY_VERSION="2", MIGTD_POLICY_FILE=str(policy), MIGTD_POLICY_ISSUER_CHAIN_FILE=chain)
    made = {}
    for name, extra in (("good", ()), ("svn", ("--svn", "2")), ("owner", ("--mrowner", SIGNER_HEX_ZERO))):
        out = where / f"init_{name}.bin"
        done = tool("init-data", "--policy", str(policy), "--chain", chain, "--out", str(out), *extra)
        assert done.returncode == 0, done.stderr
        assert out.stat().st_size == 512
        made[name] = str(out)
    return {"env": env, **made}


def with_init(env: dict[str, str], path: str | None) -> dict[str, str]:
    out = dict(env)
    if path:
        out["MIGTD_INIT_MIGTD_DATA_FILE"] = path
    return out


def pair(procs: Any, port: int, dst_env: dict[str, str], src_env: dict[str, str],
         *extra: str) -> tuple[Any, Any]:
    dst = procs.start(["-m", "dst", "-t", str(port), *extra], dst_env)
    src = procs.start(["-m", "src", "-t", str(port), *extra], src_env)
    return procs.finish(src), procs.finish(dst)


def messages(run: Any) -> list[str]:
    return [e["msg"] for e in run.events]


def refused_before_sending(run: Any, kind: str, step: str) -> None:
    """Exit 8 from the binding check, before the pre-session exchange began."""
    assert run.code == 8, run.stderr
    exit_event = run.event("exit")
    assert exit_event["reason"].startswith(f"{step}: initMigtdData policy binding verification failed: {kind}")
    assert not [m for m in messages(run) if m.startswith("Pre-Session-Message Version")]
    (status,) = [e for e in run.all("report_status") if e["kind"] in ("StartMigration", "StartRebinding")]
    assert status["code"] == 8


# ----------------------------------------------------------------------------- migration

def test_both_sides_bind_their_init_data_and_migrate(procs, files, port) -> None:  # type: ignore[no-untyped-def]
    env = files["env"]
    src, dst = pair(procs, port, with_init(env, files["good"]), with_init(env, files["good"]))
    assert (src.code, dst.code) == (0, 0), src.stderr + dst.stderr
    for run in (src, dst):
        bound = [m for m in messages(run) if m.startswith("exchange_msk: initMigtdData is bound to the local policy")]
        assert len(bound) == 1 and "policy SVN 1" in bound[0]
        assert run.event("msk_exchanged")
    assert src.event("msk_exchanged")["key_sha256_8"] == dst.event("msk_exchanged")["key_sha256_8"]


@pytest.mark.parametrize("bad, kind", [("svn", "SvnMismatch"), ("owner", "PolicyHashMismatch")])
def test_source_with_unbound_init_data_fails_with_8_before_sending(procs, files, port, bad,  # type: ignore[no-untyped-def]
                                                                   kind) -> None:
    env = files["env"]
    src, dst = pair(procs, port, env, with_init(env, files[bad]))
    refused_before_sending(src, kind, "exchange_msk")
    assert dst.code == 5, dst.stderr      # the source closed before the pre-session exchange


def test_destination_with_unbound_init_data_fails_with_8_before_sending(procs, files, port) -> None:  # type: ignore[no-untyped-def]
    env = files["env"]
    src, dst = pair(procs, port, with_init(env, files["owner"]), with_init(env, files["good"]))
    refused_before_sending(dst, "PolicyHashMismatch", "exchange_msk")
    assert src.code == 5, src.stderr
    assert [m for m in messages(src) if m.startswith("exchange_msk: initMigtdData is bound")]


# ----------------------------------------------------------------------------- rebinding

@pytest.mark.parametrize("who", ["old", "new"])
def test_rebinding_with_init_data_on_either_side(procs, files, port, who) -> None:  # type: ignore[no-untyped-def]
    """The old MigTD presents the VMM's init TDINFO; the new one checks it and accepts."""
    env = files["env"]
    old_init, new_init = (files["good"], None) if who == "old" else (None, files["good"])
    src, dst = pair(procs, port, with_init(env, new_init), with_init(env, old_init), "-o", "rebind-prepare")
    assert (src.code, dst.code) == (0, 0), src.stderr + dst.stderr
    holder = src if who == "old" else dst
    assert [m for m in messages(holder) if m.startswith("start_rebinding: initMigtdData is bound")]
    rules = {f"{e['section']}.{e['field']}": e for e in dst.all("policy_rule")}
    assert rules["init.owner"]["ok"] and rules["init.servtd_ext_hash"]["ok"]
    assert rules["init.engine_not_older"]["ok"]
    # The old MigTD's SERVTD_EXT holds the init hash of what it presents (the VMM's initMigtdData, or its own
    # TDINFO): the emulator records it in the TDX module's form, which the new MigTD accepts.
    assert rules["init.servtd_ext_hash"]["actual"] == "SHA-384(SHA-384(TDINFO) || type || attr)"


@pytest.mark.parametrize("role", ["src", "dst"])
def test_rebinding_with_unbound_init_data_fails_with_8_before_sending(procs, files, port,  # type: ignore[no-untyped-def]
                                                                      role) -> None:
    env = files["env"]
    bad = with_init(env, files["svn"])
    src, dst = pair(procs, port, bad if role == "dst" else env, bad if role == "src" else env,
                    "-o", "rebind-prepare")
    failing, other = (src, dst) if role == "src" else (dst, src)
    refused_before_sending(failing, "SvnMismatch", "start_rebinding")
    assert other.code == 5, other.stderr


def test_new_migtd_refuses_an_old_one_whose_init_engine_it_does_not_know(procs, files, port, tmp_path,  # type: ignore[no-untyped-def]
                                                                         vectors) -> None:
    """The old MigTD's init data is bound to its policy (so it starts rebinding), but its TDINFO is the
    captured Azure quote's, an engine the new MigTD's TCB mapping does not hold: init.engine_not_older, 8."""
    env = files["env"]
    init = tmp_path / "init_azure.bin"
    done = tool("init-data", "--policy", env["MIGTD_POLICY_FILE"], "--chain", env["MIGTD_POLICY_ISSUER_CHAIN_FILE"],
                "--quote", str(vectors / "attestation" / "az_migtd_quote.blob"), "--out", str(init))
    assert done.returncode == 0, done.stderr
    src, dst = pair(procs, port, env, with_init(env, str(init)), "-o", "rebind-prepare")
    assert [m for m in messages(src) if m.startswith("start_rebinding: initMigtdData is bound")]
    assert dst.code == 8, dst.stderr
    decision = dst.event("policy_decision")
    assert decision["failed_rules"] == ["init.engine_not_older"]
    rules = {f"{e['section']}.{e['field']}": e for e in dst.all("policy_rule")}
    assert rules["init.owner"]["ok"] and rules["init.servtd_ext_hash"]["ok"]
    assert rules["init.engine_not_older"]["local"] == "not in the TCB mapping"


# ----------------------------------------------------------------------------- skip-RA, bad input

def test_skip_ra_has_no_policy_to_bind_to(procs, files, port) -> None:  # type: ignore[no-untyped-def]
    env = dict(files["env"], MIGTD_ATTESTATION="skip-ra")
    src, dst = pair(procs, port, with_init(env, files["good"]), with_init(env, files["good"]))
    for run in (src, dst):           # each side fails on its own, before sending anything
        refused_before_sending(run, "InvalidParameter", "exchange_msk")
        assert "never initialised a policy v2" in run.event("exit")["reason"]


def test_flag_names_the_file_and_wins_over_the_environment(procs, files, port) -> None:  # type: ignore[no-untyped-def]
    env = with_init(files["env"], files["svn"])
    dst = procs.start(["-m", "dst", "-t", str(port), "--init-migtd-data", files["good"]], env)
    src = procs.start(["-m", "src", "-t", str(port), "--init-migtd-data", files["good"]], env)
    src_run, dst_run = procs.finish(src), procs.finish(dst)
    assert (src_run.code, dst_run.code) == (0, 0), src_run.stderr + dst_run.stderr


@pytest.mark.parametrize("problem", ["short", "long", "directory", "missing", "fifo", "policy v1"])
def test_bad_init_data_exits_1_before_listening(procs, files, port, tmp_path, problem) -> None:  # type: ignore[no-untyped-def]
    env = dict(files["env"])
    path = tmp_path / "init.bin"
    if problem == "short":
        path.write_bytes(bytes(511))
    elif problem == "long":
        path.write_bytes(bytes(513))
    elif problem == "directory":
        path.mkdir()
    elif problem == "fifo":
        os.mkfifo(path)
    elif problem == "policy v1":
        path.write_bytes(Path(files["good"]).read_bytes())
        env = dict(env, MIGTD_POLICY_VERSION="1", MIGTD_POLICY_FILE=str(paths.default_policy()),
                   MIGTD_ROOT_CA_FILE=str(paths.mock_root_ca()))
    run = procs.finish(procs.start(["-m", "dst", "-t", str(port)], with_init(env, str(path))), timeout=20)
    assert run.code == 1, run.stderr
    assert not run.all("listening")
    assert "Traceback" not in run.stderr
    reason = run.event("exit")["reason"]
    expected = {"short": "is 511 bytes; initMigtdData is a 512-byte TDINFO_STRUCT",
                "long": "above the 512-byte limit", "directory": "is not a regular file",
                "missing": "does not exist", "fifo": "is not a regular file (a FIFO)",
                "policy v1": "--init-migtd-data needs --policy-version 2"}[problem]
    assert expected in reason


def test_log_file_may_not_be_the_init_data(procs, files, port) -> None:  # type: ignore[no-untyped-def]
    env = dict(with_init(files["env"], files["good"]), MIGTD_LOG_FILE=files["good"])
    before = Path(files["good"]).read_bytes()
    proc = procs.processes.popen([sys.executable, "-m", "migtd", "-m", "dst", "-t", str(port)], env=env,
                                 stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    out, _ = proc.communicate(timeout=20)
    assert proc.returncode == 1
    assert "is the init MigTD data file" in out
    assert Path(files["good"]).read_bytes() == before
