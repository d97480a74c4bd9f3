"""The call record: one JSON line per finished call, for ops and for the call statement.

Fields (the contract of the ``callflow.record`` log line and, later, of the Redis
stream): uuid, number, caller, started_at, ended_at, outcome, attempts (each ``to``,
``result``, ``seconds``), recording, voicemail, hangup_cause, trace, error (null, or
why the engine gave up on the call: the switch did not answer in time, misbehaved, or
a bug).
"""
from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import datetime, timezone

log = logging.getLogger("callflow.record")


@dataclass
class Attempt:
    to: list[str]
    result: str
    seconds: float


@dataclass
class CallRecord:
    uuid: str
    number: str
    caller: str
    started_at: datetime = field(default_factory=lambda: datetime.now(timezone.utc))
    ended_at: datetime | None = None
    outcome: str = "missed"
    attempts: list[Attempt] = field(default_factory=list)
    recording: str | None = None
    voicemail: str | None = None
    hangup_cause: str | None = None
    trace: list[str] = field(default_factory=list)
    error: str | None = None

    def to_json(self) -> dict:
        # By hand: dataclasses.asdict deep-copies every field (measured on the hot path).
        return {
            "uuid": self.uuid, "number": self.number, "caller": self.caller,
            "started_at": self.started_at.isoformat(),
            "ended_at": self.ended_at.isoformat() if self.ended_at else None,
            "outcome": self.outcome,
            "attempts": [{"to": list(a.to), "result": a.result, "seconds": a.seconds}
                         for a in self.attempts],
            "recording": self.recording, "voicemail": self.voicemail,
            "hangup_cause": self.hangup_cause, "trace": list(self.trace),
            "error": self.error,
        }

    def emit(self) -> None:
        log.info("call finished", extra={"uuid": self.uuid, "fields": {"record": self.to_json()}})
