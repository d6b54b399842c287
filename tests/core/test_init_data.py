"""initMigtdData in pieces: the file, the VMM's request, the emulated TDCS, the mock TD's owner, the tool.

The end-to-end runs are in ``tests/e2e_attest/test_init_migtd_data.py``; here
each part is pinned on its own: the 512-byte file read through
``migtd.inputs`` (exactly 512 bytes); StartMigration/StartRebinding carrying
it (56 + 512 bytes, ``has_init_data`` = 1) and MigTD's parsing of that;
SERVTD_INIT_SERVTD_INFO_HASH recorded from it; the mock-qe TD's MROWNER and
MROWNERCONFIG under policy v2 (signer key hash, policy SVN, as a VMM
provisions them); and ``migtd-tool init-data``.
"""

from __future__ import annotations

import hashlib
import struct
from pathlib import Path

import pytest

from migtd import eventlog, paths
from migtd.cli.args import USAGE, parse_args
from migtd.cli.config import input_paths, merge_env
from migtd.emu import init_data, rebind
from migtd.emu.requests import (
    INIT_TD_INFO_SIZE,
    MIGRATION_INFO_SIZE,
    Operation,
    migration_queue,
    parse_request,
    rebinding_queue,
)
from migtd.emu.tdcs import FieldStore
from migtd.errors import ConfigError
from migtd.mock.providers import MockQeProvider
from migtd.policy.v2 import signer_key_hash
from migtd.tool.main import main as tool_main

UUID = (1, 2, 3, 4)
CHAIN = paths.mock_dir() / "policy_issuer_chain.pem"
INIT = bytes(range(256)) * 2


