"""The compatibility matrix: which host can migrate to which, under a policy, and why not.

For every ordered pair source → destination the matrix runs what the two
MigTDs would run during a real migration (protocol.md §5.5, policy.md §2.7 and
§3.9): each side verifies its own quote and the peer's with *its* trust
anchors, then evaluates *its* policy with *its* own verified report and event
log as the local values — the source judging the destination
(``is_source=True`` / ``authenticate_migration_dest``), the destination
judging the source. A pair is

* ``not_attested`` when a quote does not verify (or a host has no evidence),
* ``refused_by_source`` when the source's policy refuses the destination
  (in TLS the client judges the server's certificate first, so this is what
  an operator would see even if the destination would refuse too),
* ``refused_by_destination`` when only the destination refuses,
* ``allowed`` otherwise,

and carries both sides' verdicts with the failing rules.

Work grows with profiles, not hosts: hosts whose evidence is identical for
every decision (:func:`migtd.fleet.profile.profile_key`) form a
:class:`HostClass`; each quote is verified once per side, each class pair is
evaluated once, and the result is shared by all host pairs of the two
classes. The result types are plain frozen data so a screen or an exporter
renders them without knowing how they were computed.
"""

from __future__ import annotations

import enum
import hashlib
from array import array
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from migtd.errors import ConfigError, MigtdError
from migtd.fleet.config_files import PolicySpec
from migtd.fleet.hosts import FleetHost
from migtd.fleet.profile import (
    LOG_FOLLOWING_SOURCES,
    Anchors,
    Attestation,
    AttestationCache,
    Projection,
    profile_key,
    project,
)
from migtd.result import MigrationResult

if TYPE_CHECKING:
    from migtd.policy.decision import PolicyDecision

#: ``progress(stage, done, total)``; stages: "hosts", "pairs".
Progress = Callable[[str, int, int], None]


class Verdict(str, enum.Enum):
    """What happens to a migration from the pair's source to its destination."""

    ALLOWED = "allowed"
    REFUSED_BY_SOURCE = "refused_by_source"
    REFUSED_BY_DESTINATION = "refused_by_destination"
    NOT_ATTESTED = "not_attested"


#: Display order of verdicts (tables, counts).
VERDICTS = (Verdict.ALLOWED, Verdict.REFUSED_BY_SOURCE, Verdict.REFUSED_BY_DESTINATION, Verdict.NOT_ATTESTED)


@dataclass(frozen=True)
class SideResult:
    """One side's judgement of its peer: the decision's outcome and the rules that failed.

    ``failed_rules`` are ``section.field`` names as in ``policy_decision``
    events; an attestation failure is ``attestation.local_quote`` or
    ``attestation.peer_quote`` and evidence that cannot be judged under the
    policy is ``evidence.local`` / ``evidence.peer``. ``result`` is the exit
    status that side's ``migtd`` would end with.
    """

    ok: bool
    kind: str
    result: int
    failed_rules: tuple[str, ...] = ()
    reason: str = ""
    notes: tuple[str, ...] = ()

    @property
    def attestation_failed(self) -> bool:
        """True when the side stopped before its policy (a quote or the evidence was unusable)."""
        return any(r.startswith(("attestation.", "evidence.")) for r in self.failed_rules)

    def to_dict(self) -> dict[str, Any]:
        return {"ok": self.ok, "kind": self.kind, "result": self.result,
                "result_name": MigrationResult.describe(self.result)[0], "failed_rules": list(self.failed_rules),
                "reason": self.reason, "notes": list(self.notes)}


