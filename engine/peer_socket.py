"""What both switches' per-call sockets (FreeSWITCH's event socket, Asterisk's FastAGI)
share at the boundary with the operating system.

Contract:

* ``tune(sock)``: TCP_NODELAY (small request/reply writes must not wait for Nagle plus
  delayed ACK, 40 ms), ignored where the socket cannot take it;
* ``close_quietly(sock)``: close, never raising;
* ``reader_end(exc, *, log, protocol, peer)``: how a reader greenlet ended, as the
  engine's error that fails every pending wait: ``(CallerGone | ProtocolError, text)``.
  A caller gone, a reset or an EOF is ``CallerGone``; a frame the peer should not have
  sent is a ``ProtocolError`` with one error line (``<protocol> protocol error on
  <peer>: <error>; closing this connection``); a bug in the reader is logged with its
  traceback and ends only this connection.
"""
from __future__ import annotations

import logging
import socket as _stdsocket

import gevent

from rules.errors import CallerGone, ProtocolError

__all__ = ["close_quietly", "reader_end", "tune"]


def tune(sock) -> None:
    try:
        sock.setsockopt(_stdsocket.IPPROTO_TCP, _stdsocket.TCP_NODELAY, 1)
    except (OSError, AttributeError):
        pass


def close_quietly(sock) -> None:
    try:
        sock.close()
    except Exception:
        pass


def reader_end(exc: BaseException, *, log: logging.Logger, protocol: str,
               peer: str) -> tuple[type[Exception], str]:
    if isinstance(exc, CallerGone):
        return CallerGone, str(exc)
    if isinstance(exc, ProtocolError):
        log.error("%s protocol error on %s: %s; closing this connection", protocol, peer, exc)
        return ProtocolError, f"protocol error: {exc}"
    if isinstance(exc, OSError):                  # connection reset, ...
        return CallerGone, f"socket error: {exc}"
    if isinstance(exc, gevent.GreenletExit):      # close() killed the reader
        return CallerGone, "connection closed"
    # A bug here must not escape into the hub: it costs this connection only.
    log.error("%s reader failed on %s", protocol, peer, exc_info=exc)
    return ProtocolError, f"internal error: {exc!r}"
