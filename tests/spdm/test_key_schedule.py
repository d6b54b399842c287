"""The DSP0274 1.2 key schedule, recomputed independently with ``cryptography``'s HKDF."""

from __future__ import annotations

import hmac
import os

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.hkdf import HKDFExpand

from migtd.spdm.key_schedule import KeySchedule, bin_concat


def _expand(prk: bytes, label: bytes, ctx: bytes, n: int) -> bytes:
    info = n.to_bytes(2, "little") + b"spdm1.2 " + label + ctx
    return HKDFExpand(hashes.SHA384(), n, info).derive(prk)


def _extract(salt: bytes, ikm: bytes) -> bytes:
    return hmac.new(salt, ikm, "sha384").digest()


def test_bin_concat_bytes() -> None:
    assert bin_concat(48, b"derived") == b"\x30\x00spdm1.2 derived"
    assert bin_concat(12, b"iv") == b"\x0c\x00spdm1.2 iv"
    assert bin_concat(48, b"req hs data", b"T" * 48) == b"\x30\x00spdm1.2 req hs data" + b"T" * 48


def test_schedule_matches_an_independent_derivation() -> None:
    shared, th1, th2 = os.urandom(48), os.urandom(48), os.urandom(48)
    ks = KeySchedule(shared)
    hs = _extract(bytes(48), shared)
    master = _extract(_expand(hs, b"derived", b"", 48), bytes(48))
    assert ks.handshake_secret == hs and ks.master_secret == master

    h = ks.handshake(th1)
    req_hs, rsp_hs = _expand(hs, b"req hs data", th1, 48), _expand(hs, b"rsp hs data", th1, 48)
    assert (h.request_secret, h.response_secret) == (req_hs, rsp_hs)
    req_fin, rsp_fin = _expand(req_hs, b"finished", b"", 48), _expand(rsp_hs, b"finished", b"", 48)
    assert (h.request_finished_key, h.response_finished_key) == (req_fin, rsp_fin)
    assert h.request.key == _expand(req_hs, b"key", b"", 32) and h.request.iv == _expand(req_hs, b"iv", b"", 12)
    mac_in = os.urandom(48)
    assert h.requester_verify_data(mac_in) == hmac.new(req_fin, mac_in, "sha384").digest()
    assert h.responder_verify_data(mac_in) == hmac.new(rsp_fin, mac_in, "sha384").digest()

    d = ks.data(th2)
    req_app, rsp_app = _expand(master, b"req app data", th2, 48), _expand(master, b"rsp app data", th2, 48)
    assert (d.request_secret, d.response_secret) == (req_app, rsp_app)
    assert (d.request.key, d.request.iv) == (_expand(req_app, b"key", b"", 32), _expand(req_app, b"iv", b"", 12))
    assert (d.response.key, d.response.iv) == (_expand(rsp_app, b"key", b"", 32), _expand(rsp_app, b"iv", b"", 12))
    assert len(d.request.key) == 32 and len(d.response.iv) == 12


def test_every_input_changes_the_keys_and_secrets_never_print() -> None:
    shared, th = os.urandom(48), os.urandom(48)
    base = KeySchedule(shared).data(th)
    assert KeySchedule(shared).data(th) == base
    assert KeySchedule(os.urandom(48)).data(th).request.key != base.request.key
    assert KeySchedule(shared).data(os.urandom(48)).response.key != base.response.key
    ks = KeySchedule(shared)
    text = repr(ks) + repr(ks.handshake(th)) + repr(base) + repr(base.request)
    for secret in (shared, ks.handshake_secret, base.request.key, base.request.iv, base.request_secret):
        assert secret.hex() not in text and repr(secret) not in text
