"""Schedules as a user writes them, checked at instants a user would pick."""
from datetime import datetime, timezone
from zoneinfo import ZoneInfo

import pytest

from rules.errors import ConfigError
from rules.loader import load_mapping
from rules.planner import plan_call

SP = ZoneInfo("America/Sao_Paulo")
NY = ZoneInfo("America/New_York")


def ruleset(schedule, tz="America/Sao_Paulo", holidays=None):
    number = {"timezone": tz, "messages": [{"audio": "m.wav", "schedule": schedule}]}
    if holidays:
        number["holidays"] = holidays
    return load_mapping({"defaults": {"region": "BR"}, "numbers": {"+551140040000": number}})


def holds(rs, at, caller=None):
    plan = plan_call(rs, "+551140040000", caller, at)
    return plan.start == ("m.wav",), plan.trace[0]


# 2026-11-27 is a Friday; 2026-11-28 Saturday; 2026-11-29 Sunday; 2026-11-30 Monday.
WINDOW_CASES = [
    # (schedule, local instant, expected)
    ({"hours": ["08:00-18:00"]}, (2026, 11, 27, 8, 0), True),          # start inclusive
    ({"hours": ["08:00-18:00"]}, (2026, 11, 27, 17, 59), True),
    ({"hours": ["08:00-18:00"]}, (2026, 11, 27, 18, 0), False),        # end exclusive
    ({"hours": ["08:00-18:00"]}, (2026, 11, 27, 7, 59), False),
    ({"hours": ["00:00-24:00"]}, (2026, 11, 27, 0, 0), True),          # whole day
    ({"hours": ["00:00-24:00"]}, (2026, 11, 27, 23, 59), True),
    ({"hours": ["22:00-24:00"]}, (2026, 11, 27, 23, 59), True),
    # Friday 22:00-06:00 covers Friday night and Saturday early morning only.
    ({"days": "fri", "hours": ["22:00-06:00"]}, (2026, 11, 27, 22, 0), True),
    ({"days": "fri", "hours": ["22:00-06:00"]}, (2026, 11, 28, 3, 0), True),
    ({"days": "fri", "hours": ["22:00-06:00"]}, (2026, 11, 28, 6, 0), False),
    ({"days": "fri", "hours": ["22:00-06:00"]}, (2026, 11, 27, 3, 0), False),   # Thu night: not fri
    ({"days": "fri", "hours": ["22:00-06:00"]}, (2026, 11, 28, 22, 30), False),  # Sat night
    ({"days": "fri", "hours": ["22:00-06:00"]}, (2026, 11, 27, 12, 0), False),
    # equal start and end: 24 hours from the start
    ({"days": "fri", "hours": ["08:00-08:00"]}, (2026, 11, 28, 7, 59), True),
    ({"days": "fri", "hours": ["08:00-08:00"]}, (2026, 11, 28, 8, 0), False),
    ({"days": "mon-fri"}, (2026, 11, 28, 10, 0), False),
    ({"days": ["sat", "sun"]}, (2026, 11, 29, 10, 0), True),
    ({"days": "fri-mon"}, (2026, 11, 30, 10, 0), True),               # wrapping range
    ({"days": "fri-mon"}, (2026, 12, 1, 10, 0), False),
    ({"dates": ["2026-12-20..2026-12-26"]}, (2026, 12, 20, 0, 0), True),
    ({"dates": ["2026-12-20..2026-12-26"]}, (2026, 12, 26, 23, 59), True),
    ({"dates": ["2026-12-20..2026-12-26"]}, (2026, 12, 27, 0, 0), False),
    ({"dates": "2026-12-31", "hours": ["23:00-01:00"]}, (2027, 1, 1, 0, 30), True),  # belongs to 12-31
    ({"dates": "2026-12-31", "hours": ["23:00-01:00"]}, (2027, 1, 1, 23, 30), False),
]


