"""The one adapter over greenswitch: FreeSWITCH's outbound event socket, one TCP
connection per call (dialplan ``socket <host:port> async full``).

greenswitch stays the protocol layer (``OutboundConnection`` subclasses
``greenswitch.esl.ESLProtocol``, ``Message`` subclasses ``greenswitch.esl.ESLEvent``), but
its faulty parts are overridden here, each with a ``# why:`` comment, so that they never
reach the engine:

1. It URL-decodes a whole event before splitting it into lines (and splits with
   ``str.splitlines``, which also breaks on U+2028, U+0085, ...), so a caller-ID name
   carrying ``%0A`` forges headers. Here frames are split on ``\\n`` first, then each value
   is decoded. Only ``text/event-plain`` bodies and the ``connect`` reply's headers are
   URL-encoded (transcripts: every other ``Reply-Text`` and ``api/response`` body is raw).
2. Waits hang forever when the socket closes without a disconnect notice, and
   ``_read_socket`` spins forever on a socket closed in the middle of a body. Here EOF or a
   read error ends every pending wait at once (``CallerGone``); a short body read raises,
   never loops.
3. ``OutboundESLServer`` polls ``accept`` every 100 ms. ``OutboundListener`` below is a
   ``gevent.server.StreamServer`` (accepts as soon as the listening socket is readable).
4. Completions are matched by application name, ``send`` has no timeout and
   ``call_command`` sends no ``Event-UUID``. Here every ``sendmsg`` carries
   ``event-lock: true`` and a fresh ``Event-UUID``; its completion is the
   ``CHANNEL_EXECUTE_COMPLETE`` whose ``Application-UUID`` equals it; every wait has a timeout.

Public API
==========

``OutboundListener(address, handle, backlog=1024)``
    ``start()``; ``address`` (the bound ``(host, port)``, useful with port 0);
    ``stop_accepting()`` closes the listening socket and returns at once, in-flight handlers
    keep running; ``stop()`` is the same (this server uses no pool, so it never kills
    handlers). ``handle(sock, addr)`` runs in its own greenlet; the socket is closed when it
    returns. Exceptions escaping ``handle`` are logged.

``OutboundConnection(sock, address, command_timeout=5.0, recent_events=12)``
    One per call, created in the listener's ``handle``. Starts one reader greenlet.

    ``connect() -> Message``            the channel data (also ``.channel_data``, ``.uuid``)
    ``command(cmd, *, timeout=None, check=True) -> Message``
        a plain command (``myevents``, ``linger 30``, ``event plain ...``, ``exit``); returns
        the ``command/reply``. With ``check`` a ``Reply-Text`` not starting with ``+OK``
        raises ``CommandRejected`` (a ``ProtocolError``; ``.reply`` holds the Message).
    ``api(cmd, *, timeout=None) -> str``
        ``api <cmd>``; returns the ``api/response`` body verbatim (may lack a trailing
        ``\\n``; ``-ERR ...`` is returned, not raised).
    ``execute_async(app, arg=None, *, timeout=None) -> str``
        ``sendmsg`` (``event-lock: true``, fresh ``Event-UUID``), waits for its ``+OK``
        (``CommandRejected`` on ``-ERR``) and returns the app uuid. Raises ``CallerGone`` once
        the caller has hung up (FreeSWITCH would answer ``+OK`` and run nothing).
    ``wait_complete(app_uuid, timeout, *, after_hangup=False) -> Message``
        that app's ``CHANNEL_EXECUTE_COMPLETE``. A completion that already arrived is
        returned at once (even after hang-up or close). Otherwise: ``CallerGone`` if the
        caller hangs up (unless ``after_hangup``) or the socket closes;
        ``CommandTimeout`` after ``timeout`` seconds. ``ValueError`` for an uuid this
        connection did not send (or whose completion was already consumed).
    ``execute(app, arg=None, *, timeout, after_hangup=False) -> Message``
        ``execute_async`` + ``wait_complete``.
    ``wait_event(predicate, timeout, *, after_hangup=False) -> Message``
        the first event (``text/event-*`` or disconnect notice) for which
        ``predicate(msg)`` is true, looking first at the ``recent_events`` most recent
        events not consumed by a wait (completions of apps we sent are not among them: use
        ``wait_complete``), then at new ones; the returned event is consumed. Same
        ``CallerGone`` / ``CommandTimeout`` rules as ``wait_complete``. The predicate runs
        in the reader greenlet: keep it cheap, never block. Each buffered event costs
        ~4.5 KB (its URL-encoded text), so 12 is ~55 KB per call; after CHANNEL_HANGUP at
        most 8 events follow (transcript 04), so a RECORD_STOP stays findable in cleanup.
    ``on_event(callback) -> remove()``
        ``callback(msg)`` for every event and disconnect notice, in the reader greenlet
        (must not block or wait on this connection). Exceptions are logged, never raised.
    ``send(data, *, timeout=None) -> Message``
        greenswitch's raw primitive (kept for multi-line commands the helpers above don't
        build, e.g. ``sendmsg <other-uuid>``): ``data`` without the final blank line; no
        blank line, CR or NUL inside. Returns the reply, checks nothing.
    ``close()``  idempotent; fails pending waits with ``CallerGone``, closes the socket and
        ends the reader greenlet before returning (no polling delay). Does not send ``exit``.
    ``hungup`` (bool: this channel's CHANNEL_HANGUP, or a linger notice, was seen),
    ``hangup_cause`` (None while up; its ``Hangup-Cause``, or ``"UNKNOWN"`` when only the
    linger notice told us), ``lingering`` (linger notice seen), ``closed`` (socket gone).

    Timeouts: ``timeout=None`` on command/api/execute_async means ``command_timeout`` (the
    wait for the reply); ``wait_complete``/``wait_event``/``execute`` need an explicit
    number of seconds (``TypeError`` on None).

    Command replies (``command/reply``, ``api/response``) are matched FIFO in the order the
    commands were sent, whatever events arrive in between. A reply wait is not ended by a
    hang-up (replies still come while lingering), only by close. A command that timed out
    keeps its place in the FIFO, so its late reply is discarded and later replies stay
    aligned. After a malformed frame (bad ``Content-Length``, non UTF-8, a header line
    without ``": "``, no ``Content-Type``) the connection is closed and its waits raise
    ``ProtocolError``; other connections are unaffected.

``Message``: ``.headers`` (dict of decoded values), ``.content_type``, ``.body`` (str or
None), ``.get(name, default=None)``, ``.name`` (``Event-Name``). Events and the connect
reply decode lazily: ``get()`` decodes one header (cheap); ``.headers`` builds the whole
dict on first use.

Every value sent in a ``sendmsg`` or command must be free of CR, LF and NUL
(``ValueError`` before anything is sent).
"""
from __future__ import annotations

