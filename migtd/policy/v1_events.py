"""Event-log facts a v1 policy can test (spec/policy.md §1.4, §2.6).

MigTD files selected CC events under a few names (its payload, the secure-boot
key, the payload SVN, the policy and SGX root CA it measured); v1 EventLog
rules compare those entries between the two MigTDs. This module turns a
parsed CCEL (:mod:`migtd.eventlog`) into that name map.
"""

from __future__ import annotations

from typing import NamedTuple

from migtd.eventlog import (
    EV_EFI_PLATFORM_FIRMWARE_BLOB2,
    EV_EVENT_TAG,
    EV_PLATFORM_CONFIG_FLAGS,
    TAG_POLICY,
    TAG_POLICY_SIGNER,
    TAG_SGX_ROOT_KEY,
    CcEvent,
)

#: EventLog property name -> event name. ``Digest.TdShim`` is valid but no
#: event is ever filed under it; ``Digest.MigTdPolicySigner`` has no mapping.
EVENTLOG_NAMES: dict[str, str] = {
    "Digest.TdShim": "TdShim",
    "Digest.SecureBootKey": "SecureBootKey",
    "Digest.MigTdCore": "MigTdCore",
    "Digest.MigTdCoreSvn": "MigTdCoreSvn",
    "Digest.MigTdPolicy": "MigTdPolicy",
    "Digest.MigTdSgxRootKey": "SgxRootKey",
}

_PAYLOAD = b"td_payload\0"
_SECURE_AUTHORITY = b"secure_authority"
_PAYLOAD_SVN = b"td_payload_svn\0"
_TAG_NAMES = {TAG_POLICY: "MigTdPolicy", TAG_SGX_ROOT_KEY: "SgxRootKey", TAG_POLICY_SIGNER: "MigTdPolicySigner"}


class NamedEvent(NamedTuple):
    """The facts kept for one named event: its SHA-384 digest and, for the SVN, its data."""

    digest: bytes
    data: bytes | None = None


class EventParseError(ValueError):
    """A recognised event is truncated; the whole log is unusable."""


def name_events(events: list[CcEvent]) -> dict[str, NamedEvent]:
    """File events under their names; a later event of the same name wins."""
    named: dict[str, NamedEvent] = {}
    for i, ev in enumerate(events):
        data = ev.data
        if ev.event_type == EV_EFI_PLATFORM_FIRMWARE_BLOB2:
            if not data or 1 + data[0] > len(data):
                raise EventParseError(f"event[{i}]: truncated firmware blob descriptor")
            if data[1:1 + data[0]] == _PAYLOAD:
                named["MigTdCore"] = NamedEvent(ev.digest)
        elif ev.event_type == EV_PLATFORM_CONFIG_FLAGS:
            if data.startswith(_SECURE_AUTHORITY):
                named["SecureBootKey"] = NamedEvent(ev.digest)
            elif data.startswith(_PAYLOAD_SVN):
                if len(data) < 20:
                    raise EventParseError(f"event[{i}]: truncated payload SVN record")
                size = int.from_bytes(data[16:20], "little")
                if len(data) < 20 + size:
                    raise EventParseError(f"event[{i}]: payload SVN record shorter than {size} bytes")
                named["MigTdCoreSvn"] = NamedEvent(ev.digest, bytes(data[20:20 + size]))
        elif ev.event_type == EV_EVENT_TAG:
            if len(data) < 4:
                raise EventParseError(f"event[{i}]: tagged event shorter than its 4-byte tag")
            name = _TAG_NAMES.get(int.from_bytes(data[:4], "little"))
            if name:
                named[name] = NamedEvent(ev.digest)
    return named
