"""What one test call looked like from the switch: ``PlacedCall``.

A test call is the AMI action ``Originate`` of ``Local/<DID>@callflow-in`` (the project's
dialplan) with our own ``ChannelId``/``OtherChannelId``: the ``;1`` half (ChannelId) is
the caller, and runs the caller's behaviour (``callflow-test-caller``: ``idle`` or
``talkN``) once its call is answered; the ``;2`` half (OtherChannelId) runs the
dialplan and is the channel the engine controls over FastAGI (its ``agi_uniqueid``).
Every channel of the call, far ends included, carries the caller's id as ``Linkedid``.
The ids are ``<digits>.<digits>`` like Asterisk's own (the engine only takes such an
``agi_uniqueid``).

Everything here is read from the switch's AMI events: the dialplan's applications
(``Newexten``), what the engine ran (``AGIExecStart``: its AGI commands, ``EXEC Dial``
among them), the far ends rung (``DialBegin``/``DialEnd`` of the controlled channel)
and for how long by the events' ``Timestamp``, and the cause each channel ended with
(``Hangup`` ``Cause``).
"""
from __future__ import annotations

import itertools
import os
import random
from dataclasses import dataclass

from tests.switch.asterisk.ami_client import AmiClient

# Unique ids for the session: a random prefix that Asterisk's own ids (<epoch>.<n>) never
# use, then a counter.
_PREFIX = f"42{random.randrange(10**7, 10**8)}{os.getpid() % 1000:03d}"
_COUNTER = itertools.count(1)


def _ts(event: dict) -> float:
    return float(event["Timestamp"])


@dataclass
class Leg:
    """One far end rung by the engine (the ``;1`` of its ``Local/<digits>@targets``)."""
    destination: str
    uniqueid: str
    created: float
    answered: float | None
    ended: float | None          # DialEnd: the switch stopped ringing it, or it answered
    status: str | None           # DialEnd's DialStatus
    hungup: float | None
    cause: int | None            # the far end's own ``;2`` Hangup cause (what it did)

    @property
    def ring_seconds(self) -> float:
        """Seconds from DialBegin to the answer or to the end of the ringing."""
        end = self.answered if self.answered is not None else self.ended
        return end - self.created


