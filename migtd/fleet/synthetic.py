"""Synthetic fleets: evidence for many hosts in chosen profiles, quoted by a mock QE.

Benchmarks and tests need fleets that no lab has — a thousand hosts, two
platforms (FMSPCs), several TCB levels, odd measurements — whose quotes go
through the real DCAP verifier. :class:`FleetPki` is a fresh mock PKI (root,
PCK CA, TCB signer: the engine's mock PKI) extended with one PCK certificate
per FMSPC and a QE identity with two TCB levels; :class:`SyntheticQe` quotes
a TD report through it exactly as Intel's TD QE does (QE report certifying the
attestation key, PCK-signed; quote signed by the attestation key), with the QE
ISVSVN as a parameter. Each :class:`Profile` fixes what a host looks like; each
host gets its own REPORTDATA (hence its own quote), as real hosts do.

This is test and demo material (``migtd-tool fleet synth``): it mints keys,
and nothing in the trust path imports it.
"""

from __future__ import annotations

import dataclasses
import hashlib
import itertools
import random
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from migtd import __version__, eventlog
from migtd.fleet.engine_adapter import mock_material
from migtd.fleet.evidence import Evidence, FileDigest, report_data_for
from migtd.fleet.hosts import evidence_file_name

#: The two platforms of a synthetic fleet: the mock PKI's (Azure's) and a second SKU.
FMSPCS = (bytes.fromhex("90C06F000000"), bytes.fromhex("30806F000000"))
QE_AUTH_DATA = bytes(range(32))
#: TEE_TCB_SVNs reaching each TCB status of the mock TCB info.
TCB_UP_TO_DATE = bytes.fromhex("07010300000000000000000000000000")
TCB_PLATFORM_OUT_OF_DATE = bytes.fromhex("07010200000000000000000000000000")
TCB_MODULE_OUT_OF_DATE = bytes.fromhex("03010300000000000000000000000000")
TCB_REVOKED = bytes.fromhex("07010100000000000000000000000000")
TCB_LEVELS = {"UpToDate": TCB_UP_TO_DATE, "OutOfDate(platform)": TCB_PLATFORM_OUT_OF_DATE,
              "OutOfDate(module)": TCB_MODULE_OUT_OF_DATE}
EPOCH = datetime(2026, 1, 1, tzinfo=UTC)


def _variant(base: bytes, n: int) -> bytes:
    """``base`` with its last byte changed ``n`` steps (n = 0: ``base``)."""
    return base if n == 0 else base[:-1] + bytes([(base[-1] + n) % 256])


@dataclass(frozen=True)
class Profile:
    """What one class of synthetic hosts looks like (defaults: the mock TD on the first platform)."""

    name: str = "base"
    fmspc: int = 0                       # index into FMSPCS
    tee_tcb_svn: bytes = TCB_UP_TO_DATE
    mrtd: int = 0                        # variant of the mock MRTD (0 = the mock TD's)
    mrseam: int = 0
    xfam: bytes = bytes.fromhex("e718060000000000")
    td_attributes: bytes = bytes(8)
    mrconfigid: int = 0                  # variant number written into MRCONFIGID
    qe_isvsvn: int = 4                   # 4: the QE identity's UpToDate level; 2: OutOfDate
    other_root_ca: bool = False          # v1: the MigTD measured another root CA file
    tampered_log: bool = False           # the event log no longer replays to the quote's RTMRs
    broken_signature: bool = False       # the quote's signature is damaged (does not verify)
    quote_source: str = "mock-qe"        # provider name; any other than mock-qe: RTMRs are the platform's,
    #                                      not replayed from the MigTD's log (like Azure)


