"""A FreeSWITCH peer under the test's control, over a real TCP socket to the engine.

It speaks the outbound event socket from the first byte (the channel data of
transcript 01, with this call's uuid and numbers), and then does whatever the attack
needs: go silent, send garbage, send forever. ``frames`` of what it sends come from the
transcripts' own bytes where a real FreeSWITCH would send them.
"""
from __future__ import annotations

import socket
import time

from tests.engine.esl.support import complete_frame, load_raw

OK = b"Content-Type: command/reply\nReply-Text: +OK\n\n"
_CAPTURED_UUID = "f181dc99-115f-4c34-b546-38f307a0521f"      # transcript 01's channel
_CHANNEL_DATA = next(d for direction, d in load_raw("01-answer-playback.raw")
                     if direction == "<<<").decode()


def channel_data(uuid: str, destination: str) -> bytes:
    text = _CHANNEL_DATA.replace(_CAPTURED_UUID, uuid)
    return text.replace("Destination-Number: 5001", "Destination-Number: "
                        + destination.replace("+", "%2B")).encode()


class Peer:
    def __init__(self, port: int, timeout: float = 10.0):
        self.sock = socket.create_connection(("127.0.0.1", port), timeout=timeout)
        self.buf = b""

    def command(self) -> bytes:
        """The next command the engine sent (up to its blank line); b"" on EOF."""
        while b"\n\n" not in self.buf:
            chunk = self.sock.recv(65536)
            if not chunk:
                return b""
            self.buf += chunk
        cmd, _, self.buf = self.buf.partition(b"\n\n")
        return cmd + b"\n\n"

    def send(self, data: bytes) -> None:
        self.sock.sendall(data)

    def take_call(self, uuid: str, destination: str) -> None:
        """Answer the engine's connect + myevents + linger as FreeSWITCH does."""
        assert self.command() == b"connect\n\n"
        self.send(channel_data(uuid, destination))
        for _ in range(2):
            assert self.command()
            self.send(OK)

    def run_app(self, complete: bool = True) -> str:
        """Accept the next sendmsg; send its completion unless told not to. -> app name."""
        cmd = self.command().decode()
        assert cmd.startswith("sendmsg"), cmd
        app = cmd.split("execute-app-name: ")[1].split("\n")[0]
        app_uuid = cmd.split("Event-UUID: ")[1].split("\n")[0]
        self.send(OK)
        if complete:
            self.send(complete_frame(app, app_uuid))
        return app

    def wait_closed(self, timeout: float) -> float:
        """Seconds until the engine closed the socket (reading and dropping what it sends)."""
        started = time.monotonic()
        self.sock.settimeout(timeout)
        try:
            while self.sock.recv(65536):
                pass
        except socket.timeout:
            raise AssertionError(f"the engine kept the socket open for {timeout} s") from None
        return time.monotonic() - started

    def close(self) -> None:
        self.sock.close()
