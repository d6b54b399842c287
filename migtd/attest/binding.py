"""The check that ties a verified quote to an RA-TLS certificate (protocol.md §5.5).

Key binding: REPORTDATA[0..48) of the peer's verified quote (or rebinding
TDREPORT) must be SHA-384 of the peer certificate's public key point (97-byte
``04‖X‖Y``), and bytes 48..64 zero when we produce it. A mismatch is
upstream's ``MismatchPublicKeyError``, a secure-session failure (6).

The other half of §5.5, replaying the peer's CCEL event log to its RTMRs, is
done by the policy flows (:func:`migtd.policy.v1.authenticate_v1`,
:mod:`migtd.policy.v2.flows`), which take ``tolerate_rtmr_mismatch``.

In upstream mock-report (``MOCK_QUOTE_FILE``) and Azure modes both checks are
bypassed, because the quote cannot carry these values (attestation.md §7);
with the mock QE they hold and are checked. :func:`bypasses_apply` decides,
for both the migration and the rebinding verifier.
"""

from __future__ import annotations

import hashlib

from migtd.errors import SecureSessionError
from migtd.ratls.certificate import ParsedCertificate, verify_self_signature
from migtd.ratls.verifier import VerifierContext

#: Logged once per verified peer certificate when the binding check is bypassed (§5.6).
BINDING_BYPASS_WARNING = "AzCVMEmu mode: Skipping public key verification in TD report"
#: Names listed in ``peer_attested.bypassed`` when the §5.6 bypasses apply.
AZCVMEMU_BYPASSES = ("reportdata_binding", "event_log_replay")


def report_data_for_key(public_point: bytes) -> bytes:
    """REPORTDATA binding a TLS key: SHA-384(public point) ‖ 16 zero bytes."""
    return hashlib.sha384(public_point).digest() + bytes(16)


def check_key_binding(report_data: bytes, public_point: bytes) -> None:
    """Raise :class:`SecureSessionError` unless REPORTDATA[0..48) = SHA-384(public point)."""
    if report_data[:48] != hashlib.sha384(public_point).digest():
        raise SecureSessionError("peer quote's REPORTDATA does not bind the certificate's public key "
                                 "(MismatchPublicKeyError)")


def bypasses_apply(ctx: VerifierContext) -> bool:
    """True unless our own quotes come from the mock QE (``mock-qe``), which can carry the values.

    ``ctx.quote_source`` names the local provider; when it is not given, a
    mock-report MigTD is ``mock-quote-file`` with ``MOCK_QUOTE_FILE`` set and
    ``mock-qe`` otherwise.
    """
    source = ctx.quote_source
    if not source and ctx.mode == "mock-report":
        source = "mock-quote-file" if ctx.env.get("MOCK_QUOTE_FILE") else "mock-qe"
    return source != "mock-qe"


def signature_checks(peer: ParsedCertificate, report_data: bytes, bypass: bool) -> list[str]:
    """REPORTDATA binding (unless ``bypass``) then the self-signature; both fail with 6.

    Returns the warnings to log: :data:`BINDING_BYPASS_WARNING` when bypassed.
    """
    warnings: list[str] = []
    if bypass:
        warnings.append(BINDING_BYPASS_WARNING)
    else:
        check_key_binding(report_data, peer.public_key)
    verify_self_signature(peer)
    return warnings
