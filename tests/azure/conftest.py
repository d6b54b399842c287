"""Fixtures for Azure mode: a real swtpm provisioned like an Azure vTPM, and a local IMDS.

* ``swtpm``: starts Debian's ``swtpm`` in socket mode on loopback (command port
  N, control port N+1, which is what the ``swtpm:`` TCTI expects), waits until
  it answers, and stops it at teardown. ``swtpm.provision_hcl(...)`` writes an
  HCL report into NV 0x01400001, as the paravisor would.
* ``imds``: a threaded HTTP server answering ``POST /acc/tdquote`` with a quote
  from the mock QE (``config/mock``) for the posted TD report. It can fail the
  first N requests, or play back scripted answers, and records what it got.
"""

from __future__ import annotations

import base64
import binascii
import json
import shutil
import socket
import subprocess
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from migtd.emu import hcl
from migtd.emu.imds import b64url_encode
from migtd.emu.vtpm import HCL_REPORT_INDEX, Vtpm
from migtd.eventlog import build_event_log
from migtd.mock.providers import MockQeProvider

SWTPM_START_TIMEOUT = 10.0


def mock_td_report(report_data: bytes = bytes(64)) -> bytes:
    """The mock-qe TD report (empty event log): the measurements the mock PKI's policy accepts."""
    return MockQeProvider().td_report(report_data, build_event_log([]))


def small_hcl_report(user_data: bytes = bytes(64), pad_to: int | None = None) -> bytes:
    """A layout-valid HCL report around the mock TD report, well under swtpm's 2048-byte cap."""
    return hcl.build_hcl_report(mock_td_report(), hcl.runtime_claims(user_data), pad_to=pad_to)


def _adjacent_free_ports() -> int:
    """A port N with N and N+1 both free on loopback (swtpm's TCTI uses N+1 for control)."""
    for _ in range(50):
        with socket.socket() as a:
            a.bind(("127.0.0.1", 0))
            port = a.getsockname()[1]
            if port >= 65535:
                continue
            with socket.socket() as b:
                try:
                    b.bind(("127.0.0.1", port + 1))
                except OSError:
                    continue
        return port
    raise RuntimeError("no two adjacent free ports on 127.0.0.1")


@dataclass
class Swtpm:
    """A running swtpm and the TCTI string that reaches it."""

    process: subprocess.Popen[bytes]
    port: int
    state_dir: Path

    @property
    def tcti(self) -> str:
        return f"swtpm:host=127.0.0.1,port={self.port}"

    def vtpm(self) -> Vtpm:
        return Vtpm(self.tcti)

    def provision_hcl(self, blob: bytes) -> None:
        self.vtpm().provision(HCL_REPORT_INDEX, blob)

    def read(self, index: int) -> bytes:
        return self.vtpm().read_index(index)

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=5)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=5)


def start_swtpm(state_dir: Path) -> Swtpm:
    """Start swtpm on two adjacent loopback ports and wait until it accepts a TPM session."""
    binary = shutil.which("swtpm")
    if binary is None:
        pytest.fail("swtpm is not installed (apt-get install swtpm libtss2-tcti-swtpm0; see scripts/setup.sh)")
    last = ""
    for _ in range(5):  # a port can be taken between the probe and swtpm's bind: retry
        port = _adjacent_free_ports()
        log_path = state_dir / "swtpm.log"
        proc = subprocess.Popen(
            [binary, "socket", "--tpm2",
             "--server", f"type=tcp,port={port},bindaddr=127.0.0.1",
             "--ctrl", f"type=tcp,port={port + 1},bindaddr=127.0.0.1",
             "--tpmstate", f"dir={state_dir}", "--flags", "not-need-init,startup-clear",
             "--log", f"file={log_path}"],
            stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.STDOUT)
        tpm = Swtpm(proc, port, state_dir)
        deadline = time.monotonic() + SWTPM_START_TIMEOUT
        while time.monotonic() < deadline and proc.poll() is None:
            try:
                with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                    return tpm
            except OSError:
                time.sleep(0.02)
        tpm.stop()
        last = log_path.read_text(errors="replace").strip() if log_path.exists() else f"exit {proc.returncode}"
    pytest.fail(f"swtpm did not start: {last}")


@pytest.fixture
def swtpm() -> Iterator[Swtpm]:
    with tempfile.TemporaryDirectory(prefix="migtd-swtpm-") as d:
        tpm = start_swtpm(Path(d))
        try:
            yield tpm
        finally:
            tpm.stop()


