"""Every example of upstream's ``migtdemu.sh --help`` that can run on this machine, run as written.

The examples are upstream's own text (``tests/vectors/runner``, with
provenance): each line is ``$0`` followed by its options. ``$0`` becomes this
project's ``migtdemu.sh``; the options are passed as they are written, in a
fresh working folder, inside a private network namespace (``unshare -rn``,
:mod:`examples_lab`) so that the default port 8001 of the examples is free
and no other run on this shared machine can collide with it.

Two folders, as an operator would have them:

* the mock folder: ``./migtdemu.sh --policy-v2 --mock-report --both`` first
  generates ``./config/AzCVMEmu/policy_v2_signed.json`` and
  ``policy_issuer_chain.pem``, where upstream's runner writes them and where
  its rebinding examples look; upstream's captured quote sits at
  ``./config/AzCVMEmu/az_migtd_quote.blob`` as in upstream's checkout. The
  skip-RA, mock-report and rebinding examples run there.
* the Azure folder: the examples that use the default (azure) mode run
  against the lab's stand-in for an Azure TDX CVM (a swtpm and a local IMDS
  that answers with the captured Azure quote of that TD), with the
  collateral of that quote's platform; the policy v2 the example names is
  generated from that quote first, as upstream's policy build script does on
  a CVM.

Environment the examples need and the command line cannot give: the collateral
(``MIGTD_COLLATERAL_FILE``) for the captured quote, which MigTD-Py does not
ship built in, and the stand-in's ``TSS2_TCTI``/``MIGTD_IMDS_URL``. Examples
whose single role needs a peer run with one: another example where there is
one, else the same options with the other role.
"""

from __future__ import annotations

import json
import os
import shlex
import shutil
import signal
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from migtd import paths

ROOT = Path(__file__).resolve().parents[2]
SCRIPT = ROOT / "migtdemu.sh"
LAB = Path(__file__).resolve().with_name("examples_lab.py")
TOOL = Path(sys.executable).with_name("migtd-tool")
VECTORS = ROOT / "tests" / "vectors"
EXAMPLES = json.loads((VECTORS / "runner" / "upstream_help_examples.json").read_text())
CPUS = len(os.sched_getaffinity(0))

#: Examples this machine cannot run, by upstream line, and why.
NOT_HERE: dict[int, str] = {}  # every example runs (the --features ones since SPDM and igvm-attest landed)
#: Examples run in the mock folder; a single role names the peer it runs with (line or "other role").
MOCK = {109: "other role", 110: None, 111: "other role", 112: None, 113: None, 125: None, 126: None, 127: None,
        128: "other role", 129: None, 115: None}
#: Runs in the Azure folder: an example and, for a source, the destination example it runs with.
AZURE: list[tuple[int, int | str | None]] = [
    (105, 106), (107, 108), (118, 106), (119, 106), (117, None), (120, None), (121, None), (122, None),
    (114, 106),            # igvm-attest changes only how the source asks for its quote
    (116, "other role"),   # SPDM on both sides: the destination runs the same example with --role destination
]
AZURE_LINES = {line for pair in AZURE for line in pair if isinstance(line, int)}


def example(line: int) -> list[str]:
    """Upstream's example at ``line`` as an argument list: ``$0`` and the trailing comment removed."""
    (text,) = [e["text"] for e in EXAMPLES if e["line"] == line]
    command = text.split(" # ", 1)[0].strip()
    assert command.startswith("$0")
    return shlex.split(command[2:])


def role_of(args: list[str]) -> str:
    if "--both" in args:
        return "both"
    return args[args.index("--role") + 1] if "--role" in args else "source"


def other_role(args: list[str]) -> list[str]:
    flipped = list(args)
    if "--role" in flipped:
        at = flipped.index("--role") + 1
        flipped[at] = "source" if flipped[at] == "destination" else "destination"
    else:
        flipped += ["--role", "destination"]
    return flipped


def step(line: int, peer: int | str | None, **extra: Any) -> dict[str, Any]:
    """A lab step running example ``line`` (with its peer started first when it is a single role)."""
    args = example(line)
    out: dict[str, Any] = {"id": line, "args": ["bash", str(SCRIPT), *args], **extra}
    if peer is not None:
        peer_args = other_role(args) if peer == "other role" else example(int(peer))
        own, theirs = role_of(args), role_of(peer_args)
        assert {own, theirs} == {"source", "destination"}, (line, peer)
        if own == "destination":      # the destination listens first: it is the background command
            out["background"], out["args"] = out["args"], ["bash", str(SCRIPT), *peer_args]
        else:
            out["background"] = ["bash", str(SCRIPT), *peer_args]
    return out


def clean_env() -> dict[str, str]:
    return {k: v for k, v in os.environ.items()
            if not k.startswith(("MIGTD_", "MOCK_QUOTE", "RUST_LOG", "TSS2_", "NO_COLOR"))}


