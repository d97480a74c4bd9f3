"""Every call feature, through a real Asterisk, as the caller and the operator see it.

Each test originates a call over AMI into the project's own dialplan
(dialplan/asterisk/extensions.conf, context ``callflow-in``), the engine (``callflow
serve`` with FastAGI, rules from Redis) drives it, and the assertions read the switch's
own AMI events (what the engine ran, which far ends rang and for how long by the
switch's clock, the cause the caller got), the files the switch wrote and the engine's
call record. No test sleeps before an assertion: each waits for the event it needs.
The numbers and far ends are the FreeSWITCH tier's (the same scenarios on both).
"""
from __future__ import annotations

from datetime import datetime
from pathlib import Path

import pytest

from tests.switch.freeswitch.lab import TZ, wait_until, wav_seconds

pytestmark = pytest.mark.slow

# Q.850 causes as Asterisk's Hangup events give them.
NORMAL_CLEARING, USER_BUSY, CALL_REJECTED, UNALLOCATED, NO_ROUTE = 16, 17, 21, 1, 3


def _updates(lab, number: str) -> list[dict]:
    return [l for l in lab.engine.log_lines() if l.get("msg") == "rules updated from Redis"
            and number in l.get("numbers_changed", [])]


def test_messages_at_start_and_end(ast_lab):
    lab = ast_lab
    call = lab.call("551140040001")
    rec = lab.finished(call)
    if datetime.now(TZ).date() == lab.now.date():
        # open (today) and bye (today, at the end); not closed (tomorrow) nor night
        assert call.played() == [lab.media("open.wav"), lab.media("bye.wav")]
        trace = " | ".join(rec["trace"])
        assert "messages[1] closed.wav: skipped" in trace and "messages[2] night.wav: skipped" in trace
    else:   # the session crossed midnight in São Paulo
        assert call.played() == [lab.media("closed.wav")]
    commands = call.commands()
    assert commands[0] == "ANSWER" and commands[1].startswith("STREAM FILE ")
    # the forward between the two messages, then the engine's own hang-up
    assert [leg.destination for leg in call.legs()] == ["5511900000008"]
    assert commands.index(next(c for c in commands if c.startswith("EXEC Dial"))) < \
        commands.index(f'STREAM FILE {lab.media("bye.wav")} ""')
    assert commands[-1] == "EXEC Hangup 16"
    assert call.hangup_cause() == NORMAL_CLEARING
    assert rec["outcome"] == "answered"


def test_ring_timeout_then_next_phone(ast_lab):
    lab = ast_lab
    call = lab.call("551140040002")
    rec = lab.finished(call)
    legs = call.legs()
    assert [leg.destination for leg in legs] == ["5511900000002", "5511900000001"]
    # the first phone rang for ring_seconds by the switch's clock, then was given up
    assert legs[0].status == "NOANSWER" and legs[0].answered is None
    assert abs(legs[0].ring_seconds - 5) <= 1, legs[0]
    # the next phone was dialled only after that, and answered after its 2 s of ringing
    assert legs[1].created >= legs[0].ended
    assert legs[1].answered is not None and abs(legs[1].ring_seconds - 2) <= 1, legs[1]
    assert [a["result"] for a in rec["attempts"]] == ["no_answer", "answered"]
    assert rec["outcome"] == "answered"
    # a pure forward: no message of ours, so the engine never answered the call itself;
    # the caller's channel went up when the second phone answered
    assert "ANSWER" not in call.commands()
    assert abs(call.caller_answered() - legs[1].answered) < 0.5


def test_failover_no_answer_busy_unreachable_to_voicemail(ast_lab):
    lab = ast_lab
    before = len(lab.smtp.envelopes)
    # The caller "talks" (a tone) for 5 s from the engine's answer, then hangs up:
    # 0.5 s of greeting and 0.25 s of beep, then about 4.2 s of voicemail.
    call = lab.call("551140040003", behaviour="talk5")
    rec = lab.finished(call)
    legs = call.legs()
    assert [leg.destination for leg in legs] == ["5511900000002", "5511900000003", "5511900000004"]
    assert [leg.status for leg in legs] == ["NOANSWER", "BUSY", "CHANUNAVAIL"]
    assert [a["result"] for a in rec["attempts"]] == ["no_answer", "busy", "failed"]
    # what each far end did, by its own channel's cause
    assert [leg.cause for leg in legs[1:]] == [USER_BUSY, NO_ROUTE]
    assert call.played()[0] == lab.media("vm.wav")          # the greeting, then the beep
    assert rec["outcome"] == "voicemail"
    # the file holds what the caller said, from the record's start to the hang-up
    recorded = wav_seconds(rec["voicemail"])
    assert recorded >= 3.0 and abs(recorded - call.seconds_from("RECORD FILE")) <= 0.5
    (msg,) = lab.smtp.wait_for(before + 1, timeout=30)[before:]
    assert msg["To"] == "ops@example.com"
    (part,) = [p for p in msg.iter_attachments()]
    assert part.get_content_type() in ("audio/wav", "audio/x-wav")
    assert part.get_content() == Path(rec["voicemail"]).read_bytes()


