"""Store operations the management API needs beyond ``RedisStore``: conditional writes of
one number, and finding a call record by its uuid.

Built on ``RedisStore``'s public API and its redis client, with the same layout
(docs/design.md "Redis layout"; ``rules.redis_store``): hash ``callflow:numbers`` (E.164 ->
canonical JSON), ``callflow:version``, channel ``callflow:updates`` with
``{"version": N, "numbers": [...]}``, stream ``callflow:calls``.

Contract of ``ApiStore(store)``:

* ``etag(raw)`` is the entity tag of a stored entry: the SHA-1 hex of its stored JSON,
  quoted (``"3f2a..."``). SHA-1 because Redis's Lua has ``redis.sha1hex``, so the
  comparison happens inside the script that writes; it is a concurrency token, not a
  security boundary.
* ``get(e164) -> (raw | None, version)``: one number, consistent with the version.
* ``put(e164, doc, expect)`` / ``delete(e164, expect)`` are one Lua script each: check
  the precondition, write (or remove), bump ``callflow:version`` and publish on
  ``callflow:updates`` exactly as ``RedisStore.push`` does, atomically. ``expect`` is
  ``ANY`` (unconditional), ``EXISTS`` (``If-Match: *``), ``ABSENT`` (``If-None-Match:
  *``) or an entity tag. The result's ``status`` is ``created``, ``updated``,
  ``unchanged`` (same content: no bump, no publication, as ``push``), ``deleted``,
  ``missing`` (nothing to delete / ``EXISTS`` failed) or ``conflict`` (the precondition
  failed: HTTP 412).
* ``find_call(uuid) -> (stream_id, fields) | None``: the newest stream entry of that
  call. The stream has no index by uuid, so one is kept beside it: sorted set
  ``callflow:calls:uuids`` (member uuid, score the entry id's milliseconds) and
  ``callflow:calls:indexed`` (the last entry id indexed). Each lookup first indexes the
  entries appended since (bounded per call by ``catch_up_max``), prunes index members
  older than the stream's first entry (trimmed by ``MAXLEN ~``), then reads the entries
  of that millisecond and picks the uuid. Index writes are idempotent, and the cursor
  only moves forward (Lua), so API processes may race on it harmlessly.
* Every redis-py error is raised as ``StoreUnavailable`` (URL password masked).
"""
from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass

import redis

from rules.redis_store import CALLS, LUA_MESSAGE, NUMBERS, UPDATES, VERSION, RedisStore

__all__ = ["ApiStore", "WriteOutcome", "ANY", "EXISTS", "ABSENT", "etag",
           "CALL_INDEX", "CALL_INDEXED"]

ANY = ""
EXISTS = "*"
ABSENT = "!"

CALL_INDEX = "callflow:calls:uuids"
CALL_INDEXED = "callflow:calls:indexed"

# The same update message as RedisStore.push publishes, from the same Lua source.
_LUA_COMMON = LUA_MESSAGE + """
local function check(existing, expect)
  if expect == '' then return nil end
  if expect == '!' then
    if existing then return 'conflict' end
    return nil
  end
  if not existing then
    if expect == '*' then return 'missing' end
    return 'conflict'
  end
  if expect ~= '*' and redis.sha1hex(existing) ~= expect then return 'conflict' end
  return nil
end
"""

# KEYS: numbers, version. ARGV: channel, e164, json, expect.
_PUT = _LUA_COMMON + """
local existing = redis.call('HGET', KEYS[1], ARGV[2])
local failed = check(existing, ARGV[4])
if failed then return {failed, current()} end
if existing == ARGV[3] then return {'unchanged', current()} end
redis.call('HSET', KEYS[1], ARGV[2], ARGV[3])
local v = redis.call('INCR', KEYS[2])
redis.call('PUBLISH', ARGV[1], message(v, {ARGV[2]}))
if existing then return {'updated', v} end
return {'created', v}
"""

# KEYS: numbers, version. ARGV: channel, e164, expect.
_DELETE = _LUA_COMMON + """
local existing = redis.call('HGET', KEYS[1], ARGV[2])
if not existing then
  if ARGV[3] == '' or ARGV[3] == '*' then return {'missing', current()} end
  return {'conflict', current()}
end
local failed = check(existing, ARGV[3])
if failed then return {failed, current()} end
redis.call('HDEL', KEYS[1], ARGV[2])
local v = redis.call('INCR', KEYS[2])
redis.call('PUBLISH', ARGV[1], message(v, {ARGV[2]}))
return {'deleted', v}
"""

# KEYS: indexed cursor. ARGV: id. Moves the cursor forward only.
_ADVANCE = """
local cur = redis.call('GET', KEYS[1])
local function parse(id)
  local ms, seq = string.match(id, '^(%d+)-(%d+)$')
  return tonumber(ms), tonumber(seq)
end
if cur then
  local cm, cs = parse(cur)
  local nm, ns = parse(ARGV[1])
  if nm < cm or (nm == cm and ns <= cs) then return 0 end
end
redis.call('SET', KEYS[1], ARGV[1])
return 1
"""


def etag(raw: str) -> str:
    return '"' + hashlib.sha1(raw.encode("utf-8")).hexdigest() + '"'


def _tag_value(tag: str) -> str:
    """``"abc"`` or ``W/"abc"`` -> ``abc`` (weak comparison is fine for If-Match on our
    tags: they are content hashes)."""
    tag = tag.strip()
    if tag.startswith("W/"):
        tag = tag[2:]
    return tag.strip('"')


