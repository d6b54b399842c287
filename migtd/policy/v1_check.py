"""The v1 comparison: one operation, one reference, the local and peer bytes (§2.3).

Kept apart from the evaluator so the truth table can be tested exhaustively.
Every combination upstream does not implement is simply false, never an error:
a v1 policy that asks for something meaningless fails closed.
"""

from __future__ import annotations

from migtd.policy.v1_document import Reference, RefKind


def _le(data: bytes) -> int:
    return int.from_bytes(data, "little")


def check(operation: str, ref: Reference, local: bytes, peer: bytes, is_src: bool) -> bool:
    """True when ``peer`` satisfies ``operation``/``ref``; ``local`` is used for "self".

    With "self", the ordering operators express *destination ≥ source*
    whichever side evaluates: the source compares peer ≥ local, the
    destination local ≥ peer.
    """
    kind = ref.kind
    if kind is RefKind.INTEGER:
        if len(peer) > 8:
            return False
        if operation == "equal":
            return _le(peer) == ref.value
        if operation == "greater-or-equal":
            return _le(peer) >= ref.value
        return False
    if kind is RefKind.STRING:
        return operation == "equal" and peer.hex().upper() == ref.value
    if kind is RefKind.RANGE:
        if operation not in ("in-range", "in-time-range") or len(peer) > 8:
            return False
        start, end = ref.value
        return start <= _le(peer) < end
    if kind is RefKind.ARRAY:
        expected: bytes = ref.value
        if len(peer) != len(expected):
            return False
        if operation == "array-equal":
            return peer == expected
        if operation == "array-greater-or-equal":
            return all(p >= r for p, r in zip(peer, expected))
        return False
    # SELF
    if len(local) != len(peer):
        return False
    if operation in ("equal", "array-equal"):
        return local == peer
    if operation == "greater-or-equal":
        if len(peer) > 8:
            return False
        return _le(peer) >= _le(local) if is_src else _le(local) >= _le(peer)
    if operation == "array-greater-or-equal":
        high, low = (peer, local) if is_src else (local, peer)
        return all(h >= lo for h, lo in zip(high, low))
    return False


def explain(operation: str, ref: Reference, local: bytes, peer: bytes, is_src: bool) -> str:
    """One human line saying why :func:`check` returned False."""
    kind = ref.kind
    if kind is RefKind.SELF:
        if len(local) != len(peer):
            return f"peer value has {len(peer)} bytes, local value {len(local)}"
        if operation in ("equal", "array-equal"):
            return "peer value differs from the local value"
        if operation == "greater-or-equal" and len(peer) > 8:
            return "greater-or-equal with \"self\" compares integers of at most 8 bytes; " \
                   "use array-greater-or-equal"
        if operation in ("greater-or-equal", "array-greater-or-equal"):
            side = "peer (destination) is below local (source)" if is_src \
                else "local (destination) is below peer (source)"
            return f"destination must be >= source: {side}"
        return f'operation "{operation}" is not supported with "self"'
    if kind is RefKind.INTEGER:
        if len(peer) > 8:
            return f"an integer reference cannot be compared with a {len(peer)}-byte value"
        if operation not in ("equal", "greater-or-equal"):
            return f'operation "{operation}" is not supported with an integer reference'
        word = "not equal to" if operation == "equal" else "below"
        return f"peer value {_le(peer)} is {word} {ref.value}"
    if kind is RefKind.STRING:
        if operation != "equal":
            return f'operation "{operation}" is not supported with a string reference'
        if ref.value.upper() == peer.hex().upper() and ref.value != peer.hex().upper():
            return "reference hex must be upper-case"
        return "peer value differs from the reference"
    if kind is RefKind.RANGE:
        if operation not in ("in-range", "in-time-range"):
            return f'operation "{operation}" is not supported with a range reference'
        if len(peer) > 8:
            return f"a range cannot be compared with a {len(peer)}-byte value"
        return f"peer value {_le(peer)} is outside [{ref.value[0]}, {ref.value[1]})"
    if len(peer) != len(ref.value):
        return f"reference has {len(ref.value)} bytes, the field {len(peer)}"
    if operation == "array-equal":
        return "peer bytes differ from the reference"
    if operation == "array-greater-or-equal":
        worse = [i for i, (p, r) in enumerate(zip(peer, ref.value)) if p < r]
        return f"peer byte {worse[0]} is below the reference" if worse else "peer is below the reference"
    return f'operation "{operation}" is not supported with an array reference'
