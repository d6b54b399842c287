"""Collateral from Intel PCS, a PCCS cache or Azure THIM: requests and assembly, no I/O.

The four v4 API resources a TDX quote needs, and the header carrying each
one's issuer chain (PEM, URL-encoded):

====================  ===============================================  ===================================
resource              path (under the source's base URL)               issuer-chain header
====================  ===============================================  ===================================
PCK CRL               ``/sgx/certification/v4/pckcrl?ca=CA&encoding=der``  ``SGX-PCK-CRL-Issuer-Chain``
TDX TCB info          ``/tdx/certification/v4/tcb?fmspc=FMSPC``         ``TCB-Info-Issuer-Chain``
TDX QE identity       ``/tdx/certification/v4/qe/identity``             ``SGX-Enclave-Identity-Issuer-Chain``
root CA CRL           PCCS: ``/sgx/certification/v4/rootcacrl``;        (none: signed by the root itself)
                      PCS and THIM: the root certificate's CRL
                      distribution point (Intel's certificate site)
====================  ===============================================  ===================================

``CA`` (``platform`` or ``processor``) is read from the issuer of the quote's
PCK certificate and ``FMSPC`` from its SGX extension. DER is asked for the PCK
CRL because THIM serves only DER; PCCS returns the root CA CRL as hex. v3
servers name the TCB info header ``SGX-TCB-Info-Issuer-Chain``, which is
accepted too. (Facts: Intel's PCS API, MigTD's ``migtd-collateral-generator``.)

:func:`assemble` checks every answer (HTTP status, issuer chain ending at the
trusted root with each certificate signed by the next, body shape, FMSPC) and
writes upstream MigTD's collateral JSON (attestation.md §4.1), which the
project's own loader then parses. Failures are :class:`CollateralFetchError`
with a ``kind`` a caller maps to an exit status.
"""

from __future__ import annotations

import base64
import binascii
import itertools
import json
import urllib.parse
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from migtd.attest.collateral import Collateral, split_signed_body
from migtd.errors import ConfigError, FormatError, MigtdError
from migtd.result import MigrationResult

#: Intel's production Provisioning Certification Service.
PCS_URL = "https://api.trustedservices.intel.com"
#: Where Azure THIM lives for a region name (``thim:useast``).
THIM_URL = "https://{region}.thim.azure.net"

PCK_CRL, TCB_INFO, QE_IDENTITY, ROOT_CA_CRL = "PCK CRL", "TCB info", "QE identity", "root CA CRL"

_CHAIN_HEADERS: dict[str, tuple[str, ...]] = {
    PCK_CRL: ("SGX-PCK-CRL-Issuer-Chain",),
    TCB_INFO: ("TCB-Info-Issuer-Chain", "SGX-TCB-Info-Issuer-Chain"),
    QE_IDENTITY: ("SGX-Enclave-Identity-Issuer-Chain",),
}

#: Issuer common name of a PCK certificate → the ``ca`` query value.
_PCK_CA = {"Intel SGX PCK Platform CA": "platform", "Intel SGX PCK Processor CA": "processor"}
_SGX_EXTENSION_OID = "1.2.840.113741.1.13.1"
_TDX_TEE_TYPE = 0x81


class CollateralFetchError(MigtdError):
    """Collateral could not be fetched or is unusable; ``kind`` says which way.

    ``unreachable`` and ``timeout`` and ``http`` are network failures (exit 5),
    ``malformed`` and ``issuer`` mean the service answered with something that
    cannot be collateral for this quote (exit 7).
    """

    def __init__(self, kind: str, message: str) -> None:
        result = (MigrationResult.NetworkError if kind in ("unreachable", "timeout", "http")
                  else MigrationResult.MutualAttestationError)
        super().__init__(message, result)
        self.kind = kind


# ------------------------------------------------------------------ sources

@dataclass(frozen=True)
class Source:
    """Where collateral comes from: ``kind`` is ``pcs``, ``pccs`` or ``thim``."""

    kind: str
    base_url: str

    def __str__(self) -> str:
        return f"{self.kind} {self.base_url}"

    def url(self, path: str) -> str:
        """``path`` (``/sgx/...``) under the base URL."""
        return self.base_url + path


def check_url(text: str, what: str) -> urllib.parse.SplitResult:
    """``text`` split, if it is an http(s) URL with a host; :class:`ConfigError` (exit 1) otherwise."""
    try:
        parts = urllib.parse.urlsplit(text)
        parts.port  # noqa: B018 - raises ValueError for a bad port
    except ValueError:
        raise ConfigError(f"{what}: {text!r} is not a valid URL") from None
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ConfigError(f"{what}: {text!r} is not an http:// or https:// URL")
    return parts


