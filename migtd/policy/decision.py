"""Policy verdicts as data: one record per rule checked, plus the overall outcome.

The engine, the console and ``migtd-tool policy check`` all need to show *why*
a peer was accepted or refused, so evaluation never answers with a bare
boolean. Each rule checked becomes a :class:`RuleResult` and the whole run a
:class:`PolicyDecision`; the ``policy_rule`` / ``policy_decision`` events of
docs/events.md are rendered straight from them.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any, NamedTuple

from migtd.policy.errors import PolicyError
from migtd.result import MigrationResult

#: The fields of a ``policy_rule`` event, in the order they are written.
EVENT_FIELDS = ("section", "field", "operation", "reference", "local", "actual", "ok", "reason")


class RuleResult(NamedTuple):
    """The verdict of one policy rule.

    ``reference`` is the rule's reference as written in the policy (JSON text
    for non-strings); ``local`` and ``actual`` are the checking MigTD's own
    value and the peer's value, as upper-case hex for bytes or as text.
    ``path`` is the JSON path of the rule inside the policy document.
    """

    section: str
    field: str
    operation: str
    reference: str
    local: str
    actual: str
    ok: bool
    reason: str = ""
    path: str = ""

    @property
    def name(self) -> str:
        """``"section.field"``, the form used in ``failed_rules``."""
        return f"{self.section}.{self.field}"

    def as_event(self) -> dict[str, Any]:
        """Exactly the fields of a ``policy_rule`` event (docs/events.md)."""
        return {name: getattr(self, name) for name in EVENT_FIELDS}

    @classmethod
    def from_event(cls, fields: Mapping[str, Any], text: Callable[[Any], str] | None = None) -> RuleResult:
        """The rule a ``policy_rule`` event describes (the console's view of one).

        ``text`` turns each text field into a string (a reader of another
        process's output must not trust the types; by default ``str``, with a
        missing field as ``""``); ``ok`` is true only for a JSON ``true``.
        ``path`` is not part of the event and stays empty.
        """
        as_text = text or (lambda value: "" if value is None else str(value))
        return cls(**{name: as_text(fields.get(name)) for name in EVENT_FIELDS if name != "ok"},
                   ok=fields.get("ok") is True)


class PolicyDecision:
    """Overall verdict: ``ok`` iff no error; the rules checked, in order.

    ``error`` is the first failure (evaluation stops there, like upstream);
    ``notes`` carries things an operator should know although they did not
    fail the decision, such as a tolerated RTMR replay mismatch. A plain
    class: the flows prepend rules and notes they checked before evaluating.
    """

    __slots__ = ("error", "notes", "ok", "policy_version", "rules")

    def __init__(self, ok: bool, rules: list[RuleResult] | None = None, error: PolicyError | None = None,
                 notes: list[str] | None = None, policy_version: str = "") -> None:
        self.ok = ok
        self.rules: list[RuleResult] = [] if rules is None else rules
        self.error = error
        self.notes: list[str] = [] if notes is None else notes
        self.policy_version = policy_version

    def __repr__(self) -> str:
        return (f"PolicyDecision(ok={self.ok}, rules={len(self.rules)}, error={self.error!r}, "
                f"notes={self.notes!r}, policy_version={self.policy_version!r})")

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, PolicyDecision):
            return NotImplemented
        return all(getattr(self, name) == getattr(other, name) for name in self.__slots__)

    __hash__ = None  # type: ignore[assignment]  # mutable, like the dataclass it replaces

    @property
    def result(self) -> MigrationResult:
        """Success, or the MigrationResult of the error (§1.3)."""
        if self.error is None:
            return MigrationResult.Success
        return self.error.result

    @property
    def kind(self) -> str:
        """Upstream variant name of the error, ``"OK"`` on success."""
        return "OK" if self.error is None else self.error.kind.value

    def failed_rules(self) -> list[str]:
        """``"section.field"`` of every failing rule, in evaluation order."""
        return [r.name for r in self.rules if not r.ok]

    def decision_event(self, *, skipped: bool = False) -> dict[str, Any]:
        """The fields of the ``policy_decision`` event."""
        return {"ok": self.ok, "failed_rules": self.failed_rules(), "skipped": skipped,
                "policy_version": self.policy_version}

    @classmethod
    def passed(cls, rules: list[RuleResult], *, version: str = "", notes: list[str] | None = None
               ) -> PolicyDecision:
        """A satisfied decision over ``rules``."""
        return cls(ok=True, rules=rules, notes=list(notes or []), policy_version=version)

    @classmethod
    def failed(cls, error: PolicyError, rules: list[RuleResult] | None = None, *,
               version: str = "", notes: list[str] | None = None) -> PolicyDecision:
        """A refused decision: ``error`` is the first failure, ``rules`` those checked up to it."""
        return cls(ok=False, rules=list(rules or []), error=error, notes=list(notes or []),
                   policy_version=version)


def emit_decision(log: Any, decision: PolicyDecision, *, skipped: bool = False) -> None:
    """Write one ``policy_rule`` event per rule and a closing ``policy_decision``.

    ``log`` is a :class:`migtd.events.EventLog` (typed loosely so this module
    stays free of I/O imports). Failing rules are logged at ``warn``.
    """
    for rule in decision.rules:
        verdict = "pass" if rule.ok else f"FAIL: {rule.reason}"
        log.emit("policy_rule", f"policy {rule.name} {rule.operation} {rule.reference}: {verdict}",
                 "info" if rule.ok else "warn", **rule.as_event())
    if decision.ok:
        msg = "migration policy satisfied"
    else:
        msg = f"migration policy not satisfied: {decision.error.message if decision.error else ''}"
    fields = decision.decision_event(skipped=skipped)
    major = decision.policy_version.partition(".")[0]
    fields["policy_version"] = int(major) if major.isdigit() else 0  # the event's field is the integer
    log.emit("policy_decision", msg, "info" if decision.ok else "error", **fields)
