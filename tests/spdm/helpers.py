"""In-memory wiring of a Requester and a Responder, and test hooks."""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass, field

from migtd.errors import MigtdError
from migtd.result import MigrationResult
from migtd.spdm import Mode, NullAttestation, Requester, Responder
from migtd.spdm.events import Event
from migtd.spdm.hooks import LocalEvidence, MigrationInfo, PeerEvidence

Tamper = Callable[[str, bytes], bytes | None]


@dataclass
class Info:
    """MigrationInfoExchange recording what it was given."""

    key: bytes = field(default_factory=lambda: os.urandom(32))
    min_version: int = 0
    max_version: int = 0
    fail_with: MigrationResult | None = None
    peer: MigrationInfo | None = None

    def local_info(self) -> MigrationInfo:
        return MigrationInfo(self.key, self.min_version, self.max_version)

    def accept_peer_info(self, peer: MigrationInfo) -> None:
        if self.fail_with is not None:
            raise MigtdError("test refuses the peer info", self.fail_with)
        self.peer = peer


@dataclass
class Rebind:
    token: bytes = field(default_factory=lambda: os.urandom(32))
    approved: bytes | None = None
    accepted: tuple[bytes, bytes] | None = None

    def new_token(self) -> bytes:
        return self.token

    def approve(self, token: bytes) -> None:
        self.approved = token

    def accept_token(self, token: bytes, servtd_ext: bytes) -> None:
        self.accepted = (token, servtd_ext)


QUOTE_REPORT_DATA = 568  # quote v4: 48-byte header, REPORTDATA at TD report body offset 520


@dataclass
class QuoteAttestation:
    """Evidence = a template quote with REPORTDATA patched in; checks the peer's blob and binding."""

    template: bytes
    event_log: bytes = b"\x01" * 177
    policy_hash: bytes = b"\x5a" * 48
    peer_policy_hash: bytes | None = None
    seen: list[PeerEvidence] = field(default_factory=list)
    bind: bool = True

    def local_evidence(self, report_data: bytes) -> LocalEvidence:
        rd = report_data if self.bind else bytes(64)
        q = self.template[:QUOTE_REPORT_DATA] + rd + self.template[QUOTE_REPORT_DATA + 64:]
        return LocalEvidence(q, self.event_log, self.policy_hash, b"\x11" * 272, b"\x22" * 512)

    def verify_peer(self, peer: PeerEvidence) -> None:
        self.seen.append(peer)
        q = peer.evidence
        if len(q) != len(self.template) or q[:QUOTE_REPORT_DATA] != self.template[:QUOTE_REPORT_DATA] \
                or q[QUOTE_REPORT_DATA + 64:] != self.template[QUOTE_REPORT_DATA + 64:]:
            raise MigtdError("peer quote is not the expected blob", MigrationResult.MutualAttestationError)
        if q[QUOTE_REPORT_DATA:QUOTE_REPORT_DATA + 64] != peer.expected_report_data:
            raise MigtdError("peer REPORTDATA does not match the TH1 binding",
                             MigrationResult.MutualAttestationError)
        if self.peer_policy_hash is not None and peer.policy_hash != self.peer_policy_hash:
            raise MigtdError("peer policy hash mismatch", MigrationResult.PolicyUnsatisfiedError)


@dataclass
class Run:
    req: Requester
    rsp: Responder
    req_events: list[Event]
    rsp_events: list[Event]
    wire: list[tuple[str, bytes]]


def _feed(endpoint: Requester | Responder, data: bytes, piece: int | None) -> list[Event]:
    if piece is None:
        return endpoint.receive_data(data)
    out: list[Event] = []
    for i in range(0, len(data), piece):
        out += endpoint.receive_data(data[i:i + piece])
    return out


def pump(req: Requester, rsp: Responder, tamper: Tamper | None = None, max_steps: int = 10_000,
         piece: int | None = None) -> Run:
    """Move writes between the two until both are done (or nothing moves).

    ``tamper(direction, write)`` may replace a write ("S>D" or "D>S") or drop it (None);
    ``piece`` feeds the receiver that many bytes at a time.
    """
    req_events: list[Event] = []
    rsp_events: list[Event] = []
    wire: list[tuple[str, bytes]] = []
    req.start()
    for _ in range(max_steps):
        moved = False
        for write in req.data_to_send():
            data = tamper("S>D", write) if tamper else write
            wire.append(("S>D", write))
            if data is not None:
                rsp_events += _feed(rsp, data, piece)
            moved = True
        for write in rsp.data_to_send():
            data = tamper("D>S", write) if tamper else write
            wire.append(("D>S", write))
            if data is not None:
                req_events += _feed(req, data, piece)
            moved = True
        if not moved:
            break
    # whoever is still waiting sees the other side close the connection
    if not req.done:
        req_events += req.receive_eof()
    if not rsp.done:
        rsp_events += rsp.receive_eof()
    return Run(req, rsp, req_events, rsp_events, wire)


def pair(mode: Mode = Mode.MIGRATION, req_att=None, rsp_att=None, req_info=None, rsp_info=None,
         req_rebind=None, rsp_rebind=None) -> tuple[Requester, Responder]:
    req_att = req_att or NullAttestation()
    rsp_att = rsp_att or NullAttestation()
    if mode is Mode.MIGRATION:
        return (Requester(attester=req_att, verifier=req_att, migration=req_info or Info()),
                Responder(attester=rsp_att, verifier=rsp_att, migration=rsp_info or Info()))
    return (Requester(attester=req_att, verifier=req_att, rebind=req_rebind or Rebind(), mode=mode),
            Responder(attester=rsp_att, verifier=rsp_att, rebind=rsp_rebind or Rebind(), mode=mode))


def body(write: bytes) -> bytes:
    """The SPDM message (or secured record) inside one transport write."""
    return write[12:]


def rewrap(write: bytes, new_body: bytes) -> bytes:
    """The same transport write with another body (header length fixed up)."""
    return write[:8] + len(new_body).to_bytes(4, "little") + new_body


def code_of(write: bytes) -> int:
    return write[13] if write[6] == 1 and len(write) > 13 else -1


def quote_blob() -> bytes:
    from pathlib import Path
    return (Path(__file__).parent / "vectors" / "az_migtd_quote.blob").read_bytes()
