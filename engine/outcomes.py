"""What steps report back to the runner, and what a finished call is recorded as.

A step never decides what comes next: it returns one of these and the runner moves on.
"""
from __future__ import annotations

from enum import Enum


class Outcome(str, Enum):
    """The result of one step (DESIGN.md, "Engine conventions")."""

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
