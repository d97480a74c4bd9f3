"""The week view (tag ``numbers``): ``GET /v1/numbers/{number}/week?from=&caller=``.

Contract: answers ``rules.week.week(...).to_json()`` exactly as ``callflow plan --week
--json`` prints it, for the number as stored now: seven local days from the local
midnight of ``from`` (``YYYY-MM-DD``, default today in the number's zone), in ranges that
tile the week and whose ``plan`` is the dry run's JSON without ``trace`` and
``local_time``. ``caller`` absent = withheld. Same scope rules as the dry run: a number
the token may not see, or that is not stored, is 404; a stored entry that no longer
validates is 409 with every problem; a bad ``from`` is 422 at ``query.from``.
"""
from datetime import date, datetime
from typing import Annotated

from fastapi import APIRouter, Query
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict, Field

from rules.api.auth import Who
from rules.api.context import Ctx
from rules.api.errors import conflict, error_responses, invalid
from rules.api.params import NumberPath, plus
from rules.api.schemas import ForwardOut, VoicemailOut
from rules.errors import ConfigError
from rules.loader import compile_entry
from rules.ruleset import RuleSet
from rules.week import FIRST_DATE, LAST_DATE, week

__all__ = ["router"]

router = APIRouter()

_EXAMPLE_PLAN = {"number": "+551140040000", "caller": "anonymous", "start": ["welcome.wav"],
                 "hangup": None, "forward": [{"to": ["+5511999990000"], "ring_seconds": 20,
                                              "record": True}],
                 "voicemail": None, "end": ["thanks.wav"]}
EXAMPLE_WEEK = {"number": "+551140040000", "from": "2026-11-23", "ranges": [
    {"start": "2026-11-23T00:00:00-03:00", "end": "2026-11-23T08:00:00-03:00",
     "plan": {**_EXAMPLE_PLAN, "start": [], "forward": []}},
    {"start": "2026-11-23T08:00:00-03:00", "end": "2026-11-23T18:00:00-03:00",
     "plan": _EXAMPLE_PLAN}]}


class RangePlanOut(BaseModel):
    """The dry run's JSON without ``trace`` and ``local_time``."""

    number: str
    caller: str
    start: list[str]
    hangup: str | None
    forward: list[ForwardOut]
    voicemail: VoicemailOut | None
    end: list[str]


class RangeOut(BaseModel):
    start: str
    end: str
    plan: RangePlanOut


class WeekOut(BaseModel):
    """Seven local days as ranges of equal plans (``callflow plan --week --json``)."""

    model_config = ConfigDict(json_schema_extra={"example": EXAMPLE_WEEK})

    number: str
    from_: str = Field(alias="from", description="the first local day, YYYY-MM-DD")
    ranges: list[RangeOut]


# Documented, not enforced: the endpoint's own message is clearer.
_DATE = {"pattern": r"^\d{4}-\d{2}-\d{2}$"}


def _first_day(value: str) -> date:
    try:
        first = date.fromisoformat(value) if len(value) == 10 else None
    except ValueError:
        first = None
    if first is None or not FIRST_DATE <= first <= LAST_DATE:
        raise invalid([("query.from", f"{value!r} is not a date YYYY-MM-DD "
                                      f"({FIRST_DATE} to {LAST_DATE})")])
    return first


@router.get("/v1/numbers/{number}/week", response_model=WeekOut, tags=["numbers"],
            summary="What calls would get over seven local days (`callflow plan --week`)",
            responses=error_responses(401, 404, 409, 422, 503))
def get_week(number: NumberPath, who: Who, ctx: Ctx,
             caller: Annotated[str | None, Query(max_length=64, description=(
                 "the caller's number; absent = withheld"), examples=["+5521988887777"])] = None,
             from_: Annotated[str | None, Query(alias="from", max_length=10, description=(
                 "the first local day, YYYY-MM-DD; default today in the number's zone"),
                 examples=["2026-11-23"], json_schema_extra=_DATE)] = None):
    e164 = ctx.resolve(number, who)
    first = _first_day(from_) if from_ is not None else None
    raw = ctx.current(e164)
    defaults = ctx.store.stored_defaults()
    try:
        compiled = compile_entry(e164, raw, defaults, ctx.prefixes)
    except ConfigError as exc:
        raise conflict(exc.errors) from None
    if first is None:
        first = datetime.now(compiled.tz).date()
    ruleset = RuleSet({e164: compiled}, defaults, ctx.prefixes)
    return JSONResponse(week(ruleset, e164, plus(caller), first).to_json())