class SyntheticQe:
    """Quotes TD reports through one PCK leaf of a :class:`FleetPki`, with a chosen QE ISVSVN."""

    def __init__(self, pck_chain_pem: bytes, pck_key: Any, attestation_key: Any, qe_isvsvn: int) -> None:
        from cryptography.hazmat.primitives import serialization

        from migtd.attest.quote import (
            ATT_KEY_TYPE_ECDSA_P256,
            CERT_TYPE_PCK_CHAIN,
            INTEL_QE_VENDOR_ID,
            TEE_TYPE_TDX,
            QeCertData,
            QeReport,
            QuoteHeader,
        )

        m = mock_material()
        self._m = m
        self._att_key = attestation_key
        chain = pck_chain_pem.rstrip(b"\0") + b"\0"
        point = attestation_key.public_key().public_bytes(serialization.Encoding.X962,
                                                          serialization.PublicFormat.UncompressedPoint)[1:]
        self._att_pub = point
        qe = QeReport(cpusvn=bytes(m.PCK_TCB_COMPONENTS), miscselect=bytes(4), isvextprodid=bytes(16),
                      attributes=m.QE_ATTRIBUTES, mrenclave=m.QE_MRENCLAVE, mrsigner=m.QE_MRSIGNER,
                      configid=bytes(64), isvprodid=m.QE_ISVPRODID, isvsvn=qe_isvsvn, configsvn=0,
                      isvfamilyid=bytes(16),
                      report_data=hashlib.sha256(point + QE_AUTH_DATA).digest() + bytes(32))
        raw = qe.to_bytes()
        self._cert = QeCertData(qe, raw, m.raw_signature(pck_key, raw), QE_AUTH_DATA, CERT_TYPE_PCK_CHAIN, chain)
        self._header = QuoteHeader(4, ATT_KEY_TYPE_ECDSA_P256, TEE_TYPE_TDX, bytes(4), INTEL_QE_VENDOR_ID,
                                   hashlib.sha256(chain).digest()[:16] + bytes(4))

    def quote(self, td_report: bytes) -> bytes:
        """A v4 quote of a 1024-byte TD report."""
        from migtd.attest.quote import TdQuoteBody, encode_quote, signed_region
        from migtd.attest.tdreport import TdReport

        body = TdQuoteBody.from_td_report(TdReport.parse(td_report))
        signature = self._m.raw_signature(self._att_key, signed_region(self._header, body))
        return encode_quote(self._header, body, signature, self._att_pub, self._cert)


class FleetPki:
    """A fresh mock PKI with one PCK certificate per FMSPC and a two-level QE identity."""

    def __init__(self, fmspcs: Sequence[bytes] = FMSPCS) -> None:
        from cryptography.hazmat.primitives import serialization

        from migtd.attest.collateral import PlatformCollateral

        m = mock_material()
        pki = m.MockPki.generate(fmspc=fmspcs[0])
        self.fmspcs = tuple(fmspcs)
        self.root_ca_der: bytes = pki.root_ca_der
        signing_chain = m.pem(pki.tcb_signer, pki.root)
        self._leaves: dict[bytes, tuple[bytes, Any]] = {fmspcs[0]: (pki.pck_chain_pem.encode(), pki.pck_key)}
        for fmspc in fmspcs[1:]:
            key, cert = _pck_leaf(pki, fmspc)
            chain = m.pem(cert, pki.pck_ca, pki.root).encode()
            self._leaves[fmspc] = (chain, key)
        qe_doc = m.qe_identity_document()
        qe_doc["tcbLevels"] = [
            {"tcb": {"isvsvn": 4}, "tcbDate": "2024-11-13T00:00:00Z", "tcbStatus": "UpToDate"},
            {"tcb": {"isvsvn": 2}, "tcbDate": "2024-03-13T00:00:00Z", "tcbStatus": "OutOfDate"},
        ]
        platforms = tuple(PlatformCollateral(f.hex().upper(), signing_chain,
                                             m.pcs_body(pki.tcb_key, "tcbInfo", m.tcb_info_document(f)))
                          for f in fmspcs)
        self.collateral = dataclasses.replace(pki.collateral, platforms=platforms,
                                              qe_identity=m.pcs_body(pki.tcb_key, "enclaveIdentity", qe_doc))
        self.collateral_json: bytes = self.collateral.to_json()
        self.root_ca_pem: bytes = pki.root.public_bytes(serialization.Encoding.PEM)
        self._att_key = pki.attestation_key
        self._qes: dict[tuple[bytes, int], SyntheticQe] = {}
        self.policy_signer_chain = m.pem(*pki.policy_chain).encode()
        self.policy_signer_key = pki.policy_key

    def qe(self, fmspc: bytes, qe_isvsvn: int) -> SyntheticQe:
        """The QE quoting for platform ``fmspc`` at QE ISVSVN ``qe_isvsvn`` (cached)."""
        hit = self._qes.get((fmspc, qe_isvsvn))
        if hit is None:
            chain, key = self._leaves[fmspc]
            hit = self._qes[(fmspc, qe_isvsvn)] = SyntheticQe(chain, key, self._att_key, qe_isvsvn)
        return hit


