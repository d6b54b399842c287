"""A ``migtd`` that lies in one specific way, for end-to-end rejection tests.

Run as ``python bad_peer.py <migtd arguments>`` with ``MIGTD_BAD_PEER`` set to:

* ``wrong-reportdata`` — its mock QE quotes a TD report whose REPORTDATA is
  SHA-384 of a *different* P-384 key than the certificate's. The quote itself
  is genuine (it verifies against the mock PKI), so a checking peer gets past
  DCAP and must refuse at the REPORTDATA binding (protocol.md §5.5 step 5).
* ``wrong-policy-hash`` (policy v2) — the certificate's policy-hash extension
  is SHA-384 of peer data other than the blob sent in the pre-session
  exchange (§5.5 v2: InvalidPolicyError).

Everything else is the real engine, so the rest of the session is genuine.
"""

from __future__ import annotations

import os
import sys


def _wrong_reportdata() -> None:
    from cryptography.hazmat.primitives.asymmetric import ec

    from migtd.attest.binding import report_data_for_key
    from migtd.mock.providers import MockQeProvider
    from migtd.ratls.certificate import public_point

    other = report_data_for_key(public_point(ec.generate_private_key(ec.SECP384R1())))
    genuine = MockQeProvider.td_report

    def td_report(self: MockQeProvider, report_data: bytes, event_log: bytes) -> bytes:
        return genuine(self, other, event_log)

    MockQeProvider.td_report = td_report  # type: ignore[method-assign]


def _wrong_policy_hash() -> None:
    from migtd.session import Migration

    genuine = Migration._tls

    def _tls(self: Migration, blob: bytes | None):  # type: ignore[no-untyped-def]
        return genuine(self, (blob or b"") + b"tampered")

    Migration._tls = _tls  # type: ignore[method-assign]


def main() -> int:
    kind = os.environ.get("MIGTD_BAD_PEER", "")
    patches = {"wrong-reportdata": _wrong_reportdata, "wrong-policy-hash": _wrong_policy_hash}
    if kind not in patches:
        print(f"MIGTD_BAD_PEER must be one of {', '.join(patches)}", file=sys.stderr)
        return 2
    patches[kind]()
    from migtd.cli import main as migtd_main

    return migtd_main(sys.argv[1:])


if __name__ == "__main__":
    sys.exit(main())