def _base_url(text: str, what: str) -> str:
    parts = check_url(text, what)
    if parts.query or parts.fragment:
        raise ConfigError(f"{what}: {text!r} must not carry a query or fragment")
    path = parts.path.rstrip("/")
    # A base URL copied with the API prefix still names the same service.
    for suffix in ("/sgx/certification/v4", "/tdx/certification/v4"):
        path = path.removesuffix(suffix)
    return urllib.parse.urlunsplit((parts.scheme, parts.netloc, path, "", ""))


def make_source(kind: str, where: str | None = None) -> Source:
    """A :class:`Source`; ``where`` is a URL (a region name also works for THIM)."""
    if kind == "pcs":
        return Source("pcs", _base_url(where or PCS_URL, "--pcs"))
    if kind == "pccs":
        if not where:
            raise ConfigError("pccs needs the URL of the caching service (pccs:https://host:8081)")
        return Source("pccs", _base_url(where, "pccs"))
    if kind == "thim":
        if not where:
            raise ConfigError("thim needs a URL or an Azure region (thim:useast)")
        if "://" not in where:
            if not where.isascii() or not where.replace("-", "").isalnum():
                raise ConfigError(f"thim: {where!r} is neither a URL nor an Azure region name")
            where = THIM_URL.format(region=where)
        return Source("thim", _base_url(where, "thim"))
    raise ConfigError(f"unknown collateral source {kind!r} (pcs, pccs or thim)")


def parse_source(text: str) -> Source:
    """``pcs``, ``pcs:URL``, ``pccs:URL``, ``thim:URL`` or ``thim:REGION`` (``MIGTD_COLLATERAL_SOURCE``)."""
    kind, _, where = text.strip().partition(":")
    return make_source(kind.strip().lower(), where.strip() or None)


# ------------------------------------------------------------------ the quote's platform

@dataclass(frozen=True)
class Platform:
    """What the collateral is asked for: the PCK's FMSPC and the CA that issued it."""

    fmspc: bytes
    ca: str  # "platform" or "processor"

    @property
    def fmspc_hex(self) -> str:
        return self.fmspc.hex().upper()


def platform_of_quote(quote: bytes) -> Platform:
    """FMSPC and PCK CA type of a TDX quote's PCK certificate (:class:`FormatError` if absent)."""
    from cryptography import x509
    from cryptography.x509.oid import NameOID

    from migtd.attest.quote import parse_quote
    from migtd.attest.sgx_ext import fmspc_of_extension

    q = parse_quote(quote)
    chain = q.cert_data.pck_chain.rstrip(b"\0")
    try:
        leaf = x509.load_pem_x509_certificates(chain)[0]
    except ValueError as exc:
        raise FormatError("quote", "PCK certificate chain", 0, f"does not parse: {exc}") from None
    names = leaf.issuer.get_attributes_for_oid(NameOID.COMMON_NAME)
    issuer = str(names[0].value) if names else ""
    # Intel names them "Intel SGX PCK Platform CA" / "... Processor CA"; a test PKI may prefix its own name.
    ca = next((kind for name, kind in _PCK_CA.items() if issuer.endswith(name.removeprefix("Intel SGX "))), None)
    if ca is None:
        raise FormatError("quote", "PCK certificate issuer", 0,
                          f"{issuer!r} is neither the PCK Platform CA nor the PCK Processor CA")
    try:
        ext = leaf.extensions.get_extension_for_oid(x509.ObjectIdentifier(_SGX_EXTENSION_OID))
    except x509.ExtensionNotFound:
        raise FormatError("quote", "PCK certificate", 0, "has no SGX extension") from None
    value = ext.value.value if isinstance(ext.value, x509.UnrecognizedExtension) else b""
    return Platform(fmspc_of_extension(value), ca)


# ------------------------------------------------------------------ requests

@dataclass(frozen=True)
class Request:
    """One GET: which resource, its URL and the header names its issuer chain may come in."""

    name: str
    url: str
    chain_headers: tuple[str, ...]


def root_crl_url(root_ca_der: bytes) -> str:
    """The CRL distribution point of the trusted root certificate (Intel's: a DER file)."""
    from cryptography import x509

    cert = x509.load_der_x509_certificate(root_ca_der)
    try:
        points = cert.extensions.get_extension_for_class(x509.CRLDistributionPoints).value
    except x509.ExtensionNotFound:
        raise ConfigError("the root CA names no CRL distribution point; give the root CA CRL URL") from None
    for point in points:
        for name in point.full_name or ():
            if isinstance(name, x509.UniformResourceIdentifier):
                return str(name.value)
    raise ConfigError("the root CA's CRL distribution point has no URL; give the root CA CRL URL")


