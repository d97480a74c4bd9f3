"""The hand-off between a finished voicemail recording and whatever delivers it.

The engine builds a ``VoicemailMessage`` once the recording is complete (also when the
caller hung up mid-message) and calls ``sink.submit(message)``. ``submit`` must make the
message durable before it returns: the call's greenlet moves on right after.
The engine's sink is ``engine.mailer.SpoolSink`` (a durable e-mail job per message).
``LoggingSink`` keeps the file where FreeSWITCH wrote it and only logs where it is; it is
left for tests and tools that run steps without a spool.
"""
from __future__ import annotations

import logging
from dataclasses import asdict, dataclass
from typing import Protocol


@dataclass(frozen=True)
class VoicemailMessage:
    uuid: str
    number: str               # E.164 called number
    caller: str               # E.164 or "anonymous"
    caller_name: str | None
    email: tuple[str, ...]
    path: str                 # the WAV file
    seconds: float
    local_time: str           # ISO 8601 in the number's zone, when the call arrived

    def to_json(self) -> dict:
        out = asdict(self)
        out["email"] = list(self.email)
        return out


class VoicemailSink(Protocol):
    def submit(self, message: VoicemailMessage) -> None: ...


class LoggingSink:
    """No mailer configured: the message stays on disk and the log says where."""

    def __init__(self):
        self.log = logging.getLogger("callflow.voicemail")

    def submit(self, message: VoicemailMessage) -> None:
        self.log.warning("voicemail kept on disk; no mailer configured",
                         extra={"uuid": message.uuid, "fields": message.to_json()})
