"""Redis as a feed: a greenlet that keeps the applier fed with what Redis holds.

Contract of ``RedisFeed(store, applier, check_seconds)`` (``store``: a
``rules.redis_store.RedisStore``):

* ``start()`` spawns the greenlet and returns at once; ``loaded`` is set after the first
  full load. Redis down at start: it retries with back-off (0.1 s doubling to 5 s) and
  ``status()`` says ``redis: disconnected``; the service refuses calls until loaded.
* Each session: subscribe to ``callflow:updates`` first, then read everything and hand
  it over (``Documents``, full), so nothing written in between is missed; then each
  update: the numbers it names are read (consistently, with the version) and handed
  over as a partial change. An update that does not follow the version applied (a
  message was missed), names more than ``PARTIAL_MAX`` numbers, or that the applier
  cannot apply alone (a defaults change) is handled by a full re-read. Every
  ``check_seconds`` ``callflow:version`` is compared with the applied one, and any
  difference triggers a full re-read: that catches messages lost while connected.
  Every read happens here, never while the applier's lock is held.
* Redis going away: the session ends, calls go on with the cache (last known good),
  ``status()`` reports ``disconnected`` and ``stale_seconds`` (time since the cache was
  last known to match Redis); after reconnecting it re-reads everything.
* A Redis that comes back with a *lower* version and no numbers (restarted without
  persistence, flushed) is not mirrored: emptying every engine would refuse every call.
  The rules in force stay, the applier only follows Redis's numbering, the problem is
  reported in ``status()`` (``healthy`` False: "degraded"), and the next change written
  to Redis is applied with a full re-read.
"""
from __future__ import annotations

import json
import logging
import time

import gevent
from gevent.event import Event

from engine.feeds.feed import Documents
from rules.errors import StoreUnavailable
from rules.redis_store import Snapshot

log = logging.getLogger("callflow.rules")

BACKOFF_FIRST = 0.1
BACKOFF_MAX = 5.0
# An update naming more numbers than this is applied with a full (chunked) re-read.
PARTIAL_MAX = 20_000


class RedisLink:
    """The state of the link to Redis, as /health reports it."""

    def __init__(self, store):
        self.store = store
        self.connected = False
        self.problem: str | None = None         # last error or inconsistency
        self.diverged = False                   # Redis lost its data; see the module doc
        self.synced_at: float | None = None     # monotonic: cache known to match Redis
        self.started_at = time.monotonic()

    @property
    def healthy(self) -> bool:
        return self.connected and not self.diverged

    def status(self) -> dict:
        stale = 0.0
        if not self.connected or self.diverged:
            since = self.synced_at if self.synced_at is not None else self.started_at
            stale = time.monotonic() - since
        return {"redis": "connected" if self.connected else "disconnected",
                "redis_url": self.store.describe(),
                "stale_seconds": round(stale, 3),
                "redis_problem": self.problem}

    def up(self, numbers: int, version: int) -> None:
        was = self.connected
        self.connected = True
        if not self.diverged:
            self.problem = None
        if not was:
            log.info("Redis connected; rules in step", extra={"fields": {
                "redis": self.store.describe(), "version": version, "numbers": numbers}})

    def down(self, error: str, backoff: float, numbers: int, version: int) -> None:
        # Logged once per outage (and per different error), not at every retry.
        if self.connected or self.problem != error:
            log.warning("Redis unavailable; calls are served from the rules in memory",
                        extra={"fields": {"redis": self.store.describe(), "error": error,
                                          "retry_seconds": backoff,
                                          "numbers": numbers, "version": version}})
        self.problem = error
        self.connected = False


