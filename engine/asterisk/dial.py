"""One forward attempt on Asterisk: a single ``EXEC Dial`` ringing its targets together.

``dial(call, attempt, record_path) -> DialResult`` never raises ``CallerGone``:

* a caller gone before Dial was sent (during the MixMonitor, or between two attempts)
  rang nobody: ``dialled=False``;
* otherwise the outcome is read from ``DIALSTATUS`` with ``GET VARIABLE``, which still
  runs on a dead channel (05: ``CANCEL`` after the caller hung up while ringing). Dial's
  own result is not an outcome (README, "Dial via EXEC": ``0`` for every failed attempt),
  and ``HANGUPCAUSE`` is stale after some failures (04), so neither is used to classify.
  ``ANSWER`` is answered even when the caller then hung up mid-conversation (the call
  record must say the forward worked); a connection lost during Dial (EOF) is
  ``caller_gone``, since nothing tells whether anyone answered.

Recording (``record_path``): ``MixMonitor <path>,b`` before Dial: option ``b`` records
only while bridged (06: the ``b`` file was exactly the 6.000 s of conversation, the one
without it 8 s from ANSWER), so ringback and the messages after it stay out. It is
stopped with ``StopMixMonitor`` after the attempt, so that a later recorded attempt (the
same path: the call's uuid) starts its own file. Asterisk closes the file only when the
channel is destroyed or the monitor stops (06, "the file is closed only when the channel
is destroyed"): nothing here reads it.
"""
from __future__ import annotations

import time

from engine.asterisk import dialstring
from engine.outcomes import Outcome
from engine.switch import DialResult
from rules.errors import CallError, CallerGone
from rules.plan import ForwardAttempt

__all__ = ["classify", "dial"]

# DIALSTATUS -> outcome (Asterisk's app_dial documentation and the README table).
_OUTCOMES = {
    "ANSWER": Outcome.ANSWERED,
    "NOANSWER": Outcome.NO_ANSWER,
    "BUSY": Outcome.BUSY,
    "CONGESTION": Outcome.FAILED,
    "CHANUNAVAIL": Outcome.FAILED,
    "CANCEL": Outcome.CALLER_GONE,
}
# Time Asterisk takes to send HANGUP after the reply of the command it interrupted
# (README: 39-44 ms); ten times that is still short next to any Dial.
HANGUP_GRACE_SECONDS = 0.5


def classify(dialstatus: str | None) -> Outcome:
    """``DIALSTATUS`` -> outcome; anything else (unset, ``INVALIDARGS``, ``DONTCALL``,
    ``TORTURE``) is a failure."""
    return _OUTCOMES.get(dialstatus or "", Outcome.FAILED)


def dial(call, attempt: ForwardAttempt, record_path: str | None) -> DialResult:
    """Run one attempt on ``call`` (an ``engine.asterisk.call.AsteriskCall``)."""
    arg = dialstring.build(attempt, call.templates)
    dialled = False
    started = time.monotonic()
    try:
        if record_path:
            call.exec_app("MixMonitor", f"{record_path},b")
        call.log.debug("dial", fields={"dial": arg})
        dialled = True
        # Blocks for the ring time and then the whole conversation.
        reply = call.exec_app("Dial", arg,
                              timeout=attempt.ring_seconds + call.max_call_seconds
                              + call.command_timeout)
        if reply.result == -1:
            # With option g, -1 is our caller leaving (05); HANGUP follows the reply.
            call.conn.wait_hangup(HANGUP_GRACE_SECONDS)
        status = call.get_variable("DIALSTATUS", after_hangup=True)
    except CallerGone as exc:
        if not dialled:
            return DialResult(Outcome.CALLER_GONE, dialled=False, reason=str(exc))
        _stop_monitor(call, record_path)
        return DialResult(Outcome.CALLER_GONE, dialled=True, reason=str(exc))
    outcome = classify(status)
    if outcome is Outcome.CALLER_GONE:
        call.caller_left = True     # CANCEL: even without a HANGUP line (AGISIGHUP=no)
    _stop_monitor(call, record_path)
    if outcome is Outcome.ANSWERED:
        call.answered = True        # Dial answered our channel when the callee did (02)
        call.log.info("forward answered", fields={"to": list(attempt.to)})
    reason = "caller hung up" if call.gone else ""
    return DialResult(outcome, dialled=True,
                      recorded=record_path is not None and outcome is Outcome.ANSWERED,
                      reason=reason,
                      details={"DIALSTATUS": status,
                               "dial_seconds": f"{time.monotonic() - started:.3f}"})


def _stop_monitor(call, record_path: str | None) -> None:
    if not record_path or call.conn.closed:
        return
    try:
        call.exec_app("StopMixMonitor", after_hangup=True)
    except CallError as exc:
        call.log.info("StopMixMonitor failed: %s", exc)