@dataclass(frozen=True)
class WriteOutcome:
    status: str          # created, updated, unchanged, deleted, missing, conflict
    version: int


class ApiStore:
    def __init__(self, store: RedisStore, catch_up_max: int = 200_000, batch: int = 1000):
        self.store = store
        self.client: redis.Redis = store.client
        self.catch_up_max = catch_up_max
        self.batch = batch
        self._put = self.client.register_script(_PUT)
        self._delete = self.client.register_script(_DELETE)
        self._advance = self.client.register_script(_ADVANCE)

    def io(self, what: str):
        """Run redis-py calls, raising its errors as ``StoreUnavailable``: the store's own."""
        return self.store.io(what)

    # -- numbers --------------------------------------------------------------------
    def get(self, e164: str) -> tuple[str | None, int]:
        snap = self.store.snapshot([e164])
        return snap.entries.get(e164), snap.version

    def page(self, allows, limit: int, after: str | None) -> tuple[dict[str, str], str | None]:
        """The numbers ``allows`` accepts, in E.164 order after ``after``: up to ``limit``
        stored entries and the cursor of the next page (None at the end). Reads the keys
        (HKEYS, ~2 MB for 100,000 numbers) and only the page's values."""
        with self.io("listing numbers"):
            keys = self.client.hkeys(NUMBERS)
            mine = sorted(k for k in keys if (after is None or k > after) and allows(k))
            chosen = mine[:limit]
            values = self.client.hmget(NUMBERS, chosen) if chosen else []
        entries = {k: v for k, v in zip(chosen, values) if v is not None}   # deleted meanwhile
        return entries, (chosen[-1] if len(mine) > limit else None)

    @staticmethod
    def expectation(if_match: str | None, if_none_match: str | None) -> str:
        """HTTP preconditions -> ``expect``. Only the first tag of a list is kept: a
        client updating one entry has exactly one tag for it."""
        if if_none_match is not None and if_none_match.strip() == "*":
            return ABSENT
        if if_match is None or not if_match.strip():
            return ANY
        first = if_match.split(",")[0].strip()
        if first == "*":
            return EXISTS
        value = _tag_value(first)
        # An empty or malformed tag can never match a SHA-1: a conflict, not "any".
        return value or "-"

    def put(self, e164: str, doc: str, expect: str = ANY) -> WriteOutcome:
        with self.io("writing a number"):
            status, version = self._put(keys=[NUMBERS, VERSION], args=[UPDATES, e164, doc, expect])
        return WriteOutcome(_s(status), int(version))

    def delete(self, e164: str, expect: str = ANY) -> WriteOutcome:
        with self.io("deleting a number"):
            status, version = self._delete(keys=[NUMBERS, VERSION], args=[UPDATES, e164, expect])
        return WriteOutcome(_s(status), int(version))

    # -- calls ----------------------------------------------------------------------
    def find_call(self, uuid: str) -> tuple[str, dict[str, str]] | None:
        with self.io("reading call records"):
            self._catch_up()
            score = self.client.zscore(CALL_INDEX, uuid)
            if score is None:
                return None
            ms = int(score)
            found = None
            # Entries of one millisecond are few (one pipelined batch at most); the newest
            # copy wins (delivery is at least once).
            for entry_id, fields in self.client.xrange(CALLS, f"{ms}-0", f"{ms}-18446744073709551615"):
                if fields.get("uuid") == uuid:
                    found = (entry_id, fields)
            return found

    def _catch_up(self) -> None:
        start = self.client.get(CALL_INDEXED)
        if start:
            last = self.client.xrevrange(CALLS, count=1)
            if not last or _id(last[0][0]) < _id(start):
                # The stream was deleted or Redis lost its data: new entries start below
                # the cursor and would never be indexed. Start over.
                self.client.delete(CALL_INDEX, CALL_INDEXED)
                start = None
        seen = 0
        while seen < self.catch_up_max:
            lo = f"({start}" if start else "-"
            entries = self.client.xrange(CALLS, lo, "+", count=self.batch)
            if not entries:
                break
            with self.client.pipeline(transaction=False) as p:
                mapping = {}
                for entry_id, fields in entries:
                    uuid = fields.get("uuid")
                    if uuid:
                        mapping[uuid] = int(entry_id.split("-")[0])
                if mapping:
                    p.zadd(CALL_INDEX, mapping)
                p.execute()
            start = entries[-1][0]
            self._advance(keys=[CALL_INDEXED], args=[start])
            seen += len(entries)
            if len(entries) < self.batch:
                break
        first = self.client.xrange(CALLS, "-", "+", count=1)
        if first:
            first_ms = int(first[0][0].split("-")[0])
            self.client.zremrangebyscore(CALL_INDEX, "-inf", f"({first_ms}")


def _id(entry_id: str) -> tuple[int, int]:
    ms, _, seq = entry_id.partition("-")
    return int(ms), int(seq or 0)


def _s(value) -> str:
    return value.decode() if isinstance(value, bytes) else str(value)


def record_of(fields: dict[str, str]) -> dict | None:
    """The call record of a stream entry (its ``record`` field), or None if unreadable."""
    try:
        record = json.loads(fields.get("record") or "")
    except ValueError:
        return None
    return record if isinstance(record, dict) else None
