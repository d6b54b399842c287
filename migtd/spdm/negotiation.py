"""Judging VERSION, CAPABILITIES and ALGORITHMS (spec/spdm.md §3.1–3.3).

Pure functions shared by both roles: DSP0274 1.2 capability consistency, the
capabilities MigTD's ladder needs from a peer, and the single algorithm suite
(ECDSA P-384, SHA-384, secp384r1, AES-256-GCM, SPDM key schedule, opaque
format 1). A peer that offers something else fails with NegotiationError.
"""

from __future__ import annotations

from migtd.spdm import messages as m
from migtd.spdm.constants import (
    BASE_ASYM_ECDSA_P384,
    BASE_HASH_SHA384,
    MEAS_SPEC_NONE,
    MIGTD_ALG_STRUCTS,
    MIN_DATA_TRANSFER_SIZE,
    OTHER_PARAMS_OPAQUE_FMT1,
    REQUIRED_PEER_CAPABILITIES,
    SPDM_VERSION_12,
    AlgType,
    Cap,
)
from migtd.spdm.errors import NegotiationError

_PSK_MASK = Cap.PSK_0 | Cap.PSK_1
#: Bits only a responder may set; reserved in GET_CAPABILITIES.
_RESPONSE_ONLY = Cap.CACHE | Cap.MEAS_NO_SIG | Cap.MEAS_SIG | Cap.MEAS_FRESH | Cap.ALIAS_CERT
_KNOWN = 0
for _c in Cap:
    _KNOWN |= _c


def check_version(msg: m.Version) -> int:
    """The version to use: 1.2, if the responder lists it."""
    if not any(e >> 8 == SPDM_VERSION_12 for e in msg.entries):
        listed = ", ".join(f"{e >> 12}.{(e >> 8) & 0xF}" for e in msg.entries)
        raise NegotiationError(f"peer supports SPDM {listed}; MigTD needs 1.2")
    return SPDM_VERSION_12


def check_capabilities(flags: int, dts: int, max_msg: int, *, from_requester: bool) -> None:
    """DSP0274 1.2 consistency rules, then MigTD's needs (spdm.md §3.2)."""
    who = "requester" if from_requester else "responder"
    problems = []
    if flags & ~_KNOWN:
        problems.append(f"reserved bits 0x{flags & ~_KNOWN:X}")
    if from_requester and flags & _RESPONSE_ONLY:
        problems.append(f"responder-only bits 0x{flags & _RESPONSE_ONLY:X}")
    if flags & (Cap.MEAS_NO_SIG | Cap.MEAS_SIG) == (Cap.MEAS_NO_SIG | Cap.MEAS_SIG):
        problems.append("MEAS_CAP = 3")
    psk = flags & _PSK_MASK
    if psk == _PSK_MASK:
        problems.append("PSK_CAP = 3")
    secure = flags & (Cap.ENCRYPT | Cap.MAC)
    exchange = flags & Cap.KEY_EX or psk
    if secure and not exchange:
        problems.append("ENCRYPT/MAC without KEY_EX or PSK")
    if exchange and not secure:
        problems.append("KEY_EX/PSK without ENCRYPT or MAC")
    if flags & Cap.HANDSHAKE_IN_THE_CLEAR and not flags & Cap.KEY_EX:
        problems.append("HANDSHAKE_IN_THE_CLEAR without KEY_EX")
    if flags & Cap.CERT and flags & Cap.PUB_KEY_ID:
        problems.append("both CERT and PUB_KEY_ID")
    if flags & Cap.PUB_KEY_ID and not flags & (Cap.CHAL | Cap.KEY_EX):
        problems.append("PUB_KEY_ID without CHAL or KEY_EX")
    if problems:
        raise NegotiationError(f"{who} capabilities 0x{flags:08X} are inconsistent: " + "; ".join(problems))
    missing = REQUIRED_PEER_CAPABILITIES & ~flags
    if missing:
        names = ", ".join(c.name or "?" for c in Cap if c & missing)
        raise NegotiationError(f"{who} lacks capabilities MigTD needs: {names}")
    if dts < MIN_DATA_TRANSFER_SIZE:
        raise NegotiationError(f"{who} DataTransferSize {dts} is below {MIN_DATA_TRANSFER_SIZE}")
    if max_msg < dts:
        raise NegotiationError(f"{who} MaxSPDMmsgSize {max_msg} is below its DataTransferSize {dts}")


def select_algorithms(offer: m.NegotiateAlgorithms) -> m.Algorithms:
    """The responder's ALGORITHMS for ``offer``: MigTD's suite, if the offer contains it."""
    missing = []
    if not offer.base_asym & BASE_ASYM_ECDSA_P384:
        missing.append("BaseAsymAlgo ECDSA P-384")
    if not offer.base_hash & BASE_HASH_SHA384:
        missing.append("BaseHashAlgo SHA-384")
    if not offer.other_params & OTHER_PARAMS_OPAQUE_FMT1:
        missing.append("OpaqueDataFmt1")
    offered = dict(offer.alg_structs)
    for t, v in MIGTD_ALG_STRUCTS.items():
        if not offered.get(int(t), 0) & v:
            missing.append(f"{t.name} 0x{v:04X}")
    if missing:
        raise NegotiationError("requester does not offer " + ", ".join(missing))
    return m.Algorithms()


def check_algorithms(sel: m.Algorithms) -> None:
    """The requester's check of ALGORITHMS: exactly MigTD's suite selected."""
    wrong = []
    if sel.measurement_spec != MEAS_SPEC_NONE or sel.measurement_hash != 0:
        wrong.append("a measurement specification/hash (none was offered)")
    if sel.other_params != OTHER_PARAMS_OPAQUE_FMT1:
        wrong.append(f"OtherParamsSelection 0x{sel.other_params:02X}")
    if sel.base_asym != BASE_ASYM_ECDSA_P384:
        wrong.append(f"BaseAsymSel 0x{sel.base_asym:X}")
    if sel.base_hash != BASE_HASH_SHA384:
        wrong.append(f"BaseHashSel 0x{sel.base_hash:X}")
    got = dict(sel.alg_structs)
    for t, v in MIGTD_ALG_STRUCTS.items():
        if got.get(int(t)) != v:
            wrong.append(f"{AlgType(t).name} 0x{got.get(int(t), 0):04X}")
    extra = set(got) - {int(t) for t in MIGTD_ALG_STRUCTS}
    if extra:
        wrong.append(f"unexpected AlgTypes {sorted(extra)}")
    if wrong:
        raise NegotiationError("responder selected " + ", ".join(wrong))
