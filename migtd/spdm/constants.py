"""Numbers of the SPDM 1.2 profile MigTD uses (spec/spdm.md §9).

Everything here is a fact of the wire: request/response codes, capability
bits, algorithm selections, sizes and limits. The values are those of
upstream MigTD built with ``config/spdm_config.json`` (spdm.md §0), which is
what a Rust peer advertises and enforces.
"""

from __future__ import annotations

import enum

# --- versions -----------------------------------------------------------------

#: SPDMVersion byte of GET_VERSION / VERSION (and of ERROR before GET_CAPABILITIES).
SPDM_VERSION_10 = 0x10
#: The only SPDM version MigTD negotiates.
SPDM_VERSION_12 = 0x12
#: VERSION entry / opaque-data version word for 1.2 (bytes ``00 12`` on the wire).
VERSION_ENTRY_12 = 0x1200
#: DSP0277 secured-message version (opaque-data word).
SECURED_MESSAGE_VERSION_12 = 0x1200


class Code(enum.IntEnum):
    """RequestResponseCode byte (DSP0274 1.2 table 4/5; only the codes the ladder uses)."""

    # requests
    GET_VERSION = 0x84
    GET_CAPABILITIES = 0xE1
    NEGOTIATE_ALGORITHMS = 0xE3
    KEY_EXCHANGE = 0xE4
    FINISH = 0xE5
    END_SESSION = 0xEC
    VENDOR_DEFINED_REQUEST = 0xFE
    CHUNK_SEND = 0x85
    CHUNK_GET = 0x86
    # responses
    VERSION = 0x04
    CAPABILITIES = 0x61
    ALGORITHMS = 0x63
    KEY_EXCHANGE_RSP = 0x64
    FINISH_RSP = 0x65
    END_SESSION_ACK = 0x6C
    VENDOR_DEFINED_RESPONSE = 0x7E
    ERROR = 0x7F
    CHUNK_SEND_ACK = 0x05
    CHUNK_RESPONSE = 0x06


REQUEST_CODES = frozenset({Code.GET_VERSION, Code.GET_CAPABILITIES, Code.NEGOTIATE_ALGORITHMS,
                           Code.KEY_EXCHANGE, Code.FINISH, Code.END_SESSION,
                           Code.VENDOR_DEFINED_REQUEST, Code.CHUNK_SEND, Code.CHUNK_GET})


class ErrorCode(enum.IntEnum):
    """ERROR message ErrorCode values a MigTD peer sends (spdm.md §3.11)."""

    InvalidRequest = 0x01
    Busy = 0x03
    UnexpectedRequest = 0x04
    Unspecified = 0x05
    DecryptError = 0x06
    UnsupportedRequest = 0x07
    RequestInFlight = 0x08
    InvalidResponseCode = 0x09
    SessionLimitExceeded = 0x0A
    SessionRequired = 0x0B
    ResetRequired = 0x0C
    ResponseTooLarge = 0x0D
    RequestTooLarge = 0x0E
    LargeResponse = 0x0F
    MessageLost = 0x10
    VersionMismatch = 0x41
    ResponseNotReady = 0x42
    RequestResynch = 0x43
    VendorDefined = 0xFF


# --- capabilities (spdm.md §3.2) ----------------------------------------------


class Cap(enum.IntFlag):
    """CAPABILITIES Flags bits (same positions in the request and the response for these)."""

    CACHE = 1 << 0          # response only
    CERT = 1 << 1
    CHAL = 1 << 2
    MEAS_NO_SIG = 1 << 3    # response only (2-bit field MEAS_CAP = 01)
    MEAS_SIG = 1 << 4       # response only (MEAS_CAP = 10)
    MEAS_FRESH = 1 << 5     # response only
    ENCRYPT = 1 << 6
    MAC = 1 << 7
    MUT_AUTH = 1 << 8
    KEY_EX = 1 << 9
    PSK_0 = 1 << 10         # 2-bit PSK_CAP field
    PSK_1 = 1 << 11
    ENCAP = 1 << 12
    HBEAT = 1 << 13
    KEY_UPD = 1 << 14
    HANDSHAKE_IN_THE_CLEAR = 1 << 15
    PUB_KEY_ID = 1 << 16
    CHUNK = 1 << 17
    ALIAS_CERT = 1 << 18    # response only


#: What MigTD advertises in both directions: 0x000383C0.
MIGTD_CAPABILITIES = (Cap.ENCRYPT | Cap.MAC | Cap.MUT_AUTH | Cap.KEY_EX | Cap.HANDSHAKE_IN_THE_CLEAR
                      | Cap.PUB_KEY_ID | Cap.CHUNK)
