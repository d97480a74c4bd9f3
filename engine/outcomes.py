"""What steps report back to the runner, and what a finished call is recorded as.

A step never decides what comes next and never writes the call record: it returns a
``StepResult`` and the runner applies it to the record and moves on (docs/design.md,
"Engine conventions").
"""
from __future__ import annotations

from dataclasses import dataclass
from enum import Enum

from engine.records import Attempt


class Outcome(str, Enum):
    """How one step ended (docs/design.md, "Engine conventions")."""

    DONE = "done"                # a message played, a hangup sent
    ANSWERED = "answered"        # a forward target answered; the conversation ran
    NO_ANSWER = "no_answer"
    BUSY = "busy"
    FAILED = "failed"            # unreachable, rejected, invalid
    CALLER_GONE = "caller_gone"
    VOICEMAIL = "voicemail"      # a message was recorded and handed over
    VOICEMAIL_EMPTY = "voicemail_empty"  # nothing (or too little) was said


class CallOutcome(str, Enum):
    """How a finished call is recorded (the call record's ``outcome``)."""

    ANSWERED = "answered"
    VOICEMAIL = "voicemail"
    HANGUP = "hangup"
    MISSED = "missed"
    REFUSED = "refused"


@dataclass(frozen=True, slots=True)
class StepResult:
    """What one step did, for the runner to record: ``run(ctx, item) -> StepResult``."""

    outcome: Outcome
    attempt: Attempt | None = None     # a forward attempt that rang someone
    recording: str | None = None       # a conversation recording that was kept
    voicemail: str | None = None       # a voicemail handed over for e-mail
    hangup_cause: str | None = None    # the cause we hung up with
    detail: str = ""                   # for the log: why the caller is gone, when they are