import json
import logging
import random
import socket as _stdsocket
from collections import OrderedDict, deque
from typing import Callable, Iterable
from urllib.parse import unquote

import gevent
import gevent.lock
from gevent.event import AsyncResult
from gevent.server import StreamServer
from greenswitch.esl import ESLEvent, ESLProtocol

from rules.errors import CallerGone, CommandTimeout, ProtocolError

__all__ = [
    "CommandRejected",
    "Message",
    "OutboundConnection",
    "OutboundListener",
]

log = logging.getLogger(__name__)

_MAX_LINE = 64 * 1024          # one header line of a frame
_MAX_BODY = 4 * 1024 * 1024    # Content-Length bound (events are ~3-5 KB)
# Socket read buffer. A command's round trip brings ~8 KB back (reply + 2-3 events of
# ~2.8 KB), more than io's 8 KB default, so bursts took 2+ recv calls and hub wakeups.
_READ_BUFFER = 32 * 1024
_MAX_UNCLAIMED = 32            # completions kept for apps nobody waits on yet
_MAX_TRACKED = 256             # app uuids we sent and still expect a completion for
_FORBIDDEN = ("\r", "\n", "\0")
# version 4 and the RFC 4122 variant bits of a random uuid (what uuid.UUID(version=4) sets)
_UUID_CLEAR = ~((0xF000 << 64) | (0xC000 << 48))
_UUID_V4 = (0x4000 << 64) | (0x8000 << 48)


class CommandRejected(ProtocolError):
    """FreeSWITCH answered a command with something other than ``+OK``."""

    def __init__(self, message: str, reply: "Message"):
        super().__init__(message)
        self.reply = reply


# ---------------------------------------------------------------------------- messages


