"""The call statement and its audio (tag ``calls``): ``GET /v1/calls``,
``GET /v1/calls/{uuid}`` and ``GET /v1/calls/{uuid}/recording|voicemail``.

Contract:

* The statement is newest first, a page at a time (``rules.api.calls.read_page``), only
  calls to numbers the token may see; ``number`` (any notation) narrows it, ``since`` /
  ``until`` bound ``started_at`` (no offset = UTC). A ``number`` outside the token's
  scope is an empty page, not an error.
* Each record carries ``recording_url`` / ``voicemail_url`` (null when it has none).
* A call outside the token's scope is 404, as an unknown one. Audio is served only from
  the configured folders (``rules.api.audio``), with ``Range``; a refused path is 404
  and the reason is logged with the token's name.
"""
import logging
from datetime import datetime, timezone
from typing import Annotated

from fastapi import APIRouter, Query
from fastapi.responses import JSONResponse, Response

from rules.api import calls as statement
from rules.api.audio import AudioRefused, audio_response
from rules.api.auth import Principal, Who
from rules.api.context import ApiContext, Ctx
from rules.api.errors import error_responses, invalid, not_found
from rules.api.params import ISO, UuidPath, instant, plus
from rules.api.schemas import CallPage, CallRecordOut
from rules.api_store import record_of
from rules.numbers import NumberError, normalise_number

__all__ = ["router"]

log = logging.getLogger("callflow.api")

router = APIRouter()



def _wav() -> dict:
    # A fresh object per response: the OpenAPI generator may fill content objects in.
    return {"audio/wav": {"schema": {"type": "string", "format": "binary"}}}


_AUDIO_DOC = {200: {"description": "the audio (WAV); `Range` requests get 206", "content": _wav()},
              206: {"description": "the requested byte range(s)", "content": _wav()},
              **error_responses(401, 404, 503),
              416: {"description": "range not satisfiable (Content-Range: bytes */size)"}}


def with_links(record: dict) -> dict:
    uuid = record.get("uuid")
    out = dict(record)
    out["recording_url"] = f"/v1/calls/{uuid}/recording" if record.get("recording") else None
    out["voicemail_url"] = f"/v1/calls/{uuid}/voicemail" if record.get("voicemail") else None
    return out


def _bounds(since: str | None, until: str | None) -> list[datetime | None]:
    out = []
    for name, value in (("since", since), ("until", until)):
        when = instant(value, name) if value is not None else None
        if when is not None and when.tzinfo is None:
            when = when.replace(tzinfo=timezone.utc)
        out.append(when)
    return out


@router.get("/v1/calls", response_model=CallPage, tags=["calls"],
            summary="The call statement, newest first", responses=error_responses(401, 422, 503))
def list_calls(who: Who, ctx: Ctx,
               number: Annotated[str | None, Query(max_length=64, description=(
                   "only calls to this number (any notation)"), examples=["+551140040000"])] = None,
               since: Annotated[str | None, Query(max_length=64, description=(
                   "calls started at or after (ISO 8601; no offset = UTC)"),
                   examples=["2026-11-27T00:00Z"], json_schema_extra=ISO)] = None,
               until: Annotated[str | None, Query(max_length=64, description=(
                   "calls started before (ISO 8601; no offset = UTC)"),
                   examples=["2026-11-28T00:00Z"], json_schema_extra=ISO)] = None,
               limit: Annotated[int, Query(ge=1, le=500, description="page size")] = 50,
               cursor: Annotated[str | None, Query(max_length=64, description=(
                   "next_cursor of the previous page"),
                   json_schema_extra={"pattern": r"^\d{1,20}-\d{1,20}$"})] = None):
    wanted = None
    if number is not None:
        try:
            wanted = normalise_number(plus(number), ctx.region())
        except NumberError as exc:
            raise invalid([("query.number", str(exc))]) from None
    low, high = _bounds(since, until)
    if cursor is not None:
        try:
            cursor = statement.parse_cursor(cursor)
        except ValueError as exc:
            raise invalid([("query.cursor", str(exc))]) from None
    if wanted is not None and not who.allows(wanted):
        return JSONResponse({"calls": [], "next_cursor": None})
    with ctx.api.io("reading call records"):
        records, nxt = statement.read_page(ctx.store.client, who.allows, wanted, low, high,
                                           limit, cursor)
    return JSONResponse({"calls": [with_links(r) for r in records], "next_cursor": nxt})


def find_call(ctx: ApiContext, uuid: str, who: Principal) -> dict:
    found = ctx.api.find_call(uuid)
    record = record_of(found[1]) if found else None
    if record is None or not who.allows(str(record.get("number", ""))):
        raise not_found("call not found")
    return record


@router.get("/v1/calls/{uuid}", response_model=CallRecordOut, tags=["calls"],
            summary="One call's record", responses=error_responses(401, 404, 503))
def get_call(uuid: UuidPath, who: Who, ctx: Ctx):
    return JSONResponse(with_links(find_call(ctx, uuid, who)))


def serve_audio(ctx: ApiContext, uuid: str, who: Principal, kind: str, folder):
    record = find_call(ctx, uuid, who)
    path = record.get(kind)
    if not path:
        raise not_found(f"this call has no {kind}")
    try:
        return audio_response(str(path), folder, f"{uuid}.wav")
    except AudioRefused as exc:
        log.warning("audio not served", extra={"fields": {
            "uuid": uuid, "kind": kind, "token": who.name, "why": str(exc)}})
        raise not_found(f"the {kind} is not available") from None


@router.get("/v1/calls/{uuid}/recording", tags=["calls"], response_class=Response,
            summary="The recorded conversation (seekable: Range)", responses=_AUDIO_DOC)
def get_recording(uuid: UuidPath, who: Who, ctx: Ctx):
    return serve_audio(ctx, uuid, who, "recording", ctx.recordings_dir)


@router.get("/v1/calls/{uuid}/voicemail", tags=["calls"], response_class=Response,
            summary="The voicemail message (seekable: Range)", responses=_AUDIO_DOC)
def get_voicemail(uuid: UuidPath, who: Who, ctx: Ctx):
    return serve_audio(ctx, uuid, who, "voicemail", ctx.voicemail_dir)
