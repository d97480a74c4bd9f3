"""The week view (rules/week.py): ranges that tile seven local days, computed from the
schedules' boundaries, each equal to what plan_call gives anywhere inside it."""
from __future__ import annotations

from datetime import date, datetime, timedelta, timezone
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given, settings, strategies as st

from rules.loader import load_file, load_text
from rules.planner import plan_call
from rules.week import Week, range_plan, week
from tests.engine.commands.conftest import ROOT

SP = ZoneInfo("America/Sao_Paulo")
NY = ZoneInfo("America/New_York")
N = "+551140040000"

# Windows chosen to meet DST changes: 02:30-04:00 starts in New York's spring gap,
# 01:15-01:45 lies in its repeated autumn hour, 23:30-00:30 crosses Sao Paulo's old
# midnight changes (2018-11-04 skipped 00:00-01:00, 2019-02-16 repeated 23:00-24:00).
DST_RULES = """
defaults: {timezone: America/Sao_Paulo, region: BR}
numbers:
  "+1 212 555 0100":
    timezone: America/New_York
    messages:
      - {audio: early.wav, schedule: {hours: ["02:30-04:00"]}}
      - {audio: twice.wav, schedule: {hours: ["01:15-01:45"]}}
      - {audio: night.wav, schedule: {days: sat, hours: ["22:00-02:00"]}}
    forwarding:
      - {to: "+12125550199", ring_seconds: 20, schedule: {days: mon-fri, hours: ["09:00-17:00"]}}
  "+55 11 4004-1111":
    messages:
      - {audio: late.wav, schedule: {hours: ["23:30-00:30"]}}
    forwarding:
      - {to: "+5511999990000", ring_seconds: 20, schedule: {days: mon-fri, hours: ["08:00-18:00"]}}
"""
US, BR = "+12125550100", "+551140041111"


@pytest.fixture(scope="module")
def dst_rules():
    return load_text(DST_RULES)


@pytest.fixture(scope="module")
def example():
    return load_file(ROOT / "examples" / "rules.yaml")


def _midnight(d: date, tz: ZoneInfo) -> datetime:
    """The first instant of local date d (by search over minutes: independent of week.py)."""
    t = datetime(d.year, d.month, d.day, tzinfo=timezone.utc) - timedelta(hours=15)
    while t.astimezone(tz).date() < d:
        t += timedelta(minutes=1)
    return t


def _is_midnight(t: datetime, tz: ZoneInfo) -> bool:
    before = (t - timedelta(seconds=1)).astimezone(tz)
    local = t.astimezone(tz)
    return (local.hour, local.minute, local.second) == (0, 0, 0) or before.date() != local.date()


def u(t: datetime) -> datetime:
    """In UTC: Python compares and subtracts datetimes of one zone by their wall clocks."""
    return t.astimezone(timezone.utc)


def check_week(w: Week, tz: ZoneInfo, first: date) -> None:
    """Tiling, one local day per range, cuts only at plan changes or midnights."""
    rs = w.ranges
    assert u(rs[0].start) == _midnight(first, tz)
    assert u(rs[-1].end) == _midnight(first + timedelta(days=7), tz)
    for a, b in zip(rs, rs[1:]):
        assert u(a.end) == u(b.start)
        assert a.end.isoformat() == b.start.isoformat()
        assert a.plan != b.plan or _is_midnight(u(b.start), tz), (a, b)
    for r in rs:
        assert u(r.start) < u(r.end)
        assert r.start.tzinfo is not None and r.start.isoformat()[-6] in "+-"
        assert r.start.date() == (u(r.end) - timedelta(microseconds=1)).astimezone(tz).date()
        assert "trace" not in r.plan and "local_time" not in r.plan
    days = {r.start.astimezone(tz).date() for r in rs}
    assert days == {first + timedelta(days=k) for k in range(7)}


def spans(w: Week, day: date) -> list[tuple[str, str]]:
    return [(f"{r.start:%H:%M}", f"{r.end:%H:%M}") for r in w.ranges if r.start.date() == day]


def test_an_ordinary_week(design_rules):
    first = date(2026, 11, 23)
    w = week(design_rules, "(11) 4004-0000", None, first)
    check_week(w, SP, first)
    assert w.number == N and w.to_json()["from"] == "2026-11-23"
    assert spans(w, date(2026, 11, 23)) == [("00:00", "08:00"), ("08:00", "12:00"),
                                            ("12:00", "13:00"), ("13:00", "18:00"),
                                            ("18:00", "00:00")]
    # Saturday: one range; Sunday: the hang-up until 06:00.
    assert spans(w, date(2026, 11, 28)) == [("00:00", "00:00")]
    sunday = [r for r in w.ranges if r.start.date() == date(2026, 11, 29)]
    assert [r.plan["hangup"] for r in sunday] == ["CALL_REJECTED", None]
    assert f"{sunday[0].end:%H:%M}" == "06:00"
    assert list(w.to_json()) == ["number", "from", "ranges"]
    assert list(w.to_json()["ranges"][0]) == ["start", "end", "plan"]
    assert list(w.ranges[0].plan) == ["number", "caller", "start", "hangup", "forward",
                                      "voicemail", "end"]


