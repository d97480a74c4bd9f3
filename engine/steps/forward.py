"""Step: one forward attempt, every target of the attempt ringing together for its ring
time (``SwitchCall.dial``).

``record: true`` records the conversation into
``recordings/{yyyy}/{mm}/{dd}/{uuid}.wav``; the path reaches the call record only when
the attempt was answered (a failed attempt's ringback is not a conversation). An
attempt the caller left before anything rang is no attempt: the result carries none.
"""
from __future__ import annotations

import time

from engine.outcomes import Outcome, StepResult
from engine.records import Attempt
from rules.plan import ForwardAttempt


def run(ctx, attempt: ForwardAttempt) -> StepResult:
    log = ctx.log
    index = len(ctx.record.attempts)    # the attempts that rang before this one
    record_path = str(ctx.dated_path(ctx.services.recordings_dir)) if attempt.record else None
    log.info("forwarding", fields={"attempt": index, "to": list(attempt.to),
                                   "ring_seconds": attempt.ring_seconds,
                                   "recording": record_path})
    started = time.monotonic()
    result = ctx.call.dial(attempt, record_path)
    if not result.dialled:
        log.info("caller gone before forwarding; not dialling", fields={"attempt": index})
        return StepResult(Outcome.CALLER_GONE, detail=result.reason)
    log.info("forward result", fields={"attempt": index, "result": result.outcome.value,
                                       **result.details})
    if record_path and not result.recorded:
        log.info("recording discarded: attempt not answered", fields={"path": record_path})
    return StepResult(result.outcome,
                      attempt=Attempt(list(attempt.to), result.outcome.value,
                                      round(time.monotonic() - started, 3)),
                      recording=record_path if result.recorded else None,
                      detail=result.reason)