@pytest.fixture
def provisioned_swtpm(swtpm: Swtpm) -> Swtpm:
    """A swtpm whose NV 0x01400001 holds a small HCL report around the mock TD report."""
    swtpm.provision_hcl(small_hcl_report())
    return swtpm


# ---------------------------------------------------------------- fake IMDS

def mock_qe_quote() -> Callable[[bytes], bytes]:
    """The mock QE of the committed mock PKI (``config/mock``), loaded once."""
    from migtd.mock.qe import MockQE

    return MockQE.load().quote


@dataclass
class ImdsRequest:
    path: str
    headers: dict[str, str]
    body: bytes


@dataclass
class FakeImds:
    """State shared with the HTTP handler thread."""

    quote_fn: Callable[[bytes], bytes]
    fail_first: int = 0
    fail_status: int = 503
    script: list[tuple[int, bytes]] = field(default_factory=list)
    stall: bool = False
    requests: list[ImdsRequest] = field(default_factory=list)
    url: str = ""
    lock: threading.Lock = field(default_factory=threading.Lock)

    def next_answer(self, request: ImdsRequest) -> tuple[int, bytes]:
        with self.lock:
            self.requests.append(request)
            number = len(self.requests)
            if self.script:
                return self.script.pop(0)
        if number <= self.fail_first:
            return self.fail_status, b'{"error":"simulated IMDS outage"}'
        return self.answer(request)

    def answer(self, request: ImdsRequest) -> tuple[int, bytes]:
        """What IMDS does: exact JSON content type, unpadded base64url report, quote back."""
        if request.path != "/acc/tdquote":
            return 404, b'{"error":"not found"}'
        if request.headers.get("content-type") != "application/json":
            return 415, b'{"error":"unsupported media type"}'
        try:
            text = json.loads(request.body)["report"]
            if "=" in text:
                raise ValueError("padding")
            report = base64.b64decode(text + "=" * (-len(text) % 4), altchars=b"-_", validate=True)
        except (ValueError, KeyError, TypeError, binascii.Error):
            return 400, b'{"error":"bad request"}'
        if len(report) != 1024:
            return 400, b'{"error":"report must be 1024 bytes"}'
        quote = self.quote_fn(report)
        return 200, json.dumps({"quote": b64url_encode(quote)}).encode()


def _handler(state: FakeImds) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            body = self.rfile.read(length)
            request = ImdsRequest(self.path, {k.lower(): v for k, v in self.headers.items()}, body)
            if state.stall:
                time.sleep(3)
                return
            status, payload = state.next_answer(request)
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(payload)))
            self.end_headers()
            self.wfile.write(payload)

        def log_message(self, format: str, *args: object) -> None:
            return

    return Handler


@pytest.fixture
def imds() -> Iterator[FakeImds]:
    state = FakeImds(quote_fn=mock_qe_quote())
    server = ThreadingHTTPServer(("127.0.0.1", 0), _handler(state))
    server.daemon_threads = True
    state.url = f"http://127.0.0.1:{server.server_address[1]}/acc/tdquote"
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    try:
        yield state
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)


class LogCapture:
    """An in-memory JSON EventLog for asserting on what was logged."""

    def __init__(self) -> None:
        import io

        from migtd.events import EventLog

        self.stream = io.StringIO()
        self.log = EventLog("source", 1, fmt="json", level="debug", stream=self.stream)

    def records(self) -> list[dict[str, object]]:
        return [json.loads(line) for line in self.stream.getvalue().splitlines()]

    def messages(self, level: str | None = None) -> list[str]:
        return [str(r["msg"]) for r in self.records() if level is None or r["level"] == level]


@pytest.fixture
def logs() -> LogCapture:
    return LogCapture()


@pytest.fixture
def make_td_report() -> Callable[..., bytes]:
    """:func:`mock_td_report` as a fixture (test modules cannot import conftest)."""
    return mock_td_report


@pytest.fixture
def make_hcl() -> Callable[..., bytes]:
    """:func:`small_hcl_report` as a fixture."""
    return small_hcl_report


@pytest.fixture
def second_swtpm() -> Iterator[Swtpm]:
    """Another provisioned swtpm, for the second MigTD of an end-to-end pair."""
    with tempfile.TemporaryDirectory(prefix="migtd-swtpm-") as d:
        tpm = start_swtpm(Path(d))
        try:
            tpm.provision_hcl(small_hcl_report(user_data=b"\x02" * 64))
            yield tpm
        finally:
            tpm.stop()
