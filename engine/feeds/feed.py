"""What a feed hands the applier, and what the service asks of a feed.

A feed never swaps anything into the cache: it yields one of two changes to
``engine.feeds.applier.Applier`` and looks at the answer.

* ``WholeSet``: a whole new set. ``load()`` reads, validates and compiles it and
  raises ``ConfigError`` when it is invalid (then the set in force stays). ``initial``:
  the first load, where an invalid set is fatal instead. ``offload(fn)``, when given,
  runs heavy work (the load, freeing the replaced set) away from the event loop.
  The file feed yields these; ``version`` is then the applier's reload count.
* ``Documents``: stored JSON texts per number (``None``: not stored) and the stored
  defaults, read consistently at ``version``. ``full``: everything the source holds
  (numbers in force but absent go); otherwise only the numbers named changed. Each
  entry is validated by the applier on its own: a refused one keeps its previous
  version. The Redis feed yields these.
"""
from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, Protocol

from gevent.event import Event

from rules.ruleset import RuleSet

Offload = Callable[[Callable[[], Any]], Any]


@dataclass(frozen=True)
class WholeSet:
    load: Callable[[], RuleSet]
    source: str                        # where it comes from, for the log lines
    initial: bool = False
    offload: Offload | None = None     # None: everything runs here, nothing is freed early


@dataclass(frozen=True)
class Documents:
    version: int
    defaults_raw: str | None
    entries: Mapping[str, str | None]
    full: bool


class Feed(Protocol):
    kind: str                          # "file" or "redis", as ``rules_source``
    loaded: Event                      # set after the first load

    def start(self) -> None: ...

    def stop(self) -> None: ...

    def status(self) -> dict: ...      # fields for /health

    @property
    def healthy(self) -> bool: ...     # False: the service reports "degraded"
