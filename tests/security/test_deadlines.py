"""A peer that goes silent holds a call slot only as long as what it was asked to do
(issue "Hostile input", 2). Before: a playback waited max_call_seconds (4 h)."""
from __future__ import annotations

import uuid as uuidlib

from tests.security.conftest import assert_honest_call_completed, honest_call
from tests.security.peer import Peer

# welcome.wav is 0.5 s; the engine under test has CALLFLOW_COMMAND_TIMEOUT=2, so the
# playback may take 0.5 + 2 + 1 s before the engine gives up.
PLAY_BOUND = 0.5 + 2 + 1


def test_a_peer_silent_during_a_message_is_dropped_within_its_length(engine, sim):
    honest = honest_call(sim)
    peer = Peer(engine.port)
    call = str(uuidlib.uuid4())
    peer.take_call(call, "+551140040006")
    assert peer.run_app() == "answer"
    assert peer.run_app(complete=False) == "playback"       # then: silence
    held = peer.wait_closed(timeout=PLAY_BOUND + 5)
    assert PLAY_BOUND - 0.5 < held < PLAY_BOUND + 1.5, held
    record = engine.wait_record(call)
    assert record["error"].startswith("CommandTimeout: playback") and "3.5 s" in record["error"]
    assert_honest_call_completed(engine, honest)
    peer.close()


def test_a_peer_silent_before_its_first_reply_is_dropped_within_the_command_timeout(engine):
    peer = Peer(engine.port)
    assert peer.command() == b"connect\n\n"                 # then: silence
    held = peer.wait_closed(timeout=8)
    assert held < 2 + 1.5, held
    peer.close()


def test_a_peer_silent_while_a_forward_rings_is_dropped_after_the_ring_time(engine, sim):
    # +551140040001 rings its phone for 20 s: the engine waits 20 s + the command
    # timeout (2) + 2 s for a result, not the 4 h a conversation may last.
    honest = honest_call(sim)
    peer = Peer(engine.port)
    call = str(uuidlib.uuid4())
    peer.take_call(call, "+551140040001")
    assert peer.run_app() == "multiset"
    assert peer.run_app(complete=False) == "bridge"          # then: silence
    held = peer.wait_closed(timeout=40)
    assert 20 + 2 + 2 - 1 < held < 20 + 2 + 2 + 2, held
    record = engine.wait_record(call)
    assert record["error"].startswith("CommandTimeout: bridge: no answer")
    assert_honest_call_completed(engine, honest)
    peer.close()
