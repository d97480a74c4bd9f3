"""The applier without a server: documents in, swaps out. A partial change it cannot
apply alone changes nothing and is answered False; the feed's full re-read then runs
with the applier's lock free; refused entries keep the version in force."""
from __future__ import annotations

import json
import logging
from datetime import datetime
from zoneinfo import ZoneInfo

from engine import metrics
from engine.cache import RulesCache
from engine.feeds import Documents
from engine.feeds.applier import Applier
from engine.feeds.redis_feed import RedisFeed
from rules.redis_store import Snapshot
from rules.store_base import RulesStore

AT = datetime(2026, 11, 27, 10, 0, tzinfo=ZoneInfo("America/Sao_Paulo"))
A, B = "+551140040001", "+551140040002"
DEFAULTS = json.dumps({"timezone": "America/Sao_Paulo", "region": "BR"})


def hangup(cause: str) -> str:
    return json.dumps({"hangup": [{"cause": cause}]})


class FakeRedis(RulesStore):
    """A store that answers reads from a dict and records whether the lock was free."""
    kind = "redis"
    allowed_prefixes = ()

    def __init__(self):
        self.version_, self.defaults_raw, self.entries = 0, DEFAULTS, {}
        self.reads: list[tuple[object, bool]] = []   # (numbers asked, lock held?)
        self.applier: Applier | None = None

    def describe(self) -> str:
        return "redis://fake"

    def load(self, on_invalid=None):    # the feed reads snapshots, never a whole load
        raise AssertionError("not used")

    def version(self) -> int:
        return self.version_

    def snapshot(self, numbers=None) -> Snapshot:
        self.reads.append((numbers, self.applier._lock.locked()))
        wanted = self.entries if numbers is None else {n: self.entries.get(n) for n in numbers}
        return Snapshot(self.version_, self.defaults_raw, dict(wanted))

    def write(self, **numbers) -> None:
        self.entries.update(numbers)
        self.version_ += 1


def wired() -> tuple[FakeRedis, RulesCache, Applier, RedisFeed]:
    store = FakeRedis()
    cache = RulesCache(store)
    applier = store.applier = Applier(cache)
    return store, cache, applier, RedisFeed(store, applier)


def cause(cache: RulesCache, number: str) -> str:
    return cache.plan(number, None, AT).hangup


def test_a_partial_change_needs_defaults_and_rules_in_force():
    store, cache, applier, _ = wired()
    partial = Documents(1, DEFAULTS, {A: hangup("USER_BUSY")}, full=False)
    assert not applier.apply(partial) and not cache.ready          # nothing in force yet
    assert applier.apply(Documents(1, DEFAULTS, {A: hangup("CALL_REJECTED")}, full=True))
    applier.warmer.join()
    other = json.dumps({"timezone": "UTC", "region": "BR"})
    assert not applier.apply(Documents(2, other, {A: hangup("USER_BUSY")}, full=False))
    assert cache.version == 1 and cause(cache, A) == "CALL_REJECTED"   # nothing changed
    assert applier.apply(Documents(2, DEFAULTS, {A: hangup("USER_BUSY")}, full=False))
    assert cache.version == 2 and cause(cache, A) == "USER_BUSY"


def test_the_full_re_read_runs_with_the_lock_free():
    store, cache, applier, feed = wired()
    store.write(**{A: hangup("CALL_REJECTED")})
    feed.resync()
    applier.warmer.join()
    store.defaults_raw = json.dumps({"timezone": "UTC", "region": "BR"})
    store.write(**{B: hangup("USER_BUSY")})
    feed._on_update(json.dumps({"version": 2, "numbers": [B]}))
    applier.warmer.join()
    assert [numbers for numbers, _ in store.reads] == [None, [B], None]   # partial, then full
    assert not any(held for _, held in store.reads)
    assert cache.version == 2 and cause(cache, B) == "USER_BUSY"


def test_a_refused_entry_keeps_its_previous_version(caplog):
    caplog.set_level(logging.INFO, "callflow.rules")
    store, cache, applier, feed = wired()
    store.write(**{A: hangup("CALL_REJECTED")})
    feed.resync()
    applier.warmer.join()
    before = metrics.RULES_INVALID._value.get()
    store.write(**{A: '{"hangup": [', B: hangup("NOT_A_CAUSE")})
    feed._on_update(json.dumps({"version": 2, "numbers": [A, B]}))
    assert cache.version == 2
    assert cause(cache, A) == "CALL_REJECTED" and cause(cache, B) == "UNALLOCATED_NUMBER"
    assert metrics.RULES_INVALID._value.get() == before + 2
    refused = {r.fields["number"]: r.getMessage() for r in caplog.records
               if r.getMessage().startswith("invalid configuration in Redis")}
    assert refused == {A: "invalid configuration in Redis; the previous version stays in force",
                       B: "invalid configuration in Redis; the number is not served"}


def test_an_emptied_redis_is_not_mirrored():
    store, cache, applier, feed = wired()
    store.write(**{A: hangup("CALL_REJECTED")})
    store.write(**{B: hangup("USER_BUSY")})
    feed.resync()
    applier.warmer.join()
    store.entries, store.version_ = {}, 0            # restarted without persistence
    feed.resync()
    assert len(cache) == 2 and cache.version == 0 and not feed.healthy
    assert "Redis is empty at version 0" in feed.status()["redis_problem"]
    store.write(**{A: hangup("NO_ANSWER")})
    feed._on_update(json.dumps({"version": 1, "numbers": [A]}))
    applier.warmer.join()
    assert len(cache) == 1 and cause(cache, A) == "NO_ANSWER" and cache.version == 1
    assert feed.status()["redis_problem"] is None
