"""Good files for every file argument of the registry, and the hostile files of issue #11.

The good set is made once per session from the project's own mock PKI and
the test vectors; the hostile set (a FIFO with no writer, ``/dev/zero``, a
directory, a 2 GB sparse file, a missing and an empty file, a 100 000-level
nested JSON array) once per session too, plain and with ``.json`` names.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import pytest

from migtd import eventlog, paths

#: The hostile kinds of issue #11 item 4 (and 3), each with the words its one-line error must hold.
FILE_KINDS: dict[str, str] = {
    "fifo": "is not a regular file (a FIFO)",
    "dev_zero": "is not a regular file (a character device)",
    "directory": "is not a regular file (a directory)",
    "sparse_2g": "byte limit",
    "missing": "does not exist",
    "empty": "is empty",
}

NESTING = 100_000


def _hostile_set(d: Path, suffix: str) -> dict[str, Path]:
    """One path per hostile kind in ``d``, each name ending in ``suffix``."""
    d.mkdir()
    fifo = d / f"fifo{suffix}"
    os.mkfifo(fifo)
    (d / f"directory{suffix}").mkdir()
    sparse = d / f"sparse_2g{suffix or '.bin'}"
    with open(sparse, "wb") as f:
        f.truncate(2 << 30)
    (d / f"empty{suffix or '.bin'}").write_bytes(b"")
    nested = d / "nested.json"
    nested.write_text("[" * NESTING + "]" * NESTING)
    dev_zero = Path("/dev/zero")
    if suffix:  # a name the program takes as a file, naming the same character device
        dev_zero = d / f"dev_zero{suffix}"
        dev_zero.symlink_to("/dev/zero")
    return {"fifo": fifo, "dev_zero": dev_zero, "directory": d / f"directory{suffix}", "sparse_2g": sparse,
            "missing": d / f"missing{suffix or '.bin'}", "empty": d / f"empty{suffix or '.bin'}", "nested_json": nested}


@pytest.fixture(scope="session")
def hostile_sets(tmp_path_factory: pytest.TempPathFactory) -> dict[str, dict[str, Path]]:
    """The hostile files by name ending (``FileInput.suffix``): ``""`` and ``".json"``."""
    d = tmp_path_factory.mktemp("hostile")
    return {"": _hostile_set(d / "plain", ""), ".json": _hostile_set(d / "json", ".json")}


@pytest.fixture(scope="session")
def hostile_files(hostile_sets: dict[str, dict[str, Path]]) -> dict[str, Path]:
    """One path per hostile kind (plus ``nested_json``)."""
    return hostile_sets[""]


@pytest.fixture(scope="session")
def good_files(tmp_path_factory: pytest.TempPathFactory, vectors: Path) -> dict[str, Path]:
    """A good file for every ``FileInput.good`` name of the registry."""
    from migtd.tool.main import main

    d = tmp_path_factory.mktemp("good")
    policy_v1 = paths.default_policy()
    root = paths.mock_root_ca()
    (d / "events_v1.bin").write_bytes(eventlog.v1_event_log(policy_v1.read_bytes(), root.read_bytes()))
    # a signed v2 policy over the mock PKI, with a fresh chain whose key also serves `policy sign`
    code = main(["policy", "generate-v2", "--new-chain", "--out", str(d / "policy_v2.json"),
                 "--chain-out", str(d / "chain_v2.pem"), "--key-out", str(d / "signing_key.pem")])
    assert code == 0
    (d / "events_v2.bin").write_bytes(eventlog.v2_event_log((d / "chain_v2.pem").read_bytes(),
                                                            (d / "policy_v2.json").read_bytes()))
    (d / "canonical.json").write_text('{"id":"x","n":1}')
    # quotes of the mock QE whose RTMRs replay from those event logs (so --strict-rtmr passes)
    from migtd.mock.providers import MockQeProvider

    qe = MockQeProvider()
    for name in ("v1", "v2"):
        log = (d / f"events_{name}.bin").read_bytes()
        (d / f"quote_{name}.bin").write_bytes(qe.quote(qe.td_report(bytes(64), log)))
    pvec = vectors / "policy" / "src" / "policy" / "test"
    # evidence of this host (mock QE), a one-host inventory whose sshd port is closed, a saved console run
    evidence = d / "h1.evidence.json"
    assert main(["evidence", "collect", "--attestation", "mock-report", "--host-name", "h1", "--out",
                 str(evidence)]) == 0
    (d / "hosts").write_text("h1\n")
    (d / "ssh_config").write_text("Host h1\n  HostName 127.0.0.1\n  Port 1\n  ConnectTimeout 5\n")
    (d / "run.json").write_text(json.dumps(_succeeded_run().to_json()))
    return {
        "quote": paths.sample_quote(), "collateral": paths.mock_collateral(), "root_ca": root,
        "policy_v1": policy_v1, "events_v1": d / "events_v1.bin", "quote_v1": d / "quote_v1.bin",
        "quote_v2": d / "quote_v2.bin",
        "policy_v2": d / "policy_v2.json", "chain_v2": d / "chain_v2.pem", "events_v2": d / "events_v2.bin",
        "signing_key": d / "signing_key.pem", "signing_chain": d / "chain_v2.pem",
        "canonical_json": d / "canonical.json", "report": pvec / "report.dat", "template_v1": pvec / "policy_full1.json",
        "hcl": vectors / "attestation" / "azure" / "hcl-report-tdx.bin",
        "evidence": evidence, "inventory": d / "hosts", "ssh_config": d / "ssh_config", "run_record": d / "run.json",
    }


def _succeeded_run() -> Any:
    """A console run record of a mock-report migration that succeeded (the console's recorded streams)."""
    from tui.record import RunRecord

    data = Path(__file__).resolve().parent.parent / "console" / "data"
    params = {"roles": ["destination", "source"], "request_id": 1, "dest_ip": "127.0.0.1", "dest_port": 8001,
              "policy_version": 1, "src_host": None, "dst_host": None, "attestation": "mock-report"}
    record = RunRecord("20251126-040640-good", 1764130000.0, params)
    for role in ("source", "destination"):
        record.lines[role] = (data / f"mock_success.{role}.jsonl").read_text(encoding="utf-8").splitlines()
        record.exits[role] = {"code": 0, "transport": "local", "where": "local"}
    return record
