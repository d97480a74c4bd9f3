"""Schedules: when an entry holds. Parsing (load time) and checking (call time).

Contract (docs/design.md, "The number configuration"):

* Parsing: ``parse_day``, ``parse_window``, ``parse_date_range``, ``parse_caller_pattern``
  turn one written item into its compiled form or raise ``ValueError`` with a message for
  the user; ``Schedule.build(...)`` assembles the compiled items of one ``schedule``.
* Checking: ``Schedule.check(day, caller)`` returns ``None`` when the schedule holds for
  the instant described by ``day`` (a ``DayContext``) and the normalised ``caller``, or a
  short human reason why not ("outside hours 08:00-18:00 America/Sao_Paulo").

Semantics:

* ``days``: a bitmask of weekdays plus a ``holiday`` bit. A date in the number's holiday
  calendar is only ``holiday``: it matches ``days`` only if ``holiday`` is listed.
  Weekday ranges may wrap (``fri-mon``).
* ``hours``: minute-of-day windows, start inclusive, end exclusive. A window whose end is
  not after its start (``22:00-06:00``, even ``08:00-08:00``) runs past midnight and
  belongs to the day it starts on: its tail after midnight holds only if the *previous*
  local date satisfies ``days`` and ``dates``. ``00:00-24:00`` is the whole day.
* ``dates``: inclusive ordinal ranges of local dates; like ``days`` they are judged on the
  day a window starts.
* ``callers`` / ``except_callers``: exact E.164 numbers, ``+prefix*`` patterns (matched with
  ``str.startswith``) and ``anonymous``.

Local minutes come from the wall clock in the number's zone, so a window that falls into a
DST gap never holds that night, and one covering a repeated hour holds both times.
"""
from __future__ import annotations

import functools
import re
from datetime import date, datetime

from rules.numbers import normalise_number
from rules.plan import ANONYMOUS
from rules.text import plain

__all__ = ["DAY_NAMES", "HOLIDAY_BIT", "parse_day", "parse_window", "parse_date_range",
           "parse_caller_pattern", "CallerSet", "Schedule", "DayContext"]

DAY_NAMES = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
_DAY_INDEX = {name: i for i, name in enumerate(DAY_NAMES)}
HOLIDAY_BIT = 1 << 7
_DAY_MINUTES = 24 * 60


@functools.lru_cache(maxsize=4096)
def parse_day(item: str) -> int:
    """``mon``, ``mon-fri``, ``fri-mon`` or ``holiday`` -> bitmask."""
    text = item.strip().lower()
    if text == "holiday":
        return HOLIDAY_BIT
    first, sep, last = text.partition("-")
    if first in _DAY_INDEX and (not sep or last in _DAY_INDEX):
        a = _DAY_INDEX[first]
        b = _DAY_INDEX[last] if sep else a
        mask = 0
        for k in range((b - a) % 7 + 1):
            mask |= 1 << ((a + k) % 7)
        return mask
    raise ValueError(f"unknown day {item!r} (use mon..sun, a range such as mon-fri, or holiday)")


_WINDOW = re.compile(r"(\d{1,2}):(\d{2})-(\d{1,2}):(\d{2})")


@functools.lru_cache(maxsize=4096)
def parse_window(item: str) -> tuple[int, int]:
    """``HH:MM-HH:MM`` -> (start, end) minutes of the day; end may be 1440 (24:00)."""
    m = _WINDOW.fullmatch(item.strip())
    if m is None:
        raise ValueError(f"{item!r} is not a time window HH:MM-HH:MM (e.g. 08:00-18:00)")
    h1, m1, h2, m2 = (int(g) for g in m.groups())
    if m1 > 59 or m2 > 59 or h1 > 23 or h2 > 24 or (h2 == 24 and m2 != 0):
        raise ValueError(f"{item!r} has an impossible time (00:00 to 23:59, or 24:00 as an end)")
    return h1 * 60 + m1, h2 * 60 + m2


def _parse_date(text: str) -> date:
    if not re.fullmatch(r"\d{4}-\d{2}-\d{2}", text):
        raise ValueError
    return date.fromisoformat(text)


@functools.lru_cache(maxsize=4096)
def parse_date_range(item: str | date) -> tuple[int, int]:
    """``YYYY-MM-DD`` or ``YYYY-MM-DD..YYYY-MM-DD`` -> inclusive ordinal range."""
    if isinstance(item, datetime):
        raise ValueError("must be a date YYYY-MM-DD, not a date and time")
    if isinstance(item, date):  # YAML reads unquoted 2026-12-24 as a date
        return item.toordinal(), item.toordinal()
    first, sep, last = item.strip().partition("..")
    try:
        lo = _parse_date(first)
        hi = _parse_date(last) if sep else lo
    except ValueError:
        raise ValueError(f"{item!r} is not a date YYYY-MM-DD or a range "
                         f"YYYY-MM-DD..YYYY-MM-DD") from None
    if hi < lo:
        raise ValueError(f"{item!r} ends before it starts")
    return lo.toordinal(), hi.toordinal()


_PREFIX = re.compile(r"\+\d{0,15}", re.ASCII)


