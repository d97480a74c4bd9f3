"""Scripted far ends and callers for the AGI simulator.

``Target``: what a dialled endpoint does, with the DIALSTATUS/HANGUPCAUSE Asterisk
22.10.1 reported for the same behaviour (tests/data/agi-transcripts/README.md, the Dial
table): ``answers(after, talk)`` (02, 03: ANSWER, HANGUPCAUSE 16 when it hangs up),
``no_answer()`` (03: rings until Dial's timeout, NOANSWER, HANGUPCAUSE left as it was),
``busy()`` (04: BUSY at once, HANGUPCAUSE 0 with Local channels), ``congestion()`` (04:
CONGESTION, 0), ``rejects(cause)`` (04: ``Hangup(21)`` before answer -> CHANUNAVAIL, 21).
An endpoint with no target is CHANUNAVAIL with cause 66 (04: ``PJSIP/...`` not loaded,
``Local/`` to a missing extension).

``Caller``: the caller's side. ``hangup_after``: seconds after the call started (the AMI
``Hangup`` of the transcripts); ``talk``: seconds of speech before silence (what RECORD
FILE's silence detection sees; None: speaks until the end); ``silent``: sends no frames at
all (07c: silence never detected); ``press_after``: seconds into a RECORD FILE at which
the caller presses ``press_digit`` (07b). ``sighup``/``exit_on_hangup``: AGISIGHUP and
AGIEXITONHANGUP (05c, 05d).
"""
from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Target:
    kind: str                   # answer, ring, busy, congestion, reject
    after: float = 0.0          # answer: seconds of ringing first
    talk: float = 3.0           # answer: seconds of conversation, then it hangs up
    cause: int = 21             # reject: the cause it hangs up with

    @classmethod
    def answers(cls, after: float = 0.0, talk: float = 3.0) -> "Target":
        return cls("answer", after=after, talk=talk)

    @classmethod
    def no_answer(cls) -> "Target":
        return cls("ring")

    @classmethod
    def busy(cls) -> "Target":
        return cls("busy")

    @classmethod
    def congestion(cls) -> "Target":
        return cls("congestion")

    @classmethod
    def rejects(cls, cause: int = 21) -> "Target":
        return cls("reject", cause=cause)


# kind -> (DIALSTATUS, HANGUPCAUSE after a Dial where every endpoint did that)
FAILURES = {"busy": ("BUSY", "0"), "congestion": ("CONGESTION", "0")}
UNAVAILABLE_CAUSE = "66"


@dataclass(frozen=True)
class Caller:
    number: str = "+5511999990001"
    name: str = "Caller"
    pres: int = 0                       # agi_callingpres (09b: 33 withheld, 09c: 67)
    hangup_after: float | None = None
    talk: float | None = None
    silent: bool = False
    press_after: float | None = None
    press_digit: str = "#"
    sighup: bool = True
    exit_on_hangup: bool = False
