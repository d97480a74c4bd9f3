"""What a call gets, on docs/design.md's own example."""
from datetime import datetime, timezone
from zoneinfo import ZoneInfo

import pytest

from rules.loader import load_mapping
from rules.plan import ANONYMOUS, ForwardAttempt, VoicemailPlan
from rules.planner import plan_call

SP = ZoneInfo("America/Sao_Paulo")
OFFICE = ForwardAttempt(to=("+5511999990000",), ring_seconds=20, record=True)
TOGETHER = ForwardAttempt(to=("sip:ana@pbx.example.com", "+5521988880000"), ring_seconds=15)
RIO = ForwardAttempt(to=("+5521977770000",), ring_seconds=25)
VM = VoicemailPlan(email=("ops@example.com",), greeting="vm.wav", max_seconds=120, min_seconds=2)


def test_weekday_morning_from_rio(design_rules):
    plan = plan_call(design_rules, "+551140040000", "21988887777",
                     datetime(2026, 11, 27, 10, 0, tzinfo=SP))
    assert plan.known and plan.caller == "+5521988887777"
    assert plan.start == ("welcome.wav",)
    assert plan.hangup is None
    assert plan.forward == (OFFICE, TOGETHER, RIO)
    assert plan.voicemail is None
    assert plan.end == ("thanks.wav",)
    assert plan.trace[1] == "messages[1] closed.wav: skipped: fri is not in [sat, sun, holiday]"


def test_lunch_break_from_sao_paulo(design_rules):
    plan = plan_call(design_rules, "1140040000", "+551188887777",
                     datetime(2026, 11, 27, 15, 30, tzinfo=timezone.utc))  # 12:30 local
    assert plan.forward == (TOGETHER,)
    assert ("forwarding[0] +5511999990000: skipped: outside hours 08:00-12:00,13:00-18:00 "
            "America/Sao_Paulo") in plan.trace
    assert "forwarding[2] +5521977770000: skipped: caller +551188887777 not in [+5521*]" in plan.trace


def test_christmas_gets_closed_message_and_voicemail(design_rules):
    plan = plan_call(design_rules, "+551140040000", None, datetime(2026, 12, 25, 10, 0, tzinfo=SP))
    assert plan.caller == ANONYMOUS
    assert plan.start == ("closed.wav",)
    assert plan.forward == (TOGETHER,)
    assert plan.voicemail == VM
    assert ("messages[0] welcome.wav: skipped: 2026-12-25 is holiday (Christmas Day), "
            "not in [mon-fri]") in plan.trace


def test_sunday_night_hangup_stops_forwards_and_voicemail(design_rules):
    plan = plan_call(design_rules, "+551140040000", "+5521988887777",
                     datetime(2026, 11, 29, 3, 0, tzinfo=SP))
    assert plan.start == ("closed.wav",)
    assert plan.hangup == "CALL_REJECTED"
    assert plan.forward == () and plan.voicemail is None
    assert plan.end == ("thanks.wav",)
    assert "forwarding[2] +5521977770000: skipped: hangup[0] holds" in plan.trace
    assert len(plan.trace) == 8  # one line per configured entry


def test_unknown_number(design_rules):
    plan = plan_call(design_rules, "(11) 3333-0000", "anonymous", datetime(2026, 11, 27, 13, 0, tzinfo=timezone.utc))
    assert not plan.known
    assert plan.hangup == "UNALLOCATED_NUMBER"
    assert plan.number == "+551133330000"
    assert plan.local_time.isoformat() == "2026-11-27T10:00:00-03:00"
    assert plan.trace == ("+551133330000: unknown number, refused with UNALLOCATED_NUMBER",)
    assert plan.to_json()["forward"] == []


def test_first_holding_voicemail_only():
    rs = load_mapping({"numbers": {"+551140040000": {"voicemail": [
        {"email": "a@example.com", "schedule": {"callers": ["+5521*"]}},
        {"email": "b@example.com"}, {"email": "c@example.com"}]}}})
    plan = plan_call(rs, "+551140040000", "+5511988887777", datetime(2026, 1, 1, tzinfo=timezone.utc))
    assert plan.voicemail.email == ("b@example.com",)
    assert plan.trace[-1] == "voicemail[2] c@example.com: skipped: voicemail[1] already holds"
    assert plan.needs_media


def test_pure_forward_does_not_need_media():
    rs = load_mapping({"numbers": {"+551140040000": {"forwarding": [{"to": "+5511999990000"}]}}})
    plan = plan_call(rs, "+551140040000", None, datetime(2026, 1, 1, tzinfo=timezone.utc))
    assert plan.forward and not plan.needs_media


def test_naive_datetime_is_refused(design_rules):
    with pytest.raises(ValueError):
        plan_call(design_rules, "+551140040000", None, datetime(2026, 1, 1))


def test_plan_json_keys(design_rules):
    plan = plan_call(design_rules, "+551140040000", None, datetime(2026, 11, 27, 10, tzinfo=SP))
    assert list(plan.to_json()) == ["number", "caller", "local_time", "start", "hangup",
                                    "forward", "voicemail", "end", "trace"]
