"""Look-alike characters in a configuration and in a caller ID (issue "Hostile input", 4).

Every value that reaches a dial string, a path, an e-mail header or a caller match is
plain ASCII after NFKC, or the loader refuses the file naming the field and the
character. A caller ID from the switch with such characters is an unknown caller.
"""
from __future__ import annotations

import unicodedata
from datetime import datetime, timezone

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from rules.errors import ConfigError
from rules.loader import load_mapping
from rules.planner import plan_call

# One of each kind the attack used: other scripts' digits, invisible and direction
# characters, spaces that are not spaces, letters that look Latin.
HOSTILE = {
    "\u0663": "ARABIC-INDIC DIGIT THREE",
    "\u0969": "DEVANAGARI DIGIT THREE",
    "\u200b": "ZERO WIDTH SPACE",
    "\u200e": "LEFT-TO-RIGHT MARK",
    "\u202e": "RIGHT-TO-LEFT OVERRIDE",
    "\u00a0": None,        # NO-BREAK SPACE: NFKC makes it a plain space
    "\u0430": "CYRILLIC SMALL LETTER A",
    "\ufeff": "ZERO WIDTH NO-BREAK SPACE",
}

# (field, a good value, where a hostile character goes) -> the entry holding it
FIELDS = {
    "forwarding[0].to[0]": lambda v: {"forwarding": [{"to": [v]}]},
    "forwarding[0].to[0] (sip)": lambda v: {"forwarding": [{"to": [v]}]},
    "messages[0].audio": lambda v: {"messages": [{"audio": v}]},
    "voicemail[0].email[0]": lambda v: {"voicemail": [{"email": [v]}]},
    "forwarding[0].schedule.callers": lambda v: {"forwarding": [{
        "to": ["+5511988880000"], "schedule": {"callers": [v]}}]},
}
GOOD = {"forwarding[0].to[0]": "+5511988880000", "forwarding[0].to[0] (sip)": "sip:ana@pbx.example.com",
        "messages[0].audio": "welcome.wav", "voicemail[0].email[0]": "ops@example.com",
        "forwarding[0].schedule.callers": "+5521988880000"}


def load(entry: dict):
    return load_mapping({"defaults": {"region": "BR"}, "numbers": {"+551140040000": entry}})


def every_value(rs) -> list[str]:
    """Every string inside the compiled number, however deep."""
    out, todo, seen = [], [rs["+551140040000"]], set()
    while todo:
        obj = todo.pop()
        if isinstance(obj, str):
            out.append(obj)
        elif id(obj) in seen or isinstance(obj, (int, float, bool, type(None))):
            continue
        elif isinstance(obj, dict):
            todo += list(obj.keys()) + list(obj.values())
        elif isinstance(obj, (list, tuple, set, frozenset)):
            todo += list(obj)
        else:
            seen.add(id(obj))
            names = getattr(type(obj), "__slots__", ()) or getattr(obj, "__dict__", {}).keys()
            todo += [getattr(obj, n, None) for n in names]
    return out


@pytest.mark.parametrize("field", FIELDS)
@pytest.mark.parametrize("char", HOSTILE)
def test_a_hostile_character_is_refused_by_name_or_made_ascii(field, char):
    good = GOOD[field]
    value = good[:4] + char + good[4:]
    try:
        rs = load(FIELDS[field](value))
    except ConfigError as err:
        text = "\n".join(err.lines())
        path = field.split(" ")[0]
        assert f"numbers.+551140040000.{path}" in text, text
        name = HOSTILE[char]
        if name is not None:
            assert name in text and f"U+{ord(char):04X}" in text, text
        return
    # accepted only when NFKC turned it into ASCII, and then it holds no trace of it
    assert unicodedata.normalize("NFKC", char).isascii()
    assert all(v.isascii() for v in every_value(rs)), every_value(rs)


def test_full_width_digits_are_the_digits_they_look_like():
    rs = load({"forwarding": [{"to": ["\uff0b\uff15\uff15\uff11\uff11\uff19\uff18\uff18\uff18"
                                      "\uff18\uff10\uff10\uff10\uff10"]}]})
    assert rs["+551140040000"].forwarding[0].value.to == ("+5511988880000",)


@settings(max_examples=300, deadline=None)
@given(st.text(min_size=1, max_size=24))
def test_fuzz_whatever_the_loader_accepts_is_ascii(text):
    for field, make in FIELDS.items():
        try:
            rs = load(make(text))
        except ConfigError:
            continue
        assert all(v.isascii() for v in every_value(rs)), (field, text)


def test_a_lookalike_caller_id_is_an_unknown_caller_never_a_match():
    rs = load({"hangup": [{"cause": "CALL_REJECTED", "schedule": {"callers": ["+5511*"]}}],
               "forwarding": [{"to": ["+5511988880000"]}]})
    at = datetime(2026, 12, 4, 15, 0, tzinfo=timezone.utc)
    honest = plan_call(rs, "+551140040000", "+5511977776666", at)
    assert honest.hangup == "CALL_REJECTED"
    # the same digits in Arabic-Indic: Python's \d and int() read them as digits
    arabic = "+" + "".join(chr(0x0660 + int(d)) for d in "5511977776666")
    forged = plan_call(rs, "+551140040000", arabic, at)
    assert forged.caller == "anonymous" and forged.hangup is None
    spaced = plan_call(rs, "+551140040000", "+55\u200b11977776666", at)
    assert spaced.caller == "anonymous" and spaced.hangup is None


def test_the_walker_sees_every_configured_value():
    # guards the two tests above against checking an empty list
    values = set()
    for field, make in FIELDS.items():
        values |= set(every_value(load(make(GOOD[field]))))
    assert {"+5511988880000", "sip:ana@pbx.example.com", "welcome.wav",
            "ops@example.com", "+5521988880000"} <= values