class RedisFeed:
    kind = "redis"

    def __init__(self, store, applier, check_seconds: float = 5.0):
        self.store = store
        self.applier = applier
        self.check_seconds = check_seconds
        self.link = RedisLink(store)
        self.loaded = Event()
        self._greenlet = None
        self._pubsub = None
        self._in_step = False                   # this session got as far as a full read
        self._stopping = False

    # -- lifecycle ------------------------------------------------------------------
    def start(self) -> None:
        self._greenlet = gevent.spawn(self._run)

    def stop(self) -> None:
        # Kill first, close after: closing the socket under a greenlet blocked in a read
        # makes redis-py raise ValueError instead of the GreenletExit.
        self._stopping = True
        if self._greenlet is not None:
            self._greenlet.kill(block=True, timeout=1.0)
        self._close_pubsub()

    def status(self) -> dict:
        # numbers in force that the warm-up has not compiled yet (calls compile the ones
        # they need themselves)
        return {**self.link.status(), "rules_compiling": self.applier.compiling}

    @property
    def healthy(self) -> bool:
        return self.link.healthy

    # -- the loop -------------------------------------------------------------------
    def _run(self) -> None:
        backoff = BACKOFF_FIRST
        while True:
            self._in_step = False
            try:
                self._session()
                error = "session ended"  # pragma: no cover - _session only returns by raising
            except StoreUnavailable as exc:
                error = str(exc)
            except gevent.GreenletExit:
                raise
            except Exception as exc:  # a bug must not stop the updates for good
                if self._stopping:
                    return
                log.exception("rules sync failed; reconnecting")
                error = f"internal error: {exc}"
            finally:
                self._close_pubsub()
            if self._stopping:
                return
            if self._in_step:
                backoff = BACKOFF_FIRST  # it was working: retry soon
            self.link.down(error, backoff, self.applier.numbers, self.applier.version)
            gevent.sleep(backoff)
            backoff = min(backoff * 2, BACKOFF_MAX)

    def _close_pubsub(self) -> None:
        ps, self._pubsub = self._pubsub, None
        if ps is not None:
            try:
                ps.close()
            except Exception:
                pass

    def _session(self) -> None:
        # Subscribe before reading: an update written after the read is then a message.
        import redis  # the engine imports redis only when Redis is configured

        self._pubsub = pubsub = self.store.pubsub()
        self.resync()
        self._in_step = True
        self.link.up(self.applier.numbers, self.applier.version)
        next_check = time.monotonic() + self.check_seconds
        while True:
            timeout = max(0.0, next_check - time.monotonic())
            try:
                message = pubsub.get_message(timeout=timeout)
            except redis.exceptions.RedisError as exc:
                raise StoreUnavailable(f"{self.store.describe()}: updates channel: {exc}") from None
            if message is not None and message.get("type") == "message":
                self._on_update(message.get("data"))
            if time.monotonic() >= next_check:
                self._check_version()
                next_check = time.monotonic() + self.check_seconds

    def _check_version(self) -> None:
        version = self.store.version()
        if version != self.applier.version:
            log.warning("rules version differs from Redis (an update was missed); re-reading",
                        extra={"fields": {"applied": self.applier.version, "redis": version}})
            self.resync()
        elif not self.link.diverged:
            self.link.synced_at = time.monotonic()

    def _on_update(self, data) -> None:
        try:
            update = json.loads(data)
            version = int(update["version"])
            numbers = [str(n) for n in update["numbers"]]
        except (ValueError, TypeError, KeyError) as exc:
            log.error("unreadable message on the updates channel; re-reading everything",
                      extra={"fields": {"error": str(exc), "data": str(data)[:200]}})
            self.resync()
            return
        applied, diverged = self.applier.version, self.link.diverged
        if version <= applied and not diverged:
            return  # already applied by a full re-read
        if diverged or version != applied + 1 or len(numbers) > PARTIAL_MAX:
            self.resync()
            return
        snap = self.store.snapshot(numbers)
        # Read after the message: older than it means it is not all there yet.
        if snap.version < version or not self._hand_over(snap, full=False, version=version):
            self.resync()

    # -- reading everything ---------------------------------------------------------
    def resync(self) -> None:
        """Read everything and hand it to the applier (which applies the difference)."""
        snap = self.store.snapshot()
        if self._lost_its_data(snap):
            return
        if self.link.diverged:
            log.warning("Redis holds a configuration again; mirroring it",
                        extra={"fields": {"redis": snap.version}})
            self.link.diverged = False
            self.link.problem = None
        self._hand_over(snap, full=True, version=snap.version)

    def _lost_its_data(self, snap: Snapshot) -> bool:
        """An empty Redis behind the rules in force: keep them (see the module doc)."""
        applied = self.applier.version
        if not (self.applier.ready and (snap.version < applied or self.link.diverged)
                and not any(v is not None for v in snap.entries.values())):
            return False
        if not self.link.diverged:
            log.error("Redis holds no configuration and an older version than the rules in "
                      "force (restarted without persistence, or flushed?); keeping the rules "
                      "in memory until a change is written to Redis",
                      extra={"fields": {"applied": applied, "redis": snap.version,
                                        "numbers": self.applier.numbers}})
        self.link.diverged = True
        self.link.problem = (f"Redis is empty at version {snap.version}; serving the last known "
                             f"rules (version {applied})")
        # Follow Redis's numbering from here, so the next change is seen as one.
        self.applier.renumber(snap.version)
        return True

    def _hand_over(self, snap: Snapshot, *, full: bool, version: int) -> bool:
        docs = Documents(version, snap.defaults_raw, snap.entries, full)
        if not self.applier.apply(docs):
            return False            # partial, and the applier needs everything
        self.link.synced_at = time.monotonic()
        if not self.loaded.is_set():
            self.loaded.set()
        return True
