"""The simulator's behaviour beyond the literal transcripts: targets, dial strings, caller
hang-ups, recording, time scaling, concurrency, refusal, raw injection. A test-side
Controller plays the engine."""
from __future__ import annotations

import os
import time
import wave

import pytest

from . import Simulator, Target, parse_dial_string
from .controller import Controller

SCALE = 0.02


@pytest.fixture
def ctl():
    c = Controller()
    yield c
    c.close()


def _sim(ctl, scale=SCALE, **targets):
    # Note: controller round trips cost real time, i.e. 1/scale times more sim time; tests that
    # schedule caller hang-ups use a larger scale so that setup latency cannot reach them.
    return Simulator(port=ctl.port, time_scale=scale, targets=targets)


def names(conn):
    return [(m.event_name, m.evd("Application")) for m in conn.events()]


def test_parse_dial_string():
    g, groups = parse_dial_string("{originate_timeout=20,ignore_early_media=true}sofia/gateway/default/"
                                  "+5511999990000,[leg_timeout=5]sofia/external/ana@pbx.example.com|user/1000")
    assert g == {"originate_timeout": "20", "ignore_early_media": "true"}
    assert [[e.dial for e in grp] for grp in groups] == [
        ["sofia/gateway/default/+5511999990000", "sofia/external/ana@pbx.example.com"], ["user/1000"]]
    assert groups[0][1].variables == {"originate_timeout": "20", "ignore_early_media": "true", "leg_timeout": "5"}
    assert groups[0][0].last == "+5511999990000"


def test_channel_data_and_header_forging_is_encoded(ctl):
    sim = _sim(ctl)
    h = sim.place_call_async(destination_number="+551140040000", caller_id_number="+5511999990001",
                             caller_id_name="Evil\nEvent-Name: CHANNEL_HANGUP", variables={"sip_x": "a b"})
    conn = ctl.accept()
    data = ctl.start(conn, linger=None)
    raw = data.raw.decode()
    assert "Caller-Caller-ID-Name: Evil%0AEvent-Name%3A%20CHANNEL_HANGUP\n" in raw
    assert "Caller-Caller-ID-Number: %2B5511999990001\n" in raw
    assert "Caller-Destination-Number: %2B551140040000\n" in raw
    assert "variable_sip_x: a%20b\n" in raw
    assert raw.endswith("Content-Type: command/reply\nReply-Text: %2BOK%0A\nSocket-Mode: async\nControl: full\n\n")
    assert data.get("Unique-ID") == h.uuid
    conn.execute("hangup", "NORMAL_CLEARING")
    conn.drain()
    r = h.result(5)
    assert r.hangup_cause == "NORMAL_CLEARING" and r.apps == [("hangup", "NORMAL_CLEARING")]
    assert [c.name for c in r.commands] == ["connect", "myevents", "sendmsg"]


def test_simultaneous_first_answer_wins_on_unanswered_channel(ctl):
    sim = _sim(ctl, **{"+5511999990000": Target.answers(after=5, talk=1),
                       "ana@pbx.example.com": Target.answers(after=2, talk=3)})
    h = sim.place_call_async()
    conn = ctl.accept()
    ctl.start(conn)
    conn.execute("set", "continue_on_fail=true")
    done = conn.execute("bridge", "{originate_timeout=20,ignore_early_media=true}sofia/gateway/default/"
                                  "+5511999990000,sofia/external/ana@pbx.example.com")
    assert done.evd("variable_originate_disposition") == "SUCCESS"
    assert done.evd("variable_bridge_channel") == "sofia/external/ana@pbx.example.com"
    seq = [n for n, _ in names(conn)]
    # transcript 05: PROGRESS_MEDIA at bridge start on an unanswered channel
    assert seq.index("CHANNEL_PROGRESS_MEDIA") < seq.index("CHANNEL_ANSWER") < seq.index("CHANNEL_BRIDGE") \
        < seq.index("CHANNEL_UNBRIDGE")
    conn.execute("hangup")
    conn.drain()
    r = h.result(5)
    b = r.bridges[0]
    assert r.answered and b.answered_by == "sofia/external/ana@pbx.example.com"
    assert sorted(c for _, _, c in b.legs) == ["LOSE_RACE", "NONE"]


