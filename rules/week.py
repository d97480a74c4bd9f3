"""The week view: what one number does over seven local days, as ranges of equal plans.

Contract: ``week(ruleset, number, caller, from_date) -> Week`` is pure, like
``plan_call``. The week runs from the first instant of ``from_date`` in the number's zone
(``defaults.timezone`` for an unknown number) to the first instant of the date seven days
later. ``Week.ranges`` tile it exactly (each range's ``end`` is the next one's ``start``);
a range is cut only where the plan changes or at a local midnight (always there, even
when the plan stays the same). ``Range.plan`` is ``Plan.to_json()`` without ``trace`` and
without ``local_time`` (which varies inside a range): it equals what ``plan_call`` gives,
minus those two keys, for any instant in ``[start, end)``.

Ranges come from the schedules' boundaries, not from sampling: every hours-window start
and end of every entry, on every day, turned into the instants at which the local wall
clock reads it (both of them in a repeated hour; the end of the gap for a time a DST gap
skips), plus every local midnight and every change of UTC offset inside the week. Between
two such instants the local date is one and the local minute only grows within one window
set, so the plan is constant there: ``plan_call`` is evaluated once per piece, at its
start, and adjacent pieces with equal plans are merged (but not across a midnight).
Holidays and ``dates`` are judged per local date, so they change only at midnights.

``Range.start``/``end`` are aware datetimes in the number's zone, so that their
``isoformat()`` shows the local offset; compare or subtract them in UTC (Python compares
datetimes of one zone by their wall clocks, which repeat in a DST overlap).

Supported dates: 1900-01-01 to 2999-12-24 (``ValueError`` otherwise).
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import date, datetime, timedelta, timezone
from zoneinfo import ZoneInfo

from rules.plan import Plan
from rules.planner import plan_call
from rules.ruleset import RuleSet

__all__ = ["Week", "Range", "week", "range_plan", "FIRST_DATE", "LAST_DATE"]

FIRST_DATE = date(1900, 1, 1)
LAST_DATE = date(2999, 12, 24)
_UTC = timezone.utc


@dataclass(frozen=True, slots=True)
class Range:
    start: datetime      # aware, in the number's zone
    end: datetime        # aware, in the number's zone; the next range's start
    plan: dict           # Plan.to_json() without trace and local_time

    def to_json(self) -> dict:
        return {"start": self.start.isoformat(), "end": self.end.isoformat(),
                "plan": self.plan}


@dataclass(frozen=True, slots=True)
class Week:
    number: str
    from_date: date
    timezone: str
    ranges: tuple[Range, ...]

    def to_json(self) -> dict:
        return {"number": self.number, "from": self.from_date.isoformat(),
                "ranges": [r.to_json() for r in self.ranges]}


def range_plan(plan: Plan) -> dict:
    """``plan.to_json()`` without ``trace`` and ``local_time``: what a range shows."""
    out = plan.to_json()
    del out["trace"], out["local_time"]
    return out


def _wall(t: datetime, tz: ZoneInfo) -> datetime:
    return t.astimezone(tz).replace(tzinfo=None)


def _at(second: int) -> datetime:
    return datetime.fromtimestamp(second, _UTC)


def _bisect(lo: int, hi: int, reached) -> int:
    """The first whole second in (lo, hi] for which ``reached`` holds (it holds at hi,
    not at lo, and once it holds it keeps holding up to hi)."""
    while hi - lo > 1:
        mid = (lo + hi) // 2
        if reached(_at(mid)):
            hi = mid
        else:
            lo = mid
    return hi


def _instants(wall: datetime, tz: ZoneInfo) -> set[datetime]:
    """The instants (UTC) at which the local clock reaches ``wall``: one, two in a
    repeated hour, or, for a time a DST gap skips, the gap's end."""
    found = set()
    for fold in (0, 1):
        t = wall.replace(tzinfo=tz, fold=fold).astimezone(_UTC)
        if _wall(t, tz) == wall:
            found.add(t)
    if found:
        return found
    # In a gap: fold=1 reads it with the offset after the change (an instant before the
    # gap), fold=0 with the offset before (one after the gap). Offsets are whole seconds.
    before = math.floor(wall.replace(tzinfo=tz, fold=1).timestamp())
    after = math.ceil(wall.replace(tzinfo=tz, fold=0).timestamp())
    return {_at(_bisect(before, after, lambda t: _wall(t, tz) >= wall))}


def _window_minutes(number) -> set[int]:
    """Every minute of the day at which some entry's hours window starts or ends."""
    minutes: set[int] = set()
    for entries in (number.start, number.end, number.forwarding, number.voicemail,
                    number.hangup):
        for e in entries:
            if e.schedule is not None:
                for a, b in e.schedule.same_day + e.schedule.overnight:
                    minutes.update((a, b))
    return minutes


def _midnights(tz: ZoneInfo, first: date, days: int) -> list[set[datetime]]:
    return [_instants(datetime.combine(first + timedelta(days=k), datetime.min.time()), tz)
            for k in range(days + 1)]


def _with_transitions(cuts: list[datetime], tz: ZoneInfo) -> list[datetime]:
    """``cuts`` (sorted) plus every instant between two of them where the UTC offset
    changes (at most one per pair: real zones change at most once a day)."""
    out = [cuts[0]]
    for a, b in zip(cuts, cuts[1:]):
        off_a = a.astimezone(tz).utcoffset()
        if b.astimezone(tz).utcoffset() != off_a:
            lo, hi = math.floor(a.timestamp()), math.ceil(b.timestamp())
            t = _at(_bisect(lo, hi, lambda t: t.astimezone(tz).utcoffset() != off_a))
            if a < t < b:
                out.append(t)
        out.append(b)
    return out


def _cuts(number, tz: ZoneInfo, from_date: date) -> tuple[list[datetime], set[datetime]]:
    """The sorted candidate cuts of the week (its start and end included) and the subset
    that are local midnights."""
    midnights = _midnights(tz, from_date, 7)
    start, end = min(midnights[0]), min(midnights[7])
    nights = {t for ts in midnights for t in ts if start <= t <= end}
    cuts = set(nights)
    minutes = _window_minutes(number) if number is not None else set()
    for k in range(-1, 8):
        day = datetime.combine(from_date + timedelta(days=k), datetime.min.time())
        for m in minutes:
            cuts.update(t for t in _instants(day + timedelta(minutes=m), tz)
                        if start < t < end)
    return _with_transitions(sorted(cuts), tz), nights


def week(ruleset: RuleSet, number: str, caller: str | None, from_date: date) -> Week:
    if not FIRST_DATE <= from_date <= LAST_DATE:
        raise ValueError(f"{from_date.isoformat()} is outside the supported dates "
                         f"{FIRST_DATE.isoformat()} to {LAST_DATE.isoformat()}")
    found = ruleset.find(number)
    tz = found.tz if found is not None else ZoneInfo(ruleset.defaults.timezone)
    cuts, nights = _cuts(found, tz, from_date)
    ranges: list[list] = []          # [start, end, plan], merged as they come
    e164 = number
    for a, b in zip(cuts, cuts[1:]):
        plan = plan_call(ruleset, number, caller, a)
        e164 = plan.number
        shown = range_plan(plan)
        if ranges and a not in nights and ranges[-1][2] == shown:
            ranges[-1][1] = b
        else:
            ranges.append([a, b, shown])
    return Week(number=e164, from_date=from_date, timezone=tz.key,
                ranges=tuple(Range(a.astimezone(tz), b.astimezone(tz), p)
                             for a, b, p in ranges))
