"""One FreeSWITCH outbound event socket: one TCP connection per call (dialplan
``socket <host:port> async full``), owned by one ``OutboundConnection``.

The connection owns its socket, one reader greenlet, and the life of every command:

* a plain command or ``api`` is a ``ReplyWait``: replies (``command/reply``,
  ``api/response``) are matched FIFO in the order the commands were sent, whatever events
  arrive in between. A reply wait is not ended by a hang-up (replies still come while
  lingering), only by close. A command that timed out keeps its place in the FIFO, so its
  late reply is discarded and later replies stay aligned.
* an application is an ``AppRequest`` (``execute_async``): it owns its ``Event-UUID``
  (sent with ``event-lock: true``) and its completion, the ``CHANNEL_EXECUTE_COMPLETE``
  whose ``Application-UUID`` equals it (transcript 02) — never matched by app name.

Why not greenswitch's own loop (``OutboundConnection`` still subclasses
``greenswitch.esl.ESLProtocol`` for its handler registry): its waits hang forever when the
socket closes without a disconnect notice, its body read spins on a socket closed
mid-body, it matches completions by application name, its ``send`` has no timeout and it
runs two greenlets per call. Here EOF or a read error ends every pending wait at once
(``CallerGone``), a frame over a limit or malformed closes this connection only
(``ProtocolError``, one log line), and every wait has a timeout.

API
===
``connect(timeout=None, *, then=()) -> Message``  the channel data (also ``.channel_data``,
    ``.uuid``); the commands of ``then`` go in the same write (each must answer ``+OK``).
``command(cmd, *, timeout=None, check=True) -> Message``  ``CommandRejected`` unless
    ``Reply-Text`` starts with ``+OK`` (when ``check``).
``api(cmd, *, timeout=None) -> str``  the ``api/response`` body verbatim (``-ERR ...``
    returned, not raised).
``execute_async(app, arg=None, *, timeout=None) -> str``  the app uuid once ``+OK`` came;
    ``CallerGone`` once the caller hung up (FreeSWITCH would answer ``+OK`` and run nothing).
``wait_complete(app_uuid, timeout, *, after_hangup=False) -> Message``  that app's
    completion; one that already arrived is returned at once (even after hang-up or
    close). Otherwise ``CallerGone`` on hang-up (unless ``after_hangup``) or close,
    ``CommandTimeout`` after ``timeout``; ``ValueError`` for an uuid not pending here.
``execute(app, arg=None, *, timeout, after_hangup=False)``  both of the above.
``wait_event(predicate, timeout, *, after_hangup=False) -> Message``  the first event (or
    disconnect notice) matching, looking first at the ``recent_events`` most recent ones
    not consumed by a wait (completions of our apps are not among them). The predicate
    runs in the reader greenlet: keep it cheap. Each buffered event costs ~4.5 KB, so 12
    is ~55 KB per call; after CHANNEL_HANGUP at most 8 events follow (transcript 04).
``on_event(callback) -> remove()``  every event and notice, in the reader greenlet
    (must not block; exceptions logged, never raised).
``send(data, *, timeout=None) -> Message``  a raw multi-line command (no blank line, CR,
    NUL), reply unchecked.
``close()``  idempotent; fails pending waits with ``CallerGone``, ends the reader.
``hungup``, ``hangup_cause`` (``"UNKNOWN"`` when only the linger notice told us),
``lingering``, ``closed``.

``timeout=None`` on command/api/execute_async means ``command_timeout``; the waits need a
number of seconds (``TypeError`` on None). Values sent must be free of CR, LF and NUL
(``ValueError`` before anything is sent).

Why one module of ~480 lines: the commands, the waits and the reader share one piece of
state (the requests in flight and the hang-up/close transitions that fail them); split
across files, that state machine could no longer be read in one place.
"""
from __future__ import annotations

import logging
import random
from collections import OrderedDict, deque
from typing import Callable

import gevent
import gevent.lock
from gevent.event import AsyncResult
from greenswitch.esl import ESLProtocol

