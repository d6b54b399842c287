"""The Fleet screen's data side: what to load, loading it, launching a pair, exports. No Textual.

The screen (:mod:`tui.screens.fleet`) runs :func:`load` and :func:`compare`
in a worker thread and only displays what they return; everything here is
plain functions over :mod:`migtd.fleet`'s data objects, so the tests call
them without an app and the command line (``migtd-tool fleet``) and the
console compute the same matrix from the same inputs:

* the evidence: collection folders (``migtd-tool fleet collect``) and/or
  evidence files, read by :func:`migtd.fleet.hosts.iter_fleet`;
* the policy in force: one for both sides, or one per side, checked as
  ``migtd`` checks it at start-up (:func:`migtd.fleet.config_files.load_policy_spec`);
* policy v1's trust anchors: the console's ``--root-ca-file`` /
  ``--collateral-file``, by default the mock PKI's (as ``fleet matrix``);
* an inventory (optional): the hosts' groups for the filters when the
  evidence has none, and where to reach each host for a launch.

Collecting (the screen's ``g`` key) reuses ``migtd-tool fleet collect``'s
collector: :func:`plan_collection` reads the inventory and names the hosts
that are due (no evidence, failed, or stale), and :class:`Collection` runs
:func:`migtd.fleet.collect.collect_hosts` in the worker thread, cancellable
from the screen, into the first evidence folder.

A pair is launched as a real migration over SSH (:func:`launch_params`):
the run planner (:mod:`migtd.plan`) checks it and makes each side's command
line, exactly as for ``migtd-console --src-host … --dst-host …``.
"""

from __future__ import annotations

import asyncio
import ipaddress
import json
import os
import subprocess
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

from migtd.errors import ConfigError

if TYPE_CHECKING:
    from migtd.fleet.collect import CollectOptions, CollectProgress, CollectSummary, HostOutcome
    from migtd.fleet.config_files import PolicySpec
    from migtd.fleet.diff import PolicyDiff
    from migtd.fleet.hosts import FleetHost
    from migtd.fleet.inventory import Host, Inventory
    from migtd.fleet.matrix import Matrix
    from migtd.fleet.profile import Anchors
    from tui.params import RunParams

#: ``progress(stage, done, total)``, as :func:`migtd.fleet.matrix.build_matrix` calls it.
Progress = Callable[[str, int, int], None]
#: Receives one line per damaged evidence file.
Warn = Callable[[str], None]
#: Deadline of ``ssh -G`` (it reads configuration only; it never connects).
SSH_G_TIMEOUT = 5.0


@dataclass(frozen=True)
class CollectSettings:
    """How the Fleet screen collects (``migtd-console --collect-*``; the defaults are ``fleet collect``'s)."""

    concurrency: int = 16
    timeout: float = 120.0
    stale_after: float = 86400.0
    remote_tool: str = "migtd-tool"


@dataclass(frozen=True)
class FleetRequest:
    """What the Fleet screen loads: evidence, the policy in force, anchors, an inventory.

    Per-side policies override ``policy``; one issuer chain serves both
    sides (policy v2). ``diff_policy`` is the policy the "what changes" mode
    compares with. ``workers`` is :func:`build_matrix`'s process count;
    ``collect`` is how the screen's ``g`` key collects (:class:`CollectSettings`).
    """

    evidence: tuple[str, ...]
    policy: str | None = None
    src_policy: str | None = None
    dst_policy: str | None = None
    issuer_chain: str | None = None
    root_ca: str | None = None
    collateral: str | None = None
    inventory: str | None = None
    diff_policy: str | None = None
    diff_issuer_chain: str | None = None
    workers: int = 1
    collect: CollectSettings = field(default_factory=CollectSettings)

    def policy_path(self, role: str) -> str:
        """The policy file ``role`` runs (default: the project's ``config/policy.json``)."""
        from migtd import paths

        side = self.src_policy if role == "source" else self.dst_policy
        return side or self.policy or str(paths.default_policy())

    @property
    def label(self) -> str:
        """The evidence, as the header names it (folder names, not whole paths)."""
        names = [Path(p).name or str(p) for p in self.evidence]
        return ", ".join(names[:3]) + (f" (+{len(names) - 3})" if len(names) > 3 else "")

    def inputs(self) -> list[tuple[str, str | Path | None]]:
        """Every file the screen reads: an export may never be one of them."""
        from migtd.fleet.hosts import fleet_files

        try:
            files, _ = fleet_files(self.evidence)
        except OSError:
            files = []
        found: list[tuple[str, str | Path | None]] = [("evidence file", f) for f in files]
        found += [("policy file", self.policy_path("source")), ("policy file", self.policy_path("destination")),
                  ("issuer chain file", self.issuer_chain), ("root CA file", self.root_ca),
                  ("collateral file", self.collateral), ("inventory", self.inventory),
                  ("compared policy file", self.diff_policy), ("compared issuer chain file", self.diff_issuer_chain)]
        return found


