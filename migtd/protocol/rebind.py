"""The rebinding token step (protocol.md §7), with no I/O.

After the TLS handshake the old MigTD (TLS client) sends 32 random bytes,
the rebinding session token, as application data; the new MigTD (server)
reads exactly 32 and records them with SHA-384 of the old MigTD's SERVTD_EXT.
The driver moves the bytes and writes the TDCS fields (:mod:`migtd.emu.rebind`);
this module says what is sent and what a received token must come with.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from typing import NamedTuple

from migtd.emu.rebind import SERVTD_EXT_SIZE, TOKEN_SIZE
from migtd.errors import MigtdError
from migtd.result import MigrationResult


def new_token(random: Callable[[int], bytes] = os.urandom) -> bytes:
    """The old MigTD's token: 32 fresh random bytes."""
    return random(TOKEN_SIZE)


class Accepted(NamedTuple):
    """What the new MigTD records: the token and the old MigTD's SERVTD_EXT."""

    token: bytes
    servtd_ext: bytes

    def __repr__(self) -> str:  # the token is a session secret
        return f"Accepted(token=<{len(self.token)} bytes>, servtd_ext=<{len(self.servtd_ext)} bytes>)"


def accept(token: bytes, servtd_ext: bytes | None) -> Accepted:
    """The new MigTD's side: a 32-byte token and a 272-byte SERVTD_EXT, else InvalidParameter."""
    if len(token) != TOKEN_SIZE:
        raise MigtdError(f"rebinding token is {len(token)} bytes, expected {TOKEN_SIZE}",
                         MigrationResult.InvalidParameter)
    if servtd_ext is None or len(servtd_ext) != SERVTD_EXT_SIZE:
        raise MigtdError("peer SERVTD_EXT is missing or not 272 bytes", MigrationResult.InvalidParameter)
    return Accepted(token, servtd_ext)
