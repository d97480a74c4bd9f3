"""The numbers resource (tag ``numbers``): ``GET /v1/numbers`` and
``GET|PUT|DELETE /v1/numbers/{number}``.

Contract:

* The list holds the numbers the token may see, in E.164 order, ``limit`` at a time:
  ``{"numbers": {E.164: entry}, "next_cursor": E.164 or null}``. An entry that is not
  JSON is left out (the engines ignore it too).
* One number's entry is answered as stored (canonical: ``rules.stored``) with its
  ``ETag``. A PUT validates the whole entry (422 with every problem, nothing stored),
  then writes it under the request's ``If-Match`` / ``If-None-Match`` (412 when they do
  not hold); 201 when it created the number. A DELETE is 204, 404 if there was nothing.
* Every change is audited with the token's name.
"""
import json
import re
from typing import Annotated, Any

from fastapi import APIRouter, Body, Query
from fastapi.responses import JSONResponse, Response

from rules.api.auth import Who
from rules.api.context import Ctx
from rules.api.errors import error_responses, invalid, not_found, precondition_failed
from rules.api.etag import IfMatch, IfNoneMatch, etag_header, tagged
from rules.api.params import NumberPath
from rules.api.schemas import EXAMPLE_ENTRY, NumberList, json_content

__all__ = ["router"]

router = APIRouter()

_E164 = r"\+[0-9]{1,15}"
_ENTRY_DOC = {200: {"description": "the number's entry, as stored (canonical form)",
                    "content": json_content("#/components/schemas/NumberEntry", EXAMPLE_ENTRY),
                    "headers": etag_header("the entry's version, for If-Match")}}


@router.get("/v1/numbers", response_model=NumberList, tags=["numbers"],
            summary="The numbers this token may see, in E.164 order, a page at a time",
            responses=error_responses(401, 422, 503))
def list_numbers(who: Who, ctx: Ctx,
                 limit: Annotated[int, Query(ge=1, le=1000, description="page size")] = 500,
                 cursor: Annotated[str | None, Query(max_length=16, description=(
                     "next_cursor of the previous page"), examples=["+551140040000"],
                     json_schema_extra={"pattern": f"^{_E164}$"})] = None):
    if cursor is not None and not re.fullmatch(_E164, cursor):
        raise invalid([("query.cursor", "must be the next_cursor of a previous page "
                                        "(an E.164 number such as +551140040000)")])
    entries, nxt = ctx.api.page(who.allows, limit, cursor)
    out = {}
    for e164, raw in entries.items():
        try:
            out[e164] = json.loads(raw)
        except ValueError:
            continue  # not JSON: the engines ignore it too (and log it)
    return JSONResponse({"numbers": out, "next_cursor": nxt})


@router.get("/v1/numbers/{number}", tags=["numbers"], summary="One number's configuration",
            responses={**_ENTRY_DOC, **error_responses(401, 404, 409, 503)})
def get_number(number: NumberPath, who: Who, ctx: Ctx):
    e164 = ctx.resolve(number, who)
    raw = ctx.current(e164)
    return tagged(raw, ctx.parsed(e164, raw))


@router.put("/v1/numbers/{number}", tags=["numbers"],
            summary="Create or replace one number's configuration",
            responses={**_ENTRY_DOC, 201: {**_ENTRY_DOC[200], "description": "created"},
                       **error_responses(401, 404, 412, 422, 503)},
            openapi_extra={"requestBody": {"required": True, "content": json_content(
                "#/components/schemas/NumberEntry", EXAMPLE_ENTRY)}})
def put_number(number: NumberPath, who: Who, ctx: Ctx, body: Annotated[Any, Body()],
               if_match: IfMatch = None, if_none_match: IfNoneMatch = None):
    e164 = ctx.resolve(number, who, writing=True)
    doc = ctx.validate(e164, body, who)
    result = ctx.api.put(e164, doc, ctx.api.expectation(if_match, if_none_match))
    if result.status in ("conflict", "missing"):
        raise precondition_failed("the number changed (or does not exist / already exists): "
                                  "read it again")
    ctx.audit(who, result.status, e164, result.version)
    return tagged(doc, ctx.parsed("", doc), 201 if result.status == "created" else 200)


@router.delete("/v1/numbers/{number}", status_code=204, tags=["numbers"],
               summary="Remove one number (calls to it are then refused)",
               responses={204: {"description": "removed"}, **error_responses(401, 404, 412, 503)})
def delete_number(number: NumberPath, who: Who, ctx: Ctx, if_match: IfMatch = None):
    e164 = ctx.resolve(number, who)
    result = ctx.api.delete(e164, ctx.api.expectation(if_match, None))
    if result.status == "missing":
        raise not_found()
    if result.status == "conflict":
        raise precondition_failed("the number changed: read it again")
    ctx.audit(who, "deleted", e164, result.version)
    return Response(status_code=204)
