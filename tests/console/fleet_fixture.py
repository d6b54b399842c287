"""A small synthetic fleet on disk, as ``migtd-tool fleet collect`` leaves it, for the Fleet screen tests.

Six profiles crafted so the grid shows every kind of cell the screen draws —
allowed, refused by source (platform, TCB components, QE, MRTD), not attested
(a broken quote signature, an unreachable host) — two hosts each in groups
``eastus`` / ``westus``, and ``gone`` that the collector could not reach
(group ``lost``). Times are fixed (the synthetic epoch) so the screen is the
same on every run; only the mock PKI's keys are fresh, and nothing the screen
shows depends on them.
"""

from __future__ import annotations

import json
from datetime import timedelta
from pathlib import Path

from migtd import paths
from migtd.fleet.hosts import evidence_file_name
from migtd.fleet.state import STATE_FILE, FleetState, HostState, write_atomic
from migtd.fleet.synthetic import EPOCH, TCB_PLATFORM_OUT_OF_DATE, Profile, SyntheticFleet

PROFILES = {
    "base": Profile(),
    "ood": Profile(tee_tcb_svn=TCB_PLATFORM_OUT_OF_DATE),
    "qe": Profile(qe_isvsvn=2),
    "sku": Profile(fmspc=1),
    "mrtd": Profile(mrtd=1),
    "broken": Profile(broken_signature=True),
}


def iso(seconds: int) -> str:
    return (EPOCH + timedelta(seconds=seconds)).strftime("%Y-%m-%dT%H:%M:%SZ")


def write_fleet(root: Path, fleet: SyntheticFleet) -> dict[str, Path]:
    """``root/fleet`` (evidence + fleet-state.json) and ``root/anchors`` (root CA, collateral, policy)."""
    out = root / "fleet"
    out.mkdir(parents=True)
    state = FleetState(inventory="hosts.yaml")
    n = 0
    for name, profile in PROFILES.items():
        for i, group in ((1, "eastus"), (2, "westus")):
            host = f"{name}{i}"
            evidence = fleet.evidence(host, profile, EPOCH + timedelta(seconds=n))
            write_atomic(out / evidence_file_name(host), evidence.to_json(), "evidence file")
            state.hosts[host] = HostState(host, status="ok", address=host, groups=[group], attempted_at=iso(n),
                                          collected_at=iso(n), duration=0.5,
                                          evidence=evidence_file_name(host), exit_status=0)
            n += 1
    state.hosts["gone"] = HostState("gone", status="failed", error_kind="unreachable",
                                    error="ssh: connect to host gone port 22: Connection refused",
                                    address="gone", groups=["lost"], attempted_at=iso(n), exit_status=255)
    write_atomic(out / STATE_FILE, state.to_json(), "state file")
    files = fleet.write_anchors(root / "anchors")
    relaxed = root / "anchors" / "relaxed.json"
    relaxed.write_bytes(relaxed_policy())
    return {"fleet": out, **files, "relaxed": relaxed}


def relaxed_policy() -> bytes:
    """The default policy less one rule: the TCB components check (destination ≥ source)."""
    doc = json.loads(paths.default_policy().read_text())
    del doc["policy"][0]["Platform"]["TcbInfo"]["tdxtcbcomponents"]
    return json.dumps(doc, indent=4).encode()
