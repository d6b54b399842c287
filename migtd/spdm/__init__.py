"""MigTD's SPDM 1.2 stack as a pure, reusable package (spec/spdm.md).

Sans-I/O: :class:`Requester` (migration source) and :class:`Responder`
(destination) take the bytes of the connection and return the bytes to send
plus :mod:`~migtd.spdm.events`; attestation, policy and the migration key come
in through the small protocols of :mod:`~migtd.spdm.hooks`. Below them:
:mod:`~migtd.spdm.codec` (messages), :mod:`~migtd.spdm.vdm` (MigTD's
vendor-defined messages), :mod:`~migtd.spdm.transport` (the 12-byte VmCall
header), :mod:`~migtd.spdm.transcript`, :mod:`~migtd.spdm.key_schedule`,
:mod:`~migtd.spdm.secured` (DSP0277 records), :mod:`~migtd.spdm.chunking`
and :mod:`~migtd.spdm.igvm` (the igvm-attest GetQuote buffer). See README.md
in this folder.
"""

from migtd.spdm.errors import (
    AuthenticationError,
    DecodeError,
    LimitError,
    LocalProtocolError,
    NegotiationError,
    PeerError,
    ProtocolError,
    SecuredRecordError,
    SpdmError,
    UnknownMessageError,
    VersionError,
)
from migtd.spdm.hooks import (
    Attester,
    LocalEvidence,
    MigrationInfo,
    MigrationInfoExchange,
    Mode,
    NullAttestation,
    PeerEvidence,
    PeerVerifier,
    RebindExchange,
    Role,
)
from migtd.spdm.requester import Requester
from migtd.spdm.responder import Responder

__all__ = [
    "Attester", "AuthenticationError", "DecodeError", "LimitError", "LocalEvidence", "LocalProtocolError",
    "MigrationInfo", "MigrationInfoExchange", "Mode", "NegotiationError", "NullAttestation", "PeerError",
    "PeerEvidence", "PeerVerifier", "ProtocolError", "RebindExchange", "Requester", "Responder", "Role",
    "SecuredRecordError", "SpdmError", "UnknownMessageError", "VersionError",
]
