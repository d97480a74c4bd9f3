"""The flow runner: drives one call through its plan (docs/design.md, "What a call gets").

Only the runner decides what comes next, from the results the steps return, and only
the runner writes the call record (``_apply``); the call's outcome is decided once, at
the end, from the plan and the record (``outcome_of``):

1. start messages; 2. a hangup entry: end messages, hang up with its cause, stop;
3. forward attempts in order until one is answered; 4. if none was, the voicemail;
5. end messages while the caller is still on the line, then hang up.

A pure forward is never answered by us (the caller hears the target's ringback and is
not charged for an unanswered forward). Cleanup (the call record, metrics, closing the
call) runs in ``finally`` whatever happened, so one broken call never leaks. The record
is logged and handed to ``services.record_sink`` (the Redis stream), if any. The runner
talks to the call through the switch seam only (``engine.switch``).
"""
from __future__ import annotations

import logging
import time
from datetime import datetime, timezone

from engine import metrics
from engine.context import CallContext, Services
from engine.identifiers import canonical_uuid
from engine.logs import call_logger
from engine.outcomes import CallOutcome, Outcome, StepResult
from engine.records import CallRecord
from engine.steps import STEPS
from engine.switch import SwitchCall
from rules.errors import CallError, CallerGone, ProtocolError
from rules.plan import Plan

log = logging.getLogger("callflow.runner")

# When every attempt failed and no voicemail follows, the caller hears why.
_CAUSE_AFTER = {Outcome.BUSY: "USER_BUSY", Outcome.NO_ANSWER: "NO_ANSWER"}


def run_call(call: SwitchCall, services: Services, planner) -> CallRecord | None:
    """Run one call the switch handed over. ``planner(called, caller, at) -> Plan``."""
    record = plan = None
    try:
        call.start()
    except CallError as exc:
        # A ProtocolError was logged where it was found (one line per dropped peer).
        level = logging.DEBUG if isinstance(exc, ProtocolError) else logging.WARNING
        log.log(level, "connection dropped before set-up: %s", exc)
        call.close()
        return None
    if not canonical_uuid(call.uuid):
        # It would name files, log lines and a stream entry: refuse the call before it
        # names anything. Closing without a hang-up hands the call back to the dialplan,
        # whose next action is the configured fallback (dialplan/callflow.xml).
        log.error("refusing a call whose uuid is not a canonical UUID: %r", call.uuid[:80])
        metrics.REFUSED.labels("bad_uuid").inc()
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
        if record is not None:
            record.error = f"{type(exc).__name__}: {exc}"
    except Exception as exc:
        # A bug must cost this call, never the process or another call.
        clog.exception("unexpected error while running the call")
        if record is not None:
            record.error = f"internal error: {type(exc).__name__}"
    finally:
        if record is not None:
            _finish(call, plan, record, services.record_sink)
        if call.first_command_at is not None:
            metrics.SETUP_SECONDS.observe(call.first_command_at - call.accepted_at)
        call.close()
    return record


def _step(ctx: CallContext, name: str, item) -> StepResult:
    result = STEPS[name](ctx, item)
    _apply(ctx.record, result)
    return result


def _apply(record: CallRecord, result: StepResult) -> None:
    """Write what a step did into the call record (the only writer)."""
    if result.attempt is not None:
        record.attempts.append(result.attempt)
        metrics.ATTEMPTS.labels(result.attempt.result).inc()
    if result.recording is not None:
        record.recording = result.recording
    if result.voicemail is not None:
        record.voicemail = result.voicemail
    if result.hangup_cause is not None and record.hangup_cause is None:
        record.hangup_cause = result.hangup_cause


def outcome_of(plan: Plan, record: CallRecord) -> CallOutcome:
    """The call's outcome, decided once, from what was planned and what happened."""
    if not plan.known:
        return CallOutcome.REFUSED
    if plan.hangup:
        return CallOutcome.HANGUP
    if any(a.result == Outcome.ANSWERED.value for a in record.attempts):
        # also when the caller hung up mid-conversation: the forward worked
        return CallOutcome.ANSWERED
    if record.voicemail is not None:
        return CallOutcome.VOICEMAIL
    return CallOutcome.MISSED


def _drive(ctx: CallContext) -> None:
    plan, call = ctx.plan, ctx.call
    if not plan.known:
        ctx.log.warning("unknown number %s; refusing", plan.number)
        metrics.REFUSED.labels("unknown_number").inc()
        _step(ctx, "hangup", plan.hangup or "UNALLOCATED_NUMBER")
        return

    for audio in plan.start:
        _step(ctx, "play", audio)

    if plan.hangup:
        _end_messages(ctx)
        _step(ctx, "hangup", plan.hangup)
        return

    last = None
    for attempt in plan.forward:
        result = _step(ctx, "forward", attempt)
        last = result.outcome
        if last is Outcome.ANSWERED:
            break
        if last is Outcome.CALLER_GONE or call.gone:
            # Gone during or right after this attempt: ring no phone for a caller who left.
            ctx.log.info("caller gone during forwarding (%s); no further attempt",
                         result.detail or call.hangup_cause)
            return

    if last is not Outcome.ANSWERED and plan.voicemail:
        _step(ctx, "voicemail", plan.voicemail)

    if call.gone:
        return
    _end_messages(ctx)
    cause = "NORMAL_CLEARING"
    if not call.answered and last in _CAUSE_AFTER:
        cause = _CAUSE_AFTER[last]
    _step(ctx, "hangup", cause)


def _end_messages(ctx: CallContext) -> None:
    for audio in ctx.plan.end:
        if ctx.call.gone:
            return
        _step(ctx, "play", audio)


def _finish(call: SwitchCall, plan: Plan, record: CallRecord, sink=None) -> None:
    record.outcome = outcome_of(plan, record).value
    record.ended_at = datetime.now(timezone.utc)
    record.hangup_cause = call.hangup_cause or record.hangup_cause
    metrics.CALLS.labels(record.outcome).inc()
    record.emit()
    if sink is not None:
        try:
            sink.submit(record)
        except Exception:
            # The record is in the log line already; a sink's bug must not cost the call.
            log.exception("call record sink failed", extra={"uuid": record.uuid})