def _check_field(what: str, value: str) -> str:
    if not isinstance(value, str):
        raise TypeError(f"{what} must be str, not {type(value).__name__}")
    if any(c in value for c in _FORBIDDEN):
        raise ValueError(f"{what} contains CR, LF or NUL: {value[:80]!r}")
    return value


def _content_length(value: str | None, what: str) -> int | None:
    if value is None:
        return None
    if not (value.isascii() and value.isdigit()):
        raise ProtocolError(f"{what} Content-Length is not an integer: {value[:40]!r}")
    n = int(value)
    if n > _MAX_BODY:
        raise ProtocolError(f"{what} Content-Length {n} exceeds {_MAX_BODY}")
    return n


# %XX -> character, for the ASCII range (what FreeSWITCH's url-encoding mostly produces);
# anything else (non-ASCII UTF-8 sequences, stray "%") falls back to urllib's unquote.
_HEX_ASCII = {}
for _i in range(128):
    for _h in {f"{_i:02x}", f"{_i:02X}", f"{_i:02x}"[0] + f"{_i:02X}"[1], f"{_i:02X}"[0] + f"{_i:02x}"[1]}:
        _HEX_ASCII[_h] = chr(_i)
del _i, _h


def _unquote(value: str) -> str:
    """URL-decode one header value (3-4x faster than urllib.parse.unquote here)."""
    parts = value.split("%")
    out = [parts[0]]
    for part in parts[1:]:
        char = _HEX_ASCII.get(part[:2])
        if char is None:
            return unquote(value)
        out.append(char)
        out.append(part[2:])
    return "".join(out)


def _parse_lines(lines: Iterable[str], decode: bool) -> dict[str, str]:
    """``Name: value`` lines -> dict (first occurrence wins); values URL-decoded one by
    one when ``decode``."""
    headers: dict[str, str] = {}
    for line in lines:
        if not line:
            continue
        name, sep, value = line.partition(": ")
        if not sep or not name:
            raise ProtocolError(f"header line without ': ': {line[:80]!r}")
        if name not in headers:
            headers[name] = _unquote(value) if decode and "%" in value else value
    return headers


