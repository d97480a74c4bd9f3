"""ESL framing, pure: bytes in, messages out (and commands out as bytes). No sockets.

FreeSWITCH's event socket speaks in frames: a block of ``Name: value`` lines ended by a
blank line, then, if the block has a ``Content-Length``, a body of exactly that many
bytes. ``FrameDecoder.feed(data)`` takes whatever a ``recv`` returned and gives back every
frame it completes, as ``(headers, body)``: ``headers`` the outer block's raw values,
``body`` bytes (``b""`` for ``Content-Length: 0``) or None. ``Message`` turns a frame into
what the engine reads (``from_event_plain``, ``from_event_json``, or built from a reply's
headers).

Limits (``Limits``; settings ``CALLFLOW_ESL_MAX_*``): a peer can make the engine buffer at
most ``max_header_block`` bytes while it waits for the end of a header block, and at most
``max_body`` bytes of a body; a block may hold at most ``max_headers`` lines, a line at
most ``max_header_line`` bytes. Anything over raises ``FrameTooLarge`` (a
``ProtocolError``) before the bytes are kept, so one peer's memory stays bounded by about
``max_body + max_header_block`` plus one read. Other malformed input (a bad
``Content-Length``, non UTF-8, a line without ``": "``, no ``Content-Type``) raises
``ProtocolError``.

Encoding (transcripts README, "Wire format"): only ``text/event-plain`` bodies and the
``connect`` reply's headers are URL-encoded; every other ``Reply-Text`` and
``api/response`` body is raw. Lines are always split on ``\\n`` before any value is
decoded, so a value holding ``%0A`` can never forge a header. This module holds the one
header parser, ``parse_headers``.
"""
from __future__ import annotations

import json
from dataclasses import dataclass
from urllib.parse import unquote

from greenswitch.esl import ESLEvent

from rules.errors import FrameTooLarge, ProtocolError

__all__ = ["Limits", "DEFAULT_LIMITS", "FrameDecoder", "Message", "parse_headers",
           "check_field", "encode_commands", "sendmsg"]

_FORBIDDEN = ("\r", "\n", "\0")


@dataclass(frozen=True, slots=True)
class Limits:
    """How much one peer may make the engine hold (see the module docstring)."""

    max_header_block: int = 64 * 1024
    max_headers: int = 1024
    max_header_line: int = 32 * 1024
    # Events are ~3-5 KB (transcripts); the largest body the engine reads is an event.
    max_body: int = 1024 * 1024


DEFAULT_LIMITS = Limits()


# ------------------------------------------------------------------------ headers

# %XX -> character, for the ASCII range (what FreeSWITCH's url-encoding mostly produces);
# anything else (non-ASCII UTF-8 sequences, stray "%") falls back to urllib's unquote.
_HEX_ASCII = {}
for _i in range(128):
    for _h in {f"{_i:02x}", f"{_i:02X}", f"{_i:02x}"[0] + f"{_i:02X}"[1], f"{_i:02X}"[0] + f"{_i:02x}"[1]}:
        _HEX_ASCII[_h] = chr(_i)
del _i, _h


def unquote_value(value: str) -> str:
    """URL-decode one header value (3-4x faster than urllib.parse.unquote here)."""
    if "%" not in value:
        return value
    parts = value.split("%")
    out = [parts[0]]
    for part in parts[1:]:
        char = _HEX_ASCII.get(part[:2])
        if char is None:
            return unquote(value)
        out.append(char)
        out.append(part[2:])
    return "".join(out)


def parse_headers(text: str, *, decode: bool = False,
                  limits: Limits = DEFAULT_LIMITS) -> dict[str, str]:
    """``Name: value`` lines (``\\n``-separated; empty lines skipped) -> dict, the first
    occurrence of a name winning; values URL-decoded one by one when ``decode``."""
    lines = text.split("\n")
    if len(lines) > limits.max_headers + 1:
        raise FrameTooLarge(f"header block of {len(lines)} lines exceeds {limits.max_headers}")
    headers: dict[str, str] = {}
    max_line = limits.max_header_line
    for line in lines:
        if not line:
            continue
        if len(line) > max_line:
            raise FrameTooLarge(f"header line of {len(line)} bytes exceeds {max_line}: "
                                f"{line[:40]!r}...")
        name, sep, value = line.partition(": ")
        if not sep or not name:
            raise ProtocolError(f"header line without ': ': {line[:80]!r}")
        if name not in headers:
            headers[name] = unquote_value(value) if decode else value
    return headers


