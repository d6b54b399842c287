"""Build signed policy-v2 files for the mock report, and key-rotation variants of them.

Upstream's AzCVMEmu test script extracts a TD's measurements, patches them into
a TD identity and a TCB mapping, signs those two documents and the merged
policy with a throw-away P-384 chain, and runs the two MigTDs with the result.
This module does the same from the project's own mock report (or from a quote
file, like ``MOCK_QUOTE_FILE``):

* facts for the global rules (TCB evaluation number, TCB date and status,
  FMSPC, CRL numbers) come from verifying a mock quote against the collateral
  that the policy embeds, so the generated policy is satisfiable by
  construction and fails as soon as either drifts;
* the TCB mapping pins MRTD/RTMR0/RTMR1 of the TD report. RTMR1 measures the
  policy issuer chain (policy.md §1.4), so every chain a peer may run with gets
  its own mapping entry, all with the same engine SVN;
* everything is serialised compactly in insertion order, which is exactly the
  form json-signer signs (policy.md §3.11), and the result is re-verified with
  the engine's own verifier before it is returned.

Key rotation (policy.md §3.2): two chains are acceptable to each other when
their roots are byte-identical and their leaf subjects equal, whatever the
leaf keys and intermediates. :class:`IssuerCa` therefore issues any number of
signer certificates with the same subject under one root; the four upstream
variants rotate none, the policy signer, the policy and TCB-mapping signers,
or all three signers of the second side.
"""

from __future__ import annotations

import uuid as uuidlib
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from migtd import eventlog
from migtd.attest import suppl as rpt
from migtd.attest.tdreport import TdInfo
from migtd.policy import jsontext
from migtd.policy.errors import PolicyError, PolicyErrorKind
from migtd.policy.sign import sign_document
from migtd.policy.v2.chain import signer_key_hash
from migtd.policy.v2.collaterals import parse_collaterals
from migtd.policy.v2.verify import VerifiedPolicy, verify_signed_policy
from migtd.result import MigrationResult

NOT_BEFORE = datetime(2024, 1, 1, tzinfo=UTC)
NOT_AFTER = datetime(2049, 12, 31, tzinfo=UTC)
SIGNER_SUBJECT = "MigTD-Py Policy Signer"
#: Engine SVN every generated mapping assigns, and the TCB level that covers it.
ENGINE_SVN = 1
ROTATION_VARIANTS = {
    # name: which of the second side's signers are rotated (policy, mapping, identity)
    "none": (False, False, False),
    "policy": (True, False, False),
    "policy-mapping": (True, True, False),
    "all": (True, True, True),
}


def _usage(message: str) -> PolicyError:
    return PolicyError(PolicyErrorKind.InvalidParameter, message, result=MigrationResult.InvalidParameter)


# --------------------------------------------------------------------------- signers and chains

@dataclass(frozen=True)
class Signer:
    """A P-384 signing key and the PEM chain (leaf first, root last) that certifies it."""

    key_pem: bytes
    chain_pem: bytes

    @classmethod
    def load(cls, key_path: Path, chain_path: Path) -> Signer:
        """A signer from files, e.g. the committed mock policy chain."""
        from migtd.inputs import read_input

        return cls(read_input(key_path, "policy signing key", limit=64 * 1024),
                   read_input(chain_path, "policy issuer chain", limit=64 * 1024))


def _name(cn: str) -> x509.Name:
    return x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, cn),
                      x509.NameAttribute(NameOID.ORGANIZATION_NAME, "MigTD-Py Mock"),
                      x509.NameAttribute(NameOID.COUNTRY_NAME, "US")])


def _certificate(subject: x509.Name, key: ec.EllipticCurvePrivateKey, issuer: x509.Name,
                 issuer_key: ec.EllipticCurvePrivateKey, *, ca: bool) -> x509.Certificate:
    """ecdsa-with-SHA384 everywhere: upstream's chain check refuses any other algorithm."""
    return (x509.CertificateBuilder()
            .subject_name(subject).issuer_name(issuer)
            .public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(NOT_BEFORE).not_valid_after(NOT_AFTER)
            .add_extension(x509.BasicConstraints(ca=ca, path_length=None), critical=True)
            .add_extension(x509.KeyUsage(digital_signature=not ca, content_commitment=False,
                                         key_encipherment=False, data_encipherment=False, key_agreement=False,
                                         key_cert_sign=ca, crl_sign=ca, encipher_only=False,
                                         decipher_only=False), critical=True)
            .sign(issuer_key, hashes.SHA384()))


