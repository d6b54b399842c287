"""TD reports from an Azure vTPM, through tpm2-pytss (attestation.md §6.1–§6.2).

Inside an Azure TDX CVM the guest cannot call TDG.MR.REPORT itself; the
paravisor does it on the guest's behalf. The guest writes its 64 bytes of
report data to NV index 0x01400002, the paravisor refreshes NV index
0x01400001 with an HCL report (:mod:`migtd.emu.hcl`) that wraps the TDREPORT,
and the guest reads that back.

This is the only module that imports ``tpm2_pytss``, and only inside
functions: the package is an optional extra (``migtd-py[azure]``), it needs
the TSS2 C libraries, and the other attestation modes must start without it.

The TCTI string is the one tpm2-tools understands (``TSS2_TCTI``):
``device:/dev/tpmrm0`` on Azure, ``swtpm:host=127.0.0.1,port=N`` for tests.
"""

from __future__ import annotations

import grp
import os
import pwd
import time
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from typing import Any

from migtd.emu.hcl import HclReport, parse_hcl_report
from migtd.errors import ConfigError, FormatError, MigtdError
from migtd.events import EventLog, null_log
from migtd.result import MigrationResult

HCL_REPORT_INDEX = 0x01400001
REPORT_DATA_INDEX = 0x01400002
REPORT_DATA_SIZE = 64
DEFAULT_TCTI = "device:/dev/tpmrm0"
#: NV chunk when the TPM does not report TPM2_PT_NV_BUFFER_MAX (swtpm reports 1024).
FALLBACK_NV_CHUNK = 1024

#: Upstream waits this long after writing report data so it does not read a stale report.
DEFAULT_SETTLE = 3.0
#: Upstream retries the whole write/read sequence this many times, 5 s apart.
DEFAULT_ATTEMPTS = 3
DEFAULT_RETRY_WAIT = 5.0
_POLL = 0.25

INSTALL_HINT = ("azure attestation needs tpm2-pytss: pip install 'migtd-py[azure]' "
                "(with libtss2-dev), or run with --mock-report")


class VtpmError(MigtdError):
    """The vTPM could not be opened or did not yield a TD report (TdxModuleError, exit 4)."""

    result = MigrationResult.TdxModuleError


def load_tss() -> Any:
    """Import ``tpm2_pytss`` or fail with one line saying how to get it.

    TSS2's C libraries log to stderr on their own; unless the user asked for
    that (``TSS2_LOG``), silence them so the JSON event stream stays parseable.
    """
    os.environ.setdefault("TSS2_LOG", "all+NONE")
    try:
        import tpm2_pytss
    except ImportError as exc:
        raise ConfigError(f"{INSTALL_HINT} ({exc})") from None
    return tpm2_pytss


def tcti_from_env(env: Mapping[str, str] | None = None) -> str:
    """``TSS2_TCTI`` or the Azure default ``device:/dev/tpmrm0``."""
    source = os.environ if env is None else env
    return source.get("TSS2_TCTI") or DEFAULT_TCTI


def check_device(tcti: str) -> None:
    """Explain a missing or unreadable TPM device before the TSS reports a bare I/O error.

    Only ``device:`` TCTIs name a file; the runner decides whether to use sudo
    from the message's wording ("permission denied").
    """
    kind, _, conf = tcti.partition(":")
    if kind != "device":
        return
    path = conf or "/dev/tpm0"
    if not os.path.exists(path):
        raise VtpmError(f"no TPM device at {path} (TSS2_TCTI={tcti}); azure mode needs an Azure "
                        "TDX CVM vTPM - elsewhere use --mock-report or point TSS2_TCTI at a swtpm")
    if not os.access(path, os.R_OK | os.W_OK):
        st = os.stat(path)
        owner = _name(pwd.getpwuid, st.st_uid)
        group = _name(grp.getgrgid, st.st_gid)
        raise VtpmError(f"permission denied opening {path} (owned by {owner}:{group}, mode "
                        f"{st.st_mode & 0o777:o}; TSS2_TCTI={tcti}): run as root or as a member of "
                        f"group {group}")


def _name(lookup: Callable[[int], Any], ident: int) -> str:
    try:
        return str(lookup(ident)[0])
    except KeyError:
        return str(ident)