def test_midnight_always_cuts_even_when_the_plan_stays(design_rules):
    w = week(design_rules, N, None, date(2026, 11, 28))       # Sat, Sun
    sat = [r for r in w.ranges if r.start.date() == date(2026, 11, 28)]
    sun = [r for r in w.ranges if r.start.date() == date(2026, 11, 29)]
    assert len(sat) == 1 and u(sat[0].end) == u(sun[0].start)
    assert f"{sat[0].end:%H:%M}" == "00:00"


def test_holiday_and_extra_holiday(design_rules):
    first = date(2026, 12, 21)
    w = week(design_rules, N, None, first)
    check_week(w, SP, first)
    for day in (date(2026, 12, 24), date(2026, 12, 25)):     # extra date, Christmas (Thu, Fri)
        (r,) = [r for r in w.ranges if r.start.date() == day]
        assert r.plan["start"] == ["closed.wav"] and r.plan["forward"][0]["ring_seconds"] == 15
        assert r.plan["voicemail"]["email"] == ["ops@example.com"]
    assert len(spans(w, date(2026, 12, 23))) == 5             # an ordinary Wednesday


def test_window_past_midnight(example):
    first = date(2026, 11, 23)
    w = week(example, "0800 123 4567", "+5511988887777", first)
    check_week(w, SP, first)
    night = [r for r in w.ranges
             if [a["to"] for a in r.plan["forward"]] == [["+5511988881111"]]]
    assert [(r.start.isoformat(), r.end.isoformat()) for r in night] == [
        ("2026-11-27T22:00:00-03:00", "2026-11-28T00:00:00-03:00"),
        ("2026-11-28T00:00:00-03:00", "2026-11-28T06:00:00-03:00")]
    # The messages' dates (2026-12-20..26) change the plan only at a midnight.
    w = week(example, "0800 123 4567", "+5511988887777", date(2026, 12, 17))
    change = [b for a, b in zip(w.ranges, w.ranges[1:])
              if a.plan["start"] != b.plan["start"]]
    assert [r.start.isoformat() for r in change] == ["2026-12-20T00:00:00-03:00"]


def test_caller_dependent_entries(design_rules):
    first = date(2026, 11, 23)
    rio = week(design_rules, N, "21988887777", first)
    anon = week(design_rules, N, None, first)
    check_week(rio, SP, first)
    assert [(r.start.isoformat(), r.end.isoformat()) for r in rio.ranges] == [
        (r.start.isoformat(), r.end.isoformat()) for r in anon.ranges]
    rio_to = {tuple(a["to"]) for r in rio.ranges for a in r.plan["forward"]}
    anon_to = {tuple(a["to"]) for r in anon.ranges for a in r.plan["forward"]}
    assert ("+5521977770000",) in rio_to and ("+5521977770000",) not in anon_to
    assert {r.plan["caller"] for r in rio.ranges} == {"+5521988887777"}


def test_new_york_spring_forward(dst_rules):
    first = date(2026, 3, 8)                                  # a Sunday: 02:00 -> 03:00
    w = week(dst_rules, US, None, first)
    check_week(w, NY, first)
    sunday = [r for r in w.ranges if r.start.date() == first]
    assert u(sunday[-1].end) - u(sunday[0].start) == timedelta(hours=23)
    early = [r for r in sunday if "early.wav" in r.plan["start"]]
    # 02:30 does not exist that night: the window begins at the gap's end.
    assert [(r.start.isoformat(), r.end.isoformat()) for r in early] == [
        ("2026-03-08T03:00:00-04:00", "2026-03-08T04:00:00-04:00")]


