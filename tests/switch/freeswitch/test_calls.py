"""Every call feature, through a real FreeSWITCH, as the caller and the operator see it.

Each test places a call on the switch's inbound socket into the project's own dialplan,
the engine (``callflow serve``, rules from Redis) drives it, and the assertions read the
switch's own events (what ran, which far ends rang and for how long by the switch's
clock, the cause the caller got), the files the switch wrote and the engine's call
record. No test sleeps before an assertion: each waits for the event it needs.
"""
from __future__ import annotations

from datetime import datetime
from pathlib import Path

import pytest

from tests.switch.freeswitch.lab import TZ, wait_until, wav_seconds

pytestmark = pytest.mark.slow


def _updates(lab, number: str) -> list[dict]:
    return [l for l in lab.engine.log_lines() if l.get("msg") == "rules updated from Redis"
            and number in l.get("numbers_changed", [])]


def test_messages_by_weekday_and_hour(lab):
    call = lab.call("551140040001")
    rec = lab.finished(call)
    if datetime.now(TZ).date() == lab.now.date():
        # open (today) and bye (today, at the end); not closed (tomorrow) nor night (other hours)
        assert call.played() == [lab.media("open.wav"), lab.media("bye.wav")]
        trace = " | ".join(rec["trace"])
        assert "messages[1] closed.wav: skipped" in trace and "messages[2] night.wav: skipped" in trace
    else:   # the session crossed midnight in São Paulo: "tomorrow" is today now
        assert call.played() == [lab.media("closed.wav")]
    assert [a for a, _ in call.engine_apps()][:2] == ["answer", "playback"]
    assert rec["outcome"] == "answered"


def test_ring_timeout_then_next_phone(lab):
    call = lab.call("551140040002")
    rec = lab.finished(call)
    legs = call.legs()
    assert [leg.destination for leg in legs] == ["5511900000002", "5511900000001"]
    # the first phone rang for ring_seconds by the switch's clock, then was cancelled
    assert abs(legs[0].ring_seconds - 5) <= 1, legs[0]
    assert legs[0].answered is None
    assert legs[1].answered is not None and abs(legs[1].ring_seconds - 2) <= 1
    assert [a["result"] for a in rec["attempts"]] == ["no_answer", "answered"]
    assert rec["outcome"] == "answered"
    # a pure forward: no message of ours, so the engine never answered the call itself
    assert "answer" not in [a for a, _ in call.engine_apps()]


def test_failover_no_answer_busy_unreachable_to_voicemail(lab):
    before = len(lab.smtp.envelopes)
    # The caller's leg "talks" (a tone) for 5 s from the answer, then hangs up: about
    # 1 s of greeting and beep, then about 4 s of voicemail.
    call = lab.call("551140040003", app="&playback(tone_stream://%(5000,0,350))")
    rec = lab.finished(call)
    assert [leg.destination for leg in call.legs()] == ["5511900000002", "5511900000003", "5511900000004"]
    assert [a["result"] for a in rec["attempts"]] == ["no_answer", "busy", "failed"]
    assert [leg.cause for leg in call.legs()][1:] == ["USER_BUSY", "NO_ROUTE_DESTINATION"]
    assert call.played()[0] == lab.media("vm.wav")          # the greeting, then the beep
    assert rec["outcome"] == "voicemail"
    # the file holds what the caller said, from the record's start to the hang-up
    recorded = wav_seconds(rec["voicemail"])
    assert recorded >= 3.0 and abs(recorded - call.seconds_between("record")) <= 0.5
    (msg,) = lab.smtp.wait_for(before + 1, timeout=30)[before:]
    assert msg["To"] == "ops@example.com"
    (part,) = [p for p in msg.iter_attachments()]
    assert part.get_content_type() in ("audio/wav", "audio/x-wav")
    assert part.get_content() == Path(rec["voicemail"]).read_bytes()


