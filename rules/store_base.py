"""The store interface, on its own so that every store can build on it one way only.

``rules.store`` (the file store and ``open_store``) and ``rules.redis_store`` both import
from here and never from each other's level: ``rules.store`` may open a ``RedisStore``,
``rules.redis_store`` never imports ``rules.store`` (docs/design.md, "Layers";
tests/test_layers.py checks that no rules module is part of an import cycle). Callers
keep importing ``RulesStore`` and ``InvalidEntry`` from ``rules.store``, which re-exports
them; the contract is described there.
"""
from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Callable
from typing import ClassVar

from rules.ruleset import RuleSet

__all__ = ["RulesStore", "InvalidEntry"]

# on_invalid(e164, [(path, message), ...]): an entry a per-number store refused.
InvalidEntry = Callable[[str, list[tuple[str, str]]], None]


class RulesStore(ABC):
    kind: ClassVar[str]

    @abstractmethod
    def describe(self) -> str:
        """The source, fit for a log line (no secrets)."""

    @abstractmethod
    def load(self, on_invalid: InvalidEntry | None = None) -> RuleSet:
        """Everything stored, compiled. ConfigError / StoreUnavailable."""

    @abstractmethod
    def version(self) -> int:
        """Changes whenever the stored configuration changes."""

    def close(self) -> None:
        """Release connections (nothing to do for a file)."""
