"""The protocol steps of a MigTD session, with no I/O: bytes in, values and bytes to send out.

In the manner of h11, each step is a small state machine or a pair of pure
functions that the driver (:mod:`migtd.session`) feeds with whatever the
transport delivered and asks what to send; none of them touches a socket, a
clock or the emulated TDX module, so each can be fuzzed and replayed alone.

* :mod:`.presession` — the policy-v2 pre-session exchange (protocol.md §4.2);
* :mod:`.msk` — ExchangeInformation and the migration version (§4.4–4.5);
* :mod:`.rebind` — the rebinding token (§7).

The TLS 1.3 engine (:class:`migtd.ratls.tls.TlsEngine`) is built the same
way over memory BIOs. A second key-exchange protocol (SPDM) adds its own
steps here and reuses :mod:`.msk` and :mod:`.presession` unchanged.
"""
