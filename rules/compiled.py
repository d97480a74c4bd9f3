"""Compiled numbers: a validated configuration in the shape the planner evaluates fast.

Contract: ``compile_config(e164, config, defaults, root)`` turns one validated
``NumberConfig`` into a ``CompiledNumber`` and returns it with the list of cross-field
problems pydantic cannot see (``(path, message)`` pairs; empty when fine). Everything a
plan hands out (audio names, ``ForwardAttempt``, ``VoicemailPlan``, trace lines for taken
entries) is built here once, so planning a call allocates nothing per configured entry
beyond its trace line.
"""
from __future__ import annotations

import functools
from zoneinfo import ZoneInfo

from rules.holidays_calendar import NumberCalendar, number_calendar
from rules.models import Defaults, NumberConfig, ScheduleModel
from rules.numbers import region_of
from rules.plan import ForwardAttempt, VoicemailPlan
from rules.schedule import Schedule, parse_date_range, parse_day, parse_window

__all__ = ["Entry", "CompiledNumber", "compile_config"]


class Entry:
    """One configured entry: its trace label, its schedule (None = always) and payload."""

    __slots__ = ("label", "taken", "schedule", "value")

    def __init__(self, label: str, schedule: Schedule | None, value):
        self.label = label
        self.taken = label + ": taken"
        self.schedule = schedule
        self.value = value


class CompiledNumber:
    __slots__ = ("number", "tz", "tzname", "region", "calendar", "start", "end", "forwarding",
                 "voicemail", "hangup", "entries")

    number: str
    tz: ZoneInfo
    tzname: str
    region: str | None           # used to read callers' national notation
    calendar: NumberCalendar | None
    start: tuple[Entry, ...]     # value: audio name
    end: tuple[Entry, ...]       # value: audio name
    forwarding: tuple[Entry, ...]  # value: ForwardAttempt
    voicemail: tuple[Entry, ...]   # value: VoicemailPlan
    hangup: tuple[Entry, ...]      # value: cause name
    entries: int

    def __repr__(self) -> str:
        return f"<CompiledNumber {self.number} {self.tzname} {self.entries} entries>"


def _t(items: list | None) -> tuple | None:
    return tuple(items) if items is not None else None


def _schedule(model: ScheduleModel | None, tzname: str) -> Schedule | None:
    if model is None:
        return None
    return _build_schedule(_t(model.days), _t(model.hours), _t(model.dates), _t(model.callers),
                           _t(model.except_callers), tzname)


# Schedules are immutable once built, and thousands of numbers share "mon-fri 08:00-18:00":
# sharing them saves both load time and memory.
@functools.lru_cache(maxsize=65_536)
def _build_schedule(days, hours, dates, callers, except_callers, tzname) -> Schedule | None:
    compiled = Schedule.build(
        days=[(d, parse_day(d)) for d in days] if days is not None else None,
        hours=[(h, parse_window(h)) for h in hours] if hours is not None else None,
        dates=[(d, parse_date_range(d)) for d in dates] if dates is not None else None,
        callers=list(callers) if callers is not None else None,
        except_callers=list(except_callers) if except_callers is not None else None,
        tzname=tzname)
    return None if compiled.always else compiled


def compile_config(e164: str, config: NumberConfig, defaults: Defaults,
                   root: str) -> tuple[CompiledNumber, list[tuple[str, str]]]:
    errors: list[tuple[str, str]] = []
    tzname = config.timezone or defaults.timezone
    n = CompiledNumber()
    n.number = e164
    n.tz = ZoneInfo(tzname)
    n.tzname = tzname
    n.region = region_of(e164) or defaults.region
    n.calendar = None
    hol = config.holidays
    if hol is not None and (hol.country or hol.extra):
        extra = tuple(sorted(set(parse_date_range(d) for d in hol.extra)))
        n.calendar = number_calendar(hol.country, hol.subdivision, extra)

    for kind in ("messages", "forwarding", "voicemail", "hangup"):
        for i, entry in enumerate(getattr(config, kind)):
            days = entry.schedule.days if entry.schedule is not None else None
            if days and "holiday" in days and n.calendar is None:
                errors.append((f"{root}.{kind}[{i}].schedule.days",
                               "'holiday' needs a holidays calendar on the number "
                               "(holidays: {country: ..., extra: [...]})"))

    start, end = [], []
    for i, m in enumerate(config.messages):
        (start if m.at == "start" else end).append(
            Entry(f"messages[{i}] {m.audio}", _schedule(m.schedule, tzname), m.audio))
    n.start, n.end = tuple(start), tuple(end)
    n.forwarding = tuple(
        Entry(f"forwarding[{i}] {' & '.join(f.to)}", _schedule(f.schedule, tzname),
              ForwardAttempt(to=tuple(f.to), ring_seconds=f.ring_seconds, record=f.record))
        for i, f in enumerate(config.forwarding))
    n.voicemail = tuple(
        Entry(f"voicemail[{i}] {', '.join(v.email)}", _schedule(v.schedule, tzname),
              VoicemailPlan(email=tuple(v.email), greeting=v.greeting,
                            max_seconds=v.max_seconds, min_seconds=v.min_seconds))
        for i, v in enumerate(config.voicemail))
    n.hangup = tuple(
        Entry(f"hangup[{i}] {h.cause}", _schedule(h.schedule, tzname), h.cause)
        for i, h in enumerate(config.hangup))
    n.entries = len(start) + len(end) + len(n.forwarding) + len(n.voicemail) + len(n.hangup)
    return n, errors
