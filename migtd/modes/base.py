"""The shape of an attestation mode: :class:`Mode`, its inputs and its trust files.

The registry itself (which modes exist, how names resolve) is
:mod:`migtd.modes`; each mode is one module beside this one.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any, NamedTuple

from migtd.errors import ConfigError

if TYPE_CHECKING:
    from migtd.attest.trust import TrustAnchors
    from migtd.emu.quote_provider import QuoteProvider
    from migtd.verdict import PeerVerifier


class TrustInput(NamedTuple):
    """One file a mode verifies peers against, named by an environment variable.

    ``default`` gives the file used when the variable is unset; None means the
    operator must name it, and ``missing`` is the one line saying so.
    ``alternative`` names a variable that, set while ``var`` is not, takes
    the file's place (``MIGTD_COLLATERAL_SOURCE``: fetch the collateral
    instead of reading it); it wins over ``default``.
    """

    var: str
    label: str
    default: Callable[[], Path] | None = None
    missing: str = ""
    alternative: str | None = None

    def replaced(self, env: Mapping[str, str]) -> bool:
        """Whether ``env`` names the alternative instead of the file."""
        return bool(self.alternative and not env.get(self.var) and env.get(self.alternative))


#: The collateral source (:mod:`migtd.attest.pcs_fetch`): fetch collateral instead of naming a file.
COLLATERAL_SOURCE = "MIGTD_COLLATERAL_SOURCE"


def collateral_input(default: Callable[[], Path] | None = None, missing: str = "") -> TrustInput:
    """``MIGTD_COLLATERAL_FILE``, which ``MIGTD_COLLATERAL_SOURCE`` may replace (every DCAP mode's)."""
    return TrustInput("MIGTD_COLLATERAL_FILE", "collateral file", default, missing, COLLATERAL_SOURCE)


class Setup(NamedTuple):
    """What a mode needs to build its provider and verifier: the run's checked, immutable inputs."""

    operation: str
    policy_version: int
    policy: bytes
    issuer_chain: bytes
    env: Mapping[str, str]
    timeout: float
    log: Any = None  # migtd.events.EventLog for the providers that log
    #: How the TD asks for its quote (``--quote-request``): ``direct`` or ``igvm`` (:data:`QUOTE_REQUESTS`).
    quote_request: str = "direct"


#: ``--quote-request`` values: ``direct`` asks the mode's provider; ``igvm`` goes through the IGVM
#: GetQuote buffer of upstream's ``igvm-attest`` build (spec/spdm.md §11), answered by the emulated VMM.
QUOTE_REQUESTS = ("direct", "igvm")


class Mode(ABC):
    """One attestation mode (subclassed once per module of this package).

    ``name`` is the ``--attestation`` value (``aliases`` are accepted too);
    ``key`` tells variants of one name apart (``mock-report`` with a captured
    quote is the ``mock-quote-file`` variant). ``script_flag`` and
    ``console_flag`` select it in ``migtdemu.sh`` and ``migtd-console``
    (None: the default mode). ``summary`` is the line the runner shows.
    """

    key: str = ""
    name: str = ""
    aliases: tuple[str, ...] = ()
    script_flag: str | None = None
    console_flag: str | None = None
    summary: str = ""
    #: The quote provider's name (the ``quote_generated.source`` field).
    quote_source: str = ""
    #: Checks of §5.6 this mode bypasses when judging a peer (``peer_attested.bypassed``).
    bypasses: tuple[str, ...] = ()
    #: Whether quotes come from a TPM (the runner may need sudo).
    needs_tpm: bool = False
    #: Whether ``rebind-prepare``/``rebind-finalize`` are implemented in this mode.
    rebinding: bool = False
    #: Logged at warn level on every start (skip-ra's loud warning).
    start_warning: str = ""
    #: Whether ``MOCK_QUOTE_FILE`` is read in this mode (it is then parsed at start-up).
    reads_mock_quote: bool = False
    #: Whether a runner may generate a signed policy v2 from this mode's own quote
    #: (``migtd-tool policy generate-v2``) when the operator names none.
    generates_policy: bool = False

    def trust_inputs(self, policy_version: int) -> tuple[TrustInput, ...]:
        """The files peers are verified against with this policy version (none by default)."""
        return ()

    def input_files(self, policy_version: int, env: Mapping[str, str]) -> list[tuple[str, Path]]:
        """Files this mode reads besides the ones named in the environment (defaults, mock keys).

        ``(label, path)`` pairs: no output of the run may be one of them.
        """
        found = []
        for item in self.trust_inputs(policy_version):
            named = env.get(item.var)
            if item.replaced(env):
                continue
            if named:
                found.append((item.label, Path(named)))
            elif item.default is not None:
                found.append((item.label, item.default()))
        return found

    def runner_root_ca(self) -> Path:
        """The ``MIGTD_ROOT_CA_FILE`` a runner passes for policy v1 when the operator names none.

        ``migtd`` requires the variable with policy v1 whatever the mode (upstream
        parity), so runners always pass one: the mock PKI's root unless the
        mode's quotes are Intel-signed.
        """
        from migtd import paths

        return paths.mock_root_ca()

    def trust_anchors(self, policy_version: int, env: Mapping[str, str]) -> TrustAnchors:
        """Read :meth:`trust_inputs` from ``env`` (or their defaults); ConfigError when one is missing.

        A collateral replaced by ``MIGTD_COLLATERAL_SOURCE`` is fetched per quote instead.
        """
        from migtd.attest.trust import load_anchors

        paths = resolve_trust(self.trust_inputs(policy_version), env)
        return load_anchors(paths["MIGTD_ROOT_CA_FILE"], paths.get("MIGTD_COLLATERAL_FILE"), env)

    @abstractmethod
    def provider(self, setup: Setup) -> QuoteProvider:
        """The quote provider of this mode."""

    @abstractmethod
    def verifier(self, setup: Setup) -> PeerVerifier:
        """The peer verifier for ``setup.operation``; ConfigError when the mode does not support it."""

    def igvm_input_files(self, env: Mapping[str, str]) -> list[tuple[str, Path]]:
        """Files the emulated VMM reads to answer an IGVM GetQuote that :meth:`input_files` does not list."""
        return []

    def igvm_quote(self, setup: Setup, provider: QuoteProvider) -> Callable[[bytes], bytes]:
        """What the emulated VMM answers an IGVM GetQuote with: by default the mode's own quote source."""
        return provider.quote

    def quote_provider(self, setup: Setup) -> QuoteProvider:
        """:meth:`provider`, asked through the IGVM GetQuote buffer when ``setup.quote_request`` says so."""
        provider = self.provider(setup)
        if setup.quote_request != "igvm":
            return provider
        from migtd.emu.igvm import IgvmQuoteProvider

        return IgvmQuoteProvider(provider, self.igvm_quote(setup, provider))

    def event_log(self, policy_version: int, policy: bytes, root_ca: bytes, issuer_chain: bytes) -> bytes:
        """The CCEL log this MigTD measures at start-up (protocol.md §5.3)."""
        from migtd import eventlog

        if policy_version == 2:
            return eventlog.v2_event_log(issuer_chain, policy)
        return eventlog.v1_event_log(policy, root_ca)

    def variant(self, env: Mapping[str, str]) -> Mode:
        """The variant the environment selects (``mock-report`` + ``MOCK_QUOTE_FILE``); itself by default."""
        return self

    def __repr__(self) -> str:
        return f"<Mode {self.key}>"


def resolve_trust(inputs: tuple[TrustInput, ...], env: Mapping[str, str]) -> dict[str, str]:
    """Each trust input's path: the environment's, else the default; the first missing one raises.

    An input its alternative replaces (see :class:`TrustInput`) is left out.
    """
    out = {}
    for item in inputs:
        if item.replaced(env):
            continue
        value = env.get(item.var)
        if not value:
            if item.default is None:
                raise ConfigError(item.missing)
            value = str(item.default())
        out[item.var] = value
    return out


def dcap_verifier(mode: Mode, setup: Setup) -> PeerVerifier:
    """DCAP + policy for migration, TDREPORT + policy v2 for rebinding (the DCAP modes share it)."""
    bypass = bool(mode.bypasses)
    if setup.operation != "migration":
        from migtd.verifiers.rebind import TdReportRebindVerifier

        return TdReportRebindVerifier(policy=setup.policy, issuer_chain=setup.issuer_chain, bypass=bypass,
                                      policy_version=setup.policy_version)
    from migtd.verifiers.dcap import DcapPeerVerifier

    anchors = mode.trust_anchors(1, setup.env) if setup.policy_version == 1 else None
    return DcapPeerVerifier(policy_version=setup.policy_version, policy=setup.policy, bypass=bypass,
                            anchors=anchors, issuer_chain=setup.issuer_chain)
