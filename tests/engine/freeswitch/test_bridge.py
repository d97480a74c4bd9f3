"""engine.freeswitch.bridge: bridge results are classified from the real FreeSWITCH completions of the transcripts
(README, "Bridge outcomes"), parsed by the engine's own protocol adapter."""
from __future__ import annotations

import logging
from types import SimpleNamespace

import pytest

from engine.esl import Message
from engine.freeswitch.bridge import dial
from engine.freeswitch.dialstring import DialTemplates
from engine.logs import call_logger
from engine.records import CallRecord
from engine.steps import forward
from rules.errors import CallerGone
from rules.plan import ForwardAttempt
from engine.outcomes import Outcome
from engine.freeswitch.bridge import classify
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


class GoneBeforeBridge:
    """A FreeSwitchCall whose caller hangs up while the attempt's multiset is on its way."""

    templates = DialTemplates()
    max_call_seconds = 3600
    log = logging.getLogger("test")

    def __init__(self):
        self.sent = []

    def on_event(self, callback):
        return lambda: None

    def execute(self, app, arg=None, timeout=None):
        self.sent.append(app)
        raise CallerGone("caller hung up (NORMAL_CLEARING)")


def test_a_caller_gone_before_the_bridge_was_not_dialled():
    # The caller hangs up between two attempts: the next phone never rang, so the
    # attempt is not one (seen on FreeSWITCH 1.11.1 from outside: issue "Real FreeSWITCH").
    call = GoneBeforeBridge()
    result = dial(call, ForwardAttempt(to=("+5511900000001",), ring_seconds=10), None)
    assert call.sent == ["multiset"]
    assert result.dialled is False and result.outcome is Outcome.CALLER_GONE


def test_the_forward_step_reports_no_attempt_for_an_undialled_one(tmp_path):
    call = GoneBeforeBridge()
    record = CallRecord(uuid="u", number="+551140040001", caller="+5521988887777")
    ctx = SimpleNamespace(call=SimpleNamespace(dial=lambda a, p: dial(call, a, p)),
                          log=call_logger("u"), record=record,
                          services=SimpleNamespace(recordings_dir=tmp_path))
    result = forward.run(ctx, ForwardAttempt(to=("+5511900000001",), ring_seconds=10))
    assert result.outcome is Outcome.CALLER_GONE and result.attempt is None
    assert result.recording is None
