"""engine.call_log: call records wait, bounded, while Redis is away (a fake store: the
real-Redis path is tests/engine/test_redis_e2e.py)."""
from __future__ import annotations

import gevent

from engine.call_log import BATCH, CallRecordStream
from rules.errors import StoreUnavailable


class FakeStore:
    def __init__(self):
        self.up = True
        self.written: list[dict] = []

    def append_records(self, records, maxlen):
        if not self.up:
            raise StoreUnavailable("redis://x: down")
        self.written.extend(records)


def record(i):
    return {"uuid": f"u{i}", "number": "+551140040000", "outcome": "answered"}


def test_records_wait_while_redis_is_away_and_overflow_is_counted(caplog):
    store = FakeStore()
    stream = CallRecordStream(store, maxlen=1000, buffer_size=300)
    stream.start()
    try:
        stream.submit(record(0))
        assert stream.flush(2) and [r["uuid"] for r in store.written] == ["u0"]
        store.up = False
        for i in range(1, 311):
            stream.submit(record(i))              # never blocks, never raises
        gevent.sleep(0.05)
        assert stream.status() == {"records_buffered": 300, "records_dropped": 10}
        assert sum("buffer full" in r.getMessage() for r in caplog.records) == 1   # rate-limited
        store.up = True
        assert stream.flush(10)
        uuids = [r["uuid"] for r in store.written]
        assert uuids == [f"u{i}" for i in range(301)]     # in order; the overflow was the newest
        assert stream.status() == {"records_buffered": 0, "records_dropped": 10}
    finally:
        stream.stop()


def test_buffer_never_smaller_than_a_batch():
    assert CallRecordStream(FakeStore(), 1000, 0).capacity == BATCH