@functools.lru_cache(maxsize=4096)
def parse_caller_pattern(item: str, region: str | None) -> str:
    """``anonymous``, ``+5521*`` or a number in any notation -> canonical pattern."""
    text = plain(item, "a caller pattern").strip()
    if text.lower() == ANONYMOUS:
        return ANONYMOUS
    if text.endswith("*"):
        prefix = re.sub(r"[\s().\-/]", "", text[:-1])
        if not _PREFIX.fullmatch(prefix):
            raise ValueError(f"{item!r}: a caller prefix is + and digits followed by * "
                             f"(e.g. +5521*)")
        return prefix + "*"
    try:
        return normalise_number(text, region)
    except ValueError as exc:
        raise ValueError(f"{item!r}: {exc}; a caller pattern is a number, a +prefix* "
                         f"or anonymous") from None


class CallerSet:
    __slots__ = ("exact", "prefixes", "anonymous", "text")

    def __init__(self, patterns: list[str]):
        self.exact = frozenset(p for p in patterns if p != ANONYMOUS and not p.endswith("*"))
        self.prefixes = tuple(p[:-1] for p in patterns if p.endswith("*"))
        self.anonymous = ANONYMOUS in patterns
        self.text = "[" + ", ".join(patterns) + "]"

    def matches(self, caller: str) -> bool:
        if caller == ANONYMOUS:
            return self.anonymous
        return caller in self.exact or caller.startswith(self.prefixes)


def _fmt_minutes(m: int) -> str:
    return f"{m // 60:02d}:{m % 60:02d}"


_UNSET = object()


class DayContext:
    """The local facts of one instant for one number, computed once per plan."""

    __slots__ = ("local", "ordinal", "weekday", "minute", "year", "calendar", "_h0", "_h1")

    def __init__(self, local: datetime, calendar):
        self.local = local
        self.ordinal = local.toordinal()
        self.weekday = local.weekday()
        self.minute = local.hour * 60 + local.minute
        self.year = local.year
        self.calendar = calendar
        self._h0 = self._h1 = _UNSET

    def holiday(self, back: int) -> str | None:
        """Name of the holiday on the local date ``back`` days ago (0 or 1), or None."""
        if back == 0:
            h = self._h0
            if h is _UNSET:
                h = self._h0 = (self.calendar.name(self.ordinal, self.year)
                                if self.calendar is not None else None)
            return h
        h = self._h1
        if h is _UNSET:
            year = self.year - 1 if (self.local.month == 1 and self.local.day == 1) else self.year
            h = self._h1 = (self.calendar.name(self.ordinal - 1, year)
                            if self.calendar is not None else None)
        return h


class Schedule:
    __slots__ = ("days_mask", "days_text", "dates", "dates_text", "whole_day", "same_day",
                 "overnight", "hours_reason", "callers", "excluded")

    @classmethod
    def build(cls, *, days: list[tuple[str, int]] | None, hours: list[tuple[str, tuple[int, int]]] | None,
              dates: list[tuple[str, tuple[int, int]]] | None, callers: list[str] | None,
              except_callers: list[str] | None, tzname: str) -> "Schedule":
        """Each of days/hours/dates is the list of (as written, compiled) items, or None."""
        s = cls()
        s.days_mask = None
        s.days_text = ""
        if days is not None:
            s.days_mask = 0
            for _, mask in days:
                s.days_mask |= mask
            s.days_text = "[" + ", ".join(text.strip().lower() for text, _ in days) + "]"
        s.dates = None
        s.dates_text = ""
        if dates is not None:
            s.dates = tuple(rng for _, rng in dates)
            s.dates_text = "[" + ", ".join(str(text) for text, _ in dates) + "]"
        s.whole_day = hours is None
        windows = [w for _, w in hours or ()]
        s.same_day = tuple((a, b) for a, b in windows if b > a)
        s.overnight = tuple((a, b) for a, b in windows if b <= a)
        s.hours_reason = ("outside hours "
                          + ",".join(f"{_fmt_minutes(a)}-{_fmt_minutes(b)}" for a, b in windows)
                          + " " + tzname)
        s.callers = CallerSet(callers) if callers is not None else None
        s.excluded = CallerSet(except_callers) if except_callers is not None else None
        return s

    @property
    def always(self) -> bool:
        return (self.days_mask is None and self.dates is None and self.whole_day
                and self.callers is None and self.excluded is None)

    def _day_reason(self, day: DayContext, back: int) -> str | None:
        if self.days_mask is not None:
            holiday = day.holiday(back)
            if holiday is not None:
                if not self.days_mask & HOLIDAY_BIT:
                    return (f"{date.fromordinal(day.ordinal - back).isoformat()} is holiday "
                            f"({holiday}), not in {self.days_text}")
            else:
                weekday = (day.weekday - back) % 7
                if not self.days_mask & (1 << weekday):
                    return f"{DAY_NAMES[weekday]} is not in {self.days_text}"
        if self.dates is not None:
            o = day.ordinal - back
            for lo, hi in self.dates:
                if lo <= o <= hi:
                    break
            else:
                return f"{date.fromordinal(o).isoformat()} is not in dates {self.dates_text}"
        return None

    def check(self, day: DayContext, caller: str) -> str | None:
        if self.callers is not None and not self.callers.matches(caller):
            return f"caller {caller} not in {self.callers.text}"
        if self.excluded is not None and self.excluded.matches(caller):
            return f"caller {caller} is in except_callers {self.excluded.text}"
        reason = self._day_reason(day, 0)
        m = day.minute
        if reason is None:
            if self.whole_day:
                return None
            for a, b in self.same_day:
                if a <= m < b:
                    return None
            for a, _ in self.overnight:
                if m >= a:
                    return None
        for _, b in self.overnight:
            if m < b:
                if self._day_reason(day, 1) is None:
                    return None
                break
        return reason or self.hours_reason
