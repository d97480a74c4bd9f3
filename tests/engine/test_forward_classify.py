"""Bridge results are classified from the real FreeSWITCH completions of the transcripts
(README, "Bridge outcomes"), parsed by the engine's own protocol adapter."""
from __future__ import annotations

import pytest

from engine.esl import Message
from engine.outcomes import Outcome
from engine.steps.forward import classify
from tests.fsim.wire import load_raw_transcript


def bridge_completions(name: str) -> list[Message]:
    out = []
    for direction, _, data in load_raw_transcript(name):
        if direction != "<<<" or b"Event-Name: CHANNEL_EXECUTE_COMPLETE" not in data:
            continue
        head, _, body = data.partition(b"\n\n")
        msg = Message.from_event_plain(body)
        if msg.get("Application") == "bridge":
            out.append(msg)
    return out


def test_transcript_02_failover_sequence():
    # leg_timeout no answer, originate_timeout no answer, busy, answered (README table)
    results = [classify(m) for m in bridge_completions("02")]
    assert results == [Outcome.NO_ANSWER, Outcome.NO_ANSWER, Outcome.BUSY, Outcome.ANSWERED]


def test_stale_originate_failed_cause_after_success_is_ignored():
    answered = bridge_completions("02")[-1]
    assert answered.get("variable_originate_failed_cause") == "USER_BUSY"   # stale
    assert classify(answered) is Outcome.ANSWERED


def test_unknown_endpoint_is_a_failure():
    results = [classify(m) for m in bridge_completions("06")]
    assert Outcome.FAILED in results


def test_caller_killed_while_ringing_is_caller_gone():
    assert [classify(m) for m in bridge_completions("05")] == [Outcome.CALLER_GONE]


def test_busy_without_continue_on_fail():
    assert [classify(m) for m in bridge_completions("06b")] == [Outcome.BUSY]


@pytest.mark.parametrize("disposition,dialstatus,expected", [
    ("", "", Outcome.FAILED),                       # cleared and never set: not a success
    ("CALL_REJECTED", "CALL_REJECTED", Outcome.FAILED),
    ("NO_ROUTE_DESTINATION", "NO_ROUTE_DESTINATION", Outcome.FAILED),
    ("ALLOTTED_TIMEOUT", "ALLOTTED_TIMEOUT", Outcome.NO_ANSWER),
])
def test_other_dispositions(disposition, dialstatus, expected):
    class Fake(dict):
        get = dict.get
    assert classify(Fake({"variable_originate_disposition": disposition,
                          "variable_DIALSTATUS": dialstatus})) is expected


def test_a_caller_gone_before_the_bridge_records_no_attempt():
    # The caller hangs up between two attempts (the hang-up lands while the next
    # attempt's multiset is on its way): the next phone never rang, so the call record
    # must not list it (seen on FreeSWITCH 1.11.1 from outside: issue "Real FreeSWITCH").
    import logging
    from types import SimpleNamespace

    from engine.dialstring import DialTemplates
    from engine.records import CallRecord
    from engine.steps import forward
    from rules.errors import CallerGone
    from rules.plan import ForwardAttempt

    sent = []

    class GoneCall:
        def on_event(self, callback):
            return lambda: None

        def multiset(self, assignments):
            sent.append("multiset")
            raise CallerGone("caller hung up (NORMAL_CLEARING)")

        def bridge(self, arg, ring_seconds):  # pragma: no cover - must not be reached
            sent.append("bridge")

    class Log:
        def info(self, msg, fields=None):
            logging.getLogger("test").info(msg)

    record = CallRecord(uuid="u", number="+551140040001", caller="+5521988887777")
    ctx = SimpleNamespace(call=GoneCall(), log=Log(), record=record,
                          services=SimpleNamespace(templates=DialTemplates()))
    with pytest.raises(CallerGone):
        forward.run(ctx, ForwardAttempt(to=("+5511900000001",), ring_seconds=10), 1)
    assert sent == ["multiset"] and record.attempts == []
