"""rules.lint: entries that can never take effect (exact lines), no false warnings, media."""
import wave
from datetime import date, datetime, timedelta, timezone
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from rules.lint import check_media, lint, playable
from rules.loader import load_file, load_mapping, read_file
from rules.planner import plan_call

ROOT = Path(__file__).parents[2]
GOOD = Path(__file__).parent / "fixtures" / "good"
TODAY = date(2026, 11, 27)
N = "+551140040000"


def lines(number: dict, today=TODAY, zone="America/Sao_Paulo") -> list[str]:
    rs = load_mapping({"defaults": {"timezone": zone, "region": "BR"}, "numbers": {N: number}})
    return [w.line() for w in lint(rs, today)]


def at(kind: str, i: int, message: str) -> str:
    return f"numbers.{N}.{kind}[{i}]: warning: {message}"


FWD = {"to": "+5511999990000"}
VM = {"email": "ops@example.com"}


# --- 1. schedules that never hold ----------------------------------------------------

def test_callers_all_in_except_callers():
    assert lines({"forwarding": [{**FWD, "schedule": {"callers": ["+5521*", "21988880000"],
                                                      "except_callers": ["+55*"]}}]}) == [
        at("forwarding", 0, "never holds: every caller in callers [+5521*, +5521988880000] is "
                            "in except_callers [+55*]")]


def test_except_callers_excluding_everyone():
    assert lines({"messages": [{"audio": "a.wav",
                                "schedule": {"except_callers": ["anonymous", "+*"]}}]}) == [
        at("messages", 0, "never holds: except_callers [anonymous, +*] excludes every caller")]


def test_callers_partly_excluded_is_fine():
    assert lines({"forwarding": [
        {**FWD, "schedule": {"callers": ["+55*"], "except_callers": ["+5521*"]}},
        {**FWD, "schedule": {"callers": ["anonymous", "+5521*"], "except_callers": ["+5521*"]}},
        {**FWD, "schedule": {"callers": ["+5521*"], "except_callers": ["+55210*", "+55211*"]}},
    ]}) == []


def test_dates_on_none_of_its_days():
    assert lines({"messages": [{"audio": "a.wav", "schedule": {
        "days": ["sat", "sun"], "dates": ["2026-12-23..2026-12-25", "2027-01-01"]}}]}) == [
        at("messages", 0, "never holds: none of its dates [2026-12-23..2026-12-25, 2027-01-01] "
                          "is on its days [sat, sun]")]


def test_a_holiday_is_only_holiday():
    # Christmas 2026 is a Friday, but a holiday counts only as `holiday`.
    entry = {"audio": "a.wav", "schedule": {"days": "mon-fri", "dates": "2026-12-25"}}
    assert lines({"holidays": {"country": "BR"}, "messages": [entry]}) == [
        at("messages", 0, "never holds: none of its dates [2026-12-25] is on its days [mon-fri]")]
    assert lines({"messages": [entry]}) == []  # no calendar: a Friday like any other


def test_dates_in_the_past():
    assert lines({"voicemail": [{**VM, "schedule": {"dates": ["2026-11-01..2026-11-20",
                                                              "2026-11-26"]}}]}) == [
        at("voicemail", 0, "never holds again: its dates [2026-11-01..2026-11-20, 2026-11-26] "
                           "are all before today (2026-11-27 in America/Sao_Paulo)")]


def test_yesterday_night_still_runs_this_morning():
    number = {"forwarding": [{**FWD, "schedule": {"dates": "2026-11-26",
                                                  "hours": "22:00-06:00"}}]}
    assert lines(number) == []
    assert lines(number, today=date(2026, 11, 28)) == [
        at("forwarding", 0, "never holds again: its dates [2026-11-26] are all before today "
                            "(2026-11-28 in America/Sao_Paulo)")]


def test_today_is_the_local_date_of_each_number():
    number = {"messages": [{"audio": "a.wav", "schedule": {"dates": "2026-11-26"}}]}
    # 01:00 UTC on the 27th is still the 26th in São Paulo (UTC-3).
    assert lines(number, today=datetime(2026, 11, 27, 1, 0, tzinfo=timezone.utc)) == []
    assert lines(number, today=datetime(2026, 11, 27, 3, 0, tzinfo=timezone.utc)) == [
        at("messages", 0, "never holds again: its dates [2026-11-26] are all before today "
                          "(2026-11-27 in America/Sao_Paulo)")]
    assert lines(number, today=datetime(2026, 11, 27, 1, 0, tzinfo=timezone.utc),
                 zone="UTC") == [
        at("messages", 0, "never holds again: its dates [2026-11-26] are all before today "
                          "(2026-11-27 in UTC)")]


