"""``migtd-tool paths``: where the programs find their defaults and caches.

Prints every location (``name<TAB>path``), or only the paths of the names
given, so scripts can ask an installed package where its shipped policy, mock
PKI and Intel root CA are (``./migtdemu.sh`` does when it is not in a
checkout). ``MIGTD_CONFIG_DIR`` moves all of ``config/``.
"""

from __future__ import annotations

import argparse

from migtd import paths
from migtd.errors import ConfigError


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add ``paths``."""
    p = sub.add_parser("paths", help="show where the shipped policy, mock PKI, Intel root CA and caches are",
                       description=__doc__.split("\n\n")[1].replace("``", ""))
    p.add_argument("names", nargs="*", metavar="NAME", help=f"print only these ({', '.join(paths.LOCATIONS)})")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    """Print the locations asked for (all by default)."""
    try:
        lines = paths.describe(args.names)
    except KeyError as exc:
        raise ConfigError(f"unknown location {exc.args[0]!r} (one of: {', '.join(paths.LOCATIONS)})") from None
    print("\n".join(lines))
    return 0
