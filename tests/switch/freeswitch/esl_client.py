"""The tests' side of FreeSWITCH's inbound event socket: commands and a log of events.

``InboundClient(host, port, password)``: ``api(cmd) -> str`` (the api/response body),
synchronous, one command at a time; used as a context manager.

``EventLog(host, port, password, subscribe="ALL")``: subscribes to ``event json ALL``
(or the event names given) on its own connection and keeps every event (JSON events
carry values not URL-encoded: transcript 07) in order, with ``wait(predicate, timeout)``
to wait for one. The tests read what the switch did from it: which applications ran on
which channel, the channels created for far ends, hang-up causes, and the switch's own
timestamps (``Event-Date-Timestamp``, microseconds).

Framing as in the transcripts: header lines up to a blank line; a Content-Length
header means that many body bytes follow.
"""
from __future__ import annotations

import json
import socket
import threading
import time
from typing import Callable


class _Framed:
    def __init__(self, host: str, port: int, password: str, timeout: float = 10.0):
        self.sock = socket.create_connection((host, port), timeout=timeout)
        self.rfile = self.sock.makefile("rb")
        headers, _ = self.read()
        if headers.get("Content-Type") != "auth/request":
            raise OSError(f"no auth/request from FreeSWITCH: {headers}")
        reply = self.request(f"auth {password}")
        if not reply[0].get("Reply-Text", "").startswith("+OK"):
            raise OSError(f"auth refused: {reply[0]}")

    def read(self) -> tuple[dict[str, str], bytes]:
        headers: dict[str, str] = {}
        while True:
            line = self.rfile.readline()
            if not line:
                raise OSError("FreeSWITCH closed the inbound socket")
            line = line.rstrip(b"\n")
            if not line:
                if headers:
                    break
                continue
            name, _, value = line.decode().partition(":")
            headers[name.strip()] = value.strip()
        body = b""
        if "Content-Length" in headers:
            body = self.rfile.read(int(headers["Content-Length"]))
        return headers, body

    def request(self, command: str) -> tuple[dict[str, str], bytes]:
        self.sock.sendall(command.encode() + b"\n\n")
        while True:
            headers, body = self.read()
            if headers.get("Content-Type") in ("command/reply", "api/response"):
                return headers, body

    def close(self) -> None:
        try:
            self.sock.close()
        except OSError:
            pass

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()


class InboundClient(_Framed):
    def api(self, command: str) -> str:
        return self.request(f"api {command}")[1].decode(errors="replace")

    def originate(self, dial: str, app: str = "&park()") -> str:
        """``bgapi originate``: returns at once (the originate itself blocks until the
        far end, here the engine, answers or not)."""
        headers, _ = self.request(f"bgapi originate {dial} {app}")
        return headers.get("Job-UUID", "")


class EventLog(_Framed):
    def __init__(self, host: str, port: int, password: str, timeout: float = 10.0,
                 subscribe: str = "ALL"):
        super().__init__(host, port, password, timeout)
        # Each event costs FreeSWITCH CPU: a benchmark subscribes only to what it reads.
        headers, _ = self.request(f"event json {subscribe}")
        assert headers.get("Reply-Text", "").startswith("+OK"), headers
        self.sock.settimeout(None)
        self.events: list[dict] = []
        self.cond = threading.Condition()
        self.closed = False
        self.thread = threading.Thread(target=self._run, name="fs-events", daemon=True)
        self.thread.start()

    def _run(self) -> None:
        try:
            while True:
                headers, body = self.read()
                if headers.get("Content-Type") != "text/event-json":
                    continue
                event = json.loads(body)
                with self.cond:
                    self.events.append(event)
                    self.cond.notify_all()
        except (OSError, ValueError):
            pass
        finally:
            with self.cond:
                self.closed = True
                self.cond.notify_all()

    def snapshot(self) -> list[dict]:
        with self.cond:
            return list(self.events)

    def wait(self, predicate: Callable[[dict], bool], timeout: float, what: str = "event") -> dict:
        deadline = time.monotonic() + timeout
        seen = 0
        with self.cond:
            while True:
                for event in self.events[seen:]:
                    if predicate(event):
                        return event
                seen = len(self.events)
                left = deadline - time.monotonic()
                if left <= 0 or self.closed:
                    raise AssertionError(f"FreeSWITCH sent no {what} within {timeout} s")
                self.cond.wait(left)
