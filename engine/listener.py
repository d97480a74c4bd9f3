"""The accept loop for a switch's per-call connections (FreeSWITCH's outbound event
socket, Asterisk's FastAGI): one TCP connection is one call.

``CallListener(address, handle, *, name, backlog=1024)``: ``start()``; ``address`` (the
bound ``(host, port)``, useful with port 0); ``stop_accepting()`` closes the listening
socket and returns at once while the connections being handled carry on (the switch then
gets "connection refused" for new calls and its dialplan goes on to the next engine or
the fallback: FreeSWITCH's socket_resume, Asterisk's AGISTATUS=FAILURE, transcript 11);
``stop()`` is the same (no pool, so it never kills handlers). ``handle(sock, addr)`` runs
in its own greenlet and the socket is closed when it returns; an exception escaping it
is logged with ``name``, never raised.

why not greenswitch's OutboundESLServer: it polls a non-blocking accept() every 100 ms (up
to 100 ms added to every call set-up) and builds its own sessions. gevent's StreamServer
accepts as soon as the listening socket is readable.
"""
from __future__ import annotations

import logging
from typing import Callable

from gevent.server import StreamServer

__all__ = ["CallListener"]

log = logging.getLogger("engine.listener")


class CallListener:
    def __init__(self, address: tuple[str, int], handle: Callable[[object, object], None],
                 *, name: str, backlog: int = 1024):
        self.name = name
        self._user_handle = handle
        self._server = StreamServer(address, self._handle, backlog=backlog)

    def _handle(self, sock, addr) -> None:
        try:
            self._user_handle(sock, addr)
        except Exception:
            log.exception("%s handler failed for %s", self.name, addr)
        # StreamServer closes `sock` when this returns.

    @property
    def address(self) -> tuple[str, int]:
        return self._server.address

    def start(self) -> None:
        self._server.start()

    def stop_accepting(self) -> None:
        """Close the listening socket; connections being handled carry on."""
        self._server.close()

    def stop(self) -> None:
        # No pool: StreamServer.stop() only closes the listener, it kills no handler.
        self._server.close()

    @property
    def started(self) -> bool:
        return self._server.started
