"""The Redis store: configurations shared by every engine, changed without a restart.

Layout (docs/design.md, "Redis layout"; one addition, ``callflow:defaults``):

* ``callflow:numbers``  hash, E.164 -> the number's stored JSON (``rules.stored``);
* ``callflow:version``  integer, incremented once by every change that writes anything;
* ``callflow:defaults`` JSON of the ``defaults`` block (the region used to read dialled
  numbers written in national notation, the time zone of refusals);
* channel ``callflow:updates``: ``{"version": N, "numbers": [E.164 written or removed]}``
  published by the change that made version N;
* stream ``callflow:calls``: one entry per finished call (fields ``uuid``, ``number``,
  ``record`` = the call record's JSON), capped with ``MAXLEN ~``.

Contract of ``RedisStore`` (a ``rules.store.RulesStore``, defined in ``rules.store_base``):

* Writes (``push``, ``delete``) are one Lua script each. Redis runs a script to the end
  before it runs any other command, so the entries, the version bump and the publication
  of one change are seen together or not at all: a reader never sees half a push, and a
  reader that sees version N sees every entry written by changes 1..N. A write that
  changes nothing neither bumps the version nor publishes.
* Reads (``snapshot``, ``load``, ``pull``) are consistent: they read in chunks (so that
  an engine under gevent never parses one huge reply while calls wait) and read
  ``callflow:version`` in the same MULTI as every chunk; if the version moved between
  the first and the last chunk the read is retried, and after three tries done as one
  MULTI. Writers bump the version atomically with what they write, so equal versions
  mean nothing changed in between.
* redis-py retries nothing unless ``retries`` says so (the engine passes 0 and does its
  own reconnecting, the commands 1).
* Every redis-py error is raised as ``StoreUnavailable`` with the URL's password masked;
  a URL redis-py cannot read is a ``ConfigError``.
* Entries read back are validated like a file (``loader.compile_entry``); an invalid entry is
  reported to ``on_invalid`` and left out, never raised for the whole set.
"""
from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

import redis
from redis.backoff import ExponentialBackoff
from redis.retry import Retry

from rules.compiled import CompiledNumber
from rules.errors import ConfigError, StoreUnavailable
from rules.deferred import DeferredNumber
from rules.loader import compile_entry, load_defaults
from rules.models import Defaults
from rules.ruleset import RuleSet
from rules.store_base import InvalidEntry, RulesStore   # not rules.store: it imports us
from rules.stored import StoredConfig, defaults_json, document

__all__ = ["RedisStore", "Snapshot", "WriteResult", "mask_url",
           "parse_defaults", "LUA_MESSAGE", "NUMBERS", "VERSION", "DEFAULTS", "UPDATES", "CALLS"]

NUMBERS = "callflow:numbers"
VERSION = "callflow:version"
DEFAULTS = "callflow:defaults"
UPDATES = "callflow:updates"
CALLS = "callflow:calls"

# The update message and the version read, shared by every script that writes the store
# (rules.api_store too). The message is assembled by hand: cjson encodes an empty table as
# {} not [].
LUA_MESSAGE = """
local function message(v, numbers)
  local parts = {}
  for i, n in ipairs(numbers) do parts[i] = cjson.encode(n) end
  return '{"version":' .. v .. ',"numbers":[' .. table.concat(parts, ',') .. ']}'
end
local function current() return tonumber(redis.call('GET', KEYS[2]) or '0') end
"""

# KEYS: numbers, version, defaults. ARGV: channel, replace (1/0), defaults JSON or '' (leave
# as is), then e164, json, e164, json, ...
_PUSH = LUA_MESSAGE + """
local changed, given = {}, {}
for i = 4, #ARGV, 2 do
  local k, v = ARGV[i], ARGV[i + 1]
  given[k] = true
  if redis.call('HGET', KEYS[1], k) ~= v then
    redis.call('HSET', KEYS[1], k, v)
    changed[#changed + 1] = k
  end
end
if ARGV[2] == '1' then
  for _, k in ipairs(redis.call('HKEYS', KEYS[1])) do
    if not given[k] then
      redis.call('HDEL', KEYS[1], k)
      changed[#changed + 1] = k
    end
  end
end
local defaults_changed = false
if ARGV[3] ~= '' and redis.call('GET', KEYS[3]) ~= ARGV[3] then
  redis.call('SET', KEYS[3], ARGV[3])
  defaults_changed = true
end
if #changed == 0 and not defaults_changed then return {current(), changed, 0} end
local v = redis.call('INCR', KEYS[2])
redis.call('PUBLISH', ARGV[1], message(v, changed))
return {v, changed, defaults_changed and 1 or 0}
"""