def test_hours_in_a_dst_gap():
    # 2027-03-14 02:00-03:00 does not exist in New York (clocks go from 02:00 to 03:00).
    gap = {"dates": "2027-03-14", "hours": "02:00-03:00"}
    assert lines({"messages": [{"audio": "a.wav", "schedule": gap}]}, zone="America/New_York") == [
        at("messages", 0, "never holds: its hours fall in a daylight-saving gap of "
                          "America/New_York on every day its dates and days allow")]
    ok = [{"dates": "2027-03-14", "hours": "02:00-03:01"},
          {"dates": "2027-03-14..2027-03-15", "hours": "02:00-03:00"},
          {"dates": "2027-03-13", "hours": "23:00-02:30"}]
    assert lines({"messages": [{"audio": "a.wav", "schedule": s} for s in ok]},
                 zone="America/New_York") == []


def test_holiday_only_on_past_extra_dates():
    number = {"holidays": {"extra": ["2025-12-24", "2026-01-02"]},
              "messages": [{"audio": "a.wav", "schedule": {"days": "holiday"}}]}
    assert lines(number) == [
        at("messages", 0, "never holds again: its holiday calendar's extra dates are all "
                          "before today (2026-11-27 in America/Sao_Paulo)")]
    assert lines(number, today=date(2026, 1, 1)) == []
    # A country's holidays recur every year.
    assert lines({**number, "holidays": {"country": "BR", "extra": "2025-12-24"}}) == []


def test_windows_are_never_empty_by_themselves():
    assert lines({"messages": [{"audio": "a.wav", "schedule": {"hours": h}}
                               for h in ("08:00-08:00", "00:00-00:00", "23:59-24:00")]}) == []


# --- 2. shadowed by a hangup ---------------------------------------------------------

def test_everything_after_an_unconditional_hangup():
    got = lines({"messages": [{"audio": "hello.wav"}, {"audio": "bye.wav", "at": "end"}],
                 "forwarding": [FWD, {**FWD, "schedule": {"days": "mon"}}],
                 "voicemail": [VM],
                 "hangup": [{"cause": "CALL_REJECTED"}, {"cause": "USER_BUSY"}]})
    assert got == [
        at("forwarding", 0, "never used: hangup[0] always holds (a hangup skips forwarding "
                            "and voicemail)"),
        at("forwarding", 1, "never used: hangup[0] always holds (a hangup skips forwarding "
                            "and voicemail)"),
        at("voicemail", 0, "never used: hangup[0] always holds (a hangup skips forwarding "
                           "and voicemail)"),
        at("hangup", 1, "never used: hangup[0] always holds (only the first hangup that "
                        "holds is used)"),
    ]  # messages play under a hangup: none reported


def test_a_schedule_that_always_holds_is_unconditional():
    always = {"days": ["mon-sun"], "hours": ["00:00-12:00", "12:00-24:00"],
              "callers": ["anonymous", "+*"]}
    assert lines({"forwarding": [FWD], "hangup": [{"schedule": always}]}) == [
        at("forwarding", 0, "never used: hangup[0] always holds (a hangup skips forwarding "
                            "and voicemail)")]
    # With a holiday calendar, mon-sun leaves the holidays out.
    assert lines({"holidays": {"country": "BR"}, "forwarding": [FWD],
                  "hangup": [{"schedule": always}]}) == []


def test_forwarding_inside_a_hangup_schedule():
    got = lines({"forwarding": [{**FWD, "schedule": {"days": "sun", "hours": "10:00-12:00"}},
                                {**FWD, "schedule": {"days": "sun", "hours": "22:00-02:00"}},
                                {**FWD, "schedule": {"days": "sat-sun"}}],
                 "hangup": [{"schedule": {"days": "sun", "except_callers": "anonymous"}}]})
    # [0]: Sunday morning, but withheld callers are not hung up on: not dead.
    assert got == []
    got = lines({"forwarding": [{**FWD, "schedule": {"days": "sun", "hours": "10:00-12:00",
                                                     "callers": "+5521*"}},
                                {**FWD, "schedule": {"days": "sun", "hours": "22:00-02:00",
                                                     "callers": "+5521*"}}],
                 "hangup": [{"schedule": {"days": "sun", "except_callers": "anonymous"}}]})
    assert got == [at("forwarding", 0, "never used: hangup[0] holds whenever this entry does "
                                       "(a hangup skips forwarding and voicemail)")]
    # [1] runs past midnight into Monday, when the hangup does not hold.


# --- 3. first-holding lists ----------------------------------------------------------

