"""A local stand-in for Intel PCS / a PCCS / Azure THIM, serving a collateral file on the v4 paths.

``PcsStandIn(collateral_json)`` splits an upstream collateral JSON into the
answers a real service gives: the PCK CRL as DER with the
``SGX-PCK-CRL-Issuer-Chain`` header, each platform's TCB info with
``TCB-Info-Issuer-Chain``, the QE identity with
``SGX-Enclave-Identity-Issuer-Chain`` (chains URL-encoded, as Intel sends
them), the root CA CRL as hex on PCCS's ``rootcacrl`` path and as DER on
``/IntelSGXRootCA.der``. ``faults`` changes one path's answer (status, body,
headers, a trickle) so each failure mode can be tested. It listens on
127.0.0.1 only and is stopped by the fixture.
"""

from __future__ import annotations

import json
import threading
import time
import urllib.parse
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest
from cryptography import x509
from cryptography.hazmat.primitives.serialization import Encoding

PCK_CRL = "/sgx/certification/v4/pckcrl"
TCB = "/tdx/certification/v4/tcb"
QE = "/tdx/certification/v4/qe/identity"
ROOT_CRL_PCCS = "/sgx/certification/v4/rootcacrl"
ROOT_CRL_DER = "/IntelSGXRootCA.der"


@dataclass
class Fault:
    """How to spoil the answer of one path."""

    status: int | None = None
    body: bytes | None = None
    headers: dict[str, str] | None = None   # replaces the issuer-chain header(s)
    trickle: float | None = None            # seconds between single bytes


@dataclass
class PcsStandIn:
    collateral: dict[str, Any]
    faults: dict[str, Fault] = field(default_factory=dict)
    requests: list[str] = field(default_factory=list)
    server: ThreadingHTTPServer | None = None

    @property
    def url(self) -> str:
        assert self.server is not None
        return f"http://127.0.0.1:{self.server.server_address[1]}"

    def answer(self, path: str, query: dict[str, list[str]]) -> tuple[int, dict[str, str], bytes]:
        c = self.collateral
        quote = urllib.parse.quote
        if path == PCK_CRL and query.get("ca") == ["platform"] and query.get("encoding") == ["der"]:
            der = x509.load_pem_x509_crl(c["pckCrl"].encode()).public_bytes(Encoding.DER)
            return 200, {"SGX-PCK-CRL-Issuer-Chain": quote(c["pckCrlIssuerChain"])}, der
        if path == TCB:
            fmspc = (query.get("fmspc") or [""])[0].upper()
            for p in c["platforms"]:
                if p["fmspc"].upper() == fmspc:
                    return 200, {"TCB-Info-Issuer-Chain": quote(p["tcbInfoIssuerChain"])}, p["tcbInfo"].encode()
            return 404, {}, b"FMSPC not found"
        if path == QE:
            return 200, {"SGX-Enclave-Identity-Issuer-Chain": quote(c["qeIdentityIssuerChain"])}, \
                c["qeIdentity"].encode()
        der = x509.load_pem_x509_crl(c["rootCaCrl"].encode()).public_bytes(Encoding.DER)
        if path == ROOT_CRL_PCCS:
            return 200, {}, der.hex().encode()
        if path == ROOT_CRL_DER:
            return 200, {}, der
        return 404, {}, b"no such resource"


def _handler(stand_in: PcsStandIn) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            parts = urllib.parse.urlsplit(self.path)
            stand_in.requests.append(self.path)
            status, headers, body = stand_in.answer(parts.path, urllib.parse.parse_qs(parts.query))
            fault = stand_in.faults.get(parts.path)
            if fault is not None:
                status = fault.status if fault.status is not None else status
                body = fault.body if fault.body is not None else body
                headers = fault.headers if fault.headers is not None else headers
            self.send_response(status)
            for k, v in headers.items():
                self.send_header(k, v)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            try:
                if fault is not None and fault.trickle:
                    for i in range(len(body)):
                        self.wfile.write(body[i:i + 1])
                        self.wfile.flush()
                        time.sleep(fault.trickle)
                else:
                    self.wfile.write(body)
            except (BrokenPipeError, ConnectionResetError):
                pass

        def log_message(self, format: str, *args: Any) -> None:
            pass

    return Handler


@pytest.fixture
def pcs_stand_in() -> Iterator[type[PcsStandIn]]:
    """A factory: ``start(collateral_json_bytes)`` returns a running :class:`PcsStandIn`."""
    started: list[PcsStandIn] = []

    class Factory(PcsStandIn):
        @classmethod
        def start(cls, collateral_json: bytes) -> PcsStandIn:
            s = PcsStandIn(json.loads(collateral_json))
            s.server = ThreadingHTTPServer(("127.0.0.1", 0), _handler(s))
            s.server.daemon_threads = True
            threading.Thread(target=s.server.serve_forever, daemon=True).start()
            started.append(s)
            return s

    yield Factory
    for s in started:
        assert s.server is not None
        s.server.shutdown()
        s.server.server_close()


@pytest.fixture(autouse=True)
def private_cache(monkeypatch: pytest.MonkeyPatch, tmp_path_factory: pytest.TempPathFactory) -> None:
    """Each test gets its own user cache directory (platformdirs honours XDG_CACHE_HOME)."""
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path_factory.mktemp("cache")))
