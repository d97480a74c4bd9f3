"""One FastAGI socket: one TCP connection per call (dialplan ``AGI(agi://host:port)``),
owned by one ``AgiConnection``.

The connection owns its socket, one reader greenlet and the life of every command:

* ``read_environment(timeout) -> Environment``: the ``agi_*`` block Asterisk sends first
  (README, "Session start"); Asterisk expects nothing before it is complete.
* ``command(words, *args, timeout, ...) -> Reply``: one command at a time (a lock is held
  from the write until its reply), its reply awaited for at most ``timeout`` seconds
  (``CommandTimeout``); the caller derives the timeout from what the command does (a
  ring time, a recording's maximum), ``None`` meaning ``command_timeout``. Replies are
  matched FIFO, strictly in order (README); a command that timed out keeps its place, so
  its late reply is dropped and later replies stay aligned.
* hang-up: the unsolicited ``HANGUP`` line sets ``hungup`` (README, "Hang-up signalling":
  at once when idle, 39-44 ms after the running command's own reply otherwise). Once
  ``hungup``, ``command`` raises ``CallerGone`` unless ``after_hangup=True`` (``GET
  VARIABLE``/``EXEC`` still run on a dead channel: 05, 13). A ``511`` reply (a command not
  permitted on a dead channel; the only signal with ``AGISIGHUP=no``, 05d) sets ``hungup``
  and raises ``CallerGone``. ``hangup_grace`` handles the ambiguous ``200 result=-1``:
  with it, a ``-1`` followed within that many seconds by ``HANGUP`` (or EOF) raises
  ``CallerGone``; without ``HANGUP`` it is returned (a missing file also gives ``-1``, 13).
* EOF, a read error or ``close()`` fail every pending wait with ``CallerGone`` at once;
  malformed input or a frame over a limit closes this connection only (``ProtocolError``,
  one log line). Asterisk never closes the socket after ``HANGUP`` (01, 08): the engine
  must, and ``close()`` is prompt (it does not wait for Asterisk) and idempotent.

``wait_hangup(timeout) -> bool``: True once ``HANGUP`` came or the socket is closed.
Values sent are checked by ``framing.encode_command`` (``ValueError`` before sending).
"""
from __future__ import annotations

import logging
from collections import deque

import gevent
import gevent.lock
from gevent.event import AsyncResult, Event

from engine.agi.framing import (DEFAULT_LIMITS, HANGUP, AgiDecoder, Environment, Limits,
                                Reply, encode_command)
from engine.peer_socket import close_quietly, reader_end, tune
from rules.errors import CallerGone, CommandTimeout, ProtocolError

__all__ = ["AgiConnection"]

log = logging.getLogger("engine.agi")

_READ_BUFFER = 16 * 1024
DEAD_CHANNEL = 511


class AgiConnection:
    """Asterisk's FastAGI socket for one call. See the module docstring."""

    def __init__(self, sock, address, command_timeout: float = 5.0,
                 limits: Limits = DEFAULT_LIMITS):
        self.sock = sock
        self.address = address
        self.command_timeout = command_timeout
        tune(sock)                          # one small line per command
        self._decoder = AgiDecoder(limits)
        self.environment: Environment | None = None
        self._env = AsyncResult()
        self.hungup = False
        self.closed = False
        self._hangup_seen = Event()         # set on HANGUP, 511 or close
        self._close_reason: tuple[type[Exception], str] | None = None
        self._replies: deque[AsyncResult] = deque()
        self._lock = gevent.lock.Semaphore()
        self._reader: gevent.Greenlet | None = gevent.spawn(self._read_loop)

    # -- API ------------------------------------------------------------------------

    def read_environment(self, timeout: float | None = None) -> Environment:
        t = self.command_timeout if timeout is None else timeout
        self._env.wait(t)
        if not self._env.ready():
            raise CommandTimeout(f"no AGI environment within {t} s")
        return self._env.get(block=False)

    def command(self, words: str, *args: str, timeout: float | None = None,
                quote: tuple[bool, ...] = (), after_hangup: bool = False,
                hangup_grace: float | None = None) -> Reply:
        raw = encode_command(words, *args, quote=quote)
        if gevent.getcurrent() is self._reader:
            raise RuntimeError("cannot send on the connection from its reader")
        t = self.command_timeout if timeout is None else timeout
        with self._lock:
            self._check(after_hangup, words)
            result = AsyncResult()
            self._replies.append(result)
            try:
                self.sock.sendall(raw)
            except OSError as e:
                self._shutdown(CallerGone, f"send failed: {e}")
                raise self._gone() from e
            result.wait(t)
            if not result.ready():
                raise CommandTimeout(f"no reply to {words!r} within {t} s")
            reply = result.get(block=False)     # raises what _shutdown set
        if reply.code == DEAD_CHANNEL:
            self._mark_hangup()
            raise CallerGone(f"{words}: dead channel ({reply.text[:60]})")
        if hangup_grace is not None and reply.result == -1 and self.wait_hangup(hangup_grace):
            raise CallerGone(f"{words}: caller hung up")
        return reply

    def wait_hangup(self, timeout: float) -> bool:
        return self._hangup_seen.wait(timeout) or self.closed

    def close(self) -> None:
        self._shutdown(CallerGone, "connection closed")
        reader = self._reader
        if reader is not None and not reader.dead and reader is not gevent.getcurrent():
            reader.kill(block=True, timeout=1)
        close_quietly(self.sock)

    # -- internals ------------------------------------------------------------------

    def _gone(self) -> Exception:
        cls, text = self._close_reason or (CallerGone, "connection closed")
        return cls(text)

    def _check(self, after_hangup: bool, words: str) -> None:
        if self.closed:
            raise self._gone()
        if self.hungup and not after_hangup:
            raise CallerGone(f"caller hung up; not sending {words}")

    def _mark_hangup(self) -> None:
        self.hungup = True
        self._hangup_seen.set()

    def _read_loop(self) -> None:
        reason: tuple[type[Exception], str] = (CallerGone, "socket closed by Asterisk")
        try:
            self._read()
        except (Exception, gevent.GreenletExit) as exc:
            reason = reader_end(exc, log=log, protocol="AGI", peer=str(self.address))
        finally:
            self._shutdown(*reason)
            close_quietly(self.sock)

    def _read(self) -> None:
        recv, decoder = self.sock.recv, self._decoder
        while True:
            data = recv(_READ_BUFFER)
            if not data:
                raise CallerGone("socket closed by Asterisk in the middle of a reply"
                                 if decoder.mid_frame else "socket closed by Asterisk")
            for item in decoder.feed(data):
                self._dispatch(item)

    def _dispatch(self, item) -> None:
        if item is HANGUP:
            self._mark_hangup()
        elif isinstance(item, Environment):
            self.environment = item
            self._env.set(item)
        elif not self._replies:
            raise ProtocolError(f"unsolicited AGI reply: {item.text[:80]!r}")
        else:
            waiting = self._replies.popleft()
            if not waiting.ready():             # else it timed out: drop the late reply
                waiting.set(item)

    def _shutdown(self, cls: type[Exception], text: str) -> None:
        if self.closed:
            return
        self.closed = True
        self._close_reason = (cls, text)
        log.debug("AGI connection %s closed: %s", self.address, text)
        self._hangup_seen.set()
        if not self._env.ready():
            self._env.set_exception(cls(f"{text} (before the AGI environment)"))
        while self._replies:
            waiting = self._replies.popleft()
            if not waiting.ready():
                waiting.set_exception(cls(text))

