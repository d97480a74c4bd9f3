"""The file feed: the first load (fatal when invalid), a change noticed by the poll and
swapped in with the next version, an invalid change refused with the rules in force
kept, the check every ``check_seconds`` that survives a failing check, and the load run
in a native thread so the event loop keeps ticking."""
from __future__ import annotations

import gc
import json
import logging
import os
import time

import gevent
import pytest

from engine.cache import RulesCache
from engine.feeds import open_feed
from engine.feeds.applier import Applier
from engine.feeds.file_feed import RELOAD_CHECK_SECONDS, FileFeed, load_off_the_loop
from rules.errors import ConfigError

GOOD = 'numbers:\n  "+551140040000": {hangup: [{cause: CALL_REJECTED}]}\n'


def touch(path, later_ns: int) -> None:
    # mtime resolution is coarse on some filesystems: move it on explicitly
    os.utime(path, ns=(time.time_ns(), time.time_ns() + later_ns))


def feed_on(path, **kw) -> tuple[RulesCache, FileFeed]:
    cache = RulesCache(str(path))
    return cache, FileFeed(cache.store, Applier(cache), **kw)


def messages(caplog) -> list[str]:
    return [r.getMessage() for r in caplog.records]


def test_open_feed_picks_the_file_feed(tmp_path):
    cache = RulesCache(str(tmp_path / "rules.yaml"))
    feed = open_feed(cache.store, Applier(cache))
    assert isinstance(feed, FileFeed) and feed.kind == "file"
    assert feed.check_seconds == RELOAD_CHECK_SECONDS == 2.0
    assert feed.status() == {} and feed.healthy


def test_a_change_is_swapped_in_and_an_invalid_one_refused(tmp_path, caplog):
    caplog.set_level(logging.INFO, "callflow.rules")
    path = tmp_path / "rules.yaml"
    path.write_text(GOOD)
    cache, feed = feed_on(path, offload=None)
    feed.load()
    assert feed.loaded.is_set() and cache.version == 1 and len(cache) == 1
    assert messages(caplog)[-1] == "rules loaded"
    assert not feed.poll()                                 # unchanged
    path.write_text(GOOD.replace("CALL_REJECTED", "NOPE"))
    touch(path, 10_000_000)
    assert not feed.poll() and cache.version == 1          # refused, the set in force stays
    [refused] = [r for r in caplog.records if r.levelno == logging.ERROR]
    assert refused.getMessage() == "rules file changed but is invalid; previous rules stay in force"
    assert refused.fields["path"] == str(path) and refused.fields["errors"]
    assert not feed.poll()                                 # not retried until it changes
    path.write_text(GOOD.replace("CALL_REJECTED", "USER_BUSY"))
    touch(path, 20_000_000)
    assert feed.poll() and cache.version == 2
    assert cache.ruleset.find("+551140040000").hangup[0].value == "USER_BUSY"
    assert messages(caplog)[-1] == "rules reloaded"


def test_invalid_at_start_is_fatal(tmp_path):
    path = tmp_path / "rules.yaml"
    path.write_text(GOOD.replace("CALL_REJECTED", "NOPE"))
    cache, feed = feed_on(path)
    with pytest.raises(ConfigError):
        feed.start()
    assert not feed.loaded.is_set() and not cache.ready


def test_the_file_is_checked_every_interval_and_a_failing_check_is_logged(tmp_path, caplog):
    path = tmp_path / "rules.yaml"
    path.write_text(GOOD)
    cache, feed = feed_on(path, check_seconds=0.05, offload=None)
    checks = []
    real_changed = cache.store.changed

    def changed():
        checks.append(time.monotonic())
        if len(checks) == 1:
            raise OSError("disk gone")
        return real_changed()

    cache.store.changed = changed
    feed.start()
    try:
        path.write_text(GOOD.replace("CALL_REJECTED", "USER_BUSY"))
        touch(path, 10_000_000)
        deadline = time.monotonic() + 5
        while cache.version < 2:
            assert time.monotonic() < deadline, "the change was never picked up"
            gevent.sleep(0.01)
    finally:
        feed.stop()
    assert len(checks) >= 2                                # the failing check did not stop it
    failed = [r for r in caplog.records if r.getMessage() == "rules reload check failed"]
    assert len(failed) == 1 and failed[0].name == "callflow.service"


def test_a_reload_runs_off_the_event_loop(tmp_path):
    def document(cause):
        return json.dumps({"defaults": {"region": "BR"}, "numbers": {
            f"+5511400{i:05d}": {"hangup": [{"cause": cause}]} for i in range(3000)}})

    path = tmp_path / "rules.json"
    path.write_text(document("CALL_REJECTED"))
    cache, feed = feed_on(path, offload=load_off_the_loop)
    feed.load()
    path.write_text(document("USER_BUSY"))
    touch(path, 10_000_000)
    ticks = []
    ticker = gevent.spawn(lambda: [ticks.append(gevent.sleep(0.001)) for _ in iter(int, 1)])
    try:
        gevent.sleep(0.01)
        before = len(ticks)
        assert feed.poll()
        during = len(ticks) - before
    finally:
        ticker.kill()
        gc.unfreeze()            # the engine freezes what it loaded; not in the test process
    assert during > 0 and cache.version == 2 and len(cache) == 3000
    assert cache.ruleset.find("+551140000042").hangup[0].value == "USER_BUSY"
    assert gc.isenabled()
