"""Deferred numbers: compiled once on first use, refused ones fall back to the version in
force, and a RuleSet holding them behaves exactly like one holding compiled numbers."""
from __future__ import annotations

import json
from datetime import datetime
from zoneinfo import ZoneInfo

import pytest

import rules.deferred
from rules.compiled import CompiledNumber
from rules.deferred import DeferredNumber, resolve
from rules.loader import compile_number
from rules.models import Defaults
from rules.planner import plan_call
from rules.ruleset import RuleSet

A = "+551140040001"
BR = Defaults(timezone="America/Sao_Paulo", region="BR")
AT = datetime(2026, 11, 27, 10, 0, tzinfo=ZoneInfo("America/Sao_Paulo"))


def hangup(cause: str) -> str:
    return json.dumps({"hangup": [{"cause": cause}]})


class Reports:
    def __init__(self):
        self.seen: list[tuple[str, list[str], CompiledNumber | None]] = []

    def __call__(self, e164, exc, kept):
        self.seen.append((e164, exc.lines(), kept))


def deferred(raw: str, previous=None, reports=None, e164=A, prefixes=()) -> DeferredNumber:
    return DeferredNumber(e164, raw, BR, prefixes, previous, reports or Reports())


def test_compiled_once_and_the_same_object_after():
    d = deferred(hangup("USER_BUSY"))
    assert not d.resolved and d.number == A
    first = d.resolve()
    assert type(first) is CompiledNumber and first.number == A
    assert d.resolved and d.resolve() is first and resolve(d) is first
    assert first.hangup[0].value == "USER_BUSY"


def test_refused_entry_keeps_the_previous_version_and_is_reported_once():
    previous = compile_number(A, json.loads(hangup("CALL_REJECTED")), BR)
    reports = Reports()
    d = deferred('{"hangup": [{"cause": "USER_BUSY"}', previous, reports)
    assert d.resolve() is previous and d.resolve() is previous
    [(number, errors, kept)] = reports.seen
    assert number == A and kept is previous
    assert errors[0].startswith(f"numbers.{A}: stored entry is not valid JSON")


def test_refused_entry_without_a_previous_version_is_not_served():
    reports = Reports()
    d = deferred(hangup("NOT_A_CAUSE"), None, reports)
    rs = RuleSet({A: d}, BR)
    assert rs.find(A) is None and rs.get(A) is None and A not in rs
    with pytest.raises(KeyError):
        rs[A]
    plan = plan_call(rs, A, None, AT)
    assert not plan.known and plan.hangup == "UNALLOCATED_NUMBER"
    assert reports.seen == [(A, [f"numbers.{A}.hangup[0].cause: unknown hangup cause 'NOT_A_CAUSE' "
                                 "(FreeSWITCH names such as NORMAL_CLEARING, CALL_REJECTED, "
                                 "USER_BUSY, UNALLOCATED_NUMBER)"], None)]


def test_a_refused_entry_falls_back_through_a_deferred_previous_version():
    older = deferred(hangup("NO_ANSWER"))          # swapped in, never compiled yet
    reports = Reports()
    newer = deferred("[]", older, reports)          # JSON, but not an entry
    got = newer.resolve()
    assert got is older.resolve() and got.hangup[0].value == "NO_ANSWER"
    assert reports.seen[0][2] is got


def test_the_deployment_allow_list_applies_to_deferred_entries():
    reports = Reports()
    raw = json.dumps({"forwarding": [{"to": "+244923000000"}]})
    assert deferred(raw, None, reports, prefixes=("+55",)).resolve() is None
    assert "allow-list" in reports.seen[0][1][0]


def test_a_bug_while_compiling_is_reported_like_a_refusal(monkeypatch):
    previous = compile_number(A, json.loads(hangup("CALL_REJECTED")), BR)

    def broken(*args):
        raise RuntimeError("boom")
    monkeypatch.setattr(rules.deferred, "compile_entry", broken)
    reports = Reports()
    assert deferred(hangup("USER_BUSY"), previous, reports).resolve() is previous
    assert reports.seen[0][1] == [f"numbers.{A}: internal error while compiling: RuntimeError('boom')"]


def test_a_ruleset_of_deferred_numbers_plans_like_a_compiled_one():
    compiled = RuleSet({A: compile_number(A, json.loads(hangup("USER_BUSY")), BR)}, BR)
    lazy = RuleSet({A: deferred(hangup("USER_BUSY"))}, BR)
    # national notation of the dialled number, read with the defaults' region
    for called in (A, "1140040001", "01140040001"):
        want, got = plan_call(compiled, called, "11988887777", AT), plan_call(lazy, called, "11988887777", AT)
        assert got == want and got.hangup == "USER_BUSY"
    assert lazy.entries == compiled.entries == 1
    assert [n.number for n in lazy.compiled()] == [A]
    replaced = lazy.replace({A: deferred(hangup("NO_ANSWER"))})
    assert replaced.find(A).hangup[0].value == "NO_ANSWER"
    assert lazy.find(A).hangup[0].value == "USER_BUSY"          # the old set is untouched
