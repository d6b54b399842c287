"""Evidence files: what one host's MigTD would present, captured once, judged later.

A MigTD proves itself to a peer with two things in its RA-TLS certificate: a
TD quote and the CCEL event log it measured at start-up. Everything the
compatibility matrix needs from a host is therefore that pair, plus enough
description to know what was measured (policy version, digests of the policy
and of the root CA or issuer chain) and when. :class:`Evidence` holds it and
serialises to one JSON document (``docs/fleet.md`` "Evidence file" is the
format's reference):

* self-describing: ``format`` names the document, ``format_version`` its
  layout, binary fields say their encoding and carry their SHA-256, so a
  truncated or edited blob is refused rather than judged;
* public only: quote, event log, digests and names. The event log holds what
  a peer sees anyway (a v1 policy and root CA, or a v2 issuer chain). A
  private key can never be in it: collection refuses inputs that contain one.

Parsing is strict about types and sizes, because evidence arrives from other
machines: every problem is one :class:`EvidenceError` line naming the file and
the field.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
import re
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from migtd.inputs import InputError, load_json, read_input

FORMAT = "migtd-evidence"
FORMAT_VERSION = 1
#: Largest evidence file accepted: a 1 MiB v1 policy inside the event log, base64-encoded, plus the rest.
MAX_FILE = 4 * 1024 * 1024
#: Largest quote accepted (IMDS answers are capped at 1 MiB; real TDX quotes are about 5 KiB).
MAX_QUOTE = 1024 * 1024
#: Largest event log accepted (a MigTD's log holds its policy: at most 1 MiB, plus certificates).
MAX_EVENT_LOG = 2 * 1024 * 1024
#: Longest host name (DNS limit).
MAX_HOST = 253
#: Marker every PEM private key carries (PKCS#1, PKCS#8, SEC1, OpenSSH).
PRIVATE_KEY_MARKER = re.compile(rb"-----BEGIN [A-Z0-9 ]*PRIVATE KEY-----")

_ISO = "%Y-%m-%dT%H:%M:%SZ"
_ISO_RE = re.compile(r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}Z")
_HEX_RE = re.compile(r"[0-9A-F]*")
_HOST_RE = re.compile(r"[\x21-\x7e]+")


class EvidenceError(InputError):
    """An evidence document is unusable (exit 1); the message names the file and the field."""


def iso(dt: datetime) -> str:
    """``dt`` as ``YYYY-MM-DDTHH:MM:SSZ`` (UTC, whole seconds)."""
    return dt.astimezone(UTC).strftime(_ISO)


def parse_iso(text: str) -> datetime:
    """The inverse of :func:`iso`; ValueError for anything else."""
    if not _ISO_RE.fullmatch(text):
        raise ValueError(f"{text!r} is not YYYY-MM-DDTHH:MM:SSZ")
    return datetime.strptime(text, _ISO).replace(tzinfo=UTC)


def valid_host_name(name: str) -> bool:
    """Printable ASCII without spaces, at most 253 characters (what inventories and DNS allow)."""
    return 0 < len(name) <= MAX_HOST and bool(_HOST_RE.fullmatch(name))


@dataclass(frozen=True)
class FileDigest:
    """SHA-384 and size of a configuration file (SHA-384: the digest MigTD measures it with)."""

    sha384: bytes
    size: int

    @classmethod
    def of(cls, data: bytes) -> FileDigest:
        return cls(hashlib.sha384(data).digest(), len(data))

    def to_json(self) -> dict[str, Any]:
        return {"sha384": self.sha384.hex().upper(), "size": self.size}


@dataclass(frozen=True)
class Evidence:
    """One host's evidence (see module doc); ``to_json``/``from_json`` are exact inverses."""

    host: str
    collected_at: datetime
    tool: str
    attestation: str          # the mode collected in: azure, mock-report, skip-ra
    quote_source: str         # the provider's name: azure-imds, mock-qe, mock-quote-file, skip-ra
    report_data: bytes        # the 64 bytes asked for in the TD report (see docs/fleet.md)
    quote: bytes
    event_log: bytes
    policy_version: int
    policy: FileDigest
    root_ca: FileDigest | None = None       # policy v1
    issuer_chain: FileDigest | None = None  # policy v2

    def to_dict(self) -> dict[str, Any]:
        """The JSON document as a dict (field order is the documented one)."""
        return {
            "format": FORMAT,
            "format_version": FORMAT_VERSION,
            "host": self.host,
            "collected_at": iso(self.collected_at),
            "tool": self.tool,
            "attestation": self.attestation,
            "quote_source": self.quote_source,
            "report_data": self.report_data.hex().upper(),
            "quote": _blob(self.quote),
            "event_log": _blob(self.event_log),
            "policy": {"version": self.policy_version, **self.policy.to_json()},
            "root_ca": self.root_ca.to_json() if self.root_ca else None,
            "issuer_chain": self.issuer_chain.to_json() if self.issuer_chain else None,
        }

    def to_json(self) -> bytes:
        """UTF-8 JSON, indented, ending in a newline."""
        return (json.dumps(self.to_dict(), indent=2) + "\n").encode("utf-8")

    @classmethod
    def from_json(cls, data: bytes | str, what: str = "evidence") -> Evidence:
        """Parse and check a document; one :class:`EvidenceError` line per problem."""
        try:
            doc = load_json(data, what)
        except InputError as exc:
            raise EvidenceError(exc.message) from None
        return cls.from_dict(doc, what)

    @classmethod
    def from_dict(cls, doc: Any, what: str = "evidence") -> Evidence:
        """Check an already-parsed document (types, sizes, digests)."""
        f = _Fields(doc, what)
        fmt = f.string("format")
        if fmt != FORMAT:
            raise EvidenceError(f"{what}: format is {fmt[:40]!r}, not {FORMAT!r}")
        version = f.integer("format_version")
        if version != FORMAT_VERSION:
            raise EvidenceError(f"{what}: format_version {version} is not supported (this tool reads "
                                f"{FORMAT_VERSION})")
        host = f.string("host")
        if not valid_host_name(host):
            raise EvidenceError(f"{what}: host is not a host name (printable ASCII, no spaces, "
                                f"at most {MAX_HOST} characters)")
        try:
            collected = parse_iso(f.string("collected_at"))
        except ValueError as exc:
            raise EvidenceError(f"{what}: collected_at: {exc}") from None
        report_data = f.hex("report_data")
        if len(report_data) != 64:
            raise EvidenceError(f"{what}: report_data is {len(report_data)} bytes, not 64")
        policy = f.object("policy")
        policy_version = _Fields(policy, what, "policy.").integer("version")
        if policy_version not in (1, 2):
            raise EvidenceError(f"{what}: policy.version is {policy_version}, not 1 or 2")
        return cls(
            host=host, collected_at=collected, tool=f.string("tool", limit=200),
            attestation=f.string("attestation", limit=64), quote_source=f.string("quote_source", limit=64),
            report_data=report_data, quote=f.blob("quote", MAX_QUOTE), event_log=f.blob("event_log", MAX_EVENT_LOG),
            policy_version=policy_version, policy=f.digest("policy"),
            root_ca=f.optional_digest("root_ca"), issuer_chain=f.optional_digest("issuer_chain"),
        )

    @property
    def quote_sha256(self) -> str:
        """SHA-256 of the quote, hex upper-case (names a quote in caches and output)."""
        return hashlib.sha256(self.quote).hexdigest().upper()


