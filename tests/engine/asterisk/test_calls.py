"""Whole calls on Asterisk: engine.runner.run_call(AsteriskCall(...)) behind a FastAGI
listener, against the AGI simulator (tests/asim), in-process over loopback TCP."""
from __future__ import annotations

import wave

import gevent

from engine.identifiers import canonical_uuid
from tests.asim import Caller

RECORD_KEYS = {"uuid", "number", "caller", "started_at", "ended_at", "outcome", "attempts",
               "recording", "voicemail", "hangup_cause", "trace", "error"}


def call(engine, number: str, caller: Caller | None = None, timeout: float = 10.0):
    result = engine.sim.place_call(called=number, caller=caller).result(timeout)
    assert not result.timed_out, "the engine did not close the socket"
    with gevent.Timeout(2):
        while len(engine.records) < len(engine.calls):
            gevent.sleep(0.005)
    return result, engine.records[-1]


def test_start_and_end_messages_around_an_answered_forward(engine):
    result, record = call(engine, "+551140040001")
    media = str(engine.media)
    assert result.played == [f"{media}/welcome", f"{media}/thanks"]   # no extension (01)
    assert result.engine_answered                        # a message needs our answer
    assert [d.status for d in result.dials] == ["ANSWER"]
    assert result.dials[0].endpoints == ["PJSIP/5511900000001@trunk"]
    assert result.dials[0].timeout == 20 and "g" in result.dials[0].options
    assert record.outcome == "answered" and record.attempts[0].result == "answered"
    assert record.hangup_cause == "NORMAL_CLEARING" and result.caller_cause == 16
    assert record.number == "+551140040001" and record.caller == "+5511999990001"
    assert canonical_uuid(record.uuid) and engine.calls[-1].switch_id == result.uniqueid


def test_pure_forward_is_never_answered_by_us(engine):
    result, record = call(engine, "+551140040002")
    assert not result.engine_answered and result.answered     # Dial answered it (02)
    assert "ANSWER" not in result.commands
    assert record.outcome == "answered"


def test_failover_no_answer_busy_unreachable_then_answered(engine):
    result, record = call(engine, "+551140040003")
    assert [d.status for d in result.dials] == ["NOANSWER", "BUSY", "CHANUNAVAIL", "ANSWER"]
    assert [a.result for a in record.attempts] == ["no_answer", "busy", "failed", "answered"]
    assert result.dials[3].endpoints == ["PJSIP/5511900000002@trunk", "PJSIP/ana@pbx.example.com"]
    assert result.dials[3].answered_by == "PJSIP/ana@pbx.example.com"
    assert not result.engine_answered and record.outcome == "answered"


def test_simultaneous_ring_joined_with_ampersand(engine):
    result, record = call(engine, "+551140040009")
    (dial,) = result.dials
    assert dial.endpoints == ["PJSIP/5511900000002@trunk", "PJSIP/5511900000005@trunk",
                              "PJSIP/5511900000003@trunk"]
    assert dial.status == "ANSWER" and dial.answered_by == "PJSIP/5511900000005@trunk"
    assert [a.result for a in record.attempts] == ["answered"]


def test_recorded_conversation_is_the_conversation_only(engine):
    result, record = call(engine, "+551140040005")
    assert record.recording and record.recording.endswith(f"{record.uuid}.wav")
    assert any(c == f'EXEC MixMonitor "{record.recording},b"' for c in result.commands)
    assert "EXEC StopMixMonitor" in result.commands     # a later attempt gets its own file
    with wave.open(record.recording, "rb") as w:
        seconds = w.getnframes() / w.getframerate()
    assert 4.5 <= seconds <= 6.0                           # the 5 s of talk, no ringback


def test_voicemail_with_greeting_hands_a_real_wav_over(engine):
    result, record = call(engine, "+551140040004", Caller(talk=4))
    assert [a.result for a in record.attempts] == ["no_answer", "busy"]
    assert result.played[0].endswith("/vm") and result.played[1] == "beep"
    rec = [c for c in result.commands if c.startswith("RECORD FILE")]
    assert rec == [f'RECORD FILE {record.voicemail[:-4]} wav "#" 60000 s=3']
    (message,) = engine.voicemails
    assert message.path == record.voicemail and message.email == ("ops@example.com",)
    with wave.open(message.path, "rb") as w:
        assert (w.getframerate(), w.getnchannels()) == (8000, 1)
        assert abs(w.getnframes() / 8000 - message.seconds) < 0.05
    assert 4.5 <= message.seconds <= 5.5                  # talk + 1 s (silence trimmed)
    assert record.outcome == "voicemail"


def test_voicemail_kept_when_the_caller_hangs_up_mid_message(engine):
    # 10 s of ringing, busy at once, greeting 1.5 s, beep 0.25 s, then ~4 s of message
    result, record = call(engine, "+551140040004", Caller(hangup_after=16))
    assert record.voicemail and 2 <= engine.voicemails[0].seconds <= 5
    assert result.records[0][2] == "hangup"
    assert "HANGUP" not in result.commands and not any(c.startswith("EXEC Hangup")
                                                      for c in result.commands)
    assert record.hangup_cause == "NORMAL_CLEARING"      # the caller's 16, read after (13)


def test_hangup_rule_cause_21(engine):
    result, record = call(engine, "+551140040006")
    assert result.commands[-1] == "EXEC Hangup 21"        # 08: the caller gets cause 21
    assert result.caller_cause == 21 and record.hangup_cause == "CALL_REJECTED"
    assert result.played == [f"{engine.media}/closed"] and record.outcome == "hangup"


def test_hangup_rule_cause_17_unanswered(engine):
    result, record = call(engine, "+551140040007")
    assert result.commands == ["EXEC Hangup 17"]          # 08c: no ANSWER first
    assert result.caller_cause == 17 and record.hangup_cause == "USER_BUSY"


def test_caller_routing_by_agi_callerid(engine):
    result, record = call(engine, "+551140040008", Caller(number="+5521988887777"))
    assert record.caller == "+5521988887777" and [d.status for d in result.dials] == ["ANSWER"]
    result, record = call(engine, "+551140040008", Caller(number="+5511988887777", talk=3))
    assert result.dials == [] and record.outcome == "voicemail"


def test_withheld_and_missing_caller_ids(engine):
    _, record = call(engine, "+551140040008", Caller(number="anonymous", name="Anonymous",
                                                     pres=33, talk=3))   # 09b
    assert record.caller == "anonymous" and engine.calls[-1].caller_name is None
    _, record = call(engine, "+551140040008", Caller(number=None, name=None, pres=67,
                                                     talk=3))             # 09c
    assert record.caller == "anonymous" and engine.calls[-1].caller is None


def test_caller_hangs_up_while_ringing(engine):
    result, record = call(engine, "+551140040003", Caller(hangup_after=3))
    assert [d.status for d in result.dials] == ["CANCEL"]  # no next attempt (05)
    assert [a.result for a in record.attempts] == ["caller_gone"]
    assert record.outcome == "missed" and record.hangup_cause == "NORMAL_CLEARING"
    assert not any(c.startswith(("EXEC Hangup", "ANSWER")) for c in result.commands)


def test_call_record_has_the_freeswitch_shape(engine):
    _, record = call(engine, "+551140040003")
    data = record.to_json()
    assert set(data) == RECORD_KEYS
    assert all(set(a) == {"to", "result", "seconds"} for a in data["attempts"])
    assert data["attempts"][0]["to"] == ["+5511900000002"]   # destinations, not dial strings
    assert data["error"] is None and isinstance(data["trace"], list)