from engine.esl.framing import (DEFAULT_LIMITS, FrameDecoder, Limits, Message, check_field,
                                encode_commands, sendmsg)
from engine.esl.requests import AppRequest, CommandRejected, EventWait, ReplyWait
from engine.peer_socket import close_quietly, reader_end, tune
from rules.errors import CallerGone, CommandTimeout

__all__ = ["CommandRejected", "OutboundConnection"]

log = logging.getLogger("engine.esl")

# One recv: a command's round trip brings ~8 KB back (reply + 2-3 events of ~2.8 KB),
# so 32 KB takes a burst in one call and one hub wakeup.
_READ_BUFFER = 32 * 1024
_MAX_UNCLAIMED = 32            # completions kept for apps nobody waits on yet
_MAX_TRACKED = 256             # app uuids we sent and still expect a completion for
# version 4 and the RFC 4122 variant bits of a random uuid (what uuid.UUID(version=4) sets)
_UUID_CLEAR = ~((0xF000 << 64) | (0xC000 << 48))
_UUID_V4 = (0x4000 << 64) | (0x8000 << 48)


class OutboundConnection(ESLProtocol):
    """FreeSWITCH's outbound socket for one call. See the module docstring."""

    def __init__(self, sock, address, command_timeout: float = 5.0, recent_events: int = 12,
                 limits: Limits = DEFAULT_LIMITS):
        # why not super().__init__(): it builds a gevent Queue and an Event that are never
        # used here, ~1% of the CPU per call (profile of 2026-11-27). These are the
        # attributes of ESLProtocol that its other methods read.
        self._run = True
        self._EOL = "\n"
        self._commands_sent = []
        self._esl_event_queue = self._auth_request_event = None
        self._receive_events_greenlet = self._process_events_greenlet = None
        self.event_handlers = {}
        self._process_esl_event_queue = True
        self._lingering = False
        self.sock = sock
        self.address = address
        self.command_timeout = command_timeout
        tune(sock)
        self._decoder = FrameDecoder(limits)
        self.limits = limits
        self.connected = True
        self.channel_data: Message | None = None
        self.uuid: str | None = None
        self.hangup_cause: str | None = None
        self.hungup = False
        self.closed = False
        self._close_reason: tuple[type[Exception], str] | None = None
        self._replies: deque[ReplyWait] = deque()
        self._send_lock = gevent.lock.Semaphore()
        self._apps: OrderedDict[str, AppRequest] = OrderedDict()
        self._unclaimed = 0             # requests in _apps holding a completion
        self._event_waiters: list[EventWait] = []
        self._recent: deque[Message] = deque(maxlen=recent_events)
        self._reader: gevent.Greenlet | None = gevent.spawn(self._read_loop)

    def start_event_handlers(self) -> None:
        # why: greenswitch's version spawns its own reader and a queue poller; ours runs.
        return None

    def process_events(self) -> None:
        return None

    @property
    def lingering(self) -> bool:
        return self._lingering

    # -- commands -------------------------------------------------------------------

    def connect(self, timeout: float | None = None, *, then: tuple[str, ...] = ()) -> Message:
        """``connect`` plus ``then`` in one write: the session set-up costs one round trip
        (mod_event_socket reads one command at a time, so they still run in order)."""
        for cmd in then:
            check_field("command", cmd)
        replies = self._request_many(["connect", *then], timeout=timeout, encoded_first=True)
        reply = replies[0]
        _check_ok("connect", reply)
        self.channel_data = reply
        self.uuid = reply.get("Unique-ID") or reply.get("variable_uuid")
        for cmd, r in zip(then, replies[1:]):
            _check_ok(cmd, r)
        return reply

    def command(self, cmd: str, *, timeout: float | None = None, check: bool = True) -> Message:
        check_field("command", cmd)
        reply = self._request_many([cmd], timeout=timeout)[0]
        if check:
            _check_ok(cmd, reply)
        return reply

    def api(self, cmd: str, *, timeout: float | None = None) -> str:
        check_field("api command", cmd)
        reply = self._request_many([f"api {cmd}"], timeout=timeout)[0]
        return reply.body if reply.body is not None else reply.get("Reply-Text", "")

    def send(self, data: str, *, timeout: float | None = None) -> Message:
        if "\n\n" in data or data.endswith("\n") or "\r" in data or "\0" in data:
            raise ValueError(f"raw command must not hold a blank line, CR or NUL: {data[:80]!r}")
        return self._request_many([data], timeout=timeout)[0]

    def execute_async(self, app: str, arg: str | None = None, *,
                      timeout: float | None = None) -> str:
        self._check_open()
        if self.hungup:
            raise CallerGone(f"caller hung up ({self.hangup_cause}); not executing {app}")
        app_uuid = self._new_app_uuid()
        message = sendmsg(app, arg, app_uuid)
        request = self._apps[app_uuid] = AppRequest(app_uuid, app)
        while len(self._apps) > _MAX_TRACKED:
            _, old = self._apps.popitem(last=False)
            self._unclaimed -= old.completion is not None
        try:
            reply = self._request_many([message], timeout=timeout)[0]
        except BaseException:
            self._forget(request)
            raise
        if not reply.get("Reply-Text", "").startswith("+OK"):
            self._forget(request)
            raise CommandRejected(f"sendmsg {app} rejected: {reply.get('Reply-Text')!r}", reply)
        return app_uuid

    def wait_complete(self, app_uuid: str, timeout: float, *, after_hangup: bool = False) -> Message:
        request = self._apps.get(app_uuid)
        if request is None:
            raise ValueError(f"no pending application with uuid {app_uuid!r}")
        if request.completion is not None:
            self._forget(request)
            return request.completion
        if request.waiter is not None:
            raise RuntimeError(f"application {app_uuid} is already being waited for")
        self._check_can_wait(after_hangup)
        request.waiter, request.after_hangup = AsyncResult(), after_hangup
        try:
            msg = self._wait(request.waiter, timeout,
                             lambda: f"{request.app} ({app_uuid}) did not complete")
        finally:
            request.waiter = None
        self._forget(request)
        return msg

    def execute(self, app: str, arg: str | None = None, *, timeout: float,
                after_hangup: bool = False) -> Message:
        app_uuid = self.execute_async(app, arg)
        return self.wait_complete(app_uuid, timeout, after_hangup=after_hangup)

    def wait_event(self, predicate: Callable[[Message], bool], timeout: float, *,
                   after_hangup: bool = False) -> Message:
        for msg in self._recent:
            if predicate(msg):
                self._recent.remove(msg)
                return msg
        self._check_can_wait(after_hangup)
        waiter = EventWait(predicate, after_hangup)
        self._event_waiters.append(waiter)
        try:
            return self._wait(waiter.result, timeout, lambda: "no matching event")
        finally:
            if waiter in self._event_waiters:
                self._event_waiters.remove(waiter)

    def on_event(self, callback: Callable[[Message], None]) -> Callable[[], None]:
        # greenswitch's handler registry; "*" = every event (dispatched in _on_event)
        self.register_handle("*", callback)

        def remove() -> None:
            try:
                self.unregister_handle("*", callback)
            except (ValueError, KeyError):
                pass
        return remove

    def close(self) -> None:
        self._shutdown(CallerGone, "connection closed")
        reader = self._reader
        if reader is not None and not reader.dead and reader is not gevent.getcurrent():
            # GreenletExit is thrown at its blocking recv; its finally closes the socket.
            reader.kill(block=True, timeout=1)
        if reader is None or reader.dead:
            close_quietly(self.sock)

    def stop(self) -> None:
        # why: greenswitch's stop sends `exit` and waits for it without a timeout.
        self.close()

    # -- waits ----------------------------------------------------------------------

    @staticmethod
    def _new_app_uuid() -> str:
        # A correlation key, not a secret: uuid4() costs an os.urandom syscall per sendmsg
        # and str(UUID) was 1.1% of the CPU per call (profile of 2026-11-27); this is a
        # version 4, RFC 4122 variant uuid formatted by hand, about 3x cheaper.
        h = "%032x" % ((random.getrandbits(128) & _UUID_CLEAR) | _UUID_V4)
        return f"{h[:8]}-{h[8:12]}-{h[12:16]}-{h[16:20]}-{h[20:]}"

    def _forget(self, request: AppRequest) -> None:
        if self._apps.pop(request.uuid, None) is not None and request.completion is not None:
            self._unclaimed -= 1

    def _gone(self) -> Exception:
        cls, text = self._close_reason or (CallerGone, "connection closed")
        return cls(text)

    def _check_open(self) -> None:
        if self.closed:
            raise self._gone()

    def _check_can_wait(self, after_hangup: bool) -> None:
        if gevent.getcurrent() is self._reader:
            raise RuntimeError("cannot wait on the connection from its own event callback")
        self._check_open()
        if self.hungup and not after_hangup:
            raise CallerGone(f"caller hung up ({self.hangup_cause})")

    @staticmethod
    def _wait(result: AsyncResult, timeout: float, what: Callable[[], str]) -> Message:
        # result.wait() returns on its own timeout without raising, so an outer
        # gevent.Timeout of the caller still propagates as itself.
        if timeout is None:
            raise TypeError("every wait needs a timeout (seconds)")
        result.wait(timeout)
        if not result.ready():
            raise CommandTimeout(f"{what()} within {timeout} s")
        return result.get(block=False)

    def _request_many(self, commands: list[str], *, timeout: float | None = None,
                      encoded_first: bool = False) -> list[Message]:
        """Send commands in one write and wait for their replies, in order."""
        self._check_open()
        if gevent.getcurrent() is self._reader:
            raise RuntimeError("cannot send on the connection from its own event callback")
        pending = [ReplyWait(cmd, encoded_first and i == 0) for i, cmd in enumerate(commands)]
        raw = encode_commands(commands)
        with self._send_lock:
            self._check_open()
            self._replies.extend(pending)
            try:
                self.sock.sendall(raw)
            except OSError as e:
                self._shutdown(CallerGone, f"send failed: {e}")
                raise self._gone() from e
        t = self.command_timeout if timeout is None else timeout
        return [self._wait(p.result, t, lambda p=p: f"no reply to {p.first_line!r}")
                for p in pending]

    # -- the reader -----------------------------------------------------------------

    def _read_loop(self) -> None:
        reason: tuple[type[Exception], str] = (CallerGone, "socket closed by FreeSWITCH")
        try:
            self._read_frames()
        except (Exception, gevent.GreenletExit) as exc:
            reason = reader_end(exc, log=log, protocol="ESL",
                                peer=f"{self.address} (uuid {self.uuid})")
        finally:
            self._shutdown(*reason)
            close_quietly(self.sock)

    def _read_frames(self) -> None:
        recv, decoder = self.sock.recv, self._decoder
        while self._run:
            data = recv(_READ_BUFFER)
            if not data:
                raise CallerGone("socket closed in the middle of a frame" if decoder.mid_frame
                                 else "socket closed by FreeSWITCH")
            for frame in decoder.feed(data):
                self._dispatch(frame)
                if self.closed:  # a disconnect notice, or close() from a callback
                    return

    def _dispatch(self, frame: tuple[dict[str, str], bytes | None]) -> None:
        headers, body = frame
        ctype = headers["Content-Type"]
        if ctype == "command/reply" or ctype == "api/response":
            self._on_reply(headers, body)
        elif ctype == "text/event-plain":
            self._on_event(Message.from_event_plain(body or b"", self.limits))
        elif ctype == "text/event-json":
            self._on_event(Message.from_event_json(body or b""))
        elif ctype == "text/disconnect-notice":
            msg = Message.from_reply(headers, body or b"")
            if headers.get("Content-Disposition") == "linger":
                self._lingering = True
                self._mark_hangup("UNKNOWN")  # no-op after CHANNEL_HANGUP; the socket stays
                self._on_event(msg)
            else:
                self._on_event(msg)
                self._shutdown(CallerGone, "FreeSWITCH sent a disconnect notice")
        else:
            log.debug("ignoring %s frame on %s", ctype, self.address)

    def _on_reply(self, headers: dict[str, str], body: bytes | None) -> None:
        if not self._replies:
            log.warning("unsolicited %s on %s (uuid %s): %r", headers["Content-Type"],
                        self.address, self.uuid, headers.get("Reply-Text", body))
            return
        wait = self._replies.popleft()
        msg = Message.from_reply(headers, body, encoded=wait.encoded)
        if not wait.result.ready():  # else its wait timed out: drop the late reply
            wait.result.set(msg)

    def _on_event(self, msg: Message) -> None:
        name = msg.get("Event-Name")
        ours = False  # a completion of an app we sent: kept on its request, not in _recent
        if name == "CHANNEL_EXECUTE_COMPLETE":
            ours = self._on_complete(msg)
        elif name == "CHANNEL_HANGUP" and (self.uuid is None or msg.get("Unique-ID") == self.uuid):
            self._mark_hangup(msg.get("Hangup-Cause") or "UNKNOWN")

        consumed = False
        for waiter in list(self._event_waiters):
            try:
                matched = waiter.predicate(msg)
            except Exception as e:  # the waiter's bug: raise it in the waiter
                self._event_waiters.remove(waiter)
                waiter.result.set_exception(e)
                continue
            if matched:
                self._event_waiters.remove(waiter)
                waiter.result.set(msg)
                consumed = True
        if not consumed and not ours:
            self._recent.append(msg.light())

        handlers = self.event_handlers.get("*")
        if handlers:
            for handler in tuple(handlers):
                try:
                    handler(msg)
                except Exception:
                    # why not greenswitch's _safe_exec_handler: it formats handler.__name__,
                    # which functools.partial lacks, raising from inside its except block.
                    log.exception("ESL event callback %r failed on %r", handler, msg)

    def _on_complete(self, msg: Message) -> bool:
        """Hand a completion to its request; False when it is not one of ours."""
        request = self._apps.get(msg.get("Application-UUID") or "")
        if request is None or request.completion is not None:
            return False
        if request.waiter is not None and not request.waiter.ready():
            request.completion = msg
            self._unclaimed += 1
            request.waiter.set(msg)
            return True
        request.completion = msg.light()
        self._unclaimed += 1
        if self._unclaimed > _MAX_UNCLAIMED:
            oldest = next(r for r in self._apps.values() if r.completion is not None)
            self._forget(oldest)
            log.warning("dropping unclaimed completion %s on %s", oldest.uuid, self.uuid)
        return True

    def _mark_hangup(self, cause: str) -> None:
        if self.hungup:
            return
        self.hungup = True
        self.hangup_cause = cause
        text = f"caller hung up ({cause})"
        for request in self._apps.values():
            if request.waiter is not None and not request.after_hangup:
                request.waiter.set_exception(CallerGone(text))
        for waiter in list(self._event_waiters):
            if not waiter.after_hangup:
                self._event_waiters.remove(waiter)
                waiter.result.set_exception(CallerGone(text))

    def _shutdown(self, cls: type[Exception], text: str) -> None:
        """Mark the connection closed and fail every pending wait with ``cls(text)``."""
        if self.closed:
            return
        self.closed = True
        self.connected = False
        self._run = False
        self._close_reason = (cls, text)
        if cls is CallerGone:
            log.debug("ESL connection %s (uuid %s) closed: %s", self.address, self.uuid, text)
        while self._replies:
            wait = self._replies.popleft()
            if not wait.result.ready():
                wait.result.set_exception(cls(text))
        for request in self._apps.values():
            if request.waiter is not None and not request.waiter.ready():
                request.waiter.set_exception(cls(text))
        waiters, self._event_waiters = self._event_waiters, []
        for waiter in waiters:
            waiter.result.set_exception(cls(text))



def _check_ok(cmd: str, reply: Message) -> None:
    if not reply.get("Reply-Text", "").startswith("+OK"):
        name = cmd.split(" ", 1)[0]
        what = "connect refused" if name == "connect" else f"{name!r} rejected"
        raise CommandRejected(f"{what}: {reply.get('Reply-Text')!r}", reply)
