"""The linter: configured entries that can never take effect, and audio that cannot play.

Contract:

* ``lint(source, today) -> list[Warning]`` is pure (no clock, no I/O). ``source`` is a
  ``RuleSet`` (or any mapping of E.164 to ``CompiledNumber``, or an iterable of
  ``CompiledNumber``). ``today`` is a ``date`` (used for every number) or an aware
  ``datetime`` (each number's local date in its own zone). Each ``Warning`` has the
  entry's ``path`` (``numbers.+551140040000.forwarding[1]``) and a ``message``;
  ``Warning.line()`` is ``"<path>: warning: <message>"``. One warning per entry at most,
  in the order of the number's entries.
* ``check_media(source, media_dir) -> list[(path, message)]``: every audio the
  configuration names (``messages[i].audio``, ``voicemail[i].greeting``) must be a file in
  ``media_dir`` that ``playable()`` accepts. ``source`` is the ``configs`` dict that
  ``rules.loader.load_mapping(..., configs=...)`` fills (E.164 -> ``NumberConfig``) or a
  ``RuleSet``. The only function here that does I/O.

Every rule is exact in one direction: an entry is reported only when it provably never
takes effect for any caller at any instant from ``today`` on (docs/design.md "What a call
gets" is the semantics: start messages, the first hangup that holds, else every forward
that holds and the first voicemail that holds, then end messages). When the analysis
cannot decide, nothing is reported. The rules:

1. *The schedule never holds.* (a) Its callers are all excluded: every pattern in
   ``callers`` (or every caller, when it has none) is covered by ``except_callers``
   (``anonymous`` by ``anonymous``; a number or ``+prefix*`` by an equal number or a
   shorter prefix). (b) Its day set is finite — it has ``dates``, or its ``days`` are only
   ``holiday`` on a calendar of ``extra`` dates only — and no day of it from yesterday on
   both matches ``days`` (a holiday only as ``holiday``) and has a local minute in one of
   its hours windows (a window wholly inside a daylight-saving gap does not happen). The
   message says which: no date on its days, all dates in the past, or every window in a
   DST gap. Only 4,000 candidate days are looked at per schedule; past that it is assumed
   to hold. An ``hours`` window is never empty by itself: ``08:00-08:00`` is 24 hours.
2. *Shadowed by a hangup.* A forwarding or voicemail entry whose schedule implies the
   schedule of some hangup entry (whenever it holds, that hangup holds too) never runs:
   a hangup skips forwarding and voicemail. Messages are never shadowed: start and end
   messages play under a hangup too.
3. *Shadowed by an earlier entry of a first-holding list*: a voicemail or hangup entry
   whose schedule implies that of an earlier entry of the same list.

"Implies" is a sufficient test, never a guess: an entry without schedule implies only a
schedule that always holds; otherwise the callers of the later one must be covered by
the earlier one's ``callers`` and be outside its ``except_callers``, its days mask must be
a subset (``days`` missing on the earlier one, or all seven days plus ``holiday``), its
``dates`` inside the earlier one's, and each of its hours windows inside the earlier
one's windows of the same kind (same-day part, or after-midnight tail), or anywhere in
the earlier one's windows when the earlier one holds on every date. A union of several
earlier entries covering a later one is not detected.
"""
from __future__ import annotations

import os
import wave
from collections.abc import Iterable, Mapping
from datetime import date, datetime
from typing import NamedTuple
from zoneinfo import ZoneInfo

from rules.compiled import CompiledNumber, Entry
from rules.holidays_calendar import NumberCalendar
from rules.schedule_facts import always, implies, never_holds

__all__ = ["Warning", "LintWarning", "lint", "check_media", "playable", "RATES",
           "CHANNELS", "SAMPLE_WIDTH"]



class LintWarning(NamedTuple):
    path: str
    message: str

    def line(self) -> str:
        return f"{self.path}: warning: {self.message}"


Warning = LintWarning  # the name the design uses; shadows the builtin only in this module


# --- lint ------------------------------------------------------------------------------

def _numbers(source) -> Iterable[CompiledNumber]:
    if hasattr(source, "compiled"):
        return source.compiled()
    if isinstance(source, Mapping):
        return source.values()
    return source


def _where(entry: Entry) -> str:
    return entry.label.split(" ", 1)[0]


def _local_today(today: date | datetime, tz: ZoneInfo) -> int:
    if isinstance(today, datetime):
        if today.tzinfo is None or today.utcoffset() is None:
            raise ValueError("lint needs a date or an aware datetime for today")
        return today.astimezone(tz).date().toordinal()
    return today.toordinal()