def _pck_leaf(pki: Any, fmspc: bytes) -> tuple[Any, Any]:
    """Another PCK certificate under the mock PCK CA, certifying platform ``fmspc``."""
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    from migtd.attest.sgx_ext import SGX_EXTENSION_OID, SgxExtension

    m = mock_material()
    key = ec.generate_private_key(ec.SECP256R1())
    ext = SgxExtension(
        ppid=hashlib.sha256(b"synthetic ppid" + fmspc).digest()[:16], tcb_components=m.PCK_TCB_COMPONENTS,
        pcesvn=m.PCK_PCESVN, cpusvn=bytes(m.PCK_TCB_COMPONENTS), pce_id=b"\0\0", fmspc=fmspc, sgx_type=1,
        platform_instance_id=hashlib.sha256(b"synthetic platform" + fmspc).digest()[:16],
        configuration={"dynamicPlatform": True, "cachedKeys": False, "SMTEnabled": True})
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "MigTD-Py Mock SGX PCK Certificate"),
                      x509.NameAttribute(NameOID.ORGANIZATION_NAME, f"Synthetic {fmspc.hex().upper()}")])
    cert = (x509.CertificateBuilder().subject_name(name).issuer_name(pki.pck_ca.subject)
            .public_key(key.public_key()).serial_number(x509.random_serial_number())
            .not_valid_before(pki.pck_ca.not_valid_before_utc).not_valid_after(pki.pck_ca.not_valid_after_utc)
            .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
            .add_extension(x509.UnrecognizedExtension(x509.ObjectIdentifier(SGX_EXTENSION_OID), ext.to_der()),
                           critical=False)
            .sign(pki.pck_ca_key, hashes.SHA256()))
    return key, cert


@dataclass
class SyntheticFleet:
    """A PKI, the policy its hosts run, and the means to make each host's evidence."""

    pki: FleetPki
    policy: bytes                       # the policy every host runs (v1 JSON or signed v2)
    policy_version: int = 1
    issuer_chain: bytes = b""           # v2
    other_root_ca: bytes = field(default=b"")

    @classmethod
    def create(cls, policy: bytes | None = None) -> SyntheticFleet:
        """A fresh PKI running ``policy`` (default: the project's v1 ``config/policy.json``)."""
        from migtd import paths
        from migtd.inputs import read_input

        data = policy if policy is not None else read_input(paths.default_policy(), "policy file")
        return cls(FleetPki(), data, other_root_ca=_other_root_ca())

    def with_v2_policy(self, *, policy_svn: int = 1, forward_min_isvsvn: int | None = None,
                       signer: Any = None) -> tuple[bytes, bytes]:
        """A signed v2 policy for this fleet's base profile (and its chain); the fleet then runs it."""
        from migtd.attest.tdreport import TdInfo
        from migtd.attest.verify import verify_quote
        from migtd.policy.generate_v2 import IssuerCa, Signers, TdFacts, build_signed_policy

        signer = signer or IssuerCa.generate("Synthetic Fleet Policy").issue()
        base = Profile()
        chain = signer.chain_pem
        log = eventlog.v2_event_log(chain, b"{}")
        td = self.td_report(base, bytes(64), log)
        quote = self.pki.qe(FMSPCS[base.fmspc], base.qe_isvsvn).quote(td)
        verified = verify_quote(quote, self.pki.collateral, self.pki.root_ca_der)
        facts = TdFacts(verified.report, TdInfo.parse(td), False)
        gen = build_signed_policy(facts, self.pki.collateral_json, Signers.single(signer), policy_svn=policy_svn,
                                  forward_min_isvsvn=forward_min_isvsvn)
        return gen.policy, gen.chain

    def td_report(self, profile: Profile, report_data: bytes, log: bytes) -> bytes:
        """The TD report a host of ``profile`` produces (RTMRs replayed from ``log``)."""
        from migtd.attest.tdreport import TdInfo, TdReport, TeeTcbInfo

        m = mock_material()
        rtmrs = eventlog.replay_rtmrs(eventlog.parse_event_log(log)) if profile.quote_source == "mock-qe" \
            else [hashlib.sha384(b"platform RTMR%d" % i).digest() for i in range(4)]
        tee = TeeTcbInfo(valid=(1).to_bytes(8, "little"), tee_tcb_svn=profile.tee_tcb_svn,
                         mrseam=_variant(m.MOCK_MRSEAM, profile.mrseam))
        info = TdInfo(attributes=profile.td_attributes, xfam=profile.xfam, mrtd=_variant(m.MOCK_MRTD, profile.mrtd),
                      mrconfigid=profile.mrconfigid.to_bytes(48, "big"), rtmrs=tuple(rtmrs))  # type: ignore[arg-type]
        return TdReport.build(report_data=report_data, tee_tcb_info=tee, td_info=info,
                              cpusvn=profile.tee_tcb_svn).to_bytes()

    def evidence(self, host: str, profile: Profile, collected_at: datetime = EPOCH, *,
                 policy: bytes | None = None, issuer_chain: bytes | None = None) -> Evidence:
        """``host``'s evidence: its quote and the event log a MigTD running the fleet's policy presents."""
        policy = self.policy if policy is None else policy
        chain = self.issuer_chain if issuer_chain is None else issuer_chain
        root = self.other_root_ca if profile.other_root_ca else self.pki.root_ca_der
        if self.policy_version == 2:
            log = eventlog.v2_event_log(chain, policy)
        else:
            log = eventlog.v1_event_log(policy, root)
        report_data = report_data_for(host, collected_at)
        quote = self.pki.qe(FMSPCS[profile.fmspc], profile.qe_isvsvn).quote(self.td_report(profile, report_data, log))
        if profile.broken_signature:
            quote = _damage(quote)
        if profile.tampered_log:
            log = eventlog.build_event_log(eventlog.parse_event_log(log)
                                           + [eventlog.tagged_event(4, 0x7F, b"tampered", b"tampered")])
        return Evidence(host=host, collected_at=collected_at, tool=f"migtd-tool {__version__} (synthetic)",
                        attestation="mock-report", quote_source=profile.quote_source, report_data=report_data,
                        quote=quote, event_log=log, policy_version=self.policy_version,
                        policy=FileDigest.of(policy),
                        root_ca=FileDigest.of(root) if self.policy_version == 1 else None,
                        issuer_chain=FileDigest.of(chain) if self.policy_version == 2 else None)

    def write_anchors(self, out_dir: Path) -> dict[str, Path]:
        """``root_ca.der``, ``collateral.json`` and the policy (and chain) beside the evidence."""
        from migtd.inputs import write_atomic

        out_dir.mkdir(parents=True, exist_ok=True)
        files = {"root_ca": out_dir / "root_ca.der", "collateral": out_dir / "collateral.json"}
        write_atomic(files["root_ca"], self.pki.root_ca_der, "root CA file")
        write_atomic(files["collateral"], self.pki.collateral_json, "collateral file")
        if self.policy_version == 2:
            files["policy"] = out_dir / "policy_v2.json"
            files["issuer_chain"] = out_dir / "policy_issuer_chain.pem"
            write_atomic(files["issuer_chain"], self.issuer_chain, "issuer chain file")
        else:
            files["policy"] = out_dir / "policy.json"
        write_atomic(files["policy"], self.policy, "policy file")
        return files