@pytest.mark.parametrize("did, reason, cause", [
    ("551140040015", "no_answer", None),
    ("551140040016", "busy", "USER_BUSY"),
    ("551140040017", "failed", "NO_ROUTE_DESTINATION"),
])
def test_each_failover_reason_alone_leads_to_voicemail(lab, did, reason, cause):
    call = lab.call(did, app="&playback(tone_stream://%(3000,0,350))")
    rec = lab.finished(call)
    (leg,) = call.legs()
    assert [a["result"] for a in rec["attempts"]] == [reason]
    if cause is not None:
        assert leg.cause == cause
    else:                    # rang for its 5 s by the switch's clock, never answered
        assert leg.answered is None and abs(leg.ring_seconds - 5) <= 1, leg
    assert rec["outcome"] == "voicemail" and wav_seconds(rec["voicemail"]) >= 1.0


def test_simultaneous_ring_first_answer_wins(lab):
    call = lab.call("551140040004")
    rec = lab.finished(call)
    legs = {leg.destination: leg for leg in call.legs()}
    assert set(legs) == {"5511900000006", "5511900000007"}
    # both rang at the same moment; the quick one answered, the slow one was cancelled
    assert abs(legs["5511900000006"].created - legs["5511900000007"].created) < 0.5
    assert legs["5511900000006"].answered is not None
    assert legs["5511900000007"].answered is None
    assert legs["5511900000007"].hungup < legs["5511900000006"].answered + 1
    assert legs["5511900000007"].cause in ("LOSE_RACE", "ORIGINATOR_CANCEL")
    assert rec["outcome"] == "answered" and rec["attempts"][0]["result"] == "answered"


def test_recording_holds_the_conversation_only(lab):
    call = lab.call("551140040005")
    rec = lab.finished(call)
    (leg,) = call.legs()
    talk = leg.hungup - leg.answered               # 5 s of tone after 2 s of ringing
    assert rec["recording"] and Path(rec["recording"]).is_relative_to(lab.engine.recordings_dir)
    seconds = wav_seconds(rec["recording"])
    assert abs(seconds - talk) <= 1.0, (seconds, talk)   # no ringing in the file


def test_hangup_rule_cause_reaches_the_caller(lab):
    call = lab.call("551140040006")
    rec = lab.finished(call)
    assert call.caller_hangup() == ("CALL_REJECTED", 21)
    assert call.played() == [lab.media("closed.wav")]
    assert rec["outcome"] == "hangup" and rec["hangup_cause"] == "CALL_REJECTED"
    assert call.legs() == []


def test_routing_by_caller_number(lab):
    rio = lab.call("551140040007", caller="5521977776666")
    sp = lab.call("551140040007", caller="5511977776666")
    rec_rio, rec_sp = lab.finished(rio), lab.finished(sp)
    assert [leg.destination for leg in rio.legs()] == ["5511900000008"]
    assert rec_rio["outcome"] == "answered"
    assert sp.legs() == [] and sp.caller_hangup() == ("USER_BUSY", 17)
    assert rec_sp["outcome"] == "hangup"


def test_caller_hangs_up_during_a_message(lab):
    call = lab.call("551140040008")
    call.wait_app("playback")
    call.hang_up()
    rec = lab.finished(call)
    assert rec["attempts"] == [] and call.legs() == []
    assert rec["outcome"] == "missed"
    done = call.wait_completion("playback")
    assert done.get("Application-Response") == "PLAYBACK ERROR"   # cut, as transcript 04b


def test_caller_hangs_up_while_a_forward_rings(lab):
    call = lab.call("551140040009")
    call.wait_app("bridge")
    call.events.wait(lambda e: e.get("Event-Name") == "CHANNEL_PROGRESS"
                     and e.get("Caller-Destination-Number") == "5511900000002", 10, "ringing")
    call.hang_up()
    rec = lab.finished(call)
    # one attempt, the phone that rang; the next phone was never dialled
    assert [leg.destination for leg in call.legs()] == ["5511900000002"]
    assert [(a["to"], a["result"]) for a in rec["attempts"]] == [(["+5511900000002"], "caller_gone")]
    assert rec["outcome"] == "missed"
    assert [a for a, _ in call.engine_apps()].count("bridge") == 1


