"""The attestation-mode registry: one definition per mode, and every front end reads it.

Pins: the ``--attestation`` names and aliases; ``mock-report`` with
``MOCK_QUOTE_FILE`` is its own variant (captured quote, bypasses, trust files
required); each mode's trust inputs and defaults per policy version; the
verifier and provider each mode builds for migration and rebinding; and
that ``migtd --help``, ``migtd-console`` and ``migtdemu.sh`` offer every mode
under the names the registry gives it.
"""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from migtd import eventlog, modes, paths
from migtd.errors import ConfigError, MigtdError
from migtd.result import MigrationResult
from migtd.verdict import AZCVMEMU_BYPASSES

ROOT = Path(__file__).resolve().parents[2]


def setup(operation: str = "migration", policy_version: int = 1, env: dict[str, str] | None = None) -> modes.Setup:
    return modes.Setup(operation, policy_version, b'{"p": 1}', b"chain", env or {}, 60.0)


def test_names_aliases_and_keys() -> None:
    assert modes.names() == ("azure", "mock-report", "skip-ra") and modes.DEFAULT == "azure"
    assert len({m.key for m in modes.MODES}) == len(modes.MODES)
    for spelling, key in (("azure", "azure"), ("MOCK_REPORT", "mock-report"), (" skip_ra ", "skip-ra")):
        mode = modes.by_name(spelling)
        assert mode is not None and mode.key == key
    assert modes.by_name("mock-quote-file") is None  # a variant, not a name of its own
    with pytest.raises(ConfigError, match="Use 'azure', 'mock-report' or 'skip-ra'"):
        modes.resolve("tpm", {})


def test_mock_quote_file_selects_the_captured_quote_variant_of_mock_report_only() -> None:
    quote = {"MOCK_QUOTE_FILE": "/q.bin"}
    assert modes.resolve("mock-report", quote).key == "mock-quote-file"
    assert modes.resolve("mock-report", {}).key == "mock-report"
    assert modes.resolve("skip-ra", quote).key == "skip-ra"   # skip-RA derives only its TD report from it
    assert modes.resolve("azure", quote).key == "azure"       # ignored, as upstream ignores it


def test_bypasses_and_quote_sources() -> None:
    table = {m.key: (m.quote_source, m.bypasses) for m in modes.MODES}
    assert table == {"azure": ("azure-imds", AZCVMEMU_BYPASSES), "mock-report": ("mock-qe", ()),
                     "mock-quote-file": ("mock-quote-file", AZCVMEMU_BYPASSES), "skip-ra": ("skip-ra", ())}


def test_trust_inputs_and_their_defaults() -> None:
    mock = modes.by_key("mock-report").trust_inputs(1)
    assert [(t.var, t.default() if t.default else None) for t in mock] == [
        ("MIGTD_ROOT_CA_FILE", paths.mock_root_ca()), ("MIGTD_COLLATERAL_FILE", paths.mock_collateral())]
    captured = modes.by_key("mock-quote-file").trust_inputs(1)
    assert [t.default for t in captured] == [None, None]
    with pytest.raises(ConfigError, match="MIGTD_ROOT_CA_FILE must name the root CA of that quote"):
        modes.resolve_trust(captured, {})
    azure = modes.by_key("azure").trust_inputs(1)
    assert azure[0].default is not None and azure[1].default is None
    with pytest.raises(ConfigError, match="azure: MIGTD_COLLATERAL_FILE must name"):
        modes.resolve_trust(azure, {"MIGTD_ROOT_CA_FILE": "/r"})
    assert all(m.trust_inputs(2) == () for m in modes.MODES)   # policy v2 embeds its collaterals
    assert modes.by_key("skip-ra").trust_inputs(1) == ()


