"""Quote generation with upstream AzCVMEmu's retry policy and a failure-injection hook.

Upstream retries a failed quote request up to 5 more times with exponential
back-off starting at 20 ms (§5.8). ``MIGTD_QUOTE_FAILURES=N`` makes the first
N quote requests of the process fail on purpose, each logged at warn as
"Simulating quote failure", so tests can exercise both the recovery (N ≤ 5)
and the give-up path (N ≥ 6 → MutualAttestationError, exit 7).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping

from migtd.emu.quote_provider import QuoteProvider
from migtd.errors import AttestationError, ConfigError, MigtdError
from migtd.events import EventLog

RETRIES = 5
FIRST_DELAY = 0.020


def quote_failures_from_env(env: Mapping[str, str]) -> int:
    """``MIGTD_QUOTE_FAILURES``: how many quote requests fail on purpose (unset: 0)."""
    from migtd.inputs import parse_uint

    raw = env.get("MIGTD_QUOTE_FAILURES", "").strip()
    if not raw:
        return 0
    value = parse_uint(raw, 32)
    if value is None:
        raise ConfigError(f"Invalid MIGTD_QUOTE_FAILURES value: {raw}. Use a non-negative integer")
    return value


def backoff_delays(retries: int = RETRIES, first: float = FIRST_DELAY) -> list[float]:
    """Sleep before each retry: 20, 40, 80, 160, 320 ms."""
    return [first * (2 ** i) for i in range(retries)]


class FailureInjector:
    """Counts quote requests in this process and fails the first ``count``."""

    def __init__(self, count: int = 0) -> None:
        self.count = count
        self.requests = 0

    @classmethod
    def from_env(cls, env: Mapping[str, str]) -> FailureInjector:
        """``MIGTD_QUOTE_FAILURES`` (unset: 0); anything but a non-negative integer is a ConfigError."""
        return cls(quote_failures_from_env(env))

    def next_fails(self) -> bool:
        """Count one quote request; True while it is among the first ``count``."""
        self.requests += 1
        return self.requests <= self.count


def quote_with_retry(provider: QuoteProvider, td_report: bytes, log: EventLog,
                     injector: FailureInjector | None = None,
                     sleep: Callable[[float], object] = time.sleep) -> bytes:
    """``provider.quote(td_report)``, retried; AttestationError (7) once retries run out.

    A provider with its own ``quote_with_retry`` (the igvm-attest request,
    :mod:`migtd.emu.igvm`, whose status word decides what is retried) runs it instead.
    """
    own = getattr(provider, "quote_with_retry", None)
    if own is not None:
        return own(td_report, log, injector, sleep)
    injector = injector or FailureInjector(0)
    delays = backoff_delays()
    last = ""
    for attempt in range(1, RETRIES + 2):
        if injector.next_fails():
            last = "simulated failure"
            log.warn(f"Simulating quote failure (attempt {attempt} of {RETRIES + 1})")
        else:
            try:
                quote = provider.quote(td_report)
                if not quote:
                    raise AttestationError("the provider returned an empty quote")
                return quote
            except Exception as exc:  # noqa: BLE001 - any provider failure is retried, as upstream does
                last = exc.message if isinstance(exc, MigtdError) else f"{type(exc).__name__}: {exc}"
                log.warn(f"Quote generation failed (attempt {attempt} of {RETRIES + 1}): {last}")
        if attempt <= RETRIES:
            sleep(delays[attempt - 1])
    raise AttestationError(f"quote generation failed after {RETRIES + 1} attempts: {last}")
