"""Keeping the engine's RulesCache in step with the Redis store (a greenlet, and a
second one that compiles in the background).

Contract of ``RedisRulesSync(store, cache, check_seconds)``:

* ``start()`` spawns the greenlet and returns at once; ``loaded`` is set after the first
  full load. Redis down at start: it retries with back-off (0.1 s doubling to 5 s) and
  ``status()`` says ``redis: disconnected``; the service refuses calls until loaded.
* Each session: subscribe to ``callflow:updates`` first, then read everything and apply
  the difference (so nothing written in between is missed), then apply each update:
  the numbers it names are read (consistently, with the version) and swapped in with
  one ``RulesCache.apply``. An update that does not follow the version applied (a
  message was missed), or a defaults change, is handled by a full re-read. Every
  ``check_seconds`` ``callflow:version`` is compared with the applied one, and any
  difference triggers a full re-read: that catches messages lost while connected.
* An entry that fails validation (or is not JSON) is logged with its errors once per
  stored value (when it is compiled, see below); the previous version of that number
  stays in force, the rest apply.
* Redis going away: the session ends, calls go on with the cache (last known good),
  ``status()`` reports ``disconnected`` and ``stale_seconds`` (time since the cache was
  last known to match Redis); after reconnecting it re-reads everything.
* A Redis that comes back with a *lower* version and no numbers (restarted without
  persistence, flushed) is not mirrored: emptying every engine would refuse every call.
  The cache is kept, the problem is reported in ``status()``, and the next change
  written to Redis is applied with a full re-read.
* An update of up to ``LARGE`` numbers is compiled, then swapped in. A larger one (a
  full reload, a defaults change, the first load) is swapped in *deferred*
  (``rules.deferred``): read and diffed, not yet validated. A call to one of its numbers
  compiles it on the spot (~0.1 ms); meanwhile the warmer greenlet compiles the rest
  whenever calls leave the CPU idle, logs ``rules compiled`` (with how many were
  refused), and settles the cache on the compiled set. ``status()``'s
  ``rules_compiling`` is what it has left. So a full
  reload of 100,000 numbers is in force in about a second instead of the ~10 s of CPU
  that compiling them takes. Every pass over the numbers yields to the other greenlets
  every few milliseconds, so calls are never held up; each swap is one reference
  assignment, and a number is never half-changed.
Nothing on a call's path waits for any of this (beyond compiling its own number once).
"""
from __future__ import annotations

import gc
import itertools
import json
import logging
import time

import gevent
from gevent.event import Event
from gevent.lock import RLock

from engine import metrics
from engine.cache import RulesCache
from rules.compiled import CompiledNumber
from rules.deferred import DeferredNumber
from rules.errors import ConfigError, StoreUnavailable
from rules.models import Defaults
from rules.redis_store import DEFAULTS, RedisStore, Snapshot, parse_defaults
from rules.ruleset import RuleSet

log = logging.getLogger("callflow.rules")

BACKOFF_FIRST = 0.1
BACKOFF_MAX = 5.0
# Compile for at most this long before letting calls run.
SLICE_SECONDS = 0.002
# An update naming more numbers than this is applied with a full (chunked) re-read.
PARTIAL_MAX = 20_000
# Changes up to this many are compiled before the swap (one copy of the set with them
# replaced); beyond it they go in deferred and the new set is built in slices.
LARGE = 2_000