@dataclass(frozen=True)
class SshTarget:
    """Where a host is reached over SSH: from the inventory, else the collector's state, else its name."""

    name: str
    address: str
    user: str = ""
    port: int | None = None
    vars: dict[str, str] = field(default_factory=dict, hash=False, compare=False)

    @property
    def destination(self) -> str:
        """The ``ssh`` destination: ``[user@]address``, or ``ssh://[user@]address:port`` with a port."""
        who = f"{self.user}@" if self.user else ""
        if self.port:
            host = f"[{self.address}]" if ":" in self.address else self.address
            return f"ssh://{who}{host}:{self.port}"
        return f"{who}{self.address}"


@dataclass
class LoadedFleet:
    """A computed matrix and what the screen needs around it."""

    request: FleetRequest
    matrix: Matrix
    source: PolicySpec
    destination: PolicySpec
    anchors: Anchors | None
    warnings: list[str]
    targets: dict[str, SshTarget]
    seconds: float = 0.0

    def target(self, host: str) -> SshTarget:
        """Where ``host`` is reached (its name when nothing else is known)."""
        return self.targets.get(host) or SshTarget(host, host)

    def mode_of(self, host: str) -> str:
        """The attestation mode ``host``'s evidence was collected in ("" without evidence)."""
        cls = self.matrix.classes[self.matrix.host(host).class_index]
        return cls.profile.get("attestation", "") if cls.profile.get("evidence") != "none" else ""


def _anchors(request: FleetRequest) -> Anchors:
    from migtd import paths
    from migtd.fleet.config_files import ROOT_CA_MAX, load_collateral_file, read_config, root_ca_der
    from migtd.fleet.profile import Anchors

    root_path = Path(request.root_ca) if request.root_ca else paths.mock_root_ca()
    coll_path = Path(request.collateral) if request.collateral else paths.mock_collateral()
    root = root_ca_der(read_config(root_path, "root CA file", ROOT_CA_MAX), f"root CA file {root_path}")
    return Anchors(root, load_collateral_file(coll_path), f"{root_path.name} + {coll_path.name}")


def _policies(request: FleetRequest) -> tuple[PolicySpec, PolicySpec]:
    from migtd.fleet.config_files import load_policy_spec

    src_path, dst_path = request.policy_path("source"), request.policy_path("destination")
    source = load_policy_spec(src_path, request.issuer_chain)
    destination = source if dst_path == src_path else load_policy_spec(dst_path, request.issuer_chain)
    return source, destination


def _inventory(request: FleetRequest) -> dict[str, Host]:
    if not request.inventory:
        return {}
    from migtd.fleet.inventory import load_inventory

    return {h.name: h for h in load_inventory(request.inventory).hosts}


def _state_targets(request: FleetRequest) -> dict[str, SshTarget]:
    """Addresses the collector recorded (``fleet-state.json``); a damaged state is iter_fleet's to report."""
    from migtd.fleet.state import STATE_FILE, FleetState
    from migtd.inputs import InputError

    out: dict[str, SshTarget] = {}
    for raw in request.evidence:
        path = Path(raw) / STATE_FILE
        if not Path(raw).is_dir() or not path.exists():
            continue
        try:
            state = FleetState.load(path)
        except InputError:
            continue
        for name, host in state.hosts.items():
            out[name] = SshTarget(name, host.address or name, host.user, host.port)
    return out


def _hosts(request: FleetRequest, inventory: dict[str, Host], warn: Warn) -> Iterator[FleetHost]:
    """The fleet's hosts, with the inventory's groups added to those the evidence folder recorded."""
    from migtd.fleet.hosts import iter_fleet

    for host in iter_fleet(request.evidence, warn):
        inv = inventory.get(host.name)
        if inv is not None and inv.groups:
            groups = tuple(dict.fromkeys([*host.groups, *inv.groups]))
            if groups != host.groups:
                host = replace(host, groups=groups)
        yield host


