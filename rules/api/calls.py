"""The call statement: pages of call records from the ``callflow:calls`` stream.

The engine appends one entry per finished call (``engine.call_log``): fields ``uuid``,
``number`` (E.164 of the called number) and ``record`` (the call record's JSON,
``engine.records``). Stream ids grow with the time Redis wrote the entry, i.e. after the
call ended, so walking the stream backwards gives the newest calls first.

Contract of ``read_page(client, allows, number, since, until, limit, cursor)``:

* returns ``(records, next_cursor)``: up to ``limit`` records, newest first, whose
  ``number`` the caller's scope ``allows`` (and equals ``number`` if given) and whose
  ``started_at`` is in ``[since, until)``; ``next_cursor`` (the stream id of the last
  entry examined) continues after them, or ``None`` when the stream is exhausted.
* A page examines at most ``SCAN_MAX`` entries, so a narrow filter over a long stream
  answers in bounded time with fewer records and a cursor to go on with.
* ``since`` also bounds the walk: an entry written before ``since`` (less a margin for
  clocks that disagree between engine hosts and Redis) cannot hold a call started after
  it.
* Delivery to the stream is at least once: a record seen twice on one page is kept once.
  Entries whose record is not JSON are skipped.
"""
from __future__ import annotations

import re
from collections.abc import Callable
from datetime import datetime

from rules.api_store import record_of
from rules.redis_store import CALLS

__all__ = ["read_page", "parse_cursor", "started_at", "SCAN_MAX", "BATCH"]

SCAN_MAX = 10_000
BATCH = 500
CLOCK_MARGIN_MS = 3_600_000
_CURSOR = re.compile(r"\d{1,20}-\d{1,20}")


def parse_cursor(value: str) -> str:
    if not _CURSOR.fullmatch(value):
        raise ValueError("not a cursor from a previous page")
    return value


def started_at(record: dict) -> datetime | None:
    try:
        value = datetime.fromisoformat(str(record.get("started_at")))
    except ValueError:
        return None
    return value if value.tzinfo is not None else None


def read_page(client, allows: Callable[[str], bool], number: str | None,
              since: datetime | None, until: datetime | None, limit: int,
              cursor: str | None) -> tuple[list[dict], str | None]:
    high = f"({cursor}" if cursor else "+"
    low = "-"
    if since is not None:
        low = str(max(0, int(since.timestamp() * 1000) - CLOCK_MARGIN_MS))
    out: list[dict] = []
    seen: set[str] = set()
    examined = 0
    last_id: str | None = None
    while examined < SCAN_MAX:
        count = min(BATCH, SCAN_MAX - examined)
        batch = client.xrevrange(CALLS, high, low, count=count)
        if not batch:
            return out, None
        for entry_id, fields in batch:
            examined += 1
            last_id = entry_id
            entry_number = fields.get("number", "")
            if not allows(entry_number) or (number is not None and entry_number != number):
                continue
            record = record_of(fields)
            if record is None or record.get("uuid") in seen:
                continue
            when = started_at(record)
            if since is not None and (when is None or when < since):
                continue
            if until is not None and (when is None or when >= until):
                continue
            seen.add(record.get("uuid"))
            out.append(record)
            if len(out) >= limit:
                return out, entry_id
        if len(batch) < count:
            return out, None          # the walk reached its end
        high = f"({last_id}"
    return out, last_id
