"""A peer that floods the event socket is dropped at a limit, costs the engine a
bounded amount of memory and no other call notices (issue "Hostile input", 1).
Before: an endless header block grew the engine by ~1.5 GB per connection, and a
100 MB Content-Length body was read whole."""
from __future__ import annotations

import threading
import uuid as uuidlib
from pathlib import Path

import pytest

from tests.security.conftest import assert_honest_call_completed, honest_call
from tests.security.peer import Peer

MB = 1024 * 1024


def rss(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) * 1024
    raise AssertionError("no VmRSS")


def flood(peer: Peer, chunk: bytes, limit: int) -> int:
    """Send ``chunk`` until the engine closes the socket (or ``limit`` bytes); -> sent."""
    sent = 0
    try:
        while sent < limit:
            peer.send(chunk)
            sent += len(chunk)
    except OSError:          # reset or broken pipe: the engine dropped us
        pass
    return sent


ATTACKS = {
    # no blank line, ever: one header block that never ends
    "endless header block": lambda: b"X-Padding: " + b"a" * 4000 + b"\n",
    # one header line that never ends
    "endless header line": lambda: b"a" * 65536,
    # a body far over the 1 MiB limit, then its bytes
    "huge body": lambda: b"Content-Type: text/event-plain\nContent-Length: 104857600\n\n"
                         + b"x" * 65536,
}


@pytest.mark.parametrize("attack", ATTACKS)
def test_a_flooding_peer_is_dropped_at_the_limit(engine, sim, attack):
    honest = honest_call(sim)
    before = rss(engine.proc.pid)
    peer = Peer(engine.port)
    assert peer.command() == b"connect\n\n"
    sent = flood(peer, ATTACKS[attack](), limit=200 * MB)
    assert sent < 20 * MB, f"the engine read {sent} bytes before dropping the peer"
    grown = rss(engine.proc.pid) - before
    assert grown < 50 * MB, f"RSS grew {grown / MB:.1f} MB"
    assert_honest_call_completed(engine, honest)
    peer.close()
    lines = [l for l in engine.log_lines() if "ESL protocol error" in l.get("msg", "")]
    assert lines and "exceeds" in lines[-1]["msg"]


def test_fifty_flooding_peers_at_once_cost_under_50_mb_and_no_honest_call(engine, sim):
    before = rss(engine.proc.pid)
    seen = len(engine.log_lines())
    honest = [honest_call(sim) for _ in range(5)]
    peers = [Peer(engine.port) for _ in range(50)]
    for peer in peers:
        assert peer.command() == b"connect\n\n"
    chunk = ATTACKS["endless header block"]()
    threads = [threading.Thread(target=flood, args=(p, chunk, 20 * MB)) for p in peers]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    grown = rss(engine.proc.pid) - before
    assert grown < 50 * MB, f"RSS grew {grown / MB:.1f} MB for 50 peers"
    for handle in honest:
        assert_honest_call_completed(engine, handle)
    for peer in peers:
        peer.close()
    lines = engine.log_lines()[seen:]
    errors = sum("ESL protocol error" in l.get("msg", "") for l in lines)
    assert errors == 50                          # one line per dropped peer, no flood
    assert not [l for l in lines if "dropped before set-up" in l.get("msg", "")
                and l["level"] != "debug"]


def test_after_the_set_up_a_flood_ends_only_that_call(engine, sim):
    honest = honest_call(sim)
    peer = Peer(engine.port)
    call = str(uuidlib.uuid4())
    peer.take_call(call, "+551140040006")
    assert peer.run_app() == "answer"
    assert peer.command().startswith(b"sendmsg")     # the playback; answer it with a flood
    flood(peer, ATTACKS["endless header block"](), limit=200 * MB)
    record = engine.wait_record(call)
    assert record["error"].startswith("ProtocolError") and "exceeds" in record["error"]
    assert_honest_call_completed(engine, honest)
    peer.close()
