"""End to end: a real `callflow serve` process driven by the FreeSWITCH simulator over
loopback TCP, one scenario per feature of docs/design.md "What a call gets"."""
from __future__ import annotations

import wave
from pathlib import Path

from tests.fsim.targets import Target


def app_names(result):
    return [a for a, _ in result.apps]


def test_message_forward_answered_then_final_message(engine, sim):
    r = sim.place_call(destination_number="+551140040001", caller_id_number="+5511988887777")
    names = app_names(r)
    assert names[:2] == ["answer", "playback"]
    assert r.apps[1][1] == str(engine.media_dir / "welcome.wav")
    bridge = [arg for app, arg in r.apps if app == "bridge"]
    assert bridge == ["{originate_timeout=20}sofia/gateway/default/+5511900000001"]
    # control must come back to us after the bridge (transcript 06b: otherwise FreeSWITCH
    # hangs up on a failure), and stale results must be cleared first
    assert ("multiset", "continue_on_fail=true hangup_after_bridge=false originate_disposition= "
            "DIALSTATUS= bridge_hangup_cause=") in r.apps
    assert names.index("multiset") < names.index("bridge")
    # the simulator applies it as FreeSWITCH does: the stale results are gone
    assert r.variables.get("continue_on_fail") == "true"
    # the far end hung up; the caller is still there and hears the final message
    assert r.apps[-2] == ("playback", str(engine.media_dir / "thanks.wav"))
    assert r.apps[-1] == ("hangup", "NORMAL_CLEARING")
    rec = engine.wait_record(r.uuid)
    assert rec["outcome"] == "answered"
    assert rec["number"] == "+551140040001"
    assert rec["caller"] == "+5511988887777"
    assert [a["result"] for a in rec["attempts"]] == ["answered"]


def test_pure_forward_is_not_answered_by_us(engine, sim):
    r = sim.place_call(destination_number="+551140040002")
    assert "answer" not in app_names(r)
    assert "playback" not in app_names(r)
    assert r.bridges and r.bridges[0].outcome == "SUCCESS"
    assert engine.wait_record(r.uuid)["outcome"] == "answered"


def test_failover_no_answer_busy_unreachable_then_ring_together(engine, sim):
    r = sim.place_call(destination_number="+551140040003")
    bridges = [arg for app, arg in r.apps if app == "bridge"]
    assert len(bridges) == 4
    assert bridges[3].endswith("sofia/gateway/default/+5511900000002,sofia/external/ana@pbx.example.com")
    rec = engine.wait_record(r.uuid)
    assert [a["result"] for a in rec["attempts"]] == ["no_answer", "busy", "failed", "answered"]
    assert rec["outcome"] == "answered"
    assert "answer" not in app_names(r)


def test_all_attempts_fail_then_voicemail_is_recorded_and_handed_over(engine, sim):
    r = sim.place_call(destination_number="+551140040004", caller_id_number="+5521977776666",
                       caller_speaks=4)
    names = app_names(r)
    assert names.count("bridge") == 2
    after = names[names.index("bridge", names.index("bridge") + 1) + 1:]
    assert after[:4] == ["answer", "playback", "playback", "record"]
    assert r.apps[names.index("record")][1].split()[1:] == ["60", "200", "3"]
    rec = engine.wait_record(r.uuid)
    assert rec["outcome"] == "voicemail"
    path = Path(rec["voicemail"])
    assert path.is_relative_to(engine.voicemail_dir) and path.name == f"{r.uuid}.wav"
    with wave.open(str(path)) as w:
        assert w.getframerate() == 8000 and w.getnchannels() == 1
        assert 3.5 <= w.getnframes() / 8000 <= 8
    handed = [l for l in engine.log_lines() if l.get("uuid") == r.uuid
              and l.get("msg") == "voicemail handed over"]
    assert handed and handed[0]["email"] == ["ops@example.com"]


