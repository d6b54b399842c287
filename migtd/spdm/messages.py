"""The SPDM 1.2 messages of MigTD's ladder as small frozen classes.

They hold decoded field values only; :mod:`migtd.spdm.codec` turns them into
bytes and back. Fields that are fixed for MigTD's profile still exist here
(with MigTD's value as default) so a decoded message shows what the peer
actually sent and the state machines can judge it. Field names follow
DSP0274 1.2; layouts are in spec/spdm.md §3.
"""

from __future__ import annotations

from typing import ClassVar

from migtd.spdm._record import record
from migtd.spdm.constants import (
    BASE_ASYM_ECDSA_P384,
    BASE_HASH_SHA384,
    DATA_TRANSFER_SIZE,
    HALF_SESSION_ID,
    MAX_SPDM_MSG_SIZE,
    MEAS_SPEC_NONE,
    MIGTD_ALG_STRUCTS,
    MIGTD_CAPABILITIES,
    MUT_AUTH_REQUESTED,
    OTHER_PARAMS_OPAQUE_FMT1,
    SLOT_PARAM_PROVISIONED,
    SLOT_PROVISIONED_KEY,
    SPDM_VERSION_12,
    VERSION_ENTRY_12,
    Code,
)

#: (AlgType, AlgSupported) pairs in wire order.
AlgStructs = tuple[tuple[int, int], ...]
MIGTD_ALGS: AlgStructs = tuple((int(t), v) for t, v in sorted(MIGTD_ALG_STRUCTS.items()))


@record
class GetVersion:
    code: ClassVar[Code] = Code.GET_VERSION


@record
class Version:
    """VERSION: the version entries as u16 values (``0x1200`` = 1.2)."""

    entries: tuple[int, ...] = (VERSION_ENTRY_12,)
    code: ClassVar[Code] = Code.VERSION


@record
class GetCapabilities:
    flags: int = int(MIGTD_CAPABILITIES)
    data_transfer_size: int = DATA_TRANSFER_SIZE
    max_spdm_msg_size: int = MAX_SPDM_MSG_SIZE
    ct_exponent: int = 0
    code: ClassVar[Code] = Code.GET_CAPABILITIES


@record
class Capabilities:
    flags: int = int(MIGTD_CAPABILITIES)
    data_transfer_size: int = DATA_TRANSFER_SIZE
    max_spdm_msg_size: int = MAX_SPDM_MSG_SIZE
    ct_exponent: int = 0
    code: ClassVar[Code] = Code.CAPABILITIES


@record
class NegotiateAlgorithms:
    measurement_spec: int = MEAS_SPEC_NONE
    other_params: int = OTHER_PARAMS_OPAQUE_FMT1
    base_asym: int = BASE_ASYM_ECDSA_P384
    base_hash: int = BASE_HASH_SHA384
    alg_structs: AlgStructs = MIGTD_ALGS
    code: ClassVar[Code] = Code.NEGOTIATE_ALGORITHMS


@record
class Algorithms:
    measurement_spec: int = MEAS_SPEC_NONE
    other_params: int = OTHER_PARAMS_OPAQUE_FMT1
    measurement_hash: int = 0
    base_asym: int = BASE_ASYM_ECDSA_P384
    base_hash: int = BASE_HASH_SHA384
    alg_structs: AlgStructs = MIGTD_ALGS
    code: ClassVar[Code] = Code.ALGORITHMS


@record
class VendorDefinedRequest:
    """VENDOR_DEFINED_REQUEST; ``payload`` is the VDM payload (see :mod:`migtd.spdm.vdm`)."""

    standard_id: int
    vendor_id: bytes
    payload: bytes
    code: ClassVar[Code] = Code.VENDOR_DEFINED_REQUEST


@record
class VendorDefinedResponse:
    standard_id: int
    vendor_id: bytes
    payload: bytes
    code: ClassVar[Code] = Code.VENDOR_DEFINED_RESPONSE


@record
class KeyExchange:
    random: bytes
    exchange_data: bytes
    opaque: bytes
    req_session_id: int = HALF_SESSION_ID
    measurement_hash_type: int = 0
    slot_id: int = SLOT_PROVISIONED_KEY
    session_policy: int = 0
    code: ClassVar[Code] = Code.KEY_EXCHANGE


@record
class KeyExchangeRsp:
    """KEY_EXCHANGE_RSP without MeasurementSummaryHash and (handshake in the clear) VerifyData."""

    random: bytes
    exchange_data: bytes
    opaque: bytes
    signature: bytes
    rsp_session_id: int = HALF_SESSION_ID
    mut_auth_requested: int = MUT_AUTH_REQUESTED
    slot_id_param: int = SLOT_PARAM_PROVISIONED
    heartbeat_period: int = 0
    code: ClassVar[Code] = Code.KEY_EXCHANGE_RSP


@record
class Finish:
    """FINISH; ``signature`` is empty when Param1 bit 0 is clear."""

    signature: bytes
    verify_data: bytes
    slot_id: int = SLOT_PROVISIONED_KEY
    code: ClassVar[Code] = Code.FINISH


@record
class FinishRsp:
    verify_data: bytes
    code: ClassVar[Code] = Code.FINISH_RSP


@record
class EndSession:
    preserve_negotiated_state: bool = False
    code: ClassVar[Code] = Code.END_SESSION


@record
class EndSessionAck:
    code: ClassVar[Code] = Code.END_SESSION_ACK


@record
class ChunkSend:
    """One piece of a large request; ``large_message_size`` only in chunk 0."""

    handle: int
    seq: int
    data: bytes
    last: bool = False
    large_message_size: int | None = None
    code: ClassVar[Code] = Code.CHUNK_SEND


@record
class ChunkSendAck:
    """Acknowledges a chunk; after the last one ``response`` embeds the whole response."""

    handle: int
    seq: int
    response: bytes = b""
    early_error: bool = False
    code: ClassVar[Code] = Code.CHUNK_SEND_ACK


@record
class ChunkGet:
    handle: int
    seq: int
    code: ClassVar[Code] = Code.CHUNK_GET


@record
class ChunkResponse:
    handle: int
    seq: int
    data: bytes
    last: bool = False
    large_message_size: int | None = None
    code: ClassVar[Code] = Code.CHUNK_RESPONSE


@record
class ErrorResponse:
    """ERROR; ``extended`` is ExtendedErrorData (LargeResponse: the 1-byte handle)."""

    error_code: int
    error_data: int = 0
    extended: bytes = b""
    version: int = SPDM_VERSION_12
    code: ClassVar[Code] = Code.ERROR


Request = (GetVersion | GetCapabilities | NegotiateAlgorithms | VendorDefinedRequest | KeyExchange
           | Finish | EndSession | ChunkSend | ChunkGet)
Response = (Version | Capabilities | Algorithms | VendorDefinedResponse | KeyExchangeRsp | FinishRsp
            | EndSessionAck | ChunkSendAck | ChunkResponse | ErrorResponse)
Message = Request | Response
