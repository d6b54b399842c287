"""TLS 1.3 over memory BIOs: the byte-moving half of RA-TLS, with no sockets.

:class:`TlsEngine` wraps a pyOpenSSL connection whose network side is a pair
of memory BIOs. The caller feeds bytes received from the peer with
:meth:`TlsEngine.feed` and ships whatever :meth:`TlsEngine.take_outgoing`
returns; the engine never blocks. That keeps the asyncio layer a small loop
and lets tests drive two engines against each other in memory.

Parameters follow protocol.md §5.1: TLS 1.3 only, TLS_AES_256_GCM_SHA384,
secp384r1, client SNI ``localhost``, server demands a client certificate,
no session tickets. OpenSSL's own chain validation is switched off (the
verify callback accepts everything) because a MigTD certificate is
self-signed by design; the application's :class:`PeerVerifier` decides.
"""

from __future__ import annotations

import warnings
from typing import TYPE_CHECKING

from migtd.errors import SecureSessionError

if TYPE_CHECKING:
    from cryptography.hazmat.primitives.asymmetric.ec import EllipticCurvePrivateKey

CIPHER = "TLS_AES_256_GCM_SHA384"
SERVER_NAME = b"localhost"


class WantMore(Exception):
    """The engine needs more bytes from the peer before it can go on."""


class PeerClosed(Exception):
    """The peer closed the TLS session cleanly (close_notify)."""


def _accept_any(conn: object, cert: object, errnum: int, depth: int, ok: int) -> bool:
    # OpenSSL may call this more than once per certificate; the real judgement
    # happens in the application verifier after the handshake.
    return True


class TlsEngine:
    """One TLS 1.3 endpoint whose transport is the caller's job."""

    def __init__(self, *, is_client: bool, certificate_der: bytes,
                 private_key: EllipticCurvePrivateKey, send_certificate: bool = True) -> None:
        from cryptography.hazmat.primitives.asymmetric import ec
        from OpenSSL import SSL, crypto

        self._SSL = SSL
        self.is_client = is_client
        ctx = SSL.Context(SSL.TLS_METHOD)
        ctx.set_min_proto_version(SSL.TLS1_3_VERSION)
        ctx.set_max_proto_version(SSL.TLS1_3_VERSION)
        ctx.set_tls13_ciphersuites(CIPHER.encode())
        ctx.set_tmp_ecdh(ec.SECP384R1())  # sets the supported groups to P-384 only
        # No stateless tickets. OpenSSL still sends two stateful TLS 1.3
        # NewSessionTickets after the handshake (pyOpenSSL has no
        # SSL_CTX_set_num_tickets); peers, rustls included, just ignore them.
        ctx.set_options(SSL.OP_NO_TICKET)
        if send_certificate:
            # crypto.load_certificate goes through OpenSSL, which accepts the
            # explicit `critical FALSE` that python-cryptography rejects.
            # (pyOpenSSL's X509 form is deprecated, but the cryptography form is
            # exactly what cannot hold this certificate.)
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", DeprecationWarning)
                ctx.use_certificate(crypto.load_certificate(crypto.FILETYPE_ASN1, certificate_der))
            ctx.use_privatekey(private_key)
        mode = SSL.VERIFY_PEER
        if not is_client:
            mode |= SSL.VERIFY_FAIL_IF_NO_PEER_CERT
        ctx.set_verify(mode, _accept_any)
        conn = SSL.Connection(ctx, None)
        if is_client:
            conn.set_tlsext_host_name(SERVER_NAME)
            conn.set_connect_state()
        else:
            conn.set_accept_state()
        self._conn = conn
        self.handshake_done = False

    # -- bytes in / out
    def feed(self, data: bytes) -> None:
        """Hand bytes received from the peer to TLS."""
        if data:
            self._conn.bio_write(data)

    def take_outgoing(self) -> bytes:
        """Everything TLS wants sent to the peer right now (maybe empty)."""
        chunks = []
        while True:
            try:
                chunk = self._conn.bio_read(65536)
            except self._SSL.WantReadError:
                break
            if not chunk:
                break
            chunks.append(chunk)
        return b"".join(chunks)

    # -- protocol steps
    def step_handshake(self) -> bool:
        """Advance the handshake; True once complete. Raises SecureSessionError on failure."""
        if self.handshake_done:
            return True
        try:
            self._conn.do_handshake()
        except self._SSL.WantReadError:
            return False
        except self._SSL.ZeroReturnError:
            raise SecureSessionError("peer closed the TLS session during the handshake") from None
        except self._SSL.Error as exc:
            raise SecureSessionError(f"TLS handshake failed: {_describe(exc)}") from None
        self.handshake_done = True
        return True

    def write(self, data: bytes) -> None:
        """Encrypt application data as one record batch (collect with take_outgoing)."""
        try:
            self._conn.sendall(data)
        except self._SSL.Error as exc:
            raise SecureSessionError(f"TLS write failed: {_describe(exc)}") from None

    def read(self, max_bytes: int) -> bytes:
        """Decrypted application data already available; raises WantMore if none."""
        try:
            return self._conn.recv(max_bytes)
        except self._SSL.WantReadError:
            raise WantMore() from None
        except self._SSL.ZeroReturnError:
            raise PeerClosed() from None
        except self._SSL.Error as exc:
            raise SecureSessionError(f"TLS read failed: {_describe(exc)}") from None

    # -- facts about the session
    def peer_certificate_der(self) -> bytes | None:
        """The peer's certificate exactly as it sent it, or None if it sent none."""
        from OpenSSL import crypto

        cert = self._conn.get_peer_certificate()
        if cert is None:
            return None
        return crypto.dump_certificate(crypto.FILETYPE_ASN1, cert)

    @property
    def version(self) -> str:
        """Negotiated protocol name, ``TLSv1.3``."""
        return self._conn.get_protocol_version_name()

    @property
    def cipher(self) -> str:
        """Negotiated cipher suite name (OpenSSL spelling)."""
        return self._conn.get_cipher_name() or ""


def _describe(exc: Exception) -> str:
    """One readable line out of pyOpenSSL's list of (lib, func, reason) tuples."""
    args = exc.args[0] if exc.args else None
    if isinstance(args, list) and args:
        reasons = [str(item[-1]) for item in args if isinstance(item, tuple) and item]
        if reasons:
            return "; ".join(reasons)
    text = str(exc)
    return text if text else exc.__class__.__name__
