"""TLS on the server socket, with each handshake in its connection's handler thread."""

from __future__ import annotations

import logging
import socket
import socketserver
import ssl
from typing import Any

log = logging.getLogger(__name__)


class LazyTLSMixin(socketserver.BaseServer):
    """Runs each TLS handshake in the connection's handler thread, with a time limit.

    A handshake in ``accept()`` would run on the serving thread, where one
    client that connects and sends nothing stalls every other client.
    """

    tls_handshake_timeout: float = 10.0

    def finish_request(
        self, request: socket.socket | tuple[bytes, socket.socket], client_address: Any
    ) -> None:
        if isinstance(request, ssl.SSLSocket) and not self._handshake(request, client_address):
            return  # the caller closes the socket
        super().finish_request(request, client_address)

    def _handshake(self, sock: ssl.SSLSocket, client_address: Any) -> bool:
        previous = sock.gettimeout()
        try:
            sock.settimeout(self.tls_handshake_timeout)
            sock.do_handshake()
            sock.settimeout(previous)
        except OSError as err:  # ssl.SSLError, timeouts, resets: the client's problem
            log.debug("tls handshake with %s failed: %s", client_address, err)
            return False
        return True


def wrap_server_socket(server: LazyTLSMixin, context: ssl.SSLContext) -> None:
    """Switch a bound server to TLS; handshakes then happen in handler threads."""
    if not isinstance(server, socketserver.TCPServer):
        raise TypeError("wrap_server_socket needs a TCPServer")
    server.socket = context.wrap_socket(
        server.socket, server_side=True, do_handshake_on_connect=False
    )
