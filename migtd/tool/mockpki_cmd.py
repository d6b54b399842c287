"""``migtd-tool mock-pki``: generate the project's mock SGX/TDX PKI.

Writes a fresh root CA, PCK chain, TCB-signing chain, signed collateral (upstream
JSON format), mock QE keys, a policy-signing chain, and one sample quote from
the mock QE, into ``--out``. The committed set under ``config/mock`` was made
with this command.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from migtd.errors import ConfigError
from migtd.tool.files import write_file

SAMPLE_QUOTE = "sample_quote.bin"


def register(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    """Add ``mock-pki``."""
    p = sub.add_parser("mock-pki", help="generate the mock PKI, collateral and QE keys for mock-report mode",
                       description=__doc__.split("\n\n")[1].replace("``", ""))
    p.add_argument("--out", required=True, type=Path, help="directory to write into")
    p.add_argument("--force", action="store_true", help="overwrite an existing mock PKI in --out")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    """``mock-pki``: write a fresh mock PKI and a sample quote into ``--out``; print the paths."""
    from migtd.mock.pki import MockPki
    from migtd.mock.qe import MockQE
    from migtd.mock.providers import MockQeProvider
    from migtd.eventlog import build_event_log

    out: Path = args.out
    if (out / "root_ca.der").exists() and not args.force:
        raise ConfigError(f"{out} already holds a mock PKI (use --force to replace it)")
    if out.exists() and not out.is_dir():
        raise ConfigError(f"{out} is not a directory")
    pki = MockPki.generate()
    written = pki.write(out)
    provider = MockQeProvider(MockQE.from_pki(pki))
    sample = provider.quote(provider.td_report(bytes(64), build_event_log([])))
    write_file(out / SAMPLE_QUOTE, sample)
    written.append(out / SAMPLE_QUOTE)
    for path in written:
        print(path)
    return 0