@pytest.fixture(scope="module")
def policy(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A signed policy v2 (policySvn 3) over the mock PKI, signed by the mock policy key."""
    from migtd.policy import generate_v2 as g

    facts = g.mock_facts(paths.mock_collateral().read_bytes(), paths.mock_root_ca().read_bytes())
    signer = g.Signer.load(paths.mock_dir() / "policy_signing_key.pem", CHAIN)
    gen = g.build_signed_policy(facts, paths.mock_collateral().read_bytes(), g.Signers.single(signer), policy_svn=3)
    path = tmp_path_factory.mktemp("policy") / "policy_v2.json"
    path.write_bytes(gen.policy)
    return path


# ----------------------------------------------------------------------------- the file

def test_the_file_is_exactly_one_tdinfo(tmp_path: Path) -> None:
    good = tmp_path / "init.bin"
    good.write_bytes(INIT)
    assert init_data.load(good) == INIT
    for size, says in ((511, "is 511 bytes; initMigtdData is a 512-byte TDINFO_STRUCT"),
                       (513, "above the 512-byte limit"), (0, "is empty")):
        bad = tmp_path / f"init_{size}.bin"
        bad.write_bytes(bytes(size))
        with pytest.raises(ConfigError, match=says):
            init_data.load(bad)


def test_flag_env_twin_usage_and_log_file_refusal() -> None:
    assert "--init-migtd-data FILE" in USAGE and "MIGTD_INIT_MIGTD_DATA_FILE" in USAGE
    env = {"MIGTD_INIT_MIGTD_DATA_FILE": "/from/env"}
    assert merge_env(parse_args([]), env).init_migtd_data == "/from/env"
    assert merge_env(parse_args(["--init-migtd-data", "/flag"]), env).init_migtd_data == "/flag"
    assert merge_env(parse_args([]), {}).init_migtd_data is None
    opts = merge_env(parse_args(["--init-migtd-data", "/flag", "--attestation", "skip-ra"]), {})
    assert ("init MigTD data file", "/flag") in input_paths(opts, {})


# ----------------------------------------------------------------------------- the VMM's requests

@pytest.mark.parametrize("queue", ["migration", "rebind-prepare", "rebind-finalize"])
def test_the_start_request_carries_the_init_tdinfo(queue: str) -> None:
    if queue == "migration":
        requests = migration_queue(9, True, UUID, 0x1234, INIT)
    else:
        requests = rebinding_queue(9, False, UUID, 0x1234, finalize=queue == "rebind-finalize", init_td_info=INIT)
    start = requests[-1]
    payload = start.payload()
    assert len(payload) == MIGRATION_INFO_SIZE + INIT_TD_INFO_SIZE == 568
    assert payload[9] == 1 and payload[MIGRATION_INFO_SIZE:] == INIT     # has_init_data, then the raw TDINFO
    parsed = parse_request(start.encode(), policy_v2=True)
    assert parsed is not None and parsed.migration is not None
    assert (parsed.migration.has_init_data, parsed.migration.init_td_info) == (1, INIT)
    assert parsed.operation == (Operation.StartMigration if queue == "migration" else Operation.StartRebinding)
    assert parsed.migration.operation_byte == (1 if queue == "rebind-finalize" else 0)
    plain = migration_queue(9, True, UUID, 0x1234)[-1].payload()
    assert len(plain) == 56 and plain[9] == 0
    with pytest.raises(ValueError):
        migration_queue(9, True, UUID, 0x1234, INIT[:511])


def test_the_emulated_tdcs_records_the_init_tdinfo_hash() -> None:
    """SERVTD_INIT_SERVTD_INFO_HASH is the init MigTD's; SERVTD_INFO_HASH stays the current TD's."""
    report = MockQeProvider().td_report(bytes(64), eventlog.skip_ra_event_log())
    store = FieldStore(msk=bytes(32), version_range=(0, 0))
    rebind.populate_servtd_fields(store, 1, UUID, report, INIT)
    ext = rebind.read_servtd_ext(store, 1, UUID)
    assert ext[0:48] == rebind.servtd_info_hash(INIT)
    assert ext[112:160] == rebind.servtd_info_hash(report[512:1024])
    rebind.populate_servtd_fields(store, 1, UUID, report)
    assert rebind.read_servtd_ext(store, 1, UUID)[0:48] == rebind.servtd_info_hash(report[512:1024])


# ----------------------------------------------------------------------------- the mock TD's owner

def test_mock_report_v2_td_carries_the_owner_a_vmm_provisions(policy: Path) -> None:
    from migtd import modes
    from migtd.attest.tdreport import TdInfo
    from migtd.modes.base import Setup

    owner = init_data.provisioned_owner(policy.read_bytes(), CHAIN.read_bytes())
    assert owner == (signer_key_hash(CHAIN.read_bytes()), struct.pack("<I", 3) + bytes(44))
    mode = modes.by_name("mock-report")
    assert mode is not None
    v2 = mode.provider(Setup("migration", 2, policy.read_bytes(), CHAIN.read_bytes(), {}, 60.0))
    info = TdInfo.parse(v2.td_report(bytes(64), eventlog.v2_event_log(CHAIN.read_bytes(), policy.read_bytes())))
    assert (info.mrowner, info.mrownerconfig) == owner
    v1 = mode.provider(Setup("migration", 1, b"{}", b"", {}, 60.0))
    assert TdInfo.parse(v1.td_report(bytes(64), eventlog.skip_ra_event_log())).mrowner == bytes(48)
    assert init_data.provisioned_owner(b"not json", CHAIN.read_bytes()) is None


# ----------------------------------------------------------------------------- migtd-tool init-data

def test_tool_writes_a_file_bound_to_the_policy(policy: Path, tmp_path: Path,
                                                capsys: pytest.CaptureFixture[str]) -> None:
    from migtd.policy.v2 import verify_init_migtd_data_policy_binding, verify_signed_policy

    out = tmp_path / "init.bin"
    assert tool_main(["init-data", "--policy", str(policy), "--chain", str(CHAIN), "--out", str(out)]) == 0
    assert "policy SVN 3" in capsys.readouterr().out
    data = out.read_bytes()
    assert len(data) == 512
    verified = verify_signed_policy(policy.read_bytes(), CHAIN.read_bytes())
    verify_init_migtd_data_policy_binding(verified, data)          # passes
    # the default TDINFO is the mock-report MigTD's for this policy and chain: what it reports itself
    own = MockQeProvider(owner=init_data.provisioned_owner(policy.read_bytes(), CHAIN.read_bytes())).td_report(
        bytes(64), eventlog.v2_event_log(CHAIN.read_bytes(), policy.read_bytes()))
    assert data == own[512:1024]


def test_tool_takes_the_tdinfo_from_a_report_or_a_quote(policy: Path, tmp_path: Path, vectors: Path) -> None:
    report = MockQeProvider().td_report(b"\x07" * 64, eventlog.skip_ra_event_log())
    (tmp_path / "report.bin").write_bytes(report)
    base = ["init-data", "--policy", str(policy), "--chain", str(CHAIN)]
    assert tool_main([*base, "--report", str(tmp_path / "report.bin"), "--svn", "2",
                      "--out", str(tmp_path / "a.bin")]) == 0
    a = (tmp_path / "a.bin").read_bytes()
    assert a[:112] == report[512:624] and a[208:] == report[720:]    # all but the owner fields
    assert a[160:208] == struct.pack("<I", 2) + bytes(44)
    quote = vectors / "attestation" / "az_migtd_quote.blob"
    assert tool_main([*base, "--quote", str(quote), "--mrowner", "ab" * 48, "--out", str(tmp_path / "q.bin")]) == 0
    q = (tmp_path / "q.bin").read_bytes()
    assert q[112:160] == b"\xab" * 48
    from migtd.attest.quote import td_report_from_quote
    assert q[208:256] == td_report_from_quote(quote.read_bytes())[720:768]      # RTMR0 of the Azure TD


@pytest.mark.parametrize("extra, code, says", [
    (["--svn", "4294967296"], 1, "--svn must be a u32"),
    (["--mrowner", "abcd"], 1, "--mrowner must be 96 hex digits"),
    (["--report", "{policy}"], 1, "above the 1024-byte limit"),
    (["--quote", "{chain}"], 1, "is not a TD quote"),
])
def test_tool_refuses_bad_options_with_one_line(policy: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str],
                                                extra: list[str], code: int, says: str) -> None:
    args = [a.format(policy=policy, chain=CHAIN) for a in extra]
    out = tmp_path / "init.bin"
    assert tool_main(["init-data", "--policy", str(policy), "--chain", str(CHAIN), "--out", str(out), *args]) == code
    err = capsys.readouterr().err
    assert says in err and "Traceback" not in err and len(err.strip().splitlines()) == 1
    assert not out.exists()


def test_tool_never_overwrites_an_input_and_refuses_a_policy_that_does_not_verify(
        policy: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    before = policy.read_bytes()
    assert tool_main(["init-data", "--policy", str(policy), "--chain", str(CHAIN), "--out", str(policy)]) == 1
    assert "is the policy file" in capsys.readouterr().err
    assert policy.read_bytes() == before
    other_chain = tmp_path / "chain.pem"
    from migtd.policy import generate_v2 as g
    other_chain.write_bytes(g.IssuerCa.generate().issue().chain_pem)
    assert tool_main(["init-data", "--policy", str(policy), "--chain", str(other_chain),
                      "--out", str(tmp_path / "x.bin")]) == 9
    assert hashlib.sha256(policy.read_bytes()).digest() == hashlib.sha256(before).digest()
