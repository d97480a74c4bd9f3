"""Properties that must hold for every input, not just the ones we thought of."""
from datetime import datetime, timedelta, timezone

from hypothesis import given, settings
from hypothesis import strategies as st

from rules.loader import load_mapping
from rules.numbers import normalise_caller, normalise_number
from rules.planner import plan_call

minutes = st.integers(min_value=0, max_value=24 * 60 - 1)
DAYS = ["mon", "tue", "wed", "thu", "fri", "sat", "sun"]


def hhmm(m):
    return f"{m // 60:02d}:{m % 60:02d}"


def _holds(rs, at):
    return bool(plan_call(rs, "+551140040000", None, at).start)


def _number(*messages):
    return load_mapping({"numbers": {"+551140040000": {
        "timezone": "America/Sao_Paulo", "messages": list(messages)}}})


BASE = datetime(2026, 11, 23, 3, 0, tzinfo=timezone.utc)   # Monday 00:00 in Sao Paulo
week_minutes = st.integers(min_value=0, max_value=7 * 24 * 60 - 1)


@settings(max_examples=60, deadline=None)
@given(start=minutes, end=minutes, probes=st.lists(week_minutes, min_size=1, max_size=40))
def test_a_window_and_its_complement_partition_the_week(start, end, probes):
    """Every instant of the week is in exactly one of `a-b` and `b-a`."""
    if start == end:
        end = (end + 1) % (24 * 60)
    window = _number({"audio": "w.wav", "schedule": {"hours": [f"{hhmm(start)}-{hhmm(end)}"]}})
    complement = _number({"audio": "c.wav", "schedule": {"hours": [f"{hhmm(end)}-{hhmm(start)}"]}})
    for p in probes:
        at = BASE + timedelta(minutes=p)
        assert _holds(window, at) != _holds(complement, at), at


@settings(max_examples=25, deadline=None)
@given(start=minutes, end=minutes, day=st.sampled_from(DAYS))
def test_a_day_window_and_its_complement_cover_exactly_that_day(start, end, day):
    """`day a-b` and `day b-a` never overlap and together last 24 h in a week."""
    if start == end:
        end = (end + 1) % (24 * 60)
    window = _number({"audio": "w.wav", "schedule": {"days": day, "hours": [f"{hhmm(start)}-{hhmm(end)}"]}})
    complement = _number({"audio": "c.wav", "schedule": {"days": day, "hours": [f"{hhmm(end)}-{hhmm(start)}"]}})
    total = 0
    for m in range(0, 7 * 24 * 60):
        at = BASE + timedelta(minutes=m)
        w, c = _holds(window, at), _holds(complement, at)
        assert not (w and c)
        total += w + c
    assert total == 24 * 60


@settings(max_examples=200, deadline=None)
@given(st.text(alphabet="0123456789 +-()", min_size=1, max_size=20))
def test_normalisation_is_idempotent(text):
    try:
        once = normalise_number(text, "BR")
    except ValueError:
        return
    assert normalise_number(once, "BR") == once
    assert normalise_caller(once, "BR") == once


RS = load_mapping({"defaults": {"region": "BR"}, "numbers": {"+551140040000": {
    "messages": [{"audio": "a.wav", "schedule": {"callers": ["+5521*", "anonymous"]}}],
    "forwarding": [{"to": "+5511999990000", "schedule": {"except_callers": ["+5511*"]}}]}}})


@settings(max_examples=300, deadline=None)
@given(caller=st.one_of(st.none(), st.text(max_size=40)),
       called=st.one_of(st.none(), st.text(max_size=20), st.just("+551140040000")),
       seconds=st.integers(min_value=0, max_value=50 * 365 * 86400))
def test_planner_never_raises(caller, called, seconds):
    at = datetime(2000, 1, 1, tzinfo=timezone.utc) + timedelta(seconds=seconds)
    plan = plan_call(RS, called, caller, at)
    assert plan.caller == "anonymous" or plan.caller.startswith("+")
    assert plan.to_json()["number"] is not None
