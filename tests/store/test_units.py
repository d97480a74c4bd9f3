"""Units of the store layer that need no server: the file store's change detection, the
rules cache's swaps, and the call-record buffer's bounds (with a fake store)."""
from __future__ import annotations

import os
import time

import gevent
import pytest

from engine.cache import RulesCache
from engine.call_log import BATCH, CallRecordStream
from rules.errors import ConfigError, StoreUnavailable
from rules.loader import compile_number
from rules.store import FileStore, is_redis_url, open_store

GOOD = 'numbers:\n  "+551140040000": {hangup: [{cause: CALL_REJECTED}]}\n'


def test_open_store_by_scheme(tmp_path):
    assert isinstance(open_store(tmp_path / "r.yaml"), FileStore)
    assert is_redis_url("redis://h:1/0") and is_redis_url("rediss://u:p@h:1/0")
    assert open_store("rediss://u:p@h:1/0").describe() == "rediss://u:***@h:1/0"
    assert not is_redis_url("/etc/callflow/rules.yaml")


def test_file_store_notices_changes_and_keeps_good_rules(tmp_path):
    path = tmp_path / "rules.yaml"
    path.write_text(GOOD)
    cache = RulesCache(str(path))
    cache.load()
    assert cache.source == "file" and cache.ready and len(cache) == 1 and cache.version == 1
    assert not cache.reload_if_changed()
    path.write_text(GOOD.replace("CALL_REJECTED", "NOPE"))
    os.utime(path, ns=(time.time_ns(), time.time_ns() + 10_000_000))
    assert not cache.reload_if_changed()         # invalid: logged, previous rules stay
    assert cache.version == 1 and not cache.reload_if_changed()   # not retried until it changes
    path.write_text(GOOD.replace("CALL_REJECTED", "USER_BUSY"))
    os.utime(path, ns=(time.time_ns(), time.time_ns() + 20_000_000))
    assert cache.reload_if_changed() and cache.version == 2
    path.unlink()
    assert not cache.reload_if_changed() and len(cache) == 1   # a vanished file is no change


def test_file_store_invalid_at_start_is_fatal(tmp_path):
    path = tmp_path / "rules.yaml"
    path.write_text(GOOD.replace("CALL_REJECTED", "NOPE"))
    with pytest.raises(ConfigError):
        RulesCache(str(path)).load()


def test_cache_apply_swaps_a_new_ruleset(tmp_path):
    path = tmp_path / "rules.yaml"
    path.write_text(GOOD)
    cache = RulesCache(str(path))
    cache.load()
    old = cache.ruleset
    new_entry = compile_number("+551140040001", {"hangup": [{}]})
    cache.apply({"+551140040001": new_entry, "+551140040000": None}, 7)
    assert cache.ruleset is not old and list(old) == ["+551140040000"]   # old set untouched
    assert list(cache.ruleset) == ["+551140040001"] and cache.version == 7


class FakeStore:
    def __init__(self):
        self.up = True
        self.written: list[dict] = []

    def append_records(self, records, maxlen):
        if not self.up:
            raise StoreUnavailable("redis://x: down")
        self.written.extend(records)


def record(i):
    return {"uuid": f"u{i}", "number": "+551140040000", "outcome": "answered"}


def test_records_wait_while_redis_is_away_and_overflow_is_counted(caplog):
    store = FakeStore()
    stream = CallRecordStream(store, maxlen=1000, buffer_size=300)
    stream.start()
    try:
        stream.submit(record(0))
        assert stream.flush(2) and [r["uuid"] for r in store.written] == ["u0"]
        store.up = False
        for i in range(1, 311):
            stream.submit(record(i))              # never blocks, never raises
        gevent.sleep(0.05)
        assert stream.status() == {"records_buffered": 300, "records_dropped": 10}
        assert sum("buffer full" in r.getMessage() for r in caplog.records) == 1   # rate-limited
        store.up = True
        assert stream.flush(10)
        uuids = [r["uuid"] for r in store.written]
        assert uuids == [f"u{i}" for i in range(301)]     # in order; the overflow was the newest
        assert stream.status() == {"records_buffered": 0, "records_dropped": 10}
    finally:
        stream.stop()


def test_buffer_never_smaller_than_a_batch():
    assert CallRecordStream(FakeStore(), 1000, 0).capacity == BATCH


def test_a_file_reload_runs_off_the_event_loop(tmp_path):
    """A big file takes seconds to load; the engine loads it in a native thread, so the
    event loop (every call) keeps running meanwhile. Checked with a ticking greenlet: on
    the loop itself the load would not let it tick once."""
    import gc
    import json

    from engine.service import _load_off_the_loop

    def document(cause):
        return json.dumps({"defaults": {"region": "BR"}, "numbers": {
            f"+5511400{i:05d}": {"hangup": [{"cause": cause}]} for i in range(3000)}})

    path = tmp_path / "rules.json"
    path.write_text(document("CALL_REJECTED"))
    cache = RulesCache(str(path))
    cache.load()
    path.write_text(document("USER_BUSY"))
    os.utime(path, ns=(time.time_ns(), time.time_ns() + 10_000_000))
    ticks = []
    ticker = gevent.spawn(lambda: [ticks.append(gevent.sleep(0.001)) for _ in iter(int, 1)])
    try:
        gevent.sleep(0.01)
        before = len(ticks)
        assert cache.reload_if_changed(offload=_load_off_the_loop)
        during = len(ticks) - before
    finally:
        ticker.kill()
        gc.unfreeze()            # the engine freezes what it loaded; not in the test process
    assert during > 0
    assert cache.version == 2 and len(cache) == 3000
    assert cache.ruleset.find("+551140000042").hangup[0].value == "USER_BUSY"
    assert gc.isenabled()