@dataclass(frozen=True)
class PairOutcome:
    """The verdict for a source class → destination class, with each side's judgement."""

    verdict: Verdict
    source: SideResult
    destination: SideResult

    @property
    def refusing(self) -> tuple[str, SideResult] | None:
        """The side whose refusal decides the verdict (None when allowed)."""
        if self.verdict is Verdict.ALLOWED:
            return None
        if self.verdict is Verdict.REFUSED_BY_DESTINATION:
            return "destination", self.destination
        if self.verdict is Verdict.NOT_ATTESTED and self.source.ok:
            return "destination", self.destination
        return "source", self.source

    def failing_rules(self) -> tuple[str, ...]:
        """``side:rule`` for every failing rule of both sides (source first)."""
        return tuple([f"source:{r}" for r in self.source.failed_rules]
                     + [f"destination:{r}" for r in self.destination.failed_rules])

    @property
    def reason(self) -> str:
        """One line: the deciding side's reason."""
        side = self.refusing
        return "" if side is None else f"{side[0]}: {side[1].reason}"

    def to_dict(self) -> dict[str, Any]:
        return {"verdict": self.verdict.value, "source": self.source.to_dict(),
                "destination": self.destination.to_dict()}


@dataclass(frozen=True)
class HostClass:
    """Hosts with one evidence profile; ``profile`` says what they share (display strings)."""

    id: str
    index: int
    hosts: tuple[str, ...]
    attested: bool
    problem: str
    profile: dict[str, str] = field(hash=False, compare=False)

    def to_dict(self) -> dict[str, Any]:
        return {"id": self.id, "hosts": list(self.hosts), "attested": self.attested, "problem": self.problem,
                "profile": dict(self.profile)}


@dataclass(frozen=True)
class HostRow:
    """One host of the matrix: its class, groups, and why it has no evidence (if so)."""

    name: str
    class_index: int
    groups: tuple[str, ...]
    problem: str = ""
    problem_kind: str = ""


@dataclass(frozen=True)
class Cell:
    """A class pair as a screen shows it: the outcome and the host pairs it stands for."""

    source: HostClass
    destination: HostClass
    outcome: PairOutcome
    host_pairs: int
    source_hosts: tuple[str, ...]
    destination_hosts: tuple[str, ...]


@dataclass(frozen=True)
class PairExplanation:
    """Both sides' full rule tables for one host pair (the console's side-by-side view)."""

    source_host: str
    destination_host: str
    outcome: PairOutcome
    source_decision: PolicyDecision | None
    destination_decision: PolicyDecision | None


# --------------------------------------------------------------------------- evaluation


def anchors_for(spec: PolicySpec, v1_anchors: Anchors | None) -> Anchors:
    """A side's trust anchors: the v1 root CA + collateral, or the v2 policy's embedded collaterals."""
    if spec.version == 2:
        collaterals = spec.verified().collaterals
        try:
            root = collaterals.root_ca_der()
        except MigtdError as exc:
            raise MigtdError(f"policy {spec.label}: {exc.message}", MigrationResult.InvalidPolicyError) from None
        return Anchors(root, collaterals.collateral, f"collaterals of {spec.label}")
    if v1_anchors is None:
        raise ConfigError("policy v1 needs trust anchors (a root CA and collateral)")
    return v1_anchors


class _ClassState:
    """One profile class while the matrix is computed: a representative host and its caches."""

    def __init__(self, host: FleetHost, attestations: dict[tuple[bytes, bytes], Attestation]) -> None:
        self.rep = host
        self.hosts: list[str] = []
        self.attestations = attestations
        self._projections: dict[tuple[tuple[bytes, bytes], tuple[int, bytes, bytes]], Projection] = {}

    def projection(self, anchors: Anchors, spec: PolicySpec) -> Projection:
        key = (anchors.key, spec.key)
        hit = self._projections.get(key)
        if hit is None:
            assert self.rep.evidence is not None
            hit = project(self.rep.evidence, self.attestations[anchors.key], spec)
            self._projections[key] = hit
        return hit


