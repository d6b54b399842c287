"""Verifying a signed v2 policy (spec/policy.md §3.5) into a :class:`VerifiedPolicy`.

The order of the steps decides which error a broken file reports, so it is
upstream's: container, chain text, signature hex, chain + signature,
``policyData`` schema, the two embedded ServTD documents, then id/version.
"""

from __future__ import annotations

import functools
import hashlib
from dataclasses import dataclass

from migtd.policy import jsontext
from migtd.policy.errors import PolicyError, PolicyErrorKind
from migtd.policy.v2 import chain as chainmod
from migtd.policy.v2.collaterals import Collaterals, parse_collaterals
from migtd.policy.v2.container import decode_signature, parse_container
from migtd.policy.v2.document import PolicyData, obj, parse_policy_data, string
from migtd.policy.v2.servtd import (
    TdIdentity,
    TdTcbMapping,
    parse_tcb_mapping,
    parse_td_identity,
    verify_signed_document,
)

K = PolicyErrorKind
SUPPORTED_VERSION = "2.0"


@dataclass(frozen=True)
class VerifiedPolicy:
    """A v2 policy whose signatures checked out, with everything evaluation needs."""

    file_bytes: bytes
    raw_policy_data: bytes
    data: PolicyData
    collaterals: Collaterals
    td_identity: TdIdentity
    tcb_mapping: TdTcbMapping
    policy_chain: bytes
    identity_chain: bytes
    mapping_chain: bytes

    @property
    def policy_svn(self) -> int:
        """``policyData.policySvn``."""
        return self.data.policy_svn

    @property
    def file_sha384(self) -> bytes:
        """SHA-384 of the complete signed file: what its MigTD measures (tag 1)."""
        return hashlib.sha384(self.file_bytes).digest()


def _sub_text(text: str, key: str, path: str) -> str:
    try:
        spans = jsontext.top_level_spans(text)
    except ValueError as exc:
        raise PolicyError(K.InvalidPolicy, str(exc), path=path) from None
    if key not in spans:
        raise PolicyError(K.InvalidPolicy, f'missing "{key}"', path=path)
    a, b = spans[key]
    return text[a:b]


def verify_signed_policy(policy_file: bytes, issuer_chain: bytes) -> VerifiedPolicy:
    """Run §3.5 steps 1–7; raise PolicyError naming the step's JSON path.

    A verified policy is immutable and a pure function of the two byte
    strings, so successes are cached by content (as :func:`migtd.policy.v1.load_v1`
    caches parsed v1 policies): a peer policy judged again — every peer of a
    fleet matrix runs the same one — costs no P-384 verification. Failures are
    not cached.
    """
    return _verify_signed_policy(bytes(policy_file), bytes(issuer_chain))


@functools.lru_cache(maxsize=32)
def _verify_signed_policy(policy_file: bytes, issuer_chain: bytes) -> VerifiedPolicy:
    container = parse_container(bytes(policy_file), "policyData")
    try:
        bytes(issuer_chain).decode("utf-8")
    except UnicodeDecodeError:
        raise PolicyError(K.InvalidPolicy, "the issuer chain is not UTF-8 text", path="issuer chain") from None
    signature = decode_signature(container.signature_hex)
    try:
        chainmod.verify_chain_and_signature(bytes(issuer_chain), container.raw, signature)
    except chainmod.ChainError as exc:
        raise PolicyError(K.SignatureVerificationFailed, str(exc), path="policyData") from None
    data = parse_policy_data(container.value)
    collaterals = parse_collaterals(data.collaterals, "policyData.collaterals")
    sc_text = _sub_text(container.raw.decode("utf-8"), "servtdCollateral", "policyData")
    servtd = verify_servtd_collateral(sc_text, "policyData.servtdCollateral")
    if not data.id:
        raise PolicyError(K.InvalidParameter, "id must not be empty", path="policyData.id")
    if data.version != SUPPORTED_VERSION:
        raise PolicyError(K.InvalidParameter, f'version "{data.version}" is not "{SUPPORTED_VERSION}"',
                          path="policyData.version")
    return VerifiedPolicy(bytes(policy_file), container.raw, data, collaterals, servtd.identity, servtd.mapping,
                          bytes(issuer_chain), servtd.identity_chain, servtd.mapping_chain)


def verify_own_policy(policy_file: bytes, issuer_chain: bytes) -> VerifiedPolicy:
    """:func:`verify_signed_policy` for a MigTD's *own* policy: every failure is InvalidPolicyError (9).

    spec/policy.md §1.3: at start-up (``init_policy``) upstream panics with
    InvalidPolicyError whatever went wrong, a bad signature included, while
    the same PolicyError met on the RA-TLS path (a *peer's* policy) is
    PolicyUnsatisfiedError (8) unless it is InvalidPolicy. ``migtd-tool policy
    verify`` and ``policy check`` judge the operator's own policy with this, so
    they exit with the code ``migtd`` exits with for the same file.
    The error keeps its upstream ``kind``; only the result changes.

    Start-up also installs the attestation root the policy embeds
    (``collaterals.rootCa``), so a root that does not parse fails here too
    rather than later as a peer's PolicyUnsatisfiedError.
    """
    from migtd.result import MigrationResult

    try:
        verified = verify_signed_policy(policy_file, issuer_chain)
        verified.collaterals.root_ca_der()
        return verified
    except PolicyError as exc:
        raise PolicyError(exc.kind, exc.detail, path=exc.path, payload=exc.payload,
                          result=MigrationResult.InvalidPolicyError) from None


@dataclass(frozen=True)
class ServtdCollateral:
    """The verified MigTD identity and TCB mapping, with the chains that signed them."""

    identity: TdIdentity
    mapping: TdTcbMapping
    identity_chain: bytes
    mapping_chain: bytes


def verify_servtd_collateral(text: str | bytes, path: str = "servtdCollateral") -> ServtdCollateral:
    """§3.5 step 6 on a ``servtdCollateral`` object given as its raw JSON text.

    The identity and mapping are each verified over their raw bytes with
    their own issuer chain, then parsed (InvalidServtdIdentity /
    InvalidServtdTcbMapping).
    """
    sc_text = text.decode("utf-8") if isinstance(text, bytes) else text
    try:
        value = jsontext.loads(sc_text)
    except ValueError as exc:
        raise PolicyError(K.InvalidPolicy, str(exc), path=path) from None
    sc = obj(value, path, ("majorVersion", "minorVersion", "servtdIdentityIssuerChain", "servtdIdentity",
                           "servtdTcbMappingIssuerChain", "servtdTcbMapping"))
    identity_chain = string(sc["servtdIdentityIssuerChain"], f"{path}.servtdIdentityIssuerChain")
    mapping_chain = string(sc["servtdTcbMappingIssuerChain"], f"{path}.servtdTcbMappingIssuerChain")
    ident_text = _sub_text(sc_text, "servtdIdentity", path)
    map_text = _sub_text(sc_text, "servtdTcbMapping", path)
    signed_ident = verify_signed_document(ident_text, identity_chain, "tdIdentity", f"{path}.servtdIdentity")
    identity = parse_td_identity(signed_ident.value, f"{path}.servtdIdentity.tdIdentity")
    signed_map = verify_signed_document(map_text, mapping_chain, "tdTcbMapping", f"{path}.servtdTcbMapping")
    mapping = parse_tcb_mapping(signed_map.value, f"{path}.servtdTcbMapping.tdTcbMapping")
    return ServtdCollateral(identity, mapping, identity_chain.encode(), mapping_chain.encode())
