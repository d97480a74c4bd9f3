"""engine.runner through the switch seam: a scripted SwitchCall stands in for the switch
(the same flows run end to end on tests/fsim and on a real FreeSWITCH elsewhere); what is
checked here is the runner's own job: the order of steps, what the record says, and
that the outcome is decided once from the plan and the record."""
from __future__ import annotations

import logging
from datetime import datetime, timezone
from types import SimpleNamespace

import pytest

from engine.context import Services
from engine.outcomes import CallOutcome, Outcome
from engine.records import Attempt, CallRecord
from engine.runner import outcome_of, run_call
from engine.switch import DialResult, PlayResult, RecordResult
from rules.errors import CallerGone
from rules.plan import ForwardAttempt, Plan, VoicemailPlan

NOW = datetime(2026, 12, 4, 12, 0, tzinfo=timezone.utc)
UUID = "0b6c2f1e-8d3a-4c55-9e21-6a7f0d4b3c2a"


class ScriptedCall:
    """A SwitchCall whose dial results come from a script; it logs what it was asked."""

    def __init__(self, dial_results=(), hang_up_on_play=False):
        self.uuid, self.called, self.caller, self.caller_name = UUID, "+551140040001", None, None
        self.answered = False
        self.accepted_at, self.first_command_at = 0.0, None
        self.log = logging.getLogger("test")
        self.did: list[tuple] = []
        self._dial = list(dial_results)
        self._gone = False
        self._hang_up_on_play = hang_up_on_play

    gone = property(lambda self: self._gone)
    hangup_cause = property(lambda self: "NORMAL_CLEARING" if self._gone else None)

    def start(self):
        self.did.append(("start",))

    def answer(self):
        self.answered = True
        self.did.append(("answer",))

    def play(self, path, seconds=None):
        self.did.append(("play", path.rsplit("/", 1)[-1]))
        if self._hang_up_on_play:
            self._gone = True
            raise CallerGone("caller hung up")
        return PlayResult(True)

    def beep(self):
        self.did.append(("beep",))

    def dial(self, attempt, record_path=None):
        self.did.append(("dial", attempt.to))
        result = self._dial.pop(0)
        if result.outcome is Outcome.CALLER_GONE:
            self._gone = True
        return result

    def record_message(self, path, max_seconds, silence_threshold, silence_hits):
        self.did.append(("record", max_seconds))
        return RecordResult(caller_hung_up=False, switch_seconds=None)

    def hangup(self, cause):
        self.did.append(("hangup", cause))

    def close(self):
        self.did.append(("close",))


def services(tmp_path, sink=None):
    return Services(media_dir=tmp_path, recordings_dir=tmp_path / "rec",
                    voicemail_dir=tmp_path / "vm", voicemail_sink=sink)


def plan(**kw) -> Plan:
    return Plan(number="+551140040001", caller="+5511988887777", local_time=NOW, **kw)


A1 = ForwardAttempt(("+5511900000001",), 10)
A2 = ForwardAttempt(("+5511900000002",), 10)


def test_failover_until_answered_then_end_messages_and_hangup(tmp_path):
    call = ScriptedCall([DialResult(Outcome.BUSY), DialResult(Outcome.ANSWERED)])
    record = run_call(call, services(tmp_path),
                      lambda *a: plan(forward=(A1, A2), end=("bye.wav",)))
    assert call.did == [("start",), ("dial", A1.to), ("dial", A2.to), ("answer",),
                        ("play", "bye.wav"), ("hangup", "NORMAL_CLEARING"), ("close",)]
    assert record.outcome == "answered"
    assert [(a.to, a.result) for a in record.attempts] == [(list(A1.to), "busy"),
                                                           (list(A2.to), "answered")]


def test_all_busy_hangs_up_busy_and_is_missed(tmp_path):
    call = ScriptedCall([DialResult(Outcome.BUSY)])
    record = run_call(call, services(tmp_path), lambda *a: plan(forward=(A1,)))
    assert call.did[-2:] == [("hangup", "USER_BUSY"), ("close",)]
    assert record.outcome == "missed" and record.hangup_cause == "USER_BUSY"


