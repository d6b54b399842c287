"""What the requester and the responder share: record I/O, events, the end.

Like h11's ``Connection``, an endpoint never touches a socket. The driver
feeds whatever bytes arrived with :meth:`Endpoint.receive_data` (any split),
ships every item of :meth:`Endpoint.data_to_send` as one transport write
(MigTD emits one frame per SPDM message), reports a closed connection with
:meth:`Endpoint.receive_eof`, and stops when :attr:`Endpoint.done`.
:attr:`Endpoint.result` is then the MigrationResult to report. A peer's bad
bytes never raise out of ``receive_data``: they end the session with a
``Failed`` event.
"""

from __future__ import annotations

from abc import ABC, abstractmethod

from migtd.errors import MigtdError
from migtd.result import MigrationResult
from migtd.spdm import events as ev
from migtd.spdm.constants import DATA_TRANSFER_SIZE, MAX_SPDM_MSG_SIZE, MAX_TRANSPORT_BODY
from migtd.spdm.errors import LocalProtocolError, SpdmError
from migtd.spdm.hooks import Attester, MigrationInfoExchange, Mode, PeerVerifier, RebindExchange, Role
from migtd.spdm.secured import RecordOpener, RecordSealer
from migtd.spdm.transcript import Transcript
from migtd.spdm.transport import Record, RecordReader, RecordType, encode_record


class Endpoint(ABC):
    """Base of :class:`~migtd.spdm.requester.Requester` and :class:`~migtd.spdm.responder.Responder`.

    Both take the same options; each side adds the state of its own ladder in
    :meth:`_init_ladder`.
    """

    role: Role

    def __init__(self, *, attester: Attester, verifier: PeerVerifier,
                 migration: MigrationInfoExchange | None = None, rebind: RebindExchange | None = None,
                 mode: Mode = Mode.MIGRATION, data_transfer_size: int = DATA_TRANSFER_SIZE,
                 max_message_size: int = MAX_SPDM_MSG_SIZE) -> None:
        if mode is Mode.MIGRATION and migration is None:
            raise LocalProtocolError("migration mode needs a MigrationInfoExchange")
        if mode is Mode.REBIND and rebind is None:
            raise LocalProtocolError("rebind mode needs a RebindExchange")
        self._attester = attester
        self._verifier = verifier
        self._migration = migration
        self._rebind = rebind
        self.local_dts = data_transfer_size
        self.local_max = max_message_size
        self.mode = mode
        self.phase = ev.Phase.NEGOTIATION
        self.transcript = Transcript()
        self.th1: bytes | None = None
        self.th2: bytes | None = None
        self.session_id: int | None = None
        self._reader = RecordReader(MAX_TRANSPORT_BODY)
        self._outgoing: list[bytes] = []
        self._events: list[ev.Event] = []
        self._result: MigrationResult | None = None
        self._failure: ev.Failed | None = None
        self._sealer: RecordSealer | None = None
        self._opener: RecordOpener | None = None
        self._init_ladder()

    # --- driver API ----------------------------------------------------------------

    @property
    def done(self) -> bool:
        """True once the session succeeded or failed; nothing more will be sent."""
        return self._result is not None

    @property
    def result(self) -> MigrationResult | None:
        """Success after END_SESSION, the failure's result after ``Failed``, None while running."""
        return self._result

    @property
    def failure(self) -> ev.Failed | None:
        return self._failure

    def data_to_send(self) -> list[bytes]:
        """Transport writes queued since the last call (each: VmCall header + body)."""
        out, self._outgoing = self._outgoing, []
        return out

    def receive_data(self, data: bytes) -> list[ev.Event]:
        """Feed bytes from the peer; returns the events they caused."""
        if self.done:
            return self._drain()
        try:
            self._reader.feed(data)
            while not self.done:
                record = self._reader.next_record()
                if record is None:
                    break
                self._on_record(record)
        except MigtdError as exc:
            self._on_error(exc)
        return self._drain()

    def receive_eof(self) -> list[ev.Event]:
        """The peer closed the connection (spdm.md §6.4: SecureSessionError)."""
        if not self.done:
            what = "in the middle of a record" if self._reader.pending else "before the session ended"
            self._fail(SpdmError(f"peer closed the connection {what} ({self.phase.value} phase)"))
        return self._drain()

    def take_events(self) -> list[ev.Event]:
        """Events produced so far and not yet returned: a hook running inside :meth:`receive_data`
        can have them logged before its own work (they are then not returned again)."""
        return self._drain()

    def abort(self, error: MigtdError) -> list[ev.Event]:
        """End the session from outside (e.g. the driver's deadline passed)."""
        if not self.done:
            self._fail(error)
        return self._drain()

    # --- for subclasses -------------------------------------------------------------

    @abstractmethod
    def _init_ladder(self) -> None:
        """Set up this side's own ladder state (called at the end of ``__init__``)."""

    @abstractmethod
    def _on_record(self, record: Record) -> None:
        """Take one transport record from the peer."""

    def _on_error(self, exc: MigtdError) -> None:
        self._fail(exc)

    def _drain(self) -> list[ev.Event]:
        out, self._events = self._events, []
        return out

    def _emit(self, event: ev.Event) -> None:
        self._events.append(event)

    def _send_plain(self, message: bytes) -> None:
        self._outgoing.append(encode_record(RecordType.SPDM, message))

    def _send_secured(self, message: bytes) -> None:
        if self._sealer is None:
            raise LocalProtocolError("no secured session to send in")
        self._outgoing.append(encode_record(RecordType.SECURED, self._sealer.seal(message)))

    def _open(self, record: Record) -> bytes:
        if self._opener is None:
            raise LocalProtocolError("no secured session to receive in")
        return self._opener.open(record.body)

    def _fail(self, error: MigtdError) -> None:
        # a failure is never reported as Success, whatever a hook put in it (spdm.md §6.4)
        result = error.result if error.result != MigrationResult.Success else MigrationResult.SecureSessionError
        failed = ev.Failed(result, error.message, self.phase, error)
        self._failure = failed
        self._result = result
        self._emit(failed)

    def _succeed(self) -> None:
        self._result = MigrationResult.Success
        self._emit(ev.SessionEnded())
