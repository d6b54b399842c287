"""A peer killed at any point of the exchange: the survivor ends with the documented code, at once.

Issue #11: "a peer killed at random points of the exchange (20 seeded points)
always yields the documented code within the deadline and never a hang". A
:class:`~tests.load.relay.Relay` sits between a real source and a real
destination (skip-RA, policy v2, so the pre-session exchange runs too). A
calibration run through the relay lays out each direction's frames; then, for
20 seeded points spread over both directions and every phase — the pre-session
exchange, the session set-up (TLS handshake with certificates, or SPDM up to
FINISH), the key exchange (the records carrying ExchangeInformation, or the
secured SPDM messages) — the relay forwards exactly the first ``k`` bytes of
one direction, SIGKILLs the process that sent them and drops both connections.
Which side dies alternates with the direction.

The survivor has seen exactly ``k`` bytes of its peer's stream, so its code
follows from where ``k`` falls (protocol.md §3.5, spdm.md §6.4): a peer lost
during the pre-session exchange is NetworkError (5); during TLS or SPDM —
handshake, attestation or key exchange — SecureSessionError (6), even for an
SPDM destination that already stored the MSK and only waits for END_SESSION.
It must say so in its ``exit`` event, with no traceback, and end well before
its ``--timeout`` (it sees the connection close; it must not wait out the
phase). Both sides run with upstream's all-zero MSK at the trace level, and
no survivor's log may hold the key. A third run does the same with full
attestation (mock-report, policy v1: no pre-session exchange, so every cut is
in the TLS handshake, with its quotes, DCAP and policy, or in the key exchange).
"""

from __future__ import annotations

import random
import re
import signal
import subprocess
import threading
import time
from dataclasses import dataclass

import pytest

from tests.loopback import free_port

from .conftest import Finished, Procs
from .relay import DIRECTIONS, Relay, frames, is_tls_record

#: Phase deadline of both sides; the survivor must end long before it.
TIMEOUT = 20
#: How soon after the cut the survivor must have ended (seeing the close, not the deadline).
PROMPT = 10.0
#: Points per direction in each segment of the conversation (3 + 4 + 3 = 10 per direction, 20 in all).
PER_SEGMENT = {"pre-session": 3, "session set-up": 4, "key exchange": 3}
SEED = 11


@dataclass(frozen=True)
class Layout:
    """Where each segment of one direction's stream starts (byte offsets) and how long the stream is."""

    pre_session_end: int
    key_exchange_start: int
    last_frame_start: int
    total: int

    def segments(self) -> dict[str, tuple[int, int]]:
        return {"pre-session": (0, self.pre_session_end),
                "session set-up": (self.pre_session_end, self.key_exchange_start),
                "key exchange": (self.key_exchange_start, self.total)}


def layout(stream: bytes, key_exchange: str) -> Layout:
    """Segment one direction's recorded stream by its frames (protocol.md §4.2, spdm.md §3)."""
    fs = frames(stream)
    # The pre-session exchange ends with START_SESSION: an 8-byte header of type 2 and no payload.
    starts = [end for _, end, p in fs if len(p) == 8 and p[:1] == b"\x02" and p[4:] == bytes(4)]
    pre_end = starts[0] if starts else 0  # policy v1 has no pre-session exchange
    after = [(start, p) for start, _, p in fs if start >= pre_end]
    if key_exchange == "spdm":
        assert all(p[:4] == b"SPDM" for _, p in after)
        secured = [start for start, p in after if p[6] == 2]  # VmCall message type 2: a secured message
        ke_start = secured[0]
    else:
        assert all(is_tls_record(p) for _, p in after) and len(after) >= 2
        ke_start = after[-1][0]  # the last flight carries the ExchangeInformation record
    assert pre_end < ke_start < len(stream)
    return Layout(pre_end, ke_start, fs[-1][0], len(stream))


def cut_points(layouts: dict[str, Layout], seed: int, per_segment: dict[str, int] | None = None
               ) -> list[tuple[str, str, int]]:
    """(direction, segment, k): seeded offsets, a fixed number in each segment of each direction."""
    rng = random.Random(seed)
    points = []
    for direction in DIRECTIONS:
        for segment, (lo, hi) in layouts[direction].segments().items():
            n = (per_segment or PER_SEGMENT).get(segment, 0)
            if not n:
                continue
            picks = sorted(rng.sample(range(lo, hi), n))
            points += [(direction, segment, k) for k in picks]
    return points


def expected_code(lay: Layout, k: int) -> int:
    """What the survivor must report having received exactly ``k`` bytes of its peer's stream."""
    return 5 if k < lay.pre_session_end else 6




def run_through_relay(procs: Procs, env: dict[str, str], extra: list[str], cut: tuple[str, int] | None = None
                      ) -> tuple[Finished, Finished, Relay, float]:
    """Destination, relay, source; returns (source, destination, relay) once all have ended."""
    port = free_port()
    args = ["--timeout", str(TIMEOUT), *extra]
    dst = procs.start(["-m", "dst", "-t", str(port), *args], env)
    started = threading.Event()
    running: dict[str, subprocess.Popen[str]] = {"d2s": dst}

    def kill_sender(direction: str) -> None:
        started.wait(10)
        victim = running[direction]
        victim.send_signal(signal.SIGKILL)
        victim.wait(10)

    relay = Relay(port, cut=cut, on_cut=kill_sender)
    src = procs.start(["-m", "src", "-t", str(relay.port), *args], env)
    running["s2d"] = src
    started.set()
    limit = TIMEOUT + 20  # a hang fails here (TimeoutExpired) instead of stalling the suite
    s, d = procs.finish(src, timeout=limit), procs.finish(dst, timeout=limit)
    ended = time.monotonic()
    relay.join()
    return s, d, relay, ended