#: What this stack needs from a peer to run MigTD's ladder (chunking is checked when needed).
REQUIRED_PEER_CAPABILITIES = (Cap.ENCRYPT | Cap.MAC | Cap.MUT_AUTH | Cap.KEY_EX
                              | Cap.HANDSHAKE_IN_THE_CLEAR | Cap.PUB_KEY_ID)

#: DataTransferSize MigTD advertises (4096-byte buffers minus spdm-rs's 64-byte overhead).
DATA_TRANSFER_SIZE = 4032
#: MaxSPDMmsgSize MigTD advertises: the largest reassembled (chunked) message.
MAX_SPDM_MSG_SIZE = 65536
#: DSP0274 1.2 MinDataTransferSize.
MIN_DATA_TRANSFER_SIZE = 42

# --- algorithms (spdm.md §3.3) --------------------------------------------------

MEAS_SPEC_NONE = 0
OTHER_PARAMS_OPAQUE_FMT1 = 0x02
BASE_ASYM_ECDSA_P384 = 0x00000080
BASE_HASH_SHA384 = 0x00000002


class AlgType(enum.IntEnum):
    """AlgStruct AlgType values."""

    DHE = 2
    AEAD = 3
    REQ_BASE_ASYM = 4
    KEY_SCHEDULE = 5


DHE_SECP384R1 = 0x0010
AEAD_AES_256_GCM = 0x0002
REQ_ASYM_ECDSA_P384 = 0x0080
KEY_SCHEDULE_SPDM = 0x0001
#: AlgCount byte: 2 fixed bytes (high nibble), no extended algorithms (low nibble).
ALG_COUNT_FIXED2 = 0x20

#: The one selection MigTD offers and accepts, per AlgType.
MIGTD_ALG_STRUCTS: dict[AlgType, int] = {
    AlgType.DHE: DHE_SECP384R1,
    AlgType.AEAD: AEAD_AES_256_GCM,
    AlgType.REQ_BASE_ASYM: REQ_ASYM_ECDSA_P384,
    AlgType.KEY_SCHEDULE: KEY_SCHEDULE_SPDM,
}

# --- KEY_EXCHANGE / FINISH (spdm.md §3.6, §3.8) ----------------------------------

SLOT_PROVISIONED_KEY = 0xFF       # KEY_EXCHANGE SlotID / FINISH ReqSlotID: pre-provisioned public key
SLOT_PARAM_PROVISIONED = 0x0F     # KEY_EXCHANGE_RSP SlotIDParam
MUT_AUTH_REQUESTED = 0x01         # MUT_AUTH_REQ without encapsulated flow
HALF_SESSION_ID = 0xFFFD          # what spdm-rs picks for its single session slot
FINISH_SIGNATURE_INCLUDED = 0x01

RANDOM_SIZE = 32
EXCHANGE_DATA_SIZE = 96           # secp384r1 X || Y
SIGNATURE_SIZE = 96               # ECDSA P-384 r || s
HASH_SIZE = 48                    # SHA-384 (also VerifyData)
AEAD_KEY_SIZE = 32
AEAD_IV_SIZE = 12
AEAD_TAG_SIZE = 16

# --- transport (spdm.md §2) -------------------------------------------------------

#: Largest transport body a Rust receiver accepts (4096-byte buffer minus the 12-byte header).
MAX_TRANSPORT_BODY = 4096 - 12

# --- chunking (spdm.md §2.3) -------------------------------------------------------

CHUNK_SEND_HEADER_FIRST = 16      # with LargeMessageSize
CHUNK_SEND_HEADER = 12
CHUNK_RESPONSE_HEADER_FIRST = 16
CHUNK_RESPONSE_HEADER = 12
CHUNK_SEND_ACK_HEADER = 6
LAST_CHUNK = 0x01
EARLY_ERROR_DETECTED = 0x01

# --- signing (spdm.md §4.2) ---------------------------------------------------------

SIGNING_PREFIX = b"dmtf-spdm-v1.2.*" * 4
SIGNING_CONTEXT_SIZE = 36
KEY_EXCHANGE_RSP_CONTEXT = b"responder-key_exchange_rsp signing"
FINISH_CONTEXT = b"requester-finish signing"

# --- quote binding (spdm.md §5) ------------------------------------------------------

REPORT_DATA_PREFIX_REQUESTER = b"MigTDReq"
REPORT_DATA_PREFIX_RESPONDER = b"MigTDRsp"
