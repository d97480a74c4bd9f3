"""Replay a captured outbound transcript against the simulator (test helper).

In the captures FreeSWITCH dialled the controller, so here the *test* is the controller: it
listens on an ephemeral loopback port, lets the simulator dial it, sends the transcript's
``>>>`` commands (channel uuid, Event-UUIDs and ``/var/`` paths substituted) and records every
frame the simulator sends back. Before each command it waits for as many frames as the real
FreeSWITCH had sent by then (CHANNEL_PARK, which is racy, not counted).
"""
from __future__ import annotations

import re
import socket
import uuid as uuidlib
from dataclasses import dataclass

from .simulator import Simulator
from .wire import Message, load_raw_transcript, make_reader, read_message, split_messages

UUID_RE = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")


@dataclass
class Replay:
    expected: list          # Message objects from the transcript (FreeSWITCH -> controller)
    actual: list            # Message objects from the simulator
    sent: list              # commands sent (bytes, after substitution)
    call_uuid: str
    tx_uuid: str
    port: int
    tmpdir: str
    result: object = None


def is_park(m: Message) -> bool:
    return m.content_type == "text/event-plain" and m.event_name == "CHANNEL_PARK"


def transcript_parts(name):
    """(commands, messages per segment) of an outbound transcript."""
    blocks = load_raw_transcript(name)
    segments = [[]]
    commands = []
    for direction, _ts, data in blocks:
        if direction == ">>>":
            commands.append(data)
            segments.append([])
        else:
            segments[-1].extend(split_messages(data))
    return commands, segments


def replay(name: str, tmpdir: str, *, time_scale=0.02, targets=None, timeout=10.0, **call_kw) -> Replay:
    commands, segments = transcript_parts(name)
    data_reply = segments[1][0]          # reply to "connect"
    hd = dict(data_reply.headers)
    tx_uuid = hd["Unique-ID"]
    dest = hd["Caller-Destination-Number"]
    srv = socket.socket()
    srv.bind(("127.0.0.1", 0))
    srv.listen(1)
    srv.settimeout(timeout)
    port = srv.getsockname()[1]
    sim = Simulator(port=port, time_scale=time_scale, targets=targets or {})
    handle = sim.place_call_async(destination_number=dest, caller_id_number="+5511999990001",
                                  caller_id_name="Caller", **call_kw)
    conn, _ = srv.accept()
    srv.close()
    conn.settimeout(timeout)
    reader = make_reader(conn)
    actual, sent = [], []
    tmp = tmpdir.rstrip("/") + "/"

    def read_n(n):
        got = 0
        while got < n:
            m = read_message(reader)
            actual.append(m)
            if not is_park(m):
                got += 1

    try:
        for i, cmd in enumerate(commands):
            read_n(sum(1 for m in segments[i] if not is_park(m)))
            text = cmd.decode()
            text = text.replace(tx_uuid, handle.uuid).replace("/var/", tmp)
            text = re.sub(r"Event-UUID: [0-9a-f-]+", lambda _m: f"Event-UUID: {uuidlib.uuid4()}", text)
            conn.sendall(text.encode())
            sent.append(text.encode())
        while True:
            try:
                actual.append(read_message(reader))
            except EOFError:
                break
    finally:
        conn.close()
    expected = [m for seg in segments for m in seg]
    rp = Replay(expected, actual, sent, handle.uuid, tx_uuid, port, tmp)
    rp.result = handle.result(timeout)
    return rp
