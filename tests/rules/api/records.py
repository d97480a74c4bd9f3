"""Call records written to ``callflow:calls`` by the engine's own writer
(``engine.call_log.CallRecordStream``), so the API is tested against the real format."""
from __future__ import annotations

from datetime import datetime, timedelta, timezone

from engine.records import Attempt, CallRecord

T0 = datetime(2026, 11, 27, 13, 0, tzinfo=timezone.utc)


def record(uuid: str, number: str, minutes: int = 0, recording: str | None = None,
           voicemail: str | None = None, outcome: str = "answered") -> CallRecord:
    start = T0 + timedelta(minutes=minutes)
    return CallRecord(uuid=uuid, number=number, caller="+5521988887777", started_at=start,
                      ended_at=start + timedelta(seconds=42), outcome=outcome,
                      attempts=[Attempt(["+5511999990000"], "answered", 6.5)],
                      recording=recording, voicemail=voicemail, hangup_cause="NORMAL_CLEARING",
                      trace=["forwarding[0]: taken"])


def write_records(store, records: list[CallRecord]) -> None:
    from engine.call_log import CallRecordStream

    stream = CallRecordStream(store, maxlen=100_000, buffer_size=1000)
    for r in records:
        stream.submit(r)
    stream.start()
    try:
        assert stream.flush(10), "call records were not written"
    finally:
        stream.stop()
    assert stream.dropped == 0
