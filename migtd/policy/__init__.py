"""Migration policy engines: v1 (unsigned rules over report fields) and v2 (signed).

Everything here is pure: bytes and parsed values in, :class:`PolicyDecision`
out. No network, TLS or file access happens inside the package; callers read
files and pass their bytes.
"""

from migtd.policy.decision import PolicyDecision, RuleResult, emit_decision
from migtd.policy.errors import PolicyError, PolicyErrorKind
from migtd.policy.v1 import authenticate_v1, evaluate_v1, load_v1

__all__ = [
    "PolicyDecision",
    "PolicyError",
    "PolicyErrorKind",
    "RuleResult",
    "authenticate_v1",
    "emit_decision",
    "evaluate_v1",
    "load_v1",
]
