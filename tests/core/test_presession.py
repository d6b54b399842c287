"""The policy-v2 pre-session exchange as a state machine, with no I/O (protocol.md §4.2).

Pins: what we send and when (HELLO header and payload first; our
PRE_SESSION_DATA header and blob once the peer's HELLO is accepted; START
once its blob arrived) — the same writes, in the same order, as upstream;
the peer's elements in any chunking; bytes after its START left for TLS;
every violation InvalidParameter (1); nothing but MigtdError for any input.
"""

from __future__ import annotations

import struct

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from migtd.errors import MigtdError
from migtd.protocol import presession as ps
from migtd.result import MigrationResult

OURS = ps.build_blob(b'{"policy": "ours"}', b"our chain")
THEIRS = ps.build_blob(b'{"policy": "theirs"}', b"their chain")
PEER_STREAM = (ps.HELLO_HEADER + ps.HELLO + struct.pack("<BxxxI", 1, len(THEIRS)) + THEIRS + ps.START_SESSION)


def run(chunks: list[bytes]) -> tuple[list[object], list[bytes], bytes]:
    """Feed ``chunks`` as the driver does; the events, every write, and the bytes left for TLS."""
    step = ps.PreSession(OURS)
    events: list[object] = []
    writes: list[bytes] = []
    pending = list(chunks)
    while True:
        writes += step.writes()
        event = step.next_event()
        if isinstance(event, ps.NeedData):
            if not pending:
                return events, writes, b""
            step.receive_data(pending.pop(0))
            continue
        events.append(event)
        if isinstance(event, ps.SessionStart):
            writes += step.writes()
            return events, writes, step.trailing_data + b"".join(pending)


def test_writes_are_upstreams_elements_in_upstreams_order() -> None:
    events, writes, rest = run([PEER_STREAM + b"\x16\x03\x01TLS"])
    assert writes == [bytes.fromhex("FF00000008000000"), b"MGTD\x00\x01\x00\x01",
                      b"\x01\x00\x00\x00" + struct.pack("<I", len(OURS)), OURS, bytes.fromhex("0200000000000000")]
    assert events == [ps.PeerHello(0x0100), ps.PeerData(THEIRS), ps.SessionStart()]
    assert rest == b"\x16\x03\x01TLS"


def test_nothing_of_ours_beyond_the_hello_before_the_peers_hello() -> None:
    step = ps.PreSession(OURS)
    assert step.writes() == [ps.HELLO_HEADER, ps.HELLO]
    step.receive_data(ps.HELLO_HEADER + ps.HELLO[:7])
    assert isinstance(step.next_event(), ps.NeedData) and step.writes() == []


@settings(max_examples=200, deadline=None)
@given(st.lists(st.integers(1, len(PEER_STREAM)), max_size=12))
def test_any_chunking_gives_the_same_exchange(cuts: list[int]) -> None:
    points = sorted(set(cuts))
    chunks = [PEER_STREAM[a:b] for a, b in zip([0, *points], [*points, len(PEER_STREAM)]) if b > a]
    assert run(chunks) == run([PEER_STREAM])


@pytest.mark.parametrize(("stream", "problem"), [
    (bytes.fromhex("FE00000008000000"), "expected a HELLO header"),
    (bytes.fromhex("FF00000009000000"), "expected a HELLO header"),
    (ps.HELLO_HEADER + b"MGTX\x00\x01\x00\x01", "bad HELLO magic"),
    (ps.HELLO_HEADER + b"MGTD\x00\x02\x00\x02", "no common version"),
    (ps.HELLO_HEADER + ps.HELLO + bytes.fromhex("0200000000000000"), "expected PRE_SESSION_DATA"),
    (ps.HELLO_HEADER + ps.HELLO + b"\x01\x00\x00\x00" + struct.pack("<I", ps.MAX_PEER_BLOB + 1), "exceeds"),
    (ps.HELLO_HEADER + ps.HELLO + b"\x01\x00\x00\x00" + struct.pack("<I", 8) + struct.pack("<I", 0) * 2,
     "empty policy"),
    (PEER_STREAM[:-8] + bytes.fromhex("0200000001000000"), "expected START_SESSION"),
])
def test_violations_are_invalid_parameter(stream: bytes, problem: str) -> None:
    with pytest.raises(MigtdError, match=problem) as err:
        run([stream + bytes(64)])
    assert err.value.result == MigrationResult.InvalidParameter


def test_a_peer_that_accepts_a_wider_range_negotiates_0x0100() -> None:
    events, _, _ = run([ps.HELLO_HEADER + b"MGTD\x00\x00\x00\x09"])
    assert events == [ps.PeerHello(0x0100)]


@settings(max_examples=300, deadline=None)
@given(st.binary(max_size=200))
def test_arbitrary_bytes_never_escape_as_anything_but_a_migtd_error(data: bytes) -> None:
    try:
        run([data, PEER_STREAM])
    except MigtdError as exc:
        assert exc.result == MigrationResult.InvalidParameter


@pytest.mark.parametrize(("blob", "problem"), [
    (b"", "runs past the end"), (struct.pack("<I", 2) + b"{}", "runs past the end"),
    (ps.build_blob(b"p", b"c") + b"!", "1 trailing bytes"), (ps.build_blob(b"p", b""), "empty issuer chain"),
])
def test_blob_codec(blob: bytes, problem: str) -> None:
    assert ps.parse_blob(ps.build_blob(b"policy", b"chain")) == (b"policy", b"chain")
    with pytest.raises(MigtdError, match=problem):
        ps.parse_blob(blob)
