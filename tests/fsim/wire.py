"""ESL wire format as FreeSWITCH 1.11.1 writes it (outbound socket, ``async full``).

Everything here is derived from the captures in ``tests/data/esl-transcripts/``:

* Line ends are bare ``\\n``; no ``\\r`` was ever seen (README "Format").
* ``command/reply`` has no Content-Length; ``api/response`` has one and its body keeps
  whatever trailing newline the command printed (transcript 06: ``false`` has none).
* Events: outer ``Content-Length: N`` then ``Content-Type: text/event-plain`` (that order),
  blank line, then the body: ``Name: urlencoded-value`` lines and a blank line; N counts the
  whole body including that final blank line (every event in transcripts 01-06).
* Values are URL-encoded with FreeSWITCH's ``switch_url_encode`` rules (see ``fs_urlencode``).

Stdlib only. Nothing in this module knows about calls; it is shared by the simulator, its
tests and any end-to-end test that wants to parse or hand-craft frames.
"""
from __future__ import annotations

import json
import os
import socket
import urllib.parse
from dataclasses import dataclass, field

__all__ = [
    "fs_urlencode", "fs_urldecode", "event_plain_frame", "event_json_frame", "command_reply",
    "api_response", "disconnect_notice", "GOODBYE", "Message", "read_message", "parse_headers",
    "TRANSCRIPT_DIR", "load_raw_transcript", "split_messages",
]

#: Body of every "disconnect" notice (transcripts 01, 01b, 02...: 67 bytes).
GOODBYE = b"Disconnected, goodbye.\nSee you at ClueCon! http://www.cluecon.com/\n"

# switch_utils.c SWITCH_URL_UNSAFE. Checked against the captures: '/', ',', '(', ')', '.', '-', '_'
# stay as they are (``tone_stream%3A//%25(500,500,440)%3Bloops%3D2`` in transcript 01) while ':',
# ';', '=', '+', ' ', '"', '<', '>', '|', '{', '}' and '%' are encoded.
_UNSAFE = set("\r\n #%&+:;<=>?@[\\]^`{|}\"")
_HEX = "0123456789ABCDEF"


def fs_urlencode(value: str) -> str:
    """Encode ``value`` exactly like FreeSWITCH's ``switch_url_encode`` (``double_encode`` off).

    Contract: bytes below 0x20, above 0x7E and those in ``SWITCH_URL_UNSAFE`` become ``%XX``
    (upper-case hex, one per UTF-8 byte); an existing ``%XX`` escape with upper-case hex digits
    is passed through unchanged, as FreeSWITCH does when serialising events. So a caller-id
    name ``Evil\\nEvent-Name: CHANNEL_HANGUP`` (or the literal text ``Evil%0AEvent-Name: ...``)
    goes on the wire as ``Evil%0AEvent-Name%3A%20CHANNEL_HANGUP``.
    """
    raw = value.encode("utf-8")
    out = []
    i = 0
    n = len(raw)
    while i < n:
        b = raw[i]
        ch = chr(b)
        if ch == "%" and i + 2 < n and chr(raw[i + 1]) in _HEX and chr(raw[i + 2]) in _HEX:
            out.append(raw[i:i + 3].decode("ascii"))
            i += 3
            continue
        if b < 0x20 or b > 0x7E or ch in _UNSAFE:
            out.append("%" + _HEX[b >> 4] + _HEX[b & 15])
        else:
            out.append(ch)
        i += 1
    return "".join(out)


def fs_urldecode(value: str) -> str:
    """Inverse of :func:`fs_urlencode` for reading frames (``%XX`` -> byte, UTF-8)."""
    return urllib.parse.unquote(value)


def _header_block(headers) -> bytes:
    return "".join(f"{k}: {v}\n" for k, v in headers).encode("utf-8")


def event_plain_frame(headers, body: bytes | None = None) -> bytes:
    """One ``text/event-plain`` message.

    ``headers`` is a sequence of (name, *already encoded* value) pairs in wire order.
    ``body`` (rare, e.g. BACKGROUND_JOB) goes after an inner Content-Length header.
    """
    inner = _header_block(headers)
    if body is not None:
        inner += f"Content-Length: {len(body)}\n".encode() + b"\n" + body
    else:
        inner += b"\n"
    return f"Content-Length: {len(inner)}\nContent-Type: text/event-plain\n\n".encode() + inner


def event_json_frame(headers, body: bytes | None = None) -> bytes:
    """One ``text/event-json`` message: a JSON object with *decoded* values, no trailing LF
    (README "Inbound api/bgapi (07)")."""
    obj = {k: fs_urldecode(v) for k, v in headers}
    if body is not None:
        obj["_body"] = body.decode("utf-8", "replace")
    data = json.dumps(obj).encode("utf-8")
    return f"Content-Length: {len(data)}\nContent-Type: text/event-json\n\n".encode() + data


def command_reply(text: str, extra=()) -> bytes:
    """``command/reply`` with ``Reply-Text`` (no Content-Length, transcript 01)."""
    hdrs = [("Content-Type", "command/reply"), ("Reply-Text", text), *extra]
    return _header_block(hdrs) + b"\n"


def api_response(body: bytes) -> bytes:
    """``api/response``; ``body`` is sent as is (``false`` has no newline, transcript 06)."""
    return f"Content-Type: api/response\nContent-Length: {len(body)}\n\n".encode() + body


