"""RuleSet: every configured number, compiled, looked up in O(1).

Contract: a ``RuleSet`` is an immutable mapping ``E.164 -> CompiledNumber`` plus the
``defaults`` it was compiled with and the deployment's ``allowed_prefixes``. It is never
changed in place (but for ``drain``, which empties a set nobody reads any more):
``replace(changes)`` returns a new RuleSet (``None`` as a value removes
the number), so an engine swaps one reference and calls already planned keep theirs.
``find(called)`` looks a dialled number up in whatever notation the trunk delivers.

A value may also be a ``rules.deferred.DeferredNumber`` (anything with ``number`` and a
memoised ``resolve()``): every read resolves it, so callers only ever see a
``CompiledNumber``, or nothing when the entry was refused and had no previous version.
``len()`` and iteration count such entries until the engine settles the set.
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
        found = self.get(e164)
        if found is None:
            raise KeyError(e164)
        return found

    def get(self, e164, default=None):
        found = self._numbers.get(e164)
        if found is not None and type(found) is not CompiledNumber:
            found = found.resolve()
        return default if found is None else found

    def __contains__(self, e164: object) -> bool:
        return self.get(e164) is not None

    def __iter__(self) -> Iterator[str]:
        return iter(self._numbers)

    def __len__(self) -> int:
        return len(self._numbers)

    def __repr__(self) -> str:
        return f"<RuleSet {len(self)} numbers>"

    def compiled(self) -> Iterator[CompiledNumber]:
        """Every number served, compiled (deferred ones are compiled now)."""
        for found in self._numbers.values():
            if type(found) is not CompiledNumber:
                found = found.resolve()
            if found is not None:
                yield found

    @property
    def entries(self) -> int:
        return sum(n.entries for n in self.compiled())

    def find(self, called: str | None) -> CompiledNumber | None:
        if called is None:
            return None
        found = self._numbers.get(called)
        if found is None:
            e164 = normalise_called(called, self.defaults.region)
            if e164 is not None:
                found = self._numbers.get(e164)
        if found is not None and type(found) is not CompiledNumber:
            found = found.resolve()
        return found

    def drain(self) -> None:
        """Empty the set one number at a time; for its owner, once nothing reads it any
        more. Freeing 100,000 compiled numbers in one go is ~0.2 s in which no other
        thread runs; a Python loop lets the interpreter switch threads in between."""
        numbers = self._numbers
        while numbers:
            numbers.popitem()

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
