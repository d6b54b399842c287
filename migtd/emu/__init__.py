"""The emulation layer: what a TDX host and module would provide, in-process.

Request queue and GHCI buffers (``requests``, ``ghci``, ``vmm``), TDCS and
global-system fields (``tdcs``), mock TD reports (``report``), and quote
providers with upstream's retry policy (``quote_provider``, ``quote_retry``).
"""
