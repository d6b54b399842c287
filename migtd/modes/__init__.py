"""The attestation-mode registry: every mode, defined once.

A mode says where this MigTD's quotes come from, how it judges a peer, what
it trusts (and the defaults for those files), which AzCVMEmu bypasses it
applies, and how it is spelled on ``migtd``'s command line, in
``migtdemu.sh`` and in ``migtd-console``. Everything that used to compare
mode names as strings asks the :class:`Mode` instead.

Each mode is one module of this package holding one :class:`Mode`
subclass; :data:`MODES` lists them. Adding a mode is one more module and one
more line below, plus its tests. The key-exchange protocol (RA-TLS, or SPDM
with ``--key-exchange spdm``) is orthogonal: the session carries the peer's
evidence to ``Mode.verifier`` whatever protocol delivered it. So is how the
quote is requested (:data:`QUOTE_REQUESTS`: ``--quote-request igvm`` wraps
every mode's provider through :meth:`Mode.quote_provider`).
"""

from __future__ import annotations

from collections.abc import Mapping

from migtd.errors import ConfigError
from migtd.modes.azure import AZURE
from migtd.modes.base import QUOTE_REQUESTS, Mode, Setup, TrustInput, resolve_trust
from migtd.modes.mock_report import MOCK_QUOTE_FILE, MOCK_REPORT
from migtd.modes.skip_ra import SKIP_RA

#: Every mode, the default (``azure``) first; a new mode adds its module's instance here.
MODES: tuple[Mode, ...] = (AZURE, MOCK_REPORT, MOCK_QUOTE_FILE, SKIP_RA)
#: The ``--attestation`` value of the default mode.
DEFAULT = MODES[0].name

_BY_NAME = {spelling: mode for mode in reversed(MODES) if mode.key == mode.name
            for spelling in (mode.name, *mode.aliases)}


def names() -> tuple[str, ...]:
    """The canonical ``--attestation`` values, in registry order."""
    return tuple(dict.fromkeys(mode.name for mode in MODES))


def by_name(text: str) -> Mode | None:
    """The mode ``--attestation``/``MIGTD_ATTESTATION`` names (any case, aliases accepted), or None."""
    return _BY_NAME.get(text.strip().lower())


def by_key(key: str) -> Mode:
    """The mode (or variant) with ``key``."""
    for mode in MODES:
        if mode.key == key:
            return mode
    raise KeyError(key)


def resolve(name: str, env: Mapping[str, str]) -> Mode:
    """The mode a run uses: ``name`` refined by the environment (see :meth:`Mode.variant`)."""
    mode = by_name(name)
    if mode is None:
        raise ConfigError(f"Invalid attestation mode: {name}. Use {spelled_out()}")
    return mode.variant(env)


def spelled_out() -> str:
    """``'azure', 'mock-report' or 'skip-ra'``: the names as the one-line errors list them."""
    quoted = [f"'{n}'" for n in names()]
    return ", ".join(quoted[:-1]) + " or " + quoted[-1]


__all__ = [
    "DEFAULT",
    "MODES",
    "QUOTE_REQUESTS",
    "Mode",
    "Setup",
    "TrustInput",
    "by_key",
    "by_name",
    "names",
    "resolve",
    "resolve_trust",
    "spelled_out",
]
