"""DSP0274 1.2 key schedule with HKDF-SHA-384 (spec/spdm.md §4.3).

``BinConcat(L, label, ctx) = L u16 LE ‖ "spdm1.2 " ‖ label ‖ ctx``. From the
ECDHE shared secret: HandshakeSecret = Extract(0^48, shared); the
per-direction handshake secrets from TH1; the finished keys that make
VerifyData; the MasterSecret; the per-direction data secrets from TH2; and
from each direction secret its AES-256 key and 12-byte IV. Only the data-phase
keys encrypt anything in MigTD (the handshake runs in the clear), but the
handshake-phase key/IV are derived as well so the schedule is complete.

No object here prints its secrets: ``repr`` shows sizes only.
"""

from __future__ import annotations

import struct

from migtd.spdm._record import record
from migtd.spdm.constants import AEAD_IV_SIZE, AEAD_KEY_SIZE, HASH_SIZE
from migtd.spdm.crypto import hkdf_expand, hkdf_extract, hmac_sha384

VERSION_LABEL = b"spdm1.2 "


def bin_concat(length: int, label: bytes, context: bytes = b"") -> bytes:
    """The HKDF info string of DSP0274 1.2."""
    return struct.pack("<H", length) + VERSION_LABEL + label + context


def expand_label(secret: bytes, label: bytes, context: bytes, length: int) -> bytes:
    return hkdf_expand(secret, bin_concat(length, label, context), length)


@record
class DirectionKeys:
    """AES-256-GCM key and IV of one direction."""

    key: bytes
    iv: bytes

    def __repr__(self) -> str:
        return f"DirectionKeys(key=<{len(self.key)} bytes>, iv=<{len(self.iv)} bytes>)"


def traffic_keys(secret: bytes) -> DirectionKeys:
    """key = Expand(secret, BinConcat(32, "key")), iv = Expand(secret, BinConcat(12, "iv"))."""
    return DirectionKeys(expand_label(secret, b"key", b"", AEAD_KEY_SIZE),
                         expand_label(secret, b"iv", b"", AEAD_IV_SIZE))


@record
class HandshakeKeys:
    """Everything derived from TH1."""

    request_secret: bytes
    response_secret: bytes
    request_finished_key: bytes
    response_finished_key: bytes
    request: DirectionKeys
    response: DirectionKeys

    def __repr__(self) -> str:
        return "HandshakeKeys(<secrets hidden>)"

    def requester_verify_data(self, th_f_mac: bytes) -> bytes:
        """RequesterVerifyData = HMAC(req_finished_key, TH_F_mac)."""
        return hmac_sha384(self.request_finished_key, th_f_mac)

    def responder_verify_data(self, th_fr_mac: bytes) -> bytes:
        """ResponderVerifyData = HMAC(rsp_finished_key, TH_FR_mac)."""
        return hmac_sha384(self.response_finished_key, th_fr_mac)


@record
class DataKeys:
    """Everything derived from TH2: the secured-message keys of the session."""

    request_secret: bytes
    response_secret: bytes
    request: DirectionKeys
    response: DirectionKeys

    def __repr__(self) -> str:
        return "DataKeys(<secrets hidden>)"


class KeySchedule:
    """The schedule of one session, from its ECDHE shared secret."""

    __slots__ = ("_handshake_secret", "_master_secret")

    def __init__(self, shared_secret: bytes) -> None:
        self._handshake_secret = hkdf_extract(bytes(HASH_SIZE), shared_secret)
        salt1 = expand_label(self._handshake_secret, b"derived", b"", HASH_SIZE)
        self._master_secret = hkdf_extract(salt1, bytes(HASH_SIZE))

    def __repr__(self) -> str:
        return "KeySchedule(<secrets hidden>)"

    @property
    def handshake_secret(self) -> bytes:
        return self._handshake_secret

    @property
    def master_secret(self) -> bytes:
        return self._master_secret

    def handshake(self, th1: bytes) -> HandshakeKeys:
        req = expand_label(self._handshake_secret, b"req hs data", th1, HASH_SIZE)
        rsp = expand_label(self._handshake_secret, b"rsp hs data", th1, HASH_SIZE)
        return HandshakeKeys(req, rsp,
                             expand_label(req, b"finished", b"", HASH_SIZE),
                             expand_label(rsp, b"finished", b"", HASH_SIZE),
                             traffic_keys(req), traffic_keys(rsp))

    def data(self, th2: bytes) -> DataKeys:
        req = expand_label(self._master_secret, b"req app data", th2, HASH_SIZE)
        rsp = expand_label(self._master_secret, b"rsp app data", th2, HASH_SIZE)
        return DataKeys(req, rsp, traffic_keys(req), traffic_keys(rsp))