def test_caller_hangs_up_during_voicemail_kept_when_long_enough(lab):
    before = len(lab.smtp.envelopes)
    # 0.5 s of beep, then the caller talks about 2.5 s and hangs up (min_seconds 1)
    call = lab.call("551140040014", app="&playback(tone_stream://%(3000,0,350))")
    rec = lab.finished(call)
    assert rec["outcome"] == "voicemail"
    recorded = wav_seconds(rec["voicemail"])
    assert recorded >= 1.5 and abs(recorded - call.seconds_between("record")) <= 0.5
    (msg,) = lab.smtp.wait_for(before + 1, timeout=30)[before:]
    assert rec["uuid"] in msg.as_string() or msg["To"] == "ops@example.com"


def test_voicemail_shorter_than_min_seconds_is_dropped(lab):
    before = len(lab.smtp.envelopes)
    # about 2 s of voicemail where 5 are the minimum
    call = lab.call("551140040010", app="&playback(tone_stream://%(2500,0,350))")
    rec = lab.finished(call)
    assert rec["outcome"] == "missed" and rec["voicemail"] is None
    assert any(l.get("msg") == "voicemail too short; dropped" and l.get("uuid") == rec["uuid"]
               for l in lab.engine.log_lines())
    assert len(lab.smtp.envelopes) == before


def test_sip_address_forward(lab):
    call = lab.call("551140040013")
    rec = lab.finished(call)
    assert [leg.destination for leg in call.legs()] == ["sip_ana@pbx.example.com"]
    assert rec["attempts"][0]["result"] == "answered"


def test_unknown_number_is_refused_with_unallocated(lab):
    call = lab.call("551140049999")
    rec = lab.finished(call)
    assert call.caller_hangup() == ("UNALLOCATED_NUMBER", 1)
    assert rec["outcome"] == "refused"


def test_controlled_channel_vanishes_between_commands(lab):
    # The switch drops the channel itself (uuid_kill of the leg the engine controls)
    # while a message plays: the engine must log it and record what happened.
    call = lab.call("551140040008")
    call.wait_app("playback")
    reply = lab.client.api(f"uuid_kill {call.controlled_uuid} DESTINATION_OUT_OF_ORDER")
    assert reply.startswith("+OK"), reply
    rec = lab.finished(call)
    assert rec["attempts"] == [] and rec["outcome"] == "missed"
    assert rec["hangup_cause"] == "DESTINATION_OUT_OF_ORDER"
    assert any(l.get("uuid") == rec["uuid"] and "caller gone" in l.get("msg", "")
               for l in lab.engine.log_lines())


def test_rules_push_changes_the_next_call(lab, tmp_path):
    first = lab.call("551140040011")
    lab.finished(first)
    assert first.caller_hangup() == ("CALL_REJECTED", 21)
    changed = tmp_path / "rules.yaml"
    changed.write_text(lab.rules_file.read_text().replace(
        '"+55 11 4004-0011":     # changed by a push during the session\n    hangup:\n'
        '      - {cause: CALL_REJECTED}',
        '"+55 11 4004-0011":\n    hangup:\n      - {cause: NUMBER_CHANGED}'))
    assert changed.read_text() != lab.rules_file.read_text()
    updates = len(_updates(lab, "+551140040011"))
    lab.push(changed)
    wait_until(lambda: len(_updates(lab, "+551140040011")) > updates, "the engine applying the push")
    second = lab.call("551140040011")
    lab.finished(second)
    assert second.caller_hangup() == ("NUMBER_CHANGED", 22)