def disconnect_notice(uuid: str | None, disposition: str | None,
                      channel_name: str | None = None, linger_time: int | None = None) -> bytes:
    """``text/disconnect-notice`` as in transcripts 01/02/06.

    * ``disposition="linger"``: Controlled-Session-UUID, Content-Disposition: linger,
      Channel-Name, Linger-Time, Content-Length: 0 (no body).
    * ``disposition="disconnect"``: Controlled-Session-UUID, Content-Disposition: disconnect,
      Content-Length: 67 and the goodbye body.
    """
    hdrs = [("Content-Type", "text/disconnect-notice")]
    if uuid is not None:
        hdrs.append(("Controlled-Session-UUID", uuid))
    if disposition is not None:
        hdrs.append(("Content-Disposition", disposition))
    if disposition == "linger":
        hdrs += [("Channel-Name", channel_name or ""), ("Linger-Time", str(linger_time)),
                 ("Content-Length", "0")]
        return _header_block(hdrs) + b"\n"
    hdrs.append(("Content-Length", str(len(GOODBYE))))
    return _header_block(hdrs) + b"\n" + GOODBYE


def parse_headers(block: bytes) -> list[tuple[str, str]]:
    """Parse ``Name: value`` lines (values left encoded). Tolerates a trailing ``\\r``."""
    out = []
    for line in block.decode("utf-8", "replace").split("\n"):
        line = line.rstrip("\r")
        if not line:
            continue
        k, _, v = line.partition(":")
        out.append((k.strip(), v[1:] if v.startswith(" ") else v))
    return out


@dataclass
class Message:
    """One ESL message: outer headers (wire order), body bytes, and the raw bytes."""
    headers: list
    body: bytes = b""
    raw: bytes = b""
    event: list | None = field(default=None)   # parsed inner headers for text/event-plain
    event_body: bytes = b""

    def get(self, name, default=None):
        for k, v in self.headers:
            if k.lower() == name.lower():
                return v
        return default

    @property
    def content_type(self):
        return self.get("Content-Type")

    def ev(self, name, default=None):
        """Inner event header (still URL-encoded), or ``default``."""
        for k, v in self.event or ():
            if k == name:
                return v
        return default

    def evd(self, name, default=None):
        """Inner event header, URL-decoded."""
        v = self.ev(name)
        return default if v is None else fs_urldecode(v)

    @property
    def event_name(self):
        if self.event is not None:
            return self.ev("Event-Name")
        return self.get("Event-Name")


def _parse_event_body(msg: Message) -> None:
    if msg.content_type == "text/event-plain":
        head, sep, rest = msg.body.partition(b"\n\n")
        msg.event = parse_headers(head)
        msg.event_body = rest


class _Buffered:
    def __init__(self, sock):
        self.sock = sock
        self.buf = b""

    def fill(self):
        chunk = self.sock.recv(65536)
        if not chunk:
            raise EOFError("socket closed")
        self.buf += chunk

    def read_until(self, marker: bytes) -> bytes:
        while True:
            i = self.buf.find(marker)
            if i >= 0:
                out, self.buf = self.buf[:i + len(marker)], self.buf[i + len(marker):]
                return out
            self.fill()

    def read_exact(self, n: int) -> bytes:
        while len(self.buf) < n:
            self.fill()
        out, self.buf = self.buf[:n], self.buf[n:]
        return out


def read_message(reader: "_Buffered") -> Message:
    """Read one ESL message (headers up to the blank line, then Content-Length bytes).

    Raises EOFError when the peer closes (also in the middle of a message).
    """
    head = reader.read_until(b"\n\n")
    headers = parse_headers(head)
    msg = Message(headers=headers)
    length = msg.get("Content-Length")
    body = b""
    if length is not None:
        body = reader.read_exact(int(length))
    msg.body = body
    msg.raw = head + body
    _parse_event_body(msg)
    return msg


def make_reader(sock: socket.socket) -> _Buffered:
    """Wrap a blocking socket for :func:`read_message`."""
    return _Buffered(sock)


def split_messages(data: bytes) -> list[Message]:
    """Split a byte string holding whole ESL messages (used on transcript blocks)."""
    out = []
    rest = data
    while rest:
        head, sep, rest = rest.partition(b"\n\n")
        headers = parse_headers(head)
        msg = Message(headers=headers)
        length = msg.get("Content-Length")
        if length is not None:
            msg.body, rest = rest[:int(length)], rest[int(length):]
        msg.raw = head + sep + msg.body
        _parse_event_body(msg)
        out.append(msg)
    return out


TRANSCRIPT_DIR = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))),
                              "data", "esl-transcripts")


def load_raw_transcript(name: str) -> list[tuple[str, str, bytes]]:
    """Blocks of ``raw/<name>*.raw``: (direction '<<<'|'>>>', ISO timestamp, exact bytes).

    Format (README "Format"): per block one line ``<<<|>>> <ISO timestamp> <length>\\n``,
    then exactly <length> bytes, then ``\\n``.
    """
    raw_dir = os.path.join(TRANSCRIPT_DIR, "raw")
    matches = sorted(f for f in os.listdir(raw_dir) if f.startswith(name) and f.endswith(".raw"))
    if not matches:
        raise FileNotFoundError(name)
    # "01" must not pick "01b": prefer an exact "<name>-" prefix
    exact = [f for f in matches if f.startswith(name + "-")] or matches
    with open(os.path.join(raw_dir, exact[0]), "rb") as fh:
        data = fh.read()
    out = []
    i = 0
    while i < len(data):
        nl = data.index(b"\n", i)
        direction, ts, length = data[i:nl].decode().split(" ")
        n = int(length)
        out.append((direction, ts, data[nl + 1:nl + 1 + n]))
        i = nl + 1 + n + 1
    return out
