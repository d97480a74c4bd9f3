"""What a schedule can and cannot do, decided exactly, for the linter (``rules.lint``).

Contract (pure):

* ``implies(later, earlier, calendar) -> bool``: True only when, whenever ``later``
  holds, ``earlier`` holds too (a sufficient test: False means "not proven");
* ``always(schedule, calendar) -> bool``: no schedule, or one that holds for every caller,
  every day (and holiday) and every minute;
* ``never_holds(schedule, calendar, tz, today_ordinal, memo) -> str | None``: why the
  schedule provably never holds from ``today`` on (its callers are all excluded; its
  finite days never fall on its weekdays; all in the past; every window in a DST gap),
  or None when it may hold. At most ``DAY_BUDGET`` candidate days are looked at.

The rules themselves are stated in ``rules.lint``'s docstring.
"""
from __future__ import annotations

from collections.abc import Iterable
from datetime import date, datetime, timezone
from zoneinfo import ZoneInfo

from rules.holidays_calendar import NumberCalendar
from rules.schedule import HOLIDAY_BIT, CallerSet, Schedule

_WEEK = 0x7F
_DAY = 1440
_DAY_BUDGET = 4000
_LAST_ORDINAL = date.max.toordinal()


# --- callers -------------------------------------------------------------------------

# A caller item: ("anon", "") | ("exact", "+55...") | ("prefix", "+55").
_EVERY_CALLER = (("anon", ""), ("prefix", "+"))


def _items(callers: CallerSet | None) -> list[tuple[str, str]]:
    if callers is None:
        # Every caller is anonymous or an E.164 string (rules.numbers.normalise_caller).
        return list(_EVERY_CALLER)
    items = [("anon", "")] if callers.anonymous else []
    items += [("exact", x) for x in sorted(callers.exact)]
    items += [("prefix", p) for p in callers.prefixes]
    return items


def _covered(by: CallerSet | None, item: tuple[str, str]) -> bool:
    """Every caller ``item`` matches is matched by ``by`` (None: matches every caller)."""
    if by is None:
        return True
    kind, text = item
    if kind == "anon":
        return by.anonymous
    if kind == "exact":
        return text in by.exact or text.startswith(by.prefixes)
    return text.startswith(by.prefixes)


def _disjoint(a: tuple[str, str], b: tuple[str, str]) -> bool:
    """No caller matches both items."""
    if a[0] == "anon" or b[0] == "anon":
        return a[0] != b[0]
    (ka, x), (kb, y) = a, b
    if ka == "exact" and kb == "exact":
        return x != y
    if ka == "exact":
        return not x.startswith(y)
    if kb == "exact":
        return not y.startswith(x)
    return not (x.startswith(y) or y.startswith(x))


def _live_items(s: Schedule) -> list[tuple[str, str]]:
    """The caller items of ``s`` not wholly removed by its except_callers."""
    return [i for i in _items(s.callers)
            if s.excluded is None or not _covered(s.excluded, i)]


def _callers_all(s: Schedule) -> bool:
    return s.excluded is None and all(_covered(s.callers, i) for i in _EVERY_CALLER)


def _callers_subset(j: Schedule, i: Schedule) -> bool:
    live = _live_items(j)
    if not all(_covered(i.callers, x) for x in live):
        return False
    if i.excluded is None:
        return True
    return all(all(_disjoint(y, x) for x in live) for y in _items(i.excluded))


# --- days, dates, hours --------------------------------------------------------------

def _full_mask(mask: int | None, cal: NumberCalendar | None) -> bool:
    return mask is None or ((mask & _WEEK) == _WEEK and (cal is None or bool(mask & HOLIDAY_BIT)))


def _day_full(s: Schedule, cal: NumberCalendar | None) -> bool:
    """The schedule's days and dates accept every local date."""
    return s.dates is None and _full_mask(s.days_mask, cal)


def _merge(ranges: Iterable[tuple[int, int]]) -> list[tuple[int, int]]:
    out: list[list[int]] = []
    for lo, hi in sorted(ranges):
        if out and lo <= out[-1][1] + 1:
            out[-1][1] = max(out[-1][1], hi)
        else:
            out.append([lo, hi])
    return [(lo, hi) for lo, hi in out]


def _inside(ranges: Iterable[tuple[int, int]], by: Iterable[tuple[int, int]]) -> bool:
    """Every (non-empty) interval of ``ranges`` lies inside one interval of merged ``by``."""
    merged = _merge(by)
    return all(any(c <= a and b <= d for c, d in merged) for a, b in ranges if a <= b)


def _pieces(s: Schedule) -> tuple[list[tuple[int, int]], list[tuple[int, int]]]:
    """Minute intervals [a, b) as inclusive (a, b-1): those judged on the day they fall on
    (same-day windows, overnight windows before midnight) and the after-midnight tails,
    judged on the day before."""
    if s.whole_day:
        return [(0, _DAY - 1)], []
    same = [(a, b - 1) for a, b in s.same_day] + [(a, _DAY - 1) for a, _ in s.overnight]
    tail = [(0, b - 1) for _, b in s.overnight if b > 0]
    return same, tail


def always(s: Schedule | None, cal: NumberCalendar | None) -> bool:
    if s is None:
        return True
    if not (_callers_all(s) and _day_full(s, cal)):
        return False
    same, tail = _pieces(s)
    return _inside([(0, _DAY - 1)], same + tail)


