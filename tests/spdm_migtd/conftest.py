"""Fixtures for SPDM inside ``migtd``: every attestation mode's configuration, in memory and as processes.

* ``cases``: ``cases(mode, policy_version)`` is a :class:`Case` — the
  environment a ``migtd`` of that mode runs with (``--key-exchange spdm``),
  policy v2 files generated once per session from the project's mock PKI
  (mock-report) or from upstream's captured Azure quote with Intel's
  collateral (``mock-quote-file``, through ``migtd.policy.generate_v2``).
* ``Case.side(role)`` builds one side exactly as ``migtd`` does
  (``migtd.cli.config.load`` then ``migtd.cli.runtime.prepare``: the mode's
  provider and verifier, the event log, the emulated TDCS) and wraps it in
  :class:`migtd.spdm_session.MigtdHooks`; :func:`pump` runs a requester
  against a responder in memory.
* ``procs``: real ``migtd`` processes (and scripted peers), killed at the end.

Helpers are fixtures because tests are imported with ``--import-mode=importlib``.
"""

from __future__ import annotations

import io
import json
import os
import subprocess
import sys
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

from migtd import paths

if TYPE_CHECKING:
    from tests.conftest import Processes

MIGTD = [sys.executable, "-m", "migtd"]
VECTORS = Path(__file__).resolve().parents[1] / "vectors" / "attestation"
AZ_QUOTE = VECTORS / "az_migtd_quote.blob"
AZ_COLLATERAL = VECTORS / "collateral_azure_thim.json"
#: Attestation-mode keys (the registry's) exercised without a TPM; azure is in tests/azure/test_spdm.py.
MODES = ("skip-ra", "mock-report", "mock-quote-file")


def clean_env() -> dict[str, str]:
    return {k: v for k, v in os.environ.items()
            if not k.startswith(("MIGTD_", "MOCK_QUOTE", "RUST_LOG", "TSS2_"))}


# --------------------------------------------------------------------------- policy files

def write_v2_policy(where: Path, name: str, *, quote: bytes | None = None, collateral: bytes | None = None,
                    root_ca: bytes | None = None, forward_min_isvsvn: int | None = None) -> tuple[Path, Path]:
    """A signed v2 policy (and its issuer chain) as ``migtd-tool policy generate-v2`` writes it."""
    from migtd.policy.generate_v2 import Signer, Signers, build_signed_policy, mock_facts

    collateral = collateral if collateral is not None else paths.mock_collateral().read_bytes()
    root_ca = root_ca if root_ca is not None else paths.mock_root_ca().read_bytes()
    signer = Signer.load(paths.mock_dir() / "policy_signing_key.pem", paths.mock_dir() / "policy_issuer_chain.pem")
    gen = build_signed_policy(mock_facts(collateral, root_ca, quote), collateral, Signers.single(signer),
                              forward_min_isvsvn=forward_min_isvsvn)
    policy, chain = where / f"{name}_policy_v2.json", where / f"{name}_chain.pem"
    policy.write_bytes(gen.policy)
    chain.write_bytes(gen.chain)
    return policy, chain


@pytest.fixture(scope="session")
def policy_files(tmp_path_factory: pytest.TempPathFactory) -> dict[str, tuple[Path, Path]]:
    """Per mode, the policy v2 and chain both sides use (generated once)."""
    where = tmp_path_factory.mktemp("spdm_policies")
    skip_policy = where / "skip_policy.json"
    skip_policy.write_text('{"id": "skip-ra test policy"}')
    skip_chain = where / "skip_chain.pem"
    skip_chain.write_text("an issuer chain skip-RA does not verify")
    return {
        "skip-ra": (skip_policy, skip_chain),
        "mock-report": write_v2_policy(where, "mock"),
        "mock-quote-file": write_v2_policy(where, "quote", quote=AZ_QUOTE.read_bytes(),
                                           collateral=AZ_COLLATERAL.read_bytes(),
                                           root_ca=paths.intel_root_ca().read_bytes()),
    }


# --------------------------------------------------------------------------- cases


