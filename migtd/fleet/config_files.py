"""The configuration files a MigTD runs with, read and judged the way ``migtd`` judges them.

Evidence collection measures them and the compatibility matrix evaluates
them, so both read them here: through :mod:`migtd.inputs` (regular file,
size limit), with the engine's own size limits, refusing anything that holds a
private key (evidence is shipped between machines), and checking the policy
as ``migtd`` does at start-up — a v1 policy must parse, a v2 policy must
verify against its issuer chain — so a broken policy is one line and exit 9,
not a matrix of refusals.
"""

from __future__ import annotations

import functools
import hashlib
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from migtd.errors import ConfigError, MigtdError
from migtd.fleet.evidence import contains_private_key
from migtd.inputs import InputError, load_json, read_input
from migtd.result import MigrationResult

if TYPE_CHECKING:
    from migtd.attest.collateral import Collateral
    from migtd.policy.v2.verify import VerifiedPolicy

#: The engine's limits on its configuration files (``migtd/cli/config.py``, protocol.md §1.4).
POLICY_MAX = 1024 * 1024
ROOT_CA_MAX = 4096
ISSUER_CHAIN_MAX = 8192
COLLATERAL_MAX = 4 * 1024 * 1024   # migtd/attest/trust.py


def read_config(path: str | Path, what: str, limit: int) -> bytes:
    """A configuration file's bytes; a file holding a private key is refused (one line, exit 1)."""
    data = read_input(path, what, limit=limit)
    if contains_private_key(data):
        raise InputError(f"{what} {path} contains a private key; refusing to read it as a {what}")
    return data


def looks_like_v2(policy: bytes) -> bool:
    """True for a signed v2 container (``{"policyData": ..., "signature": ...}``)."""
    try:
        doc = load_json(policy.strip(b"\0"), "policy")
    except InputError:
        return False
    return isinstance(doc, dict) and "policyData" in doc


def root_ca_der(data: bytes, what: str) -> bytes:
    """``data`` (a DER or PEM certificate) as DER; anything else is a one-line ConfigError."""
    from cryptography import x509
    from cryptography.hazmat.primitives.serialization import Encoding

    try:
        if data.lstrip().startswith(b"-----BEGIN"):
            return x509.load_pem_x509_certificate(data).public_bytes(Encoding.DER)
        return x509.load_der_x509_certificate(data).public_bytes(Encoding.DER)
    except (ValueError, x509.InvalidVersion) as exc:
        raise ConfigError(f"{what} is not an X.509 certificate ({exc})") from None


def check_issuer_chain(data: bytes, what: str) -> None:
    """An issuer chain must be PEM certificates (the v2 engine reads nothing else)."""
    from cryptography import x509

    try:
        certs = x509.load_pem_x509_certificates(data)
    except (ValueError, x509.InvalidVersion) as exc:
        raise ConfigError(f"{what} is not a PEM certificate chain ({exc})") from None
    if not certs:
        raise ConfigError(f"{what} holds no certificate")


@dataclass(frozen=True)
class PolicySpec:
    """A migration policy as one side runs it: version, the file's bytes, and (v2) its issuer chain.

    ``label`` names it in output (usually the file name). Construct with
    :func:`load_policy_spec` or :meth:`checked`, which refuse a policy that
    ``migtd`` would refuse at start-up.
    """

    version: int
    policy: bytes
    issuer_chain: bytes = b""
    label: str = ""

    @functools.cached_property
    def sha384(self) -> bytes:
        """SHA-384 of the policy file: the digest a MigTD running it measures (tag 1)."""
        return hashlib.sha384(self.policy).digest()

    @functools.cached_property
    def key(self) -> tuple[int, bytes, bytes]:
        """Identity of the spec for caches: version, SHA-384 of the policy and of the issuer chain."""
        return (self.version, self.sha384, hashlib.sha384(self.issuer_chain).digest())

    @property
    def short(self) -> str:
        """First 8 hex digits of :attr:`sha384`, for tables."""
        return self.sha384.hex().upper()[:8]

    def verified(self) -> VerifiedPolicy:
        """The v2 policy verified against its chain (cached per content)."""
        return _verified_v2(self.policy, self.issuer_chain)

    def checked(self) -> PolicySpec:
        """``self`` after the start-up checks; PolicyError (exit 9) when ``migtd`` would refuse it."""
        # No depth check of our own here: the policy engines bound JSON depth themselves, and a
        # policy nested too deep is InvalidPolicy (9) for them, as for ``migtd`` and ``migtd-tool``.
        if self.version == 1:
            from migtd.policy.v1 import load_v1

            try:
                load_v1(self.policy)
            except MigtdError as exc:
                raise MigtdError(f"policy {self.label}: {exc.message}", MigrationResult.InvalidPolicyError) from None
        elif self.version == 2:
            try:
                self.verified()
            except MigtdError as exc:
                raise MigtdError(f"policy {self.label} does not verify against its issuer chain: {exc.message}",
                                 MigrationResult.InvalidPolicyError) from None
        else:
            raise ConfigError(f"policy {self.label}: version {self.version} is not 1 or 2")
        return self


@functools.lru_cache(maxsize=16)
def _verified_v2(policy: bytes, chain: bytes) -> VerifiedPolicy:
    """The start-up check ``migtd`` makes of its own v2 policy (embedded root CA included)."""
    from migtd.policy.v2 import verify_own_policy

    return verify_own_policy(policy, chain)


def load_policy_spec(policy: str | Path, issuer_chain: str | Path | None = None, *,
                     version: int | None = None) -> PolicySpec:
    """Read a policy (and, for v2, its chain) and check it like ``migtd`` at start-up.

    The version is ``version`` when given, else 2 when an issuer chain is
    given or the file is a signed container, else 1.
    """
    data = read_config(policy, "policy file", POLICY_MAX)
    chain = read_config(issuer_chain, "issuer chain file", ISSUER_CHAIN_MAX) if issuer_chain else b""
    if version is None:
        version = 2 if issuer_chain or looks_like_v2(data) else 1
    if version == 2 and not chain:
        raise ConfigError(f"policy {policy} is a v2 policy: give its issuer chain (--issuer-chain)")
    if version == 1 and chain:
        raise ConfigError("an issuer chain is for policy v2, but the policy is v1")
    if chain:
        check_issuer_chain(chain, f"issuer chain file {issuer_chain}")
    return PolicySpec(version, data, chain, Path(policy).name).checked()


def load_collateral_file(path: str | Path) -> Collateral:
    """Collateral JSON (upstream format) read as ``migtd`` reads ``MIGTD_COLLATERAL_FILE``
    (:func:`migtd.attest.trust.read_collateral`: size, depth, embedded documents); malformed is one line, exit 1."""
    from migtd.attest.trust import read_collateral

    return read_collateral(path)