def test_a_collateral_source_replaces_the_collateral_file() -> None:
    """MIGTD_COLLATERAL_SOURCE stands in for MIGTD_COLLATERAL_FILE in every DCAP mode (and wins over a default)."""
    source = {"MIGTD_COLLATERAL_SOURCE": "pcs"}
    for key in ("azure", "mock-quote-file", "mock-report"):
        inputs = modes.by_key(key).trust_inputs(1)
        resolved = modes.resolve_trust(inputs, {"MIGTD_ROOT_CA_FILE": "/r", **source})
        assert resolved == {"MIGTD_ROOT_CA_FILE": "/r"}, key
        named = {"MIGTD_ROOT_CA_FILE": "/r", "MIGTD_COLLATERAL_FILE": "/c", **source}
        assert modes.resolve_trust(inputs, named)["MIGTD_COLLATERAL_FILE"] == "/c"   # a named file wins
    labels = [label for label, _ in modes.by_key("mock-report").input_files(1, source)]
    assert "collateral file" not in labels and "root CA file" in labels
    with pytest.raises(ConfigError, match="or MIGTD_COLLATERAL_SOURCE"):
        modes.resolve_trust(modes.by_key("azure").trust_inputs(1), {})


def test_trust_anchors_with_a_source_fetch_per_quote_and_check_the_source_at_start() -> None:
    from migtd.attest.pcs_fetch import CollateralFetcher

    env = {"MIGTD_COLLATERAL_SOURCE": "pccs:https://127.0.0.1:1"}
    anchors = modes.by_key("azure").trust_anchors(1, env)
    assert anchors.root_ca_der == paths.intel_root_ca().read_bytes()   # the shipped Intel root by default
    assert anchors.collateral is None and isinstance(anchors.fetch, CollateralFetcher)
    with pytest.raises(ConfigError, match="Invalid MIGTD_COLLATERAL_SOURCE"):
        modes.by_key("azure").trust_anchors(1, {"MIGTD_COLLATERAL_SOURCE": "ftp://x"})


def test_each_mode_builds_its_verifier() -> None:
    from migtd.verifiers.dcap import DcapPeerVerifier
    from migtd.verifiers.skip_ra import SkipRaRebindVerifier, SkipRaVerifier

    skip = modes.by_key("skip-ra")
    assert isinstance(skip.verifier(setup()), SkipRaVerifier)
    assert isinstance(skip.verifier(setup("rebind-prepare", 2)), SkipRaRebindVerifier)
    assert isinstance(modes.by_key("mock-report").verifier(setup()), DcapPeerVerifier)
    dcap = modes.by_key("mock-quote-file").verifier(setup(env={"MIGTD_ROOT_CA_FILE": str(paths.mock_root_ca()),
                                                              "MIGTD_COLLATERAL_FILE": str(paths.mock_collateral())}))
    assert isinstance(dcap, DcapPeerVerifier) and dcap.bypass is True
    with pytest.raises(MigtdError) as err:   # azure rebinds with the TDREPORT verifier, which verifies the policy
        modes.by_key("azure").verifier(setup("rebind-prepare", 2))
    assert err.value.result == MigrationResult.InvalidPolicyError
    assert [m.key for m in modes.MODES if m.rebinding] == ["azure", "mock-report", "mock-quote-file", "skip-ra"]


def test_event_logs_per_mode() -> None:
    assert modes.by_key("skip-ra").event_log(1, b"p", b"r", b"") == eventlog.skip_ra_event_log()
    assert modes.by_key("mock-report").event_log(1, b"p", b"r", b"") == eventlog.v1_event_log(b"p", b"r")
    assert modes.by_key("azure").event_log(2, b"p", b"", b"c") == eventlog.v2_event_log(b"c", b"p")


def test_every_front_end_offers_every_mode_by_its_registry_name() -> None:
    from migtd.cli.args import USAGE
    from tui.params import build_parser

    console_help = build_parser().format_help()
    script_help = subprocess.run(["bash", str(ROOT / "migtdemu.sh"), "--help"], check=True, capture_output=True,
                                 text=True, timeout=30).stdout
    for mode in modes.MODES:
        if mode.key == mode.name:
            assert mode.name in USAGE
        for flag, text in ((mode.console_flag, console_help), (mode.script_flag, script_help)):
            if flag is not None:
                assert flag in text, (mode.key, flag)
