"""One forward attempt on FreeSWITCH: a single ``bridge`` ringing its targets together.

Before the bridge, FreeSWITCH is told to give control back whatever happens
(``continue_on_fail=true``, ``hangup_after_bridge=false``; transcript 06b shows that
without them a failed bridge hangs the caller up) and the variables that report a
bridge's result are cleared, because FreeSWITCH leaves them stale from the previous
attempt (transcripts README: ``originate_failed_cause`` kept ``USER_BUSY`` after a
success). The result is read only from the bridge's own ``CHANNEL_EXECUTE_COMPLETE``:
values seen while still ringing are not results (transcript 05).

``dial(call, attempt, record_path) -> DialResult`` never raises ``CallerGone``: a caller
who leaves before the bridge was sent is ``dialled=False`` (nobody rang), one who leaves
while ringing is ``caller_gone``, one who leaves mid-conversation is ``answered``.
"""
from __future__ import annotations

import time

from engine.freeswitch import dialstring
from engine.outcomes import Outcome
from engine.switch import DialResult
from rules.errors import CallerGone, CommandTimeout
from rules.plan import ForwardAttempt

# Past the ring time, how long FreeSWITCH has to end an unanswered bridge (its
# originate_timeout fires at ring_seconds; transcript 02 shows NO_ANSWER within ms).
RING_MARGIN_SECONDS = 2.0

# One `multiset` before each bridge, a single round trip: control must come back to us
# whatever happens (continue_on_fail, hangup_after_bridge; transcript 06b shows a failed
# bridge hanging the caller up without them), and the variables that report a result are
# emptied so that a result can only come from this attempt (`set` with an empty value
# deletes the variable: base_set in mod_dptools.c, which multiset calls per item).
# originate_failed_cause is stale after a success too (transcript 02) and is never read.
RESULT_VARIABLES = ("originate_disposition", "DIALSTATUS", "bridge_hangup_cause")
BEFORE_BRIDGE = " ".join(["continue_on_fail=true", "hangup_after_bridge=false"]
                         + [f"{name}=" for name in RESULT_VARIABLES])
# record_session records from the moment it starts, ringback included (transcript 08:
# record_ms 6520 for a 4.97 s conversation on FreeSWITCH 1.11.1; 08b: 4960). With
# RECORD_BRIDGE_REQ the media bug waits until the channel is bridged (SMBF_BRIDGE_REQ,
# switch_ivr_async.c record_session), so the file holds the conversation only.
BEFORE_BRIDGE_RECORDED = BEFORE_BRIDGE + " RECORD_BRIDGE_REQ=true"

# originate_disposition / DIALSTATUS values -> outcome (transcripts README, "Bridge
# outcomes", and FreeSWITCH's switch_channel_cause2str names).
_ANSWERED = {"SUCCESS", "ANSWER"}
_NO_ANSWER = {"NO_ANSWER", "NOANSWER", "ALLOTTED_TIMEOUT", "NO_USER_RESPONSE",
              "RECOVERY_ON_TIMER_EXPIRE", "PROGRESS_TIMEOUT"}
_BUSY = {"USER_BUSY", "BUSY"}
_GONE = {"ORIGINATOR_CANCEL", "CANCEL"}


def classify(complete) -> Outcome:
    """Outcome of a bridge from its CHANNEL_EXECUTE_COMPLETE event."""
    disposition = complete.get("variable_originate_disposition") or ""
    dialstatus = complete.get("variable_DIALSTATUS") or ""
    for value in (disposition, dialstatus):
        if value in _ANSWERED:
            return Outcome.ANSWERED
        if value in _GONE:
            return Outcome.CALLER_GONE
        if value in _BUSY:
            return Outcome.BUSY
        if value in _NO_ANSWER:
            return Outcome.NO_ANSWER
    return Outcome.FAILED


def _bridge(call, arg: str, ring_seconds: int, bridged_at: list[float]):
    """Run the bridge in two bounded waits: while it rings, its ring time plus a margin
    (a peer that goes silent frees the call then, not hours later); once CHANNEL_BRIDGE
    came, the conversation, up to max_call_seconds."""
    app_uuid = call.execute_async("bridge", arg)
    try:
        return call.conn.wait_complete(
            app_uuid, ring_seconds + call.command_timeout + RING_MARGIN_SECONDS)
    except CommandTimeout:
        if not bridged_at:
            raise CommandTimeout(f"bridge: no answer and no result within {ring_seconds} s "
                                 f"of ringing plus {call.command_timeout + RING_MARGIN_SECONDS}"
                                 f" s") from None
    return call.conn.wait_complete(app_uuid, call.max_call_seconds)


def dial(call, attempt: ForwardAttempt, record_path: str | None) -> DialResult:
    """Run one attempt on ``call`` (an ``engine.freeswitch.call.FreeSwitchCall``)."""
    arg = dialstring.build(attempt, call.templates)
    bridged_at: list[float] = []

    def on_bridge(event):
        if event.get("Event-Name") == "CHANNEL_BRIDGE" and not bridged_at:
            bridged_at.append(time.monotonic())
            call.log.info("forward answered", fields={"to": list(attempt.to)})

    remove_callback = call.on_event(on_bridge)
    # Only a bridge that was sent is an attempt: a caller gone before it (during the
    # multiset, or between two attempts) rang nobody.
    dialled = False
    try:
        call.execute("multiset", BEFORE_BRIDGE_RECORDED if record_path else BEFORE_BRIDGE)
        if record_path:
            call.execute("record_session", record_path)
        call.log.debug("bridge", fields={"dial": arg})
        dialled = True
        complete = _bridge(call, arg, attempt.ring_seconds, bridged_at)
        outcome = classify(complete)
        if record_path:
            # "record: true records that conversation": not the ringback of a failed
            # attempt, nor the voicemail or messages that may follow on this channel.
            call.execute("stop_record_session", record_path)
        details = {name: complete.get(f"variable_{name}") for name in RESULT_VARIABLES}
    except CallerGone as exc:
        if not dialled:
            return DialResult(Outcome.CALLER_GONE, dialled=False, reason=str(exc))
        # The caller hung up while ringing or talking: a conversation that had started
        # still counts as answered (the call record must say the forward worked).
        outcome = Outcome.ANSWERED if bridged_at else Outcome.CALLER_GONE
        details, reason = {}, str(exc)
    else:
        reason = ""
    finally:
        remove_callback()
    recorded = record_path is not None and outcome is Outcome.ANSWERED
    return DialResult(outcome, dialled=True, recorded=recorded, details=details, reason=reason)
