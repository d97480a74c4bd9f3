"""The switch seam: what steps and the runner may ask of a live call, whatever the switch.

``SwitchCall`` is the whole interface. FreeSWITCH implements it in ``engine.freeswitch``
(over the outbound event socket, ``engine.esl``); Asterisk will implement it over
FastAGI. Steps and the runner import this module, never a switch's own modules
(docs/design.md, "The switch seam" and "Layers"; tests/test_layers.py keeps it true).

Contract, for every implementation:

* identity (``uuid``, ``called``, ``caller``, ``caller_name``) is readable after ``start``;
* any method may raise ``CallerGone`` once the caller hung up, except ``dial`` and
  ``record_message``, which report a hang-up in their result (the call record must still
  say what was dialled and what was recorded), and ``hangup``/``close``, which are no-ops
  then;
* any method may raise another ``CallError`` (the switch misbehaved: ``ProtocolError``,
  ``CommandTimeout``); the runner ends the call on it;
* every wait is bounded (the implementation derives the bound from what it is doing: a
  ring time, a recording's maximum, ``max_call_seconds`` for a conversation).
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Protocol

from engine.outcomes import Outcome
from rules.plan import ForwardAttempt

__all__ = ["DialResult", "PlayResult", "RecordResult", "SwitchCall"]


@dataclass(frozen=True, slots=True)
class PlayResult:
    played: bool
    detail: str = ""             # the switch's own words when not played ("FILE NOT FOUND")


@dataclass(frozen=True, slots=True)
class DialResult:
    """One forward attempt as the switch saw it."""

    outcome: Outcome             # answered, no_answer, busy, failed or caller_gone
    dialled: bool = True         # False: the caller left before anything rang
    recorded: bool = False       # a conversation recording was kept (answered + record)
    reason: str = ""             # why the caller is gone, when they are ("socket closed")
    details: dict[str, str | None] = field(default_factory=dict)   # for the log


@dataclass(frozen=True, slots=True)
class RecordResult:
    """A message recorded into the path asked for (the file is the truth; this is a hint)."""

    caller_hung_up: bool         # the caller ended the message by hanging up
    switch_seconds: float | None = None   # the length the switch reported, if any


class SwitchCall(Protocol):
    uuid: str
    called: str
    caller: str | None
    caller_name: str | None
    answered: bool
    accepted_at: float           # monotonic: when the switch handed the call over
    first_command_at: float | None
    log: object                  # the call's logger; the runner binds it to the uuid

    @property
    def gone(self) -> bool:
        """The caller hung up (or the switch connection is closed)."""

    @property
    def hangup_cause(self) -> str | None:
        """The switch's hang-up cause name, once the call ended."""

    def start(self) -> None:
        """Take the call over from the switch and read its identity."""

    def answer(self) -> None:
        """Answer (idempotent): needed before our own media."""

    def play(self, path: str, seconds: float | None = None) -> PlayResult:
        """Play one audio file to the caller; ``seconds``: its length when known (the
        wait is bounded by it plus a margin), else the deployment's upper bound."""

    def beep(self) -> None:
        """The short tone before a voicemail recording."""

    def dial(self, attempt: ForwardAttempt, record_path: str | None = None) -> DialResult:
        """Ring the attempt's destinations together for its ring time; when one answers,
        bridge and return when the conversation ends. ``record_path``: record that
        conversation (only the conversation) there."""

    def record_message(self, path: str, max_seconds: int, silence_threshold: int,
                       silence_hits: int) -> RecordResult:
        """Record the caller into ``path`` until silence, ``max_seconds`` or hang-up."""

    def hangup(self, cause: str) -> None:
        """Hang up with a cause name (a no-op once the caller is gone)."""

    def close(self) -> None:
        """Release the switch connection (idempotent)."""