def _pem(cert: x509.Certificate) -> bytes:
    return cert.public_bytes(serialization.Encoding.PEM)


@dataclass
class IssuerCa:
    """A fresh root and intermediate CA (in memory only) that issue policy signers.

    Every signer gets the same leaf subject, so any two of them pass
    ``validate_peer_cert_chain`` against each other: that is a key rotation.
    """

    root_key: ec.EllipticCurvePrivateKey
    root: x509.Certificate
    ca_key: ec.EllipticCurvePrivateKey
    ca: x509.Certificate
    issued: list[Signer] = field(default_factory=list)

    @classmethod
    def generate(cls, label: str = "MigTD-Py Policy") -> IssuerCa:
        """A new root and intermediate, both P-384, named after ``label``."""
        root_key = ec.generate_private_key(ec.SECP384R1())
        root_name = _name(f"{label} Root CA")
        root = _certificate(root_name, root_key, root_name, root_key, ca=True)
        ca_key = ec.generate_private_key(ec.SECP384R1())
        ca = _certificate(_name(f"{label} Intermediate CA"), ca_key, root_name, root_key, ca=True)
        return cls(root_key, root, ca_key, ca)

    def issue(self, subject: str = SIGNER_SUBJECT) -> Signer:
        """A new leaf key certified under this CA; the chain is leaf, intermediate, root."""
        key = ec.generate_private_key(ec.SECP384R1())
        leaf = _certificate(_name(subject), key, self.ca.subject, self.ca_key, ca=False)
        key_pem = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                    serialization.NoEncryption())
        signer = Signer(key_pem, _pem(leaf) + _pem(self.ca) + _pem(self.root))
        self.issued.append(signer)
        return signer


@dataclass(frozen=True)
class Signers:
    """Who signs what: the policy itself, the TD identity, the TCB mapping."""

    policy: Signer
    identity: Signer
    mapping: Signer

    @classmethod
    def single(cls, signer: Signer) -> Signers:
        """One signer for all three documents."""
        return cls(signer, signer, signer)


def rotation_pair(variant: str, ca: IssuerCa | None = None) -> tuple[Signers, Signers]:
    """Signers of the two sides for one of :data:`ROTATION_VARIANTS`.

    The first side signs everything with one leaf; the second side reuses that
    leaf except for the roles the variant rotates, which get a new leaf (new
    key, same subject, same root).
    """
    if variant not in ROTATION_VARIANTS:
        raise _usage(f"unknown rotation variant {variant!r}; use one of {', '.join(ROTATION_VARIANTS)}")
    ca = ca or IssuerCa.generate()
    first = ca.issue()
    rot_policy, rot_mapping, rot_identity = ROTATION_VARIANTS[variant]
    second = Signers(ca.issue() if rot_policy else first,
                     ca.issue() if rot_identity else first,
                     ca.issue() if rot_mapping else first)
    return Signers.single(first), second


# --------------------------------------------------------------------------- what the TD looks like

@dataclass(frozen=True)
class TdFacts:
    """What the generated policy pins: the verified report and the TD report's TDINFO."""

    verified_report: bytes  # 822 bytes, from verifying a quote against the embedded collateral
    tdinfo: TdInfo          # TDINFO of the TD report the quote was made from
    from_quote_file: bool   # True: fixed measurements, RTMRs do not follow the event log


