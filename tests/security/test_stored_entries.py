"""What the engine loads from Redis is validated like a file, and a bad entry is refused
while the number's previous good version stays in force (issue "Hostile input", 6).
Before: a stored JSON `null` replaced a good configuration with an empty one."""
from __future__ import annotations

import json

import pytest

from rules.redis_store import NUMBERS, UPDATES, VERSION
from tests.fsim.simulator import Simulator
from tests.helpers.engine_proc import RedisEngine

A, B = "+551140040001", "+551140040002"
GOOD = {"timezone": "UTC", "hangup": [{"cause": "CALL_REJECTED"}]}


def cause_of(sim, number):
    r = sim.place_call(destination_number=number, caller_id_number="+5511988887777", timeout=10)
    return r.apps[-1][1] if r.apps and r.apps[-1][0] == "hangup" else r.apps


@pytest.fixture
def engine(tmp_path, redis_url, store):
    store.push({"defaults": {"region": "BR"}, "numbers": {A: GOOD, B: GOOD}})
    proc = RedisEngine(tmp_path / "engine", redis_url).start()
    proc.wait_health(lambda h: h["status"] == "ok", what="ok")
    yield proc
    proc.stop()


# What a broken or hostile writer can leave under a number's key.
BAD_ENTRIES = {
    "null": ("null", "stored entry must be a JSON object ({} for a number with no features), not null"),
    "a list": ("[]", "not list"),
    "a string": ('"USER_BUSY"', "not str"),
    "truncated JSON": ('{"hangup": [', "stored entry is not valid JSON"),
    "an unknown key": ('{"forward": []}', "unknown key"),
    "a look-alike digit": (json.dumps({"forwarding": [{"to": ["+55119\u0663\u0663888000"]}]}),
                           "U+0663 ARABIC-INDIC DIGIT THREE"),
    "a dial-string injection": (json.dumps({"forwarding": [{"to": ["sip:a@b.com,loopback/x"]}]}),
                                "not a valid SIP destination"),
}


@pytest.mark.parametrize("kind", BAD_ENTRIES)
def test_a_bad_stored_entry_is_refused_and_the_good_version_stays(engine, rclient, kind):
    raw, error = BAD_ENTRIES[kind]
    sim = Simulator(port=engine.port, time_scale=0.01, targets={})
    assert cause_of(sim, A) == "CALL_REJECTED"
    with rclient.pipeline(transaction=True) as p:          # one update: A broken, B changed
        p.hset(NUMBERS, A, raw)
        p.hset(NUMBERS, B, json.dumps({"timezone": "UTC", "hangup": [{"cause": "USER_BUSY"}]}))
        p.incr(VERSION)
        p.publish(UPDATES, json.dumps({"version": 2, "numbers": [A, B]}))
        p.execute()
    engine.wait_health(lambda h: h["rules_version"] == 2, timeout=5, what="v2")
    assert cause_of(sim, A) == "CALL_REJECTED"               # the good version stays
    assert cause_of(sim, B) == "USER_BUSY"                   # the honest change applied
    [line] = engine.logged("invalid configuration in Redis")
    assert line["level"] == "error" and line["number"] == A
    assert error in line["errors"][0], line["errors"]
    assert "callflow_rules_invalid_entries_total 1.0" in engine.metrics()


def test_a_bad_entry_at_start_is_refused_and_the_rest_load(tmp_path, redis_url, store, rclient):
    store.push({"defaults": {"region": "BR"}, "numbers": {B: GOOD}})
    rclient.hset(NUMBERS, A, "null")
    proc = RedisEngine(tmp_path / "engine", redis_url).start()
    try:
        health = proc.wait_health(lambda h: h["status"] == "ok", what="ok")
        assert health["numbers_loaded"] == 1
        sim = Simulator(port=proc.port, time_scale=0.01, targets={})
        assert cause_of(sim, B) == "CALL_REJECTED"
        assert cause_of(sim, A) == "UNALLOCATED_NUMBER"      # refused, never half-loaded
        assert proc.logged("invalid configuration in Redis")
    finally:
        proc.stop()