@pytest.mark.parametrize("did, reason, status, cause", [
    ("551140040015", "no_answer", "NOANSWER", None),
    ("551140040016", "busy", "BUSY", USER_BUSY),
    ("551140040017", "failed", "CHANUNAVAIL", NO_ROUTE),
])
def test_each_failover_reason_alone_leads_to_voicemail(ast_lab, did, reason, status, cause):
    lab = ast_lab
    call = lab.call(did, behaviour="talk3")
    rec = lab.finished(call)
    (leg,) = call.legs()
    assert leg.status == status
    assert [a["result"] for a in rec["attempts"]] == [reason]
    if cause is not None:
        assert leg.cause == cause
    else:                    # rang for its 5 s by the switch's clock, never answered
        assert leg.answered is None and abs(leg.ring_seconds - 5) <= 1, leg
    assert rec["outcome"] == "voicemail" and wav_seconds(rec["voicemail"]) >= 1.0


def test_simultaneous_ring_first_answer_wins(ast_lab):
    lab = ast_lab
    call = lab.call("551140040004")
    rec = lab.finished(call)
    legs = {leg.destination: leg for leg in call.legs()}
    assert set(legs) == {"5511900000006", "5511900000007"}
    # one Dial rang both at the same moment; the quick one answered, the slow one was
    # cancelled at that moment
    assert [c for c in call.commands() if c.startswith("EXEC Dial")] == [
        'EXEC Dial "Local/5511900000007@targets&Local/5511900000006@targets,10,g"']
    quick, slow = legs["5511900000006"], legs["5511900000007"]
    assert abs(quick.created - slow.created) < 0.5
    assert quick.answered is not None and abs(quick.ring_seconds - 1) <= 1
    assert slow.answered is None and slow.status != "ANSWER"
    assert slow.hungup < quick.answered + 1
    assert rec["outcome"] == "answered" and rec["attempts"][0]["result"] == "answered"


def test_recording_holds_the_conversation_only(ast_lab):
    lab = ast_lab
    call = lab.call("551140040005")
    rec = lab.finished(call)
    (leg,) = call.legs()
    talk = leg.hungup - leg.answered               # 5 s of tone after 2 s of ringing
    assert abs(talk - 5) <= 0.5, talk
    assert rec["recording"] and Path(rec["recording"]).is_relative_to(lab.engine.recordings_dir)
    seconds = wav_seconds(rec["recording"])
    assert abs(seconds - talk) <= 1.0, (seconds, talk)   # no ringing in the file
    commands = call.commands()
    assert commands[0].startswith("EXEC MixMonitor") and commands[0].endswith(',b"')
    assert "EXEC StopMixMonitor" in commands
    assert rec["attempts"][0]["result"] == "answered"


def test_hangup_rule_cause_reaches_the_caller(ast_lab):
    lab = ast_lab
    call = lab.call("551140040006")
    rec = lab.finished(call)
    assert call.hangup_cause() == CALL_REJECTED
    assert call.hangup_cause(call.uniqueid) == CALL_REJECTED
    assert call.played() == [lab.media("closed.wav")]
    assert call.commands()[-1] == "EXEC Hangup 21"
    assert rec["outcome"] == "hangup" and rec["hangup_cause"] == "CALL_REJECTED"
    assert call.legs() == []


def test_routing_by_caller_number(ast_lab):
    lab = ast_lab
    rio = lab.call("551140040007", caller="+5521977776666")
    sp = lab.call("551140040007", caller="+5511977776666")
    rec_rio, rec_sp = lab.finished(rio), lab.finished(sp)
    assert [leg.destination for leg in rio.legs()] == ["5511900000008"]
    assert rec_rio["outcome"] == "answered" and rec_rio["caller"] == "+5521977776666"
    assert sp.legs() == [] and sp.hangup_cause() == USER_BUSY
    assert rec_sp["outcome"] == "hangup" and rec_sp["caller"] == "+5511977776666"
    # refused before any answer: the caller was never answered (not billed)
    assert sp.caller_answered() is None