def load(request: FleetRequest, progress: Progress | None = None, warn: Warn | None = None) -> LoadedFleet:
    """Read everything and build the matrix; any bad input is a :class:`MigtdError` with one line."""
    from migtd.fleet.hosts import fleet_files
    from migtd.fleet.matrix import build_matrix

    started = time.monotonic()
    if not request.evidence:
        raise ConfigError("no evidence: give a folder written by migtd-tool fleet collect (or evidence files)")
    warnings: list[str] = []

    def say(line: str) -> None:
        warnings.append(line)
        if warn is not None:
            warn(line)

    source, destination = _policies(request)
    anchors = _anchors(request) if source.version == 1 else None
    inventory = _inventory(request)
    targets = _state_targets(request)
    for name, h in inventory.items():
        targets[name] = SshTarget(name, h.address, h.user, h.port, dict(h.vars))
    try:
        _, total = fleet_files(request.evidence)
    except OSError:
        total = 0
    matrix = build_matrix(_hosts(request, inventory, say), source, destination, anchors=anchors,
                          progress=progress, total_hosts=total, workers=request.workers)
    return LoadedFleet(request, matrix, source, destination, anchors, warnings, targets,
                       time.monotonic() - started)


def compare(loaded: LoadedFleet, policy: str, issuer_chain: str | None = None,
            progress: Progress | None = None) -> PolicyDiff:
    """"What changes": the same evidence under ``policy`` (both sides), against the matrix shown."""
    from migtd.fleet.config_files import load_policy_spec
    from migtd.fleet.diff import diff_matrices
    from migtd.fleet.hosts import fleet_files
    from migtd.fleet.matrix import build_matrix

    after = load_policy_spec(policy, issuer_chain)
    before = loaded.source
    if after.version != before.version:
        raise ConfigError(f"{after.label} is policy v{after.version} and the policy in force v{before.version}: "
                          "compare policies of one version (a fleet runs one engine)")
    anchors = loaded.anchors if after.version == 1 else None
    request = loaded.request
    try:
        _, total = fleet_files(request.evidence)
    except OSError:
        total = 0
    matrix = build_matrix(_hosts(request, _inventory(request), lambda _line: None), after, anchors=anchors,
                          progress=progress, total_hosts=total, workers=request.workers)
    return diff_matrices(loaded.matrix, matrix)


# --------------------------------------------------------------------------- launching a pair


def ssh_hostname(destination: str, *, ssh_config: str | None = None, options: list[str] | None = None,
                 ssh: str = "ssh") -> str | None:
    """The host name ssh would connect to for ``destination`` (``ssh -G``: configuration only, no connection).

    An inventory often names hosts by ``~/.ssh/config`` aliases; the
    destination ``migtd`` must bind a real address and the source connect to
    it, so the alias is resolved the way ssh itself resolves it.
    """
    argv = [ssh, "-G"]
    if ssh_config:
        argv += ["-F", ssh_config]
    for opt in options or []:
        argv += ["-o", opt]
    argv += ["--", destination]
    try:
        done = subprocess.run(argv, capture_output=True, text=True, timeout=SSH_G_TIMEOUT,
                              stdin=subprocess.DEVNULL, check=False)
    except (OSError, subprocess.TimeoutExpired):
        return None
    if done.returncode != 0:
        return None
    for line in done.stdout.splitlines():
        key, _, value = line.partition(" ")
        if key == "hostname" and value.strip():
            return value.strip()
    return None


def _dest_ip(target: SshTarget, base: RunParams) -> str:
    explicit = target.vars.get("migtd_dest_ip")
    if explicit:
        return explicit
    try:
        ipaddress.ip_address(target.address)
        return target.address
    except ValueError:
        pass
    return ssh_hostname(target.destination, ssh_config=base.ssh_config, options=base.ssh_options) or target.address


def launch_params(base: RunParams, loaded: LoadedFleet, source: str, destination: str,
                  *, resolve: Callable[[SshTarget, RunParams], str] = _dest_ip) -> RunParams:
    """A real migration ``source`` → ``destination`` over SSH, with the policy in force.

    Both sides run on their hosts (destination first); the destination binds
    its address and the source connects to it. The attestation mode is the
    one the hosts' evidence was collected in; policies, issuer chain and
    trust files are the console's, as paths on the hosts (a host that keeps
    them elsewhere needs the project at the same path, as for any remote
    side). The run planner checks the request; a refusal is a one-line
    :class:`migtd.plan.PlanError`.
    """
    if source == destination:
        raise ConfigError("a host does not migrate to itself: choose two hosts")
    modes = {m for m in (loaded.mode_of(source), loaded.mode_of(destination)) if m}
    if len(modes) > 1:
        raise ConfigError(f"{source} and {destination} were collected in different attestation modes "
                          f"({', '.join(sorted(modes))}); a migration runs one mode on both sides")
    mode = modes.pop() if modes else base.attestation
    req = loaded.request
    src, dst = loaded.target(source), loaded.target(destination)
    chain = req.issuer_chain if loaded.source.version == 2 else None
    params = replace(
        base, roles=["destination", "source"], attestation=mode, operation="migration",
        src_host=src.destination, dst_host=dst.destination, dest_ip=resolve(dst, base),
        policy_file=None, src_policy_file=os.path.abspath(req.policy_path("source")),
        dst_policy_file=os.path.abspath(req.policy_path("destination")),
        policy_version=loaded.source.version,
        policy_issuer_chain_file=os.path.abspath(chain) if chain else None,
        root_ca_file=os.path.abspath(req.root_ca) if req.root_ca and loaded.source.version == 1 else None,
        collateral_file=os.path.abspath(req.collateral) if req.collateral and loaded.source.version == 1 else None,
        ssh_options=list(base.ssh_options))
    params.plan()  # PlanError: one line for the operator
    return params