def _damage(quote: bytes) -> bytes:
    """Flip one byte of the quote signature (bytes 636..700 of a v4 TD10 quote)."""
    buf = bytearray(quote)
    buf[640] ^= 0xFF
    return bytes(buf)


def _other_root_ca() -> bytes:
    """A self-signed root CA that is not the fleet's (a MigTD configured with the wrong root file)."""
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "Some Other Root CA")])
    root = (x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(key.public_key())
            .serial_number(1).not_valid_before(EPOCH - timedelta(days=1))
            .not_valid_after(EPOCH + timedelta(days=3650))
            .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
            .sign(key, hashes.SHA256()))
    return root.public_bytes(serialization.Encoding.DER)


def standard_profiles(count: int, seed: int = 1) -> list[Profile]:
    """``count`` distinct, verifiable profiles mixing platform, TCB level, QE, measurements.

    The first combinations are shuffled with ``seed`` so a small count still
    mixes every dimension; beyond 48 profiles MRCONFIGID variants are added.
    """
    dims = list(itertools.product(range(len(FMSPCS)), TCB_LEVELS.items(), (4, 2), (0, 1), (0, 1)))
    random.Random(seed).shuffle(dims)
    out: list[Profile] = []
    for extra in itertools.count():
        for fm, (tcb_name, tcb), qe, mrtd, xfam in dims:
            if len(out) == count:
                return out
            xfam_bytes = bytes.fromhex("e718060000000000") if xfam == 0 else bytes.fromhex("e71a060000000000")
            out.append(Profile(name=f"p{len(out) + 1:03d}-{FMSPCS[fm].hex().upper()}-{tcb_name}-qe{qe}-mrtd{mrtd}"
                                    f"-xfam{xfam}-cfg{extra}",
                               fmspc=fm, tee_tcb_svn=tcb, qe_isvsvn=qe, mrtd=mrtd, xfam=xfam_bytes,
                               mrconfigid=extra))
    return out


def host_names(count: int) -> list[str]:
    """``host-00001`` …: names sorted as numbered."""
    width = max(5, len(str(count)))
    return [f"host-{i:0{width}d}" for i in range(1, count + 1)]


def iter_evidence(fleet: SyntheticFleet, hosts: int, profiles: Sequence[Profile]) -> Iterator[Evidence]:
    """Evidence of ``hosts`` hosts, host *i* in profile *i mod len(profiles)*."""
    for i, name in enumerate(host_names(hosts)):
        yield fleet.evidence(name, profiles[i % len(profiles)], EPOCH + timedelta(seconds=i))


def write_fleet(out_dir: Path, fleet: SyntheticFleet, hosts: int, profiles: Sequence[Profile]) -> dict[str, Path]:
    """Evidence files for ``hosts`` hosts plus the anchors and policy; returns the anchor paths."""
    from migtd.inputs import write_atomic

    files = fleet.write_anchors(out_dir)
    for evidence in iter_evidence(fleet, hosts, profiles):
        write_atomic(out_dir / evidence_file_name(evidence.host), evidence.to_json(), "evidence file")
    return files
