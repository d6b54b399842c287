"""Which root CA and collateral a mock-report MigTD verifies peers against.

* With ``MOCK_QUOTE_FILE`` (upstream mock-report, typically a real Azure quote)
  the peer's quote is Intel-signed, so ``MIGTD_ROOT_CA_FILE`` and
  ``MIGTD_COLLATERAL_FILE`` must name the Intel root and matching collateral.
* Otherwise the peer's quote comes from the mock QE, and the committed mock PKI
  (``config/mock``) is the default; either variable still overrides it.
* ``MIGTD_COLLATERAL_SOURCE`` (``pcs``, ``pccs:URL``, ``thim:URL``), used when
  ``MIGTD_COLLATERAL_FILE`` is unset, fetches collateral for each quote's
  platform instead (:mod:`migtd.attest.pcs_fetch`).

Missing or unreadable files, and a root CA that is neither a DER nor a PEM
certificate, are configuration errors (exit 1), reported before any connection
is made.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path

from migtd import paths
from migtd.attest.collateral import Collateral, load_collateral
from migtd.errors import ConfigError, FormatError


@dataclass(frozen=True)
class TrustAnchors:
    """What a peer's quote is verified against: a DER root CA and its collateral."""

    root_ca_der: bytes
    collateral: Collateral | None
    #: With MIGTD_COLLATERAL_SOURCE: fetches the collateral for a quote's platform.
    fetch: Callable[[bytes], Collateral] | None = None

    def collateral_for(self, quote: bytes) -> Collateral:
        """The collateral to verify ``quote`` against: the loaded file's, or fetched for its platform."""
        if self.fetch is not None:
            return self.fetch(quote)
        assert self.collateral is not None
        return self.collateral


def der_certificate(data: bytes, what: str) -> bytes:
    """``data`` as DER, accepting PEM; a file that is neither is a configuration error."""
    from cryptography import x509
    from cryptography.hazmat.primitives.serialization import Encoding

    try:
        if data.lstrip().startswith(b"-----BEGIN"):
            return x509.load_pem_x509_certificate(data).public_bytes(Encoding.DER)
        x509.load_der_x509_certificate(data)
        return bytes(data)
    except (ValueError, x509.InvalidVersion) as exc:
        raise ConfigError(f"{what} is not an X.509 certificate: {exc}") from None


def load_trust(env: Mapping[str, str] | None = None) -> TrustAnchors:
    """Read the root CA (as DER) and collateral chosen by the environment (see module doc)."""
    env = os.environ if env is None else env
    upstream = bool(env.get("MOCK_QUOTE_FILE"))
    root = env.get("MIGTD_ROOT_CA_FILE")
    coll = env.get("MIGTD_COLLATERAL_FILE")
    if upstream and not root:
        raise ConfigError("MOCK_QUOTE_FILE is set: MIGTD_ROOT_CA_FILE must name the root CA of that quote")
    source = None if coll else env.get("MIGTD_COLLATERAL_SOURCE")
    if upstream and not coll and not source:
        raise ConfigError("MOCK_QUOTE_FILE is set: MIGTD_COLLATERAL_FILE must name its collateral "
                          "(or MIGTD_COLLATERAL_SOURCE where to fetch it)")
    root_path = Path(root) if root else paths.mock_root_ca()
    coll_path = Path(coll) if coll else paths.mock_collateral()
    try:
        root_der = root_path.read_bytes()
    except OSError as exc:
        raise ConfigError(f"cannot read root CA file {root_path}: {exc.strerror or exc}") from None
    if source:
        from migtd.attest.pcs_fetch import collateral_fetcher

        root_ca = der_certificate(root_der, f"root CA file {root_path}")
        return TrustAnchors(root_ca, None, collateral_fetcher(env, root_ca))
    try:
        collateral = load_collateral(coll_path)
    except FormatError as exc:  # a malformed file is a configuration problem here
        raise ConfigError(f"collateral file {coll_path}: {exc}") from None
    return TrustAnchors(der_certificate(root_der, f"root CA file {root_path}"), collateral)
