"""The planner: what one call gets, decided once when it arrives.

Contract: ``plan_call(ruleset, called, caller, at) -> Plan`` is pure (no clock, no I/O,
no logging). ``at`` must be timezone-aware (any zone); it is converted to the number's
zone. ``called`` and ``caller`` may be in any notation the trunk delivers; any caller
string is accepted (junk and withheld numbers are ``ANONYMOUS``). The plan follows
docs/design.md "What a call gets":

1. start messages whose schedule holds, in order;
2. if a ``hangup`` entry holds: end messages, then its cause; no forwards, no voicemail;
3. otherwise every forwarding entry that holds, in order, and the first voicemail entry
   that holds (the engine uses it when every forward failed or none held);
4. end messages that hold.

An unknown number gives ``Plan(known=False, hangup="UNALLOCATED_NUMBER")``. The trace has
one line per configured entry: ``"<entry>: taken"`` or ``"<entry>: skipped: <why>"``.

Cost: one dict lookup, one cached caller normalisation, one zone conversion, then work
proportional to the number's own entries; nothing proportional to the number of numbers.
"""
from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

from rules.compiled import CompiledNumber, Entry
from rules.numbers import normalise_called, normalise_caller
from rules.plan import Plan
from rules.ruleset import RuleSet
from rules.schedule import DayContext

__all__ = ["plan_call", "UNKNOWN_CAUSE"]

UNKNOWN_CAUSE = "UNALLOCATED_NUMBER"


def _select(entries: tuple[Entry, ...], day: DayContext, caller: str,
            trace: list[str]) -> list:
    taken = []
    for e in entries:
        why = e.schedule.check(day, caller) if e.schedule is not None else None
        if why is None:
            taken.append(e.value)
            trace.append(e.taken)
        else:
            trace.append(f"{e.label}: skipped: {why}")
    return taken


def _first(entries: tuple[Entry, ...], day: DayContext, caller: str,
           trace: list[str]) -> tuple[object, str]:
    """The value of the first entry that holds and its label ("hangup[0]"), or (None, "");
    the entries after it are traced as skipped because it already holds."""
    value, holder = None, ""
    for e in entries:
        if holder:
            trace.append(f"{e.label}: skipped: {holder} already holds")
            continue
        why = e.schedule.check(day, caller) if e.schedule is not None else None
        if why is None:
            value, holder = e.value, e.label.split(" ", 1)[0]
            trace.append(e.taken)
        else:
            trace.append(f"{e.label}: skipped: {why}")
    return value, holder


def _unknown(ruleset: RuleSet, called: str | None, caller: str | None, at: datetime) -> Plan:
    region = ruleset.defaults.region
    number = normalise_called(called, region) or (called or "")
    return Plan(
        number=number,
        caller=normalise_caller(caller, region),
        local_time=at.astimezone(ZoneInfo(ruleset.defaults.timezone)),
        hangup=UNKNOWN_CAUSE,
        trace=(f"{number or '(no number)'}: unknown number, refused with {UNKNOWN_CAUSE}",),
        known=False,
    )


def plan_call(ruleset: RuleSet, called: str | None, caller: str | None, at: datetime) -> Plan:
    if at.tzinfo is None or at.utcoffset() is None:
        raise ValueError("plan_call needs an aware datetime (with a time zone)")
    number: CompiledNumber | None = ruleset.find(called)
    if number is None:
        return _unknown(ruleset, called, caller, at)

    local = at.astimezone(number.tz)
    who = normalise_caller(caller, number.region)
    day = DayContext(local, number.calendar)
    trace: list[str] = []
    start = _select(number.start, day, who, trace)

    cause, holder = _first(number.hangup, day, who, trace)

    forward: list = []
    voicemail = None
    if cause is not None:
        for e in number.forwarding:
            trace.append(f"{e.label}: skipped: {holder} holds")
        for e in number.voicemail:
            trace.append(f"{e.label}: skipped: {holder} holds")
    else:
        forward = _select(number.forwarding, day, who, trace)
        voicemail, _ = _first(number.voicemail, day, who, trace)

    end = _select(number.end, day, who, trace)
    return Plan(
        number=number.number,
        caller=who,
        local_time=local,
        start=tuple(start),
        hangup=cause,
        forward=tuple(forward),
        voicemail=voicemail,
        end=tuple(end),
        trace=tuple(trace),
    )
