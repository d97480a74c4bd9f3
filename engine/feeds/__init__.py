"""Rules feeds: how the engine's one in-memory copy of the rules (``engine.cache``'s
``RulesCache``) stays current, whatever the source.

The contract, in three roles:

* A **feed** follows one source and turns what it sees into *changes*
  (``engine.feeds.feed``): a ``WholeSet`` (a whole new set, validated by loading it: the
  file) or ``Documents`` (stored JSON per number, read consistently at one version,
  either everything the source holds or only the numbers a change named: Redis). It
  hands each change to the applier and never touches the cache itself.
  ``engine.feeds.file_feed``: the rules file, polled every 2 s.
  ``engine.feeds.redis_feed``: Redis, a full read, pub/sub updates, a periodic version
  check, reconnecting with back-off, "degraded" while serving rules that may be stale.
* The **applier** (``engine.feeds.applier``) is the only code that validates changes
  and swaps them into the cache. A refused set or entry is logged (and counted) and the
  version in force stays: a good set is never replaced by a bad one. It holds the one
  lock (applying vs. settling a warm-up); a feed never holds it, and nothing under it
  waits for I/O. A partial change it cannot apply alone (the defaults differ, nothing in
  force yet) is answered ``False``: the feed then reads everything, outside the lock.
* The **warmer** (``engine.feeds.warmer``) compiles, while calls leave the CPU idle, the
  numbers a large change put in force deferred, then has the applier settle the cache.

``open_feed(store, applier, version_check_seconds)`` picks the feed for a store
(``rules.store.open_store(settings.rules)``). Every feed has ``start()`` (the file: the
first load happens in it, and an invalid file raises ``ConfigError``; Redis: returns at
once), ``loaded`` (a gevent ``Event``, set after the first load), ``stop()``,
``healthy`` (False: "degraded") and ``status()`` (fields merged into /health; none for
the file). Nothing on a call's path waits for a feed.
"""
from __future__ import annotations

from engine.feeds.feed import Documents, Feed, WholeSet

__all__ = ["Documents", "Feed", "WholeSet", "open_feed"]


def open_feed(store, applier, version_check_seconds: float = 5.0) -> Feed:
    """The feed that keeps ``applier``'s cache in step with ``store``."""
    if store.kind == "redis":
        # Imported only when Redis is configured: it imports redis-py.
        from engine.feeds.redis_feed import RedisFeed

        return RedisFeed(store, applier, version_check_seconds)
    from engine.feeds.file_feed import FileFeed

    return FileFeed(store, applier)
