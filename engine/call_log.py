"""Call records to the Redis stream ``callflow:calls``, never at a call's expense.

Contract of ``CallRecordStream(store, maxlen, buffer_size)``:

* ``submit(record)`` is what the runner calls when a call ends. It only serialises the
  record and appends it to a local queue; it never does I/O, never blocks and never
  raises into the call.
* One greenlet (``start()``) writes queued records with ``XADD callflow:calls MAXLEN ~
  maxlen`` in pipelined batches. While Redis is away the records wait in the queue
  (up to ``buffer_size``, and never fewer than one batch) and are written, in order,
  once it is back. Records that do not fit are dropped, counted in ``dropped`` and
  logged (at most one line per ``DROP_LOG_SECONDS``).
* Delivery is at least once: a batch cut by a connection loss is written again whole,
  so a reader of the stream may see a record twice (its ``uuid`` tells).
* ``status()``: ``records_buffered`` and ``records_dropped``, for /health.
* ``flush(timeout)`` waits (bounded) until the queue is empty, for a clean shutdown.

Stream entry fields: ``uuid``, ``number``, ``record`` (the call record's JSON, see
``engine.records``).
"""
from __future__ import annotations

import json
import logging
import time
from collections import deque

import gevent
from gevent.event import Event

from rules.errors import StoreUnavailable

log = logging.getLogger("callflow.records")

BATCH = 200
BACKOFF_FIRST = 0.1
BACKOFF_MAX = 5.0
DROP_LOG_SECONDS = 10.0


class CallRecordStream:
    def __init__(self, store, maxlen: int, buffer_size: int):
        self.store = store
        self.maxlen = maxlen
        self.capacity = max(buffer_size, BATCH)
        self.dropped = 0
        self.written = 0
        self._queue: deque[dict[str, str]] = deque()
        self._wake = Event()
        self._empty = Event()
        self._empty.set()
        self._greenlet = None
        self._failing: str | None = None
        self._drop_logged_at = 0.0
        self._drops_unlogged = 0

    # -- the call side --------------------------------------------------------------
    def submit(self, record) -> None:
        if len(self._queue) >= self.capacity:
            self.dropped += 1
            self._drops_unlogged += 1
            now = time.monotonic()
            if now - self._drop_logged_at >= DROP_LOG_SECONDS:
                log.warning("call record buffer full; records dropped", extra={"fields": {
                    "dropped_now": self._drops_unlogged, "dropped_total": self.dropped,
                    "buffer_size": self.capacity, "uuid": getattr(record, "uuid", None)}})
                self._drop_logged_at = now
                self._drops_unlogged = 0
            return
        data = record.to_json() if hasattr(record, "to_json") else dict(record)
        self._queue.append({"uuid": str(data.get("uuid", "")), "number": str(data.get("number", "")),
                            "record": json.dumps(data, ensure_ascii=False, default=str)})
        self._empty.clear()
        self._wake.set()

    def status(self) -> dict:
        return {"records_buffered": len(self._queue), "records_dropped": self.dropped}

    # -- the writer -----------------------------------------------------------------
    def start(self) -> None:
        self._greenlet = gevent.spawn(self._run)

    def stop(self) -> None:
        if self._greenlet is not None:
            self._greenlet.kill(block=True, timeout=1.0)

    def flush(self, timeout: float) -> bool:
        return self._empty.wait(timeout)

    def _run(self) -> None:
        backoff = BACKOFF_FIRST
        while True:
            if not self._queue:
                self._empty.set()
                self._wake.clear()
                self._wake.wait()
                continue
            batch = [self._queue[i] for i in range(min(BATCH, len(self._queue)))]
            try:
                self.store.append_records(batch, self.maxlen)
            except StoreUnavailable as exc:
                if self._failing is None:
                    log.warning("call records cannot reach Redis; buffering them", extra={"fields": {
                        "error": str(exc), "buffered": len(self._queue), "buffer_size": self.capacity}})
                self._failing = str(exc)
                gevent.sleep(backoff)
                backoff = min(backoff * 2, BACKOFF_MAX)
                continue
            except Exception:
                # A record Redis refuses for a reason of its own would be retried forever.
                log.exception("call records could not be written; batch discarded",
                              extra={"fields": {"records": len(batch)}})
                self.dropped += len(batch)
            else:
                self.written += len(batch)
            for _ in batch:
                self._queue.popleft()
            backoff = BACKOFF_FIRST
            if self._failing is not None:
                log.info("call records reach Redis again", extra={"fields": {
                    "buffered": len(self._queue), "dropped_total": self.dropped}})
                self._failing = None