@dataclass
class Side:
    """One MigTD of an in-memory run: its hooks, its emulated TDCS and what it logged."""

    role: str
    hooks: Any
    plan: Any
    stream: io.StringIO

    @property
    def events(self) -> list[dict[str, Any]]:
        return [json.loads(line) for line in self.stream.getvalue().splitlines() if line.startswith("{")]

    def all(self, name: str) -> list[dict[str, Any]]:
        return [e for e in self.events if e["event"] == name]

    def event(self, name: str) -> dict[str, Any]:
        found = self.all(name)
        assert found, f"no {name!r} event in:\n{self.stream.getvalue()}"
        return found[-1]


@dataclass
class Case:
    """One attestation mode and policy version: its ``migtd`` environment, for processes or in memory."""

    mode: str
    policy_version: int
    env: dict[str, str]
    extra: dict[str, str] = field(default_factory=dict)

    def side(self, role: str, *, operation: str = "migration", env: dict[str, str] | None = None) -> Side:
        """This side built as ``migtd`` builds it, with a JSON log in memory (no sockets)."""
        from migtd.cli.args import parse_args
        from migtd.cli.config import load, merge_env
        from migtd.cli.runtime import prepare, prepare_rebinding_fields
        from migtd.emu.requests import MigrationInfo
        from migtd.events import EventLog
        from migtd.spdm_session import MigtdHooks

        environ = dict(self.env, **(env or {}))
        opts = merge_env(parse_args(["-m", role, "-o", operation]), environ)
        stream = io.StringIO()
        log = EventLog(opts.role, 1, fmt="json", level="debug", stream=stream)
        plan = prepare(load(opts, environ, log), log)
        if operation != "migration":
            prepare_rebinding_fields(plan, plan.session.event_log)
        is_source = role == "source"
        hooks = MigtdHooks(log=log, store=plan.store, provider=plan.provider, verifier=plan.verifier,
                           is_source=is_source, event_log=plan.session.event_log,
                           policy_version=plan.session.policy_version, policy=plan.session.policy,
                           request=MigrationInfo(1, is_source, opts.uuid, opts.binding),
                           rebinding=operation != "migration", injector=plan.injector)
        return Side(role, hooks, plan, stream)


def make_case(mode: str, policy_version: int, files: dict[str, tuple[Path, Path]]) -> Case:
    env = clean_env()
    env.update(MIGTD_ATTESTATION="mock-report" if mode == "mock-quote-file" else mode, MIGTD_KEY_EXCHANGE="spdm",
               MIGTD_LOG_FORMAT="json", MIGTD_TIMEOUT="20")
    if mode == "mock-quote-file":
        env["MOCK_QUOTE_FILE"] = str(AZ_QUOTE)
    if policy_version == 2:
        policy, chain = files[mode]
        env.update(MIGTD_POLICY_VERSION="2", MIGTD_POLICY_FILE=str(policy), MIGTD_POLICY_ISSUER_CHAIN_FILE=str(chain))
    elif mode == "skip-ra":
        env.update(MIGTD_POLICY_FILE=str(files["skip-ra"][0]), MIGTD_ROOT_CA_FILE=str(paths.mock_root_ca()))
    elif mode == "mock-report":
        env.update(MIGTD_POLICY_FILE=str(paths.default_policy()), MIGTD_ROOT_CA_FILE=str(paths.mock_root_ca()))
    else:
        env.update(MIGTD_POLICY_FILE=str(paths.default_policy()), MIGTD_ROOT_CA_FILE=str(paths.intel_root_ca()),
                   MIGTD_COLLATERAL_FILE=str(AZ_COLLATERAL))
    return Case(mode, policy_version, env)


@pytest.fixture
def cases(policy_files: dict[str, tuple[Path, Path]]) -> Callable[[str, int], Case]:
    return lambda mode, version: make_case(mode, version, policy_files)


def link_blobs(src: Side, dst: Side) -> None:
    """What the pre-session exchange hands each side with policy v2 (its own blob and the peer's)."""
    from migtd.protocol.presession import build_blob

    if src.hooks.policy_version != 2:
        return
    blobs = {side.role: build_blob(side.plan.session.policy, side.plan.session.issuer_chain) for side in (src, dst)}
    src.hooks.local_blob, src.hooks.peer_blob = blobs["source"], blobs["destination"]
    dst.hooks.local_blob, dst.hooks.peer_blob = blobs["destination"], blobs["source"]