# KEYS: numbers, version. ARGV: channel, then the E.164 numbers to remove.
_DELETE = LUA_MESSAGE + """
local removed = {}
for i = 2, #ARGV do
  if redis.call('HDEL', KEYS[1], ARGV[i]) == 1 then removed[#removed + 1] = ARGV[i] end
end
if #removed == 0 then return {current(), removed} end
local v = redis.call('INCR', KEYS[2])
redis.call('PUBLISH', ARGV[1], message(v, removed))
return {v, removed}
"""


def mask_url(url: str) -> str:
    """The URL with its password (in the userinfo or a ``password=`` query) as ``***``."""
    try:
        parts = urlsplit(url)
        netloc = parts.netloc
        if parts.password is not None:
            user = parts.username or ""
            host = netloc.rpartition("@")[2]
            netloc = f"{user}:***@{host}"
        query = parts.query
        if query:
            query = urlencode([(k, "***" if k.lower() == "password" else v)
                               for k, v in parse_qsl(query, keep_blank_values=True)], safe="*")
        return urlunsplit((parts.scheme, netloc, parts.path, query, parts.fragment))
    except ValueError:
        return "<unparsable redis URL>"


@dataclass
class Snapshot:
    """A consistent read: ``entries`` as stored at ``version`` (None: not stored)."""

    version: int
    defaults_raw: str | None
    entries: dict[str, str | None] = field(default_factory=dict)


@dataclass
class WriteResult:
    version: int                   # the version after the write (unchanged if nothing changed)
    changed: list[str]             # numbers written or removed, in the published order
    defaults_changed: bool = False


def parse_defaults(raw: str | None) -> tuple[Defaults, list[tuple[str, str]]]:
    if not raw:
        return Defaults(), []
    try:
        return load_defaults(json.loads(raw)), []
    except ValueError as exc:
        return Defaults(), [(DEFAULTS, f"not valid JSON: {exc}")]
    except ConfigError as exc:
        return Defaults(), exc.errors