def test_sequential_failover_and_causes(ctl):
    sim = _sim(ctl, **{"+5511000000001": Target.busy(), "+5511000000002": Target.answers(after=1, talk=1)})
    h = sim.place_call_async()
    conn = ctl.accept()
    ctl.start(conn)
    conn.execute("answer")
    conn.execute("set", "continue_on_fail=true")
    d1 = conn.execute("bridge", "sofia/gw/+5511000000009")                    # unmatched
    d2 = conn.execute("bridge", "nosuchendpoint/foo")                         # unknown type
    d3 = conn.execute("bridge", "{leg_timeout=2}sofia/gw/+5511000000001|sofia/gw/+5511000000002")
    assert (d1.evd("variable_originate_disposition"), d1.evd("variable_DIALSTATUS")) == \
        ("NO_ROUTE_DESTINATION", "NO_ROUTE_DESTINATION")
    assert d2.evd("variable_originate_disposition") == "CHAN_NOT_IMPLEMENTED"
    assert d3.evd("variable_originate_disposition") == "SUCCESS"
    # stale failure value after a success (README table)
    assert d3.evd("variable_originate_failed_cause") == "CHAN_NOT_IMPLEMENTED"
    assert d3.evd("variable_originate_causes").endswith(";USER_BUSY|:" + d3.evd("variable_bridge_uuid") + ";NONE")
    conn.execute("hangup")
    conn.drain()
    assert [b.outcome for b in h.result(5).bridges] == ["NO_ROUTE_DESTINATION", "CHAN_NOT_IMPLEMENTED", "SUCCESS"]


@pytest.mark.parametrize("arg,disp,dial", [("{leg_timeout=3}sofia/gw/x", "ALLOTTED_TIMEOUT", "ALLOTTED_TIMEOUT"),
                                           ("{originate_timeout=3}sofia/gw/x", "NO_ANSWER", "NOANSWER")])
def test_no_answer_timeouts(ctl, arg, disp, dial):
    sim = _sim(ctl, x=Target.no_answer())
    h = sim.place_call_async()
    conn = ctl.accept()
    ctl.start(conn)
    conn.execute("answer")
    conn.execute("set", "continue_on_fail=true")
    t = time.monotonic()
    d = conn.execute("bridge", arg)
    assert 3 * SCALE <= time.monotonic() - t < 3 * SCALE + 1.0
    assert (d.evd("variable_originate_disposition"), d.evd("variable_DIALSTATUS")) == (disp, dial)
    conn.execute("hangup")
    conn.drain()
    h.result(5)


def test_hangup_after_bridge_true_and_unset_visible(ctl):
    sim = _sim(ctl, x=Target.answers(after=1, talk=2))
    h = sim.place_call_async()
    conn = ctl.accept()
    ctl.start(conn)
    conn.execute("answer")
    conn.execute("set", "continue_on_fail=true")
    conn.execute("bridge", "error/USER_BUSY")
    d = conn.execute("unset", "originate_disposition")
    assert d.evd("variable_originate_disposition") is None
    conn.execute("set", "hangup_after_bridge=true")
    conn.execute("bridge", "sofia/gw/x", wait=False)
    conn.drain()
    seq = names(conn)
    i = seq.index(("CHANNEL_UNBRIDGE", None))
    assert seq[i + 1:i + 3] == [("CHANNEL_HANGUP", None), ("CHANNEL_EXECUTE_COMPLETE", "bridge")]
    assert h.result(5).hangup_cause == "NORMAL_CLEARING"


def test_failed_bridge_without_continue_on_fail_hangs_up(ctl):
    sim = _sim(ctl, x=Target.rejects())
    h = sim.place_call_async()
    conn = ctl.accept()
    ctl.start(conn)
    conn.execute("bridge", "sofia/gw/x", wait=False)
    conn.drain()
    seq = names(conn)
    # transcript 06b: CHANNEL_HANGUP precedes the bridge's EXECUTE_COMPLETE
    assert seq.index(("CHANNEL_HANGUP", None)) + 1 == seq.index(("CHANNEL_EXECUTE_COMPLETE", "bridge"))
    assert h.result(5).hangup_cause == "CALL_REJECTED"


def test_record_stops_on_silence_and_time_limit(ctl, tmp_path):
    sim = _sim(ctl)
    h = sim.place_call_async(caller_speaks=2)
    conn = ctl.accept()
    ctl.start(conn, subscribe="RECORD_START RECORD_STOP")
    conn.execute("answer")
    p1, p2 = str(tmp_path / "a.wav"), str(tmp_path / "b.wav")
    t = time.monotonic()
    d1 = conn.execute("record", f"{p1} 30 200 3")       # speech 2 s + 3 s of silence
    d2 = conn.execute("record", f"{p2} 1 200 3")        # capped at 1 s
    assert time.monotonic() - t < 3
    assert (d1.evd("variable_record_ms"), d1.evd("variable_silence_hits_exhausted")) == ("5000", "true")
    assert (d2.evd("variable_record_ms"), d2.evd("variable_silence_hits_exhausted")) == ("1000", "false")
    assert d1.evd("variable_record_file_size") == str(os.path.getsize(p1)) == str(44 + 2 * 5 * 8000)
    with wave.open(p1) as w:
        assert (w.getframerate(), w.getnchannels(), w.getsampwidth(), w.getnframes()) == (8000, 1, 2, 40000)
    assert [n for n, _ in names(conn)].count("RECORD_STOP") == 2
    conn.execute("hangup")
    conn.drain()
    assert h.result(5).recordings == [p1, p2]


