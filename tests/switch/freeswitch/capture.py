"""Capture a raw outbound-ESL transcript from a real FreeSWITCH (the tool behind
tests/data/esl-transcripts/raw/08-record-session-ringback*.raw).

    .venv/bin/python -m tests.switch.freeswitch.capture OUT_DIR

Starts a private FreeSWITCH (tests/switch/freeswitch/instance.py: the project's own
dialplan, the tier's scripted far ends), points the dialplan's engines at a raw-TCP
controller in this process, places one call for each scenario and writes, per call, the
exact bytes both ways in the transcripts' raw format: ``>>> <ISO time> <n>`` (controller
to FreeSWITCH) or ``<<< <ISO time> <n>`` (one whole message from FreeSWITCH), a newline,
the n bytes, a newline.

Scenarios: a pure forward (not answered by us) with ``record_session`` started before
``bridge`` to a phone that rings 2 s, answers and talks 5 s, once as the engine did it
before (no RECORD_BRIDGE_REQ: the file also holds the ringback) and once as it does now
(``RECORD_BRIDGE_REQ=true`` in the multiset: the recording starts at the bridge).
"""
from __future__ import annotations

import socket
import sys
import threading
import time
import uuid as uuidlib
import wave
from datetime import datetime, timezone
from pathlib import Path

from tests.switch.freeswitch.instance import FreeSwitch, free_port

TARGET = "{originate_timeout=10}loopback/5511900000001/callflow_targets"
SCENARIOS = {
    "08-record-session-ringback": "continue_on_fail=true hangup_after_bridge=false",
    "08b-record-session-bridge-req": ("continue_on_fail=true hangup_after_bridge=false "
                                      "RECORD_BRIDGE_REQ=true"),
}


class Wire:
    """One outbound connection, every byte logged as the transcripts' raw blocks."""

    def __init__(self, sock: socket.socket):
        self.sock, self.buf, self.blocks = sock, b"", []

    def send(self, text: str) -> None:
        data = text.encode()
        self.blocks.append((">>>", _now(), data))
        self.sock.sendall(data)

    def message(self, timeout: float = 30.0) -> bytes:
        """The next whole message from FreeSWITCH (outer headers, blank line, body)."""
        self.sock.settimeout(timeout)
        while True:
            end = self.buf.find(b"\n\n")
            if end >= 0:
                head = self.buf[:end].decode()
                length = next((int(line.split(": ", 1)[1]) for line in head.split("\n")
                               if line.startswith("Content-Length: ")), 0)
                if len(self.buf) >= end + 2 + length:
                    data, self.buf = self.buf[:end + 2 + length], self.buf[end + 2 + length:]
                    self.blocks.append(("<<<", _now(), data))
                    return data
            chunk = self.sock.recv(65536)
            if not chunk:
                raise EOFError("FreeSWITCH closed the socket")
            self.buf += chunk

    def until(self, needle: bytes, timeout: float = 30.0) -> bytes:
        deadline = time.monotonic() + timeout
        while True:
            data = self.message(max(0.1, deadline - time.monotonic()))
            if needle in data:
                return data

    def execute(self, app: str, arg: str) -> str:
        app_uuid = str(uuidlib.uuid4())
        self.send(f"sendmsg\ncall-command: execute\nexecute-app-name: {app}\n"
                  f"execute-app-arg: {arg}\nevent-lock: true\nEvent-UUID: {app_uuid}\n\n")
        self.until(b"Reply-Text: +OK")
        return app_uuid

    def drain(self) -> None:
        try:
            while True:
                self.message(timeout=8)
        except (EOFError, OSError):
            pass

    def raw(self) -> bytes:
        return b"".join(f"{d} {t} {len(b)}\n".encode() + b + b"\n" for d, t, b in self.blocks)


def _now() -> str:
    return datetime.now(timezone.utc).isoformat()


def run_call(sock: socket.socket, multiset: str, wav: Path) -> Wire:
    wire = Wire(sock)
    wire.send("connect\n\n")
    wire.message()
    for cmd in ("myevents", "linger 5", "event plain RECORD_START RECORD_STOP"):
        wire.send(cmd + "\n\n")
        wire.until(b"Content-Type: command/reply")
    wire.execute("multiset", multiset)
    wire.execute("record_session", str(wav))
    bridge = wire.execute("bridge", TARGET)
    wire.until(f"Application-UUID: {bridge}".encode(), timeout=30)
    wire.execute("hangup", "NORMAL_CLEARING")
    wire.drain()
    return wire


def main(out: Path) -> int:
    out.mkdir(parents=True, exist_ok=True)
    port = free_port()
    listener = socket.create_server(("127.0.0.1", port))
    fs = FreeSwitch(out / "fs", [f"127.0.0.1:{port}"]).start()
    try:
        for name, multiset in SCENARIOS.items():
            wav = out / f"{name}.wav"
            with fs.client() as client:
                client.originate("{ignore_early_media=true,origination_caller_id_number="
                                 "5521988887777}loopback/551140040005/public", "&park()")
            sock, _ = listener.accept()
            done: list[Wire] = []
            t = threading.Thread(target=lambda: done.append(run_call(sock, multiset, wav)))
            t.start()
            t.join(60)
            sock.close()
            (out / f"{name}.raw").write_bytes(done[0].raw())
            with wave.open(str(wav)) as w:
                print(f"{name}: {w.getnframes() / w.getframerate():.2f} s recorded")
    finally:
        fs.stop()
        listener.close()
    return 0


if __name__ == "__main__":
    sys.exit(main(Path(sys.argv[1])))
