"""Compiled numbers: a validated configuration in the shape the planner evaluates fast.

Contract: ``compile_config(e164, config, defaults, root)`` turns one validated
``NumberConfig`` into a ``CompiledNumber`` and returns it with the list of cross-field
problems pydantic cannot see (``(path, message)`` pairs; empty when fine). Everything a
plan hands out (audio names, ``ForwardAttempt``, ``VoicemailPlan``, trace lines for taken
entries) is built here once, so planning a call allocates nothing per configured entry
beyond its trace line. Equal schedules, entries and tuples of entries are one object
shared by every number that has them (bounded tables); all of it is immutable, so the
sharing shows only in memory and load time.
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


def _schedule(model: ScheduleModel | None, tzname: str) -> Schedule | None:
    if model is None:
        return None
    days, hours, dates = model.days, model.hours, model.dates
    callers, excluded = model.callers, model.except_callers
    # Tuples: the lists are the cache key of an already built, shared schedule.
    return _build_schedule(None if days is None else tuple(days),
                           None if hours is None else tuple(hours),
                           None if dates is None else tuple(dates),
                           None if callers is None else tuple(callers),
                           None if excluded is None else tuple(excluded), tzname)


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


class _Shared:
    """A bounded table that makes equal compiled pieces one object.

    Thousands of numbers play the same ``welcome.wav`` on the same schedule, hang up with
    the same cause or leave voicemail to the same address: sharing the ``Entry`` (with its
    label, trace line and payload) and the tuples holding entries saves both the memory
    and the time to build them again. Everything stored is immutable, so which of several
    equal copies a number holds makes no difference. When full the table starts afresh:
    that keeps it bounded across reloads without LRU bookkeeping on every hit.
    """

    __slots__ = ("table", "limit")

    def __init__(self, limit: int):
        self.table: dict = {}
        self.limit = limit

    def get(self, key):
        return self.table.get(key)

    def put(self, key, value):
        if len(self.table) >= self.limit:
            self.table.clear()
        self.table[key] = value
        return value


# Keyed by what an entry is made of (its schedule by identity: equal schedules are one
# object already, see _build_schedule).
_ENTRIES = _Shared(65_536)
# Keyed by the tuple itself: Entry compares by identity, and equal entries are one object.
_TUPLES = _Shared(65_536)


def _entry(key: tuple, make) -> Entry:
    found = _ENTRIES.get(key)
    return found if found is not None else _ENTRIES.put(key, make())


def _shared_tuple(items: list) -> tuple:
    if not items:
        return ()
    t = tuple(items)
    found = _TUPLES.get(t)
    return found if found is not None else _TUPLES.put(t, t)


def compile_config(e164: str, config: NumberConfig, defaults: Defaults,
                   root: str) -> tuple[CompiledNumber, list[tuple[str, str]]]:
    errors: list[tuple[str, str]] = []
    n = CompiledNumber()
    n.number = e164
    n.tz = ZoneInfo(config.timezone or defaults.timezone)
    # The zone's own key, one string shared by every number in that zone (the
    # configuration's copy would be one string per number when read from JSON).
    tzname = n.tzname = n.tz.key
    n.region = region_of(e164) or defaults.region
    n.calendar = None
    hol = config.holidays
    if hol is not None and (hol.country or hol.extra):
        extra = tuple(sorted(set(parse_date_range(d) for d in hol.extra)))
        n.calendar = number_calendar(hol.country, hol.subdivision, extra)

    if n.calendar is None:
        for kind in ("messages", "forwarding", "voicemail", "hangup"):
            for i, entry in enumerate(getattr(config, kind)):
                days = entry.schedule.days if entry.schedule is not None else None
                if days and "holiday" in days:
                    errors.append((f"{root}.{kind}[{i}].schedule.days",
                                   "'holiday' needs a holidays calendar on the number "
                                   "(holidays: {country: ..., extra: [...]})"))

    start, end = [], []
    for i, m in enumerate(config.messages):
        sched = _schedule(m.schedule, tzname)
        (start if m.at == "start" else end).append(_entry(
            ("messages", i, m.audio, sched),
            lambda: Entry(f"messages[{i}] {m.audio}", sched, m.audio)))
    forwarding = []
    for i, f in enumerate(config.forwarding):
        sched, to = _schedule(f.schedule, tzname), tuple(f.to)
        forwarding.append(_entry(
            ("forwarding", i, to, f.ring_seconds, f.record, sched),
            lambda: Entry(f"forwarding[{i}] {' & '.join(to)}", sched,
                          ForwardAttempt(to=to, ring_seconds=f.ring_seconds, record=f.record))))
    voicemail = []
    for i, v in enumerate(config.voicemail):
        sched, email = _schedule(v.schedule, tzname), tuple(v.email)
        voicemail.append(_entry(
            ("voicemail", i, email, v.greeting, v.max_seconds, v.min_seconds, sched),
            lambda: Entry(f"voicemail[{i}] {', '.join(email)}", sched,
                          VoicemailPlan(email=email, greeting=v.greeting,
                                        max_seconds=v.max_seconds, min_seconds=v.min_seconds))))
    hangup = []
    for i, h in enumerate(config.hangup):
        sched = _schedule(h.schedule, tzname)
        hangup.append(_entry(("hangup", i, h.cause, sched),
                             lambda: Entry(f"hangup[{i}] {h.cause}", sched, h.cause)))
    n.start, n.end = _shared_tuple(start), _shared_tuple(end)
    n.forwarding, n.voicemail = _shared_tuple(forwarding), _shared_tuple(voicemail)
    n.hangup = _shared_tuple(hangup)
    n.entries = len(start) + len(end) + len(forwarding) + len(voicemail) + len(hangup)
    return n, errors
