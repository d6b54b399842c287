"""``--key-exchange`` / ``MIGTD_KEY_EXCHANGE`` and ``--quote-request`` / ``MIGTD_QUOTE_REQUEST`` on ``migtd``.

Bad values are one line and exit 1 (with the usage, like every option of
``migtd``); the help names both; and an RA-TLS run never imports the SPDM
stack (start-up cost stays where it was: ``python -X importtime``).
"""

from __future__ import annotations

import subprocess
import sys

import pytest

from .conftest import MIGTD


def _run(args: list[str], env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(MIGTD + args, env=env, capture_output=True, text=True, timeout=30, check=False)


@pytest.mark.parametrize("args, extra, line", [
    (["--key-exchange", "tls"], {}, "Invalid key exchange: tls. Use 'ratls' or 'spdm'"),
    ([], {"MIGTD_KEY_EXCHANGE": "SPDM2"}, "Invalid MIGTD_KEY_EXCHANGE value: SPDM2. Use 'ratls' or 'spdm'"),
    (["--quote-request", "qgs"], {}, "Invalid quote request: qgs. Use 'direct' or 'igvm'"),
    ([], {"MIGTD_QUOTE_REQUEST": "igvm-attest"},
     "Invalid MIGTD_QUOTE_REQUEST value: igvm-attest. Use 'direct' or 'igvm'"),
])
def test_bad_values_are_one_line_and_exit_1(cases, args: list[str], extra: dict[str, str], line: str) -> None:  # type: ignore[no-untyped-def]
    done = _run(["-m", "dst", *args], dict(cases("skip-ra", 1).env, **extra))
    assert done.returncode == 1
    assert done.stdout.splitlines()[0] == line
    assert "Traceback" not in done.stdout + done.stderr


def test_values_are_case_insensitive_and_the_flag_wins_over_the_environment(cases, port) -> None:  # type: ignore[no-untyped-def]
    from migtd.cli.args import parse_args
    from migtd.cli.config import merge_env

    opts = merge_env(parse_args(["--key-exchange", "SPDM", "--quote-request", "IGVM"]),
                     {"MIGTD_KEY_EXCHANGE": "ratls", "MIGTD_QUOTE_REQUEST": "direct"})
    assert (opts.key_exchange, opts.quote_request) == ("spdm", "igvm")
    opts = merge_env(parse_args([]), {"MIGTD_KEY_EXCHANGE": "spdm"})
    assert (opts.key_exchange, opts.quote_request) == ("spdm", "direct")
    assert merge_env(parse_args([]), {}).key_exchange == "ratls"


def test_help_names_both_options() -> None:
    done = subprocess.run(MIGTD + ["--help"], capture_output=True, text=True, timeout=30, check=False)
    assert done.returncode == 0
    assert "--key-exchange ratls|spdm" in done.stdout and "--quote-request direct|igvm" in done.stdout
    assert "MIGTD_KEY_EXCHANGE" in done.stdout and "MIGTD_QUOTE_REQUEST" in done.stdout


def test_an_ratls_run_never_imports_the_spdm_stack(procs, cases, port) -> None:  # type: ignore[no-untyped-def]
    """Both sides of an RA-TLS migration under ``python -X importtime``: no ``migtd.spdm`` module at all."""
    env = dict(cases("skip-ra", 1).env, MIGTD_KEY_EXCHANGE="ratls")
    dst = procs.processes.popen([sys.executable, "-X", "importtime", "-m", "migtd", "-m", "dst", "-t", str(port)],
                                env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    src = procs.processes.popen([sys.executable, "-X", "importtime", "-m", "migtd", "-m", "src", "-t", str(port)],
                                env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    (_, s_err), (_, d_err) = src.communicate(timeout=60), dst.communicate(timeout=60)
    assert (src.returncode, dst.returncode) == (0, 0), s_err + d_err
    for err in (s_err, d_err):
        imported = [line.rsplit("|", 1)[-1].strip() for line in err.splitlines() if line.startswith("import time:")]
        assert "migtd.session" in imported and "OpenSSL.SSL" in imported
        assert not [m for m in imported if m.startswith(("migtd.spdm", "migtd.emu.igvm"))]
    # and an SPDM run does import it, and needs no pyOpenSSL (the same port: the first pair is done with it)
    env = dict(env, MIGTD_KEY_EXCHANGE="spdm")
    dst = procs.processes.popen([sys.executable, "-X", "importtime", "-m", "migtd", "-m", "dst", "-t", str(port)],
                                env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    src = procs.processes.popen([sys.executable, "-X", "importtime", "-m", "migtd", "-m", "src", "-t", str(port)],
                                env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    (_, s_err), (_, d_err) = src.communicate(timeout=60), dst.communicate(timeout=60)
    assert (src.returncode, dst.returncode) == (0, 0), s_err + d_err
    for err in (s_err, d_err):
        imported = [line.rsplit("|", 1)[-1].strip() for line in err.splitlines() if line.startswith("import time:")]
        assert "migtd.spdm_session" in imported and "OpenSSL.SSL" not in imported