def mock_facts(collateral_json: bytes, root_ca_der: bytes, quote_file: bytes | None = None,
               mock_dir: Path | None = None) -> TdFacts:
    """Quote the mock TD (or take ``quote_file``) and verify it against the collateral."""
    from migtd.attest.collateral import Collateral
    from migtd.attest.quote import td_report_from_quote
    from migtd.attest.verify import verify_quote
    from migtd.errors import MigtdError
    from migtd.mock.providers import MockQeProvider

    try:
        collateral = Collateral.from_json(collateral_json)
        if quote_file is not None:
            quote, report = quote_file, td_report_from_quote(quote_file)
        else:
            provider = MockQeProvider(mock_dir=mock_dir)
            report = provider.td_report(bytes(64), eventlog.skip_ra_event_log())
            quote = provider.quote(report)
        verified = verify_quote(quote, collateral, root_ca_der)
    except MigtdError as exc:
        raise PolicyError(PolicyErrorKind.QuoteVerification,
                          f"the {'quote file' if quote_file is not None else 'mock quote'} does not verify "
                          f"against the collateral: {exc.message}", result=MigrationResult.InvalidParameter
                          ) from None
    return TdFacts(verified.report, TdInfo.parse(report), quote_file is not None)


def measurements_for(facts: TdFacts, chains: Sequence[bytes]) -> list[dict[str, str]]:
    """``tdMeasurements`` objects: one per distinct RTMR1 the given issuer chains produce.

    With a quote file the TD report is fixed, so its own RTMR0/RTMR1 are used
    once. Otherwise the mock QE replays the event log, where RTMR0 is empty and
    RTMR1 holds the issuer-chain measurement.
    """
    mrtd = facts.tdinfo.mrtd.hex().upper()
    if facts.from_quote_file:
        return [{"mrtd": mrtd, "rtmr0": facts.tdinfo.rtmrs[0].hex().upper(),
                 "rtmr1": facts.tdinfo.rtmrs[1].hex().upper()}]
    out: list[dict[str, str]] = []
    for chain in chains:
        rtmrs = eventlog.replay_rtmrs(eventlog.parse_event_log(eventlog.v2_event_log(chain, b"{}")))
        entry = {"mrtd": mrtd, "rtmr0": rtmrs[0].hex().upper(), "rtmr1": rtmrs[1].hex().upper()}
        if entry not in out:
            out.append(entry)
    return out


# --------------------------------------------------------------------------- documents

def _hex(b: bytes) -> str:
    return b.hex().upper()


def td_identity(facts: TdFacts, tcb_date: str) -> dict[str, Any]:
    """A ``tdIdentity`` with one UpToDate TCB level covering :data:`ENGINE_SVN`."""
    info = facts.tdinfo
    return {
        "id": str(uuidlib.uuid4()).upper(), "version": 1,
        "issueDate": "2025-01-01T00:00:00Z", "nextUpdate": "2049-12-31T00:00:00Z",
        "tcbEvaluationNumber": 1,
        "xfam": _hex(info.xfam), "attributes": _hex(info.attributes),
        "mrConfigId": _hex(info.mrconfigid), "mrOwner": _hex(info.mrowner),
        "mrOwnerConfig": _hex(info.mrownerconfig), "mrsigner": _hex(bytes(48)),
        "isvProdId": 1,
        "tcbLevels": [{"tcb": {"isvsvn": ENGINE_SVN}, "tcbDate": tcb_date, "tcbStatus": "UpToDate"}],
    }


def tcb_mapping(measurements: list[dict[str, str]]) -> dict[str, Any]:
    """A ``tdTcbMapping`` giving every measured engine :data:`ENGINE_SVN`."""
    return {
        "id": str(uuidlib.uuid4()).upper(), "version": 1,
        "issueDate": "2025-01-01T00:00:00Z", "nextUpdate": "2049-12-31T00:00:00Z",
        "mrSigner": _hex(bytes(48)), "isvProdId": 1,
        "svnMappings": [{"tdMeasurements": m, "isvsvn": ENGINE_SVN} for m in measurements],
    }


def _sign_value(value: Any, signer: Signer, name: str) -> Any:
    """Sign ``value`` as json-signer would and return the container as a JSON value."""
    signed = sign_document(jsontext.compact(value).encode("utf-8"), signer.key_pem, name)
    return jsontext.loads(signed.decode("utf-8"))


def servtd_collateral(facts: TdFacts, signers: Signers, measurements: list[dict[str, str]],
                      tcb_date: str) -> dict[str, Any]:
    """``servtdCollateral``: signed identity and mapping with the chains that verify them."""
    return {
        "majorVersion": 1, "minorVersion": 0,
        "servtdIdentity": _sign_value(td_identity(facts, tcb_date), signers.identity, "tdIdentity"),
        "servtdIdentityIssuerChain": signers.identity.chain_pem.decode("ascii"),
        "servtdTcbMapping": _sign_value(tcb_mapping(measurements), signers.mapping, "tdTcbMapping"),
        "servtdTcbMappingIssuerChain": signers.mapping.chain_pem.decode("ascii"),
    }


