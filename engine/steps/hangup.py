"""Step: hang the call up with a cause (a no-op when the caller is already gone)."""
from __future__ import annotations

from engine.outcomes import Outcome, StepResult


def run(ctx, cause: str) -> StepResult:
    ctx.call.hangup(cause)
    return StepResult(Outcome.DONE, hangup_cause=cause)