@dataclass
class Pumped:
    src: Side
    dst: Side
    requester: Any
    responder: Any
    wire: list[tuple[str, bytes]]


def _logs_pending(logger: Any, endpoint: Any) -> Callable[[], None]:
    """What ``migtd.spdm_session.run`` installs: log the endpoint's events before a hook's slow work."""
    return lambda: logger(endpoint.take_events())


def pump(src: Side, dst: Side, tamper: Callable[[str, bytes], bytes | None] | None = None) -> Pumped:
    """Requester (source) against responder (destination) in memory; each side's events logged as ``migtd`` does.

    ``tamper(direction, write)`` may replace ("S>D"/"D>S") or drop (None) a transport write.
    The pre-session blobs are linked unless a test set them already.
    """
    from migtd.spdm_session import EventLogger, endpoint_for

    if src.hooks.local_blob is None:
        link_blobs(src, dst)
    req, rsp = endpoint_for(src.hooks), endpoint_for(dst.hooks)
    loggers = {}
    for side, endpoint in ((src, req), (dst, rsp)):
        logger = loggers[side.role] = EventLogger(side.hooks.log)
        side.hooks.before_work = _logs_pending(logger, endpoint)
    wire: list[tuple[str, bytes]] = []
    req.start()
    for _ in range(1000):
        moved = False
        for direction, sender, receiver, role in (("S>D", req, rsp, "destination"), ("D>S", rsp, req, "source")):
            for write in sender.data_to_send():
                wire.append((direction, write))
                data = tamper(direction, write) if tamper else write
                if data is not None and not receiver.done:
                    loggers[role](receiver.receive_data(data))
                moved = True
        if not moved:
            break
    for endpoint, role in ((req, "source"), (rsp, "destination")):
        if not endpoint.done:
            loggers[role](endpoint.receive_eof())
    return Pumped(src, dst, req, rsp, wire)


# --------------------------------------------------------------------------- processes


@dataclass
class Finished:
    code: int
    stderr: str

    @property
    def events(self) -> list[dict[str, Any]]:
        return [json.loads(line) for line in self.stderr.splitlines() if line.startswith("{")]

    def all(self, name: str) -> list[dict[str, Any]]:
        return [e for e in self.events if e["event"] == name]

    def event(self, name: str) -> dict[str, Any]:
        found = self.all(name)
        assert found, f"no {name!r} event in:\n{self.stderr}"
        return found[-1]

    @property
    def reason(self) -> str:
        return self.event("exit")["reason"]

    def clean(self) -> None:
        """One exit event whose code is the exit status; no traceback anywhere."""
        assert "Traceback" not in self.stderr, self.stderr
        assert [e["event"] for e in self.events].count("exit") == 1
        assert self.event("exit")["code"] == self.code


class Procs:
    """Starts ``migtd`` processes; the root ``processes`` fixture kills what still runs at the end."""

    def __init__(self, processes: Processes) -> None:
        self.processes = processes

    def start(self, args: list[str], env: dict[str, str]) -> subprocess.Popen[str]:
        return self.processes.popen(MIGTD + args, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)

    def finish(self, proc: subprocess.Popen[str], timeout: float = 60) -> Finished:
        _, err = proc.communicate(timeout=timeout)
        return Finished(proc.returncode, err)

    def pair(self, port: int, env: dict[str, str], src_env: dict[str, str] | None = None,
             args: tuple[str, ...] = ()) -> tuple[Finished, Finished]:
        """Destination then source on ``port``; returns (source, destination)."""
        dst = self.start(["-m", "dst", "-t", str(port), *args], env)
        src = self.start(["-m", "src", "-t", str(port), *args], src_env or env)
        return self.finish(src), self.finish(dst)


@pytest.fixture
def procs(processes: Processes) -> Iterator[Procs]:
    yield Procs(processes)