def _prop(operation: str, reference: Any) -> dict[str, Any]:
    return {"operation": operation, "reference": reference}


def policy_data(facts: TdFacts, collateral_json: bytes, servtd: dict[str, Any], *, policy_svn: int = 1,
                forward_min_isvsvn: int | None = None, policy_id: str | None = None) -> dict[str, Any]:
    """The ``policyData`` object: global TCB/platform/CRL rules at the report's values.

    Each reference is the boundary value the verified mock report has, so the
    mock TD satisfies the policy exactly and nothing weaker. The ServTD rule
    requires the engine SVN of the mapping. ``forward_min_isvsvn`` adds a
    ``forwardPolicy`` that a source applies to its destination — a way to
    build a policy the peer cannot satisfy (the negative scenarios).
    """
    report = facts.verified_report
    collaterals = jsontext.loads(collateral_json.decode("utf-8"))
    parsed = parse_collaterals(collaterals, "collaterals")
    fmspc = rpt.field(report, "FMSPC")
    data: dict[str, Any] = {
        "id": policy_id or str(uuidlib.uuid4()).upper(),
        "version": "2.0",
        "policySvn": policy_svn,
        "policy": [
            {"global": {
                "tcb": {
                    "tcbEvaluationDataNumber": _prop("greater-or-equal", parsed.tcb_evaluation_number(fmspc)),
                    "tcbDate": _prop("greater-or-equal", rpt.iso8601(rpt.tcb_date_seconds(report))),
                    "tcbStatusAccepted": _prop("allow-list", ["UpToDate", "ConfigurationNeeded"]),
                },
                "platform": {"fmspc": _prop("allow-list", [fmspc.hex().upper()])},
                "crl": {"pckCrlNum": _prop("greater-or-equal", parsed.pck_crl_num),
                        "rootCaCrlNum": _prop("greater-or-equal", parsed.root_ca_crl_num)},
            }},
            {"servtd": {"migtdIdentity": {
                "isvsvn": _prop("greater-or-equal", ENGINE_SVN),
                "tcbStatusAccepted": _prop("allow-list", ["UpToDate"]),
            }}},
        ],
    }
    if forward_min_isvsvn is not None:
        data["forwardPolicy"] = [{"servtd": {"migtdIdentity": {
            "isvsvn": _prop("greater-or-equal", forward_min_isvsvn)}}}]
    data["collaterals"] = collaterals
    data["servtdCollateral"] = servtd
    return data


@dataclass(frozen=True)
class GeneratedPolicy:
    """A signed policy file and the issuer chain that verifies it."""

    policy: bytes
    chain: bytes
    verified: VerifiedPolicy


def build_signed_policy(facts: TdFacts, collateral_json: bytes, signers: Signers, *,
                        peer_chains: Sequence[bytes] = (), policy_svn: int = 1,
                        forward_min_isvsvn: int | None = None) -> GeneratedPolicy:
    """Sign identity, mapping and policy; ``peer_chains`` are other chains the mapping must cover."""
    chains = [signers.policy.chain_pem, *peer_chains]
    meas = measurements_for(facts, chains)
    tcb_date = rpt.iso8601(rpt.tcb_date_seconds(facts.verified_report))
    servtd = servtd_collateral(facts, signers, meas, tcb_date)
    data = policy_data(facts, collateral_json, servtd, policy_svn=policy_svn,
                       forward_min_isvsvn=forward_min_isvsvn)
    signed = sign_document(jsontext.compact(data).encode("utf-8"), signers.policy.key_pem, "policyData")
    verified = verify_signed_policy(signed, signers.policy.chain_pem)
    return GeneratedPolicy(signed, signers.policy.chain_pem, verified)


def signer_fingerprint(chain_pem: bytes) -> str:
    """First 8 bytes (hex) of SHA-384 of the leaf's public point: tells rotated keys apart in output."""
    return signer_key_hash(chain_pem)[:8].hex().upper()
