"""The engine's in-memory configuration: the only thing a call's planner reads.

``RulesCache`` holds the current ``RuleSet`` and only ever swaps the reference: a whole
new set (``install``) or a copy with some numbers replaced (``apply``, built with
``RuleSet.replace``), or the same set with its deferred entries compiled (``settle``). A
call that already planned keeps its plan, and a new call sees either the old or the new
set, never a mix. Nothing here does I/O on the call path: ``plan`` reads memory only.

What calls the swaps is ``engine.feeds.applier`` (the one place that validates rules and
swaps them in), fed by ``engine.feeds.file_feed`` or ``engine.feeds.redis_feed``. Until
the first ``install``, ``ready`` is False and the service refuses calls (FreeSWITCH fails
over) rather than answering every number as unknown.

``version`` is the file's reload count, or the ``callflow:version`` applied (the
figure /health shows as ``rules_version``); ``loaded_at`` the wall time of the last swap.
"""
from __future__ import annotations

import time
from collections.abc import Mapping
from datetime import datetime

from rules.compiled import CompiledNumber
from rules.planner import plan_call
from rules.ruleset import RuleSet
from rules.store import FileStore, RulesStore


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

    # -- swaps ----------------------------------------------------------------------
    def install(self, ruleset: RuleSet, version: int) -> None:
        """Swap in a whole new set."""
        self.ruleset = ruleset
        self.version = version
        self.loaded_at = time.time()

    def settle(self, ruleset: RuleSet) -> None:
        """Swap in a set equal to the one in force, its deferred entries now compiled
        (``engine.feeds.warmer``); version and ``loaded_at`` stay."""
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
