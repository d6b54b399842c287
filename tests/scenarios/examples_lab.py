"""Run runner command lines as written, in a private network namespace: ``unshare -rn python examples_lab.py SPEC``.

Upstream's help examples use the default port 8001; in a namespace of its own
each run has a loopback to itself, so the examples need no port of their own
and cannot collide with anything else on a shared machine. ``SPEC`` (JSON)
names the script, the working folder, the steps and where to write the
results. A step is one command (``args``) or a destination started first
(``background``) and then a source (``args``). With ``azure`` set, the lab
also stands in for an Azure TDX CVM inside the namespace: a swtpm whose HCL
report wraps the TD report of the captured quote, and an IMDS endpoint that
returns that quote for that TD's reports; ``TSS2_TCTI``, ``MIGTD_IMDS_URL``
and ``MIGTD_VTPM_SETTLE`` point every run at them.

Everything the lab starts, it stops. Used by ``test_upstream_examples.py``.
"""

from __future__ import annotations

import base64
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

SWTPM_PORT = 2321
IMDS_PORT = 8480
LISTEN_PORT = 8001


def _listening(port: int) -> bool:
    """Whether something listens on ``port`` (from /proc/net/tcp: no connection a MigTD would take)."""
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        try:
            rows = Path(table).read_text().splitlines()[1:]
        except OSError:
            continue
        for row in rows:
            fields = row.split()
            if len(fields) > 3 and fields[3] == "0A" and int(fields[1].rsplit(":", 1)[1], 16) == port:
                return True
    return False


def _stop(proc: subprocess.Popen[str]) -> None:
    if proc.poll() is None:
        try:
            os.killpg(proc.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        proc.wait(timeout=10)


def _run(args: list[str], cwd: str, env: dict[str, str], timeout: float) -> tuple[int, str]:
    proc = subprocess.Popen(args, cwd=cwd, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                            start_new_session=True)
    try:
        out, _ = proc.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        _stop(proc)
        out, _ = proc.communicate()
        return -1, out + f"\n[lab: no exit within {timeout} s]"
    return proc.returncode, out


def _pair(background: list[str], args: list[str], cwd: str, env: dict[str, str],
          timeout: float) -> dict[str, Any]:
    """The destination's command first, until it listens on 8001; then the source's."""
    dst = subprocess.Popen(background, cwd=cwd, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                           text=True, start_new_session=True)
    deadline = time.monotonic() + timeout
    while not _listening(LISTEN_PORT) and dst.poll() is None and time.monotonic() < deadline:
        time.sleep(0.02)
    code, out = _run(args, cwd, env, max(1.0, deadline - time.monotonic()))
    try:
        peer_out, _ = dst.communicate(timeout=max(1.0, deadline - time.monotonic()))
        peer_code = dst.returncode
    except subprocess.TimeoutExpired:
        _stop(dst)
        peer_out, _ = dst.communicate()
        peer_code = -1
    return {"code": code, "out": out, "peer_code": peer_code, "peer_out": peer_out}


class AzureStandIn:
    """A swtpm holding the captured quote's TD report, and an IMDS answering with that quote."""

    def __init__(self, quote_path: str) -> None:
        from migtd.attest.quote import td_report_from_quote
        from migtd.emu import hcl

        self.quote = Path(quote_path).read_bytes()
        self.td_report = td_report_from_quote(self.quote)
        self.state = tempfile.mkdtemp(prefix="lab-swtpm-")
        swtpm = shutil.which("swtpm")
        if swtpm is None:
            raise SystemExit("lab: swtpm is not installed")
        self.swtpm = subprocess.Popen(
            [swtpm, "socket", "--tpm2", "--server", f"type=tcp,port={SWTPM_PORT},bindaddr=127.0.0.1",
             "--ctrl", f"type=tcp,port={SWTPM_PORT + 1},bindaddr=127.0.0.1", "--tpmstate", f"dir={self.state}",
             "--flags", "not-need-init,startup-clear"],
            stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
        deadline = time.monotonic() + 10
        while not _listening(SWTPM_PORT):
            if self.swtpm.poll() is not None or time.monotonic() > deadline:
                raise SystemExit("lab: swtpm did not start")
            time.sleep(0.02)
        from migtd.emu.vtpm import HCL_REPORT_INDEX, Vtpm

        # bind_claims=False: the TD report keeps the REPORTDATA the captured quote carries, so the quote
        # IMDS returns is the quote of the report the vTPM gave (MigTD checks that)
        blob = hcl.build_hcl_report(self.td_report, hcl.runtime_claims(bytes(64)), bind_claims=False)
        Vtpm(self.tcti).provision(HCL_REPORT_INDEX, blob)
        self.requests = 0
        self.server = ThreadingHTTPServer(("127.0.0.1", IMDS_PORT), self._handler())
        self.server.daemon_threads = True
        threading.Thread(target=self.server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True).start()

    @property
    def tcti(self) -> str:
        return f"swtpm:host=127.0.0.1,port={SWTPM_PORT}"

    @property
    def env(self) -> dict[str, str]:
        return {"TSS2_TCTI": self.tcti, "MIGTD_IMDS_URL": f"http://127.0.0.1:{IMDS_PORT}/acc/tdquote",
                "MIGTD_VTPM_SETTLE": "0"}

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        lab = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # http.server's naming
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                lab.requests += 1
                try:
                    text = json.loads(body)["report"]
                    report = base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))
                except (ValueError, KeyError, TypeError):
                    report = b""
                # the quote of this TD only: same TDINFO as the report it was made for
                if len(report) == 1024 and report[512:] == lab.td_report[512:]:
                    status, payload = 200, {"quote": base64.urlsafe_b64encode(lab.quote).rstrip(b"=").decode()}
                else:
                    status, payload = 400, {"error": "not this TD's report"}
                data = json.dumps(payload).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def log_message(self, format: str, *args: object) -> None:
                return

        return Handler

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()
        _stop(self.swtpm)
        shutil.rmtree(self.state, ignore_errors=True)


def main(spec_path: str) -> int:
    spec = json.loads(Path(spec_path).read_text())
    up = subprocess.run(["ip", "link", "set", "lo", "up"], capture_output=True, text=True, check=False)
    if up.returncode != 0:
        raise SystemExit(f"lab: cannot bring up loopback: {up.stderr.strip()}")
    with socket.socket() as probe:   # a private namespace: 8001 is ours
        probe.bind(("127.0.0.1", LISTEN_PORT))
    env = dict(os.environ, **spec.get("env", {}))
    azure = AzureStandIn(spec["azure"]["quote"]) if spec.get("azure") else None
    results = []
    try:
        if azure is not None:
            env.update(azure.env)
        for step in spec["steps"]:
            step_env = dict(env, **step.get("env", {}))
            timeout = float(step.get("timeout", 90))
            if step.get("background"):
                result = _pair(step["background"], step["args"], spec["cwd"], step_env, timeout)
            else:
                code, out = _run(step["args"], spec["cwd"], step_env, timeout)
                result = {"code": code, "out": out}
            results.append({"id": step["id"], **result})
    finally:
        imds_requests = azure.requests if azure is not None else 0
        if azure is not None:
            azure.close()
    Path(spec["out"]).write_text(json.dumps({"steps": results, "imds_requests": imds_requests}))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1]))
