"""TCB level matching: which TCB level a verified quote's platform, TDX module and QE sit at.

Intel's quote verification library decides this (QVL ``TcbLevelCheck``,
``TdxModuleCheck``, ``TDRelaunchCheck``, ``EnclaveReportVerifier``); MigTD
gets the outcome through the servtd library, so these are Intel's rules
(attestation.md §3.2 steps 8, 11, 13–15):

* platform levels are considered highest first — ordered by the 16 SGX
  component SVNs, then PCESVN, then the 16 TDX component SVNs, each compared
  lexicographically — whatever their order in the file; the first level whose
  SGX components and PCESVN the PCK certificate meets is the *SGX level*, the
  first that also meets the quote's TEE_TCB_SVN (from byte 2 on when a TDX
  module major version is set) the *TDX level*;
* a TDX module major version ``v > 0`` selects ``tdxModuleIdentities`` entry
  ``TDX_%02X`` for the module's signer, attributes and levels (highest ISVSVN
  first); its level status folds into the platform status;
* a v5 quote with a TD 1.5 body carries TEE_TCB_SVN2, the SVNs of the module
  the TD runs on *now*. When the TD was launched on an out-of-date module
  but now runs on the latest module and latest TDX SVN (byte 2), relaunching
  the TD would bring it up to date: the status becomes ``TDRelaunchAdvised``
  (``…ConfigurationNeeded`` when the platform also needs configuration);
* the QE identity level (file order, first ISVSVN the QE meets) folds in last.

Everything here is pure: parsed collateral and quote values in, a
:class:`TcbMatch` out, or :class:`QuoteVerificationError` naming the step.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from migtd.attest.collateral import IsvLevel, ModuleIdentity, QeIdentity, TcbInfo, TcbLevel
from migtd.attest.errors import QuoteVerificationError

UP_TO_DATE = "UpToDate"
SW_HARDENING_NEEDED = "SWHardeningNeeded"
CONFIGURATION_NEEDED = "ConfigurationNeeded"
CONFIGURATION_AND_SW_HARDENING_NEEDED = "ConfigurationAndSWHardeningNeeded"
OUT_OF_DATE = "OutOfDate"
OUT_OF_DATE_CONFIGURATION_NEEDED = "OutOfDateConfigurationNeeded"
REVOKED = "Revoked"
TD_RELAUNCH_ADVISED = "TDRelaunchAdvised"
TD_RELAUNCH_ADVISED_CONFIGURATION_NEEDED = "TDRelaunchAdvisedConfigurationNeeded"

#: Statuses a TDX module level may carry (Intel's ``VALID_MODULE_TCB_STATUSES``).
MODULE_STATUSES = frozenset({UP_TO_DATE, OUT_OF_DATE, REVOKED})
#: Final statuses that fail verification (§3.2 step 16); every other status passes.
TERMINAL_STATUSES = frozenset({REVOKED})

_CONFIGURATION = frozenset({CONFIGURATION_NEEDED, OUT_OF_DATE_CONFIGURATION_NEEDED,
                            CONFIGURATION_AND_SW_HARDENING_NEEDED, TD_RELAUNCH_ADVISED_CONFIGURATION_NEEDED})
_SGX_FIT_FOR_RELAUNCH = frozenset({UP_TO_DATE, SW_HARDENING_NEEDED, CONFIGURATION_NEEDED,
                                   CONFIGURATION_AND_SW_HARDENING_NEEDED})
_OUT_OF_DATE_CLASS = frozenset({OUT_OF_DATE, OUT_OF_DATE_CONFIGURATION_NEEDED})


@dataclass(frozen=True, slots=True)
class TcbMatch:
    """Where a quote's TCB sits, and the status that results."""

    status: str                   # final, converged status
    advisories: tuple[str, ...]   # union of the TDX, module and QE levels' advisory IDs, in that order
    level: TcbLevel               # the TDX level (its reference SVNs go into the supplemental data)
    module_svn: int               # ISVSVN of the matched module level (0 for module major version 0)
    qe_level: IsvLevel


def platform_order(levels: Sequence[TcbLevel]) -> tuple[TcbLevel, ...]:
    """Levels highest first, as Intel's ordered set holds them (stable for equal keys)."""
    return tuple(sorted(levels, key=lambda lv: (lv.sgx_components, lv.pcesvn, lv.tdx_components), reverse=True))


def isv_order(levels: Sequence[IsvLevel]) -> tuple[IsvLevel, ...]:
    """Module levels highest ISVSVN first (Intel's ordered set)."""
    return tuple(sorted(levels, key=lambda lv: lv.isvsvn, reverse=True))


def module_identity(info: TcbInfo, major_version: int) -> ModuleIdentity | None:
    """The module identity for a TDX module major version: ``tdxModule`` for 0,
    ``tdxModuleIdentities[TDX_%02X]`` (id compared upper-case) otherwise."""
    if major_version == 0:
        return info.module
    want = f"TDX_{major_version:02X}"
    for m in info.module_identities:
        if m.id.upper() == want:
            return m
    return None


def check_module_signer(info: TcbInfo, tee_tcb_svn: bytes, mrsignerseam: bytes,
                        seam_attributes: bytes) -> ModuleIdentity:
    """The module identity of the quote, after its signer and attributes matched (step 8)."""
    module = module_identity(info, tee_tcb_svn[1])
    if module is None:
        raise QuoteVerificationError("tdx_module",
                                     f"TCB info has no identity for TDX module major version {tee_tcb_svn[1]}")
    if mrsignerseam != module.mrsigner:
        raise QuoteVerificationError("tdx_module", "MRSIGNERSEAM does not match the TDX module identity")
    if any(seam_attributes) or seam_attributes != module.attributes:
        raise QuoteVerificationError("tdx_module", "SEAM attributes do not match the TDX module identity")
    return module


