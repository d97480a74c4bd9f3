"""The tests' side of Asterisk's manager interface (AMI): actions and a log of events.

``AmiClient(host, port, user, secret, events=False)``: logs in (``Events: off`` unless
``events``), ``action(name, **fields) -> dict`` sends one action with its own
``ActionID`` and returns its response (a list response's events are not collected).
With ``events=True`` every event is kept in order, with ``wait(predicate, timeout)`` to
wait for one. The tests read what the switch did from it: ``Newchannel``/``Hangup``
(with ``Cause``), ``Newexten`` (the dialplan's applications), ``AGIExecStart``/``End``
(what the engine ran), ``DialBegin``/``DialEnd``, ``VarSet``, and the switch's own
clock (``Timestamp``, from manager.conf's ``timestampevents``).

Framing: ``Key: Value`` lines with ``\\r\\n``, a blank line ends a message; the first line
of the session is the banner ``Asterisk Call Manager/11.0.0``.
"""
from __future__ import annotations

import itertools
import socket
import threading
import time
from typing import Callable


class AmiClient:
    _ids = itertools.count(1)

    def __init__(self, host: str, port: int, user: str, secret: str, timeout: float = 10.0,
                 events: bool = False):
        self.sock = socket.create_connection((host, port), timeout=timeout)
        self.rfile = self.sock.makefile("rb")
        self.timeout = timeout
        banner = self.rfile.readline().decode(errors="replace")
        if not banner.startswith("Asterisk Call Manager"):
            raise OSError(f"not an AMI banner: {banner!r}")
        self.events: list[dict] = []
        self.responses: dict[str, dict] = {}
        self.cond = threading.Condition()
        self.closed = False
        self.lock = threading.Lock()
        self.sock.settimeout(None)
        self.thread = threading.Thread(target=self._run, name="ami", daemon=True)
        self.thread.start()
        self.collect = events
        reply = self.action("Login", Username=user, Secret=secret,
                            Events="on" if events else "off")
        if reply.get("Response") != "Success":
            raise OSError(f"AMI login refused: {reply}")

    # -- reading ------------------------------------------------------------------------
    def _read_message(self) -> dict | None:
        message: dict[str, str] = {}
        while True:
            line = self.rfile.readline()
            if not line:
                return None
            line = line.rstrip(b"\r\n")
            if not line:
                if message:
                    return message
                continue
            name, _, value = line.decode(errors="replace").partition(":")
            message.setdefault(name.strip(), value.strip())

    def _run(self) -> None:
        try:
            while True:
                message = self._read_message()
                if message is None:
                    break
                with self.cond:
                    if "Event" in message and self.collect:
                        self.events.append(message)
                    elif "Response" in message and "ActionID" in message:
                        self.responses[message["ActionID"]] = message
                    self.cond.notify_all()
        except (OSError, ValueError):
            pass
        finally:
            with self.cond:
                self.closed = True
                self.cond.notify_all()

    # -- actions ------------------------------------------------------------------------
    def action(self, name: str, timeout: float | None = None, **fields) -> dict:
        action_id = f"t{next(self._ids)}"
        lines = [f"Action: {name}", f"ActionID: {action_id}"]
        for key, value in fields.items():
            for item in (value if isinstance(value, (list, tuple)) else [value]):
                lines.append(f"{key}: {item}")
        with self.lock:
            self.sock.sendall(("\r\n".join(lines) + "\r\n\r\n").encode())
        deadline = time.monotonic() + (timeout or self.timeout)
        with self.cond:
            while action_id not in self.responses:
                left = deadline - time.monotonic()
                if left <= 0 or self.closed:
                    raise OSError(f"no AMI response to {name}")
                self.cond.wait(left)
            return self.responses.pop(action_id)

    # -- events -------------------------------------------------------------------------
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
                    raise AssertionError(f"Asterisk sent no {what} within {timeout} s")
                self.cond.wait(left)

    def close(self) -> None:
        try:
            self.sock.sendall(b"Action: Logoff\r\n\r\n")
        except OSError:
            pass
        try:
            self.sock.close()
        except OSError:
            pass

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()