def test_record_events_need_subscription(ctl, tmp_path):
    sim = _sim(ctl)
    h = sim.place_call_async(caller_speaks=0.5)
    conn = ctl.accept()
    ctl.start(conn)                                        # myevents only
    conn.execute("record", f"{tmp_path / 'x.wav'} 2")
    conn.execute("playback", "silence_stream://500")
    conn.execute("hangup")
    conn.drain()
    assert not {"RECORD_START", "RECORD_STOP", "PLAYBACK_START", "PLAYBACK_STOP"} & {n for n, _ in names(conn)}
    h.result(5)


def test_caller_hangup_during_bridge_ringing(ctl):
    sim = _sim(ctl, x=Target.no_answer())
    h = sim.place_call_async(caller_hangup_during=("bridge", 2))
    conn = ctl.accept()
    ctl.start(conn)
    conn.execute("set", "continue_on_fail=true")
    d = conn.execute("bridge", "{leg_timeout=20}sofia/gw/x")
    assert (d.evd("variable_originate_disposition"), d.evd("variable_DIALSTATUS")) == ("ORIGINATOR_CANCEL", "CANCEL")
    assert d.evd("Hangup-Cause") == "NORMAL_CLEARING"
    conn.drain()
    r = h.result(5)
    assert not r.answered and r.hangup_cause == "NORMAL_CLEARING" and r.duration >= 2


def test_caller_hangup_after_while_idle_and_sendmsg_after_hangup(ctl, tmp_path):
    sim = _sim(ctl, scale=0.1)
    h = sim.place_call_async(caller_hangup_after=2)
    conn = ctl.accept()
    ctl.start(conn, linger="linger 30")
    conn.wait_event("CHANNEL_HANGUP_COMPLETE")
    assert conn.cmd(f"api uuid_exists {h.uuid}").body == b"false"
    assert conn.cmd("sendmsg\ncall-command: execute\nexecute-app-name: answer").get("Reply-Text") == "+OK"
    assert conn.cmd("exit").get("Reply-Text") == "+OK bye"
    msgs = conn.drain()
    assert msgs[-1].get("Content-Disposition") == "disconnect"
    r = h.result(5)
    assert r.apps == [] and r.app_requests == [("answer", None)]


def test_playback_cut_by_caller_and_missing_file(ctl, tmp_path):
    wav = tmp_path / "msg.wav"
    with wave.open(str(wav), "wb") as w:
        w.setnchannels(1), w.setsampwidth(2), w.setframerate(8000), w.writeframes(b"\0\0" * 16000)
    sim = _sim(ctl)
    h = sim.place_call_async(caller_hangup_during=("playback", 1.0))
    conn = ctl.accept()
    ctl.start(conn, subscribe="PLAYBACK_START PLAYBACK_STOP")
    conn.execute("answer")
    d = conn.execute("playback", str(wav))   # 2 s file, caller leaves after 1 s
    assert d.evd("Application-Response") == "PLAYBACK ERROR"
    stop = [m for m in conn.events() if m.event_name == "PLAYBACK_STOP"][-1]
    assert stop.evd("Playback-Status") == "done"
    assert stop.evd("variable_playback_ms") == "1000"        # cut at the caller's deadline
    conn.drain()
    h.result(5)


def test_playback_missing_files(ctl, tmp_path):
    sim = _sim(ctl)
    h = sim.place_call_async()
    conn = ctl.accept()
    ctl.start(conn, subscribe="PLAYBACK_START PLAYBACK_STOP")
    conn.execute("answer")
    assert conn.execute("playback", str(tmp_path / "nope.wav")).evd("Application-Response") == "FILE NOT FOUND"
    assert conn.execute("playback", "relative.wav").evd("Application-Response") == "FILE NOT FOUND"
    assert conn.execute("playback", "tone_stream://%(200,0,440)").evd("Application-Response") == "FILE PLAYED"
    conn.execute("hangup")
    conn.drain()
    # transcript 06: a missing file gives no PLAYBACK_* events
    assert [n for n, _ in names(conn)].count("PLAYBACK_START") == 1
    h.result(5)


def test_unknown_app_and_errors(ctl):
    sim = _sim(ctl)
    h = sim.place_call_async()
    conn = ctl.accept()
    ctl.start(conn)
    assert conn.cmd("foobar").get("Reply-Text") == "-ERR command not found"
    assert conn.cmd("event plain NO_SUCH_EVENT").get("Reply-Text") == "-ERR no keywords supplied"
    assert conn.cmd("sendmsg 00000000-0000-0000-0000-000000000000\ncall-command: execute").get("Reply-Text") \
        == "-ERR invalid session id [00000000-0000-0000-0000-000000000000]"
    assert conn.cmd("api no_such_command arg1").body == b"-ERR no_such_command Command not found!\n"
    assert conn.cmd(f"api uuid_exists {h.uuid}").body == b"true"
    conn.execute("no_such_app", "x", wait=False)
    conn.drain()
    assert ("CHANNEL_EXECUTE", "no_such_app") not in names(conn)
    assert h.result(5).hangup_cause == "DESTINATION_OUT_OF_ORDER"


