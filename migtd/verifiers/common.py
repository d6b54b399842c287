"""Pieces every DCAP/policy verifier uses: the policy-hash rule and the record of an unverified peer."""

from __future__ import annotations

import hashlib

from migtd.errors import MigtdError
from migtd.policy.decision import RuleResult
from migtd.result import MigrationResult
from migtd.verdict import Attestation, Evidence


def policy_hash_rule(evidence: Evidence, blob: bytes, what: str) -> tuple[RuleResult, MigtdError | None]:
    """Policy v2: the peer's policy hash must be SHA-384 of the peer data received in the
    pre-session exchange (protocol.md §5.5).

    Returns the ``integrity.policy_hash`` rule and, when it fails, the failure
    (InvalidPolicyError, 9). ``what`` ("policy v2", "rebinding") starts the messages.
    """
    expected = hashlib.sha384(blob).digest()
    actual = evidence.policy_hash or b""
    ok = actual == expected
    rule = RuleResult("integrity", "policy_hash", "equal", "SHA-384(pre-session peer data)",
                      expected.hex().upper(), actual.hex().upper(), ok,
                      "" if ok else "the certificate's policy hash is not SHA-384 of the peer data "
                                    "received before the session")
    if ok:
        return rule, None
    return rule, MigtdError(f"{what}: peer certificate's policy hash does not match the pre-session peer data "
                            "(PolicyHashMismatch)", MigrationResult.InvalidPolicyError)


def unverified(quote: bytes | None, *, failed_step: str | None = None) -> Attestation:
    """``peer_attested`` for a peer whose quote did not verify (or was not reached yet)."""
    return Attestation(quote_bytes=len(quote or b""), failed_step=failed_step)