def content_length(value: str | None, what: str, limits: Limits = DEFAULT_LIMITS) -> int | None:
    if value is None:
        return None
    if not (value.isascii() and value.isdigit()):
        raise ProtocolError(f"{what} Content-Length is not an integer: {value[:40]!r}")
    n = int(value)
    if n > limits.max_body:
        raise FrameTooLarge(f"{what} Content-Length {n} exceeds {limits.max_body}")
    return n


# ------------------------------------------------------------------------- frames


class FrameDecoder:
    """Incremental splitter of a byte stream into ``(headers, body)`` frames."""

    __slots__ = ("limits", "_buf", "_head")

    def __init__(self, limits: Limits = DEFAULT_LIMITS):
        self.limits = limits
        self._buf = bytearray()
        self._head: tuple[dict[str, str], int] | None = None   # headers awaiting a body

    @property
    def mid_frame(self) -> bool:
        """True when part of a frame is buffered (an EOF now cuts a frame)."""
        return bool(self._buf) or self._head is not None

    def feed(self, data: bytes) -> list[tuple[dict[str, str], bytes | None]]:
        buf = self._buf
        buf += data
        frames: list[tuple[dict[str, str], bytes | None]] = []
        pos, size = 0, len(buf)
        while True:
            head = self._head
            if head is not None:
                headers, n = head
                if size - pos < n:
                    break
                frames.append((headers, bytes(buf[pos:pos + n])))
                pos += n
                self._head = None
                continue
            while pos < size and buf[pos] == 10:   # blank lines between frames
                pos += 1
            end = buf.find(b"\n\n", pos)
            if (end if end >= 0 else size) - pos > self.limits.max_header_block:
                raise FrameTooLarge(f"header block exceeds {self.limits.max_header_block} bytes")
            if end < 0:
                break
            headers, n = self._header_block(buf[pos:end])
            pos = end + 2
            if n is None:
                frames.append((headers, None))
            elif n == 0:
                frames.append((headers, b""))
            else:
                self._head = (headers, n)
        if pos:
            del buf[:pos]
        return frames

    def _header_block(self, block: bytearray) -> tuple[dict[str, str], int | None]:
        try:
            text = block.decode("utf-8")
        except UnicodeDecodeError as e:
            raise ProtocolError(f"frame header is not UTF-8: {e}") from None
        headers = parse_headers(text, limits=self.limits)
        if "Content-Type" not in headers:
            raise ProtocolError(f"frame without Content-Type: {sorted(headers)[:5]}")
        return headers, content_length(headers.get("Content-Length"), "frame", self.limits)


# ----------------------------------------------------------------------- messages