def requests_for(source: Source, platform: Platform, root_ca_der: bytes,
                 root_crl: str | None = None) -> list[Request]:
    """The four GETs for ``platform`` (``root_crl`` overrides where the root CA CRL is read)."""
    if root_crl is None:
        root_crl = (source.url("/sgx/certification/v4/rootcacrl") if source.kind == "pccs"
                    else root_crl_url(root_ca_der))
    query = urllib.parse.urlencode
    return [
        Request(PCK_CRL, source.url("/sgx/certification/v4/pckcrl?" + query({"ca": platform.ca, "encoding": "der"})),
                _CHAIN_HEADERS[PCK_CRL]),
        Request(TCB_INFO, source.url("/tdx/certification/v4/tcb?" + query({"fmspc": platform.fmspc_hex})),
                _CHAIN_HEADERS[TCB_INFO]),
        Request(QE_IDENTITY, source.url("/tdx/certification/v4/qe/identity"), _CHAIN_HEADERS[QE_IDENTITY]),
        Request(ROOT_CA_CRL, root_crl, ()),
    ]


@dataclass(frozen=True)
class Response:
    """What a GET returned; ``headers`` keys are lower-case."""

    status: int
    headers: dict[str, str]
    body: bytes


# ------------------------------------------------------------------ checks and assembly

def _pem(der: bytes, label: str) -> str:
    b64 = base64.b64encode(der).decode("ascii")
    lines = [b64[i:i + 64] for i in range(0, len(b64), 64)]
    return f"-----BEGIN {label}-----\n" + "\n".join(lines) + f"\n-----END {label}-----\n"


def _crl_pem(body: bytes, request: Request) -> str:
    """A CRL body as PEM: PCS sends DER (or PEM), PCCS sends the DER as hex."""
    from cryptography import x509

    data = body.strip()
    try:
        if data.startswith(b"-----BEGIN X509 CRL-----"):
            crl = x509.load_pem_x509_crl(data)
        else:
            if data and all(c in b"0123456789abcdefABCDEF" for c in data):
                data = binascii.unhexlify(data)
            crl = x509.load_der_x509_crl(data)
    except (ValueError, binascii.Error) as exc:
        raise CollateralFetchError("malformed", f"{request.name} from {request.url}: "
                                                f"not a CRL (DER, PEM or hex): {exc}") from None
    from cryptography.hazmat.primitives.serialization import Encoding

    return _pem(crl.public_bytes(Encoding.DER), "X509 CRL")


def _issuer_chain(response: Response, request: Request, root_ca_der: bytes) -> tuple[str, list[Any]]:
    """The URL-decoded issuer chain; it must end at the trusted root, each certificate signed by the next."""
    from cryptography import x509
    from cryptography.hazmat.primitives.serialization import Encoding

    raw = next((response.headers[h.lower()] for h in request.chain_headers if h.lower() in response.headers), None)
    if raw is None:
        raise CollateralFetchError("issuer", f"{request.name} from {request.url}: no "
                                             f"{request.chain_headers[0]} header (issuer chain)")
    text = urllib.parse.unquote(raw)
    try:
        certs = x509.load_pem_x509_certificates(text.encode())
    except ValueError as exc:
        raise CollateralFetchError("issuer", f"{request.name} issuer chain from {request.url} "
                                             f"does not parse: {exc}") from None
    if certs[-1].public_bytes(Encoding.DER) != root_ca_der:
        raise CollateralFetchError("issuer", f"{request.name} issuer chain from {request.url} does not end at "
                                             f"the trusted root CA (it ends at {certs[-1].subject.rfc4514_string()})")
    from cryptography.exceptions import InvalidSignature

    for child, parent in itertools.pairwise(certs):
        try:
            child.verify_directly_issued_by(parent)
        except (InvalidSignature, ValueError, TypeError) as exc:
            raise CollateralFetchError("issuer", f"{request.name} issuer chain from {request.url}: "
                                                 f"{child.subject.rfc4514_string()} is not signed by "
                                                 f"{parent.subject.rfc4514_string()} ({type(exc).__name__})") from None
    return text, certs


def _check_crl_issuer(pem: str, certs: list[Any], request: Request) -> None:
    from cryptography import x509

    crl = x509.load_pem_x509_crl(pem.encode())
    if not crl.is_signature_valid(certs[0].public_key()):
        raise CollateralFetchError("issuer", f"{request.name} from {request.url} is not signed by the first "
                                             f"certificate of its issuer chain ({certs[0].subject.rfc4514_string()})")