def _days_subset(j: Schedule, i: Schedule, cal: NumberCalendar | None) -> bool:
    if i.days_mask is not None:
        if j.days_mask is None:
            if not _full_mask(i.days_mask, cal):
                return False
        elif j.days_mask & ~i.days_mask:
            return False
    if i.dates is not None:
        if j.dates is None or not _inside(j.dates, i.dates):
            return False
    return True


def implies(j: Schedule | None, i: Schedule | None, cal: NumberCalendar | None) -> bool:
    """True only if, for every caller and instant, ``j`` holding means ``i`` holds
    (both schedules of one number; None = always)."""
    if i is None:
        return True
    if j is None:
        return always(i, cal)
    if not _callers_subset(j, i):
        return False
    same_j, tail_j = _pieces(j)
    same_i, tail_i = _pieces(i)
    if _day_full(i, cal):
        return _inside(same_j + tail_j, same_i + tail_i)
    return _days_subset(j, i, cal) and _inside(same_j, same_i) and _inside(tail_j, tail_i)


# --- never holds -----------------------------------------------------------------------

def _wall_exists(day: date, minute: int, tz: ZoneInfo) -> bool:
    """Some second of local minute ``minute`` of ``day`` exists on the wall clock (is not
    skipped by a DST gap). A gap is one interval, so a minute partly in it keeps its first
    or its last instant."""
    h, m = divmod(minute, 60)
    for sec, us in ((0, 0), (59, 999_999)):
        wall = datetime(day.year, day.month, day.day, h, m, sec, us)
        try:
            back = wall.replace(tzinfo=tz).astimezone(timezone.utc).astimezone(tz)
        except (OverflowError, ValueError):
            return True  # at the ends of the calendar: cannot tell, assume it exists
        if back.replace(tzinfo=None) == wall:
            return True
    return False


def _any_minute(ordinal: int, pieces: list[tuple[int, int]], tz: ZoneInfo) -> bool:
    if ordinal > _LAST_ORDINAL or not pieces:
        return False
    day = date.fromordinal(ordinal)
    return any(_wall_exists(day, m, tz) for a, b in pieces for m in range(a, b + 1))


def _day_ok(s: Schedule, ordinal: int, cal: NumberCalendar | None) -> bool:
    mask = s.days_mask
    if mask is None:
        return True
    d = date.fromordinal(ordinal)
    holiday = cal.name(ordinal, d.year) if cal is not None else None
    if holiday is not None:
        return bool(mask & HOLIDAY_BIT)
    return bool(mask & (1 << d.weekday()))


def _intersect(a: list[tuple[int, int]], b: list[tuple[int, int]]) -> list[tuple[int, int]]:
    out = []
    for lo, hi in a:
        for c, d in b:
            if max(lo, c) <= min(hi, d):
                out.append((max(lo, c), min(hi, d)))
    return _merge(out)


def _fmt(ordinal: int) -> str:
    return date.fromordinal(ordinal).isoformat()


def never_holds(s: Schedule | None, cal: NumberCalendar | None, tz: ZoneInfo,
                 today: int) -> str | None:
    """Why ``s`` can never hold from ``today`` (a local ordinal) on, or None (it may)."""
    if s is None:
        return None
    if _live_items(s) == []:
        return (f"never holds: every caller in callers {s.callers.text} is in except_callers "
                f"{s.excluded.text}" if s.callers is not None else
                f"never holds: except_callers {s.excluded.text} excludes every caller")
    extras_only = (s.days_mask == HOLIDAY_BIT and cal is not None and cal.country is None)
    if s.dates is None and not extras_only:
        return None  # weekdays or a country's holidays recur for ever
    days = _merge(s.dates) if s.dates is not None else [(-10**9, 10**9)]
    if extras_only:
        days = _intersect(days, _merge(cal.extra))
    same, tail = _pieces(s)
    budget = _DAY_BUDGET
    matching_later = False
    for lo, hi in days:
        for o in range(max(lo, today - 1), hi + 1):
            budget -= 1
            if budget < 0:
                return None
            if not _day_ok(s, o, cal):
                continue
            if o >= today:
                matching_later = True
                if _any_minute(o, same, tz):
                    return None
            if tail:
                matching_later = True
                if _any_minute(o + 1, tail, tz):
                    return None
    where = (f"its dates {s.dates_text}" if s.dates is not None
             else "its holiday calendar's extra dates")
    if matching_later:
        return (f"never holds: its hours fall in a daylight-saving gap of {tz.key} on every "
                f"day its dates and days allow")
    # Nothing from today on. Was anything ever possible (the message says which)?
    budget = _DAY_BUDGET
    for lo, hi in days:
        for o in range(lo, min(hi, today - 1) + 1):
            budget -= 1
            if budget < 0:
                return f"never holds again: no day of {where} on its days is today or later"
            if _day_ok(s, o, cal):
                return (f"never holds again: {where} are all before today "
                        f"({_fmt(today)} in {tz.key})")
    if s.dates is not None and s.days_mask is not None:
        return f"never holds: none of its dates {s.dates_text} is on its days {s.days_text}"
    return f"never holds again: {where} are all before today ({_fmt(today)} in {tz.key})"