class Message(ESLEvent):
    """One message from FreeSWITCH: an event, a command reply or a disconnect notice.

    Events keep their URL-encoded header block and decode lazily: ``get(name)`` finds and
    decodes one line (the engine reads 3-4 of ~100 headers); ``headers`` builds the whole
    decoded dict on first use. Lines are always delimited in the raw text first, so a
    decoded value can never turn into a header.
    """

    def __init__(self, headers: dict[str, str] | None, body: str | None = None,
                 content_type: str | None = None, *, raw: str | None = None,
                 encoded: dict[str, str] | None = None):
        # why: ESLEvent.__init__ parses text with the faulty parse_data; we build from
        # headers that were already split (and decoded) safely.
        self._headers = (headers if headers is not None or raw is not None or encoded is not None
                         else {})
        self._raw = raw            # "Name: urlencoded\n"... when decoded lazily
        # Split but still URL-encoded values (the connect reply: ~150 headers of which the
        # engine reads 5; decoding them all eagerly was 1% of the CPU per call, profile of
        # 2026-11-27).
        self._enc = encoded
        self.body = body
        if content_type is None and self._headers:
            content_type = self._headers.get("Content-Type")
        self.content_type = content_type

    @property
    def headers(self) -> dict[str, str]:
        h = self._headers
        if h is None:
            enc = self._enc
            if enc is not None:
                h = self._headers = {k: _unquote(v) if "%" in v else v for k, v in enc.items()}
            else:
                h = self._headers = _parse_lines(self._raw.split("\n"), decode=True)
        return h

    @headers.setter
    def headers(self, value: dict[str, str]) -> None:
        self._headers, self._raw, self._enc = value, None, None

    def parse_data(self, data: str) -> None:
        # why: greenswitch unquotes the whole text, then splitlines(): a value holding
        # %0A (or U+2028 ...) becomes a forged header. Split on "\n" first, decode values.
        parsed = _parse_lines(data.split("\n"), decode=True)
        for name, value in self.headers.items():
            parsed.setdefault(name, value)
        self.headers = parsed

    def get(self, name: str, default: str | None = None) -> str | None:
        h = self._headers
        if h is not None:
            return h.get(name, default)
        enc = self._enc
        if enc is not None:
            value = enc.get(name)
            if value is None:
                return default
            return _unquote(value) if "%" in value else value
        raw, key = self._raw, name + ": "
        if raw.startswith(key):
            start = len(key)
        else:
            start = raw.find("\n" + key)
            if start < 0:
                return default
            start += len(key) + 1
        end = raw.find("\n", start)
        value = raw[start:] if end < 0 else raw[start:end]
        return _unquote(value) if "%" in value else value

    def light(self) -> "Message":
        """The same message without its decoded dict (what buffers keep: ~4 KB, not ~17)."""
        if self._raw is None:
            return self
        return Message(None, self.body, self.content_type, raw=self._raw)

    @classmethod
    def from_event_plain(cls, raw: bytes) -> "Message":
        """Parse a ``text/event-plain`` body: URL-encoded header lines, a blank line, and
        an optional inner body of the inner ``Content-Length`` (e.g. BACKGROUND_JOB)."""
        # The header block with its last "\n" (sliced, not partition() + `text += "\n"`:
        # two fewer copies of the ~2.8 KB block per event).
        end = raw.find(b"\n\n")
        head = raw if end < 0 else raw[:end + 1]
        try:
            text = head.decode("utf-8")
        except UnicodeDecodeError as e:
            raise ProtocolError(f"event is not UTF-8: {e}") from None
        if not text.endswith("\n"):
            text += "\n"
        # Values are URL-encoded (":" and " " included), so every line holds exactly one
        # ": " and none starts with it. Counting checks that at C speed.
        if text.count(": ") != text.count("\n") or text.startswith(": ") or "\n: " in text:
            bad = next((ln for ln in text.split("\n")[:-1] if ": " not in ln or ln.startswith(": ")),
                       "a line with two ': '")
            raise ProtocolError(f"event header line without ': ': {bad[:80]!r}")
        msg = cls(None, None, "text/event-plain", raw=text)
        n = _content_length(msg.get("Content-Length"), "event")
        if n is not None:
            start = len(raw) if end < 0 else end + 2
            if len(raw) - start < n:
                raise ProtocolError("event body shorter than its inner Content-Length")
            try:
                msg.body = raw[start:start + n].decode("utf-8")
            except UnicodeDecodeError as e:
                raise ProtocolError(f"event body is not UTF-8: {e}") from None
        return msg

    @classmethod
    def from_event_json(cls, raw: bytes) -> "Message":
        try:
            obj = json.loads(raw.decode("utf-8"))
        except (UnicodeDecodeError, ValueError) as e:
            raise ProtocolError(f"bad text/event-json body: {e}") from None
        if not isinstance(obj, dict):
            raise ProtocolError("text/event-json body is not an object")
        body = obj.pop("_body", None)
        headers = {str(k): v if isinstance(v, str) else json.dumps(v) for k, v in obj.items()}
        return cls(headers, body if isinstance(body, str) else None, "text/event-json")

    @property
    def name(self) -> str | None:
        return self.get("Event-Name")

    def __repr__(self) -> str:
        extra = self.name or self.get("Reply-Text") or ""
        return f"<Message {self.content_type} {extra}>"


# -------------------------------------------------------------------------- connection


class _Waiter:
    __slots__ = ("result", "after_hangup", "predicate")

    def __init__(self, after_hangup: bool, predicate=None):
        self.result = AsyncResult()
        self.after_hangup = after_hangup
        self.predicate = predicate