class Vtpm:
    """One TCTI; each operation opens the TPM, does its work and closes it again.

    Holding no connection between calls matters for swtpm, which serves one
    client at a time, and means a restarted resource manager is picked up.
    """

    def __init__(self, tcti: str, log: EventLog | None = None) -> None:
        self.tss = load_tss()
        self.tcti = tcti
        self.log = log or null_log()

    @contextmanager
    def session(self) -> Iterator[Any]:
        """An open ESAPI context; a failure to open names the TCTI."""
        check_device(self.tcti)
        started = time.monotonic()
        try:
            ctx = self.tss.ESAPI(self.tcti)
        except Exception as exc:  # noqa: BLE001 - TSS2_Exception, or RuntimeError from a bad TCTI library
            raise VtpmError(f"cannot open the TPM through TCTI '{self.tcti}': {exc}") from None
        self.log_step("open", started)
        try:
            yield ctx
        finally:
            ctx.close()

    def nv_buffer_max(self, ctx: Any) -> int:
        """Largest NV read the TPM accepts in one command (TPM2_PT_NV_BUFFER_MAX)."""
        t = self.tss
        try:
            _, data = ctx.get_capability(t.TPM2_CAP.TPM_PROPERTIES, t.TPM2_PT_NV.BUFFER_MAX, 1)
            for prop in data.data.tpmProperties:
                if int(prop.property) == int(t.TPM2_PT_NV.BUFFER_MAX) and prop.value > 0:
                    return int(prop.value)
        except t.TSS2_Exception:
            pass  # fall back to a chunk every TPM accepts
        return FALLBACK_NV_CHUNK

    def nv_size(self, ctx: Any, index: int) -> int | None:
        """Data size of an NV index, or None when it is not defined."""
        t = self.tss
        try:
            handle = ctx.tr_from_tpmpublic(index)
        except t.TSS2_Exception as exc:
            if _is_missing_handle(t, exc):
                return None
            raise
        public, _ = ctx.nv_read_public(handle)
        return int(public.nvPublic.dataSize)

    def define_owner_index(self, ctx: Any, index: int, size: int) -> Any:
        """Define an owner-read/owner-write NV index with empty auth, replacing a different-size one."""
        t = self.tss
        current = self.nv_size(ctx, index)
        if current is not None and current != size:
            ctx.nv_undefine_space(ctx.tr_from_tpmpublic(index), auth_handle=t.ESYS_TR.OWNER)
            self.log.debug(f"vTPM: NV 0x{index:08x} had {current} bytes; undefined to redefine "
                           f"with {size}")
        if current == size:
            return ctx.tr_from_tpmpublic(index)
        public = t.TPM2B_NV_PUBLIC(nvPublic=t.TPMS_NV_PUBLIC(
            nvIndex=index, nameAlg=t.TPM2_ALG.SHA256,
            attributes=t.TPMA_NV.OWNERWRITE | t.TPMA_NV.OWNERREAD, dataSize=size))
        return ctx.nv_define_space(b"", public, auth_handle=t.ESYS_TR.OWNER)

    def nv_write(self, ctx: Any, index: int, data: bytes) -> None:
        """Write ``data`` at offset 0, in chunks the TPM accepts, with owner authorisation."""
        t = self.tss
        handle = ctx.tr_from_tpmpublic(index)
        chunk = self.nv_buffer_max(ctx)
        for offset in range(0, len(data), chunk):
            ctx.nv_write(handle, data[offset:offset + chunk], offset, auth_handle=t.ESYS_TR.OWNER)

    def nv_read_all(self, ctx: Any, index: int) -> bytes:
        """The whole NV index, read with owner authorisation in NV-buffer-sized chunks."""
        t = self.tss
        size = self.nv_size(ctx, index)
        if size is None:
            raise VtpmError(f"NV index 0x{index:08x} is not defined on the TPM at '{self.tcti}' "
                            "(no HCL report: not an Azure CVM vTPM?)")
        handle = ctx.tr_from_tpmpublic(index)
        chunk = self.nv_buffer_max(ctx)
        out = bytearray()
        while len(out) < size:
            n = min(chunk, size - len(out))
            out += bytes(ctx.nv_read(handle, n, len(out), auth_handle=t.ESYS_TR.OWNER))
        return bytes(out)

    def provision(self, index: int, data: bytes) -> None:
        """Define ``index`` with exactly ``len(data)`` bytes and fill it (test and lab set-up).

        This is how a swtpm is made to look like an Azure vTPM: the HCL report
        goes into 0x01400001, which on Azure only the paravisor writes.
        """
        with self.session() as ctx:
            try:
                self.define_owner_index(ctx, index, len(data))
                self.nv_write(ctx, index, data)
            except self.tss.TSS2_Exception as exc:
                raise VtpmError(f"provisioning NV 0x{index:08x} ({len(data)} bytes) failed: {exc}") from None

    def read_index(self, index: int) -> bytes:
        """Read a whole NV index in its own session."""
        with self.session() as ctx:
            try:
                return self.nv_read_all(ctx, index)
            except self.tss.TSS2_Exception as exc:
                raise VtpmError(f"reading NV 0x{index:08x} failed: {exc}") from None

    def log_step(self, step: str, started: float) -> None:
        """Debug record of how long one TPM step took (``step`` and ``ms`` fields)."""
        ms = (time.monotonic() - started) * 1000
        self.log.emit("log", f"vTPM {step}: {ms:.1f} ms", "debug", step=step, ms=round(ms, 3))


