"""Step: hang the call up with a cause (a no-op when the caller is already gone)."""
from __future__ import annotations

from engine.outcomes import Outcome


def run(ctx, cause: str) -> Outcome:
    ctx.call.hangup(cause)
    ctx.record.hangup_cause = ctx.record.hangup_cause or cause
    return Outcome.DONE
