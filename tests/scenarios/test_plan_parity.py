"""``migtdemu.sh`` and ``migtd-console`` start the same ``migtd`` for the same request.

For every attestation mode (the captured-quote variant of mock-report
included), both policy versions and the rebinding operations, the runner
script is run for real — a copy of it whose ``.venv/bin/migtd`` records the
argv and environment it is started with, while ``migtd-tool`` is the real
one — and the console's parameters are built from its own flags. The two
must be identical, except that the console asks for JSON events
(``--log-format json``), its only presentation choice. Requests neither can
run are refused by both, before anything starts.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tui.params import build_parser, params_from_args

ROOT = Path(__file__).resolve().parents[2]
RECORDER = """#!{python}
import json, os, sys
keep = {{k: v for k, v in os.environ.items() if k.startswith(("MIGTD_", "MOCK_", "RUST_", "TSS2_"))}}
with open(os.environ["PARITY_OUT"], "w") as out:
    json.dump({{"argv": sys.argv[1:], "env": keep}}, out)
"""


@pytest.fixture(scope="module")
def runner(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A copy of the script whose migtd only records how it was started; the real migtd-tool."""
    where = tmp_path_factory.mktemp("runner")
    shutil.copy(ROOT / "migtdemu.sh", where / "migtdemu.sh")
    bin_dir = where / ".venv" / "bin"
    bin_dir.mkdir(parents=True)
    fake = bin_dir / "migtd"
    fake.write_text(RECORDER.format(python=sys.executable))
    fake.chmod(0o755)
    (bin_dir / "migtd-tool").symlink_to(Path(sys.executable).with_name("migtd-tool"))
    return where