def _is_missing_handle(tss: Any, exc: Any) -> bool:
    """True when ``tr_from_tpmpublic`` failed because the index does not exist (TPM_RC_HANDLE)."""
    try:
        return int(exc.error) == int(tss.TPM2_RC.HANDLE)
    except (AttributeError, TypeError, ValueError):
        return False


class VtpmReportSource:
    """The Azure report sequence: write report data, let the paravisor act, read the HCL report.

    ``settle`` is the longest wait for a fresh report: the HCL report is
    re-read every 250 ms until its ``user-data`` claim shows the bytes just
    written, and used as it is once ``settle`` has passed (upstream sleeps a
    fixed 3 s). ``attempts``/``retry_wait`` repeat the whole sequence on a TPM
    error or a malformed report, as upstream does.
    """

    def __init__(self, vtpm: Vtpm, *, settle: float = DEFAULT_SETTLE,
                 attempts: int = DEFAULT_ATTEMPTS, retry_wait: float = DEFAULT_RETRY_WAIT,
                 sleep: Callable[[float], None] = time.sleep) -> None:
        if attempts < 1:
            raise ValueError("attempts must be at least 1")
        self.vtpm = vtpm
        self.settle = settle
        self.attempts = attempts
        self.retry_wait = retry_wait
        self._sleep = sleep

    def probe(self) -> int:
        """Open the TPM and run one command (fail fast at start-up); return its NV buffer size."""
        t = self.vtpm.tss
        with self.vtpm.session() as ctx:
            try:
                ctx.get_capability(t.TPM2_CAP.TPM_PROPERTIES, t.TPM2_PT.MANUFACTURER, 1)
            except t.TSS2_Exception as exc:
                raise VtpmError(f"the TPM at '{self.vtpm.tcti}' does not answer commands: {exc}") from None
            return self.vtpm.nv_buffer_max(ctx)

    def hcl_report(self, report_data: bytes) -> HclReport:
        """The HCL report for ``report_data`` (64 bytes), parsed and validated."""
        if len(report_data) != REPORT_DATA_SIZE:
            raise VtpmError(f"TD report: REPORTDATA must be {REPORT_DATA_SIZE} bytes, "
                            f"got {len(report_data)}")
        last = ""
        for attempt in range(1, self.attempts + 1):
            try:
                return self._once(bytes(report_data))
            except self.vtpm.tss.TSS2_Exception as exc:
                last = f"TPM error: {exc}"
            except FormatError as exc:
                last = f"bad HCL report in NV 0x{HCL_REPORT_INDEX:08x}: {exc.message}"
            self.vtpm.log.warn(f"vTPM report attempt {attempt} of {self.attempts} failed: {last}")
            if attempt < self.attempts:
                self._sleep(self.retry_wait)
        raise VtpmError(f"no TD report from the vTPM at '{self.vtpm.tcti}' after "
                        f"{self.attempts} attempts: {last}")

    def _once(self, report_data: bytes) -> HclReport:
        vtpm = self.vtpm
        with vtpm.session() as ctx:
            started = time.monotonic()
            vtpm.define_owner_index(ctx, REPORT_DATA_INDEX, REPORT_DATA_SIZE)
            vtpm.nv_write(ctx, REPORT_DATA_INDEX, report_data)
            vtpm.log_step("write report data (NV 0x01400002)", started)
            deadline = time.monotonic() + self.settle
            while True:
                started = time.monotonic()
                report = parse_hcl_report(vtpm.nv_read_all(ctx, HCL_REPORT_INDEX))
                vtpm.log_step("read HCL report (NV 0x01400001)", started)
                if report.user_data() == report_data:
                    return report
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    break
                self._sleep(min(_POLL, remaining))
        vtpm.log.warn(f"vTPM: after {self.settle:g} s the HCL report's user-data claim still does not "
                      "show the report data just written (stale report, or a TPM without a paravisor)")
        return report
