"""Good files for every file argument of the registry, and the hostile files of issue #11.

The good set is made once per session from the project's own mock PKI and
the test vectors; the hostile set (a FIFO with no writer, ``/dev/zero``, a
directory, a 2 GB sparse file, a missing and an empty file, a 100 000-level
nested JSON array) once per session too.
"""

from __future__ import annotations

import os
from pathlib import Path

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


@pytest.fixture(scope="session")
def hostile_files(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """One path per hostile kind (plus ``nested_json``)."""
    d = tmp_path_factory.mktemp("hostile")
    fifo = d / "fifo"
    os.mkfifo(fifo)
    (d / "directory").mkdir()
    sparse = d / "sparse_2g.bin"
    with open(sparse, "wb") as f:
        f.truncate(2 << 30)
    (d / "empty.bin").write_bytes(b"")
    nested = d / "nested.json"
    nested.write_text("[" * NESTING + "]" * NESTING)
    return {"fifo": fifo, "dev_zero": Path("/dev/zero"), "directory": d / "directory", "sparse_2g": sparse,
            "missing": d / "missing.bin", "empty": d / "empty.bin", "nested_json": nested}


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
    return {
        "quote": paths.sample_quote(), "collateral": paths.mock_collateral(), "root_ca": root,
        "policy_v1": policy_v1, "events_v1": d / "events_v1.bin", "quote_v1": d / "quote_v1.bin",
        "quote_v2": d / "quote_v2.bin",
        "policy_v2": d / "policy_v2.json", "chain_v2": d / "chain_v2.pem", "events_v2": d / "events_v2.bin",
        "signing_key": d / "signing_key.pem", "signing_chain": d / "chain_v2.pem",
        "canonical_json": d / "canonical.json", "report": pvec / "report.dat", "template_v1": pvec / "policy_full1.json",
        "hcl": vectors / "attestation" / "azure" / "hcl-report-tdx.bin",
    }
