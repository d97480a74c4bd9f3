"""One live call: the only object that talks to FreeSWITCH for its channel.

``Call`` wraps the event-socket connection of one channel (``engine.esl``) and offers
the handful of applications the steps need, each a ``sendmsg`` with ``event-lock`` and
its own ``Event-UUID`` whose ``CHANNEL_EXECUTE_COMPLETE`` is awaited with a bound.
A caller hanging up makes any wait raise ``CallerGone``; the socket lingers
(``linger N``) so that cleanup can still read post-hangup events (transcripts README,
"Hangup sequence and linger").
"""
from __future__ import annotations

import time
from typing import Callable

from rules.errors import CallerGone

# What an application's completion carries (transcripts README, "Application-Response").
FILE_PLAYED = "FILE PLAYED"


class Call:
    def __init__(self, conn, *, command_timeout: float, max_call_seconds: float, log):
        self.conn = conn
        self.log = log
        self.command_timeout = command_timeout
        self.max_call_seconds = max_call_seconds
        self.data = {}   # the connect reply (a Message: .get(), .headers) after setup()
        self.answered = False
        self.accepted_at = time.monotonic()
        self.first_command_at: float | None = None

    # -- identity -------------------------------------------------------------------
    @property
    def uuid(self) -> str:
        return self.data.get("Unique-ID", "")

    @property
    def called(self) -> str:
        return self.data.get("Caller-Destination-Number", "")

    @property
    def caller(self) -> str | None:
        return self.data.get("Caller-Caller-ID-Number") or None

    @property
    def caller_name(self) -> str | None:
        return self.data.get("Caller-Caller-ID-Name") or None

    @property
    def gone(self) -> bool:
        return self.conn.hangup_cause is not None or self.conn.closed

    # -- session set-up -------------------------------------------------------------
    def setup(self, linger_seconds: int) -> None:
        """connect, myevents, linger N in one write (transcript 02: `linger 5` -> `+OK will
        linger 5 seconds`, then a second notice and close N s after hangup)."""
        # The reply itself, not its `.headers`: it decodes on get() only the few values
        # read here, not its ~150 channel variables.
        self.data = self.conn.connect(then=("myevents", f"linger {int(linger_seconds)}"))

    def on_event(self, callback: Callable) -> Callable[[], None]:
        """Subscribe to this channel's events; returns the function that unsubscribes."""
        return self.conn.on_event(callback)

    # -- applications ---------------------------------------------------------------
    def _execute(self, app: str, arg: str | None = None, timeout: float | None = None):
        if self.first_command_at is None:
            self.first_command_at = time.monotonic()
        if self.gone:
            raise CallerGone(f"{app}: caller already gone ({self.conn.hangup_cause})")
        self.log.debug("execute %s %s", app, arg or "")
        return self.conn.execute(app, arg, timeout=timeout or self.command_timeout)

    def answer(self) -> None:
        if not self.answered:
            self._execute("answer")
            self.answered = True
            self.log.info("answered")

    def set(self, name: str, value: str) -> None:
        self._execute("set", f"{name}={value}")

    def unset(self, name: str) -> None:
        self._execute("unset", name)

    def multiset(self, assignments: str) -> None:
        """Several ``name=value`` separated by spaces (``name=`` deletes), one round trip."""
        self._execute("multiset", assignments)

    def playback(self, path: str, max_seconds: float | None = None) -> str:
        """Play one file; returns FreeSWITCH's Application-Response (FILE PLAYED, FILE
        NOT FOUND, PLAYBACK ERROR)."""
        done = self._execute("playback", path, timeout=max_seconds or self.max_call_seconds)
        return done.get("Application-Response") or ""

    def bridge(self, arg: str, ring_seconds: int):
        """Blocks for the ring time and then the whole conversation."""
        return self._execute("bridge", arg, timeout=ring_seconds + self.max_call_seconds)

    def record_session(self, path: str) -> None:
        self._execute("record_session", path)

    def stop_record_session(self, path: str) -> None:
        self._execute("stop_record_session", path)

    def record_start(self, path: str, max_seconds: int, silence_threshold: int,
                     silence_hits: int) -> str:
        """Start ``record`` and return its app uuid: the completion is awaited with
        ``record_wait`` so that it can still be read after the caller hung up."""
        if self.gone:
            raise CallerGone("record: caller already gone")
        return self.conn.execute_async(
            "record", f"{path} {int(max_seconds)} {int(silence_threshold)} {int(silence_hits)}")

    def record_wait(self, app_uuid: str, timeout: float, after_hangup: bool = False):
        return self.conn.wait_complete(app_uuid, timeout, after_hangup=after_hangup)

    def hangup(self, cause: str) -> None:
        if self.gone:
            return
        self.log.info("hanging up", fields={"cause": cause})
        try:
            self._execute("hangup", cause)
        except CallerGone:
            # Our own hangup: CHANNEL_HANGUP may beat the completion (transcript 01).
            pass

    def close(self) -> None:
        self.conn.close()
