"""Where number configurations live: the store interface, the file store, ``open_store``.

Contract:

* ``RulesStore`` (defined in ``rules.store_base``, re-exported here) is what the engine
  and the commands read configurations through.
  ``kind`` is ``"file"`` or ``"redis"``; ``describe()`` names the source for logs (never a
  password); ``load(on_invalid=None)`` returns a ``RuleSet`` of everything stored;
  ``version()`` is a number that changes whenever the stored configuration changes.
  Errors: ``ConfigError`` for a configuration that is refused, ``StoreUnavailable`` when
  the store cannot be read right now (third-party errors are mapped to it here, never
  leaked).
* ``FileStore`` is the embedded default: one YAML/JSON file, all or nothing (an invalid
  file raises ``ConfigError`` as a whole). ``changed()`` says whether the file was
  modified since the last ``load`` (by mtime), so a caller can poll it and reload.
* ``RedisStore`` (``rules.redis_store``) keeps one entry per number; there, ``load``
  leaves out entries that fail validation and reports each to ``on_invalid(e164,
  errors)``: one bad number must not take the others down.
* ``open_store(source, allowed_prefixes)``: ``redis://`` / ``rediss://`` URLs open a
  ``RedisStore``, anything else is a file path.
"""
from __future__ import annotations

import os

from rules import loader
from rules.ruleset import RuleSet
# The interface lives in rules.store_base so that rules.redis_store can subclass it
# without importing this module (which imports rules.redis_store): no import cycle.
from rules.store_base import InvalidEntry, RulesStore

__all__ = ["RulesStore", "FileStore", "open_store", "is_redis_url", "InvalidEntry"]

REDIS_SCHEMES = ("redis://", "rediss://", "unix://")


def is_redis_url(source: str) -> bool:
    return str(source).startswith(REDIS_SCHEMES)


class FileStore(RulesStore):
    kind = "file"

    def __init__(self, path: str | os.PathLike, allowed_prefixes: tuple[str, ...] = ()):
        self.path = str(path)
        self.allowed_prefixes = tuple(allowed_prefixes)
        self._loaded_mtime: int | None = None

    def describe(self) -> str:
        return self.path

    def load(self, on_invalid: InvalidEntry | None = None) -> RuleSet:
        # The mtime is taken before reading: a write racing with the read is seen as a
        # further change next time instead of being lost. An invalid file is not retried
        # until it changes again.
        self._loaded_mtime = self.version()
        return loader.load_file(self.path, allowed_prefixes=self.allowed_prefixes)

    def version(self) -> int:
        try:
            return os.stat(self.path).st_mtime_ns
        except OSError:
            return 0

    def changed(self) -> bool:
        mtime = self.version()
        # A file that vanished (mtime 0) is not a change: the rules in force stay.
        return mtime != 0 and mtime != self._loaded_mtime


def open_store(source: str | os.PathLike, allowed_prefixes: tuple[str, ...] = (),
               **redis_options) -> RulesStore:
    if is_redis_url(str(source)):
        from rules.redis_store import RedisStore  # redis is only imported when used

        return RedisStore(str(source), allowed_prefixes, **redis_options)
    return FileStore(source, allowed_prefixes)