def run_lab(tmp: Path, cwd: Path, steps: list[dict[str, Any]], *, azure: bool = False,
            env: dict[str, str] | None = None) -> dict[str, Any]:
    if shutil.which("unshare") is None:
        pytest.fail("unshare (util-linux) is needed to give each example its own loopback")
    spec = tmp / "spec.json"
    out = tmp / "results.json"
    spec.write_text(json.dumps({"cwd": str(cwd), "steps": steps, "out": str(out), "env": env or {},
                                "azure": {"quote": str(cwd / "config" / "AzCVMEmu" / "az_migtd_quote.blob")}
                                if azure else None}))
    proc = subprocess.Popen(["unshare", "--map-root-user", "--net", sys.executable, str(LAB), str(spec)],
                            env=clean_env(), stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                            start_new_session=True)
    try:
        lab_out, _ = proc.communicate(timeout=60 + 90 * len(steps))
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        lab_out, _ = proc.communicate()
        pytest.fail(f"the examples lab did not finish:\n{lab_out}")
    assert proc.returncode == 0 and out.exists(), lab_out
    return json.loads(out.read_text())


def folder(tmp: Path) -> Path:
    """A working folder with upstream's captured quote where upstream's checkout has it."""
    cwd = tmp / "work"
    (cwd / "config" / "AzCVMEmu").mkdir(parents=True)
    shutil.copy(VECTORS / "attestation" / "az_migtd_quote.blob", cwd / "config" / "AzCVMEmu" / "az_migtd_quote.blob")
    return cwd


def succeeded(result: dict[str, Any], line: int) -> None:
    args = example(line)
    what = f"example line {line}: {' '.join(args)}\n{result['out']}\n{result.get('peer_out', '')}"
    assert result["code"] == 0, what
    if "background" in result or "peer_code" in result:
        assert result["peer_code"] == 0, what
    if "--both" in args:
        op = args[args.index("--operation") + 1] if "--operation" in args else "migration"
        assert f"SUCCESS: ({op}) completed!" in result["out"], what
    else:
        assert "MigTD exit code: 0" in result["out"] + result.get("peer_out", ""), what


def test_every_example_is_run_or_says_why_not() -> None:
    lines = [e["line"] for e in EXAMPLES]
    assert len(lines) == 23 and len(set(lines)) == 23
    assert set(lines) == set(NOT_HERE) | set(MOCK) | AZURE_LINES
    assert not (set(NOT_HERE) & (set(MOCK) | AZURE_LINES)) and not set(MOCK) & AZURE_LINES
    for line in NOT_HERE:
        assert "--features" in example(line)


def test_mock_and_skip_ra_examples(tmp_path: Path) -> None:
    cwd = folder(tmp_path)
    collateral = str(VECTORS / "attestation" / "collateral_azure_thim.json")
    steps = [{"id": "generate", "args": ["bash", str(SCRIPT), "--policy-v2", "--mock-report", "--both"]}]
    steps += [step(line, peer, **({"env": {"MIGTD_COLLATERAL_FILE": collateral}} if line == 113 else {}))
              for line, peer in MOCK.items()]
    results = {r["id"]: r for r in run_lab(tmp_path, cwd, steps)["steps"]}
    assert results["generate"]["code"] == 0, results["generate"]["out"]
    assert (cwd / "config" / "AzCVMEmu" / "policy_v2_signed.json").is_file()
    for line in MOCK:
        succeeded(results[line], line)
    # rebind-finalize succeeds here (upstream's MigTD rejects the request: README, Differences)
    assert "SUCCESS: (rebind-finalize) completed!" in results[127]["out"]


def test_azure_examples_on_a_stand_in_cvm(tmp_path: Path) -> None:
    cwd = folder(tmp_path)
    att = VECTORS / "attestation"
    generate = [str(TOOL), "policy", "generate-v2", "--quote", "./config/AzCVMEmu/az_migtd_quote.blob",
                "--root-ca", str(paths.intel_root_ca()), "--collateral", str(att / "collateral_azure_thim.json"),
                "--out", "./config/AzCVMEmu/policy_v2_signed.json",
                "--chain-out", "./config/AzCVMEmu/policy_issuer_chain.pem"]
    steps = [{"id": "generate", "args": generate}] + [step(line, peer) for line, peer in AZURE]
    lab = run_lab(tmp_path, cwd, steps, azure=True,
                  env={"MIGTD_COLLATERAL_FILE": str(att / "collateral_azure_thim.json")})
    results = {r["id"]: r for r in lab["steps"]}
    assert results["generate"]["code"] == 0, results["generate"]["out"]
    for line, _ in AZURE:
        args = example(line)
        wanted = int(args[args.index("--num-cpus") + 1]) if "--num-cpus" in args else 0
        if wanted > CPUS:        # upstream's runner refuses these the same way on this machine
            assert results[line]["code"] == 1, results[line]["out"]
            assert f"Requested {wanted} CPUs but only {CPUS} available" in results[line]["out"]
            continue
        succeeded(results[line], line)   # a pair: the destination example's exit status too
    assert lab["imds_requests"] > 0