class Evaluator:
    """Runs the two sides' checks for class pairs; kept by the :class:`Matrix` for explanations."""

    def __init__(self, source: PolicySpec, destination: PolicySpec, v1_anchors: Anchors | None) -> None:
        if source.version != destination.version:
            raise ConfigError(f"the source policy is v{source.version} and the destination policy "
                              f"v{destination.version}: a MigTD runs one engine, so both sides need the same "
                              "version")
        self.source = source
        self.destination = destination
        self.src_anchors = anchors_for(source, v1_anchors)
        self.dst_anchors = anchors_for(destination, v1_anchors)
        self.cache = AttestationCache()

    @property
    def anchor_sets(self) -> list[Anchors]:
        """Distinct anchor sets (one when both sides trust the same root and collateral)."""
        if self.src_anchors.key == self.dst_anchors.key:
            return [self.src_anchors]
        return [self.src_anchors, self.dst_anchors]

    def attest_host(self, host: FleetHost) -> dict[tuple[bytes, bytes], Attestation]:
        """The host's quote judged under every side's anchors (cached by quote)."""
        assert host.evidence is not None
        return {a.key: self.cache.get(host.evidence.quote, a) for a in self.anchor_sets}

    def judge(self, checker: _ClassState, peer: _ClassState, is_source: bool, *,
              keep: bool = False) -> tuple[SideResult, PolicyDecision | None]:
        """What ``checker``'s MigTD decides about ``peer`` (the source when ``is_source``)."""
        spec = self.source if is_source else self.destination
        peer_spec = self.destination if is_source else self.source
        anchors = self.src_anchors if is_source else self.dst_anchors
        code = MigrationResult.MutualAttestationError if spec.version == 1 else MigrationResult.PolicyUnsatisfiedError
        kind = "MutualAttestationError" if spec.version == 1 else "QuoteVerification"
        if checker.rep.evidence is None:
            return SideResult(False, "NoEvidence", code, ("attestation.local_quote",),
                              f"no evidence ({checker.rep.problem_kind})"), None
        own = checker.attestations[anchors.key]
        if not own.ok:
            return SideResult(False, kind, code, ("attestation.local_quote",), f"local {own.failure}"), None
        if peer.rep.evidence is None:
            return SideResult(False, "NoEvidence", code, ("attestation.peer_quote",),
                              f"peer has no evidence ({peer.rep.problem_kind})"), None
        theirs = peer.attestations[anchors.key]
        if not theirs.ok:
            return SideResult(False, kind, code, ("attestation.peer_quote",), f"peer {theirs.failure}"), None
        mine = checker.projection(anchors, spec)
        if mine.note:
            return SideResult(False, "EvidenceMismatch", MigrationResult.InvalidParameter, ("evidence.local",),
                              f"local {mine.note}"), None
        other = peer.projection(anchors, peer_spec)
        if other.note:
            return SideResult(False, "EvidenceMismatch", MigrationResult.InvalidParameter, ("evidence.peer",),
                              f"peer {other.note}"), None
        tolerate = checker.rep.evidence.quote_source not in LOG_FOLLOWING_SOURCES
        decision = self._decide(spec, peer_spec, is_source, mine, other, tolerate)
        notes = tuple(decision.notes)
        if mine.changed or other.changed:
            notes += ("judged with the event log(s) the hosts would present running the evaluated policy",)
        failed = tuple(decision.failed_rules())
        if not decision.ok and not failed:  # refused before any rule (e.g. an event log that does not replay)
            failed = (f"error.{decision.kind}",)
        side = SideResult(decision.ok, decision.kind, int(decision.result), failed,
                          decision.error.message if decision.error else "", notes)
        return side, (decision if keep else None)

    @staticmethod
    def _decide(spec: PolicySpec, peer_spec: PolicySpec, is_source: bool, mine: Projection, other: Projection,
                tolerate: bool) -> PolicyDecision:
        if spec.version == 1:
            from migtd.policy.v1 import authenticate_v1

            return authenticate_v1(spec.policy, is_source=is_source, local_report=mine.report,
                                   local_event_log=mine.event_log, peer_report=other.report,
                                   peer_event_log=other.event_log, tolerate_rtmr_mismatch=tolerate)
        from migtd.policy.v2 import authenticate_migration_dest, authenticate_migration_source

        flow = authenticate_migration_dest if is_source else authenticate_migration_source
        return flow(spec.verified(), local_report=mine.report, peer_report=other.report,
                    peer_event_log=other.event_log, peer_policy=peer_spec.policy,
                    peer_chain=peer_spec.issuer_chain, tolerate_rtmr_mismatch=tolerate)

    def outcome(self, src: _ClassState, dst: _ClassState, *, keep: bool = False
                ) -> tuple[PairOutcome, PolicyDecision | None, PolicyDecision | None]:
        """Both sides' judgements and the verdict they make."""
        s, sd = self.judge(src, dst, True, keep=keep)
        d, dd = self.judge(dst, src, False, keep=keep)
        if s.attestation_failed or d.attestation_failed:
            verdict = Verdict.NOT_ATTESTED
        elif not s.ok:
            verdict = Verdict.REFUSED_BY_SOURCE
        elif not d.ok:
            verdict = Verdict.REFUSED_BY_DESTINATION
        else:
            verdict = Verdict.ALLOWED
        return PairOutcome(verdict, s, d), sd, dd