@pytest.mark.parametrize("schedule,when,expected", WINDOW_CASES)
def test_windows(schedule, when, expected):
    rs = ruleset(schedule)
    assert holds(rs, datetime(*when, tzinfo=SP))[0] is expected


def test_reasons_name_the_rule_and_the_zone():
    rs = ruleset({"days": "mon-fri", "hours": ["08:00-12:00", "13:00-18:00"]})
    ok, line = holds(rs, datetime(2026, 11, 27, 12, 30, tzinfo=SP))
    assert not ok
    assert line == "messages[0] m.wav: skipped: outside hours 08:00-12:00,13:00-18:00 America/Sao_Paulo"
    ok, line = holds(rs, datetime(2026, 11, 28, 10, 0, tzinfo=SP))
    assert line == "messages[0] m.wav: skipped: sat is not in [mon-fri]"


HOLIDAYS = {"country": "BR", "subdivision": "SP", "extra": ["2026-12-24"]}


@pytest.mark.parametrize("days,when,expected", [
    ("mon-fri", (2026, 12, 25, 10, 0), False),        # Christmas, a Friday: not a weekday
    ("fri", (2026, 12, 25, 10, 0), False),
    (["fri", "holiday"], (2026, 12, 25, 10, 0), True),
    ("holiday", (2026, 12, 25, 10, 0), True),
    ("holiday", (2026, 12, 24, 10, 0), True),          # extra date
    ("holiday", (2026, 7, 9, 10, 0), True),            # SP state holiday
    ("holiday", (2026, 12, 23, 10, 0), False),
    ("mon-fri", (2026, 12, 23, 10, 0), True),
])
def test_holidays_are_not_their_weekday(days, when, expected):
    rs = ruleset({"days": days}, holidays=HOLIDAYS)
    assert holds(rs, datetime(*when, tzinfo=SP))[0] is expected


def test_holiday_reason_names_the_holiday():
    rs = ruleset({"days": "mon-fri"}, holidays=HOLIDAYS)
    _, line = holds(rs, datetime(2026, 12, 25, 10, 0, tzinfo=SP))
    assert line == ("messages[0] m.wav: skipped: 2026-12-25 is holiday (Christmas Day), "
                    "not in [mon-fri]")


def test_night_window_after_a_holiday_belongs_to_the_holiday():
    # Christmas night 22:00-06:00 listed under holiday: holds into the 26th, not before.
    rs = ruleset({"days": "holiday", "hours": ["22:00-06:00"]}, holidays=HOLIDAYS)
    assert holds(rs, datetime(2026, 12, 26, 2, 0, tzinfo=SP))[0]
    assert not holds(rs, datetime(2026, 12, 27, 2, 0, tzinfo=SP))[0]
    # 12-24 is an extra holiday, so the 25th early morning holds too.
    assert holds(rs, datetime(2026, 12, 25, 2, 0, tzinfo=SP))[0]


def test_dst_gap_new_york():
    # 2026-03-08 02:00 EST jumps to 03:00 EDT: a 02:00-02:30 window never holds that day.
    rs = ruleset({"hours": ["02:00-02:30"]}, tz="America/New_York")
    for minute in range(0, 120, 5):
        at = datetime(2026, 3, 8, 6, 0, tzinfo=timezone.utc).replace(minute=0)
        at = at.fromtimestamp(at.timestamp() + minute * 60, timezone.utc)
        assert not holds(rs, at)[0], at
    # The window is back the next day at 02:00 EDT = 06:00 UTC.
    assert holds(rs, datetime(2026, 3, 9, 6, 10, tzinfo=timezone.utc))[0]
    # Business hours the morning after the change use the new offset: 09:00 EDT = 13:00 UTC.
    biz = ruleset({"hours": ["09:00-17:00"]}, tz="America/New_York")
    assert holds(biz, datetime(2026, 3, 9, 13, 0, tzinfo=timezone.utc))[0]
    assert not holds(biz, datetime(2026, 3, 9, 12, 59, tzinfo=timezone.utc))[0]