# --------------------------------------------------------------------------- exports

#: Export kinds: (file name stem, extension, what the refusal messages call it).
EXPORTS = {"json": ("fleet-matrix", "json", "matrix JSON"), "csv": ("fleet-matrix", "csv", "matrix CSV"),
           "md": ("fleet-diff", "md", "diff Markdown")}


def default_export_path(kind: str, folder: Path, now: float | None = None) -> Path:
    """``folder/fleet-matrix-<UTC time>.json`` (or ``.csv``, ``fleet-diff-….md``), never an existing file."""
    stem, ext, _ = EXPORTS[kind]
    stamp = time.strftime("%Y%m%d-%H%M%S", time.gmtime(time.time() if now is None else now))
    path = folder / f"{stem}-{stamp}.{ext}"
    n = 2
    while path.exists():
        path = folder / f"{stem}-{stamp}-{n}.{ext}"
        n += 1
    return path


def export(kind: str, path: str | Path, matrix: Matrix | None, diff: PolicyDiff | None,
           inputs: list[tuple[str, Any]]) -> Path:
    """Write the matrix (``json``, ``csv``) or the diff (``md``) to ``path``; never over an input.

    The folder is created; a refusal (the path is an input, not a regular
    file, not writable) is an :class:`migtd.inputs.InputError` with one line.
    """
    from migtd.fleet.export import diff_markdown, matrix_to_dict, write_matrix_csv
    from migtd.inputs import InputError, open_output

    _, _, what = EXPORTS[kind]
    target = Path(path).expanduser()
    if kind == "md":
        if diff is None:
            raise ConfigError("no policy comparison to export: press w and choose the policy to compare with")
    elif matrix is None:
        raise ConfigError("no matrix to export yet")
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise InputError(f"cannot create {target.parent}: {exc.strerror or exc}") from None
    with open_output(target, what, inputs) as out:
        if kind == "json":
            assert matrix is not None
            json.dump(matrix_to_dict(matrix), out, indent=1)
            out.write("\n")
        elif kind == "csv":
            assert matrix is not None
            write_matrix_csv(matrix, out)
        else:
            assert diff is not None
            out.write(diff_markdown(diff))
    return target


def request_for(params: RunParams, evidence: tuple[str, ...] = (), *, inventory: str | None = None,
                diff_policy: str | None = None, diff_issuer_chain: str | None = None,
                workers: int | None = None, collect: CollectSettings | None = None) -> FleetRequest:
    """The fleet request of the console's flags: the run's policies and trust files are the fleet's."""
    if workers is None:
        workers = max(1, min(os.cpu_count() or 1, 4))  # as migtd-tool fleet matrix --jobs auto
    return FleetRequest(evidence=tuple(str(e) for e in evidence), policy=params.policy_file,
                        src_policy=params.src_policy_file, dst_policy=params.dst_policy_file,
                        issuer_chain=params.policy_issuer_chain_file, root_ca=params.root_ca_file,
                        collateral=params.collateral_file, inventory=inventory, diff_policy=diff_policy,
                        diff_issuer_chain=diff_issuer_chain, workers=workers,
                        collect=collect or CollectSettings())


# --------------------------------------------------------------------------- collecting (the g key)

#: What the collection table calls each outcome: the collector's status, or its error kind when it failed.
STATE_WORDS = {"collected": "collected", "fresh": "fresh (skipped)", "unreachable": "unreachable",
               "auth_refused": "auth refused", "tool_missing": "migtd-tool missing",
               "collection_failed": "collection failed", "timeout": "timed out", "ssh_error": "ssh error"}


