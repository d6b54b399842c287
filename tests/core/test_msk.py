"""ExchangeInformation and version negotiation (protocol.md §4.4–4.6, §9.1 item 8).

Pins: 40-byte record ``key[32] ‖ min u16 LE ‖ max u16 LE ‖ 00 00 00 00``;
non-zero reserved → InvalidParameter; version = min(max_export, max_import)
with the four failure conditions of §4.5; a Rust AzCVMEmu peer sends 40 zero
bytes and the result is version 0; TDCS field ids of §4.6.
"""

from __future__ import annotations

import pytest

from migtd.emu import tdcs
from migtd.errors import ConfigError, MigtdError
from migtd.protocol.msk import ExchangeInformation, key_fingerprint, negotiate_version
from migtd.result import MigrationResult


def test_record_layout() -> None:
    rec = ExchangeInformation(bytes(range(32)), 0x0102, 0x0304).encode()
    assert rec == bytes(range(32)) + b"\x02\x01\x04\x03" + b"\x00\x00\x00\x00"


def test_rust_peer_record_is_forty_zeros() -> None:
    peer = ExchangeInformation.decode(bytes(40))
    assert (peer.key, peer.min_ver, peer.max_ver) == (bytes(32), 0, 0)
    assert negotiate_version((0, 0), (0, 0), is_source=True) == 0


def test_reserved_bytes_must_be_zero() -> None:
    with pytest.raises(MigtdError) as err:
        ExchangeInformation.decode(bytes(36) + b"\x00\x00\x01\x00")
    assert err.value.result == MigrationResult.InvalidParameter


def test_short_record_is_network_error() -> None:
    with pytest.raises(MigtdError) as err:
        ExchangeInformation.decode(bytes(39))
    assert err.value.result == MigrationResult.NetworkError


def test_repr_hides_the_key() -> None:
    assert "\\x" not in repr(ExchangeInformation(b"\x01" * 32, 0, 0))


@pytest.mark.parametrize(("local", "remote", "src", "expected"), [
    ((1, 3), (2, 5), True, 3),
    ((2, 5), (1, 3), False, 3),
    ((0, 0), (0, 0), False, 0),
    ((4, 4), (1, 9), True, 4),
])
def test_negotiation(local, remote, src, expected) -> None:
    assert negotiate_version(local, remote, is_source=src) == expected


@pytest.mark.parametrize(("local", "remote"), [((3, 1), (1, 5)), ((1, 5), (3, 1)), ((1, 1), (2, 2)), ((2, 2), (1, 1))])
def test_incompatible_ranges_are_invalid_parameter(local, remote) -> None:
    with pytest.raises(MigtdError) as err:
        negotiate_version(local, remote, is_source=True)
    assert err.value.result == MigrationResult.InvalidParameter


def test_local_version_above_u16_is_invalid_parameter() -> None:
    with pytest.raises(MigtdError) as err:
        ExchangeInformation(bytes(32), 0, 0x10000).encode()
    assert err.value.result == MigrationResult.InvalidParameter


def test_fingerprint_is_first_8_bytes_of_sha256_upper_hex() -> None:
    assert key_fingerprint(bytes(32)) == "66687AADF862BD77"


def test_field_ids_and_store() -> None:
    assert (tdcs.MIG_DEC_KEY, tdcs.MIG_ENC_KEY, tdcs.MIG_VERSION) == (
        0x9810000300000010, 0x9810000300000018, 0x9810000100000020)
    store = tdcs.FieldStore(msk=bytes(range(32)), version_range=(1, 2))
    assert store.read_key(1, (1, 2, 3, 4), tdcs.MIG_ENC_KEY) == bytes(range(32))
    assert store.servtd_rd(1, (1, 2, 3, 4), tdcs.MIG_ENC_KEY + 1) == int.from_bytes(bytes(range(8, 16)), "little")
    assert store.sys_rd(tdcs.MIN_EXPORT_VERSION) == 1 and store.sys_rd(tdcs.MAX_IMPORT_VERSION) == 2
    store.write_key(1, (1, 2, 3, 4), tdcs.MIG_DEC_KEY, b"\xAA" * 32)
    assert store.read_key(1, (1, 2, 3, 4), tdcs.MIG_DEC_KEY) == b"\xAA" * 32
    assert store.servtd_rd(1, (1, 2, 3, 4), tdcs.SERVTD_ATTR) == 0


def test_env_controls_key_and_versions() -> None:
    zero = tdcs.store_from_env({"MIGTD_EMU_MSK": "zero"})
    assert zero.read_key(0, (0, 0, 0, 0), tdcs.MIG_ENC_KEY) == bytes(32)
    a = tdcs.store_from_env({}).read_key(0, (0, 0, 0, 0), tdcs.MIG_ENC_KEY)
    b = tdcs.store_from_env({}).read_key(0, (0, 0, 0, 0), tdcs.MIG_ENC_KEY)
    assert a != b  # random per run
    s = tdcs.store_from_env({"MIGTD_EMU_MIG_VERSION": "2-7"})
    assert (s.sys_rd(tdcs.MIN_IMPORT_VERSION), s.sys_rd(tdcs.MAX_EXPORT_VERSION)) == (2, 7)
    assert tdcs.store_from_env({}).sys_rd(tdcs.MAX_EXPORT_VERSION) == 0
    for bad in ("x", "1-2-3", "-1"):
        with pytest.raises(ConfigError):
            tdcs.store_from_env({"MIGTD_EMU_MIG_VERSION": bad})
    with pytest.raises(ConfigError):
        tdcs.store_from_env({"MIGTD_EMU_MSK": "weak"})