def _n(count: int, word: str, plural: str = "s") -> str:
    return f"{count} {word}" + ("" if count == 1 else plural)


def _short(text: str, n: int = 16) -> str:
    return text[:n] + "…" if len(text) > n else text


def _profile(state: _ClassState, anchors: Anchors) -> dict[str, str]:
    host = state.rep
    ev = host.evidence
    if ev is None:
        return {"evidence": "none", "problem_kind": host.problem_kind}
    att = state.attestations[anchors.key]
    out = {"attestation": ev.attestation, "quote_source": ev.quote_source,
           "policy": f"v{ev.policy_version} {ev.policy.sha384.hex().upper()[:8]}",
           "root_ca": ev.root_ca.sha384.hex().upper()[:8] if ev.root_ca else "",
           "issuer_chain": ev.issuer_chain.sha384.hex().upper()[:8] if ev.issuer_chain else "",
           "event_log": hashlib.sha256(ev.event_log).hexdigest().upper()[:8]}
    if att.ok:
        from migtd.attest import suppl as rpt

        def hexf(name: str) -> str:
            return rpt.field(att.report, name).hex().upper()

        fingerprint = hashlib.sha256(rpt.with_field(att.report, "REPORTDATA", bytes(64))).hexdigest().upper()
        out.update(fmspc=att.fmspc, tcb_status=att.tcb_status, tee_tcb_svn=att.tee_tcb_svn,
                   mrtd=_short(att.mrtd), advisories=",".join(att.advisories), xfam=hexf("XFAM"),
                   td_attributes=hexf("TD_ATTRIBUTES"), qe_isvsvn=str(int.from_bytes(
                       rpt.field(att.report, "QE_ISVSVN"), "little")), mrconfigid=_short(hexf("MRCONFIGID")),
                   report=fingerprint[:8])
    else:
        out.update(verification=f"{att.step}: {att.problem}")
    return out


