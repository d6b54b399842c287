"""Time Azure mode's two steps on this machine: vTPM TD report (swtpm) and IMDS quote (local server).

    .venv/bin/python benchmarks/azure_provider.py [--runs 30]

Starts a swtpm on loopback, provisions NV 0x01400001 with a 1.5 KB HCL report
around the mock TD report, and runs a local IMDS that quotes with the mock QE
(``config/mock``). Then, ``--runs`` times each (after 3 warm-up runs):

* ``td_report``: ``AzureQuoteProvider.td_report`` with ``settle=0`` — open the
  TPM, check/define NV 0x01400002, write 64 bytes, read the HCL report in
  1024-byte chunks, parse it. (On Azure the paravisor's refresh adds up to
  the settle time, 3 s upstream; swtpm has no paravisor.)
* ``quote``: ``AzureQuoteProvider.quote`` — HTTP POST to the local IMDS, the
  mock QE signing there, base64url/JSON decode and the quote check here.

swtpm and the server are stopped before the script exits.
"""

from __future__ import annotations

import argparse
import json
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from migtd.emu import hcl
from migtd.emu.azure import AzureQuoteProvider
from migtd.emu.imds import b64url_decode, b64url_encode
from migtd.emu.vtpm import HCL_REPORT_INDEX, Vtpm
from migtd.eventlog import build_event_log
from migtd.mock.providers import MockQeProvider
from migtd.mock.qe import MockQE


def _ports() -> int:
    while True:
        with socket.socket() as a:
            a.bind(("127.0.0.1", 0))
            port = a.getsockname()[1]
            with socket.socket() as b:
                try:
                    b.bind(("127.0.0.1", port + 1))
                    return port
                except OSError:
                    continue


def _start_swtpm(state: str) -> tuple[subprocess.Popen[bytes], int]:
    port = _ports()
    binary = shutil.which("swtpm") or sys.exit("swtpm is not installed")
    proc = subprocess.Popen([binary, "socket", "--tpm2",
                             "--server", f"type=tcp,port={port},bindaddr=127.0.0.1",
                             "--ctrl", f"type=tcp,port={port + 1},bindaddr=127.0.0.1",
                             "--tpmstate", f"dir={state}", "--flags", "not-need-init,startup-clear"],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.5).close()
            return proc, port
        except OSError:
            time.sleep(0.02)
    proc.kill()
    sys.exit("swtpm did not start")


def _imds(quote: Callable[[bytes], bytes]) -> ThreadingHTTPServer:
    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers["Content-Length"]))
            report = b64url_decode(json.loads(body)["report"])
            payload = json.dumps({"quote": b64url_encode(quote(report))}).encode()
            self.send_response(200)
            self.send_header("Content-Length", str(len(payload)))
            self.end_headers()
            self.wfile.write(payload)

        def log_message(self, *args: Any) -> None:
            return

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server


def _stats(samples: list[float]) -> str:
    ms = [s * 1000 for s in samples]
    return f"median {statistics.median(ms):.2f} ms, min {min(ms):.2f} ms, max {max(ms):.2f} ms"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=30)
    args = parser.parse_args()

    td = MockQeProvider().td_report(bytes(64), build_event_log([]))
    blob = hcl.build_hcl_report(td, hcl.runtime_claims(bytes(64)))
    with tempfile.TemporaryDirectory() as state:
        proc, port = _start_swtpm(state)
        server = _imds(MockQE.load().quote)
        try:
            tcti = f"swtpm:host=127.0.0.1,port={port}"
            Vtpm(tcti).provision(HCL_REPORT_INDEX, blob)
            url = f"http://127.0.0.1:{server.server_address[1]}/acc/tdquote"
            provider = AzureQuoteProvider(tcti, url, 10.0, settle=0.0)
            reports: list[float] = []
            quotes: list[float] = []
            for i in range(args.runs + 3):
                t0 = time.perf_counter()
                report = provider.td_report(i.to_bytes(64, "little"), b"")
                t1 = time.perf_counter()
                provider.quote(report)
                t2 = time.perf_counter()
                if i >= 3:
                    reports.append(t1 - t0)
                    quotes.append(t2 - t1)
        finally:
            server.shutdown()
            server.server_close()
            proc.terminate()
            proc.wait(timeout=5)
    print(f"HCL blob {len(blob)} bytes, {args.runs} runs")
    print(f"td_report (swtpm, settle 0): {_stats(reports)}")
    print(f"quote (local IMDS + mock QE): {_stats(quotes)}")


if __name__ == "__main__":
    main()