def _lint_number(n: CompiledNumber, today: date | datetime, memo: dict) -> list[LintWarning]:
    # Schedules and calendars are shared objects across numbers (rules.compiled), so one
    # verdict per (schedule, calendar, zone, day) and per pair serves thousands of numbers.
    cal, tz = n.calendar, n.tz
    day = _local_today(today, tz)
    found: dict[str, str] = {}

    def never(s):
        if s is None:
            return None
        key = (s, cal, tz, day)
        if key not in memo:
            memo[key] = never_holds(s, cal, tz, day)
        return memo[key]

    def implied(j, i):
        key = (j, i, cal)
        if key not in memo:
            memo[key] = implies(j, i, cal)
        return memo[key]

    kinds = (n.start, n.end, n.forwarding, n.voicemail, n.hangup)
    dead = set()
    for entries in kinds:
        for e in entries:
            why = never(e.schedule)
            if why is not None:
                found[_where(e)] = why
                dead.add(id(e))
    live_hangups = [h for h in n.hangup if id(h) not in dead]

    def first_holder(e: Entry, earlier: Iterable[Entry]) -> Entry | None:
        for i in earlier:
            if implied(e.schedule, i.schedule):
                return i
        return None

    for k, h in enumerate(n.hangup):
        if id(h) in dead:
            continue
        holder = first_holder(h, [x for x in n.hangup[:k] if id(x) not in dead])
        if holder is not None:
            found[_where(h)] = _shadow(holder, cal, "only the first hangup that holds is used")
    for entries in (n.forwarding, n.voicemail):
        for k, e in enumerate(entries):
            if id(e) in dead:
                continue
            holder = first_holder(e, live_hangups)
            if holder is not None:
                found[_where(e)] = _shadow(holder, cal, "a hangup skips forwarding and voicemail")
                continue
            if entries is n.voicemail:
                holder = first_holder(e, [x for x in n.voicemail[:k] if id(x) not in dead])
                if holder is not None:
                    found[_where(e)] = _shadow(holder, cal,
                                               "only the first voicemail that holds is used")
    root = f"numbers.{n.number}."
    return [LintWarning(root + where, found[where]) for where in sorted(found, key=_order)]


_KIND_ORDER = {"messages": 0, "forwarding": 1, "voicemail": 2, "hangup": 3}


def _order(where: str) -> tuple[int, int]:
    kind, _, index = where.partition("[")
    return _KIND_ORDER.get(kind, 9), int(index.rstrip("]"))


def _shadow(holder: Entry, cal: NumberCalendar | None, rule: str) -> str:
    name = _where(holder)
    if always(holder.schedule, cal):
        return f"never used: {name} always holds ({rule})"
    return f"never used: {name} holds whenever this entry does ({rule})"


def lint(source, today: date | datetime) -> list[LintWarning]:
    out: list[LintWarning] = []
    memo: dict = {}
    for n in _numbers(source):
        out += _lint_number(n, today, memo)
    return out


# --- media -----------------------------------------------------------------------------

RATES = (8000, 16000, 48000)
CHANNELS = (1, 2)
SAMPLE_WIDTH = 2


def playable(path: str | os.PathLike) -> str | None:
    """None if ``path`` is a WAV the switches play, else why not.

    Accepted, exactly: a RIFF/WAVE file that the standard ``wave`` module reads (so
    uncompressed integer PCM, format tag 1: no A-law, mu-law, float or ADPCM; Python
    3.11's ``wave`` also refuses WAVE_FORMAT_EXTENSIBLE), 16-bit samples, mono or stereo,
    at 8000, 16000 or 48000 Hz. Why: 16-bit signed linear is the switches' own audio
    (FreeSWITCH's L16, Asterisk's slin); 8 kHz mono is the telephone rate and plays
    without transcoding (docs/operations.md, the repository's ``media/``); 16 and 48 kHz
    mono or stereo are the other rates this project accepts for the switches to resample.
    The engine measures a message's length with ``wave`` (``engine.media``), so a file
    ``wave`` cannot read would have no known length either. Anything else (8/24/32-bit
    samples, 11.025/22.05/44.1 kHz, more than two channels) is refused rather than
    trusted to play.
    """
    try:
        with wave.open(os.fspath(path), "rb") as w:
            rate, channels, width = w.getframerate(), w.getnchannels(), w.getsampwidth()
    except wave.Error as exc:
        return f"not a PCM WAV file ({exc})"
    except EOFError:
        return "not a PCM WAV file (truncated)"
    except (OSError, ValueError) as exc:
        return f"cannot be read ({getattr(exc, 'strerror', None) or exc})"
    problems = []
    if width != SAMPLE_WIDTH:
        problems.append(f"{8 * width}-bit samples, not 16-bit")
    if rate not in RATES:
        problems.append(f"{rate} Hz, not 8000, 16000 or 48000")
    if channels not in CHANNELS:
        problems.append(f"{channels} channels, not mono or stereo")
    return "; ".join(problems) or None


def _audio_of(source) -> Iterable[tuple[str, str]]:
    """(path, audio name) of every audio the configuration names."""
    if hasattr(source, "compiled") or (isinstance(source, Mapping) and source
                                       and isinstance(next(iter(source.values())),
                                                      CompiledNumber)):
        numbers = source.compiled() if hasattr(source, "compiled") else source.values()
        for n in numbers:
            root = f"numbers.{n.number}."
            messages = sorted(n.start + n.end, key=lambda e: _order(_where(e)))
            for e in messages:
                yield root + _where(e) + ".audio", e.value
            for e in n.voicemail:
                if e.value.greeting is not None:
                    yield root + _where(e) + ".greeting", e.value.greeting
        return
    for e164, config in source.items():
        root = f"numbers.{e164}."
        for k, m in enumerate(config.messages):
            yield f"{root}messages[{k}].audio", m.audio
        for k, v in enumerate(config.voicemail):
            if v.greeting is not None:
                yield f"{root}voicemail[{k}].greeting", v.greeting


def check_media(source, media_dir: str | os.PathLike) -> list[tuple[str, str]]:
    errors: list[tuple[str, str]] = []
    verdicts: dict[str, str | None] = {}
    folder = os.fspath(media_dir)
    for path, name in _audio_of(source):
        if name not in verdicts:
            full = os.path.join(folder, name)
            if not os.path.isfile(full):
                verdicts[name] = f"not found in {folder}"
            else:
                verdicts[name] = playable(full)
        why = verdicts[name]
        if why is not None:
            errors.append((path, f"{name}: {why}"))
    return errors