@dataclass
class Matrix:
    """The computed matrix; every accessor returns plain data (see module doc)."""

    source_policy: PolicySpec
    destination_policy: PolicySpec
    classes: list[HostClass]
    hosts: list[HostRow]
    outcomes: list[PairOutcome]
    cells_index: array  # row-major P×P indices into ``outcomes``
    evaluator: Evaluator = field(repr=False)
    states: list[_ClassState] = field(repr=False)
    verified_quotes: int = 0
    _by_name: dict[str, HostRow] = field(default_factory=dict, repr=False)

    def __post_init__(self) -> None:
        self._by_name = {h.name: h for h in self.hosts}

    # --------------------------------------------------------- lookups
    def outcome(self, source_class: int, destination_class: int) -> PairOutcome:
        """The outcome of a class pair (indices into :attr:`classes`)."""
        return self.outcomes[self.cells_index[source_class * len(self.classes) + destination_class]]

    def host(self, name: str) -> HostRow:
        """A host by name (KeyError when unknown)."""
        return self._by_name[name]

    def pair(self, source: str, destination: str) -> PairOutcome:
        """The outcome for two hosts."""
        return self.outcome(self.host(source).class_index, self.host(destination).class_index)

    def host_pairs(self, source_class: int, destination_class: int) -> int:
        """Ordered host pairs a class pair stands for (a host never migrates to itself)."""
        a = len(self.classes[source_class].hosts)
        b = len(self.classes[destination_class].hosts)
        return a * (a - 1) if source_class == destination_class else a * b

    def explain(self, source: str, destination: str) -> PairExplanation:
        """Recompute one host pair with the full rule tables of both sides."""
        src = self.states[self.host(source).class_index]
        dst = self.states[self.host(destination).class_index]
        outcome, sd, dd = self.evaluator.outcome(src, dst, keep=True)
        return PairExplanation(source, destination, outcome, sd, dd)

    # --------------------------------------------------------- views
    def groups(self) -> list[str]:
        """Every host group, sorted."""
        return sorted({g for h in self.hosts for g in h.groups})

    def cells(self, *, source_group: str | None = None, destination_group: str | None = None,
              verdict: Verdict | None = None, rule: str | None = None) -> Iterator[Cell]:
        """Class pairs with at least one host pair, filtered (rule: ``section.field``, either side)."""
        def members(cls: HostClass, group: str | None) -> tuple[str, ...]:
            if group is None:
                return cls.hosts
            return tuple(h for h in cls.hosts if group in self._by_name[h].groups)

        for i, src in enumerate(self.classes):
            src_hosts = members(src, source_group)
            if not src_hosts:
                continue
            for j, dst in enumerate(self.classes):
                dst_hosts = members(dst, destination_group)
                if not dst_hosts:
                    continue
                outcome = self.outcome(i, j)
                if verdict is not None and outcome.verdict is not verdict:
                    continue
                if rule is not None and rule not in outcome.source.failed_rules \
                        and rule not in outcome.destination.failed_rules:
                    continue
                both = len(set(src_hosts) & set(dst_hosts)) if i == j else 0
                pairs = len(src_hosts) * len(dst_hosts) - both
                if pairs:
                    yield Cell(src, dst, outcome, pairs, src_hosts, dst_hosts)

    def counts(self) -> dict[Verdict, int]:
        """Host pairs per verdict (every verdict present, zero included)."""
        out = {v: 0 for v in VERDICTS}
        n = len(self.classes)
        for i in range(n):
            for j in range(n):
                out[self.outcome(i, j).verdict] += self.host_pairs(i, j)
        return out

    def rule_counts(self) -> list[tuple[str, str, int]]:
        """(side, rule, host pairs) for every failing rule, most frequent first."""
        tally: dict[tuple[str, str], int] = {}
        n = len(self.classes)
        for i in range(n):
            for j in range(n):
                pairs = self.host_pairs(i, j)
                if not pairs:
                    continue
                o = self.outcome(i, j)
                for side, result in (("source", o.source), ("destination", o.destination)):
                    for r in result.failed_rules:
                        tally[(side, r)] = tally.get((side, r), 0) + pairs
        return sorted(((s, r, c) for (s, r), c in tally.items()), key=lambda t: (-t[2], t[0], t[1]))

    @property
    def total_pairs(self) -> int:
        n = len(self.hosts)
        return n * (n - 1)

    def grouping_line(self) -> str:
        """One sentence stating how the hosts were grouped (printed with every matrix)."""
        return (f"{_n(len(self.hosts), 'host')} in {_n(len(self.classes), 'profile class', 'es')} "
                f"(identical verified report, "
                f"event log, quote source and configuration digests); {len(self.classes) ** 2} class pairs "
                f"evaluated for {self.total_pairs} host pairs; {self.verified_quotes} quote verifications")


