"""The plan of one call: what the engine must do, decided once when the call arrives.

A ``Plan`` is immutable and self-contained: the engine runs it without looking at the
configuration again, so a configuration update during the call never changes it.
``Plan.to_json()`` is the exact JSON contract of ``callflow plan`` and of the API's
dry run: keys ``number, caller, local_time, start, hangup, forward, voicemail, end,
trace`` and nothing else.
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

ANONYMOUS = "anonymous"


@dataclass(frozen=True, slots=True)
class ForwardAttempt:
    """One bridge attempt: every destination in ``to`` rings together."""

    to: tuple[str, ...]          # validated E.164 ("+5511...") or "sip:user@host"
    ring_seconds: int
    record: bool = False

    def to_json(self) -> dict:
        return {"to": list(self.to), "ring_seconds": self.ring_seconds, "record": self.record}


@dataclass(frozen=True, slots=True)
class VoicemailPlan:
    email: tuple[str, ...]
    greeting: str | None
    max_seconds: int
    min_seconds: int

    def to_json(self) -> dict:
        return {
            "email": list(self.email),
            "greeting": self.greeting,
            "max_seconds": self.max_seconds,
            "min_seconds": self.min_seconds,
        }


@dataclass(frozen=True, slots=True)
class Plan:
    number: str                  # E.164 of the called number (as dialled if unknown)
    caller: str                  # E.164 or ANONYMOUS
    local_time: datetime         # the instant, in the number's zone (aware)
    start: tuple[str, ...] = ()  # audio names, relative to the media folder
    hangup: str | None = None    # FreeSWITCH hangup cause when a hangup entry holds
    forward: tuple[ForwardAttempt, ...] = ()
    voicemail: VoicemailPlan | None = None
    end: tuple[str, ...] = ()
    trace: tuple[str, ...] = ()
    known: bool = True           # False: the number is not configured

    @property
    def needs_media(self) -> bool:
        """True when our side must answer (a message or a voicemail will play/record)."""
        return bool(self.start or self.end or self.voicemail)

    def to_json(self) -> dict:
        return {
            "number": self.number,
            "caller": self.caller,
            "local_time": self.local_time.isoformat(),
            "start": list(self.start),
            "hangup": self.hangup,
            "forward": [a.to_json() for a in self.forward],
            "voicemail": self.voicemail.to_json() if self.voicemail else None,
            "end": list(self.end),
            "trace": list(self.trace),
        }
