"""``migtd-tool mock-pki``: generate the project's mock SGX/TDX PKI.

Writes a fresh root CA, PCK chain, TCB-signing chain, signed collateral (upstream
JSON format), mock QE keys, a policy-signing chain, and one sample quote from
the mock QE, into ``--out``. The committed set under ``config/mock`` was made
with this command.
"""

from __future__ import annotations

import argparse
import os
import shutil
import tempfile
from pathlib import Path

from migtd.errors import ConfigError
from migtd.inputs import InputError

SAMPLE_QUOTE = "sample_quote.bin"


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add ``mock-pki``."""
    p = sub.add_parser("mock-pki", help="generate the mock PKI, collateral and QE keys for mock-report mode",
                       description=__doc__.split("\n\n")[1].replace("``", ""))
    p.add_argument("--out", required=True, type=Path, help="directory to write into")
    p.add_argument("--force", action="store_true", help="overwrite an existing mock PKI in --out")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    """``mock-pki``: write a fresh mock PKI and a sample quote into ``--out``; print the paths.

    The set is written into a temporary folder inside ``--out`` first and each
    file then renamed into place, so an interrupted run never leaves a file
    half-written, and a file of ``--out`` that is a link to another file is
    replaced, never written through.
    """
    from migtd.eventlog import build_event_log
    from migtd.mock.pki import MockPki
    from migtd.mock.providers import MockQeProvider
    from migtd.mock.qe import MockQE

    out: Path = args.out
    if out.exists() and not out.is_dir():
        raise ConfigError(f"--out {out} is not a directory")
    if (out / "root_ca.der").exists() and not args.force:
        raise ConfigError(f"{out} already holds a mock PKI (use --force to replace it)")
    pki = MockPki.generate()
    provider = MockQeProvider(MockQE.from_pki(pki))
    sample = provider.quote(provider.td_report(bytes(64), build_event_log([])))
    try:
        out.mkdir(parents=True, exist_ok=True)
        staging = Path(tempfile.mkdtemp(prefix=".mock-pki.", dir=out))
    except OSError as exc:
        raise InputError(f"cannot write into --out {out}: {exc.strerror or exc}") from None
    try:
        staged = pki.write(staging)
        (staging / SAMPLE_QUOTE).write_bytes(sample)
        staged.append(staging / SAMPLE_QUOTE)
        written = []
        for path in staged:
            os.replace(path, out / path.name)
            written.append(out / path.name)
    except OSError as exc:
        raise InputError(f"cannot write into --out {out}: {exc.strerror or exc}") from None
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    for path in written:
        print(path)
    return 0