def test_new_york_fall_back(dst_rules):
    first = date(2026, 10, 26)                                # the week ending Sun 1 Nov
    w = week(dst_rules, US, None, first)
    check_week(w, NY, first)
    sunday = [r for r in w.ranges if r.start.date() == date(2026, 11, 1)]
    assert u(sunday[-1].end) - u(sunday[0].start) == timedelta(hours=25)
    twice = [(r.start.isoformat(), r.end.isoformat()) for r in sunday
             if "twice.wav" in r.plan["start"]]
    assert twice == [("2026-11-01T01:15:00-04:00", "2026-11-01T01:45:00-04:00"),
                     ("2026-11-01T01:15:00-05:00", "2026-11-01T01:45:00-05:00")]
    # Saturday night's window runs past midnight into the 25-hour Sunday.
    night = [r for r in w.ranges if "night.wav" in r.plan["start"]]
    assert night[0].start.isoformat() == "2026-10-31T22:00:00-04:00"
    assert night[-1].end.isoformat() == "2026-11-01T02:00:00-05:00"


@pytest.mark.parametrize("first", [date(2018, 11, 1), date(2019, 2, 13)])
def test_sao_paulo_historic_midnight_changes(dst_rules, first):
    w = week(dst_rules, BR, None, first)
    check_week(w, SP, first)
    if first.month == 11:
        # 2018-11-04 began at 01:00 -02:00 (00:00-01:00 never happened): late.wav stops
        # at that midnight, and its tail (before 00:30) does not happen that night.
        i = [r.start.isoformat() for r in w.ranges].index("2018-11-04T01:00:00-02:00")
        before, r = w.ranges[i - 1], w.ranges[i]
        assert before.start.isoformat() == "2018-11-03T23:30:00-03:00"
        assert before.plan["start"] == ["late.wav"] and r.plan["start"] == []
        assert r.end.isoformat() == "2018-11-04T23:30:00-02:00"
    else:
        # 2019-02-16 had 23:00-24:00 twice (00:00 -02:00 became 23:00 -03:00): late.wav
        # holds from 23:30 in both, and past the one midnight until 00:30.
        late = [(r.start.isoformat(), r.end.isoformat()) for r in w.ranges
                if date(2019, 2, 16) <= r.start.date() <= date(2019, 2, 17)
                and r.plan["start"] == ["late.wav"]][1:-1]
        assert late == [("2019-02-16T23:30:00-02:00", "2019-02-16T23:00:00-03:00"),
                        ("2019-02-16T23:30:00-03:00", "2019-02-17T00:00:00-03:00"),
                        ("2019-02-17T00:00:00-03:00", "2019-02-17T00:30:00-03:00")]


def test_unknown_number_is_refused_all_week(design_rules):
    w = week(design_rules, "+5511333300000", None, date(2026, 11, 23))
    assert len(w.ranges) == 7 and w.number == "+5511333300000"
    assert {r.plan["hangup"] for r in w.ranges} == {"UNALLOCATED_NUMBER"}


def test_dates_out_of_range(design_rules):
    with pytest.raises(ValueError, match="outside the supported dates"):
        week(design_rules, N, None, date(1, 1, 1))


# The property: any instant inside a range gets that range's plan.
CASES = [("design", N, None, date(2026, 11, 23)), ("design", N, "21988887777", date(2026, 12, 21)),
         ("example", "0800 123 4567", "+5511988887777", date(2026, 11, 25)),
         ("example", "(92) 3232-0000", None, date(2026, 10, 10)),
         ("dst", US, None, date(2026, 3, 5)), ("dst", US, None, date(2026, 10, 29)),
         ("dst", BR, None, date(2018, 11, 1)), ("dst", BR, None, date(2019, 2, 14))]


@pytest.fixture(scope="module")
def weeks(dst_rules, example):
    design = load_text((ROOT / "docs" / "design.md").read_text().split("```yaml\n", 1)[1]
                       .split("```", 1)[0])
    sets = {"design": design, "example": example, "dst": dst_rules}
    return [(sets[k], num, caller, week(sets[k], num, caller, first))
            for k, num, caller, first in CASES]


@settings(max_examples=300, deadline=None)
@given(case=st.integers(0, len(CASES) - 1), pick=st.floats(0, 1), where=st.floats(0, 1))
def test_any_instant_in_a_range_gets_its_plan(weeks, case, pick, where):
    rules, num, caller, w = weeks[case]
    r = w.ranges[min(int(pick * len(w.ranges)), len(w.ranges) - 1)]
    span = (u(r.end) - u(r.start)).total_seconds()
    at = u(r.start) + timedelta(seconds=min(span * where, span - 1e-6))
    assert u(r.start) <= at < u(r.end)
    assert range_plan(plan_call(rules, num, caller, at)) == r.plan


def test_range_edges_get_their_plan(weeks):
    for rules, num, caller, w in weeks:
        for r in w.ranges:
            assert range_plan(plan_call(rules, num, caller, r.start)) == r.plan
            last = u(r.end) - timedelta(microseconds=1)
            assert range_plan(plan_call(rules, num, caller, last)) == r.plan
