"""The emulation layer: what a TDX host and module would provide, in-process.

Request queue and GHCI buffers (``requests``, ``ghci``, ``vmm``), TDCS and
global-system fields (``tdcs``) and the rebinding fields built on them
(``rebind``), mock TD reports (``report``), and quote providers with
upstream's retry policy (``quote_provider``, ``quote_retry``). The Azure
vTPM/IMDS provider lives beside them (``azure``, ``vtpm``, ``imds``, ``hcl``).
"""