def test_dst_overlap_new_york_holds_both_times():
    # 2026-11-01 01:00-02:00 happens twice (EDT then EST); a 01:00-01:30 window holds in both.
    rs = ruleset({"hours": ["01:00-01:30"]}, tz="America/New_York")
    first = datetime(2026, 11, 1, 1, 15, tzinfo=NY, fold=0)
    second = datetime(2026, 11, 1, 1, 15, tzinfo=NY, fold=1)
    assert first.astimezone(timezone.utc) != second.astimezone(timezone.utc)
    assert holds(rs, first)[0] and holds(rs, second)[0]
    assert not holds(rs, datetime(2026, 11, 1, 6, 45, tzinfo=timezone.utc))[0]  # 01:45 EST


def test_sao_paulo_past_dst_midnight_gap():
    # 2018-11-04 00:00 did not exist in Sao Paulo (clocks went to 01:00): 00:00-01:00 never held.
    rs = ruleset({"hours": ["00:00-01:00"]})
    assert not holds(rs, datetime(2018, 11, 4, 3, 0, tzinfo=timezone.utc))[0]   # 01:00 -02
    assert holds(rs, datetime(2018, 11, 5, 2, 30, tzinfo=timezone.utc))[0]      # 00:30 -02
    # Since 2019 Sao Paulo is UTC-3 all year: 09:00 local is 12:00 UTC in January.
    biz = ruleset({"hours": ["09:00-10:00"]})
    assert holds(biz, datetime(2026, 1, 15, 12, 0, tzinfo=timezone.utc))[0]
    assert not holds(biz, datetime(2026, 1, 15, 11, 59, tzinfo=timezone.utc))[0]


def test_any_input_zone_is_converted_to_the_numbers_zone():
    rs = ruleset({"hours": ["08:00-09:00"]})
    tokyo = ZoneInfo("Asia/Tokyo")
    assert holds(rs, datetime(2026, 11, 27, 20, 30, tzinfo=tokyo))[0]   # 08:30 in Sao Paulo


@pytest.mark.parametrize("callers,except_callers,caller,expected", [
    (["+5521*"], None, "+5521988887777", True),
    (["+5521*"], None, "21988887777", True),           # national notation, number's region
    (["+5521*"], None, "021 21 98888-7777", True),      # trunk 0 + carrier code 21
    (["+5521*"], None, "+5511988887777", False),
    (["+5521*"], None, None, False),
    (["anonymous"], None, "Restricted", True),
    (["anonymous"], None, "not a number", True),
    (["+55 11 98888-7777"], None, "+5511988887777", True),
    (None, ["anonymous"], None, False),
    (None, ["+5511*"], "11988887777", False),
    (None, ["+5511*"], "+5521988887777", True),
])
def test_callers(callers, except_callers, caller, expected):
    schedule = {}
    if callers is not None:
        schedule["callers"] = callers
    if except_callers is not None:
        schedule["except_callers"] = except_callers
    rs = ruleset(schedule)
    assert holds(rs, datetime(2026, 11, 27, 10, 0, tzinfo=SP), caller)[0] is expected


def test_caller_reason():
    rs = ruleset({"callers": ["+5521*"]})
    _, line = holds(rs, datetime(2026, 11, 27, 10, 0, tzinfo=SP), "+551188887777")
    assert line == "messages[0] m.wav: skipped: caller +551188887777 not in [+5521*]"


def test_holiday_in_days_needs_a_calendar():
    with pytest.raises(ConfigError) as err:
        ruleset({"days": ["sat", "holiday"]})
    assert err.value.lines() == [
        "numbers.+551140040000.messages[0].schedule.days: 'holiday' needs a holidays "
        "calendar on the number (holidays: {country: ..., extra: [...]})"]
