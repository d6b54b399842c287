"""``migtd-tool init-data``: write the initMigtdData file ``migtd --init-migtd-data`` hands its VMM.

initMigtdData is the 512-byte TDINFO_STRUCT of the MigTD first bound to the
target TD (:mod:`migtd.emu.init_data`). A VMM records it; to try the feature
without one, this command makes it from what a real one would have recorded:
the TDINFO of a MigTD running the given signed policy v2, with MROWNER set
to the policy signer's key hash and MROWNERCONFIG to the policy SVN, as a VMM
provisions a policy-v2 MigTD (policy.md §3.9.1). Such a file passes the
binding check (``verify_init_migtd_data_policy_binding``) of any MigTD whose
policy has the same signer and a policy SVN not below it; ``--svn`` and
``--mrowner`` make one that does not.

The TDINFO comes from, in order of preference: ``--report`` (a 1024-byte
TDREPORT), ``--quote`` (a TD quote, e.g. ``MOCK_QUOTE_FILE``), or the mock-qe
TD report ``migtd --attestation mock-report`` makes with this policy and
chain (its RTMRs replay that event log).
"""

from __future__ import annotations

import argparse
from pathlib import Path

from migtd.errors import ConfigError


def register(sub: argparse._SubParsersAction) -> None:
    """Add ``init-data``."""
    p = sub.add_parser("init-data", help="write initMigtdData (the init MigTD's TDINFO) for migtd --init-migtd-data",
                       description="Write the 512-byte initMigtdData file that migtd --init-migtd-data (or "
                                   "MIGTD_INIT_MIGTD_DATA_FILE) hands to its emulated VMM: the TDINFO of a "
                                   "MigTD running POLICY, bound to it as a VMM provisions it.")
    p.add_argument("--policy", required=True, type=Path, help="the signed policy v2 the init MigTD ran")
    p.add_argument("--chain", required=True, type=Path, help="its issuer chain (PEM): MROWNER is its signer's "
                                                             "key hash")
    p.add_argument("--out", required=True, type=Path, help="initMigtdData file to write (512 bytes)")
    source = p.add_mutually_exclusive_group()
    source.add_argument("--report", type=Path, help="take the TDINFO from this 1024-byte TDREPORT")
    source.add_argument("--quote", type=Path, help="take the TDINFO from this TD quote")
    p.add_argument("--svn", help="policy SVN in MROWNERCONFIG (default: the policy's policySvn)")
    p.add_argument("--mrowner", metavar="HEX", help="MROWNER, 96 hex digits (default: the signer's key hash)")
    p.set_defaults(func=run)


def _tdinfo(args: argparse.Namespace, policy: bytes, chain: bytes) -> tuple[bytes, str]:
    """The init MigTD's TDINFO (512 bytes) and where it came from."""
    from migtd.errors import FormatError
    from migtd.inputs import read_input

    if args.report is not None:
        report = read_input(args.report, "TD report", limit=1024)
        if len(report) != 1024:
            raise ConfigError(f"TD report {args.report} is {len(report)} bytes, not 1024")
        return report[512:1024], f"TD report {args.report}"
    if args.quote is not None:
        from migtd.attest.quote import td_report_from_quote

        quote = read_input(args.quote, "quote", limit=1024 * 1024)
        try:
            return td_report_from_quote(quote)[512:1024], f"quote {args.quote}"
        except FormatError as exc:
            raise ConfigError(f"quote {args.quote} is not a TD quote: {exc.message}") from None
    from migtd import eventlog
    from migtd.mock.providers import MockQeProvider

    report = MockQeProvider().td_report(bytes(64), eventlog.v2_event_log(chain, policy))
    return report[512:1024], "the mock-report MigTD with this policy"


def run(args: argparse.Namespace) -> int:
    """``init-data``: verify the policy, take a TDINFO, bind it to the policy, write it."""
    from migtd.emu import init_data
    from migtd.inputs import open_output, parse_uint, read_input
    from migtd.policy.v2 import ChainError, signer_key_hash
    from migtd.verifiers.dcap import verify_local_policy

    policy = read_input(args.policy, "policy file", limit=1024 * 1024)
    chain = read_input(args.chain, "issuer chain file", limit=8192)
    verified = verify_local_policy(policy, chain)          # exit 9 when it does not verify, as migtd
    svn = verified.policy_svn
    if args.svn is not None:
        parsed = parse_uint(args.svn, 32)
        if parsed is None:
            raise ConfigError(f"--svn must be a u32, got {args.svn}")
        svn = parsed
    if args.mrowner is not None:
        try:
            mrowner = bytes.fromhex(args.mrowner)
        except ValueError:
            mrowner = b""
        if len(mrowner) != 48:
            raise ConfigError(f"--mrowner must be 96 hex digits (48 bytes), got {args.mrowner!r}")
    else:
        try:
            mrowner = signer_key_hash(chain)
        except ChainError as exc:
            raise ConfigError(f"issuer chain {args.chain}: {exc}") from None
    tdinfo, origin = _tdinfo(args, policy, chain)
    data = init_data.build(tdinfo, mrowner=mrowner, mrownerconfig=init_data.owner_config(svn))
    inputs = [("policy file", args.policy), ("issuer chain file", args.chain), ("TD report", args.report),
              ("quote", args.quote)]
    with open_output(args.out, "init MigTD data file", inputs, binary=True) as out:
        out.write(data)
    owner = "the policy signer's key hash" if args.mrowner is None else "as given"
    print(f"wrote {args.out} ({len(data)} bytes): TDINFO of {origin}; MROWNER {mrowner.hex()[:16]}... ({owner}), "
          f"policy SVN {svn} (the policy's is {verified.policy_svn})")
    return 0
