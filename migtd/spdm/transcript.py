"""The session transcript: SPDM 1.2 TH with MigTD's substitutions (spec/spdm.md §4.1).

::

    A  = GET_VERSION ‖ VERSION ‖ GET_CAPABILITIES ‖ CAPABILITIES ‖ NEGOTIATE_ALGORITHMS ‖ ALGORITHMS
    P  = H(ExchangePubKeyReq) ‖ H(ExchangePubKeyRsp)        in place of H(responder cert chain)
    KE = KEY_EXCHANGE,  KR = KEY_EXCHANGE_RSP (body ‖ signature)
    Q  = H(AttestInfoReq) ‖ H(AttestInfoRsp)                in place of H(requester key);
         H(requester SPKI) when no attestation VDM preceded FINISH
    F  = FINISH (header ‖ signature ‖ verify data),  FR = FINISH_RSP (header ‖ verify data)

    TH_KR_sig = H(A‖P‖KE‖KR_body)      TH1       = H(A‖P‖KE‖KR)
    TH_F_sig  = H(…‖KR‖Q‖F_hdr)         TH_F_mac  = H(…‖Q‖F_hdr‖F_sig)
    TH_FR_mac = H(…‖Q‖F‖FR_hdr)         TH2       = H(…‖Q‖F‖FR)

:class:`Transcript` keeps one running SHA-384 (as spdm-rs's
"hashed-transcript-data" does) and copies it at each checkpoint;
:func:`reference_hashes` recomputes every TH from whole messages, the plain
way, so tests can check the running version against it. Chunk, ERROR and
secured messages never enter the transcript.
"""

from __future__ import annotations

import hashlib
import hmac

from migtd.spdm._record import record
from migtd.spdm.constants import REPORT_DATA_PREFIX_REQUESTER, REPORT_DATA_PREFIX_RESPONDER
from migtd.spdm.crypto import sha384


class Transcript:
    """A running SHA-384 over the transcript bytes, in order."""

    __slots__ = ("_h", "length")

    def __init__(self) -> None:
        self._h = hashlib.sha384()
        self.length = 0

    def add(self, data: bytes) -> None:
        self._h.update(data)
        self.length += len(data)

    def digest(self) -> bytes:
        """TH over everything added so far (the running hash continues)."""
        return self._h.copy().digest()


def vdm_pair_hash(request_message: bytes, response_message: bytes) -> bytes:
    """P or Q: H(request) ‖ H(response), 96 bytes."""
    return sha384(request_message) + sha384(response_message)


def report_data(prefix: bytes, th1: bytes) -> bytes:
    """REPORTDATA binding a quote to the session: H(prefix ‖ TH1) ‖ 16 zero bytes (spdm.md §5)."""
    return sha384(prefix + th1) + bytes(16)


#: Where a verifier finds REPORTDATA: bytes [128..192) of a 1024-byte TDREPORT (rebinding),
#: bytes [520..584) of the 822-byte verified report / supplemental data of a quote (spdm.md §5).
TDREPORT_REPORT_DATA = slice(128, 192)
VERIFIED_REPORT_REPORT_DATA = slice(520, 584)


def report_data_matches(actual: bytes, expected: bytes) -> bool:
    """Constant-time check of a peer's REPORTDATA against :attr:`PeerEvidence.expected_report_data`.

    MigTD compares the first 48 bytes (the hash); the 16 bytes after it are zero in both.
    """
    return len(actual) == len(expected) == 64 and hmac.compare_digest(actual[:48], expected[:48])


def requester_report_data(th1: bytes) -> bytes:
    return report_data(REPORT_DATA_PREFIX_REQUESTER, th1)


def responder_report_data(th1: bytes) -> bytes:
    return report_data(REPORT_DATA_PREFIX_RESPONDER, th1)


@record
class TranscriptHashes:
    th_kr_sig: bytes
    th1: bytes
    th_f_sig: bytes
    th_f_mac: bytes
    th_fr_mac: bytes
    th2: bytes


def reference_hashes(a: bytes, p: bytes, ke: bytes, kr: bytes, q: bytes, f: bytes, fr: bytes,
                     signature_size: int = 96, hash_size: int = 48) -> TranscriptHashes:
    """Every TH of a session from its whole messages (the non-incremental definition)."""
    kr_body = kr[:-signature_size]
    f_hdr, f_sig = f[:4], f[4:-hash_size]
    fr_hdr = fr[:4]
    base = a + p + ke
    return TranscriptHashes(
        th_kr_sig=sha384(base + kr_body),
        th1=sha384(base + kr),
        th_f_sig=sha384(base + kr + q + f_hdr),
        th_f_mac=sha384(base + kr + q + f_hdr + f_sig),
        th_fr_mac=sha384(base + kr + q + f + fr_hdr),
        th2=sha384(base + kr + q + f + fr),
    )