class OutboundConnection(ESLProtocol):
    """FreeSWITCH's outbound socket for one call. See the module docstring."""

    def __init__(self, sock, address, command_timeout: float = 5.0, recent_events: int = 12):
        # why not super().__init__(): it builds a gevent Queue (for process_events) and an
        # Event (inbound auth) that are never used here, ~1% of the CPU per call in the
        # profile of 2026-11-27. These are the attributes it sets, minus those two.
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
        try:
            # Small request/reply writes: don't let Nagle + delayed ACK add 40 ms.
            sock.setsockopt(_stdsocket.IPPROTO_TCP, _stdsocket.TCP_NODELAY, 1)
        except (OSError, AttributeError):
            pass
        self.sock_file = sock.makefile("rb", buffering=_READ_BUFFER)
        self.connected = True
        self.channel_data: Message | None = None
        self.uuid: str | None = None
        self.hangup_cause: str | None = None
        self.hungup = False
        self.closed = False
        self._close_reason: tuple[type[Exception], str] | None = None
        self._replies: deque[tuple[AsyncResult, bool, str]] = deque()
        self._send_lock = gevent.lock.Semaphore()
        self._apps: OrderedDict[str, str] = OrderedDict()       # app uuid -> app name
        self._completed: OrderedDict[str, Message] = OrderedDict()
        self._complete_waiters: dict[str, _Waiter] = {}
        self._event_waiters: list[_Waiter] = []
        self._recent: deque[Message] = deque(maxlen=recent_events)
        self._reader: gevent.Greenlet | None = None
        self.start_event_handlers()

    # -- greenswitch overrides ------------------------------------------------------

    def start_event_handlers(self) -> None:
        # why: greenswitch spawns a reader plus a process_events greenlet that polls a
        # queue with timeout=1 (up to 1 s to stop, two greenlets per call). One reader
        # that dispatches inline is enough and stops at once.
        self._reader = gevent.spawn(self.receive_events)

    def process_events(self) -> None:
        # why: unused, see start_event_handlers; kept so nothing starts greenswitch's loop.
        return None

    @property
    def lingering(self) -> bool:
        return self._lingering

    @staticmethod
    def _read_socket(sock_file, length: int) -> bytes:
        # why: greenswitch loops forever when the socket closes mid-body (read() keeps
        # returning b""), and decodes before we can check. Read exactly `length` or raise.
        data = sock_file.read(length)
        if data is None or len(data) < length:
            raise CallerGone("socket closed in the middle of a frame body")
        return data

    def receive_events(self) -> None:
        # why: greenswitch's reader decodes and unquotes whole frames, crashes its greenlet
        # on a bad Content-Length / unknown reply (leaving waits hanging) and never wakes
        # pending waits on EOF. Here every end of the loop ends every wait.
        reason: tuple[type[Exception], str] = (CallerGone, "socket closed by FreeSWITCH")
        try:
            while self._run:
                self.handle_event(self._read_frame())
                if self.closed:  # a disconnect notice, or close() from a callback
                    break
        except CallerGone as e:
            reason = (CallerGone, str(e))
        except ProtocolError as e:
            log.error("ESL protocol error on %s (uuid %s): %s; closing this connection",
                      self.address, self.uuid, e)
            reason = (ProtocolError, f"protocol error: {e}")
        except OSError as e:  # connection reset, ...
            reason = (CallerGone, f"socket error: {e}")
        except ValueError as e:
            if not self.sock_file.closed:  # not "I/O on a closed file": a bug of ours
                log.exception("ESL reader failed on %s (uuid %s)", self.address, self.uuid)
            reason = (CallerGone if self.sock_file.closed else ProtocolError, f"reader stopped: {e}")
        except gevent.GreenletExit:
            reason = (CallerGone, "connection closed")
        except Exception as e:  # a bug here must not escape into the hub
            log.exception("ESL reader failed on %s (uuid %s)", self.address, self.uuid)
            reason = (ProtocolError, f"internal error: {e!r}")
        finally:
            self._shutdown(*reason)
            self._close_socket()

    def _read_frame(self) -> tuple[dict[str, str], bytes | None]:
        """Outer headers (raw, not decoded) and the body of exactly Content-Length bytes."""
        rfile = self.sock_file
        headers: dict[str, str] = {}
        # Fast path: the whole header block is already buffered (nearly always: an event's
        # is `Content-Length`, `Content-Type`, blank line, ~55 bytes). One peek + one read
        # instead of one readline per line; the profile of 2026-11-27 had _read_frame at
        # 16% of the CPU, most of it per-line readline calls (the connect reply has ~150).
        buf = rfile.peek(1)
        end = buf.find(b"\n\n")
        if end > 0 and buf[0] != 10:   # else: partial block, or leading blank lines
            block = rfile.read(end + 2)
            try:
                text = block.decode("utf-8")
            except UnicodeDecodeError as e:
                raise ProtocolError(f"frame header is not UTF-8: {e}") from None
            for line in text[:-2].split("\n"):
                name, sep, value = line.partition(": ")
                if not sep or not name:
                    raise ProtocolError(f"header line without ': ': {line[:80]!r}")
                if name not in headers:
                    headers[name] = value
        else:
            self._read_header_lines(rfile, headers)
        if "Content-Type" not in headers:
            raise ProtocolError(f"frame without Content-Type: {sorted(headers)[:5]}")
        n = _content_length(headers.get("Content-Length"), "frame")
        body = self._read_socket(rfile, n) if n else (b"" if n == 0 else None)
        return headers, body

    @staticmethod
    def _read_header_lines(rfile, headers: dict[str, str]) -> None:
        """The general path of _read_frame: one readline per header line."""
        while True:
            line = rfile.readline(_MAX_LINE)
            if not line:
                raise CallerGone("socket closed in the middle of a frame" if headers
                                 else "socket closed by FreeSWITCH")
            if line[-1:] != b"\n":
                if len(line) >= _MAX_LINE:
                    raise ProtocolError("frame header line too long")
                raise CallerGone("socket closed in the middle of a frame")
            if line == b"\n":
                if headers:
                    break
                continue
            try:
                text = line[:-1].decode("utf-8")
            except UnicodeDecodeError as e:
                raise ProtocolError(f"frame header is not UTF-8: {e}") from None
            name, sep, value = text.partition(": ")
            if not sep or not name:
                raise ProtocolError(f"header line without ': ': {text[:80]!r}")
            if name not in headers:
                headers[name] = value

    def handle_event(self, frame) -> None:
        # why: greenswitch pops its reply list on any reply (IndexError if none is
        # pending), reads no body for disconnect notices and unquotes replies.
        headers, body = frame
        ctype = headers["Content-Type"]
        if ctype == "command/reply" or ctype == "api/response":
            text = None
            if body is not None:
                try:
                    text = body.decode("utf-8")
                except UnicodeDecodeError as e:
                    raise ProtocolError(f"{ctype} body is not UTF-8: {e}") from None
            if not self._replies:
                log.warning("unsolicited %s on %s (uuid %s): %r", ctype, self.address,
                            self.uuid, headers.get("Reply-Text", text))
                return
            result, decode, _ = self._replies.popleft()
            if not result.ready():  # else its wait timed out: drop the late reply
                # only the connect reply's headers are URL-encoded: decoded lazily
                result.set(Message(None, text, ctype, encoded=headers) if decode
                           else Message(headers, text, ctype))
        elif ctype == "text/event-plain":
            self._on_event(Message.from_event_plain(body or b""))
        elif ctype == "text/event-json":
            self._on_event(Message.from_event_json(body or b""))
        elif ctype == "text/disconnect-notice":
            try:
                text = (body or b"").decode("utf-8")
            except UnicodeDecodeError as e:
                raise ProtocolError(f"disconnect notice body is not UTF-8: {e}") from None
            msg = Message(headers, text, ctype)
            if headers.get("Content-Disposition") == "linger":
                self._lingering = True
                self._mark_hangup("UNKNOWN")  # no-op after CHANNEL_HANGUP; the socket stays
                self._on_event(msg)
            else:
                self._on_event(msg)
                self._shutdown(CallerGone, "FreeSWITCH sent a disconnect notice")
        else:
            log.debug("ignoring %s frame on %s", ctype, self.address)

    def send(self, data: str, *, timeout: float | None = None) -> Message:
        # why: greenswitch's send has no timeout, uses sock.send (may write part of the
        # message) and can be raced by two greenlets. `data` is the command without the
        # final blank line, as in greenswitch.
        if "\n\n" in data or data.endswith("\n") or "\r" in data or "\0" in data:
            raise ValueError(f"raw command must not hold a blank line, CR or NUL: {data[:80]!r}")
        return self._request(data, timeout=timeout)

    def stop(self) -> None:
        # why: greenswitch's stop sends `exit` and waits for it without a timeout, then
        # joins a greenlet that sleeps up to 1 s.
        self.close()

    # -- public API -----------------------------------------------------------------

    def connect(self, timeout: float | None = None, *, then: tuple[str, ...] = ()) -> Message:
        """``connect``, and the plain commands of ``then`` sent in the same write (each
        must answer ``+OK``, else ``CommandRejected``): the session set-up costs one round
        trip instead of one per command."""
        for cmd in then:
            _check_field("command", cmd)
        replies = self._request_many([("connect", True)] + [(cmd, False) for cmd in then],
                                     timeout=timeout)
        reply = replies[0]
        if not reply.get("Reply-Text", "").startswith("+OK"):
            raise CommandRejected(f"connect refused: {reply.get('Reply-Text')!r}", reply)
        self.channel_data = reply
        self.uuid = reply.get("Unique-ID") or reply.get("variable_uuid")
        for cmd, r in zip(then, replies[1:]):
            if not r.get("Reply-Text", "").startswith("+OK"):
                raise CommandRejected(f"{cmd.split(' ', 1)[0]!r} rejected: "
                                      f"{r.get('Reply-Text')!r}", r)
        return reply

    def command(self, cmd: str, *, timeout: float | None = None, check: bool = True) -> Message:
        _check_field("command", cmd)
        reply = self._request(cmd, timeout=timeout)
        if check and not reply.get("Reply-Text", "").startswith("+OK"):
            raise CommandRejected(f"{cmd.split(' ', 1)[0]!r} rejected: "
                                  f"{reply.get('Reply-Text')!r}", reply)
        return reply

    def api(self, cmd: str, *, timeout: float | None = None) -> str:
        _check_field("api command", cmd)
        reply = self._request(f"api {cmd}", timeout=timeout)
        if reply.body is not None:
            return reply.body
        return reply.get("Reply-Text", "")

    def execute_async(self, app: str, arg: str | None = None, *,
                      timeout: float | None = None) -> str:
        _check_field("application name", app)
        if not app:
            raise ValueError("empty application name")
        if arg is not None:
            _check_field("application argument", arg)
        self._check_open()
        if self.hungup:
            raise CallerGone(f"caller hung up ({self.hangup_cause}); not executing {app}")
        app_uuid = self._new_app_uuid()
        lines = ["sendmsg", "call-command: execute", f"execute-app-name: {app}"]
        if arg is not None and arg != "":
            lines.append(f"execute-app-arg: {arg}")
        lines += ["event-lock: true", f"Event-UUID: {app_uuid}"]
        self._apps[app_uuid] = app
        while len(self._apps) > _MAX_TRACKED:
            self._apps.popitem(last=False)
        try:
            reply = self._request("\n".join(lines), timeout=timeout)
        except BaseException:
            self._apps.pop(app_uuid, None)
            raise
        if not reply.get("Reply-Text", "").startswith("+OK"):
            self._apps.pop(app_uuid, None)
            raise CommandRejected(f"sendmsg {app} rejected: {reply.get('Reply-Text')!r}", reply)
        return app_uuid

    def wait_complete(self, app_uuid: str, timeout: float, *, after_hangup: bool = False) -> Message:
        msg = self._completed.pop(app_uuid, None)
        if msg is not None:
            self._apps.pop(app_uuid, None)
            return msg
        if app_uuid not in self._apps:
            raise ValueError(f"no pending application with uuid {app_uuid!r}")
        if app_uuid in self._complete_waiters:
            raise RuntimeError(f"application {app_uuid} is already being waited for")
        self._check_can_wait(after_hangup)
        waiter = _Waiter(after_hangup)
        self._complete_waiters[app_uuid] = waiter
        try:
            return self._wait(waiter.result, timeout,
                              lambda: f"{self._apps.get(app_uuid)} ({app_uuid}) did not complete")
        finally:
            if self._complete_waiters.get(app_uuid) is waiter:
                del self._complete_waiters[app_uuid]

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
        waiter = _Waiter(after_hangup, predicate)
        self._event_waiters.append(waiter)
        try:
            return self._wait(waiter.result, timeout, lambda: "no matching event")
        finally:
            try:
                self._event_waiters.remove(waiter)
            except ValueError:
                pass

    def on_event(self, callback: Callable[[Message], None]) -> Callable[[], None]:
        # greenswitch's handler registry; "*" = every event (dispatched by us, see _on_event)
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
            # GreenletExit is thrown at its blocking read; its finally closes the socket.
            reader.kill(block=True, timeout=1)
        if reader is None or reader.dead:
            self._close_socket()

    # -- internals ------------------------------------------------------------------

    @staticmethod
    def _new_app_uuid() -> str:
        # A correlation key, not a secret: uuid4() costs an os.urandom syscall per sendmsg.
        # Formatted by hand (version 4, RFC 4122 variant, like uuid.UUID(version=4)):
        # building a UUID object and str() of it was 1.1% of the CPU per call (profile of
        # 2026-11-27); this is about 3x cheaper.
        h = "%032x" % ((random.getrandbits(128) & _UUID_CLEAR) | _UUID_V4)
        return f"{h[:8]}-{h[8:12]}-{h[12:16]}-{h[16:20]}-{h[20:]}"

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

    def _wait(self, result: AsyncResult, timeout: float, what: Callable[[], str]) -> Message:
        # result.wait() returns on its own timeout without raising, so an outer
        # gevent.Timeout of the caller still propagates as itself.
        if timeout is None:
            raise TypeError("every wait needs a timeout (seconds)")
        result.wait(timeout)
        if not result.ready():
            raise CommandTimeout(f"{what()} within {timeout} s")
        return result.get(block=False)

    def _request(self, data: str, *, decode: bool = False, timeout: float | None = None) -> Message:
        return self._request_many([(data, decode)], timeout=timeout)[0]

    def _request_many(self, items: list[tuple[str, bool]], *,
                      timeout: float | None = None) -> list[Message]:
        """Send several commands in one write and wait for their replies in order.

        Safe because mod_event_socket reads one command at a time (read_packet in
        mod_event_socket.c reads byte by byte up to the blank line), so commands sent
        together are still executed and answered one after the other."""
        self._check_open()
        if gevent.getcurrent() is self._reader:
            raise RuntimeError("cannot send on the connection from its own event callback")
        pending = [(AsyncResult(), decode, data.split("\n", 1)[0]) for data, decode in items]
        raw = "".join(data + "\n\n" for data, _ in items).encode("utf-8")
        with self._send_lock:
            self._check_open()
            self._replies.extend(pending)
            try:
                self.sock.sendall(raw)
            except OSError as e:
                self._shutdown(CallerGone, f"send failed: {e}")
                raise self._gone() from e
        t = self.command_timeout if timeout is None else timeout
        return [self._wait(result, t, lambda first=first: f"no reply to {first!r}")
                for result, _, first in pending]

    def _on_event(self, msg: Message) -> None:
        name = msg.get("Event-Name")
        ours = False  # a completion of an app we sent: kept in _completed, not in _recent
        if name == "CHANNEL_EXECUTE_COMPLETE":
            app_uuid = msg.get("Application-UUID")
            if app_uuid and app_uuid in self._apps:
                ours = True
                waiter = self._complete_waiters.pop(app_uuid, None)
                if waiter is not None:
                    self._apps.pop(app_uuid, None)
                    waiter.result.set(msg)
                else:
                    self._completed[app_uuid] = msg.light()
                    while len(self._completed) > _MAX_UNCLAIMED:
                        old, _ = self._completed.popitem(last=False)
                        self._apps.pop(old, None)
                        log.warning("dropping unclaimed completion %s on %s", old, self.uuid)
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

    def _mark_hangup(self, cause: str) -> None:
        if self.hungup:
            return
        self.hungup = True
        self.hangup_cause = cause
        text = f"caller hung up ({cause})"
        for app_uuid, waiter in list(self._complete_waiters.items()):
            if not waiter.after_hangup:
                del self._complete_waiters[app_uuid]
                waiter.result.set_exception(CallerGone(text))
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
            result, _, _ = self._replies.popleft()
            if not result.ready():
                result.set_exception(cls(text))
        waiters = list(self._complete_waiters.values()) + self._event_waiters
        self._complete_waiters.clear()
        self._event_waiters = []
        for waiter in waiters:
            waiter.result.set_exception(cls(text))

    def _close_socket(self) -> None:
        for obj in (self.sock_file, self.sock):
            try:
                obj.close()
            except Exception:
                pass


# ---------------------------------------------------------------------------- listener


class OutboundListener:
    """Accepts FreeSWITCH's outbound connections; ``handle(sock, addr)`` per connection.

    why not greenswitch's OutboundESLServer: it polls a non-blocking accept() every
    100 ms (up to 100 ms added to every call setup) and builds its own sessions.
    StreamServer accepts as soon as the listening socket is readable.
    """

    def __init__(self, address: tuple[str, int], handle: Callable[[object, object], None],
                 backlog: int = 1024):
        self._user_handle = handle
        self._server = StreamServer(address, self._handle, backlog=backlog)

    def _handle(self, sock, addr) -> None:
        try:
            self._user_handle(sock, addr)
        except Exception:
            log.exception("outbound socket handler failed for %s", addr)
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
