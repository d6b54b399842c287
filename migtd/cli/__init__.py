"""``migtd``: one Migration TD in AzCVMEmu mode, flag-for-flag with upstream.

* :mod:`.args` scans the command line the way upstream does (§1.2);
* :mod:`.config` merges the environment twins and loads and checks every
  file and setting before the network is touched (§1.4, "Earlier checks");
* :mod:`.runtime` builds the run from the attestation-mode registry, connects
  or accepts, runs the session, and turns every outcome — signals included —
  into one exit status and a final ``exit`` event.

The process exit status is the MigrationResult of the outcome. Importing
this package stays cheap: OpenSSL, cryptography and the policy engine load
only when a migration actually runs.
"""

from __future__ import annotations

import os
import sys

from migtd.cli.runtime import main


def entry() -> None:
    """The ``migtd`` console script: :func:`main`, then end the process at once.

    A MigTD lives for one migration. Its garbage collector is switched off
    (the run allocates little and frees it all at exit), and once the exit
    record is written and the streams are flushed the process ends with
    ``os._exit``, skipping the interpreter's module teardown. :func:`main`
    itself returns the status, for callers that stay in process.
    """
    import gc

    gc.disable()
    code = main()
    for stream in (sys.stdout, sys.stderr):
        try:
            if stream is not None:
                stream.flush()
        except (OSError, ValueError):
            pass  # the reader went away; the exit status still tells the outcome
    os._exit(code)


__all__ = ["entry", "main"]
