"""What a peer's quote is verified against: a DER root CA and its collateral.

Which files those are, and their defaults, is a property of the attestation
mode (:mod:`migtd.modes`); this module only reads and checks them. Missing
or unreadable files, a root CA that is neither a DER nor a PEM certificate,
and a malformed collateral document are configuration errors (exit 1),
reported at start-up, before any connection is made.

``MIGTD_COLLATERAL_SOURCE`` (``pcs``, ``pccs:URL``, ``thim:URL``), used when
``MIGTD_COLLATERAL_FILE`` is unset, fetches collateral for each quote's
platform instead (:mod:`migtd.attest.pcs_fetch`): the anchors then carry a
``fetch`` callable and no collateral, and :meth:`TrustAnchors.collateral_for`
is what verifiers pass to ``verify_quote``.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping
from typing import NamedTuple

from migtd.attest.collateral import Collateral
from migtd.errors import ConfigError, FormatError
from migtd.inputs import check_json_depth, read_input

#: Upstream's firmware-volume limit for the root CA (protocol.md §1.4).
ROOT_CA_MAX = 4096
#: Collateral documents (several TCB infos, CRLs and chains) stay far below this.
COLLATERAL_MAX = 4 * 1024 * 1024


class TrustAnchors(NamedTuple):
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


def parse_collateral(data: bytes, name: str) -> Collateral:
    """A collateral document read from a file (``name`` says which); malformed → ConfigError (exit 1).

    The TCB infos and the QE identity are JSON documents held in strings,
    which the verifier decodes only when it judges a quote: their depth is
    bounded here too, so a 100 000-level array hidden in one is this file's
    one-line error at start-up, not a failed verification of every peer.
    ``migtd`` and ``migtd-tool`` both read collateral files through this.
    """
    check_json_depth(data, name)
    try:
        collateral = Collateral.from_json(data)
    except FormatError as exc:  # a malformed file is a configuration problem here
        raise ConfigError(f"{name}: {exc}") from None
    for i, platform in enumerate(collateral.platforms):
        check_json_depth(platform.tcb_info, f"{name}: platforms[{i}].tcbInfo")
    check_json_depth(collateral.qe_identity, f"{name}: qeIdentity")
    return collateral


def read_collateral(path: str | os.PathLike[str]) -> Collateral:
    """A collateral JSON file (upstream format), bounded in size and depth; malformed → ConfigError."""
    data = read_input(path, "collateral file", limit=COLLATERAL_MAX)
    return parse_collateral(data, f"collateral file {os.fspath(path)}")


def load_anchors(root_ca: str | os.PathLike[str], collateral: str | os.PathLike[str] | None,
                 env: Mapping[str, str] | None = None) -> TrustAnchors:
    """Read the root CA (as DER) and the collateral named by the mode's trust inputs.

    ``collateral`` None means the mode resolved ``MIGTD_COLLATERAL_SOURCE``
    in its place: the anchors then fetch collateral per quote platform from
    the source ``env`` names (a malformed source is a ConfigError here).
    """
    root_der = der_certificate(read_input(root_ca, "root CA file", limit=ROOT_CA_MAX),
                               f"root CA file {os.fspath(root_ca)}")
    if collateral is not None:
        return TrustAnchors(root_der, read_collateral(collateral))
    from migtd.attest.pcs_fetch import collateral_fetcher

    fetch = collateral_fetcher(env or {}, root_der)
    if fetch is None:
        raise ConfigError("neither MIGTD_COLLATERAL_FILE nor MIGTD_COLLATERAL_SOURCE names the collateral")
    return TrustAnchors(root_der, None, fetch)
