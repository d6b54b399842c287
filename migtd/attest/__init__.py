"""TD attestation: report and quote codecs, the DCAP verifier, the trust anchors it uses.

Everything in this package is pure (bytes in, values out) except
:mod:`migtd.attest.trust`, which reads the root CA and collateral files. It
depends on nothing above it: the quote providers of the mock modes live in
:mod:`migtd.mock`, the verifiers that combine quotes with the migration
policy in :mod:`migtd.verifiers`. The engine uses:

* :func:`migtd.attest.verify.verify_quote` to judge a quote;
* :class:`migtd.attest.verify.VerifiedQuote` ``.report`` (822 bytes, the codec
  in :mod:`migtd.attest.suppl`) for the policy engine and ``.event_fields()``
  for the ``peer_attested`` event;
* :func:`migtd.attest.binding.report_data_for_key` for the REPORTDATA of its own reports.

The DCAP verifier by concern: :mod:`~migtd.attest.quote`,
:mod:`~migtd.attest.tdreport`, :mod:`~migtd.attest.sgx_ext` (codecs),
:mod:`~migtd.attest.collateral` (collateral JSON), :mod:`~migtd.attest.certs`
(X.509 checks), :mod:`~migtd.attest.collateral_cache` (collateral verified once
per trust anchor), :mod:`~migtd.attest.tcb` (TCB level matching, TD relaunch),
:mod:`~migtd.attest.validity` (time rule), :mod:`~migtd.attest.suppl`
(supplemental data), :mod:`~migtd.attest.verify` (the procedure).
"""
