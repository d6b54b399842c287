"""Policy v2: signed policies, ServTD collateral and derived-fact rules.

Entry points (all pure; PolicyError carries the upstream variant):

* :func:`verify_signed_policy` — §3.5: signed file + issuer chain → :class:`VerifiedPolicy`
  (raises PolicyError); :func:`verify_own_policy` is the start-up form, any failure InvalidPolicyError (9).
* :func:`parse_peer_data` / :func:`build_peer_data` — the pre-session "peer data" blob.
* :func:`authenticate_migration_dest` — a source judging its destination.
* :func:`authenticate_migration_source` — a destination judging its source.
* :func:`authenticate_rebinding_new` / :func:`authenticate_rebinding_old` — rebinding.
  These four return a :class:`~migtd.policy.decision.PolicyDecision` and never raise.
* :func:`evaluation_info`, :func:`evaluate_block`, :func:`eval_int`, :func:`eval_str`,
  :func:`eval_tcb_status`, :func:`eval_servtd_status` — the building blocks.
* :func:`fmspc_from_quote`, :func:`signer_key_hash`, :func:`validate_peer_chain`.
"""

from migtd.policy.v2.chain import ChainError, signer_key_hash, validate_peer_chain, verify_chain_and_signature
from migtd.policy.v2.evaluate import (
    EvaluationInfo,
    eval_int,
    eval_servtd_status,
    eval_str,
    eval_tcb_status,
    evaluate_block,
    global_eval,
)
from migtd.policy.v2.flows import (
    PeerIdentity,
    authenticate_migration_dest,
    authenticate_migration_source,
    authenticate_rebinding_new,
    authenticate_rebinding_old,
    build_peer_data,
    check_engine_not_older,
    check_init_tdinfo,
    check_policy_integrity,
    check_policy_svn,
    evaluation_info,
    parse_peer_data,
    relative_reference,
    verify_init_migtd_data_policy_binding,
    verify_init_tdinfo,
    verify_own_tdinfo,
    verify_peer_init_tdinfo_against_owner,
    verify_peer_init_tdinfo_against_suppl_data,
)
from migtd.policy.v2.quote_fmspc import fmspc_from_quote
from migtd.policy.v2.verify import (
    ServtdCollateral,
    VerifiedPolicy,
    verify_own_policy,
    verify_servtd_collateral,
    verify_signed_policy,
)

__all__ = [
    "ChainError",
    "EvaluationInfo",
    "PeerIdentity",
    "ServtdCollateral",
    "VerifiedPolicy",
    "authenticate_migration_dest",
    "authenticate_migration_source",
    "authenticate_rebinding_new",
    "authenticate_rebinding_old",
    "build_peer_data",
    "check_engine_not_older",
    "check_init_tdinfo",
    "check_policy_integrity",
    "check_policy_svn",
    "eval_int",
    "eval_servtd_status",
    "eval_str",
    "eval_tcb_status",
    "evaluate_block",
    "evaluation_info",
    "fmspc_from_quote",
    "global_eval",
    "parse_peer_data",
    "relative_reference",
    "signer_key_hash",
    "validate_peer_chain",
    "verify_chain_and_signature",
    "verify_init_migtd_data_policy_binding",
    "verify_init_tdinfo",
    "verify_own_policy",
    "verify_own_tdinfo",
    "verify_peer_init_tdinfo_against_owner",
    "verify_peer_init_tdinfo_against_suppl_data",
    "verify_servtd_collateral",
    "verify_signed_policy",
]
