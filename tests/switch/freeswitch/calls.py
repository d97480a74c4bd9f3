"""What one test call looked like from the switch: ``PlacedCall``.

A test call is ``originate {origination_uuid=U,...}loopback/<DID>/public <caller app>``:
``loopback/<DID>-a`` (uuid U) is the caller, ``loopback/<DID>-b`` runs the project's
dialplan and is the channel the engine controls (its ``variable_origination_uuid`` is
U); each far end the engine rings is a ``loopback/<digits>-a`` whose
``variable_originator`` is the controlled channel (all seen on FreeSWITCH 1.11.1).

Everything here is read from the switch's events (EventLog): applications run, far ends
rung and for how long by ``Event-Date-Timestamp``, the cause the caller got.
"""
from __future__ import annotations

import uuid as uuidlib
from dataclasses import dataclass

from tests.switch.freeswitch.esl_client import EventLog, InboundClient


def _ts(event: dict) -> float:
    return int(event["Event-Date-Timestamp"]) / 1e6


@dataclass
class Leg:
    """One far end rung by the engine."""
    destination: str
    uuid: str
    created: float
    answered: float | None
    hungup: float | None
    cause: str | None

    @property
    def ring_seconds(self) -> float:
        """Seconds from the switch creating the leg to its answer or its hang-up."""
        end = self.answered if self.answered is not None else self.hungup
        return end - self.created


class PlacedCall:
    def __init__(self, events: EventLog, client: InboundClient, did: str,
                 caller: str | None = "5521988887777", app: str = "&park()",
                 variables: dict[str, str] | None = None):
        self.events = events
        self.client = client
        self.did = did
        self.uuid = str(uuidlib.uuid4())
        # ignore_early_media: the caller's own application (its "talking") starts when the
        # call is answered, not on the ringback of a forward (which mod_loopback's
        # originate would otherwise take as the start).
        params = {"origination_uuid": self.uuid, "ignore_early_media": "true", **(variables or {})}
        if caller is not None:
            params["origination_caller_id_number"] = caller
        dial = "{" + ",".join(f"{k}={v}" for k, v in params.items()) + "}"
        client.originate(f"{dial}loopback/{did}/public", app)

    # -- matching ---------------------------------------------------------------------
    def _controlled(self, event: dict, name: str, app: str | None = None) -> bool:
        """``event`` is ``name`` (for ``app``) on the channel the engine controls: it
        carries our origination uuid, but is not the caller's own leg."""
        return (event.get("Event-Name") == name
                and event.get("variable_origination_uuid") == self.uuid
                and event.get("Unique-ID") != self.uuid
                and (app is None or event.get("Application") == app))

    def _caller(self, event: dict, name: str) -> bool:
        return event.get("Event-Name") == name and event.get("Unique-ID") == self.uuid

    # -- waiting ----------------------------------------------------------------------
    def wait_app(self, app: str, timeout: float = 10.0) -> dict:
        """The controlled channel started ``app`` (CHANNEL_EXECUTE)."""
        return self.events.wait(lambda e: self._controlled(e, "CHANNEL_EXECUTE", app), timeout,
                                f"{app} on the controlled channel")

    def wait_completion(self, app: str, timeout: float = 10.0) -> dict:
        """The controlled channel's CHANNEL_EXECUTE_COMPLETE of ``app`` (it may come after
        the caller's leg is gone: transcript 04b)."""
        return self.events.wait(lambda e: self._controlled(e, "CHANNEL_EXECUTE_COMPLETE", app),
                                timeout, f"completion of {app}")

    def wait_ended(self, timeout: float = 30.0) -> dict:
        """The caller's leg hung up; returns its CHANNEL_HANGUP_COMPLETE."""
        return self.events.wait(lambda e: self._caller(e, "CHANNEL_HANGUP_COMPLETE"), timeout,
                                "hang-up of the caller's leg")

    def hang_up(self) -> None:
        """The caller hangs up (uuid_kill of the caller's leg, as transcript 05 does)."""
        reply = self.client.api(f"uuid_kill {self.uuid}")
        assert reply.startswith("+OK"), reply

    # -- what happened ------------------------------------------------------------------
    @property
    def controlled_uuid(self) -> str:
        for e in self.events.snapshot():
            if self._controlled(e, "CHANNEL_CREATE"):
                return e["Unique-ID"]
        raise AssertionError("the controlled channel was never created")

    def apps(self) -> list[tuple[str, str]]:
        """(application, data) run on the controlled channel, in order, from the
        dialplan's and the engine's commands alike."""
        return [(e["Application"], e.get("Application-Data") or "")
                for e in self.events.snapshot() if self._controlled(e, "CHANNEL_EXECUTE")]

    def engine_apps(self) -> list[tuple[str, str]]:
        """The applications after the ``socket`` one: what the engine made the switch do."""
        apps = self.apps()
        names = [a for a, _ in apps]
        return apps[names.index("socket") + 1:] if "socket" in names else []

    def played(self) -> list[str]:
        return [d for a, d in self.engine_apps() if a == "playback"]

    def completions(self, app: str) -> list[dict]:
        return [e for e in self.events.snapshot()
                if self._controlled(e, "CHANNEL_EXECUTE_COMPLETE", app)]

    def legs(self) -> list[Leg]:
        """The far ends rung for this call, in the order the switch created them."""
        controlled = self.controlled_uuid
        legs: dict[str, Leg] = {}
        for e in self.events.snapshot():
            name, uid = e.get("Event-Name"), e.get("Unique-ID")
            if name == "CHANNEL_CREATE" and e.get("variable_originator") == controlled:
                legs[uid] = Leg(e.get("Caller-Destination-Number") or "", uid, _ts(e), None, None, None)
            elif uid in legs and name == "CHANNEL_ANSWER":
                legs[uid].answered = _ts(e)
            elif uid in legs and name == "CHANNEL_HANGUP":
                legs[uid].hungup, legs[uid].cause = _ts(e), e.get("Hangup-Cause")
        return list(legs.values())

    def caller_hangup(self, timeout: float = 10.0) -> tuple[str, int]:
        """(cause name, Q.850 code) that the caller's leg was hung up with: the name from
        the caller's leg, the code as the controlled channel sends it to the carrier
        (``hangup_cause_q850``; mod_loopback passes the name on, not the code). Waits for
        both legs' CHANNEL_HANGUP_COMPLETE: the engine's call record can come first."""
        caller = self.events.wait(lambda e: self._caller(e, "CHANNEL_HANGUP_COMPLETE"),
                                  timeout, "CHANNEL_HANGUP_COMPLETE on the caller's leg")
        controlled = self.events.wait(
            lambda e: self._controlled(e, "CHANNEL_HANGUP_COMPLETE"), timeout,
            "CHANNEL_HANGUP_COMPLETE on the controlled channel")
        return caller.get("Hangup-Cause"), int(controlled.get("variable_hangup_cause_q850") or 0)

    def seconds_between(self, app: str) -> float:
        """Switch-clock seconds from the start of ``app`` on the controlled channel to the
        caller's leg hanging up."""
        events = self.events.snapshot()
        start = next(e for e in events if self._controlled(e, "CHANNEL_EXECUTE", app))
        end = next(e for e in events if self._caller(e, "CHANNEL_HANGUP"))
        return _ts(end) - _ts(start)

    def caller_answered(self) -> bool:
        return any(self._caller(e, "CHANNEL_ANSWER") for e in self.events.snapshot())
