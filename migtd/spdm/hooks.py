"""How attestation, policy and the migration key come in: small protocols.

The state machines never decide whether a peer is trustworthy, where a quote
comes from or where a key is written. They call these hooks at fixed points
of the ladder and turn a :class:`migtd.errors.MigtdError` raised by a hook
into the failure MigTD reports (the error's ``result``, e.g.
MutualAttestationError or PolicyUnsatisfiedError; spdm.md §6). A hook that
raises anything else has a bug, and that exception propagates.

* :class:`Attester` — local evidence for REPORTDATA = H(prefix ‖ TH1) ‖ 0¹⁶.
* :class:`PeerVerifier` — judge the peer's evidence (quote/TDREPORT, event log,
  policy hash, SERVTD_EXT, init TDINFO) and its REPORTDATA binding.
* :class:`MigrationInfoExchange` — the MSK and version range sent inside the
  secured session, and what to do with the peer's (spdm.md §3.9).
* :class:`RebindExchange` — the rebind session token (spdm.md §7).

:class:`NullAttestation` is upstream's skip-RA behaviour: fixed evidence out,
nothing verified.
"""

from __future__ import annotations

import enum
from typing import Protocol

from migtd.spdm._record import record
from migtd.spdm.vdm import POLICY_HASH_SIZE, SERVTD_EXT_SIZE, TDINFO_SIZE


class Mode(enum.Enum):
    """What the session is for: the VDM ops used for attestation and the secured exchange."""

    MIGRATION = "migration"   # ops 0x03/0x04 (quotes) and 0x05/0x06 (MSK)
    REBIND = "rebind"         # ops 0x07/0x08 (TDREPORTs) and 0x09/0x0A (token)


class Role(enum.Enum):
    REQUESTER = "requester"   # migration source / rebind old MigTD
    RESPONDER = "responder"   # migration destination / rebind new MigTD


@record
class LocalEvidence:
    """What this side sends in the attestation VDM.

    ``evidence`` is a quote (migration) or a 1024-byte TDREPORT (rebinding).
    ``servtd_ext`` (272 bytes) and ``init_tdinfo`` (512 bytes) are sent by the
    requester only.
    """

    evidence: bytes
    event_log: bytes
    policy_hash: bytes
    servtd_ext: bytes = bytes(SERVTD_EXT_SIZE)
    init_tdinfo: bytes = bytes(TDINFO_SIZE)

    def __repr__(self) -> str:
        return (f"LocalEvidence(evidence=<{len(self.evidence)} bytes>, event_log=<{len(self.event_log)} bytes>, "
                f"policy_hash={self.policy_hash.hex()})")


@record
class PeerEvidence:
    """The peer's attestation VDM, with what its REPORTDATA must be.

    ``expected_report_data`` = H(peer's prefix ‖ TH1) ‖ 0¹⁶; a verifier that
    can read the REPORTDATA of ``evidence`` compares it with this (spdm.md §5).
    ``servtd_ext`` and ``init_tdinfo`` are None when the peer is the responder.
    """

    mode: Mode
    peer_role: Role
    evidence: bytes
    event_log: bytes
    policy_hash: bytes
    th1: bytes
    expected_report_data: bytes
    servtd_ext: bytes | None = None
    init_tdinfo: bytes | None = None

    def __repr__(self) -> str:
        return (f"PeerEvidence(mode={self.mode.value}, peer_role={self.peer_role.value}, "
                f"evidence=<{len(self.evidence)} bytes>, event_log=<{len(self.event_log)} bytes>)")


@record
class MigrationInfo:
    """One side's MSK (32 bytes) and version range, as carried by ops 0x05/0x06."""

    key: bytes
    min_version: int = 0
    max_version: int = 0

    def __repr__(self) -> str:  # the key never reaches a log
        return (f"MigrationInfo(key=<{len(self.key)} bytes>, min_version={self.min_version}, "
                f"max_version={self.max_version})")


class Attester(Protocol):
    def local_evidence(self, report_data: bytes) -> LocalEvidence:
        """Evidence whose REPORTDATA is ``report_data`` (64 bytes) where the mode allows it."""
        ...


class PeerVerifier(Protocol):
    def verify_peer(self, peer: PeerEvidence) -> None:
        """Return if the peer is acceptable; raise a MigtdError with the result otherwise."""
        ...


class MigrationInfoExchange(Protocol):
    def local_info(self) -> MigrationInfo:
        """This side's key and version range (export on the source, import on the destination)."""
        ...

    def accept_peer_info(self, peer: MigrationInfo) -> None:
        """Negotiate the version and store the peer's key; raise a MigtdError to refuse.

        The responder calls it before answering op 0x05, the requester after op 0x06.
        """
        ...


class RebindExchange(Protocol):
    def new_token(self) -> bytes:
        """Requester: a fresh 32-byte rebind session token."""
        ...

    def approve(self, token: bytes) -> None:
        """Requester, after op 0x0A: approve the rebinding with the token."""
        ...

    def accept_token(self, token: bytes, servtd_ext: bytes) -> None:
        """Responder, on op 0x09: store the token and the peer's SERVTD_EXT."""
        ...


#: Size of the quote upstream's null attestation reports (skip-RA).
NULL_QUOTE_SIZE = 822


class NullAttestation:
    """skip-RA: fixed evidence, every peer accepted (upstream ``test_disable_ra_and_accept_all``).

    It checks nothing, not even the REPORTDATA binding; ``seen`` keeps the
    peer evidence it was shown so callers can report it.
    """

    def __init__(self, evidence: bytes = bytes(NULL_QUOTE_SIZE), event_log: bytes = b"",
                 policy_hash: bytes = bytes(POLICY_HASH_SIZE), servtd_ext: bytes = bytes(SERVTD_EXT_SIZE),
                 init_tdinfo: bytes = bytes(TDINFO_SIZE)) -> None:
        self.evidence = evidence
        self.event_log = event_log
        self.policy_hash = policy_hash
        self.servtd_ext = servtd_ext
        self.init_tdinfo = init_tdinfo
        self.seen: list[PeerEvidence] = []

    def local_evidence(self, report_data: bytes) -> LocalEvidence:
        return LocalEvidence(self.evidence, self.event_log, self.policy_hash, self.servtd_ext, self.init_tdinfo)

    def verify_peer(self, peer: PeerEvidence) -> None:
        self.seen.append(peer)
