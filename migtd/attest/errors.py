"""The DCAP verifier's error: which check a quote failed.

Its own module so the verifier's parts (:mod:`~migtd.attest.collateral_cache`,
:mod:`~migtd.attest.tcb`, :mod:`~migtd.attest.verify`) can raise it without
importing each other; :mod:`migtd.attest.verify` re-exports it.
"""

from __future__ import annotations

from migtd.errors import AttestationError


class QuoteVerificationError(AttestationError):
    """A quote did not verify; ``step`` names the failing check (e.g. ``quote_signature``)."""

    def __init__(self, step: str, problem: str) -> None:
        self.step = step
        self.problem = problem
        super().__init__(f"quote verification failed at {step}: {problem}")
