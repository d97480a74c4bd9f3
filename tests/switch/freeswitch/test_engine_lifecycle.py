"""The engine's life around real calls: not running, killed mid-traffic and restarted,
and a burst of calls. What the switch does without an engine is the project's own
dialplan (dialplan/callflow.xml with socket_resume and the fallback), seen for real."""
from __future__ import annotations

import os
import signal
import time

import pytest

from tests.helpers.engine_proc import free_port
from tests.switch.freeswitch.instance import FALLBACK_AUDIO
from tests.switch.freeswitch.lab import wait_until

pytestmark = pytest.mark.slow


def test_no_engine_the_fallback_plays_and_the_call_ends(lab):
    dead = f"127.0.0.1:{free_port()}"          # nothing listens there
    lab.fs.set_engines([dead, dead])
    try:
        call = lab.call("551140040002")
        call.wait_ended(timeout=20)
    finally:
        lab.fs.set_engines([f"127.0.0.1:{lab.engine.port}"])
    apps = [a for a, _ in call.apps()]
    # both socket actions ran and returned (socket_resume), then fallback/message.xml
    assert apps.count("socket") == 2
    assert apps[apps.index("socket") + 2:] == ["log", "pre_answer", "playback", "hangup"]
    assert dict(call.apps())["playback"] == FALLBACK_AUDIO
    assert call.caller_hangup() == ("NORMAL_TEMPORARY_FAILURE", 41)
    assert not call.caller_answered()            # early media only: the caller is not billed
    assert call.legs() == []


@pytest.mark.parametrize("sig", [signal.SIGKILL, signal.SIGTERM], ids=["crash", "stop"])
def test_engine_killed_mid_traffic_no_call_stuck_and_restart_serves(lab, sig):
    # Three calls ringing a phone for 20 s when the engine dies (SIGKILL, a crash) or is
    # stopped (SIGTERM: it drains for CALLFLOW_DRAIN_SECONDS=5, then exits with the
    # calls still ringing).
    calls = [lab.call("551140040009") for _ in range(3)]
    for call in calls:
        call.wait_app("bridge", timeout=15)
    lab.engine.proc.send_signal(sig)
    lab.engine.proc.wait(15)
    killed_at = time.monotonic()
    try:
        # What FreeSWITCH 1.11.1 does (docs/freeswitch.md): the socket closing ends the
        # running bridge at once (ORIGINATOR_CANCEL, the phone stops ringing); with
        # socket_resume the dialplan goes on to the next socket action (here the same
        # dead engine: refused) and the fallback ends the call, all within about 1 s.
        for call in calls:
            call.wait_ended(timeout=15)
        assert time.monotonic() - killed_at < 10
        for call in calls:
            (bridge,) = call.completions("bridge")
            assert bridge["variable_originate_disposition"] == "ORIGINATOR_CANCEL"
            apps = [a for a, _ in call.apps()]
            assert apps.count("socket") == 2
            assert "pre_answer" in apps and apps[-1] == "hangup", apps
            assert call.caller_hangup()[0] == "NORMAL_TEMPORARY_FAILURE"
    finally:
        lab.engine.start()
        lab.engine.wait_healthy()
    fresh = lab.call("551140040006")
    rec = lab.finished(fresh)
    assert rec["outcome"] == "hangup" and fresh.caller_hangup() == ("CALL_REJECTED", 21)
    # nothing is left on the switch: no parked caller, no far end still ringing
    wait_until(lambda: lab.client.api("show channels count").strip().startswith("0 total"),
               "no channel left on the switch")


def test_fifty_calls_in_two_seconds_all_complete(lab):
    calls = []
    started = time.monotonic()
    for i in range(50):
        # pacing the offered calls, 40 ms apart; no assertion waits on a sleep
        time.sleep(max(0.0, started + i * 0.04 - time.monotonic()))
        calls.append(lab.call("551140040012", caller=f"55219888{i:05d}"))
    records = [lab.finished(call, timeout=60) for call in calls]
    assert [r["outcome"] for r in records] == ["answered"] * 50
    assert all([a["result"] for a in r["attempts"]] == ["answered"] for r in records)
    assert all(call.played() == [lab.media("hello.wav")] for call in calls)
    assert len({r["uuid"] for r in records}) == 50
    assert sorted(r["caller"] for r in records) == sorted(f"+55219888{i:05d}" for i in range(50))


def test_switch_dies_mid_command_other_calls_never_notice(lab, tmp_path):
    # A second, private FreeSWITCH on the same engine is killed (SIGKILL: its sockets
    # close in the middle of the engine's bridge command) while a call on the lab's
    # switch is ringing too. The engine writes the dead call's record, logs why, and the
    # other call goes on untouched.
    from tests.switch.freeswitch.calls import PlacedCall
    from tests.switch.freeswitch.esl_client import EventLog
    from tests.switch.freeswitch.instance import FreeSwitch

    other = lab.call("551140040002")                 # rings 5 s, then the next phone answers
    doomed_fs = FreeSwitch(tmp_path / "doomed", [f"127.0.0.1:{lab.engine.port}"]).start()
    try:
        with doomed_fs.client() as client:
            events = EventLog("127.0.0.1", doomed_fs.esl_port, doomed_fs.password)
            doomed = PlacedCall(events, client, "551140040009")
            doomed.wait_app("bridge")
            uuid = doomed.controlled_uuid
            os.kill(doomed_fs.pid, signal.SIGKILL)
            events.close()
    finally:
        doomed_fs.stop()
    rec = lab.engine.wait_record(uuid, timeout=10)
    assert rec["outcome"] == "missed"
    assert [a["result"] for a in rec["attempts"]] == ["caller_gone"]
    lines = [l for l in lab.engine.log_lines() if l.get("uuid") == uuid and "caller gone" in l.get("msg", "")]
    assert len(lines) == 1 and "socket" in lines[0]["msg"], lines
    rec_other = lab.finished(other)
    assert [a["result"] for a in rec_other["attempts"]] == ["no_answer", "answered"]
