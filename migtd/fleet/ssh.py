"""Collecting over SSH, without the I/O: the ssh command line, the remote command, and what a result means.

The collector runs the system ``ssh`` (it honours the operator's
``~/.ssh/config``, agent, jump hosts; ``-F`` selects another configuration),
in BatchMode so a password or host-key prompt fails at once instead of
waiting, without a pty (``-T``) so the remote output is the evidence's bytes.

ssh exits 255 both when it cannot connect and when the remote command exits
255, so the remote command first writes a marker line to stderr: with the
marker, ssh reached the host and the exit status is the remote command's;
without it, the connection failed and ssh's own message says why. A second
marker says the remote ``migtd-tool`` was not found. :func:`classify` turns
(exit status, markers, stderr, timeout) into the error column's kinds.
"""

from __future__ import annotations

import re
import shlex
from dataclasses import dataclass

from migtd.fleet.inventory import Host

READY = "MIGTD-FLEET-READY"
NO_TOOL = "MIGTD-FLEET-NO-TOOL"

_AUTH = re.compile(r"Permission denied|Too many authentication failures|no matching host key type|"
                   r"Host key verification failed|REMOTE HOST IDENTIFICATION HAS CHANGED|"
                   r"Authentication failed|no mutual signature|Unable to negotiate", re.IGNORECASE)
_HOST_KEY = re.compile(r"Host key verification failed|REMOTE HOST IDENTIFICATION HAS CHANGED", re.IGNORECASE)
_UNREACHABLE = re.compile(r"Connection refused|Connection timed out|Operation timed out|No route to host|"
                          r"Network is unreachable|Could not resolve hostname|Name or service not known|"
                          r"Temporary failure in name resolution|Connection closed by|Connection reset|"
                          r"kex_exchange_identification|Broken pipe|port \d+: Invalid argument", re.IGNORECASE)
_NOISE = re.compile(r"^(Warning: Permanently added|Pseudo-terminal will not be allocated)")


@dataclass(frozen=True)
class RemoteSettings:
    """What the remote ``evidence collect`` is told (``None``: the host's own defaults)."""

    tool: str = "migtd-tool"
    attestation: str | None = None
    policy: str | None = None
    root_ca: str | None = None
    issuer_chain: str | None = None

    def for_host(self, host: Host) -> RemoteSettings:
        """These settings with the host's ``migtd_*`` inventory variables applied."""
        v = host.vars
        return RemoteSettings(v.get("migtd_tool", self.tool), v.get("migtd_attestation", self.attestation),
                              v.get("migtd_policy", self.policy), v.get("migtd_root_ca", self.root_ca),
                              v.get("migtd_issuer_chain", self.issuer_chain))


def remote_command(host: Host, settings: RemoteSettings) -> str:
    """The POSIX shell command run on ``host``: markers, tool check, then ``evidence collect --out -``."""
    q = shlex.quote
    args = ["evidence", "collect", "--out", "-", "--host-name", host.name]
    for flag, value in (("--attestation", settings.attestation), ("--policy", settings.policy),
                        ("--root-ca", settings.root_ca), ("--issuer-chain", settings.issuer_chain)):
        if value:
            args += [flag, value]
    tool = q(settings.tool)
    return (f"printf '%s\\n' {READY} >&2; "
            f"command -v {tool} >/dev/null 2>&1 || {{ printf '%s\\n' {NO_TOOL} >&2; exit 127; }}; "
            f"exec {tool} " + " ".join(q(a) for a in args))


def ssh_argv(host: Host, command: str, *, ssh: str = "ssh", ssh_config: str | None = None,
             options: list[str] | tuple[str, ...] = (), connect_timeout: float = 10.0) -> list[str]:
    """The ssh command line: BatchMode, no pty, the inventory's user/port/key, then ``--``, host, command."""
    argv = [ssh, "-T", "-o", "BatchMode=yes", "-o", f"ConnectTimeout={max(1, int(connect_timeout))}"]
    if ssh_config:
        argv += ["-F", ssh_config]
    if host.user:
        argv += ["-l", host.user]
    if host.port:
        argv += ["-p", str(host.port)]
    key = host.vars.get("ansible_ssh_private_key_file")
    if key:
        argv += ["-i", key]
    for opt in options:
        argv += ["-o", opt]
    return [*argv, "--", host.address, command]


@dataclass(frozen=True)
class Failure:
    """A failed collection: the error column's kind and one line of detail."""

    kind: str
    message: str


def meaningful_lines(stderr: str) -> list[str]:
    """stderr without the markers and ssh's routine warnings."""
    return [ln.strip() for ln in stderr.splitlines()
            if ln.strip() and ln.strip() not in (READY, NO_TOOL) and not _NOISE.match(ln.strip())]


def classify(status: int | None, stderr: str, *, timed_out: bool, timeout: float, tool: str) -> Failure | None:
    """What went wrong (None: the command ran and exited 0; its output is judged separately)."""
    ready = READY in stderr
    lines = meaningful_lines(stderr)
    last = lines[-1][:300] if lines else ""
    if timed_out:
        if not ready:
            return Failure("unreachable", f"no connection within {timeout:g} s"
                                          + (f" ({last})" if last else ""))
        return Failure("timeout", f"collection did not finish within {timeout:g} s")
    if NO_TOOL in stderr:
        return Failure("tool_missing", f"{tool} not found on the host (set --remote-tool or migtd_tool)")
    if ready:
        if status == 0:
            return None
        if status in (126, 127):
            return Failure("tool_missing", f"{tool} cannot be run on the host (exit {status})"
                                           + (f": {last}" if last else ""))
        return Failure("collection_failed", (last or "no message") + f" (exit {status})")
    text = "\n".join(lines)
    if _HOST_KEY.search(text):
        return Failure("auth_refused", f"host key verification failed: {last}")
    if _AUTH.search(text):
        return Failure("auth_refused", last)
    if _UNREACHABLE.search(text):
        return Failure("unreachable", last)
    return Failure("ssh_error", (last or "ssh ended without a message") + f" (ssh exit {status})")