def test_caller_hangs_up_during_voicemail_message_is_still_handed_over(engine, sim):
    r = sim.place_call(destination_number="+551140040004", caller_speaks=20,
                       caller_hangup_during=("record", 5))
    rec = engine.wait_record(r.uuid)
    assert rec["outcome"] == "voicemail"
    with wave.open(rec["voicemail"]) as w:
        assert 4 <= w.getnframes() / 8000 <= 6
    assert app_names(r)[-1] == "record"          # nothing sent after the caller left


def test_too_short_voicemail_is_dropped_and_logged(engine, sim):
    r = sim.place_call(destination_number="+551140040004", caller_speaks=20,
                       caller_hangup_during=("record", 1))
    rec = engine.wait_record(r.uuid)
    assert rec["outcome"] == "missed" and rec["voicemail"] is None
    assert any(l.get("msg") == "voicemail too short; dropped" for l in engine.log_lines()
               if l.get("uuid") == r.uuid)


def test_recorded_conversation_goes_to_dated_folder(engine, sim):
    r = sim.place_call(destination_number="+551140040005")
    names = app_names(r)
    assert names.index("record_session") < names.index("bridge")
    rec = engine.wait_record(r.uuid)
    path = Path(rec["recording"])
    started = rec["started_at"]
    assert path == engine.recordings_dir / started[:4] / started[5:7] / started[8:10] / f"{r.uuid}.wav"
    assert r.apps[names.index("record_session")][1] == str(path)
    with wave.open(str(path)) as w:
        assert w.getnframes() > 0


def test_forced_hangup_plays_final_message_and_uses_cause(engine, sim):
    r = sim.place_call(destination_number="+551140040006")
    assert r.apps == [("answer", None), ("playback", str(engine.media_dir / "closed.wav")),
                      ("hangup", "CALL_REJECTED")]
    assert r.hangup_cause == "CALL_REJECTED"
    assert engine.wait_record(r.uuid)["outcome"] == "hangup"


def test_busy_without_voicemail_gives_the_caller_busy(engine, sim):
    r = sim.place_call(destination_number="+551140040007")
    assert r.apps[-1] == ("hangup", "USER_BUSY")
    assert "answer" not in app_names(r)
    rec = engine.wait_record(r.uuid)
    assert rec["outcome"] == "missed" and rec["attempts"][0]["result"] == "busy"


def test_plan_depends_on_caller(engine, sim):
    rio = sim.place_call(destination_number="+551140040008", caller_id_number="+5521988887777")
    assert "bridge" in app_names(rio)
    sp = sim.place_call(destination_number="+551140040008", caller_id_number="11988887777",
                        caller_speaks=3)
    assert "bridge" not in app_names(sp) and "record" in app_names(sp)
    assert any("not in [+5521*]" in t for t in engine.wait_record(sp.uuid)["trace"])


def test_anonymous_caller(engine, sim):
    r = sim.place_call(destination_number="+551140040008", caller_id_number="anonymous",
                       caller_speaks=3)
    assert engine.wait_record(r.uuid)["caller"] == "anonymous"


def test_unknown_number_is_refused_unallocated(engine, sim):
    r = sim.place_call(destination_number="+551130000000")
    assert r.apps == [("hangup", "UNALLOCATED_NUMBER")]
    assert engine.wait_record(r.uuid)["outcome"] == "refused"
    assert any(l.get("level") == "warning" and "unknown number" in l.get("msg", "")
               for l in engine.log_lines() if l.get("uuid") == r.uuid)


def test_missing_audio_file_is_logged_and_the_call_goes_on(engine, sim):
    r = sim.place_call(destination_number="+551140040009")
    assert "bridge" in app_names(r)
    assert any(l.get("msg") == "message not played" and l.get("response") == "FILE NOT FOUND"
               for l in engine.log_lines() if l.get("uuid") == r.uuid)


def test_caller_hangs_up_while_ringing(engine, sim):
    sim.targets["+5511900000002"] = Target.no_answer()
    r = sim.place_call(destination_number="+551140040004", caller_hangup_during=("bridge", 3))
    rec = engine.wait_record(r.uuid)
    assert [a["result"] for a in rec["attempts"]] == ["caller_gone"]
    assert rec["outcome"] == "missed" and rec["voicemail"] is None
    assert app_names(r)[-1] == "bridge"


