"""Scanning ``migtd``'s command line the way upstream does (protocol.md §1.2).

Options are matched left to right; an option lacking its value falls through
to "Unknown argument"; later occurrences win; a bad value prints one line and
the usage and exits 1; unknown arguments print the usage and exit 0. Numbers
follow Rust's unsigned ``from_str`` (:func:`migtd.inputs.parse_uint`). We add
``--attestation``, ``--policy-version``, ``--log-format``, ``--timeout``,
``--key-exchange``, ``--quote-request``, ``--init-migtd-data`` (each with an environment twin
merged by :mod:`migtd.cli.config`) and ``--version``.

Nothing here touches files, the environment or the network.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any, NamedTuple

import migtd
from migtd import modes
from migtd.inputs import parse_seconds, parse_uint

USAGE = """\
MigTD AzCVMEmu Mode Usage:
  migtd [OPTIONS]

Runs one Migration TD (source or destination) with the TDX services emulated:
requests come from an in-process VMM queue and the peer is reached over TCP.

Required Environment Variables:
  MIGTD_POLICY_FILE               migration policy file
  MIGTD_ROOT_CA_FILE              root CA certificate (DER) for quote verification
                                  (not used with --policy-version 2; azure mode defaults
                                  to the shipped Intel SGX root CA, see migtd-tool paths)
  MIGTD_POLICY_ISSUER_CHAIN_FILE  policy issuer certificate chain (--policy-version 2 only)
  For --attestation azure the vTPM (/dev/tpmrm0) may need root access.

Optional Environment Variables:
  MIGTD_LOG_FILE                  also write every log line to this file
  MOCK_QUOTE_FILE                 raw quote used instead of the mock QE's (mock-report);
                                  with skip-ra only the TD report is derived from it
  MIGTD_COLLATERAL_FILE           collateral JSON for quote verification (policy v1); mock-report
                                  defaults to config/mock, MOCK_QUOTE_FILE and azure need it
                                  or MIGTD_COLLATERAL_SOURCE
  MIGTD_COLLATERAL_SOURCE         where to fetch collateral when MIGTD_COLLATERAL_FILE is unset:
                                  pcs (Intel), pcs:URL, pccs:URL or thim:URL|REGION (cached
                                  until its nextUpdate; see migtd-tool collateral fetch)
  RUST_LOG                        log level: error, warn, info (default), debug, trace
  MIGTD_ATTESTATION, MIGTD_POLICY_VERSION, MIGTD_LOG_FORMAT, MIGTD_TIMEOUT,
  MIGTD_KEY_EXCHANGE, MIGTD_QUOTE_REQUEST, MIGTD_INIT_MIGTD_DATA_FILE
                                  defaults for the options of the same name
  MIGTD_EMU_MSK=zero              use upstream's all-zero migration key (default: random)
  MIGTD_EMU_MIG_VERSION=MIN-MAX   emulated migration version range (default 0-0)
  MIGTD_QUOTE_FAILURES=N          fail the first N quote requests (retry testing)
  MIGTD_CONFIG_DIR                folder replacing the shipped config/: mock/ (the mock QE keys,
                                  root CA and collateral of mock-report) and the Intel root CA
                                  (default: inside the package; see migtd-tool paths)

