"""What a peer verifier is given and what it answers: the vocabulary shared by every layer.

This module sits below ``ratls`` (which turns a certificate into
:class:`Evidence`), the verifiers (which judge evidence against quotes and
policies) and the session (which logs the :class:`Verdict` and acts on it).
It imports nothing of theirs, so none of them depends on another through it:
a key-exchange protocol other than RA-TLS (SPDM, whose evidence travels in
vendor-defined messages) produces the same :class:`Evidence`, and every
verifier serves it unchanged.

Everything here is an immutable record (``NamedTuple``): the session builds
:class:`SessionFacts` once it knows them and hands them over explicitly; no
verifier reads state the session writes behind its back.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, NamedTuple, Protocol

from migtd.errors import MigtdError, SecureSessionError

# Names of the pieces of evidence a verifier can ask for (see :meth:`PeerVerifier.needs`).
#: The peer declares itself a MigTD (RA-TLS: the MigTD OID in extKeyUsage).
IDENTITY = "identity"
QUOTE = "quote"
EVENT_LOG = "event_log"
POLICY_HASH = "policy_hash"
TDREPORT = "tdreport"
SERVTD_EXT = "servtd_ext"
INIT_TDINFO = "init_tdinfo"

#: Check names listed in ``peer_attested.bypassed`` when the AzCVMEmu bypasses apply (protocol.md §5.6).
AZCVMEMU_BYPASSES = ("reportdata_binding", "event_log_replay")


class Evidence(NamedTuple):
    """What the peer presented, independent of the protocol that carried it.

    ``binding`` is the value the peer's REPORTDATA[0..48) must equal for the
    evidence to belong to this session (RA-TLS: SHA-384 of the certificate's
    public key; SPDM: a hash of the transcript), ``binding_subject`` names it in
    messages. ``authenticate`` checks the carrier's own proof of possession
    (RA-TLS: the certificate's self-signature) and raises
    :class:`SecureSessionError`; None when the protocol proves it elsewhere.
    """

    quote: bytes | None = None
    event_log: bytes | None = None
    policy_hash: bytes | None = None
    tdreport: bytes | None = None
    servtd_ext: bytes | None = None
    init_tdinfo: bytes | None = None
    binding: bytes = b""
    binding_subject: str = "the session key"
    authenticate: Callable[[], None] | None = None
    #: MigrationResult (an int) of a binding mismatch; None: SecureSessionError (RA-TLS's
    #: MismatchPublicKeyError). SPDM with policy v2 and rebinding: MutualAttestationError.
    #: (Typed Any so that ``Evidence(**extension_values)`` keeps type-checking.)
    binding_result: Any = None


class LocalCheck(NamedTuple):
    """Our own quote, verified before the handshake (§5.5 v1 step 1).

    ``record`` is the verifier's own result (e.g. a ``VerifiedQuote``); the
    session hands it back through :class:`SessionFacts` without looking at it.
    """

    tcb_status: str
    record: Any


class SessionFacts(NamedTuple):
    """What the session knows when it asks for a verdict, passed explicitly.

    ``peer_blob`` is the peer's pre-session data (policy v2), None when no
    pre-session exchange took place; ``local_tdreport`` is our own TDREPORT
    (rebinding); ``local_check`` what :meth:`PeerVerifier.check_local` returned.
    """

    local_quote: bytes = b""
    local_event_log: bytes = b""
    local_tdreport: bytes = b""
    peer_blob: bytes | None = None
    local_check: LocalCheck | None = None

    def require_peer_blob(self, what: str) -> bytes:
        """The peer's pre-session data; without it, InvalidPolicyError (9)."""
        from migtd.result import MigrationResult

        if self.peer_blob is None:
            raise MigtdError(f"{what}: the peer's pre-session data was not received",
                             MigrationResult.InvalidPolicyError)
        return self.peer_blob


class Attestation(NamedTuple):
    """The fields of the ``peer_attested`` event (docs/events.md), typed.

    ``failed_step`` and ``evidence`` are written only when set.
    """

    verified: bool = False
    tcb_status: str = ""
    advisories: tuple[str, ...] = ()
    fmspc: str = ""
    mrtd: str = ""
    rtmrs: tuple[str, ...] = ()
    tee_tcb_svn: str = ""
    quote_bytes: int = 0
    bypassed: tuple[str, ...] = ()
    failed_step: str | None = None
    evidence: str | None = None

    def event_fields(self) -> dict[str, Any]:
        """Keyword arguments for ``EventLog.emit("peer_attested", ...)``."""
        fields: dict[str, Any] = {
            "verified": self.verified, "tcb_status": self.tcb_status, "advisories": list(self.advisories),
            "fmspc": self.fmspc, "mrtd": self.mrtd, "rtmrs": list(self.rtmrs), "tee_tcb_svn": self.tee_tcb_svn,
            "quote_bytes": self.quote_bytes, "bypassed": list(self.bypassed),
        }
        if self.failed_step is not None:
            fields["failed_step"] = self.failed_step
        if self.evidence is not None:
            fields["evidence"] = self.evidence
        return fields


class PolicyOutcome(NamedTuple):
    """The fields of the ``policy_decision`` event, typed.

    ``skipped`` means the policy was not evaluated: skip-RA (``ok`` true) or a
    peer refused before the policy step (``ok`` false). ``kind`` and
    ``reason`` are written when not None, ``notes`` when not empty.
    """

    ok: bool
    policy_version: int
    failed_rules: tuple[str, ...] = ()
    skipped: bool = False
    kind: str | None = None
    reason: str | None = None
    notes: tuple[str, ...] = ()

    @classmethod
    def not_evaluated(cls, policy_version: int, reason: str) -> PolicyOutcome:
        """A peer refused before its policy was looked at."""
        return cls(False, policy_version, skipped=True, reason=f"not evaluated: {reason}")

    def label(self) -> tuple[str, str]:
        """How the decision reads in the log, and the level it is logged at."""
        if self.skipped:
            return ("skipped", "info") if self.ok else ("not evaluated", "warn")
        return ("ok", "info") if self.ok else ("rejected", "error")

    def event_fields(self) -> dict[str, Any]:
        """Keyword arguments for ``EventLog.emit("policy_decision", ...)``."""
        fields: dict[str, Any] = {"ok": self.ok, "failed_rules": list(self.failed_rules), "skipped": self.skipped,
                                  "policy_version": self.policy_version}
        if self.kind is not None:
            fields["kind"] = self.kind
        if self.reason is not None:
            fields["reason"] = self.reason
        if self.notes:
            fields["notes"] = list(self.notes)
        return fields


class RuleRecord(Protocol):
    """One policy rule's verdict (``migtd.policy.decision.RuleResult`` is one)."""

    @property
    def ok(self) -> bool:
        """Whether the rule held."""
        ...

    def as_event(self) -> dict[str, Any]:
        """The fields of its ``policy_rule`` event."""
        ...


class Verdict(NamedTuple):
    """A verifier's answer about one peer: the evidence to log, then accept or refuse.

    Returning the failure instead of raising it lets the session log the
    evidence first, so an operator sees *why* a peer was refused.
    """

    attestation: Attestation
    policy: PolicyOutcome
    rules: tuple[RuleRecord, ...] = ()
    warnings: tuple[str, ...] = ()
    failure: MigtdError | None = None

    @property
    def ok(self) -> bool:
        """True when the peer is accepted."""
        return self.failure is None


class PeerVerifier(Protocol):
    """Judges a peer's :class:`Evidence` for one attestation mode.

    ``is_client`` is True when we are the client of the key exchange, i.e.
    the source (migration) or the old MigTD (rebinding).
    """

    name: str

    def needs(self, is_client: bool) -> tuple[str, ...]:
        """The evidence names (:data:`QUOTE`, …) that must be present, in the order they are checked.

        The carrier refuses a peer lacking one with :class:`SecureSessionError` (6)
        before :meth:`verify` runs.
        """
        ...

    def check_local(self, quote: bytes) -> LocalCheck | None:
        """Verify our own quote before the handshake; None when this mode checks nothing."""
        ...

    def verify(self, evidence: Evidence, facts: SessionFacts, is_client: bool) -> Verdict:
        """The verdict on the peer; may raise :class:`MigtdError` for a peer that is not a MigTD at all."""
        ...


class BindingMismatch(SecureSessionError):
    """The peer's REPORTDATA does not bind this session.

    A :class:`SecureSessionError` (so the verifiers' handling is one), whose
    result is 6 unless the carrier's :attr:`Evidence.binding_result` names
    another (SPDM: MutualAttestationError with policy v2, spdm.md §5).
    """


def bind_and_authenticate(evidence: Evidence, report_data: bytes, bypass: bool) -> tuple[str, ...]:
    """REPORTDATA binding (unless ``bypass``), then the carrier's proof of possession; both fail with 6.

    Returns the warnings to log: the AzCVMEmu bypass line when bypassed.
    A mismatch raises :class:`BindingMismatch`.
    """
    import hmac

    warnings: tuple[str, ...] = ()
    if bypass:
        warnings = (BINDING_BYPASS_WARNING,)
    elif not hmac.compare_digest(report_data[:48], evidence.binding[:48]) or len(evidence.binding) < 48:
        if evidence.binding_result is not None:
            from migtd.result import MigrationResult

            raise BindingMismatch(f"peer REPORTDATA does not match {evidence.binding_subject}",
                                  MigrationResult(evidence.binding_result))
        raise BindingMismatch(f"peer quote's REPORTDATA does not bind {evidence.binding_subject} "
                              "(MismatchPublicKeyError)")
    if evidence.authenticate is not None:
        evidence.authenticate()
    return warnings


#: Logged once per verified peer when the binding check is bypassed (§5.6, upstream's wording).
BINDING_BYPASS_WARNING = "AzCVMEmu mode: Skipping public key verification in TD report"
