"""What a peer's quote is verified against: a DER root CA and its collateral.

Which files those are, and their defaults, is a property of the attestation
mode (:mod:`migtd.modes`); this module only reads and checks them. Missing
or unreadable files, a root CA that is neither a DER nor a PEM certificate,
and a malformed collateral document are configuration errors (exit 1),
reported at start-up, before any connection is made.
"""

from __future__ import annotations

import os
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
    collateral: Collateral


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


def read_collateral(path: str | os.PathLike[str]) -> Collateral:
    """A collateral JSON file (upstream format), bounded in size and depth; malformed → ConfigError."""
    data = read_input(path, "collateral file", limit=COLLATERAL_MAX)
    check_json_depth(data, f"collateral file {os.fspath(path)}")
    try:
        return Collateral.from_json(data)
    except FormatError as exc:  # a malformed file is a configuration problem here
        raise ConfigError(f"collateral file {os.fspath(path)}: {exc}") from None


def load_anchors(root_ca: str | os.PathLike[str], collateral: str | os.PathLike[str]) -> TrustAnchors:
    """Read the root CA (as DER) and the collateral named by the mode's trust inputs."""
    root_der = read_input(root_ca, "root CA file", limit=ROOT_CA_MAX)
    return TrustAnchors(der_certificate(root_der, f"root CA file {os.fspath(root_ca)}"), read_collateral(collateral))