def _signed_body(response: Response, request: Request, key: str) -> tuple[str, dict[str, Any]]:
    """The verbatim body (``{"<key>":{...},"signature":"..."}``) and its parsed ``key`` object."""
    from migtd.inputs import InputError, load_json

    try:
        text = response.body.decode("utf-8")
        split_signed_body(text, key)
        doc = load_json(text, f"{request.name} from {request.url}")
    except UnicodeDecodeError:
        raise CollateralFetchError("malformed", f"{request.name} from {request.url}: body is not UTF-8") from None
    except (FormatError, InputError) as exc:
        raise CollateralFetchError("malformed", f"{request.name} from {request.url}: {exc.message}") from None
    return text, doc[key]


def check_status(response: Response, request: Request) -> None:
    """Anything but 200 is an ``http`` failure naming the status and the resource."""
    if response.status != 200:
        hint = " (unknown FMSPC)" if response.status == 404 and request.name == TCB_INFO else ""
        raise CollateralFetchError("http", f"{request.name}: HTTP {response.status} from {request.url}{hint}")


def assemble(requests: list[Request], responses: list[Response], platform: Platform,
             root_ca_der: bytes) -> bytes:
    """Upstream MigTD collateral JSON for ``platform`` from the four answers (in ``requests``' order)."""
    by_name = {r.name: (r, resp) for r, resp in zip(requests, responses, strict=True)}
    for request, response in by_name.values():
        check_status(response, request)

    req, resp = by_name[PCK_CRL]
    pck_chain, pck_certs = _issuer_chain(resp, req, root_ca_der)
    pck_crl = _crl_pem(resp.body, req)
    _check_crl_issuer(pck_crl, pck_certs, req)

    req, resp = by_name[TCB_INFO]
    tcb_chain, _ = _issuer_chain(resp, req, root_ca_der)
    tcb_body, tcb = _signed_body(resp, req, "tcbInfo")
    got = str(tcb.get("fmspc", "")).upper()
    if got != platform.fmspc_hex:
        raise CollateralFetchError("malformed", f"{req.name} from {req.url} is for FMSPC {got or '(none)'}, "
                                                f"not {platform.fmspc_hex}")
    if tcb.get("id") != "TDX":
        raise CollateralFetchError("malformed", f"{req.name} from {req.url} is not TDX TCB info "
                                                f"(id {tcb.get('id')!r})")

    req, resp = by_name[QE_IDENTITY]
    qe_chain, _ = _issuer_chain(resp, req, root_ca_der)
    qe_body, qe = _signed_body(resp, req, "enclaveIdentity")
    if qe.get("id") != "TD_QE":
        raise CollateralFetchError("malformed", f"{req.name} from {req.url} is not the TD QE identity "
                                                f"(id {qe.get('id')!r})")

    req, resp = by_name[ROOT_CA_CRL]
    root_crl = _crl_pem(resp.body, req)
    from cryptography import x509

    _check_crl_issuer(root_crl, [x509.load_der_x509_certificate(root_ca_der)], req)

    doc = {
        "majorVersion": 1, "minorVersion": 0, "teeType": _TDX_TEE_TYPE,
        "rootCa": _pem(root_ca_der, "CERTIFICATE"),
        "pckCrlIssuerChain": pck_chain, "rootCaCrl": root_crl, "pckCrl": pck_crl,
        "platforms": [{"fmspc": platform.fmspc_hex, "tcbInfoIssuerChain": tcb_chain, "tcbInfo": tcb_body}],
        "qeIdentityIssuerChain": qe_chain, "qeIdentity": qe_body,
    }
    data = json.dumps(doc, indent=2).encode() + b"\n"
    Collateral.from_json(data)  # what we write must load the way every reader loads it
    return data


def next_update(collateral: Collateral) -> datetime:
    """The earliest ``nextUpdate`` of the TCB infos, QE identity and CRLs: when to fetch again."""
    from cryptography import x509

    from migtd.attest.collateral import parse_time
    from migtd.inputs import load_json

    times = []
    for p in collateral.platforms:
        body, _ = split_signed_body(p.tcb_info, "tcbInfo")
        times.append(parse_time(load_json(body, "tcbInfo").get("nextUpdate"), "tcbInfo.nextUpdate"))
    body, _ = split_signed_body(collateral.qe_identity, "enclaveIdentity")
    times.append(parse_time(load_json(body, "enclaveIdentity").get("nextUpdate"), "enclaveIdentity.nextUpdate"))
    for pem in (collateral.pck_crl, collateral.root_ca_crl):
        when = x509.load_pem_x509_crl(pem.encode()).next_update_utc
        if when is not None:
            times.append(when)
    return min(times) if times else datetime.min.replace(tzinfo=UTC)

