"""The one place where rules are validated and swapped into the ``RulesCache``.

Contract of ``Applier(cache)``: feeds (``engine.feeds.feed``) hand it their changes.

* ``replace_all(WholeSet)``: loads the set (``change.offload`` runs it away from the
  event loop) and swaps it in with the next version. Invalid (``ConfigError``): logged
  with every error and the rules in force stay (``False``), or, on the ``initial``
  load, raised (an engine must not start on a broken file).
* ``apply(Documents)``: swaps in the numbers that differ from what was last applied,
  with the documents' version. Each entry is validated on its own: a refused one (not
  JSON, invalid, or a bug while compiling it) is logged with ``invalid configuration in
  Redis`` and counted in ``callflow_rules_invalid_entries_total``; its previous version
  stays in force (none: the number is not served). Invalid defaults are logged and the
  previous defaults stay. Up to ``LARGE`` changes are compiled, then swapped; more (and
  every full rebuild: the first load, a defaults change) go in deferred and the warmer
  (``engine.feeds.warmer``) compiles them in the background. Returns ``False``, having
  changed nothing, for a partial change it cannot apply alone (the defaults differ from
  the ones in force, or nothing is in force yet): the feed reads everything instead.
* ``renumber(version)``: follow the source's numbering without changing the rules (the
  Redis feed, when Redis lost its data: see ``engine.feeds.redis_feed``).

The lock: applying and the warmer's settling never interleave (both yield to calls as
they go). It is held only while the change is turned into a new set and swapped, never
while anything reads a source, so a feed re-reading never holds up the warmer. Each swap
is one reference assignment (``RulesCache``): a number is never half-changed.
"""
from __future__ import annotations

import itertools
import logging
import time

from gevent.lock import RLock

from engine import metrics
from engine.feeds.cooperative import cooperative
from engine.feeds.feed import Documents, WholeSet
from engine.feeds.warmer import Warmer
from rules.compiled import CompiledNumber
from rules.deferred import DeferredNumber
from rules.errors import ConfigError
from rules.models import Defaults
from rules.ruleset import RuleSet

log = logging.getLogger("callflow.rules")

# Changes up to this many are compiled before the swap (one copy of the set with them
# replaced); beyond it they go in deferred and the new set is built in slices.
LARGE = 2_000


