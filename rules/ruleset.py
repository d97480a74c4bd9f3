"""RuleSet: every configured number, compiled, looked up in O(1).

Contract: a ``RuleSet`` is an immutable mapping ``E.164 -> CompiledNumber`` plus the
``defaults`` it was compiled with and the deployment's ``allowed_prefixes``. It is never
changed in place: ``replace(changes)`` returns a new RuleSet (``None`` as a value removes
the number), so an engine swaps one reference and calls already planned keep theirs.
``find(called)`` looks a dialled number up in whatever notation the trunk delivers.
"""
from __future__ import annotations

from collections.abc import Iterator, Mapping

from rules.compiled import CompiledNumber
from rules.models import Defaults
from rules.numbers import normalise_called

__all__ = ["RuleSet"]


class RuleSet(Mapping[str, CompiledNumber]):
    __slots__ = ("_numbers", "defaults", "allowed_prefixes")

    def __init__(self, numbers: Mapping[str, CompiledNumber] | None = None,
                 defaults: Defaults | None = None, allowed_prefixes: tuple[str, ...] = ()):
        self._numbers: dict[str, CompiledNumber] = dict(numbers or {})
        self.defaults = defaults if defaults is not None else Defaults()
        self.allowed_prefixes = tuple(allowed_prefixes)

    def __getitem__(self, e164: str) -> CompiledNumber:
        return self._numbers[e164]

    def get(self, e164, default=None):
        return self._numbers.get(e164, default)

    def __contains__(self, e164: object) -> bool:
        return e164 in self._numbers

    def __iter__(self) -> Iterator[str]:
        return iter(self._numbers)

    def __len__(self) -> int:
        return len(self._numbers)

    def __repr__(self) -> str:
        return f"<RuleSet {len(self)} numbers>"

    @property
    def entries(self) -> int:
        return sum(n.entries for n in self._numbers.values())

    def find(self, called: str | None) -> CompiledNumber | None:
        if called is None:
            return None
        found = self._numbers.get(called)
        if found is None:
            e164 = normalise_called(called, self.defaults.region)
            if e164 is not None:
                found = self._numbers.get(e164)
        return found

    def replace(self, changes: Mapping[str, CompiledNumber | None]) -> "RuleSet":
        numbers = dict(self._numbers)
        for e164, compiled in changes.items():
            if compiled is None:
                numbers.pop(e164, None)
            else:
                if compiled.number != e164:
                    raise ValueError(f"{e164}: compiled entry is for {compiled.number}")
                numbers[e164] = compiled
        fresh = RuleSet.__new__(RuleSet)
        fresh._numbers = numbers
        fresh.defaults = self.defaults
        fresh.allowed_prefixes = self.allowed_prefixes
        return fresh
