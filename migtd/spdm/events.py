"""What a state machine tells its driver: a closed set of small frozen events.

Each event names the :class:`Phase` of the ladder it completes, so a console
timeline can show version/capabilities/algorithms, key exchange,
attestation, finish, the secured exchange and the end of the session.
Events carry public facts only (sizes, transcript hashes, session id); keys
and tokens never appear in them. ``Failed`` ends a session: its ``result``
is the MigrationResult to report and ``reason`` one line for the operator.
"""

from __future__ import annotations

import enum
from typing import ClassVar

from migtd.errors import MigtdError
from migtd.result import MigrationResult
from migtd.spdm._record import record
from migtd.spdm.hooks import MigrationInfo


class Phase(enum.Enum):
    NEGOTIATION = "negotiation"            # GET_VERSION … ALGORITHMS
    PUBLIC_KEYS = "public_keys"            # VDM ExchangePubKey
    KEY_EXCHANGE = "key_exchange"          # KEY_EXCHANGE / _RSP
    ATTESTATION = "attestation"            # VDM attestation info (maybe chunked)
    FINISH = "finish"                      # FINISH / FINISH_RSP
    SECURED_EXCHANGE = "secured_exchange"  # MSK and versions, or rebind token
    END_SESSION = "end_session"            # END_SESSION / _ACK


@record
class Negotiated:
    """VERSION, CAPABILITIES and ALGORITHMS are settled."""

    version: int
    peer_flags: int
    peer_data_transfer_size: int
    peer_max_message_size: int
    phase: ClassVar[Phase] = Phase.NEGOTIATION


@record
class PublicKeysExchanged:
    """Both per-session P-384 SubjectPublicKeyInfos are known (they are public)."""

    local_spki: bytes
    peer_spki: bytes
    phase: ClassVar[Phase] = Phase.PUBLIC_KEYS


@record
class KeyExchanged:
    """KEY_EXCHANGE_RSP signed and verified; TH1 is the quote binding input."""

    session_id: int
    th1: bytes
    phase: ClassVar[Phase] = Phase.KEY_EXCHANGE


@record
class EvidenceExchanged:
    """Both attestation VDMs went through and the peer's evidence was accepted."""

    sent_bytes: int
    received_bytes: int
    chunks_sent: int
    chunks_received: int
    phase: ClassVar[Phase] = Phase.ATTESTATION


@record
class HandshakeFinished:
    """FINISH/FINISH_RSP verified; the data keys are derived from TH2."""

    th2: bytes
    phase: ClassVar[Phase] = Phase.FINISH


@record
class MigrationInfoExchanged:
    """Ops 0x05/0x06 done and the peer's info accepted by the hook (keys hidden in repr)."""

    local: MigrationInfo
    peer: MigrationInfo
    phase: ClassVar[Phase] = Phase.SECURED_EXCHANGE


@record
class RebindTokenExchanged:
    """Ops 0x09/0x0A done and the token handed to the hook."""

    phase: ClassVar[Phase] = Phase.SECURED_EXCHANGE


@record
class SessionEnded:
    """END_SESSION acknowledged: the session succeeded."""

    phase: ClassVar[Phase] = Phase.END_SESSION


@record
class Failed:
    """The session is over without success."""

    result: MigrationResult
    reason: str
    phase: Phase
    error: MigtdError


Event = (Negotiated | PublicKeysExchanged | KeyExchanged | EvidenceExchanged | HandshakeFinished
         | MigrationInfoExchanged | RebindTokenExchanged | SessionEnded | Failed)