def test_caller_hangs_up_during_message(engine, sim):
    r = sim.place_call(destination_number="+551140040001", caller_hangup_during=("playback", 0.1))
    rec = engine.wait_record(r.uuid)
    assert rec["attempts"] == [] and rec["outcome"] == "missed"
    assert "bridge" not in app_names(r)


def test_caller_hangs_up_during_conversation_counts_as_answered(engine, sim):
    sim.targets["+5511900000001"] = Target.answers(after=1, talk=60)
    r = sim.place_call(destination_number="+551140040002", caller_hangup_after=10)
    rec = engine.wait_record(r.uuid)
    assert rec["outcome"] == "answered"
    assert rec["attempts"][0]["result"] == "answered"


def test_header_forging_caller_name_does_not_end_the_call(engine, sim):
    r = sim.place_call(destination_number="+551140040001",
                       caller_id_name="Evil\nEvent-Name: CHANNEL_HANGUP\nHangup-Cause: CALL_REJECTED")
    rec = engine.wait_record(r.uuid)
    assert rec["outcome"] == "answered"
    assert "bridge" in app_names(r)


def test_metrics_and_health_after_calls(engine, sim):
    sim.place_call(destination_number="+551140040002")
    text = engine.metrics()
    assert 'callflow_calls_total{outcome="answered"}' in text
    assert 'callflow_attempts_total{result="answered"}' in text
    assert "callflow_plan_seconds_bucket" in text
    h = engine.health()
    assert h["status"] == "ok" and h["numbers_loaded"] == 9 and h["calls_active"] == 0


def test_recording_stops_after_the_conversation(engine, sim):
    r = sim.place_call(destination_number="+551140040005")
    names = app_names(r)
    rec = engine.wait_record(r.uuid)
    assert names.index("bridge") < names.index("stop_record_session")
    assert r.apps[names.index("stop_record_session")][1] == rec["recording"]


def test_unanswered_recorded_attempt_keeps_no_recording(engine, sim):
    sim.targets["+5511900000001"] = Target.busy()
    r = sim.place_call(destination_number="+551140040005")
    rec = engine.wait_record(r.uuid)
    assert "stop_record_session" in app_names(r)
    assert rec["recording"] is None and rec["attempts"][0]["result"] == "busy"


def test_plan_follows_the_local_date_and_hour(tmp_path):
    """The engine plans with the instant of the call in the number's zone: today's entry
    is taken, yesterday's is not, and an hour window that excludes now is skipped."""
    from datetime import datetime, timedelta
    from zoneinfo import ZoneInfo

    from tests.engine.conftest import targets
    from tests.fsim.simulator import Simulator
    from tests.helpers.engine_proc import EngineProcess

    now = datetime.now(ZoneInfo("America/Sao_Paulo"))
    today, yesterday = now.date(), now.date() - timedelta(days=1)
    later = (now + timedelta(hours=2)).strftime("%H:00")
    later2 = (now + timedelta(hours=3)).strftime("%H:00")
    rules = f"""
defaults: {{timezone: America/Sao_Paulo, region: BR}}
numbers:
  "+55 11 4004-0010":
    messages:
      - {{audio: today.wav, schedule: {{dates: ["{today}"]}}}}
      - {{audio: yesterday.wav, schedule: {{dates: ["{yesterday}"]}}}}
      - {{audio: later.wav, schedule: {{hours: ["{later}-{later2}"]}}}}
    hangup:
      - {{cause: NORMAL_CLEARING}}
"""
    engine = EngineProcess(tmp_path, rules, media=["today.wav", "yesterday.wav", "later.wav"]).start()
    try:
        r = Simulator(port=engine.port, time_scale=0.01, targets=targets()).place_call(
            destination_number="+551140040010")
        played = [arg.rsplit("/", 1)[-1] for app, arg in r.apps if app == "playback"]
        assert played == ["today.wav"]
        trace = engine.wait_record(r.uuid)["trace"]
        assert any("yesterday.wav: skipped" in t for t in trace)
        assert any("later.wav: skipped: outside hours" in t for t in trace)
    finally:
        engine.stop()