def calibrate(procs: Procs, env: dict[str, str], extra: list[str]) -> dict[str, Layout]:
    s, d, relay, _ = run_through_relay(procs, env, extra)
    assert (s.code, d.code) == (0, 0), s.stderr + d.stderr
    key_exchange = "spdm" if "spdm" in extra else "ratls"
    return {direction: layout(bytes(relay.streams[direction]), key_exchange) for direction in DIRECTIONS}


@pytest.mark.parametrize("key_exchange", ["ratls", "spdm"])
def test_peer_killed_at_seeded_points(procs: Procs, skip_ra_v2_env: dict[str, str], key_exchange: str) -> None:
    extra = ["--key-exchange", "spdm"] if key_exchange == "spdm" else []
    # upstream's all-zero MSK and every log level: no failure path may print the key (64 hex zeros)
    env = dict(skip_ra_v2_env, MIGTD_EMU_MSK="zero", RUST_LOG="trace")
    layouts = calibrate(procs, env, extra)
    points = cut_points(layouts, SEED)
    assert len(points) == 20 and {p[0] for p in points} == set(DIRECTIONS)
    for direction, segment, k in points:
        where = f"{key_exchange}: {direction} cut after {k} bytes ({segment})"
        s, d, relay, ended = run_through_relay(procs, env, extra, cut=(direction, k))
        victim, survivor = (s, d) if direction == "s2d" else (d, s)
        # A cut in the last bytes a side sends can find it already done with its own side (its
        # exit is racing the kill): then it exited 0; the survivor still never got those bytes.
        assert victim.code == -signal.SIGKILL or (victim.code == 0 and k >= layouts[direction].last_frame_start), \
            (where, victim.code)
        assert relay.cut_at is not None and len(relay.streams[direction]) == k, where
        code = expected_code(layouts[direction], k)
        assert survivor.code == code, f"{where}: exit {survivor.code}, expected {code}\n{survivor.stderr}"
        assert "Traceback" not in survivor.stderr, where
        assert "0" * 64 not in survivor.stderr, f"{where}: the key reached the log"
        assert all(line.startswith("{") for line in survivor.stderr.splitlines()), survivor.stderr
        exits = [e for e in survivor.events if e["event"] == "exit"]
        assert len(exits) == 1 and exits[0]["code"] == code and exits[0]["reason"], (where, exits)
        # Only SPDM's destination, whose MSK is written before the source's END_SESSION, may have
        # logged the key exchange, and still fails (spdm.md §6.4: "waits for END_SESSION → 6").
        late = key_exchange == "spdm" and direction == "s2d" and k >= layouts[direction].last_frame_start
        assert ("msk_exchanged" in survivor.names()) is late, where
        assert ended - relay.cut_at < PROMPT, f"{where}: the survivor took {ended - relay.cut_at:.1f} s"


#: Policy v1 has no pre-session exchange: the 10 points of each direction fall in the TLS handshake (with
#: both quotes, their DCAP verification and the policy) and in the key exchange.
PER_SEGMENT_V1 = {"session set-up": 6, "key exchange": 4}
ZERO_KEY = re.compile(r"(?<![0-9A-Fa-f])0{64}(?![0-9A-Fa-f])")


def test_peer_killed_during_a_mock_report_migration(procs: Procs, mock_report_env: dict[str, str]) -> None:
    """The same cuts with full attestation (mock QE quotes, DCAP, policy v1): always 6, at once, no key in the log."""
    env = dict(mock_report_env, MIGTD_EMU_MSK="zero", RUST_LOG="trace")
    layouts = calibrate(procs, env, [])
    assert all(lay.pre_session_end == 0 for lay in layouts.values())
    points = cut_points(layouts, SEED, PER_SEGMENT_V1)
    assert len(points) == 20
    for direction, segment, k in points:
        where = f"mock-report: {direction} cut after {k} bytes ({segment})"
        s, d, relay, ended = run_through_relay(procs, env, [], cut=(direction, k))
        victim, survivor = (s, d) if direction == "s2d" else (d, s)
        assert victim.code == -signal.SIGKILL or (victim.code == 0 and k >= layouts[direction].last_frame_start), \
            (where, victim.code)
        assert survivor.code == 6, f"{where}: exit {survivor.code}, expected 6\n{survivor.stderr}"
        assert "Traceback" not in survivor.stderr, where
        # the all-zero MSK as hex: exactly 64 zeros (the reports' zero RTMRs are 96-digit runs)
        assert not ZERO_KEY.search(survivor.stderr), f"{where}: the key reached the log"
        exits = [e for e in survivor.events if e["event"] == "exit"]
        assert len(exits) == 1 and exits[0]["code"] == 6 and exits[0]["reason"], (where, exits)
        assert "msk_exchanged" not in survivor.names(), where
        assert ended - relay.cut_at < PROMPT, f"{where}: the survivor took {ended - relay.cut_at:.1f} s"