class RedisRulesSync:
    def __init__(self, store: RedisStore, cache: RulesCache, check_seconds: float = 5.0):
        self.store = store
        self.cache = cache
        self.check_seconds = check_seconds
        self.loaded = Event()
        self.connected = False
        self.problem: str | None = None         # last error or inconsistency, for /health
        self._synced_at: float | None = None    # monotonic: cache known to match Redis
        self._started_at = time.monotonic()
        self._raw: dict[str, str] = {}          # last stored value seen per number
        # What the cache holds, as a dict (values compiled or deferred).
        self._compiled: dict[str, CompiledNumber | DeferredNumber] = {}
        self._lock = RLock()                    # applying vs. settling
        self._pending: list[DeferredNumber] = []   # deferred numbers the warmer has to compile
        self._warmer = None
        self._warmer_active = False             # a warmer owns the queue
        self._warming = False                   # the collector is off for compiling
        self._gc_was_enabled = True
        self._invalid_count = 0
        self._batch_left = 0                    # of the warmer's current batch
        self._defaults_raw: str | None = None
        self._defaults = Defaults()
        self._diverged = False                  # Redis lost its data; see the module doc
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
        if self._warmer is not None:
            self._warmer.kill(block=True, timeout=1.0)
        if self._warming:   # a warmer killed before it ever ran has no finally to run
            self._warm_done()
        self._close_pubsub()

    def status(self) -> dict:
        now = time.monotonic()
        stale = 0.0
        if not self.connected or self._diverged:
            stale = now - (self._synced_at if self._synced_at is not None else self._started_at)
        return {"redis": "connected" if self.connected else "disconnected",
                "redis_url": self.store.describe(),
                "stale_seconds": round(stale, 3),
                "redis_problem": self.problem,
                # numbers in force that the warm-up has not compiled yet (calls compile
                # the ones they need themselves)
                "rules_compiling": len(self._pending) + self._batch_left}

    @property
    def healthy(self) -> bool:
        return self.connected and not self._diverged

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
            self._disconnected(error, backoff)
            gevent.sleep(backoff)
            backoff = min(backoff * 2, BACKOFF_MAX)

    def _disconnected(self, error: str, backoff: float) -> None:
        if self.connected or self.problem != error:
            log.warning("Redis unavailable; calls are served from the rules in memory",
                        extra={"fields": {"redis": self.store.describe(), "error": error,
                                          "retry_seconds": backoff,
                                          "numbers": len(self.cache), "version": self.cache.version}})
        self.problem = error
        self.connected = False

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
        was = self.connected
        self.connected = True
        if not self._diverged:
            self.problem = None
        if not was:
            log.info("Redis connected; rules in step", extra={"fields": {
                "redis": self.store.describe(), "version": self.cache.version,
                "numbers": len(self.cache)}})
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
        if version != self.cache.version:
            log.warning("rules version differs from Redis (an update was missed); re-reading",
                        extra={"fields": {"applied": self.cache.version, "redis": version}})
            self.resync()
        elif not self._diverged:
            self._synced_at = time.monotonic()

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
        if version <= self.cache.version and not self._diverged:
            return  # already applied by a full re-read
        if (self._diverged or version != self.cache.version + 1 or len(numbers) > PARTIAL_MAX):
            self.resync()
            return
        snap = self.store.snapshot(numbers)
        if snap.version < version or snap.defaults_raw != self._defaults_raw:
            self.resync()
            return
        self._apply(snap, full=False, version=version)

    # -- applying -------------------------------------------------------------------
    def resync(self) -> None:
        """Read everything and apply the difference with what is in force."""
        snap = self.store.snapshot()
        if (self.cache.ready and (snap.version < self.cache.version or self._diverged)
                and not any(v is not None for v in snap.entries.values())):
            if not self._diverged:
                log.error("Redis holds no configuration and an older version than the rules in "
                          "force (restarted without persistence, or flushed?); keeping the rules "
                          "in memory until a change is written to Redis",
                          extra={"fields": {"applied": self.cache.version, "redis": snap.version,
                                            "numbers": len(self.cache)}})
            self._diverged = True
            self.problem = (f"Redis is empty at version {snap.version}; serving the last known "
                            f"rules (version {self.cache.version})")
            # Follow Redis's numbering from here, so the next change is seen as one.
            self.cache.version = snap.version
            return
        if self._diverged:
            log.warning("Redis holds a configuration again; mirroring it",
                        extra={"fields": {"redis": snap.version}})
            self._diverged = False
            self.problem = None
        self._apply(snap, full=True, version=snap.version)

    def _apply(self, snap: Snapshot, *, full: bool, version: int) -> None:
        # The lock keeps the warmer from settling the set while it is being changed.
        with self._lock:
            self._apply_locked(snap, full=full, version=version)

    def _apply_locked(self, snap: Snapshot, *, full: bool, version: int) -> None:
        t0 = time.perf_counter()
        rebuild = not self.cache.ready
        if snap.defaults_raw != self._defaults_raw:
            defaults, problems = parse_defaults(snap.defaults_raw)
            if problems:
                log.error("invalid defaults in Redis; the previous defaults stay in force",
                          extra={"fields": {"key": DEFAULTS, "errors": [f"{p}: {m}" for p, m in problems]}})
            else:
                self._defaults = defaults
                rebuild = True
            self._defaults_raw = snap.defaults_raw
        if rebuild and not full:
            self.resync()
            return

        # Every pass over the numbers is cooperative: 100,000 of anything takes tens of
        # milliseconds in Python, more than a call may wait.
        entries = snap.entries
        if rebuild:
            todo = {k: v for k, v in _cooperative(entries.items()) if v is not None}
            removed = [k for k in _cooperative(self._raw) if k not in todo]
        else:
            raw = self._raw
            todo = {k: v for k, v in _cooperative(entries.items())
                    if v is not None and raw.get(k) != v}
            if full:
                removed = [k for k in _cooperative(raw) if entries.get(k) is None]
            else:
                removed = [k for k, v in entries.items() if v is None and k in raw]
        # A small update is compiled before the swap (a few milliseconds, cooperative).
        # A large one is swapped in deferred: each changed number with the version in
        # force as its fallback, compiled by the first call that needs it or by the
        # warmer, whichever comes first (rules.deferred).
        small = not rebuild and len(todo) + len(removed) <= LARGE
        defaults, prefixes, current = self._defaults, self.store.allowed_prefixes, self._compiled
        if todo and not small:
            self._gc_off()
        refused: list[str] = []          # by this update's own compiling (small ones)
        report = self._refused_now(refused) if small else self._refused_in_warm_up
        changed: dict[str, CompiledNumber | DeferredNumber | None] = {
            k: DeferredNumber(k, v, defaults, prefixes, current.get(k), report)
            for k, v in _cooperative(todo.items())}
        if small:
            changed = {k: d.resolve() for k, d in _cooperative(changed.items(), every=1)}
        t1 = time.perf_counter()
        for k in removed:
            self._raw.pop(k, None)
        for k, v in _cooperative(todo.items()):
            self._raw[k] = v
        garbage = self._swap(changed, removed, small, version)
        t2 = time.perf_counter()
        self._synced_at = time.monotonic()
        if todo or removed or rebuild:
            log.info("rules updated from Redis", extra={"fields": {
                "version": version, "changed": len(changed), "removed": len(removed),
                "numbers": len(self.cache), "full": full, "deferred": not small,
                # refused entries of a deferred update are counted by "rules compiled"
                **({"invalid": len(refused)} if small else {}),
                "prepare_seconds": round(t1 - t0, 3), "swap_seconds": round(t2 - t1, 3),
                # A sample: sorting 100,000 numbers would hold calls up for ~0.1 s.
                "numbers_changed": sorted(itertools.islice(itertools.chain(changed, removed), 20))}})
        if not small:
            self._warm(changed.values())
        if not self.loaded.is_set():
            self.loaded.set()
        # Freeing 100,000 removed numbers at once takes ~0.2 s: do it in slices.
        for _ in _cooperative(range((len(garbage) + 63) // 64), every=1):
            del garbage[-64:]

    def _swap(self, changed: dict[str, CompiledNumber | DeferredNumber | None],
              removed: list[str], small: bool, version: int) -> list:
        """Swap the cache to the new set; return the removed numbers (still referenced,
        so that they are freed in slices rather than all at once by the swap). Replaced
        numbers stay referenced by their deferred successor until it is compiled. A
        ``None`` in ``changed`` is a refused entry that had no previous version."""
        garbage: list = []
        current = self._compiled
        if small:
            changes = dict(changed)
            changes.update((k, None) for k in removed)
            for k, v in changes.items():
                if v is None:
                    garbage.append(current.pop(k, None))
                else:
                    current[k] = v
            self.cache.apply(changes, version)
            return garbage
        # Large: update the mirror in slices, then one copy into a new RuleSet.
        for k, v in _cooperative(changed.items()):
            current[k] = v            # deferred: never None
        for k in removed:
            garbage.append(current.pop(k, None))
        self.cache.install(RuleSet(current, self._defaults, self.store.allowed_prefixes), version)
        return garbage

    def _refused_now(self, refused: list[str]):
        def report(e164: str, exc: ConfigError, kept: CompiledNumber | None) -> None:
            refused.append(e164)
            self._invalid(e164, exc, kept)
        return report

    def _refused_in_warm_up(self, e164: str, exc: ConfigError, kept: CompiledNumber | None) -> None:
        self._invalid_count += 1      # for the warm-up's "rules compiled" line
        self._invalid(e164, exc, kept)

    def _invalid(self, e164: str, exc: ConfigError, kept: CompiledNumber | None) -> None:
        metrics.RULES_INVALID.inc()
        log.error("invalid configuration in Redis; %s", "the previous version stays in force"
                  if kept is not None else "the number is not served", extra={"fields": {
                      "number": e164, "errors": exc.lines()}})

    # -- compiling in the background ------------------------------------------------
    def _warm(self, deferred) -> None:
        """Queue deferred numbers for the warmer, starting it if it is not running.
        Called with the lock held."""
        self._pending.extend(deferred)
        if self._pending and not self._warmer_active:
            # The flag, not the greenlet's liveness: a warmer that has settled is done
            # with the queue even if it has not exited yet.
            self._warmer_active = True
            self._invalid_count = 0   # from here on: a call may compile a number first
            self._warmer = gevent.spawn(self._warm_run)

    def _gc_off(self) -> None:
        """Open the window in which the cyclic collector is off (until ``_warm_done``)."""
        if self._warming:
            return
        # Compiling allocates a great many objects that stay alive and form no cycles;
        # the cyclic collector would walk them again and again (a pause of 0.1 s and more
        # per 20,000 numbers, calls waiting), and a full collection of 100,000 numbers
        # takes ~1.7 s. So the collector is off until they are compiled, then they are
        # frozen (never walked again; being free of cycles they are still freed by
        # reference counting when replaced). The price: cyclic garbage that calls leave
        # meanwhile is frozen too, never collected (bounded by the calls of one warm-up).
        # The deferred numbers themselves are 100,000 tracked objects too.
        self._warming = True
        self._gc_was_enabled = gc.isenabled()
        gc.disable()

    def _warm_run(self) -> None:
        t0 = time.perf_counter()
        done = 0
        try:
            while True:
                while self._pending:
                    batch, self._pending = self._pending, []
                    self._batch_left = len(batch)
                    for d in _cooperative(batch, every=1):
                        d.resolve()
                        self._batch_left -= 1
                    done += len(batch)
                    del batch
                with self._lock:
                    if self._pending:      # more came in while waiting for the lock
                        continue
                    self._settle()
                    self._warmer_active = False
                    self._warm_done()
                    break
        finally:
            self._warmer_active = False
            self._batch_left = 0
            if self._warming:              # killed (stop) or a bug: never leave gc off
                self._warm_done()
        log.info("rules compiled", extra={"fields": {
            "compiled": done, "invalid": self._invalid_count, "numbers": len(self.cache),
            "version": self.cache.version, "seconds": round(time.perf_counter() - t0, 3)}})

    def _warm_done(self) -> None:
        self._warming = False
        gc.freeze()
        if self._gc_was_enabled:
            gc.enable()

    def _settle(self) -> None:
        """Swap in the same set with its deferred entries replaced by their compiled form
        (refused ones without a previous version dropped). Called with the lock held."""
        current = self._compiled
        settled: dict[str, CompiledNumber] = {}
        for k, v in _cooperative(current.items()):
            if type(v) is DeferredNumber:
                v = v.resolve()
            if v is not None:
                settled[k] = v
        self._compiled = settled
        self.cache.settle(RuleSet(settled, self._defaults, self.store.allowed_prefixes))
        # Freeing 100,000 deferred wrappers at once would hold calls up: in slices.
        for _ in _cooperative(range(len(current)), every=64):
            current.popitem()


def _pause() -> None:
    # idle(), not sleep(0): sleep(0) only lets other ready greenlets run, while idle()
    # waits until the loop has no socket events, timers or callbacks left, so calls always
    # go first and the reload takes whatever CPU they leave.
    gevent.idle()


def _cooperative(iterable, every: int = 256):
    """Iterate, pausing for the other greenlets once ``SLICE_SECONDS`` of work is done
    (the clock is read every ``every`` items)."""
    deadline = time.perf_counter() + SLICE_SECONDS
    for i, item in enumerate(iterable):
        yield item
        if i % every == 0 and time.perf_counter() >= deadline:
            _pause()
            deadline = time.perf_counter() + SLICE_SECONDS
