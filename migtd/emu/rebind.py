"""Rebinding state in the emulated TDCS: SERVTD_EXT, the approve/accept token (protocol.md §7).

At queue time the emulator fills the service-TD fields of ``(binding, uuid)``
from the local TD report; the old MigTD (rebinding source) packs them into the
272-byte SERVTD_EXT it puts in its certificate, and the new MigTD (rebinding
destination) records the session token, the peer's current attributes and a
hash of the peer's SERVTD_EXT. Pure functions over a :class:`FieldStore`.
"""

from __future__ import annotations

import hashlib
import struct

from migtd.emu.tdcs import SERVTD_ATTR, FieldStore, Uuid

SERVTD_INIT_SERVTD_INFO_HASH = 0x191000030000020E
SERVTD_INIT_ATTR = 0x191000030000020D
INIT_CPUSVN = 0x1110000300000060
INIT_TEE_TCB_SVN = 0x1110000300000062
INIT_TEE_MODEL = 0x1110000200000064
SERVTD_INFO_HASH = 0x1910000300000207
SERVTD_REBIND_ACCEPT_TOKEN = 0x191000030000021E
SERVTD_REBIND_ATTR = 0x1910000300000222
SERVTD_ACCEPT_SERVTD_EXT_HASH = 0x1910000300000214

SERVTD_EXT_SIZE = 272
TOKEN_SIZE = 32
_CUR_HASH = slice(112, 160)
_CUR_ATTR = slice(160, 168)


def servtd_info_hash(tdinfo: bytes, servtd_type: int = 0, attr: int = 0) -> bytes:
    """``SHA-384(SHA-384(TDINFO) ‖ type u16 ‖ attr u64)``, what the emulator stores (§7)."""
    return hashlib.sha384(hashlib.sha384(tdinfo).digest() + struct.pack("<HQ", servtd_type, attr)).digest()


def populate_servtd_fields(store: FieldStore, bh: int, uuid: Uuid, td_report: bytes,
                           init_tdinfo: bytes | None = None) -> None:
    """Emulator set-up for a rebind request: the init/current service-TD fields from a TDREPORT.

    ``init_tdinfo`` is the initMigtdData the VMM hands over, if any: the TDINFO
    of the MigTD first bound to the target TD, so it is what the TDX module
    recorded in SERVTD_INIT_SERVTD_INFO_HASH (the old MigTD then presents it as
    its init TDINFO, and the hashes agree, as they do on hardware). Without
    it, the local TD stands in for the init MigTD, as in upstream's emulator.
    """
    if len(td_report) != 1024:
        raise ValueError("a TDREPORT is 1024 bytes")
    if init_tdinfo is not None and len(init_tdinfo) != 512:
        raise ValueError("a TDINFO_STRUCT is 512 bytes")
    info_hash = servtd_info_hash(td_report[512:1024])
    init_hash = info_hash if init_tdinfo is None else servtd_info_hash(init_tdinfo)
    store.write_bytes(bh, uuid, SERVTD_INIT_SERVTD_INFO_HASH, init_hash)
    store.servtd_wr(bh, uuid, SERVTD_INIT_ATTR, 0)
    store.write_bytes(bh, uuid, INIT_CPUSVN, td_report[16:32])
    store.write_bytes(bh, uuid, INIT_TEE_TCB_SVN, td_report[256 + 8:256 + 24])
    for i in range(3):
        store.servtd_wr(bh, uuid, INIT_TEE_MODEL + i, 0)
    store.write_bytes(bh, uuid, SERVTD_INFO_HASH, info_hash)
    store.servtd_wr(bh, uuid, SERVTD_ATTR, 0)


def read_servtd_ext(store: FieldStore, bh: int, uuid: Uuid) -> bytes:
    """The 272-byte SERVTD_EXT of the old MigTD, packed from its TDCS fields."""
    model = b"".join(struct.pack("<Q", store.servtd_rd(bh, uuid, INIT_TEE_MODEL + i))[:4] for i in range(3))
    ext = (store.read_bytes(bh, uuid, SERVTD_INIT_SERVTD_INFO_HASH, 6)
           + store.read_bytes(bh, uuid, SERVTD_INIT_ATTR, 1) + bytes(8)
           + store.read_bytes(bh, uuid, INIT_CPUSVN, 2)
           + store.read_bytes(bh, uuid, INIT_TEE_TCB_SVN, 2)
           + model + bytes(4)
           + store.read_bytes(bh, uuid, SERVTD_INFO_HASH, 6)
           + store.read_bytes(bh, uuid, SERVTD_ATTR, 1) + bytes(104))
    assert len(ext) == SERVTD_EXT_SIZE
    return ext


def accept_hash(servtd_ext: bytes) -> bytes:
    """SHA-384 of SERVTD_EXT with the current hash and current attributes zeroed."""
    ext = bytearray(servtd_ext)
    ext[_CUR_HASH] = bytes(48)
    ext[_CUR_ATTR] = bytes(8)
    return hashlib.sha384(bytes(ext)).digest()


def store_accept(store: FieldStore, bh: int, uuid: Uuid, token: bytes, peer_ext: bytes) -> None:
    """New MigTD: record the token, the peer's current attributes and the SERVTD_EXT hash."""
    if len(token) != TOKEN_SIZE or len(peer_ext) != SERVTD_EXT_SIZE:
        raise ValueError("token is 32 bytes and SERVTD_EXT 272 bytes")
    store.write_bytes(bh, uuid, SERVTD_REBIND_ACCEPT_TOKEN, token)
    store.servtd_wr(bh, uuid, SERVTD_REBIND_ATTR, int.from_bytes(peer_ext[_CUR_ATTR], "little"))
    store.write_bytes(bh, uuid, SERVTD_ACCEPT_SERVTD_EXT_HASH, accept_hash(peer_ext))


def read_accept_token(store: FieldStore, bh: int, uuid: Uuid) -> bytes:
    """SERVTD_REBIND_ACCEPT_TOKEN (32 bytes; all zero when no token is held)."""
    return store.read_bytes(bh, uuid, SERVTD_REBIND_ACCEPT_TOKEN, 4)


def clear_accept_token(store: FieldStore, bh: int, uuid: Uuid) -> bool:
    """rebind-finalize on the new MigTD: zero SERVTD_REBIND_ACCEPT_TOKEN; False if none was set."""
    had = any(read_accept_token(store, bh, uuid))
    store.write_bytes(bh, uuid, SERVTD_REBIND_ACCEPT_TOKEN, bytes(TOKEN_SIZE))
    return had


def seed_prepared_session(store: FieldStore, bh: int, uuid: Uuid, *, is_old: bool, token: bytes) -> None:
    """Emulator set-up for rebind-finalize: the state a completed rebind-prepare leaves behind.

    Every ``migtd`` run starts with a fresh emulated TDCS, so the queue-time
    set-up recreates what prepare recorded: the old MigTD's approved token,
    or the new MigTD's accepted token, rebind attributes and SERVTD_EXT hash
    (this TD's own SERVTD_EXT stands in for the old MigTD's: same platform,
    same emulated fields).
    """
    if len(token) != TOKEN_SIZE:
        raise ValueError("the rebinding token is 32 bytes")
    if is_old:
        store.approve_rebind(bh, uuid, token)
    else:
        store_accept(store, bh, uuid, token, read_servtd_ext(store, bh, uuid))
