"""``FreeSwitchCall``: the switch seam (``engine.switch.SwitchCall``) for FreeSWITCH.

It wraps the event-socket connection of one channel (``engine.esl``) and is the only
object that talks to FreeSWITCH for it: each application is a ``sendmsg`` with
``event-lock`` and its own ``Event-UUID`` whose ``CHANNEL_EXECUTE_COMPLETE`` is awaited
with a bound. A caller hanging up makes a wait raise ``CallerGone``; the socket lingers
(``linger N``) so that cleanup can still read post-hangup events (transcripts README,
"Hangup sequence and linger").
"""
from __future__ import annotations

import logging
import time
from typing import Callable

from engine.freeswitch import bridge
from engine.freeswitch.dialstring import DialTemplates
from engine.switch import DialResult, PlayResult, RecordResult
from rules.errors import CallerGone, CallError
from rules.plan import ForwardAttempt

# What an application's completion carries (transcripts README, "Application-Response").
FILE_PLAYED = "FILE PLAYED"
BEEP = "tone_stream://%(500,0,800)"
# Time FreeSWITCH gets to finish a recording after the caller hung up (transcript 04:
# the completion arrives within milliseconds of CHANNEL_HANGUP).
FINISH_GRACE_SECONDS = 5.0

_log = logging.getLogger("callflow.runner")


class FreeSwitchCall:
    def __init__(self, conn, *, templates: DialTemplates, command_timeout: float,
                 max_call_seconds: float, linger_seconds: int,
                 max_message_seconds: float = 300.0):
        self.conn = conn
        self.log = _log          # the runner binds the call's logger once the uuid is known
        self.templates = templates
        self.command_timeout = command_timeout
        self.max_call_seconds = max_call_seconds
        self.linger_seconds = linger_seconds
        self.max_message_seconds = max_message_seconds
        self.data = {}   # the connect reply (a Message: .get(), .headers) after start()
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

    @property
    def hangup_cause(self) -> str | None:
        return self.conn.hangup_cause

    # -- session set-up -------------------------------------------------------------
    def start(self) -> None:
        """connect, myevents, linger N in one write (transcript 02: `linger 5` -> `+OK will
        linger 5 seconds`, then a second notice and close N s after hangup)."""
        # The reply itself, not its `.headers`: it decodes on get() only the few values
        # read here, not its ~150 channel variables.
        self.data = self.conn.connect(then=("myevents", f"linger {int(self.linger_seconds)}"))

    def on_event(self, callback: Callable) -> Callable[[], None]:
        """Subscribe to this channel's events; returns the function that unsubscribes."""
        return self.conn.on_event(callback)

    # -- applications ---------------------------------------------------------------
    def execute(self, app: str, arg: str | None = None, timeout: float | None = None):
        """Run an application and return its completion, waiting at most ``timeout``
        (default: the command timeout)."""
        app_uuid = self.execute_async(app, arg)
        return self.conn.wait_complete(app_uuid, timeout or self.command_timeout)

    def execute_async(self, app: str, arg: str | None = None) -> str:
        """Send an application; the caller awaits its completion (``conn.wait_complete``)."""
        if self.first_command_at is None:
            self.first_command_at = time.monotonic()
        if self.gone:
            raise CallerGone(f"{app}: caller already gone ({self.conn.hangup_cause})")
        self.log.debug("execute %s %s", app, arg or "")
        return self.conn.execute_async(app, arg)

    def answer(self) -> None:
        if not self.answered:
            self.execute("answer")
            self.answered = True
            self.log.info("answered")

    def play(self, path: str, seconds: float | None = None) -> PlayResult:
        # The wait: the message's length plus the time FreeSWITCH has to answer any
        # command, so a peer that goes silent mid-message frees the call within that.
        length = self.max_message_seconds if seconds is None else seconds
        # FreeSWITCH's Application-Response: FILE PLAYED, FILE NOT FOUND, PLAYBACK ERROR.
        done = self.execute("playback", path, timeout=length + self.command_timeout + 1.0)
        response = done.get("Application-Response") or ""
        return PlayResult(response == FILE_PLAYED, response)

    def beep(self) -> None:
        self.execute("playback", BEEP)

    def dial(self, attempt: ForwardAttempt, record_path: str | None = None) -> DialResult:
        return bridge.dial(self, attempt, record_path)

    def record_message(self, path: str, max_seconds: int, silence_threshold: int,
                       silence_hits: int) -> RecordResult:
        """``record`` (path, max seconds, silence threshold and hits). Its completion is
        still read after the caller hung up: FreeSWITCH closes the file and sends
        ``RECORD_STOP``, then the completion, after ``CHANNEL_HANGUP`` (transcript 04),
        which the lingering socket still delivers."""
        app_uuid = self.execute_async(
            "record", f"{path} {int(max_seconds)} {int(silence_threshold)} {int(silence_hits)}")
        hung_up, complete = False, None
        try:
            complete = self.conn.wait_complete(app_uuid, max_seconds + self.command_timeout + 5)
        except CallerGone:
            hung_up = True
            self.log.info("caller hung up during voicemail; finishing the recording")
            try:
                complete = self.conn.wait_complete(app_uuid, FINISH_GRACE_SECONDS,
                                                   after_hangup=True)
            except CallError:
                self.log.warning("no record completion after hangup; using the file as it is")
        ms = complete.get("variable_record_ms") if complete is not None else None
        seconds = int(ms) / 1000.0 if ms and ms.isascii() and ms.isdigit() else None
        return RecordResult(caller_hung_up=hung_up, switch_seconds=seconds)

    def hangup(self, cause: str) -> None:
        if self.gone:
            return
        self.log.info("hanging up", fields={"cause": cause})
        try:
            self.execute("hangup", cause)
        except CallerGone:
            # Our own hangup: CHANNEL_HANGUP may beat the completion (transcript 01).
            pass

    def close(self) -> None:
        self.conn.close()