class RedisStore(RulesStore):
    kind = "redis"

    def __init__(self, url: str, allowed_prefixes: tuple[str, ...] = (), *,
                 socket_timeout: float = 5.0, connect_timeout: float = 3.0,
                 chunk: int = 500, retries: int = 0, client: redis.Redis | None = None):
        self.url = url
        self.url_masked = mask_url(url)
        self.allowed_prefixes = tuple(allowed_prefixes)
        self.chunk = chunk
        if client is None:
            try:
                # from_url reads user, password, db and TLS (rediss://) from the URL.
                # No hidden retries by default: redis-py would otherwise reconnect (and
                # silently re-subscribe) behind our back, and the engine must know about
                # every reconnect to compare versions after it.
                client = redis.Redis.from_url(
                    url, decode_responses=True, socket_timeout=socket_timeout,
                    socket_connect_timeout=connect_timeout,
                    retry=Retry(ExponentialBackoff(cap=1.0, base=0.1), retries))
            except (ValueError, TypeError) as exc:
                raise ConfigError([("rules", f"{self.url_masked}: not a usable Redis URL: "
                                             f"{exc}")]) from None
        self.client = client
        self._push = client.register_script(_PUSH)
        self._delete = client.register_script(_DELETE)

    def describe(self) -> str:
        return self.url_masked

    @contextmanager
    def io(self, what: str):
        """Run redis-py calls, raising its errors as ``StoreUnavailable`` (password masked)."""
        try:
            yield
        except redis.exceptions.RedisError as exc:
            raise StoreUnavailable(f"{self.url_masked}: {what}: {exc}") from None

    def close(self) -> None:
        try:
            self.client.close()
        except redis.exceptions.RedisError:
            pass

    # -- reads ----------------------------------------------------------------------
    def ping(self) -> None:
        with self.io("ping"):
            self.client.ping()

    def version(self) -> int:
        with self.io("reading the version"):
            return int(self.client.get(VERSION) or 0)

    def snapshot(self, numbers: Iterable[str] | None = None) -> Snapshot:
        """Every entry (``numbers`` None) or the given ones, consistent at one version."""
        wanted = None if numbers is None else list(dict.fromkeys(numbers))
        with self.io("reading the configuration"):
            for _ in range(3):
                snap = self._chunked(wanted)
                if snap is not None:
                    return snap
            return self._at_once(wanted)

    def _chunked(self, wanted: list[str] | None) -> Snapshot | None:
        versions: set[int] = set()
        entries: dict[str, str | None] = {}
        defaults_raw = None
        if wanted is None:
            cursor = 0
            while True:
                with self.client.pipeline(transaction=True) as p:
                    p.get(VERSION).get(DEFAULTS).hscan(NUMBERS, cursor, count=self.chunk)
                    version, defaults_raw, (cursor, items) = p.execute()
                versions.add(int(version or 0))
                if len(versions) > 1:
                    return None
                entries.update(items)
                if cursor == 0:
                    break
        else:
            for start in range(0, max(len(wanted), 1), self.chunk):
                part = wanted[start:start + self.chunk]
                with self.client.pipeline(transaction=True) as p:
                    p.get(VERSION).get(DEFAULTS)
                    if part:
                        p.hmget(NUMBERS, part)
                    version, defaults_raw, *values = p.execute()
                versions.add(int(version or 0))
                if len(versions) > 1:
                    return None
                if part:
                    entries.update(zip(part, values[0]))
        return Snapshot(versions.pop(), defaults_raw, entries)

    def _at_once(self, wanted: list[str] | None) -> Snapshot:
        with self.client.pipeline(transaction=True) as p:
            p.get(VERSION).get(DEFAULTS)
            if wanted is None:
                p.hgetall(NUMBERS)
            elif wanted:
                p.hmget(NUMBERS, wanted)
            version, defaults_raw, *rest = p.execute()
        if wanted is None:
            entries = dict(rest[0])
        else:
            entries = dict(zip(wanted, rest[0])) if wanted else {}
        return Snapshot(int(version or 0), defaults_raw, entries)

    def load(self, on_invalid: InvalidEntry | None = None, lazy: bool = False) -> RuleSet:
        """Every stored number. ``lazy``: nothing is validated now; each number is
        compiled (and, if refused, reported and left out) the first time the set is
        asked for it (``rules.deferred``): what a command that plans one call needs."""
        snap = self.snapshot()
        defaults, problems = parse_defaults(snap.defaults_raw)
        if problems and on_invalid is not None:
            on_invalid(DEFAULTS, problems)
        compiled: dict[str, CompiledNumber | DeferredNumber] = {}
        if lazy:
            def report(e164, exc, kept):
                if on_invalid is not None:
                    on_invalid(e164, exc.errors)
            for e164, raw in snap.entries.items():
                if raw is not None:
                    compiled[e164] = DeferredNumber(e164, raw, defaults, self.allowed_prefixes,
                                                    None, report)
            return RuleSet(compiled, defaults, self.allowed_prefixes)
        for e164, raw in snap.entries.items():
            if raw is None:
                continue
            try:
                compiled[e164] = compile_entry(e164, raw, defaults, self.allowed_prefixes)
            except ConfigError as exc:
                if on_invalid is not None:
                    on_invalid(e164, exc.errors)
        return RuleSet(compiled, defaults, self.allowed_prefixes)

    def pull(self) -> dict:
        """The stored configuration shaped like a file: ``{defaults, numbers}``."""
        snap = self.snapshot()
        return document(snap.defaults_raw, {k: v for k, v in snap.entries.items() if v is not None})

    def stored_defaults(self) -> Defaults:
        with self.io("reading the defaults"):
            return parse_defaults(self.client.get(DEFAULTS))[0]

    def pubsub(self):
        """A pub/sub connection subscribed to the updates channel (redis-py ``PubSub``)."""
        with self.io("subscribing"):
            ps = self.client.pubsub(ignore_subscribe_messages=True)
            try:
                ps.subscribe(UPDATES)
            except BaseException:
                ps.close()
                raise
            return ps

    # -- writes ---------------------------------------------------------------------
    def push(self, config: StoredConfig | Mapping[str, Any], replace: bool = False) -> WriteResult:
        """Write the numbers that differ from what is stored (and, with ``replace``, remove
        the ones ``config`` lacks), bump the version and publish: one atomic step.

        ``config`` is a validated ``StoredConfig`` or a configuration mapping (validated
        here as a whole first: ``ConfigError`` and nothing written).
        """
        if not isinstance(config, StoredConfig):
            config = StoredConfig.from_mapping(config, self.allowed_prefixes)
        # Defaults are written when the source states them, or when it is the whole truth.
        defaults = defaults_json(config.defaults) if (config.defaults_given or replace) else ""
        args: list[str] = [UPDATES, "1" if replace else "0", defaults]
        for e164, doc in config.entries.items():
            args += (e164, doc)
        with self.io("pushing"):
            version, changed, defaults_changed = self._push(
                keys=[NUMBERS, VERSION, DEFAULTS], args=args)
        return WriteResult(int(version), list(changed or []), bool(defaults_changed))

    def delete(self, numbers: Iterable[str]) -> WriteResult:
        numbers = list(dict.fromkeys(numbers))
        if not numbers:
            return WriteResult(self.version(), [])
        with self.io("deleting"):
            version, removed = self._delete(keys=[NUMBERS, VERSION], args=[UPDATES, *numbers])
        return WriteResult(int(version), list(removed or []))

    # -- call records ---------------------------------------------------------------
    def append_records(self, records: list[Mapping[str, str]], maxlen: int) -> None:
        """XADD each record (flat str -> str fields) to the calls stream, capped ~maxlen."""
        with self.io("appending call records"):
            with self.client.pipeline(transaction=False) as p:
                for fields in records:
                    p.xadd(CALLS, dict(fields), maxlen=maxlen, approximate=True)
                p.execute()
