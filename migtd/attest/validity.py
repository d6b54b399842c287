"""Which instant collateral is judged at, and whether it has expired (attestation.md §3.4).

A TD has no trusted clock. Intel's servtd library, which MigTD uses, takes
"now" as the midpoint between the latest issue date and the earliest expiry
over everything the verification used (CRLs, certificate chains, TCB info, QE
identity) and treats expiry only as a flag, never as a failure: the
*midpoint* rule. ``at=`` instead asks for a strict check at one instant, as
dcap-qvl does: every item must be valid then (not before its start, not after
its end).
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import UTC, datetime

from migtd.attest.errors import QuoteVerificationError

#: (what, valid from, valid until); ``None`` where an item has no such bound.
Window = tuple[str, datetime | None, datetime | None]


def utc(dt: datetime | None) -> datetime | None:
    """``dt`` as an aware UTC datetime (naive values are taken as UTC)."""
    if dt is None:
        return None
    return dt.replace(tzinfo=UTC) if dt.tzinfo is None else dt.astimezone(UTC)


def midpoint(windows: Iterable[Window]) -> tuple[datetime, bool]:
    """The midpoint instant and whether any item had expired by then."""
    items = list(windows)
    latest = max(int(s.timestamp()) for _, s, _ in items if s is not None)
    earliest = min(int(e.timestamp()) for _, _, e in items if e is not None)
    now = datetime.fromtimestamp((latest + earliest) // 2, UTC)
    return now, any(e is not None and e < now for _, _, e in items)


def check_at(windows: Iterable[Window], at: datetime) -> datetime:
    """``at`` (as UTC) if every item is valid then; else :class:`QuoteVerificationError` at step ``time``."""
    now = utc(at)
    assert now is not None
    for what, start, end in windows:
        if start is not None and now < start:
            raise QuoteVerificationError("time", f"{what} is not valid until {start:%Y-%m-%dT%H:%M:%SZ}")
        if end is not None and now > end:
            raise QuoteVerificationError("time", f"{what} expired at {end:%Y-%m-%dT%H:%M:%SZ}")
    return now
