"""A stored entry that is validated and compiled the first time anything needs it.

Contract of ``DeferredNumber(e164, raw, defaults, allowed_prefixes, previous, on_invalid)``:

* ``resolve()`` validates and compiles ``raw`` (the JSON a store holds, through
  ``rules.loader.compile_entry``) once and returns the ``CompiledNumber``; every
  later call returns the same object. It is a pure function of its inputs, memoised.
* If ``raw`` is refused (or compiling it fails unexpectedly, a bug: reported the same
  way rather than failing every call to the number), ``on_invalid(e164, error, kept)`` is called once (``kept`` is
  the version that stays in force, or None) and ``resolve()`` returns ``previous``
  (itself resolved if it is deferred too), or None: the number is not served.
* ``number`` is the E.164 key, as on a ``CompiledNumber``; ``resolved`` says whether the
  work is done.

Why it exists: compiling 100,000 numbers takes ~10 s of CPU, and an engine must put a
full reload in force in well under that while calls go on. A ``RuleSet`` can hold
deferred entries (``rules.ruleset``): the engine swaps them in as soon as it has read
them, a call to one of them compiles it on the spot (~0.1 ms), and the engine compiles
the rest in the background (``engine.feeds.warmer``).
"""
from __future__ import annotations

from collections.abc import Callable
from typing import Union

from rules.compiled import CompiledNumber
from rules.errors import ConfigError
from rules.loader import compile_entry
from rules.models import Defaults

__all__ = ["DeferredNumber", "OnInvalid", "resolve"]

# (e164, the error, the version that stays in force or None)
OnInvalid = Callable[[str, ConfigError, Union[CompiledNumber, None]], None]


class DeferredNumber:
    __slots__ = ("number", "_raw", "_defaults", "_prefixes", "_previous", "_on_invalid",
                 "_result", "resolved")

    def __init__(self, e164: str, raw: str, defaults: Defaults, allowed_prefixes: tuple[str, ...],
                 previous: "CompiledNumber | DeferredNumber | None", on_invalid: OnInvalid):
        self.number = e164
        self._raw = raw
        self._defaults = defaults
        self._prefixes = allowed_prefixes
        self._previous = previous
        self._on_invalid = on_invalid
        self._result: CompiledNumber | None = None
        self.resolved = False

    def resolve(self) -> CompiledNumber | None:
        if self.resolved:
            return self._result
        try:
            result = compile_entry(self.number, self._raw, self._defaults, self._prefixes)
        except ConfigError as exc:
            result = resolve(self._previous)
            self._on_invalid(self.number, exc, result)
        except Exception as exc:  # a bug must not fail every call to this number
            result = resolve(self._previous)
            self._on_invalid(self.number, ConfigError([(
                f"numbers.{self.number}", f"internal error while compiling: {exc!r}")]), result)
        self._result, self.resolved = result, True
        # What it was made from is garbage now; the previous version may be large.
        self._raw = self._previous = self._on_invalid = self._defaults = None
        return result

    def __repr__(self) -> str:
        state = "resolved" if self.resolved else "pending"
        return f"<DeferredNumber {self.number} {state}>"


def resolve(value: "CompiledNumber | DeferredNumber | None") -> CompiledNumber | None:
    """The compiled number behind ``value`` (compiling it if it is deferred)."""
    if value is None or type(value) is CompiledNumber:
        return value
    return value.resolve()
