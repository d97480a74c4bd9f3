"""The Redis feed in-process, with its applier and warmer, against a real redis-server: a
large update is in force before anything is compiled, the warmer compiles the rest and
settles the cache, refused entries keep their previous version, untouched numbers are
not recompiled, and the cyclic collector is off only while compiling.

The cooperative slices are made long here (``SLICE_SECONDS``) so that the warmer cannot
run before the test lets it: what is observed between the swap and the warm-up is then
deterministic. ``LARGE`` is lowered so that 30 numbers make a large update.
(Moved from tests/store/test_rules_sync.py with engine/rules_sync.py.)"""
from __future__ import annotations

import gc
import json
import logging
from datetime import datetime
from zoneinfo import ZoneInfo

import pytest

from engine import metrics
from engine.cache import RulesCache
from engine.feeds import applier as applier_module
from engine.feeds import cooperative
from engine.feeds.applier import Applier
from engine.feeds.redis_feed import RedisFeed
from rules.compiled import CompiledNumber
from rules.deferred import DeferredNumber
from rules.redis_store import NUMBERS, UPDATES, VERSION, RedisStore

NUMBERS_30 = [f"+5511400400{i:02d}" for i in range(30)]
AT = datetime(2026, 11, 27, 10, 0, tzinfo=ZoneInfo("America/Sao_Paulo"))


def hangup(cause: str) -> dict:
    return {"hangup": [{"cause": cause}]}


def config(cause: str, numbers=NUMBERS_30) -> dict:
    return {"defaults": {"timezone": "America/Sao_Paulo", "region": "BR"},
            "numbers": {n: hangup(cause) for n in numbers}}


@pytest.fixture
def sync(redis_url, monkeypatch):
    monkeypatch.setattr(cooperative, "SLICE_SECONDS", 60.0)
    monkeypatch.setattr(applier_module, "LARGE", 10)
    store = RedisStore(redis_url)
    s = Sync(store)
    was_enabled = gc.isenabled()
    yield s
    s.stop()
    store.close()
    gc.unfreeze()             # the warmer freezes what it compiled; not in the test process
    assert gc.isenabled() == was_enabled


class Sync:
    """What the service wires for Redis: a cache, its applier, the feed."""

    def __init__(self, store: RedisStore):
        self.cache = RulesCache(store)
        self.applier = Applier(self.cache)
        self.feed = RedisFeed(store, self.applier)
        self._warmer = self.applier.warmer      # .join(): wait for the warm-up
        self.resync, self.status = self.feed.resync, self.feed.status

    def stop(self) -> None:
        self.feed.stop()
        self.applier.stop()


def values(cache: RulesCache) -> dict:
    return dict(cache.ruleset._numbers)   # what the set holds, compiled or deferred


def cause(cache: RulesCache, number: str) -> str:
    return cache.plan(number, None, AT).hangup


def compiled_log(caplog) -> list[dict]:
    return [r.fields for r in caplog.records if r.getMessage() == "rules compiled"]


def test_a_large_update_is_in_force_before_it_is_compiled(sync, store, caplog):
    caplog.set_level(logging.INFO, "callflow.rules")
    store.push(config("CALL_REJECTED"))
    sync.resync()
    sync._warmer.join()
    before = values(sync.cache)
    assert all(type(v) is CompiledNumber for v in before.values())

    store.push(config("USER_BUSY"))
    sync.resync()
    held = values(sync.cache)
    assert sync.cache.version == 2 and len(held) == 30
    assert all(type(v) is DeferredNumber and not v.resolved for v in held.values())
    assert not gc.isenabled()                            # off while the warm-up is due
    assert sync.status()["rules_compiling"] == 30
    invalid_before = metrics.RULES_INVALID._value.get()
    # a call now compiles its own number and gets the new version
    assert cause(sync.cache, NUMBERS_30[0]) == "USER_BUSY"
    assert held[NUMBERS_30[0]].resolved and not held[NUMBERS_30[1]].resolved

    sync._warmer.join()
    after = values(sync.cache)
    assert all(type(v) is CompiledNumber for v in after.values())
    assert all(cause(sync.cache, n) == "USER_BUSY" for n in NUMBERS_30)
    assert gc.isenabled() and sync.status()["rules_compiling"] == 0
    assert metrics.RULES_INVALID._value.get() == invalid_before
    assert compiled_log(caplog)[-1] | {"seconds": 0} == {
        "compiled": 30, "invalid": 0, "numbers": 30, "version": 2, "seconds": 0}


