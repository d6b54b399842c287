"""``migtd-tool plan``: each side's ``migtd`` command line and environment for a run.

The run planner of :mod:`migtd.plan`, for ``migtdemu.sh`` (which evaluates
``--format sh``) and for anyone who wants to see what a runner would start.
"""

from __future__ import annotations

import argparse


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add ``plan``."""
    from migtd import plan

    p = sub.add_parser("plan", help="check a run request and print each side's migtd argv and environment",
                       description="Check a run request the way migtdemu.sh and migtd-console do, and print "
                                   "each side's migtd arguments and environment.")
    plan.build_parser(p)
    p.set_defaults(func=plan.run_command)