def build_matrix(hosts: Iterable[FleetHost], source: PolicySpec, destination: PolicySpec | None = None, *,
                 anchors: Anchors | None = None, progress: Progress | None = None,
                 total_hosts: int | None = None, workers: int = 1) -> Matrix:
    """Evaluate every ordered host pair (see module doc).

    ``destination`` defaults to ``source`` (one policy fleet-wide); ``anchors``
    are the v1 trust anchors (v2 takes them from each side's policy).
    ``hosts`` may be a generator; only one evidence per class is kept.
    ``workers`` > 1 spreads quote verification (when ``total_hosts`` is large)
    and class-pair evaluation (when there are many class pairs) over that many
    processes (:mod:`migtd.fleet.parallel`); the result is the same.
    """
    from migtd.fleet import parallel

    dst_spec = destination or source
    ev = Evaluator(source, dst_spec, anchors)
    tick = progress or (lambda _stage, _done, _total: None)
    by_key: dict[Any, _ClassState] = {}
    rows: list[tuple[str, tuple[str, ...], _ClassState, str, str]] = []
    total = total_hosts or 0
    quotes: set[bytes] = set()
    if workers > 1 and total >= parallel.MIN_HOSTS:
        judged: Iterable[tuple[FleetHost, dict[tuple[bytes, bytes], Attestation]]] = \
            parallel.attest_stream(hosts, ev.anchor_sets, workers)
    else:
        judged = ((h, ev.attest_host(h) if h.evidence is not None else {}) for h in hosts)
    for count, (host, atts) in enumerate(judged, 1):
        if host.evidence is None:
            key: Any = ("no-evidence", host.problem_kind)
        else:
            quotes.add(hashlib.sha256(host.evidence.quote).digest())
            key = profile_key(host.evidence, tuple(atts[a.key] for a in ev.anchor_sets))
        state = by_key.get(key)
        if state is None:
            state = by_key[key] = _ClassState(host, atts)
        state.hosts.append(host.name)
        rows.append((host.name, host.groups, state, host.problem, host.problem_kind))
        tick("hosts", count, max(total, count))
    if not rows:
        raise ConfigError("the fleet has no hosts")
    states = sorted(by_key.values(), key=lambda s: min(s.hosts))
    width = len(str(len(states)))
    index = {id(s): i for i, s in enumerate(states)}
    classes = []
    for i, s in enumerate(states):
        s.hosts.sort()
        ok = s.rep.evidence is not None and all(a.ok for a in s.attestations.values())
        problem = "" if ok else (s.rep.problem or next((a.failure for a in s.attestations.values() if not a.ok), ""))
        if s.rep.evidence is None:
            problem = f"no evidence ({s.rep.problem_kind})"
        classes.append(HostClass(f"C{i + 1:0{width}d}", i, tuple(s.hosts), ok, problem,
                                 _profile(s, ev.src_anchors)))
    host_rows = sorted((HostRow(name, index[id(st)], tuple(groups), problem, kind)
                        for name, groups, st, problem, kind in rows), key=lambda h: h.name)
    n = len(states)
    outcomes: list[PairOutcome] = []
    seen: dict[PairOutcome, int] = {}
    cells = array("I", [0]) * (n * n)
    if workers > 1 and n * n >= parallel.MIN_CLASS_PAIRS:
        row_outcomes: Iterable[list[PairOutcome]] = parallel.pair_rows(ev, anchors, states, workers)
    else:
        row_outcomes = ([ev.outcome(src, dst)[0] for dst in states] for src in states)
    for i, row in enumerate(row_outcomes):
        for j, outcome in enumerate(row):
            k = seen.get(outcome)
            if k is None:
                k = seen[outcome] = len(outcomes)
                outcomes.append(outcome)
            cells[i * n + j] = k
        tick("pairs", (i + 1) * n, n * n)
    return Matrix(source, dst_spec, classes, host_rows, outcomes, cells, ev, states,
                  len(quotes) * len(ev.anchor_sets))
