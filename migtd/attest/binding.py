"""The two checks that tie a verified quote to an RA-TLS certificate (protocol.md §5.5).

* Key binding: REPORTDATA[0..48) of the peer's verified quote must be SHA-384
  of the peer certificate's public key point (97-byte ``04‖X‖Y``), and bytes
  48..64 zero when we produce it. A mismatch is upstream's
  ``MismatchPublicKeyError``, a secure-session failure (6).
* Event-log replay: RTMR0..3 recomputed from the peer's CCEL log must equal
  the verified RTMRs. A mismatch or an unusable log fails the policy step (8).

In upstream mock-report (``MOCK_QUOTE_FILE``) and Azure modes both are
bypassed, because the quote cannot carry these values (attestation.md §7);
with the mock QE they hold and are checked. The callers decide; these
functions only judge.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence

from migtd.errors import AttestationError, FormatError, SecureSessionError
from migtd.eventlog import parse_event_log, replay_rtmrs
from migtd.result import MigrationResult


def report_data_for_key(public_point: bytes) -> bytes:
    """REPORTDATA binding a TLS key: SHA-384(public point) ‖ 16 zero bytes."""
    return hashlib.sha384(public_point).digest() + bytes(16)


def check_key_binding(report_data: bytes, public_point: bytes) -> None:
    """Raise :class:`SecureSessionError` unless REPORTDATA[0..48) = SHA-384(public point)."""
    if report_data[:48] != hashlib.sha384(public_point).digest():
        raise SecureSessionError("peer quote's REPORTDATA does not bind the certificate's public key "
                                 "(MismatchPublicKeyError)")


def check_event_log(rtmrs: Sequence[bytes], event_log: bytes) -> None:
    """Replay ``event_log`` and compare with the verified RTMRs; fail with 8 otherwise."""
    try:
        replayed = replay_rtmrs(parse_event_log(event_log))
    except FormatError as exc:
        raise AttestationError(f"peer event log is unusable: {exc.message}",
                               MigrationResult.PolicyUnsatisfiedError) from None
    for i, (want, got) in enumerate(zip(rtmrs, replayed)):
        if want != got:
            raise AttestationError(f"peer event log does not replay to the quote's RTMR{i}",
                                   MigrationResult.PolicyUnsatisfiedError)