def qe_level(qe: QeIdentity, isvsvn: int) -> IsvLevel:
    """The first QE identity level (file order) the QE's ISVSVN meets (step 11)."""
    for level in qe.levels:
        if level.isvsvn <= isvsvn:
            return level
    raise QuoteVerificationError("qe_tcb", f"QE ISVSVN {isvsvn} is below every QE identity level")


def match_platform(levels: Sequence[TcbLevel], pck_components: Sequence[int], pcesvn: int,
                   tee_tcb_svn: bytes) -> tuple[TcbLevel, TcbLevel]:
    """(SGX level, TDX level) among ``levels`` taken in :func:`platform_order` (step 13)."""
    start = 2 if tee_tcb_svn[1] > 0 else 0
    sgx_level = None
    for level in levels:
        if pcesvn >= level.pcesvn and all(p >= r for p, r in zip(pck_components, level.sgx_components)):
            if sgx_level is None:
                sgx_level = level
            tdx = level.tdx_components
            if all(tee_tcb_svn[i] >= tdx[i] for i in range(start, 16)):
                return sgx_level, level
    which = "TDX" if sgx_level is not None else "SGX"
    raise QuoteVerificationError("tcb_level", f"no TCB level matches the platform's {which} components "
                                              "(TCB not supported)")


def module_level(module: ModuleIdentity, isvsvn: int) -> IsvLevel:
    """The highest module level the module's ISVSVN meets (step 14)."""
    for level in isv_order(module.levels):
        if isvsvn >= level.isvsvn:
            if level.status not in MODULE_STATUSES:
                raise QuoteVerificationError("module_tcb", f"TDX module level status {level.status!r} "
                                                           "is not UpToDate, OutOfDate or Revoked")
            return level
    raise QuoteVerificationError("module_tcb", f"TDX module SVN {isvsvn} is below every module TCB level")


def converge(status: str, other: str) -> str:
    """Fold a module or QE level status into the platform status (Intel's convergence)."""
    if other == REVOKED:
        return REVOKED
    if other == UP_TO_DATE:
        return status
    if status in (UP_TO_DATE, SW_HARDENING_NEEDED):
        return OUT_OF_DATE
    if status in (CONFIGURATION_NEEDED, CONFIGURATION_AND_SW_HARDENING_NEEDED):
        return OUT_OF_DATE_CONFIGURATION_NEEDED
    return status


def relaunch(info: TcbInfo, latest: TcbLevel, tee_tcb_svn2: bytes, sgx_status: str, tdx_status: str,
             module_status: str, qe_status: str) -> str:
    """Intel's TD relaunch check for a TD 1.5 body: ``tdx_status``, or a TDRelaunch* status.

    Only a TD that is out of date *because of its module* (module level
    OutOfDate, platform SGX level not out of date, QE up to date) qualifies;
    it is advised to relaunch when TEE_TCB_SVN2 — the module it runs on now —
    meets the latest platform level's TDX SVN byte 2 and either the latest
    platform level's byte 0 (module major version 0) or the latest level of
    the module identity TEE_TCB_SVN2[1] names.
    """
    if qe_status != UP_TO_DATE or sgx_status not in _SGX_FIT_FOR_RELAUNCH \
            or tdx_status not in _OUT_OF_DATE_CLASS or module_status != OUT_OF_DATE:
        return tdx_status
    if tee_tcb_svn2[1] == 0:
        current = tee_tcb_svn2[0] >= latest.tdx_components[0]
    else:
        module = module_identity(info, tee_tcb_svn2[1])
        if module is None:
            raise QuoteVerificationError("tdx_module", "TCB info has no identity for the TDX module major "
                                                       f"version {tee_tcb_svn2[1]} in TEE_TCB_SVN2")
        levels = isv_order(module.levels)
        if not levels:
            raise QuoteVerificationError("module_tcb", f"TDX module identity {module.id} has no TCB levels")
        current = tee_tcb_svn2[0] >= levels[0].isvsvn
    if not (current and tee_tcb_svn2[2] >= latest.tdx_components[2]):
        return tdx_status
    if sgx_status in _CONFIGURATION or tdx_status in _CONFIGURATION:
        return TD_RELAUNCH_ADVISED_CONFIGURATION_NEEDED
    return TD_RELAUNCH_ADVISED


def evaluate(info: TcbInfo, module: ModuleIdentity, pck_components: Sequence[int], pcesvn: int,
             tee_tcb_svn: bytes, tee_tcb_svn2: bytes | None, qe: IsvLevel) -> TcbMatch:
    """Steps 13–15: platform level, module level, relaunch (``tee_tcb_svn2`` given for a TD 1.5
    body only), QE; a final ``Revoked`` raises (step 16)."""
    levels = platform_order(info.levels)
    sgx_level, level = match_platform(levels, pck_components, pcesvn, tee_tcb_svn)
    status = level.status
    advisories = list(level.advisories)
    module_svn = 0
    module_status = UP_TO_DATE
    if tee_tcb_svn[1] > 0:
        mod_level = module_level(module, tee_tcb_svn[0])
        module_svn = mod_level.isvsvn
        module_status = mod_level.status
        status = converge(status, module_status)
        advisories += mod_level.advisories
    if status != REVOKED and tee_tcb_svn2 is not None:
        status = relaunch(info, levels[0], tee_tcb_svn2, sgx_level.status, status, module_status, qe.status)
    status = converge(status, qe.status)
    advisories += qe.advisories
    if status in TERMINAL_STATUSES:
        raise QuoteVerificationError("tcb_status", f"TCB status is {status}")
    return TcbMatch(status, tuple(dict.fromkeys(advisories)), level, module_svn, qe)
