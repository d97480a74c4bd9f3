"""Helpers for the ESL tests: the raw transcripts, a FreeSWITCH side that writes their
bytes over a real loopback TCP socket, and a connection that replays a transcript."""
from __future__ import annotations

import re
from collections import deque
from pathlib import Path

import gevent
import gevent.socket as gsocket

from engine.esl import Message, OutboundConnection
from rules.errors import CallerGone

RAW = Path(__file__).resolve().parents[2] / "data" / "esl-transcripts" / "raw"
GOODBYE = "Disconnected, goodbye.\nSee you at ClueCon! http://www.cluecon.com/\n"


# ------------------------------------------------------------------------------ helpers


def load_raw_stamped(name: str) -> list[tuple[str, str, bytes]]:
    """Blocks of a raw transcript with their capture time: (direction, ISO time, bytes)."""
    data = (RAW / name).read_bytes()
    blocks, i = [], 0
    while i < len(data):
        nl = data.index(b"\n", i)
        direction, stamp, length = data[i:nl].split(b" ")
        n = int(length)
        blocks.append((direction.decode(), stamp.decode(), data[nl + 1:nl + 1 + n]))
        i = nl + 2 + n
    return blocks


def load_raw(name: str) -> list[tuple[str, bytes]]:
    """Blocks of a raw transcript: `<<<|>>> <timestamp> <length>\\n`, the bytes, `\\n`."""
    data = (RAW / name).read_bytes()
    blocks, i = [], 0
    while i < len(data):
        nl = data.index(b"\n", i)
        direction, _ts, length = data[i:nl].split(b" ")
        n = int(length)
        body = data[nl + 1:nl + 1 + n]
        assert len(body) == n and data[nl + 1 + n:nl + 2 + n] == b"\n", (name, i)
        blocks.append((direction.decode(), body))
        i = nl + 2 + n
    return blocks


class FakeFS:
    """FreeSWITCH's side of one outbound socket."""

    def __init__(self, sock):
        self.sock = sock
        self.buf = b""

    def write(self, data: bytes) -> None:
        self.sock.sendall(data)

    def read_command(self, timeout: float = 2.0) -> bytes:
        with gevent.Timeout(timeout):
            while b"\n\n" not in self.buf:
                chunk = self.sock.recv(65536)
                if not chunk:
                    raise EOFError("engine closed the socket")
                self.buf += chunk
        cmd, _, self.buf = self.buf.partition(b"\n\n")
        return cmd + b"\n\n"

    def nothing_received(self, wait: float = 0.05) -> bool:
        if self.buf:
            return False
        self.sock.settimeout(wait)
        try:
            return self.sock.recv(1) == b""  # b"" = EOF, also nothing sent
        except gsocket.timeout:
            return True
        finally:
            self.sock.settimeout(None)

    def close(self) -> None:
        self.sock.close()


def wait_until(cond, timeout: float = 1.0) -> None:
    with gevent.Timeout(timeout):
        while not cond():
            gevent.sleep(0.001)


def event_frame(headers: list[tuple[str, str]], body: bytes | None = None) -> bytes:
    """A text/event-plain frame as FreeSWITCH writes it (values given already encoded)."""
    inner = "".join(f"{k}: {v}\n" for k, v in headers)
    if body is not None:
        inner += f"Content-Length: {len(body)}\n"
    raw = inner.encode() + b"\n" + (body or b"")
    return b"Content-Length: %d\nContent-Type: text/event-plain\n\n" % len(raw) + raw


def complete_frame(app: str, app_uuid: str, data: str = "", **extra) -> bytes:
    return event_frame([("Event-Name", "CHANNEL_EXECUTE_COMPLETE"), ("Unique-ID", "chan-1"),
                        ("Application", app), ("Application-Data", data),
                        ("Application-UUID", app_uuid)] + list(extra.items()))


OK = b"Content-Type: command/reply\nReply-Text: +OK\n\n"


def start_connected(make_conn, **kw):
    """A connection whose `connect` got transcript 01's real channel-data reply."""
    conn, fs = make_conn(**kw)
    reply = next(b for d, b in load_raw("01-answer-playback.raw") if d == "<<<")
    g = gevent.spawn(conn.connect)
    assert fs.read_command() == b"connect\n\n"
    fs.write(reply)
    g.get(timeout=1)
    return conn, fs


class ScriptedUUIDs(OutboundConnection):
    """Sends the Event-UUIDs of a transcript instead of fresh ones (byte-exact replay)."""

    def __init__(self, *a, **kw):
        super().__init__(*a, **kw)
        self.next_uuids = deque()

    def _new_app_uuid(self):
        return self.next_uuids.popleft()


SENDMSG = re.compile(r"sendmsg\ncall-command: execute\nexecute-app-name: (\S+)\n"
                     r"(?:execute-app-arg: ([^\n]*)\n)?event-lock: true\nEvent-UUID: (\S+)\n\n\Z")


def replay(make_conn, name):
    """Drive a connection through a whole transcript: the engine side issues each `>>>`
    block through the public API (compared byte for byte), the FS side writes each `<<<`
    block exactly as captured, then closes the socket (as FreeSWITCH did)."""
    blocks = load_raw(name)
    conn, fs = make_conn(cls=ScriptedUUIDs, command_timeout=1.0)
    events: list[Message] = []
    conn.on_event(events.append)

    def freeswitch():
        for direction, data in blocks:
            if direction == ">>>":
                assert fs.read_command() == data
            else:
                fs.write(data)
        fs.close()

    fs_greenlet = gevent.spawn(freeswitch)
    replies, sent = [], []
    for direction, data in blocks:
        if direction != ">>>":
            continue
        text = data.decode()
        m = SENDMSG.match(text)
        if text == "connect\n\n":
            replies.append(conn.connect())
        elif text.startswith("api "):
            replies.append(conn.api(text[4:-2]))
        elif m:
            app, arg, app_uuid = m.groups()
            conn.next_uuids.append(app_uuid)
            try:
                assert conn.execute_async(app, arg) == app_uuid
                sent.append((app_uuid, app))
            except CallerGone:  # hung up already: execute refuses; send the bytes raw
                conn.next_uuids.clear()
                replies.append(conn.send(text[:-2]))
        elif "\n" in text[:-2]:
            replies.append(conn.send(text[:-2]))
        else:
            replies.append(conn.command(text[:-2], check=False))
    fs_greenlet.get(timeout=5)
    wait_until(lambda: conn.closed)
    return conn, events, replies, sent, blocks


def expected_events(blocks):
    """(content type, Event-Name or Content-Disposition) of every event/notice frame, read
    straight from the raw bytes (independent of the parser under test)."""
    out = []
    for direction, data in blocks:
        if direction != "<<<":
            continue
        outer = data.split(b"\n\n", 1)[0]
        if b"Content-Type: text/event-plain" in outer:
            name = re.search(rb"\n\nEvent-Name: ([A-Z_]+)\n", data).group(1).decode()
            out.append(("text/event-plain", name))
        elif b"Content-Type: text/disconnect-notice" in outer:
            disp = re.search(rb"Content-Disposition: (\w+)\n", outer)
            out.append(("text/disconnect-notice", disp.group(1).decode() if disp else None))
    return out
