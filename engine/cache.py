"""The engine's in-memory configuration: the only thing a call's planner reads.

``RulesCache`` holds the current ``RuleSet`` and swaps it whole on reload, so a call
that already planned keeps its plan and a new call sees either the old or the new set,
never a mix. An invalid configuration never replaces a good one: ``reload`` logs every
error with its path and keeps what was in force.
"""
from __future__ import annotations

import logging
import os
import time
from datetime import datetime

from rules import loader
from rules.errors import ConfigError
from rules.planner import plan_call

log = logging.getLogger("callflow.rules")


class RulesCache:
    def __init__(self, path: str, allowed_prefixes: tuple[str, ...] = ()):
        self.path = path
        self.allowed_prefixes = allowed_prefixes
        self.ruleset = None
        self.version = 0
        self.loaded_at: float | None = None
        self._mtime: float | None = None

    def load(self) -> None:
        """First load: an invalid file is fatal (raises ConfigError)."""
        self._mtime = self._stat()
        self.ruleset = loader.load_file(self.path, allowed_prefixes=self.allowed_prefixes)
        self.version += 1
        self.loaded_at = time.time()
        log.info("rules loaded", extra={"fields": {"path": self.path, "numbers": len(self.ruleset),
                                                   "version": self.version}})

    def reload_if_changed(self) -> bool:
        """Reload when the file changed; keep the old rules if the new ones are bad."""
        mtime = self._stat()
        if mtime is None or mtime == self._mtime:
            return False
        self._mtime = mtime
        try:
            ruleset = loader.load_file(self.path, allowed_prefixes=self.allowed_prefixes)
        except ConfigError as exc:
            log.error("rules file changed but is invalid; previous rules stay in force",
                      extra={"fields": {"path": self.path, "errors": exc.lines()}})
            return False
        self.ruleset = ruleset
        self.version += 1
        self.loaded_at = time.time()
        log.info("rules reloaded", extra={"fields": {"path": self.path, "numbers": len(ruleset),
                                                     "version": self.version}})
        return True

    def _stat(self) -> float | None:
        try:
            return os.stat(self.path).st_mtime_ns
        except OSError:
            return None

    def plan(self, called: str, caller: str | None, at: datetime):
        return plan_call(self.ruleset, called, caller, at)

    def __len__(self) -> int:
        return len(self.ruleset) if self.ruleset is not None else 0
