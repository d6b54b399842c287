"""CC event logs (CCEL) as MigTD carries them in its RA-TLS certificate.

Layout: a 32-byte ``TcgPcrEventHeader`` and a 40-byte ``TcgEfiSpecIdevent``
(72 bytes in all), then CC events of a 66-byte packed header followed by
``event_size`` bytes of data, then one trailing byte. The trailing byte
exists because td-shim's reader yields an event only when at least one byte
follows it; we follow the same rule when parsing so that a log accepted here
is accepted by a Rust peer and vice versa.

Everything here is pure: bytes in, values out.
"""

from __future__ import annotations

import hashlib
import struct
from typing import NamedTuple

from migtd.errors import FormatError

SHA384_ALG_ID = 0x000C
EV_NO_ACTION = 0x00000003
EV_EVENT_TAG = 0x00000006
EV_PLATFORM_CONFIG_FLAGS = 0x0000000A
EV_EFI_PLATFORM_FIRMWARE_BLOB2 = 0x8000000A
SPEC_ID_EVENT_TYPE = 0x80000003  # what td-shim's emulator writes in the first header

TAG_POLICY = 1
TAG_SGX_ROOT_KEY = 2
TAG_POLICY_SIGNER = 3
TAG_TEST_DISABLE_RA = 0x32

SKIP_RA_FEATURE = b"test_disable_ra_and_accept_all"

_PCR_HEADER = struct.Struct("<II20sI")  # mr_index, event_type, sha1 digest, event_size
_CC_HEADER = struct.Struct("<IIIH48sI")  # mr_index, type, count, alg, digest, size
SPEC_ID_HEADER_SIZE = _PCR_HEADER.size + 40
CC_HEADER_SIZE = _CC_HEADER.size  # 66


def _spec_id_event() -> bytes:
    body = (b"Spec ID Event03\0"
            + struct.pack("<IBBBB", 0, 0, 2, 105, 2)  # platform class, minor, major, errata, uintn
            + struct.pack("<I", 1)                   # number of algorithms
            + struct.pack("<HH", SHA384_ALG_ID, 48)
            + bytes([7]) + b"td-shim")
    assert len(body) == 40
    return _PCR_HEADER.pack(0, SPEC_ID_EVENT_TYPE, bytes(20), len(body)) + body


SPEC_ID_HEADER = _spec_id_event()


class CcEvent(NamedTuple):
    """One CC measurement event: which RTMR it extends and what it recorded."""

    mr_index: int
    event_type: int
    digest: bytes
    data: bytes

    def encode(self) -> bytes:
        """The 66-byte CC event header (one SHA-384 digest) followed by the data."""
        return _CC_HEADER.pack(self.mr_index, self.event_type, 1, SHA384_ALG_ID,
                               self.digest, len(self.data)) + self.data

    @property
    def tag(self) -> int | None:
        """Tag id of an ``EV_EVENT_TAG`` event, else None."""
        if self.event_type == EV_EVENT_TAG and len(self.data) >= 4:
            return int.from_bytes(self.data[:4], "little")
        return None


def tagged_event(mr_index: int, tag: int, hashed: bytes, payload: bytes) -> CcEvent:
    """An ``EV_EVENT_TAG`` event as MigTD writes it: data = tag ‖ len ‖ payload."""
    data = struct.pack("<II", tag, len(payload)) + payload
    return CcEvent(mr_index, EV_EVENT_TAG, hashlib.sha384(hashed).digest(), data)


def build_event_log(events: list[CcEvent]) -> bytes:
    """Encode a full log: spec-ID header, events, and the one trailing byte."""
    return SPEC_ID_HEADER + b"".join(e.encode() for e in events) + b"\0"


def parse_event_log(data: bytes) -> list[CcEvent]:
    """Decode a log; raise :class:`FormatError` naming the offset of the problem.

    Like td-shim, an event is returned only if at least one byte follows it,
    and trailing bytes too short for an event header (or all zero) end the
    log; an event body that runs past the end is an error.
    """
    data = bytes(data)
    if len(data) < _PCR_HEADER.size:
        raise FormatError("event log", "TcgPcrEventHeader", 0, f"need {_PCR_HEADER.size} bytes, have {len(data)}")
    _, _, _, spec_size = _PCR_HEADER.unpack_from(data, 0)
    off = _PCR_HEADER.size + spec_size
    if off > len(data):
        raise FormatError("event log", "TcgEfiSpecIdevent", _PCR_HEADER.size,
                          f"event_size {spec_size} runs past the end ({len(data)} bytes)")
    if data[_PCR_HEADER.size:_PCR_HEADER.size + 16] != b"Spec ID Event03\0":
        raise FormatError("event log", "TcgEfiSpecIdevent.signature", _PCR_HEADER.size,
                          "not 'Spec ID Event03'")
    events: list[CcEvent] = []
    while off < len(data):
        remaining = len(data) - off
        if remaining <= CC_HEADER_SIZE:
            break  # trailing padding too short to be a header
        mr_index, etype, count, alg, digest, size = _CC_HEADER.unpack_from(data, off)
        if count != 1 or alg != SHA384_ALG_ID:
            if all(b == 0 for b in data[off:]):
                break  # zero padding after the last event
            raise FormatError("event log", "CcEventHeader.digests", off,
                              f"expected one SHA-384 digest, got count={count} alg={alg:#06x}")
        end = off + CC_HEADER_SIZE + size
        if end > len(data):
            raise FormatError("event log", "CcEventHeader.event_size", off + 62,
                              f"event of {size} bytes runs past the end ({len(data)} bytes)")
        if end == len(data):
            break  # td-shim only yields an event followed by at least one byte
        events.append(CcEvent(mr_index, etype, digest, data[off + CC_HEADER_SIZE:end]))
        off = end
    return events


def replay_rtmrs(events: list[CcEvent]) -> list[bytes]:
    """Recompute RTMR0..3 from a log: ``rtmr = SHA384(rtmr ‖ digest)`` from zero.

    Raises :class:`FormatError` for an ``mr_index`` outside 1..4, which MigTD
    treats as a broken log even when it tolerates an RTMR mismatch.
    """
    rtmrs = [bytes(48)] * 4
    for i, ev in enumerate(events):
        if not 1 <= ev.mr_index <= 4:
            raise FormatError("event log", f"event[{i}].mr_index", 0, f"{ev.mr_index} is not 1..4")
        idx = ev.mr_index - 1
        rtmrs[idx] = hashlib.sha384(rtmrs[idx] + ev.digest).digest()
    return rtmrs


def skip_ra_event_log() -> bytes:
    """The log a skip-RA MigTD presents: one test-feature tagged event."""
    return build_event_log([tagged_event(3, TAG_TEST_DISABLE_RA, SKIP_RA_FEATURE, SKIP_RA_FEATURE)])


def v1_event_log(policy: bytes, root_ca: bytes) -> bytes:
    """The log of a policy-v1 MigTD: policy (tag 1) then root CA (tag 2), RTMR2."""
    return build_event_log([tagged_event(3, TAG_POLICY, policy, policy),
                            tagged_event(3, TAG_SGX_ROOT_KEY, root_ca, root_ca)])


def v2_event_log(issuer_chain: bytes, policy: bytes, version: bytes = b"2.0") -> bytes:
    """The log of a policy-v2 MigTD: issuer chain (tag 3, RTMR1), policy (tag 1, RTMR2)."""
    return build_event_log([tagged_event(2, TAG_POLICY_SIGNER, issuer_chain, issuer_chain),
                            tagged_event(3, TAG_POLICY, policy, version)])
