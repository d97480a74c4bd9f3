"""The dry run (tag ``numbers``): ``GET /v1/numbers/{number}/plan?caller=&at=``.

Contract: answers ``Plan.to_json()`` exactly as ``callflow plan`` prints it, for the
number as stored now. ``caller`` absent = withheld; ``at`` is an ISO 8601 instant, in the
number's local time when it has no offset (fold=0 across DST, as ``callflow plan``),
default now. A stored entry that no longer validates is 409 with every problem.
"""
from datetime import datetime, timezone
from typing import Annotated

from fastapi import APIRouter, Query
from fastapi.responses import JSONResponse

from rules.api.auth import Who
from rules.api.context import Ctx
from rules.api.errors import conflict, error_responses
from rules.api.params import ISO, NumberPath, instant, plus
from rules.api.schemas import PlanOut
from rules.errors import ConfigError
from rules.loader import compile_entry
from rules.planner import plan_call
from rules.ruleset import RuleSet

__all__ = ["router"]

router = APIRouter()


@router.get("/v1/numbers/{number}/plan", response_model=PlanOut, tags=["numbers"],
            summary="What a call would get (the dry run, as `callflow plan`)",
            responses=error_responses(401, 404, 409, 422, 503))
def get_plan(number: NumberPath, who: Who, ctx: Ctx,
             caller: Annotated[str | None, Query(max_length=64, description=(
                 "the caller's number; absent = withheld"), examples=["+5521988887777"])] = None,
             at: Annotated[str | None, Query(max_length=64, description=(
                 "ISO 8601 instant; without an offset it is the number's local time; "
                 "default now"), examples=["2026-11-27T10:00"], json_schema_extra=ISO)] = None):
    e164 = ctx.resolve(number, who)
    when = instant(at, "at") if at is not None else None
    raw = ctx.current(e164)
    defaults = ctx.store.stored_defaults()
    try:
        compiled = compile_entry(e164, raw, defaults, ctx.prefixes)
    except ConfigError as exc:
        raise conflict(exc.errors) from None
    if when is None:
        when = datetime.now(timezone.utc)
    elif when.tzinfo is None:
        # As `callflow plan`: local time in the number's zone, fold=0 across DST.
        when = when.replace(tzinfo=compiled.tz)
    plan = plan_call(RuleSet({e164: compiled}, defaults, ctx.prefixes), e164, plus(caller), when)
    return JSONResponse(plan.to_json())