def test_api_uuid_kill(ctl):
    sim = _sim(ctl)
    h = sim.place_call_async()
    conn = ctl.accept()
    ctl.start(conn, linger=None)
    conn.execute("answer")
    conn.execute("sleep", "60000", wait=False)
    assert conn.cmd(f"api uuid_kill {h.uuid} CALL_REJECTED").body == b"+OK\n"
    conn.drain()
    assert h.result(5).hangup_cause == "CALL_REJECTED"


def test_refused_when_engine_closes_without_connect(ctl):
    sim = _sim(ctl)
    h = sim.place_call_async()
    ctl.accept().close()
    r = h.result(5)
    assert r.refused and not r.connected and r.closed_by == "engine"


def test_inject_raw_bytes_and_open_raw(ctl):
    sim = _sim(ctl)
    garbage = b"Content-Length: 5\nContent-Type: text/event-plain\n\nEvil\n"
    h = sim.place_call_async(inject=[("connect", garbage)])
    conn = ctl.accept()
    conn.cmd("connect")
    conn.sock.settimeout(2)
    assert conn.reader.read_exact(len(garbage)) == garbage
    conn.close()
    assert h.result(5).closed_by == "engine"
    s = sim.open_raw()
    peer = ctl.accept()
    s.sendall(b"hello\n\n")
    assert peer.reader.read_until(b"\n\n") == b"hello\n\n"
    s.close()


def test_many_concurrent_calls(ctl):
    sim = _sim(ctl, x=Target.answers(after=1, talk=1))
    handles = [sim.place_call_async(destination_number=f"50{i:02d}") for i in range(8)]
    import threading

    def serve():
        conn = ctl.accept()
        ctl.start(conn)
        conn.execute("set", "continue_on_fail=true")
        conn.execute("bridge", "sofia/gw/x")
        conn.execute("hangup")
        conn.drain()
    threads = [threading.Thread(target=serve) for _ in handles]
    for t in threads:
        t.start()
    for t in threads:
        t.join(10)
    results = [h.result(10) for h in handles]
    assert all(r.answered and r.bridges[0].outcome == "SUCCESS" for r in results)
    assert len({r.uuid for r in results}) == 8


def test_record_session_includes_ringing_unless_bridge_required(ctl, tmp_path):
    # As the real switch does (tests/switch/freeswitch): record_session records the
    # ringback too; RECORD_BRIDGE_REQ=true makes it wait for the bridge.
    lengths = {}
    for bridge_req in (False, True):
        sim = _sim(ctl, x=Target.answers(after=3, talk=1))
        h = sim.place_call_async()
        conn = ctl.accept()
        ctl.start(conn)
        if bridge_req:
            conn.execute("set", "RECORD_BRIDGE_REQ=true")
        path = str(tmp_path / f"rec-{bridge_req}.wav")
        conn.execute("record_session", path)
        conn.execute("bridge", "sofia/gw/x")
        conn.execute("hangup")
        conn.drain()
        h.result(5)
        with wave.open(path) as w:
            lengths[bridge_req] = w.getnframes() / 8000
    assert lengths[False] >= 3.9            # 3 s of ringing + 1 s of talk
    assert 0.95 <= lengths[True] < 3        # the talk only


def test_record_session_wav_covers_conversation(ctl, tmp_path):
    sim = _sim(ctl, x=Target.answers(after=0, talk=2))
    h = sim.place_call_async()
    conn = ctl.accept()
    ctl.start(conn, subscribe="RECORD_STOP")
    conn.execute("answer")
    path = str(tmp_path / "rec.wav")
    conn.execute("record_session", path)
    conn.execute("bridge", "sofia/gw/x")
    conn.execute("hangup")
    msgs = conn.drain()
    stop = next(m for m in msgs if m.event_name == "RECORD_STOP")
    assert stop.evd("Record-Completion-Cause") == "success-silence"
    labels = [m.event_name for m in msgs if m.event_name]
    assert labels.index("CHANNEL_HANGUP") < labels.index("RECORD_STOP") < labels.index("CHANNEL_HANGUP_COMPLETE")
    with wave.open(path) as w:
        # >= the 2 s conversation; the upper bound allows for round trips x 1/time_scale
        assert 1.95 < w.getnframes() / 8000 < 8
    assert h.result(5).recordings == [path]
