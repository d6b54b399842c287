"""``migtd-tool collateral fetch``: collateral for a quote from Intel PCS, a PCCS or Azure THIM.

Reads the FMSPC and the PCK CA type (platform or processor) from the quote's
PCK certificate, requests the PCK CRL, TDX TCB info, TDX QE identity and root
CA CRL (v4 API) with their issuer chains, checks that every chain ends at the
trusted root, and writes upstream MigTD's collateral JSON, the format
``--collateral`` and ``MIGTD_COLLATERAL_FILE`` read. Results are cached under
the user cache directory until their ``nextUpdate``.

Exit status: 0 written; 1 bad flag, unreadable quote or root, or an output
that is one of the inputs; 5 a service unreachable, too slow or answering
with an HTTP error; 7 an answer that is not usable collateral for this quote
(malformed body, issuer chain not ending at the trusted root).
"""

from __future__ import annotations

import argparse
import json
import time
from datetime import UTC, datetime
from pathlib import Path

from migtd import paths
from migtd.attest.pcs import Source, check_url
from migtd.errors import ConfigError, FormatError
from migtd.inputs import seconds_arg
from migtd.tool.files import QUOTE_LIMIT, Files

#: Larger than ``migtd``'s 4 KiB: a PEM bundle is accepted here and its first certificate used.
ROOT_CA_LIMIT = 64 * 1024


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add ``collateral fetch``."""
    p = sub.add_parser("collateral", help="fetch verification collateral for a quote (PCS, PCCS, THIM)",
                       description="Verification collateral for TDX quotes.")
    cs = p.add_subparsers(dest="collateral_cmd", metavar="ACTION", required=True)
    f = cs.add_parser("fetch", help="fetch the collateral of a quote's platform and write it as MigTD JSON",
                      description=__doc__.split("\n\n", 1)[1].replace("``", ""),
                      formatter_class=argparse.RawDescriptionHelpFormatter)
    f.add_argument("quote", type=Path, metavar="QUOTE", help="TDX quote (v4 or v5) whose platform to fetch for")
    where = f.add_mutually_exclusive_group()
    where.add_argument("--pcs", nargs="?", const="", metavar="URL",
                       help="Intel PCS (the default), or a PCS at URL such as Intel's sandbox")
    where.add_argument("--pccs", metavar="URL", help="a PCCS caching service, e.g. https://pccs.example:8081")
    where.add_argument("--thim", metavar="URL|REGION", help="Azure THIM: its URL, or a region such as useast")
    f.add_argument("--out", required=True, type=Path, metavar="FILE", help="where to write the collateral JSON")
    f.add_argument("--root-ca", type=Path, metavar="FILE",
                   help="trusted root CA (DER or PEM) the issuer chains must end at "
                        "(default: the shipped Intel SGX root CA)")
    f.add_argument("--root-ca-crl-url", metavar="URL",
                   help="where to read the root CA CRL (default: the PCCS's rootcacrl, or the root "
                        "certificate's CRL distribution point for PCS and THIM)")
    f.add_argument("--timeout", type=seconds_arg(3600), default=60.0, metavar="SECONDS",
                   help="overall deadline for all requests (default: 60)")
    f.add_argument("--refresh", action="store_true", help="ignore the cache and fetch again")
    f.add_argument("--json", action="store_true", help="print a JSON summary instead of a line of text")
    f.set_defaults(func=fetch)


def _source(args: argparse.Namespace) -> Source:
    from migtd.attest.pcs import make_source

    if args.pccs is not None:
        return make_source("pccs", args.pccs)
    if args.thim is not None:
        return make_source("thim", args.thim)
    return make_source("pcs", args.pcs or None)


def fetch(args: argparse.Namespace) -> int:
    """``collateral fetch``: write the collateral of the quote's platform to ``--out``."""
    from migtd.attest.pcs_fetch import fetch_collateral
    from migtd.attest.trust import der_certificate

    timeout: float = args.timeout
    source = _source(args)
    if args.root_ca_crl_url is not None:
        check_url(args.root_ca_crl_url, "--root-ca-crl-url")
    root_path = args.root_ca or paths.intel_root_ca()
    # --out is checked against the inputs (and for being a folder) before the network is touched
    files = Files(inputs=[("quote", args.quote), ("root CA", root_path)], outputs=[("--out", args.out)])
    root = der_certificate(files.read(root_path, "root CA", ROOT_CA_LIMIT), f"root CA {root_path}")
    quote = files.read(args.quote, "quote", QUOTE_LIMIT)
    try:
        got = fetch_collateral(quote, source, root, deadline=time.monotonic() + timeout,
                               use_cache=not args.refresh, root_crl=args.root_ca_crl_url)
    except FormatError as exc:  # the quote itself: a usage problem, like quote verify's malformed inputs
        raise ConfigError(f"quote {args.quote}: {exc.message}") from None
    files.write(args.out, got.data, "collateral file")  # atomic: a half-written collateral is never left
    now = datetime.now(UTC)
    until = got.next_update.strftime("%Y-%m-%dT%H:%M:%SZ")
    summary = {"out": str(args.out), "source": source.kind, "url": source.base_url,
               "fmspc": got.platform.fmspc_hex, "ca": got.platform.ca, "next_update": until,
               "expired": got.next_update <= now, "from_cache": got.from_cache,
               "cache_file": str(got.cache_file) if got.cache_file else None}
    if args.json:
        print(json.dumps(summary, indent=2))
        return 0
    state = ("from the cache" if got.from_cache else
             "cached" if got.cache_file else "not cached: already past its nextUpdate")
    print(f"wrote {args.out}: FMSPC {got.platform.fmspc_hex} ({got.platform.ca} CA) from {source}, "
          f"next update {until} ({state})")
    return 0
