"""The flow runner: drives one call through its plan (DESIGN.md, "What a call gets").

Only the runner decides what comes next, from the outcomes the steps return:

1. start messages; 2. a hangup entry: end messages, hang up with its cause, stop;
3. forward attempts in order until one is answered; 4. if none was, the voicemail;
5. end messages while the caller is still on the line, then hang up.

A pure forward is never answered by us (the caller hears the target's ringback and is
not charged for an unanswered forward). Cleanup (the call record, metrics, closing the
socket) runs in ``finally`` whatever happened, so one broken call never leaks. The
record is logged and handed to ``services.record_sink`` (the Redis stream), if any.
"""
from __future__ import annotations

import logging
import time
from datetime import datetime, timezone

from engine import metrics
from engine.call import Call
from engine.context import CallContext, Services
from engine.logs import call_logger
from engine.outcomes import CallOutcome, Outcome
from engine.records import CallRecord
from engine.steps import STEPS
from rules.errors import CallError, CallerGone

log = logging.getLogger("callflow.runner")

# When every attempt failed and no voicemail follows, the caller hears why.
_CAUSE_AFTER = {Outcome.BUSY: "USER_BUSY", Outcome.NO_ANSWER: "NO_ANSWER"}


def run_call(conn, services: Services, planner, settings) -> CallRecord | None:
    """Run one call on an accepted connection. ``planner(called, caller, at) -> Plan``."""
    call = Call(conn, command_timeout=settings.command_timeout,
                max_call_seconds=settings.max_call_seconds, log=log)
    record = None
    try:
        call.setup(settings.linger_seconds)
    except CallError as exc:
        log.warning("connection dropped before set-up: %s", exc)
        call.close()
        return None
    call.log = clog = call_logger(call.uuid)
    try:
        started = time.perf_counter()
        plan = planner(call.called, call.caller, datetime.now(timezone.utc))
        metrics.PLAN_SECONDS.observe(time.perf_counter() - started)
        record = CallRecord(uuid=call.uuid, number=plan.number, caller=plan.caller,
                            trace=list(plan.trace))
        clog.info("call planned", fields={"number": plan.number, "caller": plan.caller,
                                          "plan": plan.to_json()})
        ctx = CallContext(call=call, plan=plan, services=services, record=record, log=clog)
        _drive(ctx)
    except CallerGone as exc:
        clog.info("caller gone: %s", exc)
    except CallError as exc:
        clog.error("call control failed: %s", exc)
    except Exception:
        # A bug must cost this call, never the process or another call.
        clog.exception("unexpected error while running the call")
    finally:
        if record is not None:
            _finish(call, record, services.record_sink)
        if call.first_command_at is not None:
            metrics.SETUP_SECONDS.observe(call.first_command_at - call.accepted_at)
        call.close()
    return record


def _drive(ctx: CallContext) -> None:
    plan, call, record = ctx.plan, ctx.call, ctx.record
    if not plan.known:
        ctx.log.warning("unknown number %s; refusing", plan.number)
        metrics.REFUSED.labels("unknown_number").inc()
        record.outcome = CallOutcome.REFUSED.value
        STEPS["hangup"](ctx, plan.hangup or "UNALLOCATED_NUMBER")
        return

    for audio in plan.start:
        STEPS["play"](ctx, audio)

    if plan.hangup:
        record.outcome = CallOutcome.HANGUP.value
        _end_messages(ctx)
        STEPS["hangup"](ctx, plan.hangup)
        return

    last = None
    for index, attempt in enumerate(plan.forward):
        last = STEPS["forward"](ctx, attempt, index)
        if last is Outcome.ANSWERED:
            record.outcome = CallOutcome.ANSWERED.value
            break
        if last is Outcome.CALLER_GONE or call.gone:
            # Gone during or right after this attempt: ring no phone for a caller who left.
            return

    if record.outcome != CallOutcome.ANSWERED.value and plan.voicemail:
        if STEPS["voicemail"](ctx, plan.voicemail) is Outcome.VOICEMAIL:
            record.outcome = CallOutcome.VOICEMAIL.value

    if call.gone:
        return
    _end_messages(ctx)
    cause = "NORMAL_CLEARING"
    if record.outcome == CallOutcome.MISSED.value and not call.answered and last in _CAUSE_AFTER:
        cause = _CAUSE_AFTER[last]
    STEPS["hangup"](ctx, cause)


def _end_messages(ctx: CallContext) -> None:
    for audio in ctx.plan.end:
        if ctx.call.gone:
            return
        STEPS["play"](ctx, audio)


def _finish(call: Call, record: CallRecord, sink=None) -> None:
    if record.outcome == CallOutcome.MISSED.value and any(a.result == "answered" for a in record.attempts):
        record.outcome = CallOutcome.ANSWERED.value
    record.ended_at = datetime.now(timezone.utc)
    record.hangup_cause = call.conn.hangup_cause or record.hangup_cause
    metrics.CALLS.labels(record.outcome).inc()
    record.emit()
    if sink is not None:
        try:
            sink.submit(record)
        except Exception:
            # The record is in the log line already; a sink's bug must not cost the call.
            log.exception("call record sink failed", extra={"uuid": record.uuid})
