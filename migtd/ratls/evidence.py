"""A peer's RA-TLS certificate as :class:`migtd.verdict.Evidence` (protocol.md §5.2, §5.5, §7).

The verifiers do not know certificates: they judge evidence. This module is
where RA-TLS hands its certificate over: it checks that the extensions the
verifier needs are present (a peer lacking one is not a MigTD peer, a
SecureSessionError, 6) and names the two RA-TLS-specific proofs: REPORTDATA
must bind SHA-384 of the certificate's public key, and the certificate must
carry its own valid ECDSA P-384 self-signature.
"""

from __future__ import annotations

import functools
import hashlib
from collections.abc import Sequence

from migtd import verdict
from migtd.errors import SecureSessionError
from migtd.ratls.certificate import (
    OID_EVENT_LOG,
    OID_EXT_KEY_USAGE,
    OID_INIT_TDINFO,
    OID_MIGTD_EKU,
    OID_POLICY_HASH,
    OID_QUOTE,
    OID_SERVTD_EXT,
    OID_TDREPORT,
    ParsedCertificate,
    verify_self_signature,
)

#: Evidence name → (certificate extension, how messages name it).
EXTENSIONS = {
    verdict.QUOTE: (OID_QUOTE, "quote"),
    verdict.EVENT_LOG: (OID_EVENT_LOG, "event-log"),
    verdict.POLICY_HASH: (OID_POLICY_HASH, "policy-hash"),
    verdict.TDREPORT: (OID_TDREPORT, "TDREPORT"),
    verdict.SERVTD_EXT: (OID_SERVTD_EXT, "SERVTD_EXT"),
    verdict.INIT_TDINFO: (OID_INIT_TDINFO, "init TDINFO"),
}


def check_identity(peer: ParsedCertificate) -> None:
    """The certificate must declare itself a MigTD one: the MigTD OID in extKeyUsage (§5.6)."""
    if peer.extension(OID_EXT_KEY_USAGE) is None:
        raise SecureSessionError("peer certificate has no extKeyUsage extension")
    if OID_MIGTD_EKU not in peer.extended_key_usages():
        raise SecureSessionError(f"peer certificate's extKeyUsage lacks the MigTD OID {OID_MIGTD_EKU}")


def evidence_from_certificate(peer: ParsedCertificate, needs: Sequence[str]) -> verdict.Evidence:
    """The evidence ``peer`` carries, after checking that each of ``needs`` is present, in that order."""
    for name in needs:
        if name == verdict.IDENTITY:
            check_identity(peer)
        elif peer.extension(EXTENSIONS[name][0]) is None:
            oid, label = EXTENSIONS[name]
            raise SecureSessionError(f"peer certificate has no {label} extension ({oid})")
    values = {name: (ext.value if (ext := peer.extension(oid)) is not None else None)
              for name, (oid, _) in EXTENSIONS.items()}
    return verdict.Evidence(**values, binding=hashlib.sha384(peer.public_key).digest(),
                            binding_subject="the certificate's public key",
                            authenticate=functools.partial(verify_self_signature, peer))
