"""A tiny blocking ESL *controller* (the engine's role) for the simulator's own tests and for
hand-driven end-to-end checks: it listens on an ephemeral loopback port, accepts the
simulator's outbound connections and offers request/response helpers."""
from __future__ import annotations

import socket
import uuid as uuidlib

from .wire import Message, make_reader, read_message


class ControllerConn:
    """One accepted connection. Frames are kept in ``messages`` in arrival order."""

    def __init__(self, sock: socket.socket, timeout: float):
        self.sock = sock
        sock.settimeout(timeout)
        self.reader = make_reader(sock)
        self.messages: list[Message] = []
        self._pending: list[Message] = []
        self.eof = False

    def _next(self) -> Message:
        if self._pending:
            return self._pending.pop(0)
        m = read_message(self.reader)
        self.messages.append(m)
        return m

    def send(self, text: str) -> None:
        self.sock.sendall(text.encode())

    def cmd(self, text: str) -> Message:
        """Send a command and return its command/reply or api/response (events are kept)."""
        self.send(text.rstrip("\n") + "\n\n")
        skipped = []
        while True:
            m = self._next()
            if m.content_type in ("command/reply", "api/response"):
                self._pending = skipped + self._pending
                return m
            skipped.append(m)

    def execute(self, app: str, arg: str | None = None, wait: bool = True):
        """sendmsg execute with event-lock and a fresh Event-UUID; with ``wait`` return the
        matching CHANNEL_EXECUTE_COMPLETE (or None when the socket closed first)."""
        ev_uuid = str(uuidlib.uuid4())
        lines = ["sendmsg", "call-command: execute", f"execute-app-name: {app}"]
        if arg is not None:
            lines.append(f"execute-app-arg: {arg}")
        lines += ["event-lock: true", f"Event-UUID: {ev_uuid}"]
        reply = self.cmd("\n".join(lines))
        assert reply.get("Reply-Text") == "+OK", reply.raw
        if not wait:
            return ev_uuid
        return self.wait_event("CHANNEL_EXECUTE_COMPLETE", lambda m: m.ev("Application-UUID") == ev_uuid)

    def wait_event(self, name, pred=lambda m: True):
        """Next event called ``name`` matching ``pred``; None on EOF."""
        while True:
            try:
                m = self._next()
            except (EOFError, OSError):
                self.eof = True
                return None
            if m.content_type == "text/event-plain" and m.event_name == name and pred(m):
                return m

    def drain(self) -> list[Message]:
        """Read until EOF; return every message received on this connection."""
        while not self.eof:
            try:
                self._next()
            except (EOFError, OSError):
                self.eof = True
        return self.messages

    def events(self):
        return [m for m in self.messages if m.content_type == "text/event-plain"]

    def close(self):
        self.sock.close()


class Controller:
    """Listening socket standing in for ``callflow serve``."""

    def __init__(self, timeout: float = 10.0):
        self.srv = socket.socket()
        self.srv.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.srv.bind(("127.0.0.1", 0))
        self.srv.listen(64)
        self.srv.settimeout(timeout)
        self.timeout = timeout
        self.port = self.srv.getsockname()[1]

    def accept(self) -> ControllerConn:
        s, _ = self.srv.accept()
        return ControllerConn(s, self.timeout)

    def start(self, conn: ControllerConn, linger: str | None = "linger 5", subscribe: str | None = None) -> Message:
        """connect, myevents, (linger), (event plain ...); return the CHANNEL_DATA reply."""
        data = conn.cmd("connect")
        conn.cmd("myevents")
        if linger:
            conn.cmd(linger)
        if subscribe:
            conn.cmd(f"event plain {subscribe}")
        return data

    def close(self):
        self.srv.close()
