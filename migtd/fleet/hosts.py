"""The fleet as the matrix sees it: one :class:`FleetHost` per host, with evidence or a reason.

Input is what ``fleet collect`` wrote (a folder with ``fleet-state.json`` and
one ``<host>.evidence.json`` per collected host) or evidence files named one
by one. A host the collector could not reach, or whose evidence file is
damaged, is still a host of the fleet: it appears with the reason and the
matrix marks its pairs "not attested" instead of silently dropping it.

:func:`iter_fleet` yields hosts one at a time so a large fleet is never held
in memory twice (the matrix keeps one evidence per profile class).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path

from migtd.errors import ConfigError
from migtd.fleet.evidence import Evidence, EvidenceError, load_evidence
from migtd.fleet.state import STATE_FILE, FleetState
from migtd.inputs import InputError

EVIDENCE_SUFFIX = ".evidence.json"

Warn = Callable[[str], None]


@dataclass(frozen=True)
class FleetHost:
    """A host of the fleet: its name and groups, and its evidence or why there is none."""

    name: str
    groups: tuple[str, ...] = ()
    evidence: Evidence | None = None
    problem: str = ""        # one line: why there is no usable evidence
    problem_kind: str = ""   # the collector's error kind, or "bad_evidence" / "not_collected"


def evidence_file_name(host: str) -> str:
    """The file name the collector gives a host's evidence (host names are file-name safe, see inventory)."""
    return f"{host}{EVIDENCE_SUFFIX}"


def _from_file(path: Path, name: str | None, groups: tuple[str, ...], warn: Warn) -> FleetHost:
    fallback = name or path.name.removesuffix(EVIDENCE_SUFFIX).removesuffix(".json")
    try:
        evidence = load_evidence(path)
    except EvidenceError as exc:
        warn(exc.message)
        return FleetHost(fallback, groups, problem=exc.message, problem_kind="bad_evidence")
    if name is not None and evidence.host != name:
        problem = f"evidence file {path} is for host {evidence.host!r}, not {name!r}"
        warn(problem)
        return FleetHost(name, groups, problem=problem, problem_kind="bad_evidence")
    return FleetHost(evidence.host, groups, evidence)


def _from_folder(folder: Path, warn: Warn) -> Iterator[FleetHost]:
    state_path = folder / STATE_FILE
    if state_path.exists():
        state = FleetState.load(state_path)
        for name, host in sorted(state.hosts.items()):
            groups = tuple(host.groups)
            if host.evidence and ("/" in host.evidence or host.evidence.startswith(".")):
                problem = f"{state_path}: evidence file name {host.evidence[:80]!r} is not a file in {folder}"
                warn(problem)
                yield FleetHost(name, groups, problem=problem, problem_kind="bad_evidence")
            elif host.evidence and host.collected_at:
                yield _from_file(folder / host.evidence, name, groups, warn)
            elif host.ok:
                yield FleetHost(name, groups, problem="collected, but the state names no evidence file",
                                problem_kind="bad_evidence")
            else:
                yield FleetHost(name, groups, problem=host.error or "not collected yet",
                                problem_kind=host.error_kind or "not_collected")
        return
    files = sorted(folder.glob(f"*{EVIDENCE_SUFFIX}"))
    if not files:
        raise ConfigError(f"{folder} holds no {STATE_FILE} and no *{EVIDENCE_SUFFIX} files")
    for path in files:
        yield _from_file(path, None, (), warn)


def iter_fleet(paths: Iterable[str | Path], warn: Warn | None = None) -> Iterator[FleetHost]:
    """Hosts from collection folders and evidence files; each damaged file is one ``warn`` line."""
    say: Warn = warn or (lambda _line: None)
    seen: dict[str, str] = {}
    for raw in paths:
        path = Path(raw)
        try:
            is_dir = path.is_dir()
            exists = is_dir or path.exists()
        except OSError as exc:
            raise InputError(f"evidence path {path} cannot be read ({exc.strerror or exc})") from None
        if not exists:  # a typo must not become a host "not attested"
            raise InputError(f"evidence path {path} does not exist")
        hosts = _from_folder(path, say) if is_dir else iter([_from_file(path, None, (), say)])
        for host in hosts:
            if host.name in seen:
                raise ConfigError(f"host {host.name} appears twice ({seen[host.name]} and {path})")
            seen[host.name] = str(path)
            yield host


def fleet_files(paths: Iterable[str | Path]) -> tuple[list[Path], int]:
    """The files a fleet is read from (state and evidence files) and the number of hosts.

    Used before any work: outputs are checked against these inputs, and the
    host count sizes the progress bar. A damaged state file is left for
    :func:`iter_fleet` to report.
    """
    files: list[Path] = []
    hosts = 0
    for raw in paths:
        path = Path(raw)
        if not path.is_dir():
            files.append(path)
            hosts += 1
            continue
        state_path = path / STATE_FILE
        if state_path.exists():
            files.append(state_path)
            try:
                state = FleetState.load(state_path)
            except InputError:
                continue
            hosts += len(state.hosts)
            files += [path / h.evidence for h in state.hosts.values() if h.evidence]
        else:
            found = sorted(path.glob(f"*{EVIDENCE_SUFFIX}"))
            files += found
            hosts += len(found)
    return files, hosts


def load_fleet(paths: Iterable[str | Path], warn: Warn | None = None) -> list[FleetHost]:
    """:func:`iter_fleet` as a list."""
    return list(iter_fleet(paths, warn))