Environment Variables for --attestation azure:
  TSS2_TCTI                       the TPM to use (default: device:/dev/tpmrm0; e.g.
                                  swtpm:host=127.0.0.1,port=2321)
  MIGTD_IMDS_URL                  quote endpoint (default: http://169.254.169.254/acc/tdquote)
  MIGTD_VTPM_SETTLE=SECONDS       longest wait for the paravisor to refresh the TD report
                                  after the report data is written (default: 3)
  TSS2_LOG                        TSS library logging (default: all+NONE, i.e. silent)

Command Line Options:
  -r, --request-id ID             migration request ID (decimal, default: 1)
  -m, --role ROLE                 source|src or destination|dst|target (default: source)
  -o, --operation OP              migration|mig, rebind-prepare|rp, rebind-finalize|rf
                                  (default: migration)
  -u, --uuid U1 U2 U3 U4          target TD UUID as four 32-bit integers (default: 1 2 3 4)
  -b, --binding HANDLE            binding handle, decimal or 0x-hex (default: 0x1234)
  -d, --dest-ip IP                destination IP: bind address (destination) or
                                  address to connect to (source) (default: 127.0.0.1)
  -t, --dest-port PORT            destination TCP port (default: 8001)
  -h, --help                      show this help

MigTD-Py Options:
  --attestation MODE              {modes} (default: {default})
  --policy-version 1|2            migration policy format (default: 1)
  --log-format text|json          log lines or JSON events on stderr (default: text)
  --key-exchange ratls|spdm       how the MSK is exchanged: RA-TLS (TLS 1.3 with quotes in the
                                  certificates) or SPDM 1.2 with MigTD's vendor-defined messages
                                  (upstream's spdm_attestation) (default: ratls)
  --quote-request direct|igvm     how the TD asks for its quote: from the mode's quote source, or
                                  through the IGVM GetQuote buffer of upstream's igvm-attest
                                  (default: direct)
  --timeout SECONDS               deadline of each protocol phase: connect/accept, pre-session
                                  exchange, handshake with peer verification (TLS, or SPDM up to
                                  FINISH), key exchange (default: 60)
  --init-migtd-data FILE          initMigtdData the emulated VMM hands over with the start request:
                                  the init MigTD's 512-byte TDINFO_STRUCT (policy v2 only; checked
                                  against the local policy before the key exchange or rebinding,
                                  8 if it is not bound to it; write one with migtd-tool init-data)
  --version                       print the version and exit

Examples:
  export MIGTD_POLICY_FILE=config/policy.json
  export MIGTD_ROOT_CA_FILE=config/Intel_SGX_Provisioning_Certification_RootCA.cer

  Migration (EnableLogArea and GetTDReport are queued automatically):
    migtd --role destination --request-id 42 --dest-port 8001
    migtd --role source --request-id 42 --dest-ip 127.0.0.1 --dest-port 8001

  Rebinding (needs --policy-version 2):
    migtd -m dst -o rebind-prepare -r 7 -u 1 2 3 4 -b 0x1234 --policy-version 2
    migtd -m src -o rebind-prepare -r 7 -u 1 2 3 4 -b 0x1234 --policy-version 2

  Without attestation (testing only):
    migtd --attestation skip-ra -m dst & migtd --attestation skip-ra -m src

  SPDM instead of RA-TLS (both sides must agree):
    migtd --key-exchange spdm --attestation mock-report -m dst &
    migtd --key-exchange spdm --attestation mock-report -m src
"""

USAGE = USAGE.format(modes=", ".join(modes.names()), default=modes.DEFAULT)

ROLES = {"source": True, "src": True, "destination": False, "dst": False, "target": False}
OPERATIONS = {"migration": "migration", "mig": "migration",
              "rebind-prepare": "rebind-prepare", "rebind_prepare": "rebind-prepare", "rp": "rebind-prepare",
              "rebind-finalize": "rebind-finalize", "rebind_finalize": "rebind-finalize",
              "rf": "rebind-finalize"}
DEFAULT_TIMEOUT = 60.0


class CliExit(Exception):
    """Stop now: print ``stdout`` lines (and the usage if asked) and exit with ``code``."""

    def __init__(self, code: int, *lines: str, usage: bool = False) -> None:
        super().__init__(code)
        self.code = code
        self.lines = lines
        self.usage = usage


class Options:
    """The command line after scanning; the MigTD-Py options stay None until merged with the environment."""

    __slots__ = (
        "attestation",
        "binding",
        "dest_ip",
        "dest_port",
        "init_migtd_data",
        "is_source",
        "key_exchange",
        "log_format",
        "operation",
        "policy_version",
        "quote_request",
        "request_id",
        "timeout",
        "uuid",
    )

    def __init__(self) -> None:
        self.request_id = 1
        self.is_source = True
        self.operation = "migration"
        self.uuid: tuple[int, int, int, int] = (1, 2, 3, 4)
        self.binding = 0x1234
        self.dest_ip = "127.0.0.1"
        self.dest_port = 8001
        self.attestation: str | None = None
        self.policy_version: int | None = None
        self.log_format: str | None = None
        self.timeout: float | None = None
        self.key_exchange: str | None = None
        self.quote_request: str | None = None
        #: ``--init-migtd-data``: the file of initMigtdData the emulated VMM supplies (None: none).
        self.init_migtd_data: str | None = None

    @property
    def role(self) -> str:
        """``source`` or ``destination``, as the events spell it."""
        return "source" if self.is_source else "destination"


def parse_args(argv: Sequence[str]) -> Options:
    """Scan ``argv`` (without the program name) the way upstream does."""
    opts = Options()
    help_requested = False
    i = 0
    n = len(argv)
    while i < n:
        arg = argv[i]
        has_value = i + 1 < n
        if arg in ("-r", "--request-id") and has_value:
            value = parse_uint(argv[i + 1], 64)
            if value is None:
                raise CliExit(1, f"Invalid request ID value: {argv[i + 1]}", usage=True)
            opts.request_id = value
            i += 2
        elif arg in ("-m", "--role") and has_value:
            role = ROLES.get(argv[i + 1].lower())
            if role is None:
                raise CliExit(1, f"Invalid role value: {argv[i + 1]}. Use 'source' or 'destination'", usage=True)
            opts.is_source = role
            i += 2
        elif arg in ("-o", "--operation") and has_value:
            op = OPERATIONS.get(argv[i + 1].lower())
            if op is None:
                raise CliExit(1, f"Invalid operation: {argv[i + 1]}. Use 'migration', 'rebind-prepare', "
                                 "or 'rebind-finalize'", usage=True)
            opts.operation = op
            i += 2
        elif arg in ("-u", "--uuid") and i + 4 < n:
            words = [parse_uint(w, 32) for w in argv[i + 1:i + 5]]
            if any(w is None for w in words):
                raise CliExit(1, "Invalid UUID values. Expected 4 unsigned integers", usage=True)
            opts.uuid = tuple(words)  # type: ignore[assignment]
            i += 5
        elif arg in ("-b", "--binding") and has_value:
            text = argv[i + 1]
            value = parse_uint(text[2:], 64, 16) if text[:2] in ("0x", "0X") else parse_uint(text, 64)
            if value is None:
                raise CliExit(1, f"Invalid binding handle value: {text}", usage=True)
            opts.binding = value
            i += 2
        elif arg in ("-d", "--dest-ip") and has_value:
            opts.dest_ip = argv[i + 1]
            i += 2
        elif arg in ("-t", "--dest-port") and has_value:
            value = parse_uint(argv[i + 1], 16)
            if value is None:
                raise CliExit(1, f"Invalid destination port value: {argv[i + 1]}", usage=True)
            opts.dest_port = value
            i += 2
        elif arg in _EXTENSION_BY_FLAG and has_value:
            ext = _EXTENSION_BY_FLAG[arg]
            setattr(opts, ext.attr, ext.parse(argv[i + 1], ext.what))
            i += 2
        elif arg == "--init-migtd-data" and has_value:
            opts.init_migtd_data = argv[i + 1]
            i += 2
        elif arg in ("-h", "--help"):
            help_requested = True  # like upstream: keep scanning, a bad value still exits 1
            i += 1
        elif arg == "--version":
            raise CliExit(0, f"migtd {migtd.__version__} (MigTD-Py; upstream MigTD {migtd.UPSTREAM_VERSION} "
                             "AzCVMEmu compatible)")
        else:
            say(f"Unknown argument: {arg}")
            help_requested = True
            i += 1
    if help_requested:
        raise CliExit(0, usage=True)
    return opts


# Parsers shared by a flag and its environment twin; ``what`` names the source in the message.

def attestation_value(text: str, what: str) -> str:
    """A mode name of the registry (aliases and any case accepted), as its canonical name."""
    mode = modes.by_name(text)
    if mode is None:
        raise CliExit(1, f"Invalid {what}: {text}. Use {modes.spelled_out()}", usage=True)
    return mode.name


def policy_version_value(text: str, what: str) -> int:
    """``1`` or ``2``."""
    if text.strip() not in ("1", "2"):
        raise CliExit(1, f"Invalid {what}: {text}. Use 1 or 2", usage=True)
    return int(text.strip())


def log_format_value(text: str, what: str) -> str:
    """``text`` or ``json``."""
    if text.strip().lower() not in ("text", "json"):
        raise CliExit(1, f"Invalid {what}: {text}. Use 'text' or 'json'", usage=True)
    return text.strip().lower()


#: ``--key-exchange`` values: RA-TLS (upstream's default build) or SPDM (its ``spdm_attestation``).
KEY_EXCHANGES = ("ratls", "spdm")


def key_exchange_value(text: str, what: str) -> str:
    """``ratls`` or ``spdm`` (any case)."""
    value = text.strip().lower()
    if value not in KEY_EXCHANGES:
        raise CliExit(1, f"Invalid {what}: {text}. Use 'ratls' or 'spdm'", usage=True)
    return value


def quote_request_value(text: str, what: str) -> str:
    """``direct`` or ``igvm`` (any case; see :data:`migtd.modes.QUOTE_REQUESTS`)."""
    value = text.strip().lower()
    if value not in modes.QUOTE_REQUESTS:
        raise CliExit(1, f"Invalid {what}: {text}. Use 'direct' or 'igvm'", usage=True)
    return value


def timeout_value(text: str, what: str) -> float:
    """A positive number of seconds up to a day (ASCII decimal; no nan, inf or Unicode digits)."""
    value = parse_seconds(text)
    if value is None:
        raise CliExit(1, f"Invalid {what}: {text}. Use a number of seconds between 0 and 86400", usage=True)
    return value


class Extension(NamedTuple):
    """One of MigTD-Py's own options: its flag, its :class:`Options` field, its environment twin, its
    parser and how a message names the flag's value (the twin's message names the variable)."""

    flag: str
    attr: str
    env: str
    parse: Callable[[str, str], Any]
    what: str


#: MigTD-Py's own options, each with an environment twin (upstream has neither).
EXTENSIONS = (
    Extension("--attestation", "attestation", "MIGTD_ATTESTATION", attestation_value, "attestation mode"),
    Extension("--policy-version", "policy_version", "MIGTD_POLICY_VERSION", policy_version_value, "policy version"),
    Extension("--log-format", "log_format", "MIGTD_LOG_FORMAT", log_format_value, "log format"),
    Extension("--timeout", "timeout", "MIGTD_TIMEOUT", timeout_value, "timeout"),
    Extension("--key-exchange", "key_exchange", "MIGTD_KEY_EXCHANGE", key_exchange_value, "key exchange"),
    Extension("--quote-request", "quote_request", "MIGTD_QUOTE_REQUEST", quote_request_value, "quote request"),
)
_EXTENSION_BY_FLAG = {ext.flag: ext for ext in EXTENSIONS}


def say(*lines: str) -> None:
    """Print to stdout like upstream, surviving a closed or broken stdout (no traceback)."""
    import os
    import sys

    out = sys.stdout
    if out is None:
        return
    try:
        for line in lines:
            out.write(line + "\n")
        out.flush()
    except (BrokenPipeError, ValueError, OSError):
        # The reader went away; point stdout at /dev/null so the interpreter's
        # final flush does not complain either.
        try:
            sys.stdout = open(os.devnull, "w", encoding="utf-8")  # noqa: SIM115 - lives until exit
        except OSError:
            sys.stdout = None


def print_exit(exc: CliExit) -> None:
    """The lines of a :class:`CliExit`, then the usage if it asks for it."""
    say(*exc.lines, *([USAGE.rstrip("\n")] if exc.usage else []))
