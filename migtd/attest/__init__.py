"""TD attestation: report and quote codecs, the DCAP verifier, the mock PKI/QE.

Everything in this package is pure (bytes in, values out) except the quote
providers, which read files. The engine uses three things:

* the quote providers (:class:`migtd.attest.mock_provider.MockReportProvider`,
  chosen by :func:`migtd.emu.quote_provider.make_provider`) to produce a TD
  report and a quote for the local RA-TLS certificate;
* :func:`migtd.attest.verify.verify_quote` to judge a peer's quote;
* :class:`migtd.attest.verify.VerifiedQuote` ``.report`` (822 bytes, the codec
  in :mod:`migtd.attest.suppl`) for the policy engine and ``.event_fields()``
  for the ``peer_attested`` event.

The DCAP verifier by concern: :mod:`~migtd.attest.quote`,
:mod:`~migtd.attest.tdreport`, :mod:`~migtd.attest.sgx_ext` (codecs),
:mod:`~migtd.attest.collateral` (collateral JSON), :mod:`~migtd.attest.certs`
(X.509 checks), :mod:`~migtd.attest.collateral_cache` (collateral verified once
per trust anchor), :mod:`~migtd.attest.tcb` (TCB level matching, TD relaunch),
:mod:`~migtd.attest.validity` (time rule), :mod:`~migtd.attest.suppl`
(supplemental data), :mod:`~migtd.attest.verify` (the procedure).
"""
