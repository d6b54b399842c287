"""DSP0277 secured records: layout, nonce rule, and every rejection."""

from __future__ import annotations

import os
import struct

import pytest
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from migtd.spdm.errors import DecodeError, LimitError, SecuredRecordError
from migtd.spdm.key_schedule import DirectionKeys
from migtd.spdm.secured import MAX_SEQUENCE, RecordOpener, RecordSealer, nonce, session_id

SID = 0xFFFDFFFD


def pair(**kw: int) -> tuple[RecordSealer, RecordOpener, DirectionKeys]:
    keys = DirectionKeys(os.urandom(32), os.urandom(12))
    return RecordSealer(SID, keys), RecordOpener(SID, keys, **kw), keys


def test_layout_and_nonce_by_an_independent_decryption() -> None:
    sealer, _, keys = pair()
    msg = os.urandom(65)                      # ExchangeMigrationInfoReq
    for seq in range(3):
        rec = sealer.seal(msg)
        assert len(rec) == 97                 # spdm.md §4.4
        assert rec[:4] == b"\xfd\xff\xfd\xff"
        assert struct.unpack_from("<QH", rec, 4) == (seq, 2 + 65 + 16)
        iv = bytearray(keys.iv)
        for i, b in enumerate(seq.to_bytes(8, "little")):
            iv[i] ^= b
        plain = AESGCM(keys.key).decrypt(bytes(iv), rec[14:], rec[:14])
        assert plain == struct.pack("<H", 65) + msg
    assert len(RecordSealer(SID, keys).seal(b"\x12\xec\x00\x00")) == 36   # END_SESSION
    assert session_id(0xFFFD, 0xFFFD) == SID and session_id(0x1234, 0xABCD) == 0xABCD1234
    assert nonce(bytes(12), 0x0102) == b"\x02\x01" + bytes(10)


def test_round_trip_in_order() -> None:
    sealer, opener, _ = pair()
    for n in (0, 1, 4, 4032):
        m = os.urandom(n)
        assert opener.open(sealer.seal(m)) == m
    assert opener.sequence == sealer.sequence == 4


def test_replayed_and_reordered_records_are_refused() -> None:
    sealer, opener, _ = pair()
    r0, r1, r2 = sealer.seal(b"a"), sealer.seal(b"b"), sealer.seal(b"c")
    assert opener.open(r0) == b"a"
    with pytest.raises(SecuredRecordError, match="replayed"):
        opener.open(r0)
    _, opener2, keys = pair()
    s2 = RecordSealer(SID, keys)
    s2.seal(b"a")
    with pytest.raises(SecuredRecordError, match="out of order"):
        opener2.open(s2.seal(b"b"))
    del r1, r2


def test_a_bad_record_spoils_the_direction() -> None:
    sealer, opener, _ = pair()
    good0, good1 = sealer.seal(b"x"), sealer.seal(b"y")
    with pytest.raises(SecuredRecordError):
        opener.open(good0[:-1] + bytes([good0[-1] ^ 1]))
    with pytest.raises(SecuredRecordError, match="replayed"):
        opener.open(good0)  # the attempt counted, like spdm-rs: the next expected is 1
    assert opener.sequence == 2
    with pytest.raises(SecuredRecordError, match="replayed"):
        opener.open(good1)  # and the direction never recovers



@pytest.mark.parametrize("where", ["session", "sequence", "aad_length", "ciphertext", "tag"])
def test_tampering_anywhere_is_detected(where: str) -> None:
    sealer, opener, _ = pair()
    rec = bytearray(sealer.seal(os.urandom(40)))
    offset = {"session": 0, "sequence": 5, "aad_length": 12, "ciphertext": 20, "tag": len(rec) - 1}[where]
    rec[offset] ^= 0x01
    with pytest.raises((SecuredRecordError, DecodeError)):
        opener.open(bytes(rec))


def test_length_rules() -> None:
    sealer, opener, keys = pair()
    rec = sealer.seal(b"hello")
    del sealer
    with pytest.raises(DecodeError, match="truncated"):
        opener.open(rec[:13])
    with pytest.raises(DecodeError, match="announces"):
        opener.open(rec + b"x")
    with pytest.raises(DecodeError, match="shorter"):
        opener.open(rec[:12] + struct.pack("<H", 17) + bytes(17))
    # a correctly sealed plaintext whose ApplicationDataLength claims more than was encrypted
    aad = struct.pack("<IQH", SID, 0, 2 + 3 + 16)   # header checks above failed before counting
    bad = aad + AESGCM(keys.key).encrypt(nonce(keys.iv, 0), struct.pack("<H", 9) + b"abc", aad)
    with pytest.raises(DecodeError, match="ApplicationDataLength"):
        opener.open(bad)
    # padding after the message is allowed by DSP0277 and ignored
    aad = struct.pack("<IQH", SID, 1, 2 + 5 + 16)
    padded = aad + AESGCM(keys.key).encrypt(nonce(keys.iv, 1), struct.pack("<H", 3) + b"abcXY", aad)
    assert opener.open(padded) == b"abc"


def test_message_size_limit_and_sequence_exhaustion() -> None:
    sealer, opener, _ = pair(max_message=100)
    with pytest.raises(LimitError):
        opener.open(sealer.seal(bytes(101)))
    keys = DirectionKeys(os.urandom(32), os.urandom(12))
    with pytest.raises(SecuredRecordError, match="exhausted"):
        RecordSealer(SID, keys, MAX_SEQUENCE).seal(b"x")
    with pytest.raises(SecuredRecordError, match="exhausted"):
        RecordOpener(SID, keys, MAX_SEQUENCE).open(RecordSealer(SID, keys, MAX_SEQUENCE - 1).seal(b"x"))
    assert "key" not in repr(sealer).lower().replace("keys", "")