class Message(ESLEvent):
    """One message from FreeSWITCH: an event, a command reply or a disconnect notice.

    ``.headers`` (dict of decoded values), ``.content_type``, ``.body`` (str or None),
    ``.get(name, default=None)``, ``.name`` (``Event-Name``). Events keep their URL-encoded
    header block and decode lazily: ``get(name)`` finds and decodes one line (the engine
    reads 3-4 of ~100 headers); ``headers`` builds the whole decoded dict on first use.
    """

    def __init__(self, headers: dict[str, str] | None, body: str | None = None,
                 content_type: str | None = None, *, raw: str | None = None,
                 encoded: dict[str, str] | None = None):
        # why not ESLEvent.__init__: it parses text with greenswitch's parse_data, which
        # URL-decodes the whole text before splitting it into lines (a %0A in a caller-ID
        # name forges a header). We build from headers that were already split safely.
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
                h = self._headers = {k: unquote_value(v) for k, v in enc.items()}
            else:
                h = self._headers = parse_headers(self._raw, decode=True)
        return h

    @headers.setter
    def headers(self, value: dict[str, str]) -> None:
        self._headers, self._raw, self._enc = value, None, None

    def parse_data(self, data: str) -> None:
        # why: greenswitch's version unquotes the whole text, then splitlines().
        parsed = parse_headers(data, decode=True)
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
            return default if value is None else unquote_value(value)
        raw, key = self._raw, name + ": "
        if raw.startswith(key):
            start = len(key)
        else:
            start = raw.find("\n" + key)
            if start < 0:
                return default
            start += len(key) + 1
        end = raw.find("\n", start)
        return unquote_value(raw[start:] if end < 0 else raw[start:end])

    def light(self) -> "Message":
        """The same message without its decoded dict (what buffers keep: ~4 KB, not ~17)."""
        if self._raw is None:
            return self
        return Message(None, self.body, self.content_type, raw=self._raw)

    @classmethod
    def from_event_plain(cls, raw: bytes, limits: Limits = DEFAULT_LIMITS) -> "Message":
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
        # ": " and none starts with it. Counting checks that at C speed; the lines are
        # parsed lazily (get, headers) by the same rule.
        lines = text.count("\n")
        if lines > limits.max_headers:
            raise FrameTooLarge(f"event of {lines} header lines exceeds {limits.max_headers}")
        if text.count(": ") != lines or text.startswith(": ") or "\n: " in text:
            bad = next((ln for ln in text.split("\n")[:-1] if ": " not in ln or ln.startswith(": ")),
                       "a line with two ': '")
            raise ProtocolError(f"event header line without ': ': {bad[:80]!r}")
        msg = cls(None, None, "text/event-plain", raw=text)
        n = content_length(msg.get("Content-Length"), "event", limits)
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

    @classmethod
    def from_reply(cls, headers: dict[str, str], body: bytes | None, *,
                   encoded: bool = False) -> "Message":
        """A ``command/reply`` or ``api/response`` frame; ``encoded``: its header values
        are URL-encoded (only the ``connect`` reply's are), decoded lazily."""
        ctype = headers["Content-Type"]
        text = None
        if body is not None:
            try:
                text = body.decode("utf-8")
            except UnicodeDecodeError as e:
                raise ProtocolError(f"{ctype} body is not UTF-8: {e}") from None
        if encoded:
            return cls(None, text, ctype, encoded=headers)
        return cls(headers, text, ctype)

    @property
    def name(self) -> str | None:
        return self.get("Event-Name")

    def __repr__(self) -> str:
        extra = self.name or self.get("Reply-Text") or ""
        return f"<Message {self.content_type} {extra}>"


# ----------------------------------------------------------------------- commands


def check_field(what: str, value: str) -> str:
    """``value`` if it can go on the wire as one line; ``ValueError`` naming ``what``."""
    if not isinstance(value, str):
        raise TypeError(f"{what} must be str, not {type(value).__name__}")
    if any(c in value for c in _FORBIDDEN):
        raise ValueError(f"{what} contains CR, LF or NUL: {value[:80]!r}")
    return value


def sendmsg(app: str, arg: str | None, event_uuid: str) -> str:
    """The ``sendmsg`` that executes ``app`` with ``event-lock`` (one at a time, in
    order) and ``Event-UUID`` (its completion's ``Application-UUID``; transcript 02)."""
    check_field("application name", app)
    if not app:
        raise ValueError("empty application name")
    lines = ["sendmsg", "call-command: execute", f"execute-app-name: {app}"]
    if arg is not None and arg != "":
        lines.append(f"execute-app-arg: {check_field('application argument', arg)}")
    lines += ["event-lock: true", f"Event-UUID: {event_uuid}"]
    return "\n".join(lines)


def encode_commands(commands: list[str]) -> bytes:
    """Commands (each without its final blank line) as the bytes of one write."""
    return "".join(cmd + "\n\n" for cmd in commands).encode("utf-8")