@pytest.fixture(scope="module")
def files(tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    where = tmp_path_factory.mktemp("inputs")
    names = {"policy_v2": "policy_v2.json", "chain": "chain.pem", "root": "root_ca.der",
             "collateral": "collateral.json", "quote": "quote.bin", "init": "init.bin"}
    for name in names.values():
        (where / name).write_bytes(b"an input")
    return {key: str(where / name) for key, name in names.items()}


def script(runner: Path, args: list[str], collateral: str | None, cwd: Path) -> tuple[int, dict | None, str]:
    out = cwd / "started.json"
    env = {"PATH": os.environ["PATH"], "HOME": str(cwd), "PARITY_OUT": str(out)}
    if collateral:
        env["MIGTD_COLLATERAL_FILE"] = collateral
    done = subprocess.run(["bash", str(runner / "migtdemu.sh"), "--no-sudo", *args], cwd=cwd, env=env,
                          check=False, capture_output=True, text=True, timeout=60)
    started = json.loads(out.read_text()) if out.exists() else None
    return done.returncode, started, done.stderr


def console(args: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, dict | None, str]:
    role = args[args.index("--role") + 1]
    try:
        params = params_from_args(build_parser().parse_args(args), "/opt/migtd")
    except SystemExit as exc:
        return int(exc.code or 0), None, capsys.readouterr().err
    return 0, {"argv": params.argv(role), "env": params.env(role)}, ""


MODES = {  # mode → (flags of both runners, whether the collateral is named)
    "skip-ra": (["--skip-ra"], False),
    "mock-report": (["--mock-report"], False),
    "mock-quote-file": (["--mock-report", "--mock-quote-file", "{quote}", "--root-ca-file", "{root}"], True),
    "azure": (["--root-ca-file", "{root}"], True),
}
CASES = [(mode, version, "migration") for mode in MODES for version in (1, 2)]
CASES += [(mode, 2, op) for mode in MODES for op in ("rebind-prepare", "rebind-finalize")]


@pytest.mark.parametrize(("mode", "version", "operation"), CASES)
def test_script_and_console_start_the_same_migtd(runner, files, tmp_path, capsys, mode, version,  # type: ignore[no-untyped-def]
                                                 operation) -> None:
    role = "source" if CASES.index((mode, version, operation)) % 2 else "destination"
    same_start(runner, files, tmp_path, capsys, mode, version, operation, role)


#: Upstream feature names given to the script → the console's flags → what migtd is started with (issue #14).
FEATURES = {"spdm_attestation": (["--spdm"], ["--key-exchange", "spdm"]),
            "igvm-attest": (["--igvm-attest"], ["--quote-request", "igvm"]),
            "spdm_attestation,igvm-attest": (["--spdm", "--igvm-attest"],
                                             ["--key-exchange", "spdm", "--quote-request", "igvm"])}
FEATURE_CASES = [("spdm_attestation", mode, version, "migration") for mode in MODES for version in (1, 2)]
FEATURE_CASES += [("spdm_attestation", mode, 2, "rebind-prepare") for mode in MODES]
FEATURE_CASES += [("igvm-attest", mode, 1, "migration") for mode in MODES]
FEATURE_CASES += [("spdm_attestation,igvm-attest", mode, 2, "migration") for mode in MODES]


@pytest.mark.parametrize(("features", "mode", "version", "operation"), FEATURE_CASES)
def test_spdm_and_igvm_features_start_the_same_migtd(runner, files, tmp_path, capsys, features, mode,  # type: ignore[no-untyped-def]
                                                     version, operation) -> None:
    """``--features spdm_attestation``/``igvm-attest`` in the script, ``--spdm``/``--igvm-attest`` in the console."""
    console_flags, migtd_flags = FEATURES[features]
    role = "source" if FEATURE_CASES.index((features, mode, version, operation)) % 2 else "destination"
    started = same_start(runner, files, tmp_path, capsys, mode, version, operation, role,
                         ["--features", features], console_flags)
    if started is not None:
        argv = started["argv"]
        for flag, value in zip(migtd_flags[::2], migtd_flags[1::2]):
            assert argv[argv.index(flag) + 1] == value


def same_start(runner, files, tmp_path, capsys, mode, version, operation, role,  # type: ignore[no-untyped-def]
               script_extra=(), console_extra=()) -> dict | None:
    """Run the script and build the console's parameters for one request; both must start the same migtd."""
    flags, named_collateral = MODES[mode]
    common = [f.format(**files) for f in flags] + ["--operation", operation]
    if version == 2:
        common += ["--policy-v2", "--policy-file", files["policy_v2"], "--policy-issuer-chain-file", files["chain"],
                   "--init-migtd-data", files["init"]]
    collateral = files["collateral"] if named_collateral else None
    s_code, s_started, s_err = script(runner, ["--role", role, *common, *script_extra], collateral, tmp_path)
    c_args = ["--role", role, *common, *console_extra] + (["--collateral-file", collateral] if collateral else [])
    _, c_started, c_err = console(c_args, capsys)
    assert s_code == 0 and s_started is not None, s_err
    assert c_started is not None, c_err
    argv = list(c_started["argv"])
    at = argv.index("--log-format")
    assert argv[at:at + 2] == ["--log-format", "json"]
    del argv[at:at + 2]
    assert s_started["argv"] == argv
    assert s_started["env"] == c_started["env"]
    assert s_started["argv"][:2] == ["--role", role]
    assert s_started["env"].get("MIGTD_INIT_MIGTD_DATA_FILE") == (files["init"] if version == 2 else None)
    return s_started


@pytest.mark.parametrize("problem", ["policy v1", "missing"])
def test_both_refuse_init_data_they_cannot_pass(runner, files, tmp_path, capsys, problem) -> None:  # type: ignore[no-untyped-def]
    """initMigtdData needs policy v2 (a v1 MigTD rejects it) and must exist, checked before anything starts."""
    flags = ["--role", "source", "--skip-ra", "--init-migtd-data",
             files["init"] if problem == "policy v1" else str(tmp_path / "absent.bin")]
    if problem == "missing":
        flags += ["--policy-v2", "--policy-file", files["policy_v2"], "--policy-issuer-chain-file", files["chain"]]
    s_code, s_started, s_err = script(runner, flags, None, tmp_path)
    c_code, c_started, c_err = console(flags, capsys)
    assert (s_code, c_code) == (1, 1) and s_started is None and c_started is None
    says = ("--init-migtd-data needs --policy-v2" if problem == "policy v1"
            else f"Init MigTD data file not found: {tmp_path / 'absent.bin'}")
    assert says in s_err and says in c_err


def test_both_refuse_a_mock_quote_without_its_collateral(runner, files, tmp_path, capsys) -> None:  # type: ignore[no-untyped-def]
    flags = ["--role", "source", "--mock-quote-file", files["quote"], "--root-ca-file", files["root"]]
    s_code, s_started, s_err = script(runner, flags, None, tmp_path)
    c_code, c_started, c_err = console(flags, capsys)
    assert (s_code, c_code) == (1, 1) and s_started is None and c_started is None
    assert "--mock-quote-file needs the collateral of the quote's platform: name it with MIGTD_COLLATERAL_FILE" in s_err
    assert c_err.strip() == ("migtd-console: --mock-quote-file needs the collateral of the quote's platform: "
                             "name it with --collateral-file (or fetch it: MIGTD_COLLATERAL_SOURCE)")


def test_both_refuse_an_output_that_is_an_input(runner, files, tmp_path) -> None:  # type: ignore[no-untyped-def]
    """--both writes migtd_<op>_<role>.log: naming one of them as the policy is refused before anything runs."""
    policy = tmp_path / "migtd_migration_source.log"
    policy.write_text('{"id": "keep me"}')
    code, started, err = script(runner, ["--both", "--skip-ra", "--policy-file", policy.name], None, tmp_path)
    assert code == 1 and started is None
    assert "source log file migtd_migration_source.log is the policy file" in err
    assert policy.read_text() == '{"id": "keep me"}'


@pytest.mark.parametrize("mode", ["azure", "mock-quote-file"])
def test_a_collateral_source_stands_in_for_the_collateral_file_in_both(runner, files, tmp_path, capsys,  # type: ignore[no-untyped-def]
                                                                       monkeypatch, mode) -> None:
    """MIGTD_COLLATERAL_SOURCE in the operator's environment: both runners start migtd with it, no file."""
    flags = ["--role", "source", *(f.format(**files) for f in MODES[mode][0])]
    out = tmp_path / "started.json"
    env = {"PATH": os.environ["PATH"], "HOME": str(tmp_path), "PARITY_OUT": str(out),
           "MIGTD_COLLATERAL_SOURCE": "thim:useast"}
    done = subprocess.run(["bash", str(runner / "migtdemu.sh"), "--no-sudo", *flags], cwd=tmp_path, env=env,
                          check=False, capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    s_started = json.loads(out.read_text())
    monkeypatch.setenv("MIGTD_COLLATERAL_SOURCE", "thim:useast")
    _, c_started, c_err = console(flags, capsys)
    assert c_started is not None, c_err
    for started in (s_started, c_started):
        assert started["env"]["MIGTD_COLLATERAL_SOURCE"] == "thim:useast"
        assert "MIGTD_COLLATERAL_FILE" not in started["env"]
    assert s_started["env"] == c_started["env"]


def test_a_generated_policy_is_regenerated_but_never_clobbered_by_another_output(tmp_path) -> None:  # type: ignore[no-untyped-def]
    from migtd.plan import PlanError, RunRequest, plan

    folder = tmp_path / "config" / "AzCVMEmu"       # where upstream's runner writes it
    folder.mkdir(parents=True)
    generated = folder / "policy_v2_signed.json"
    generated.write_text("the last run's policy")
    (folder / "policy_issuer_chain.pem").write_text("the last run's chain")
    request = {"roles": ("destination", "source"), "attestation": "mock-report", "policy_version": 2,
               "generate_into": str(tmp_path), "front": "script"}
    run = plan(RunRequest(**request))  # a re-run in the same folder
    assert run.generate[:6] == ("policy", "generate-v2", "--out", str(generated),
                                "--chain-out", str(folder / "policy_issuer_chain.pem"))
    assert run.policy["source"] == str(generated)
    with pytest.raises(PlanError, match="is the policy file"):
        plan(RunRequest(**request, log_files={"source": str(generated)}))
    # an input that the generation would overwrite is refused too (here the init MigTD data)
    with pytest.raises(PlanError, match="generated issuer chain .* is the init MigTD data file"):
        plan(RunRequest(**request, init_migtd_data=str(folder / "policy_issuer_chain.pem")))
