"""Step: one forward attempt, a single ``bridge`` ringing its targets for ring_seconds.

Before the bridge, FreeSWITCH is told to give control back whatever happens
(``continue_on_fail=true``, ``hangup_after_bridge=false``; transcript 06b shows that
without them a failed bridge hangs the caller up) and the variables that report a
bridge's result are cleared, because FreeSWITCH leaves them stale from the previous
attempt (transcripts README: ``originate_failed_cause`` kept ``USER_BUSY`` after a
success). The result is read only from the bridge's own ``CHANNEL_EXECUTE_COMPLETE``:
values seen while still ringing are not results (transcript 05).

``record: true`` starts ``record_session`` into ``recordings/{yyyy}/{mm}/{dd}/{uuid}.wav``
before the bridge. Returns answered, no_answer, busy, failed or caller_gone.
"""
from __future__ import annotations

import time

from engine import dialstring, metrics
from engine.outcomes import Outcome
from engine.records import Attempt
from rules.errors import CallerGone
from rules.plan import ForwardAttempt

# One `multiset` before each bridge, a single round trip: control must come back to us
# whatever happens (continue_on_fail, hangup_after_bridge; transcript 06b shows a failed
# bridge hanging the caller up without them), and the variables that report a result are
# emptied so that a result can only come from this attempt (`set` with an empty value
# deletes the variable: base_set in mod_dptools.c, which multiset calls per item).
# originate_failed_cause is stale after a success too (transcript 02) and is never read.
RESULT_VARIABLES = ("originate_disposition", "DIALSTATUS", "bridge_hangup_cause")
BEFORE_BRIDGE = " ".join(["continue_on_fail=true", "hangup_after_bridge=false"]
                         + [f"{name}=" for name in RESULT_VARIABLES])
# record_session records from the moment it starts, ringback included (1.6 s of a 2 s
# ring were in the file on FreeSWITCH 1.11.1, tests/switch/freeswitch). With
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


def run(ctx, attempt: ForwardAttempt, index: int) -> Outcome:
    call, log = ctx.call, ctx.log
    dial = dialstring.build(attempt, ctx.services.templates)
    bridged = {"at": None}

    def on_bridge(event):
        if event.get("Event-Name") == "CHANNEL_BRIDGE" and bridged["at"] is None:
            bridged["at"] = time.monotonic()
            log.info("forward answered", fields={"attempt": index, "to": list(attempt.to)})

    started = time.monotonic()
    outcome = Outcome.CALLER_GONE
    remove_callback = call.on_event(on_bridge)
    recording = None
    # Only a bridge that was sent is an attempt: a caller gone before it (during the
    # multiset, or between two attempts) rang nobody and must not be recorded as
    # having tried the next phone.
    dialled = False
    try:
        call.multiset(BEFORE_BRIDGE_RECORDED if attempt.record else BEFORE_BRIDGE)
        if attempt.record:
            recording = str(ctx.dated_path(ctx.services.recordings_dir))
            call.record_session(recording)
            ctx.record.recording = recording
            log.info("recording conversation", fields={"path": recording})
        log.info("forwarding", fields={"attempt": index, "to": list(attempt.to),
                                       "ring_seconds": attempt.ring_seconds, "dial": dial})
        dialled = True
        complete = call.bridge(dial, attempt.ring_seconds)
        outcome = classify(complete)
        log.info("forward result", fields={
            "attempt": index, "result": outcome.value,
            "originate_disposition": complete.get("variable_originate_disposition"),
            "DIALSTATUS": complete.get("variable_DIALSTATUS"),
            "bridge_hangup_cause": complete.get("variable_bridge_hangup_cause")})
        if recording:
            # "record: true records that conversation": not the ringback of a failed
            # attempt, nor the voicemail or messages that may follow on this channel.
            call.stop_record_session(recording)
            if outcome is not Outcome.ANSWERED:
                ctx.record.recording = None
                log.info("recording discarded: attempt not answered", fields={"path": recording})
        return outcome
    except CallerGone:
        if not dialled:
            log.info("caller gone before forwarding; not dialling", fields={"attempt": index})
            ctx.record.recording = None if recording else ctx.record.recording
            raise
        # The caller hung up while ringing or talking: a conversation that had started
        # still counts as answered (the call record must say the forward worked).
        outcome = Outcome.ANSWERED if bridged["at"] is not None else Outcome.CALLER_GONE
        log.info("caller hung up during forward",
                 fields={"attempt": index, "result": outcome.value})
        raise
    finally:
        remove_callback()
        if dialled:
            metrics.ATTEMPTS.labels(outcome.value).inc()
            ctx.record.attempts.append(Attempt(list(attempt.to), outcome.value,
                                               round(time.monotonic() - started, 3)))