def _blob(data: bytes) -> dict[str, Any]:
    return {"encoding": "base64", "size": len(data), "sha256": hashlib.sha256(data).hexdigest().upper(),
            "data": base64.b64encode(data).decode("ascii")}


class _Fields:
    """Typed access to one JSON object, with errors naming ``what`` and the field path."""

    def __init__(self, doc: Any, what: str, prefix: str = "") -> None:
        if not isinstance(doc, dict):
            where = prefix.rstrip(".") or "the document"
            raise EvidenceError(f"{what}: {where} is not a JSON object")
        self.doc = doc
        self.what = what
        self.prefix = prefix

    def _get(self, key: str) -> Any:
        if key not in self.doc:
            raise EvidenceError(f"{self.what}: {self.prefix}{key} is missing")
        return self.doc[key]

    def _bad(self, key: str, want: str) -> EvidenceError:
        return EvidenceError(f"{self.what}: {self.prefix}{key} is not {want}")

    def string(self, key: str, *, limit: int = MAX_HOST) -> str:
        value = self._get(key)
        if not isinstance(value, str):
            raise self._bad(key, "a string")
        if len(value) > limit:
            raise EvidenceError(f"{self.what}: {self.prefix}{key} is longer than {limit} characters")
        return value

    def integer(self, key: str) -> int:
        value = self._get(key)
        if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value < 2**32:
            raise self._bad(key, "an integer from 0 to 2^32-1")
        return value

    def object(self, key: str) -> dict[str, Any]:
        value = self._get(key)
        if not isinstance(value, dict):
            raise self._bad(key, "a JSON object")
        return value

    def hex(self, key: str, *, limit: int = 4096) -> bytes:
        text = self.string(key, limit=limit)
        if len(text) % 2 or not _HEX_RE.fullmatch(text):
            raise self._bad(key, "upper-case hex")
        return bytes.fromhex(text)

    def blob(self, key: str, limit: int) -> bytes:
        f = _Fields(self.object(key), self.what, f"{self.prefix}{key}.")
        if f.string("encoding") != "base64":
            raise EvidenceError(f"{self.what}: {self.prefix}{key}.encoding is not \"base64\"")
        size = f.integer("size")
        if size > limit:
            raise EvidenceError(f"{self.what}: {self.prefix}{key} is {size} bytes, above the {limit}-byte limit")
        text = f.string("data", limit=(limit + 2) // 3 * 4)
        try:
            data = base64.b64decode(text, validate=True)
        except (binascii.Error, ValueError):
            raise EvidenceError(f"{self.what}: {self.prefix}{key}.data is not base64") from None
        if len(data) != size:
            raise EvidenceError(f"{self.what}: {self.prefix}{key} is {len(data)} bytes, its size says {size}")
        digest = f.hex("sha256", limit=64)
        if hashlib.sha256(data).digest() != digest:
            raise EvidenceError(f"{self.what}: {self.prefix}{key} does not match its sha256 (damaged or edited)")
        return data

    def digest(self, key: str) -> FileDigest:
        return self._digest(self._get(key), key)

    def optional_digest(self, key: str) -> FileDigest | None:
        value = self._get(key)
        return None if value is None else self._digest(value, key)

    def _digest(self, value: Any, key: str) -> FileDigest:
        f = _Fields(value, self.what, f"{self.prefix}{key}.")
        sha = f.hex("sha384", limit=96)
        if len(sha) != 48:
            raise EvidenceError(f"{self.what}: {self.prefix}{key}.sha384 is not 48 bytes")
        return FileDigest(sha, f.integer("size"))


def load_evidence(path: str | Path) -> Evidence:
    """Read and check one evidence file (regular file, at most :data:`MAX_FILE` bytes)."""
    try:
        data = read_input(path, "evidence file", limit=MAX_FILE)
    except InputError as exc:
        raise EvidenceError(exc.message) from None
    return Evidence.from_json(data, f"evidence file {path}")


def contains_private_key(data: bytes) -> bool:
    """True when ``data`` holds a PEM private key (any flavour)."""
    return PRIVATE_KEY_MARKER.search(data) is not None


def now_utc() -> datetime:
    """The current time, UTC, whole seconds (what ``collected_at`` records)."""
    return datetime.now(UTC).replace(microsecond=0)


def report_data_for(host: str, collected_at: datetime) -> bytes:
    """REPORTDATA asked for when collecting: SHA-384 over the host name and time, then 16 zero bytes.

    A MigTD binds its TLS key there; evidence has no TLS key, so it binds what
    the file claims instead (host and time). With the mock QE the quote then
    carries it; on Azure the paravisor puts SHA-256 of its runtime claims in
    REPORTDATA whatever was asked (attestation.md §7), and the value is only
    recorded.
    """
    return hashlib.sha384(f"{FORMAT}/{FORMAT_VERSION}\n{host}\n{iso(collected_at)}".encode()).digest() + bytes(16)