def test_voicemail_after_an_unconditional_one():
    assert lines({"voicemail": [VM, {**VM, "schedule": {"days": "sat"}}]}) == [
        at("voicemail", 1, "never used: voicemail[0] always holds (only the first voicemail "
                           "that holds is used)")]
    assert lines({"voicemail": [{**VM, "schedule": {"days": "sat"}}, VM]}) == []


def test_voicemail_implied_by_an_earlier_schedule():
    first = {**VM, "schedule": {"days": "mon-fri", "hours": ["08:00-12:00", "12:00-18:00"],
                                "except_callers": "anonymous"}}
    assert lines({"voicemail": [first, {**VM, "schedule": {"days": "mon", "hours": "09:00-10:00",
                                                           "callers": "+5521*"}}]}) == [
        at("voicemail", 1, "never used: voicemail[0] holds whenever this entry does (only the "
                           "first voicemail that holds is used)")]
    not_implied = [{"days": "mon", "hours": "09:00-10:00", "callers": "anonymous"},
                   {"days": "mon", "hours": "17:00-19:00"},
                   {"days": "sat", "hours": "09:00-10:00"},
                   {"days": "fri", "hours": "17:00-09:00"},  # Saturday morning
                   {"hours": "09:00-10:00"}]
    for s in not_implied:
        assert lines({"voicemail": [first, {**VM, "schedule": s}]}) == [], s


def test_overnight_tails_and_dates():
    first = {**VM, "schedule": {"days": "fri", "dates": "2026-12-01..2026-12-31",
                                "hours": "20:00-07:00"}}
    assert lines({"voicemail": [first, {**VM, "schedule": {
        "days": "fri", "dates": "2026-12-04", "hours": "22:00-06:00"}}]}) == [
        at("voicemail", 1, "never used: voicemail[0] holds whenever this entry does (only the "
                           "first voicemail that holds is used)")]
    for s in ({"days": "fri", "dates": "2026-12-04", "hours": "22:00-08:00"},
              {"days": "fri", "dates": "2027-01-01", "hours": "22:00-06:00"},
              {"days": ["fri", "sat"], "dates": "2026-12-04..2026-12-05"}):
        assert lines({"voicemail": [first, {**VM, "schedule": s}]}) == [], s


def test_dead_entries_do_not_shadow_and_are_reported_once():
    assert lines({"voicemail": [{**VM, "schedule": {"dates": "2020-01-01"}},
                                {**VM, "schedule": {"dates": "2020-01-01"}}]}) == [
        at("voicemail", i, "never holds again: its dates [2020-01-01] are all before today "
                           "(2026-11-27 in America/Sao_Paulo)") for i in (0, 1)]


# --- the shipped files ---------------------------------------------------------------

def test_no_warning_on_the_example_and_the_good_fixtures():
    for path in [ROOT / "examples" / "rules.yaml", *sorted(GOOD.glob("*.yaml"))]:
        assert lint(load_file(path), TODAY) == [], path


def test_the_example_has_one_dated_message():
    # It is a dated Christmas message: it becomes dead once Christmas week is over.
    warnings = lint(load_file(ROOT / "examples" / "rules.yaml"), date(2026, 12, 27))
    assert [w.line() for w in warnings] == [
        "numbers.+558001234567.messages[1]: warning: never holds again: its dates "
        "[2026-12-20..2026-12-26] are all before today (2026-12-27 in America/Sao_Paulo)"]


# --- property: what the linter calls dead is never taken -----------------------------

_DAYS = st.sampled_from([None, "mon-fri", "sat", ["sat", "sun"], "fri-mon", "sun",
                         ["mon-sun", "holiday"], "holiday"])
_HOURS = st.sampled_from([None, "08:00-18:00", "22:00-06:00", ["00:00-12:00", "12:00-24:00"],
                          "09:00-10:00", "01:30-03:30", "18:00-08:00"])
_DATES = st.sampled_from([None, "2026-03-08", "2026-12-25", "2026-01-01..2026-06-30",
                          "2025-05-01..2025-05-31", ["2026-11-01", "2026-11-02"]])
_CALLERS = st.sampled_from([None, "anonymous", "+5521*", ["+55*", "anonymous"], "+*",
                            "+5521988880000"])
_SCHEDULE = st.one_of(st.none(), st.fixed_dictionaries({}, optional={
    "days": _DAYS, "hours": _HOURS, "dates": _DATES, "callers": _CALLERS,
    "except_callers": _CALLERS}).map(lambda d: {k: v for k, v in d.items() if v is not None}))


def _with(schedule, entry):
    return entry if schedule is None else {**entry, "schedule": schedule}