def test_a_caller_gone_while_ringing_rings_no_further_phone(tmp_path):
    call = ScriptedCall([DialResult(Outcome.CALLER_GONE)])
    record = run_call(call, services(tmp_path),
                      lambda *a: plan(forward=(A1, A2), end=("bye.wav",)))
    assert ("dial", A2.to) not in call.did and ("play", "bye.wav") not in call.did
    assert [a.result for a in record.attempts] == ["caller_gone"]
    assert record.outcome == "missed" and record.hangup_cause == "NORMAL_CLEARING"


def test_an_undialled_attempt_is_not_in_the_record(tmp_path):
    call = ScriptedCall([DialResult(Outcome.CALLER_GONE, dialled=False)])
    record = run_call(call, services(tmp_path), lambda *a: plan(forward=(A1, A2)))
    assert record.attempts == []


def test_a_hangup_entry_is_recorded_as_hangup_even_if_the_caller_leaves(tmp_path):
    call = ScriptedCall(hang_up_on_play=True)
    record = run_call(call, services(tmp_path),
                      lambda *a: plan(start=("hi.wav",), hangup="CALL_REJECTED"))
    assert record.outcome == "hangup" and ("hangup", "CALL_REJECTED") not in call.did


def test_voicemail_after_no_answer(tmp_path):
    import wave
    got = []
    sink = SimpleNamespace(submit=got.append)
    call = ScriptedCall([DialResult(Outcome.NO_ANSWER)])

    def record_message(path, max_seconds, *_):
        with wave.open(path, "wb") as w:          # what the switch writes: 3 s of audio
            w.setnchannels(1), w.setsampwidth(2), w.setframerate(8000)
            w.writeframes(b"\0\0" * 24000)
        return RecordResult(caller_hung_up=True)
    call.record_message = record_message
    vm = VoicemailPlan(email=("ops@example.com",), greeting=None, max_seconds=60, min_seconds=1)
    record = run_call(call, services(tmp_path, sink), lambda *a: plan(forward=(A1,), voicemail=vm))
    assert record.outcome == "voicemail" and record.voicemail == got[0].path
    assert got[0].seconds == 3.0


@pytest.mark.parametrize("kw, attempts, voicemail, expected", [
    ({"known": False}, [], None, CallOutcome.REFUSED),
    ({"hangup": "USER_BUSY"}, [], None, CallOutcome.HANGUP),
    ({}, ["busy", "answered"], None, CallOutcome.ANSWERED),
    ({}, ["no_answer"], "/vm/u.wav", CallOutcome.VOICEMAIL),
    ({}, ["no_answer", "caller_gone"], None, CallOutcome.MISSED),
    ({}, [], None, CallOutcome.MISSED),
])
def test_outcome_is_decided_from_plan_and_record(kw, attempts, voicemail, expected):
    record = CallRecord(uuid="u", number="+551140040001", caller="anonymous",
                        attempts=[Attempt(["+5511900000001"], r, 1.0) for r in attempts],
                        voicemail=voicemail)
    assert outcome_of(plan(**kw), record) is expected


@pytest.mark.parametrize("uuid", ["../../tmp/x", "", "0B6C2F1E-8D3A-4C55-9E21-6A7F0D4B3C2A",
                                  "{0b6c2f1e-8d3a-4c55-9e21-6a7f0d4b3c2a}",
                                  "0b6c2f1e-8d3a-4c55-9e21-6a7f0d4b3c2a\nx"])
def test_a_call_whose_uuid_is_not_canonical_is_handed_back_untouched(tmp_path, uuid, caplog):
    call = ScriptedCall()
    call.uuid = uuid
    planned = []
    assert run_call(call, services(tmp_path), lambda *a: planned.append(a)) is None
    assert call.did == [("start",), ("close",)] and planned == []
    assert "not a canonical UUID" in caplog.text
    assert list(tmp_path.rglob("*")) == []           # nothing was named after it