class Applier:
    def __init__(self, cache, allowed_prefixes: tuple[str, ...] | None = None):
        self.cache = cache
        self._prefixes = tuple(cache.store.allowed_prefixes if allowed_prefixes is None
                               else allowed_prefixes)
        self._lock = RLock()
        self._raw: dict[str, str] = {}          # last stored value applied per number
        # What the cache holds, as a dict (values compiled or deferred).
        self._mirror: dict[str, CompiledNumber | DeferredNumber] = {}
        self._defaults_raw: str | None = None
        self._defaults = Defaults()
        self.warmer = Warmer(cache, self._lock, self._settle)

    @property
    def version(self) -> int:
        return self.cache.version

    @property
    def ready(self) -> bool:
        return self.cache.ready

    @property
    def numbers(self) -> int:
        return len(self.cache)

    @property
    def compiling(self) -> int:
        return self.warmer.left

    def stop(self) -> None:
        self.warmer.stop()

    # -- whole sets (the file) ------------------------------------------------------
    def replace_all(self, change: WholeSet) -> bool:
        run = change.offload or (lambda fn: fn())
        if change.initial:
            ruleset = run(change.load)          # invalid at start: fatal, ConfigError
            with self._lock:
                self.cache.install(ruleset, self.cache.version + 1)
            log.info("rules loaded", extra={"fields": {"source": change.source,
                                                       "numbers": len(ruleset), "version": self.version}})
            return True
        try:
            ruleset = run(change.load)
        except ConfigError as exc:
            log.error("rules file changed but is invalid; previous rules stay in force",
                      extra={"fields": {"path": change.source, "errors": exc.lines()}})
            return False
        with self._lock:
            replaced = self.cache.ruleset
            self.cache.install(ruleset, self.cache.version + 1)
        if change.offload is not None and replaced is not None:
            # Freeing the replaced set is ~20 ms per 10,000 numbers: in the offload's
            # thread, a number at a time (calls keep the event loop meanwhile).
            change.offload(replaced.drain)
        log.info("rules reloaded", extra={"fields": {"path": change.source, "numbers": len(ruleset),
                                                     "version": self.version}})
        return True

    def renumber(self, version: int) -> None:
        with self._lock:
            self.cache.version = version

    # -- documents (Redis) ----------------------------------------------------------
    def apply(self, docs: Documents) -> bool:
        if not docs.full and (not self.cache.ready or docs.defaults_raw != self._defaults_raw):
            return False
        with self._lock:
            garbage = self._apply_locked(docs)
        # Freeing 100,000 removed numbers at once takes ~0.2 s: in slices, and without
        # the lock (they are out of every set by now).
        for _ in cooperative(range((len(garbage) + 63) // 64), every=1):
            del garbage[-64:]
        return True

    def _apply_locked(self, docs: Documents) -> list:
        t0 = time.perf_counter()
        rebuild = not self.cache.ready
        if docs.defaults_raw != self._defaults_raw:
            rebuild = self._take_defaults(docs.defaults_raw) or rebuild
        todo, removed = self._diff(docs, rebuild)
        # A small update is compiled before the swap (a few milliseconds, cooperative).
        # A large one is swapped in deferred: each changed number with the version in
        # force as its fallback, compiled by the first call that needs it or by the
        # warmer, whichever comes first (rules.deferred).
        small = not rebuild and len(todo) + len(removed) <= LARGE
        defaults, prefixes, current = self._defaults, self._prefixes, self._mirror
        if todo and not small:
            self.warmer.gc_off()
        refused: list[str] = []          # by this update's own compiling (small ones)
        report = self._refused_now(refused) if small else self._refused_in_warm_up
        changed: dict[str, CompiledNumber | DeferredNumber | None] = {
            k: DeferredNumber(k, v, defaults, prefixes, current.get(k), report)
            for k, v in cooperative(todo.items())}
        if small:
            changed = {k: d.resolve() for k, d in cooperative(changed.items(), every=1)}
        t1 = time.perf_counter()
        for k in removed:
            self._raw.pop(k, None)
        for k, v in cooperative(todo.items()):
            self._raw[k] = v
        garbage = self._swap(changed, removed, small, docs.version)
        t2 = time.perf_counter()
        if todo or removed or rebuild:
            log.info("rules updated from Redis", extra={"fields": {
                "version": docs.version, "changed": len(changed), "removed": len(removed),
                "numbers": len(self.cache), "full": docs.full, "deferred": not small,
                # refused entries of a deferred update are counted by "rules compiled"
                **({"invalid": len(refused)} if small else {}),
                "prepare_seconds": round(t1 - t0, 3), "swap_seconds": round(t2 - t1, 3),
                # A sample: sorting 100,000 numbers would hold calls up for ~0.1 s.
                "numbers_changed": sorted(itertools.islice(itertools.chain(changed, removed), 20))}})
        if not small:
            self.warmer.warm(changed.values())
        return garbage

    def _take_defaults(self, raw: str | None) -> bool:
        """Adopt new stored defaults unless they are invalid; True: every number has to
        be compiled again. Either way the value is remembered, so it is reported once."""
        # Imported here: the store module imports redis-py, which a file engine lacks.
        from rules.redis_store import DEFAULTS, parse_defaults

        defaults, problems = parse_defaults(raw)
        self._defaults_raw = raw
        if problems:
            log.error("invalid defaults in Redis; the previous defaults stay in force",
                      extra={"fields": {"key": DEFAULTS, "errors": [f"{p}: {m}" for p, m in problems]}})
            return False
        self._defaults = defaults
        return True

    def _diff(self, docs: Documents, rebuild: bool) -> tuple[dict[str, str], list[str]]:
        """The numbers to (re)compile and the ones to remove. Every pass over the numbers
        is cooperative: 100,000 of anything takes tens of milliseconds."""
        entries, raw = docs.entries, self._raw
        if rebuild:
            todo = {k: v for k, v in cooperative(entries.items()) if v is not None}
            return todo, [k for k in cooperative(raw) if k not in todo]
        todo = {k: v for k, v in cooperative(entries.items()) if v is not None and raw.get(k) != v}
        if docs.full:
            return todo, [k for k in cooperative(raw) if entries.get(k) is None]
        return todo, [k for k, v in entries.items() if v is None and k in raw]

    def _swap(self, changed: dict[str, CompiledNumber | DeferredNumber | None],
              removed: list[str], small: bool, version: int) -> list:
        """Swap the cache to the new set; return the removed numbers (still referenced,
        so that they are freed in slices rather than all at once by the swap). Replaced
        numbers stay referenced by their deferred successor until it is compiled. A
        ``None`` in ``changed`` is a refused entry that had no previous version."""
        garbage: list = []
        current = self._mirror
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
        for k, v in cooperative(changed.items()):
            current[k] = v            # deferred: never None
        for k in removed:
            garbage.append(current.pop(k, None))
        self.cache.install(RuleSet(current, self._defaults, self._prefixes), version)
        return garbage

    def _settle(self) -> None:
        """Swap in the same set with its deferred entries replaced by their compiled form
        (refused ones without a previous version dropped). The warmer calls it with the
        lock held."""
        current = self._mirror
        settled: dict[str, CompiledNumber] = {}
        for k, v in cooperative(current.items()):
            if type(v) is DeferredNumber:
                v = v.resolve()
            if v is not None:
                settled[k] = v
        self._mirror = settled
        self.cache.settle(RuleSet(settled, self._defaults, self._prefixes))
        # Freeing 100,000 deferred wrappers at once would hold calls up: in slices.
        for _ in cooperative(range(len(current)), every=64):
            current.popitem()

    # -- refused entries ------------------------------------------------------------
    def _refused_now(self, refused: list[str]):
        def report(e164: str, exc: ConfigError, kept: CompiledNumber | None) -> None:
            refused.append(e164)
            self._invalid(e164, exc, kept)
        return report

    def _refused_in_warm_up(self, e164: str, exc: ConfigError, kept: CompiledNumber | None) -> None:
        self.warmer.invalid += 1      # for the warm-up's "rules compiled" line
        self._invalid(e164, exc, kept)

    @staticmethod
    def _invalid(e164: str, exc: ConfigError, kept: CompiledNumber | None) -> None:
        metrics.RULES_INVALID.inc()
        log.error("invalid configuration in Redis; %s", "the previous version stays in force"
                  if kept is not None else "the number is not served", extra={"fields": {
                      "number": e164, "errors": exc.lines()}})
