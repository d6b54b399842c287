"""initMigtdData: the initial MigTD's TDINFO_STRUCT, which the VMM may hand a policy-v2 MigTD.

GHCI 1.5 lets the VMM append, to the 56-byte MigtdMigrationInformation of a
StartMigration or StartRebinding request, the 512-byte TDINFO_STRUCT of the
MigTD first bound to the target TD, and set ``has_init_data`` (protocol.md
§2.3). It is the raw structure, no envelope (TDINFO layout: attributes 0..8,
xfam 8..16, mrtd 16..64, mrconfigid 64..112, mrowner 112..160, mrownerconfig
160..208, rtmr0..3 208..400, servtd_hash 400..448, reserved 448..512).

What MigTD does with it (policy.md §3.9.3, upstream ``exchange_msk`` and
``start_rebinding``): before anything else, ``verify_init_migtd_data_policy_binding``
— the init MROWNER must be our policy signer's key hash, the init
MROWNERCONFIG a policy SVN (u32 LE, then 44 zero bytes) not above ours —
and any failure is PolicyUnsatisfiedError (8). An old MigTD that is rebinding
presents it, instead of its own TDINFO, as the init TDINFO of its certificate.

Upstream's emulator never supplies it. MigTD-Py's emulated VMM does when
``--init-migtd-data FILE`` (or ``MIGTD_INIT_MIGTD_DATA_FILE``) names a file
holding those 512 bytes; ``migtd-tool init-data`` writes one. Pure functions
plus :func:`load`, which reads the file through :mod:`migtd.inputs`.
"""

from __future__ import annotations

import os
import struct

from migtd.errors import ConfigError

#: Size of initMigtdData: one TDINFO_STRUCT.
INIT_MIGTD_DATA_SIZE = 512
#: The environment twin of ``--init-migtd-data``.
ENV_VAR = "MIGTD_INIT_MIGTD_DATA_FILE"
#: How messages name the file.
LABEL = "init MigTD data file"
MROWNER = slice(112, 160)
MROWNERCONFIG = slice(160, 208)


def load(path: str | os.PathLike[str]) -> bytes:
    """The file's 512 bytes; anything else (missing, not a regular file, another size) is one line, exit 1."""
    from migtd.inputs import read_input

    data = read_input(path, LABEL, limit=INIT_MIGTD_DATA_SIZE)
    if len(data) != INIT_MIGTD_DATA_SIZE:
        raise ConfigError(f"{LABEL} {os.fspath(path)} is {len(data)} bytes; initMigtdData is a "
                          f"{INIT_MIGTD_DATA_SIZE}-byte TDINFO_STRUCT")
    return data


def owner_config(policy_svn: int) -> bytes:
    """MROWNERCONFIG as a VMM provisions it for a policy v2: the policy SVN (u32 LE), then 44 zero bytes."""
    return struct.pack("<I", policy_svn) + bytes(44)


def build(tdinfo: bytes, *, mrowner: bytes, mrownerconfig: bytes) -> bytes:
    """``tdinfo`` (512 bytes) with MROWNER and MROWNERCONFIG replaced: the init MigTD a VMM recorded."""
    if len(tdinfo) != INIT_MIGTD_DATA_SIZE or len(mrowner) != 48 or len(mrownerconfig) != 48:
        raise ValueError("TDINFO is 512 bytes, MROWNER and MROWNERCONFIG 48 bytes each")
    out = bytearray(tdinfo)
    out[MROWNER] = mrowner
    out[MROWNERCONFIG] = mrownerconfig
    return bytes(out)


def provisioned_owner(policy: bytes, issuer_chain: bytes) -> tuple[bytes, bytes] | None:
    """MROWNER and MROWNERCONFIG a VMM provisions for a MigTD running this signed policy v2.

    GHCI 1.5 (policy.md §3.9.1): MROWNER is SHA-384 of the policy signer's
    public key, MROWNERCONFIG the policy SVN. The project's mock-qe TD carries
    them with policy v2, so that its own TDINFO is bound to its policy like a
    real MigTD's, and the init TDINFO of a rebinding can name the same owner.
    None when the policy or chain cannot be read; the start-up verification of
    the policy then reports why (9).
    """
    from migtd.policy.errors import PolicyError
    from migtd.policy.v2.chain import ChainError, signer_key_hash
    from migtd.policy.v2.container import parse_container

    try:
        svn = parse_container(policy, "policyData").value.get("policySvn")
        owner = signer_key_hash(issuer_chain)
    except (PolicyError, ChainError, AttributeError, ValueError):
        return None
    if not isinstance(svn, int) or isinstance(svn, bool) or not 0 <= svn < 1 << 32:
        return None
    return owner, owner_config(svn)


def describe(data: bytes) -> str:
    """One line for logs: the init MigTD's policy SVN and the start of its MROWNER and MRTD."""
    svn = int.from_bytes(data[160:164], "little")
    return f"init MROWNER {data[MROWNER].hex()[:16]}..., policy SVN {svn}, MRTD {data[16:64].hex()[:16]}..."
