"""Peer verifiers: quote verification and the migration policy, combined per attestation mode.

This package sits above :mod:`migtd.attest` (quotes, DCAP) and
:mod:`migtd.policy` (v1/v2 evaluation) and below the session: it is the only
place where the two meet. Every verifier implements
:class:`migtd.verdict.PeerVerifier`, judging :class:`migtd.verdict.Evidence`
whatever protocol carried it; the attestation-mode registry
(:mod:`migtd.modes`) decides which one a run uses.

* :mod:`.skip_ra` — accept-all (upstream's ``test_disable_ra_and_accept_all``);
* :mod:`.dcap` — DCAP quote verification plus policy v1/v2 (migration);
* :mod:`.rebind` — TDREPORT checks plus the rebinding policies v2.
"""