def test_refused_entries_in_a_large_update(sync, store, rclient, caplog):
    caplog.set_level(logging.INFO, "callflow.rules")
    store.push(config("CALL_REJECTED"))
    sync.resync()
    sync._warmer.join()
    bad, new_bad = NUMBERS_30[3], "+551140040099"
    payload = {n: json.dumps(hangup("USER_BUSY")) for n in NUMBERS_30}
    payload[bad] = '{"hangup": ['                        # a writer that broke the JSON
    payload[new_bad] = json.dumps(hangup("NOT_A_CAUSE"))  # a new number, invalid
    with rclient.pipeline(transaction=True) as p:
        p.hset(NUMBERS, mapping=payload).incr(VERSION)
        p.publish(UPDATES, json.dumps({"version": 2, "numbers": list(payload)}))
        p.execute()
    invalid_before = metrics.RULES_INVALID._value.get()
    sync.resync()
    sync._warmer.join()
    assert cause(sync.cache, bad) == "CALL_REJECTED"           # the previous version stays
    assert cause(sync.cache, new_bad) == "UNALLOCATED_NUMBER"  # never valid: not served
    assert cause(sync.cache, NUMBERS_30[4]) == "USER_BUSY"
    assert len(sync.cache) == 30 and new_bad not in values(sync.cache)
    errors = {r.fields["number"]: r for r in caplog.records
              if r.getMessage().startswith("invalid configuration in Redis")}
    assert set(errors) == {bad, new_bad}
    assert errors[bad].getMessage().endswith("the previous version stays in force")
    assert errors[new_bad].getMessage().endswith("the number is not served")
    assert compiled_log(caplog)[-1]["invalid"] == 2
    assert metrics.RULES_INVALID._value.get() == invalid_before + 2
    assert b"callflow_rules_invalid_entries_total" in metrics.exposition()


def test_a_small_update_is_compiled_before_the_swap_and_only_what_changed(sync, store, rclient,
                                                                         caplog):
    caplog.set_level(logging.INFO, "callflow.rules")
    store.push(config("CALL_REJECTED"))
    sync.resync()
    sync._warmer.join()
    before = values(sync.cache)
    store.push({"numbers": {NUMBERS_30[5]: hangup("NO_ANSWER")}})
    sync.resync()                      # a small update is compiled before the swap
    after = values(sync.cache)
    assert cause(sync.cache, NUMBERS_30[5]) == "NO_ANSWER"
    assert type(after[NUMBERS_30[5]]) is CompiledNumber
    assert all(after[n] is before[n] for n in NUMBERS_30 if n != NUMBERS_30[5])
    assert gc.isenabled()
    # a refused small update is reported with the update, the version in force stays
    rclient.hset(NUMBERS, NUMBERS_30[6], "not json")
    rclient.incr(VERSION)
    sync.resync()
    assert cause(sync.cache, NUMBERS_30[6]) == "CALL_REJECTED"
    update = [r.fields for r in caplog.records if r.getMessage() == "rules updated from Redis"][-1]
    assert update["deferred"] is False and update["invalid"] == 1


def test_updates_arriving_during_the_warm_up_are_compiled_too(sync, store, rclient, caplog):
    caplog.set_level(logging.INFO, "callflow.rules")
    store.push(config("CALL_REJECTED"))
    sync.resync()                                        # warmer spawned, not run yet
    store.push(config("USER_BUSY", NUMBERS_30[:3]))
    rclient.hset(NUMBERS, "+551140040098", "not json")   # a small update, one refused
    rclient.incr(VERSION)
    sync.resync()
    small = [r.fields for r in caplog.records if r.getMessage() == "rules updated from Redis"][-1]
    assert small["deferred"] is False and small["invalid"] == 1
    sync._warmer.join()
    assert compiled_log(caplog)[-1]["invalid"] == 0      # the warm-up's own count
    held = values(sync.cache)
    assert all(type(v) is CompiledNumber for v in held.values()) and len(held) == 30
    assert [cause(sync.cache, n) for n in NUMBERS_30[:4]] == ["USER_BUSY"] * 3 + ["CALL_REJECTED"]
    assert gc.isenabled()


def test_stopping_during_the_warm_up_turns_the_collector_back_on(sync, store):
    store.push(config("CALL_REJECTED"))
    sync.resync()
    assert not gc.isenabled()
    sync.stop()                                          # the warmer never ran
    assert gc.isenabled()
    assert cause(sync.cache, NUMBERS_30[0]) == "CALL_REJECTED"   # still served, compiled now
