"""The accept loop for Asterisk's FastAGI connections (``AGI(agi://host:port/...)``).

``AgiListener(address, handle, backlog=1024)``: ``start()``; ``address`` (the bound
``(host, port)``, useful with port 0); ``stop_accepting()`` closes the listening socket
and returns at once, connections being handled carry on (Asterisk then gets "Connection
refused" for new calls and its dialplan falls back: transcript 11, ``AGISTATUS=FAILURE``);
``stop()`` is the same (no pool, so it never kills handlers). ``handle(sock, addr)`` runs
in its own greenlet and the socket is closed when it returns; an exception escaping it is
logged, never raised. The same shape as ``engine.esl.listener.OutboundListener``: gevent's
StreamServer accepts as soon as the listening socket is readable.
"""
from __future__ import annotations

import logging
from typing import Callable

from gevent.server import StreamServer

__all__ = ["AgiListener"]

log = logging.getLogger("engine.agi")


class AgiListener:
    def __init__(self, address: tuple[str, int], handle: Callable[[object, object], None],
                 backlog: int = 1024):
        self._user_handle = handle
        self._server = StreamServer(address, self._handle, backlog=backlog)

    def _handle(self, sock, addr) -> None:
        try:
            self._user_handle(sock, addr)
        except Exception:
            log.exception("FastAGI handler failed for %s", addr)
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
        self._server.close()

    @property
    def started(self) -> bool:
        return self._server.started