def state_word(outcome: HostOutcome) -> str:
    """``collected``, ``fresh (skipped)``, ``unreachable``, ``auth refused``, ``migtd-tool missing``, …"""
    key = outcome.kind if outcome.status == "failed" else outcome.status
    return STATE_WORDS.get(key, key or outcome.status)


def collect_folder(request: FleetRequest) -> Path:
    """Where ``g`` collects: the first evidence entry, which must be a folder (created when missing)."""
    if not request.evidence:
        raise ConfigError("no evidence folder to collect into: give --fleet DIR (or press g and name one)")
    path = Path(request.evidence[0]).expanduser()
    if path.exists() and not path.is_dir():
        raise ConfigError(f"{path} is an evidence file: collection writes into a folder (--fleet DIR)")
    return path


@dataclass(frozen=True)
class CollectPlan:
    """A collection ready to run: the inventory's hosts, the collector's options, and which hosts are due."""

    inventory: Inventory
    options: CollectOptions
    due: tuple[str, ...]

    @property
    def fresh(self) -> tuple[str, ...]:
        """Hosts whose evidence is fresh: the collector keeps them (``refresh_all`` makes none fresh)."""
        due = set(self.due)
        return tuple(h.name for h in self.inventory.hosts if h.name not in due)


def plan_collection(request: FleetRequest, base: RunParams, *, refresh_all: bool = False) -> CollectPlan:
    """Read the inventory, check ssh and its configuration, and name the due hosts (the collector's rule).

    The ssh configuration and options are the console's (``--ssh-config``,
    ``--ssh-option``), as for a launch over SSH; concurrency, deadline and
    staleness are :class:`CollectSettings`. Any problem is a one-line
    :class:`MigtdError`.
    """
    import shutil

    from migtd.fleet.collect import CollectOptions, due
    from migtd.fleet.evidence import now_utc
    from migtd.fleet.inventory import load_inventory
    from migtd.fleet.state import STATE_FILE, FleetState
    from migtd.inputs import read_input

    if not request.inventory:
        raise ConfigError("no inventory to collect from: start with --inventory FILE (or press g and name one)")
    out_dir = collect_folder(request)
    if shutil.which("ssh") is None:
        raise ConfigError("ssh client 'ssh' not found (install openssh-client)")
    if base.ssh_config:
        read_input(base.ssh_config, "ssh config file", allow_empty=True)  # regular and readable, before any host
    inventory = load_inventory(request.inventory)
    s = request.collect
    options = CollectOptions(out_dir=out_dir, concurrency=s.concurrency, timeout=s.timeout,
                             stale_after=s.stale_after, refresh_all=refresh_all, ssh_config=base.ssh_config,
                             ssh_options=list(base.ssh_options), remote_tool=s.remote_tool,
                             inventory_label=str(request.inventory))
    state_path = out_dir / STATE_FILE
    state = FleetState.load(state_path) if state_path.exists() else FleetState()
    now = now_utc()
    todo = tuple(h.name for h in inventory.hosts if due(state.hosts.get(h.name), out_dir, now, options))
    return CollectPlan(inventory, options, todo)


class Collection:
    """A cancellable run of the collector (:func:`migtd.fleet.collect.collect_hosts`) in the calling thread.

    The screen's worker thread calls :meth:`run`, which blocks in an event
    loop of its own; :meth:`cancel` may be called from any thread, before or
    during the run (escape on the screen): the collector's task is cancelled,
    every ssh still running is killed, and the state file keeps what was
    collected so far.
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._task: asyncio.Task[CollectSummary] | None = None
        self._cancelled = False

    @property
    def cancelled(self) -> bool:
        return self._cancelled

    def run(self, plan: CollectPlan, report: Callable[[CollectProgress], None] | None = None
            ) -> CollectSummary | None:
        """Collect every due host of ``plan`` (``report`` after each); None when cancelled."""
        from migtd.fleet.collect import collect_hosts

        loop = asyncio.new_event_loop()
        try:
            with self._lock:
                if self._cancelled:
                    return None
                task = loop.create_task(collect_hosts(plan.inventory, plan.options, report=report))
                self._loop, self._task = loop, task
            try:
                return loop.run_until_complete(task)
            except asyncio.CancelledError:
                return None
        finally:
            with self._lock:
                self._loop = self._task = None
            loop.close()

    def cancel(self) -> None:
        """Stop the run (thread-safe; harmless before it starts or after it ends)."""
        with self._lock:
            self._cancelled = True
            if self._loop is not None and self._task is not None:
                self._loop.call_soon_threadsafe(self._task.cancel)
