"""The engine's in-memory configuration: the only thing a call's planner reads.

``RulesCache`` holds the current ``RuleSet`` and only ever swaps the reference: a whole
new set (``load``, ``reload_if_changed``, ``install``) or a copy with some numbers
replaced (``apply``, built with ``RuleSet.replace``). A call that already planned keeps
its plan, and a new call sees either the old or the new set, never a mix. Nothing here
does I/O on the call path: ``plan`` reads memory only.

It works with either store (``rules.store``):

* file: ``load()`` at start (an invalid file is fatal: ``ConfigError``), then
  ``reload_if_changed()`` polled by the service; a changed file that is invalid is
  logged with every error and the rules in force stay.
* Redis: ``engine.rules_sync`` reads, then calls ``install`` / ``apply`` with the Redis
  version it read; a large update's numbers go in deferred (``rules.deferred``: compiled
  by the first call that needs them or in the background, then ``settle`` swaps in the
  compiled set). Until the first ``install``, ``ready`` is False and the service refuses
  calls (FreeSWITCH fails over) rather than answering every number as unknown.

``version`` is the file's reload count, or the ``callflow:version`` applied (the
figure /health shows as ``rules_version``); ``loaded_at`` the wall time of the last swap.
"""
from __future__ import annotations

import logging
import time
from collections.abc import Callable, Mapping
from datetime import datetime

from rules.compiled import CompiledNumber
from rules.errors import ConfigError
from rules.planner import plan_call
from rules.ruleset import RuleSet
from rules.store import FileStore, RulesStore

log = logging.getLogger("callflow.rules")


class RulesCache:
    def __init__(self, source: RulesStore | str, allowed_prefixes: tuple[str, ...] = ()):
        self.store = source if isinstance(source, RulesStore) else FileStore(source, allowed_prefixes)
        self.allowed_prefixes = tuple(allowed_prefixes)
        self.ruleset: RuleSet | None = None
        self.version = 0
        self.loaded_at: float | None = None

    @property
    def source(self) -> str:
        return self.store.kind

    @property
    def ready(self) -> bool:
        return self.ruleset is not None

    # -- file store -----------------------------------------------------------------
    def load(self) -> None:
        """First load of a file: an invalid file is fatal (raises ConfigError)."""
        ruleset = self.store.load()
        self.install(ruleset, self.version + 1)
        log.info("rules loaded", extra={"fields": {"source": self.store.describe(),
                                                   "numbers": len(ruleset), "version": self.version}})

    def reload_if_changed(self, offload: Callable[[Callable[[], RuleSet]], RuleSet] | None = None
                          ) -> bool:
        """Reload when the file changed; keep the old rules if the new ones are bad.
        ``offload(fn)`` runs the load (the engine: off the event loop, see
        ``engine.service``); without it the load runs here."""
        store = self.store
        if not isinstance(store, FileStore) or not store.changed():
            return False
        try:
            ruleset = offload(store.load) if offload is not None else store.load()
        except ConfigError as exc:
            log.error("rules file changed but is invalid; previous rules stay in force",
                      extra={"fields": {"path": store.path, "errors": exc.lines()}})
            return False
        replaced = self.ruleset
        self.install(ruleset, self.version + 1)
        if offload is not None and replaced is not None:
            # Freeing the replaced set is ~20 ms per 10,000 numbers: in the offload's
            # thread, a number at a time (calls keep the event loop meanwhile).
            offload(replaced.drain)
        log.info("rules reloaded", extra={"fields": {"path": store.path, "numbers": len(ruleset),
                                                     "version": self.version}})
        return True

    # -- swaps ----------------------------------------------------------------------
    def install(self, ruleset: RuleSet, version: int) -> None:
        """Swap in a whole new set."""
        self.ruleset = ruleset
        self.version = version
        self.loaded_at = time.time()

    def settle(self, ruleset: RuleSet) -> None:
        """Swap in a set equal to the one in force, its deferred entries now compiled
        (``engine.rules_sync``'s warmer); version and ``loaded_at`` stay."""
        self.ruleset = ruleset

    def apply(self, changes: Mapping[str, CompiledNumber | None], version: int) -> None:
        """Swap in a copy with ``changes`` applied (None removes a number)."""
        if changes:
            self.ruleset = self.ruleset.replace(changes)
            self.loaded_at = time.time()
        self.version = version

    # -- the call path --------------------------------------------------------------
    def plan(self, called: str, caller: str | None, at: datetime):
        return plan_call(self.ruleset, called, caller, at)

    def __len__(self) -> int:
        return len(self.ruleset) if self.ruleset is not None else 0
