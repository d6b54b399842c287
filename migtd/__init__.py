"""MigTD-Py: a Python Migration TD in Azure CVM emulation (AzCVMEmu) mode.

The package is split so that protocol logic takes bytes and returns values
(codecs, verifier, policy engine) while a thin layer of blocking sockets moves bytes over
TCP. Nothing under ``migtd`` imports Textual.
"""

__version__ = "0.1.0"

#: Version string MigTD logs at start-up; upstream logs "MigTD Version - 0.7.1".
UPSTREAM_VERSION = "0.7.1"