def test_caller_hangs_up_during_a_message(ast_lab):
    lab = ast_lab
    call = lab.call("551140040008")
    call.wait_command("STREAM FILE")
    call.hang_up()
    rec = lab.finished(call)
    assert rec["attempts"] == [] and call.legs() == []
    assert rec["outcome"] == "missed"
    # the 10 s message was cut: its command ended within a second or so of the hang-up
    (start,) = [e for e in call.events("AGIExecStart", call.uniqueid)
                if e["Command"].startswith("STREAM FILE")]
    (end,) = call.command_results("STREAM FILE")
    assert float(end["Timestamp"]) - float(start["Timestamp"]) < 5
    assert not any(c.startswith("EXEC Dial") for c in call.commands())


def test_caller_hangs_up_while_a_forward_rings(ast_lab):
    lab = ast_lab
    call = lab.call("551140040009")
    call.wait_command("EXEC Dial")
    lab.ami.wait(lambda e: e.get("Event") == "Newexten" and e.get("Application") == "Ringing"
                 and e.get("Channel", "").startswith("Local/5511900000002@targets")
                 and call.mine(e), 10, "the phone ringing")
    call.hang_up()
    rec = lab.finished(call)
    # one attempt, the phone that rang; the next phone was never dialled
    legs = call.legs()
    assert [leg.destination for leg in legs] == ["5511900000002"]
    assert legs[0].status == "CANCEL"
    assert [(a["to"], a["result"]) for a in rec["attempts"]] == [(["+5511900000002"], "caller_gone")]
    assert rec["outcome"] == "missed"
    assert [c for c in call.commands() if c.startswith("EXEC Dial")] == [
        'EXEC Dial "Local/5511900000002@targets,20,g"']


def test_caller_hangs_up_during_voicemail_kept_when_long_enough(ast_lab):
    lab = ast_lab
    before = len(lab.smtp.envelopes)
    # 0.25 s of beep, then the caller talks about 2.7 s and hangs up (min_seconds 1)
    call = lab.call("551140040014", behaviour="talk3")
    rec = lab.finished(call)
    assert rec["outcome"] == "voicemail"
    recorded = wav_seconds(rec["voicemail"])
    assert recorded >= 1.5 and abs(recorded - call.seconds_from("RECORD FILE")) <= 0.5
    (msg,) = lab.smtp.wait_for(before + 1, timeout=30)[before:]
    assert msg["To"] == "ops@example.com"
    (part,) = [p for p in msg.iter_attachments()]
    assert part.get_content() == Path(rec["voicemail"]).read_bytes()


def test_voicemail_shorter_than_min_seconds_is_dropped(ast_lab):
    lab = ast_lab
    before = len(lab.smtp.envelopes)
    # about 1.7 s of voicemail where 5 are the minimum
    call = lab.call("551140040010", behaviour="talk2")
    rec = lab.finished(call)
    assert rec["outcome"] == "missed" and rec["voicemail"] is None
    assert any(l.get("msg") == "voicemail too short; dropped" and l.get("uuid") == rec["uuid"]
               for l in lab.engine.log_lines())
    assert len(lab.smtp.envelopes) == before


def test_voicemail_ends_on_the_callers_silence(ast_lab):
    lab = ast_lab
    # The caller talks 2 s, then sends silent frames: RECORD FILE's s=3 (the engine's
    # silence_hits) ends the message 3 s into the silence, with the call still up; the
    # file keeps the talk and one second of the silence (seen on Asterisk 22.10.1).
    call = lab.call("551140040014", behaviour="talk2quiet")
    rec = lab.finished(call)
    (end,) = call.command_results("RECORD FILE")
    (start,) = [e for e in call.events("AGIExecStart", call.uniqueid)
                if e["Command"].startswith("RECORD FILE")]
    assert abs(float(end["Timestamp"]) - float(start["Timestamp"]) - 5) <= 0.5
    assert rec["outcome"] == "voicemail"
    assert abs(wav_seconds(rec["voicemail"]) - 3) <= 0.5
    # the engine, not the caller, ended the call after the message
    assert call.commands()[-1] == "EXEC Hangup 16"


def test_unknown_number_is_refused_with_unallocated(ast_lab):
    lab = ast_lab
    call = lab.call("551140049999")
    rec = lab.finished(call)
    assert call.hangup_cause() == UNALLOCATED
    assert rec["outcome"] == "refused"
    assert call.caller_answered() is None


def test_rules_push_changes_the_next_call(ast_lab, tmp_path):
    lab = ast_lab
    first = lab.call("551140040011")
    lab.finished(first)
    assert first.hangup_cause() == CALL_REJECTED
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
    assert second.hangup_cause() == 22                 # NUMBER_CHANGED
