"""What changes when the policy changes: the pairs whose verdict flips, and the rules responsible.

Two matrices over the same hosts (one per policy) are compared host pair by
host pair — through classes again: hosts are grouped by their (before class,
after class) couple, so the comparison costs the product of the two class
counts, not the square of the hosts. A :class:`Flip` is a group of host pairs
that changed verdict together, with the rules that explain it: the rules that
now fail (something became refused), the rules that no longer fail (something
became allowed), or both when a refusal changed its reason.

:func:`rule_changes` compares the two policy documents themselves, rule by
rule, so a change review shows the edit next to its consequences.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from migtd.errors import ConfigError
from migtd.fleet.config_files import PolicySpec
from migtd.fleet.matrix import Matrix, PairOutcome, Verdict


@dataclass(frozen=True)
class Flip:
    """Host pairs whose verdict changed the same way, for the same rules."""

    source_hosts: tuple[str, ...]
    destination_hosts: tuple[str, ...]
    host_pairs: int
    before: PairOutcome
    after: PairOutcome
    rules: tuple[str, ...]     # ``side:section.field`` responsible for the change

    def to_dict(self) -> dict[str, Any]:
        return {"source_hosts": list(self.source_hosts), "destination_hosts": list(self.destination_hosts),
                "host_pairs": self.host_pairs, "before": self.before.to_dict(), "after": self.after.to_dict(),
                "rules": list(self.rules)}


@dataclass(frozen=True)
class RuleChange:
    """One rule of the policy documents that was added, removed or changed."""

    rule: str
    before: str    # "" when added
    after: str     # "" when removed

    @property
    def change(self) -> str:
        return "added" if not self.before else "removed" if not self.after else "changed"


@dataclass
class PolicyDiff:
    """The comparison of two matrices over one fleet (see module doc)."""

    before: Matrix
    after: Matrix
    flips: list[Flip]
    rule_changes: list[RuleChange] = field(default_factory=list)

    @property
    def flipped_pairs(self) -> int:
        return sum(f.host_pairs for f in self.flips)

    def transitions(self) -> list[tuple[Verdict, Verdict, int]]:
        """(before verdict, after verdict, host pairs) for each kind of flip, largest first."""
        tally: dict[tuple[Verdict, Verdict], int] = {}
        for f in self.flips:
            key = (f.before.verdict, f.after.verdict)
            tally[key] = tally.get(key, 0) + f.host_pairs
        return sorted(((a, b, n) for (a, b), n in tally.items()), key=lambda t: (-t[2], t[0].value, t[1].value))

    def rule_tally(self) -> list[tuple[str, int]]:
        """Responsible rules with the host pairs they flipped, most first."""
        tally: dict[str, int] = {}
        for f in self.flips:
            for r in f.rules:
                tally[r] = tally.get(r, 0) + f.host_pairs
        return sorted(tally.items(), key=lambda t: (-t[1], t[0]))


def responsible_rules(before: PairOutcome, after: PairOutcome) -> tuple[str, ...]:
    """Rules that explain a flip: newly failing, no longer failing, or the difference of both."""
    if before.verdict is Verdict.ALLOWED:
        return after.failing_rules()
    if after.verdict is Verdict.ALLOWED:
        return before.failing_rules()
    b, a = before.failing_rules(), after.failing_rules()
    changed = tuple(r for r in a if r not in b) + tuple(r for r in b if r not in a)
    return changed or a


def diff_matrices(before: Matrix, after: Matrix) -> PolicyDiff:
    """Compare two matrices computed over the same hosts."""
    if [h.name for h in before.hosts] != [h.name for h in after.hosts]:
        raise ConfigError("the two matrices are not over the same hosts")
    groups: dict[tuple[int, int], list[str]] = {}
    for hb, ha in zip(before.hosts, after.hosts):
        groups.setdefault((hb.class_index, ha.class_index), []).append(hb.name)
    refined = sorted(groups.items(), key=lambda kv: kv[1][0])
    flips: list[Flip] = []
    for (b1, a1), src in refined:
        for (b2, a2), dst in refined:
            pairs = len(src) * (len(dst) - 1) if src is dst else len(src) * len(dst)
            if not pairs:
                continue
            ob, oa = before.outcome(b1, b2), after.outcome(a1, a2)
            if ob.verdict is not oa.verdict:
                flips.append(Flip(tuple(src), tuple(dst), pairs, ob, oa, responsible_rules(ob, oa)))
    flips.sort(key=lambda f: (-f.host_pairs, f.source_hosts[0], f.destination_hosts[0]))
    return PolicyDiff(before, after, flips, rule_changes(before.source_policy, after.source_policy))


# --------------------------------------------------------------------------- document rules


def policy_rules(spec: PolicySpec) -> dict[str, str]:
    """Every rule of a policy as ``name -> "operation reference"`` (names stable across edits)."""
    if spec.version == 1:
        return _v1_rules(spec.policy)
    return _v2_rules(spec)


def _v1_rules(policy: bytes) -> dict[str, str]:
    from migtd.policy.v1 import load_v1
    from migtd.policy.v1_document import MigTdBlock, PlatformBlock, QeBlock, TdxModuleBlock

    out: dict[str, str] = {}
    counters: dict[str, int] = {}
    for block in load_v1(policy).blocks:
        kind = type(block).__name__
        n = counters[kind] = counters.get(kind, 0) + 1
        if isinstance(block, PlatformBlock):
            groups = {f"Platform[{block.fmspc}].TcbInfo": block.tcb_info}
        elif isinstance(block, QeBlock):
            groups = {f"QE[{n}].QeIdentity": block.qe_identity}
        elif isinstance(block, TdxModuleBlock):
            groups = {f"TDXModule[{n}].TDXModule_Identity": block.identity}
        else:
            assert isinstance(block, MigTdBlock)
            groups = {f"MigTD[{n}].TDINFO": block.tdinfo, f"MigTD[{n}].EventLog": block.event_log}
        for prefix, props in groups.items():
            for prop in props:
                out[f"{prefix}.{prop.name}"] = f"{prop.operation} {prop.reference.text}"
    return out


def _v2_rules(spec: PolicySpec) -> dict[str, str]:
    from migtd.policy.v2.document import GlobalPolicy

    data = spec.verified().data
    out = {"policySvn": str(data.policy_svn)}
    for list_name, entries in (("policy", data.policy), ("forwardPolicy", data.forward_policy),
                               ("backwardPolicy", data.backward_policy)):
        for i, entry in enumerate(entries or ()):
            if isinstance(entry, GlobalPolicy):
                groups = {"global.tcb": entry.tcb, "global.platform": entry.platform, "global.crl": entry.crl}
            else:
                groups = {"servtd.migtdIdentity": entry.migtd_identity}
            for group, props in groups.items():
                for name, prop in props.items():
                    out[f"{list_name}[{i}].{group}.{name}"] = f"{prop.operation} {prop.text}"
    return out


def rule_changes(before: PolicySpec, after: PolicySpec) -> list[RuleChange]:
    """Rules added, removed or changed between two policies (empty when versions differ)."""
    if before.version != after.version:
        return []
    a, b = policy_rules(before), policy_rules(after)
    return [RuleChange(k, a.get(k, ""), b.get(k, "")) for k in sorted(set(a) | set(b)) if a.get(k) != b.get(k)]