class PlacedCall:
    def __init__(self, ami: AmiClient, did: str, caller: str | None = "+5521988887777",
                 behaviour: str = "idle", context: str = "callflow-in", ring_timeout: int = 120):
        self.ami = ami
        self.did = did
        n = next(_COUNTER)
        self.caller_id = f"{_PREFIX}.{2 * n}"
        self.uniqueid = f"{_PREFIX}.{2 * n + 1}"      # the controlled channel
        fields = dict(Channel=f"Local/{did}@{context}", Context="callflow-test-caller",
                      Exten=behaviour, Priority="1", Async="true",
                      Timeout=str(ring_timeout * 1000),
                      ChannelId=self.caller_id, OtherChannelId=self.uniqueid)
        if caller is not None:
            fields["CallerID"] = f"<{caller}>"
        reply = ami.action("Originate", **fields)
        assert reply.get("Response") == "Success", reply

    # -- matching -------------------------------------------------------------------------
    def mine(self, event: dict) -> bool:
        return event.get("Linkedid") == self.caller_id or event.get("Uniqueid") in (
            self.caller_id, self.uniqueid)

    def events(self, name: str | None = None, uniqueid: str | None = None) -> list[dict]:
        return [e for e in self.ami.snapshot() if self.mine(e)
                and (name is None or e.get("Event") == name)
                and (uniqueid is None or e.get("Uniqueid") == uniqueid)]

    def _controlled(self, event: dict, name: str) -> bool:
        return event.get("Event") == name and event.get("Uniqueid") == self.uniqueid

    # -- waiting --------------------------------------------------------------------------
    def wait_command(self, prefix: str, timeout: float = 10.0) -> dict:
        """The engine's AGI command starting with ``prefix`` began (AGIExecStart)."""
        return self.ami.wait(lambda e: self._controlled(e, "AGIExecStart")
                             and e.get("Command", "").upper().startswith(prefix.upper()),
                             timeout, f"AGI command {prefix}")

    def wait_ended(self, timeout: float = 40.0) -> dict:
        """The caller's channel hung up; returns its Hangup event."""
        return self.ami.wait(lambda e: e.get("Event") == "Hangup"
                             and e.get("Uniqueid") == self.caller_id, timeout,
                             "hang-up of the caller's channel")

    def caller_channel(self) -> str:
        event = self.ami.wait(lambda e: e.get("Event") == "Newchannel"
                              and e.get("Uniqueid") == self.caller_id, 10, "the caller's channel")
        return event["Channel"]

    def hang_up(self) -> None:
        """The caller hangs up (AMI Hangup of the ``;1`` half, cause 16)."""
        reply = self.ami.action("Hangup", Channel=self.caller_channel(), Cause="16")
        assert reply.get("Response") == "Success", reply

    # -- what happened ----------------------------------------------------------------------
    def dialplan_apps(self) -> list[tuple[str, str]]:
        """(application, data) the dialplan ran on the controlled channel (Newexten)."""
        return [(e.get("Application", ""), e.get("AppData", ""))
                for e in self.events("Newexten", self.uniqueid)]

    def commands(self) -> list[str]:
        """The engine's AGI commands on the controlled channel, in order."""
        return [e.get("Command", "") for e in self.events("AGIExecStart", self.uniqueid)]

    def command_results(self, prefix: str) -> list[dict]:
        return [e for e in self.events("AGIExecEnd", self.uniqueid)
                if e.get("Command", "").upper().startswith(prefix.upper())]

    def played(self) -> list[str]:
        """The files the engine played (STREAM FILE), without the engine's beep."""
        out = []
        for command in self.commands():
            words = command.split()
            if [w.upper() for w in words[:2]] == ["STREAM", "FILE"] and words[2] != "beep":
                out.append(words[2])
        return out

    def variable(self, name: str) -> list[str]:
        """Values the controlled channel's ``name`` took (VarSet), in order."""
        return [e.get("Value", "") for e in self.events("VarSet", self.uniqueid)
                if e.get("Variable") == name]

    def legs(self) -> list[Leg]:
        """The far ends rung for this call, in the order the switch began dialling them."""
        legs: dict[str, Leg] = {}
        by_name: dict[str, str] = {}
        events = self.ami.snapshot()
        for e in events:
            name = e.get("Event")
            if name == "DialBegin" and e.get("Uniqueid") == self.uniqueid:
                dest = e.get("DestUniqueid", "")
                legs[dest] = Leg(e.get("DialString", "").split("@")[0], dest, _ts(e),
                                 None, None, None, None, None)
                by_name[e.get("DestChannel", "").replace(";1", ";2")] = dest
            elif name == "DialEnd" and e.get("DestUniqueid") in legs:
                leg = legs[e["DestUniqueid"]]
                leg.ended, leg.status = _ts(e), e.get("DialStatus")
                if leg.status == "ANSWER":
                    leg.answered = _ts(e)
            elif name == "Hangup" and e.get("Uniqueid") in legs:
                legs[e["Uniqueid"]].hungup = _ts(e)
            elif name == "Hangup" and e.get("Channel") in by_name:
                legs[by_name[e["Channel"]]].cause = int(e.get("Cause") or 0)
        return list(legs.values())

    def hangup_cause(self, uniqueid: str | None = None) -> int:
        """The Q.850 cause the caller's channel (or ``uniqueid``) ended with."""
        target = uniqueid or self.caller_id
        for e in self.ami.snapshot():
            if e.get("Event") == "Hangup" and e.get("Uniqueid") == target:
                return int(e.get("Cause") or 0)
        raise AssertionError(f"{target} has not hung up")

    def caller_answered(self) -> float | None:
        """When the caller's channel went Up (Newstate), by the switch's clock."""
        for e in self.events("Newstate", self.caller_id):
            if e.get("ChannelStateDesc") == "Up":
                return _ts(e)
        return None

    def seconds_from(self, prefix: str) -> float:
        """Switch-clock seconds from the engine's command ``prefix`` to the caller's hang-up."""
        start = next(e for e in self.events("AGIExecStart", self.uniqueid)
                     if e.get("Command", "").upper().startswith(prefix.upper()))
        end = next(e for e in self.events("Hangup", self.caller_id))
        return _ts(end) - _ts(start)