_NUMBER = st.fixed_dictionaries({
    "timezone": st.sampled_from(["America/Sao_Paulo", "America/New_York", "UTC"]),
    "holidays": st.sampled_from([{"country": "BR"}, {"extra": ["2026-03-08", "2025-12-25"]}]),
    "forwarding": st.lists(_SCHEDULE.map(lambda s: _with(s, FWD)), max_size=3),
    "voicemail": st.lists(_SCHEDULE.map(lambda s: _with(s, VM)), max_size=3),
    "hangup": st.lists(_SCHEDULE.map(lambda s: _with(s, {})), max_size=2),
    "messages": st.lists(_SCHEDULE.map(lambda s: _with(s, {"audio": "a.wav"})), max_size=2),
})
_START = datetime(2026, 1, 1, 3, 0, tzinfo=timezone.utc)  # after midnight everywhere used


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(number=_NUMBER,
       minutes=st.lists(st.integers(0, 366 * 24 * 60), min_size=30, max_size=30),
       callers=st.lists(st.sampled_from([None, "+5521988880000", "+5511988887777",
                                         "+14155550100"]), min_size=30, max_size=30))
def test_an_entry_called_dead_is_never_taken(number, minutes, callers):
    rs = load_mapping({"defaults": {"region": "BR"}, "numbers": {N: number}})
    dead = {w.path.rsplit(".", 1)[1] for w in lint(rs, date(2026, 1, 1))}
    instants = [_START + timedelta(minutes=m) for m in minutes]
    # Also the hours just around the New York DST gap, where a window may not exist.
    instants += [datetime(2026, 3, 8, 6, 0, tzinfo=timezone.utc) + timedelta(minutes=17 * k)
                 for k in range(12)]
    for when, caller in zip(instants, callers * 2):
        for line in plan_call(rs, N, caller, when).trace:
            if line.endswith(": taken"):
                assert line.split(" ", 1)[0] not in dead, (line, when, caller)


# --- media -----------------------------------------------------------------------------

def _wav(path: Path, rate=8000, channels=1, width=2, frames=800):
    path.parent.mkdir(parents=True, exist_ok=True)
    with wave.open(str(path), "wb") as w:
        w.setnchannels(channels)
        w.setsampwidth(width)
        w.setframerate(rate)
        w.writeframes(b"\0" * frames * channels * width)


def test_playable_says_exactly_what_it_accepts(tmp_path):
    for rate in (8000, 16000, 48000):
        for channels in (1, 2):
            _wav(tmp_path / "ok.wav", rate, channels)
            assert playable(tmp_path / "ok.wav") is None
    _wav(tmp_path / "a.wav", rate=44100, channels=3, width=1)
    assert playable(tmp_path / "a.wav") == ("8-bit samples, not 16-bit; 44100 Hz, not 8000, "
                                            "16000 or 48000; 3 channels, not mono or stereo")
    (tmp_path / "b.wav").write_bytes(b"ID3\x03 not audio at all")
    assert playable(tmp_path / "b.wav") == "not a PCM WAV file (file does not start with RIFF id)"
    (tmp_path / "c.wav").write_bytes(b"RIFF\x00\x00")
    assert playable(tmp_path / "c.wav") == "not a PCM WAV file (truncated)"


def test_check_media_names_the_file_and_the_entry(tmp_path):
    _wav(tmp_path / "welcome.wav")
    _wav(tmp_path / "sub" / "vm.wav", rate=22050)
    configs: dict = {}
    load_mapping({"numbers": {N: {
        "messages": [{"audio": "welcome.wav"}, {"audio": "missing.wav", "at": "end"},
                     {"audio": "welcome.wav", "schedule": {"days": "sun"}}],
        "voicemail": [VM, {**VM, "greeting": "sub/vm.wav"}, {**VM, "greeting": "missing.wav"}],
    }}}, configs=configs)
    expected = [
        (f"numbers.{N}.messages[1].audio", f"missing.wav: not found in {tmp_path}"),
        (f"numbers.{N}.voicemail[1].greeting", "sub/vm.wav: 22050 Hz, not 8000, 16000 or 48000"),
        (f"numbers.{N}.voicemail[2].greeting", f"missing.wav: not found in {tmp_path}"),
    ]
    assert check_media(configs, tmp_path) == expected


def test_the_example_media_is_complete():
    configs: dict = {}
    rs = load_mapping(read_file(ROOT / "examples" / "rules.yaml"), configs=configs)
    assert check_media(configs, ROOT / "media") == []
    assert check_media(rs, ROOT / "media") == []
    assert check_media(rs, ROOT / "tests") != []
