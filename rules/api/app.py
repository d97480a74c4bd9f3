"""The management REST API: ``create_app(settings, store, tokens=None) -> FastAPI``.

Resources (JSON bodies in the schema of DESIGN.md, "The number configuration"):

* ``GET /health`` (no token): 200 ``{"status": "ok"}`` when Redis answers, else 503.
* ``GET /v1/numbers?limit=&cursor=``: the numbers the token may see, in E.164 order, a
  page at a time: ``{"numbers": {E.164: entry}, "next_cursor": E.164 or null}``.
* ``GET|PUT|DELETE /v1/numbers/{number}``: one number's entry, as stored (canonical:
  ``rules.stored``). ``{number}`` may be in any common notation (``%2B55 11 4004-0000``,
  ``(11) 4004-0000`` with the store's ``defaults.region``); it is normalised to E.164.
* ``GET|PUT /v1/numbers/{number}/{messages|forwarding|voicemail|hangup}``: one feature's
  list as a whole. A PUT changes only that list; the rest of the entry stays as stored.
* ``GET /v1/numbers/{number}/plan?caller=&at=``: the dry run, ``Plan.to_json()``
  exactly as ``callflow plan`` prints it.
* ``GET /v1/calls?number=&since=&until=&limit=&cursor=``: the call statement, newest
  first (``rules.api.calls``); ``GET /v1/calls/{uuid}``; ``GET /v1/calls/{uuid}/recording``
  and ``/voicemail``: the audio, with ``Range`` (``rules.api.audio``).

Errors, mapped here at the boundary:

* 422 ``{"errors": [{"path", "message"}]}``: every problem, paths as ``rules check``
  prints them (``numbers.+551140040000.forwarding[1].ring_seconds``); query problems as
  ``query.<name>``. Nothing is stored.
* 401 without a valid bearer token; 404 for an unknown number *and* for anything outside
  the token's scope (so numbers cannot be probed); 412 when ``If-Match`` /
  ``If-None-Match`` does not hold; 409 when the stored entry is not a JSON object (only
  possible if written around the API) or, for the dry run, no longer validates; 503
  when Redis cannot be reached (``StoreUnavailable``).

Concurrency: number and feature responses carry the entry's ``ETag``
(``rules.api_store.etag``). A write with ``If-Match`` only applies if the entry still has
that tag (checked in the same Lua script that writes); ``If-None-Match: *`` creates only.
A feature PUT without ``If-Match`` is still safe against a concurrent write of another
feature: it is a compare-and-set on the entry it read, retried.

Every change bumps ``callflow:version`` and is published on ``callflow:updates`` in the
same atomic step, so running engines apply it at once (``engine.rules_sync``).

Endpoints are plain ``def``: redis-py blocks, and FastAPI runs them in its thread pool.
"""
# No `from __future__ import annotations`: FastAPI reads the endpoints' annotations at
# runtime, and several are aliases local to create_app().
import json
import logging
import re
from datetime import datetime, timezone
from typing import Annotated, Any

from fastapi import Body, Depends, FastAPI, Header, Path, Query, Request
from fastapi.exceptions import RequestValidationError
from fastapi.openapi.utils import get_openapi
from fastapi.responses import JSONResponse, Response
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from rules.api import calls as calls_mod
from rules.api.audio import AudioRefused, audio_response
from rules.api.auth import Principal, TokenFile, TokenTable
from rules.api.schemas import (EXAMPLE_ENTRY, EXAMPLE_FORWARDING, EXAMPLE_HANGUP,
                               EXAMPLE_MESSAGES, EXAMPLE_RECORD,
                               EXAMPLE_VOICEMAIL, FEATURE_MODELS, CallPage, CallRecordOut,
                               Errors, Health, Message, NumberList, PlanOut,
                               number_schemas)
from rules.api.settings import ApiSettings
from rules.api_store import ABSENT, ANY, EXISTS, ApiStore, etag, record_of
from rules.errors import ConfigError, StoreUnavailable
from rules.loader import compile_entry
from rules.numbers import NumberError, normalise_number
from rules.planner import plan_call
from rules.redis_store import RedisStore
from rules.ruleset import RuleSet
from rules.stored import entry_json

__all__ = ["create_app", "FEATURES"]

log = logging.getLogger("callflow.api")

FEATURES = ("messages", "forwarding", "voicemail", "hangup")
FEATURE_EXAMPLES = {"messages": EXAMPLE_MESSAGES, "forwarding": EXAMPLE_FORWARDING,
                    "voicemail": EXAMPLE_VOICEMAIL, "hangup": EXAMPLE_HANGUP}
# Documented (not enforced: the endpoint's own message is clearer) shape of instants.
_ISO = {"pattern": r"^\d{4}-\d{2}-\d{2}([T ]\d{2}:\d{2}(:\d{2}(\.\d{1,6})?)?)?(Z|[+-]\d{2}:\d{2})?$"}
# A feature PUT without If-Match retries its compare-and-set this many times when
# another write to the same number slips in between its read and its write.
CAS_TRIES = 5


class ApiError(Exception):
    """An HTTP error with a JSON body, raised anywhere below an endpoint."""

    def __init__(self, status: int, body: dict, headers: dict | None = None):
        self.status, self.body, self.headers = status, body, headers


def _not_found(what: str = "number not found") -> ApiError:
    return ApiError(404, {"detail": what})


def _invalid(errors: list[tuple[str, str]]) -> ApiError:
    return ApiError(422, {"errors": [{"path": p, "message": m} for p, m in errors]})


def _plus(value: str | None) -> str | None:
    """An unencoded ``+`` in a query string arrives as a space (form encoding); a value
    starting with one is read as ``+``, which is what the user typed."""
    if value is not None and value.startswith(" ") and value.strip()[:1].isdigit():
        return "+" + value.strip()
    return value


def _instant(value: str, name: str) -> datetime:
    try:
        return datetime.fromisoformat(value)
    except ValueError:
        pass
    if " " in value:  # "...T10:00 03:00": the "+" of the offset was not encoded
        head, _, tail = value.rpartition(" ")
        try:
            return datetime.fromisoformat(f"{head}+{tail}")
        except ValueError:
            pass
    raise _invalid([(f"query.{name}", f"{value!r} is not an ISO 8601 date and time "
                                       f"(e.g. 2026-11-27T10:00 or 2026-11-27T13:00Z)")])


def _responses(*codes: int) -> dict:
    text = {401: "no valid bearer token", 404: "not found, or not visible to this token",
            409: "the stored entry is unreadable or no longer validates", 412: "If-Match / If-None-Match failed",
            422: "invalid request: every error with its path",
            503: "the Redis store is unavailable; retry shortly"}
    out = {}
    for c in codes:
        model = Errors if c in (409, 422) else Message
        out[c] = {"model": model, "description": text[c]}
    return out


def _entry_content(ref: str, example: Any) -> dict:
    return {"application/json": {"schema": ref if isinstance(ref, dict) else {"$ref": ref},
                                 "example": example}}


def create_app(settings: ApiSettings, store: RedisStore,
               tokens: TokenFile | TokenTable | None = None) -> FastAPI:
    if tokens is None:
        if settings.api_tokens_file is None:
            raise ConfigError([("api_tokens_file", "is required: set CALLFLOW_API_TOKENS_FILE "
                                                   "to the YAML file of bearer tokens")])
        tokens = TokenFile(settings.api_tokens_file)
    api = ApiStore(store)
    prefixes = tuple(settings.allowed_prefixes)
    recordings_dir = settings.recordings_dir
    voicemail_dir = settings.voicemail_dir

    app = FastAPI(
        title="callflow management API",
        version="1.0.0",
        description=("Manage your numbers' forwarding, messages, voicemail and forced "
                     "hang-up; see what a call would do; list your calls and listen to "
                     "their recordings. Authenticate with `Authorization: Bearer <token>`. "
                     "Write `+` as `%2B` in paths and query strings."),
    )

    # -- errors at the boundary ----------------------------------------------------
    @app.exception_handler(ApiError)
    def _api_error(request: Request, exc: ApiError):
        return JSONResponse(exc.body, status_code=exc.status, headers=exc.headers)

    @app.exception_handler(RequestValidationError)
    def _request_invalid(request: Request, exc: RequestValidationError):
        errors = []
        for e in exc.errors():
            loc = [str(x) for x in e.get("loc", ())]
            errors.append({"path": ".".join(loc), "message": str(e.get("msg", "invalid"))})
        return JSONResponse({"errors": errors}, status_code=422)

    @app.exception_handler(StoreUnavailable)
    def _store_down(request: Request, exc: StoreUnavailable):
        # The detail names the Redis host: for the operator's log, not for customers.
        log.error("redis unavailable", extra={"fields": {"error": str(exc), "path": request.url.path}})
        return JSONResponse({"detail": "the configuration store is unavailable; retry shortly"},
                            status_code=503, headers={"Retry-After": "5"})

    # -- authentication -------------------------------------------------------------
    bearer = HTTPBearer(auto_error=False, description="a token from the deployment's tokens file")

    def principal(credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(bearer)]) -> Principal:
        who = tokens.authenticate(credentials.credentials if credentials else None)
        if who is None:
            raise ApiError(401, {"detail": "a valid bearer token is required"},
                           {"WWW-Authenticate": "Bearer"})
        return who

    Who = Annotated[Principal, Depends(principal)]
    NumberPath = Annotated[str, Path(description="the number in any common notation, e.g. "
                                                 "%2B551140040000 or (11) 4004-0000",
                                     examples=["+551140040000"], max_length=64)]
    IfMatch = Annotated[str | None, Header(description="the ETag of the entry this write is based on")]
    IfNoneMatch = Annotated[str | None, Header(description="`*`: create only")]

    def resolve(text: str, who: Principal, writing: bool = False) -> str:
        region = store.stored_defaults().region
        try:
            e164 = normalise_number(text, region)
        except NumberError as exc:
            if writing:
                raise _invalid([(f"numbers.{text}", str(exc))]) from None
            raise _not_found() from None
        if not who.allows(e164):
            raise _not_found()
        return e164

    def current(e164: str) -> str:
        raw, _ = api.get(e164)
        if raw is None:
            raise _not_found()
        return raw

    def validate(e164: str, data: Any) -> str:
        try:
            return entry_json(e164, data, store.stored_defaults(), prefixes)[1]
        except ConfigError as exc:
            raise _invalid(exc.errors) from None

    def parsed(e164: str, raw: str) -> dict:
        # Only something written around the API and `rules push` can be unreadable; the
        # engines ignore such an entry, and a PUT of the whole number replaces it.
        try:
            data = json.loads(raw)
        except ValueError:
            data = None
        if not isinstance(data, dict):
            raise ApiError(409, {"errors": [{"path": f"numbers.{e164}", "message": (
                "the stored entry is not a JSON object; replace it with PUT /v1/numbers/{number}")}]})
        return data

    def entry_response(raw: str, status: int = 200, body: Any = None, e164: str = "") -> JSONResponse:
        data = parsed(e164, raw) if body is None else body
        return JSONResponse(data, status_code=status, headers={"ETag": etag(raw)})

    def audit(who: Principal, action: str, e164: str, version: int) -> None:
        log.info("api change", extra={"fields": {"token": who.name, "action": action,
                                                 "number": e164, "version": version}})

    # -- the service ------------------------------------------------------------------
    @app.get("/health", tags=["service"], summary="Whether the API can serve requests",
             response_model=Health, responses={
                 200: {"description": "serving: the configuration store answers"},
                 503: {"model": Health, "description": "the configuration store does not answer",
                       "content": {"application/json": {"example": {
                           "status": "unavailable",
                           "problem": "the configuration store is unavailable"}}}}})
    def health():
        # No token: load balancers and compose probe it. It says nothing about the
        # deployment (no host, no version), only whether requests can succeed.
        try:
            with api.io("health check"):
                store.client.ping()
        except StoreUnavailable as exc:
            log.warning("health check: redis unavailable", extra={"fields": {"error": str(exc)}})
            return JSONResponse({"status": "unavailable",
                                 "problem": "the configuration store is unavailable"},
                                status_code=503, headers={"Retry-After": "5"})
        return JSONResponse({"status": "ok"})

    # -- numbers ----------------------------------------------------------------------
    @app.get("/v1/numbers", response_model=NumberList, tags=["numbers"],
             summary="The numbers this token may see, in E.164 order, a page at a time",
             responses=_responses(401, 422, 503))
    def list_numbers(who: Who,
                     limit: Annotated[int, Query(ge=1, le=1000, description="page size")] = 500,
                     cursor: Annotated[str | None, Query(max_length=16, description=(
                         "next_cursor of the previous page"), examples=["+551140040000"],
                         json_schema_extra={"pattern": r"^\+[0-9]{1,15}$"})] = None):
        if cursor is not None and not re.fullmatch(r"\+[0-9]{1,15}", cursor):
            raise _invalid([("query.cursor", "must be the next_cursor of a previous page "
                                             "(an E.164 number such as +551140040000)")])
        entries, nxt = api.page(who.allows, limit, cursor)
        out = {}
        for e164, raw in entries.items():
            try:
                out[e164] = json.loads(raw)
            except ValueError:
                continue  # not JSON: the engines ignore it too (and log it)
        return JSONResponse({"numbers": out, "next_cursor": nxt})

    entry_doc = {200: {"description": "the number's entry, as stored (canonical form)",
                       "content": _entry_content("#/components/schemas/NumberEntry", EXAMPLE_ENTRY),
                       "headers": {"ETag": {"schema": {"type": "string"},
                                            "description": "the entry's version, for If-Match"}}}}

    @app.get("/v1/numbers/{number}", tags=["numbers"], summary="One number's configuration",
             responses={**entry_doc, **_responses(401, 404, 409, 503)})
    def get_number(number: NumberPath, who: Who):
        e164 = resolve(number, who)
        return entry_response(current(e164), e164=e164)

    @app.put("/v1/numbers/{number}", tags=["numbers"],
             summary="Create or replace one number's configuration",
             responses={**entry_doc, 201: {**entry_doc[200], "description": "created"},
                        **_responses(401, 404, 412, 422, 503)},
             openapi_extra={"requestBody": {"required": True, "content": _entry_content(
                 "#/components/schemas/NumberEntry", EXAMPLE_ENTRY)}})
    def put_number(number: NumberPath, who: Who, body: Annotated[Any, Body()],
                   if_match: IfMatch = None, if_none_match: IfNoneMatch = None):
        e164 = resolve(number, who, writing=True)
        doc = validate(e164, body)
        result = api.put(e164, doc, api.expectation(if_match, if_none_match))
        if result.status in ("conflict", "missing"):
            raise ApiError(412, {"detail": "the number changed (or does not exist / already "
                                           "exists): read it again"})
        audit(who, result.status, e164, result.version)
        return entry_response(doc, 201 if result.status == "created" else 200)

    @app.delete("/v1/numbers/{number}", status_code=204, tags=["numbers"],
                summary="Remove one number (calls to it are then refused)",
                responses={204: {"description": "removed"}, **_responses(401, 404, 412, 503)})
    def delete_number(number: NumberPath, who: Who, if_match: IfMatch = None):
        e164 = resolve(number, who)
        result = api.delete(e164, api.expectation(if_match, None))
        if result.status == "missing":
            raise _not_found()
        if result.status == "conflict":
            raise ApiError(412, {"detail": "the number changed: read it again"})
        audit(who, "deleted", e164, result.version)
        return Response(status_code=204)

    # -- features -------------------------------------------------------------------
    def feature_routes(feature: str) -> None:
        ref = {"type": "array", "items": {"$ref": f"#/components/schemas/{FEATURE_MODELS[feature]}"}}
        doc = {200: {"description": f"the number's {feature} list, as stored",
                     "content": _entry_content(ref, FEATURE_EXAMPLES[feature]),
                     "headers": {"ETag": {"schema": {"type": "string"},
                                          "description": "the whole entry's version"}}}}

        def get_feature(number: NumberPath, who: Who):
            e164 = resolve(number, who)
            raw = current(e164)
            return entry_response(raw, body=parsed(e164, raw).get(feature, []))

        def put_feature(number: NumberPath, who: Who, body: Annotated[Any, Body()],
                        if_match: IfMatch = None, if_none_match: IfNoneMatch = None):
            e164 = resolve(number, who)
            wanted = api.expectation(if_match, if_none_match)
            if wanted == ABSENT:
                current(e164)  # 404 if it does not exist; otherwise it exists: 412
                raise ApiError(412, {"detail": "the number already exists"})
            for _ in range(CAS_TRIES):
                raw = current(e164)
                data = parsed(e164, raw)
                data[feature] = body
                doc = validate(e164, data)
                expect = wanted if wanted not in (ANY, EXISTS) else etag(raw).strip('"')
                result = api.put(e164, doc, expect)
                if result.status == "missing":
                    raise _not_found()
                if result.status != "conflict":
                    audit(who, f"{feature} {result.status}", e164, result.version)
                    return entry_response(doc, body=json.loads(doc).get(feature, []))
                if wanted not in (ANY, EXISTS):
                    raise ApiError(412, {"detail": "the number changed: read it again"})
            raise ApiError(412, {"detail": "the number kept changing; read it again"})

        app.get(f"/v1/numbers/{{number}}/{feature}", tags=["features"],
                summary=f"The number's {feature}", operation_id=f"get_{feature}",
                responses={**doc, **_responses(401, 404, 409, 503)})(get_feature)
        app.put(f"/v1/numbers/{{number}}/{feature}", tags=["features"],
                summary=f"Replace the number's {feature} list as a whole",
                operation_id=f"put_{feature}",
                responses={**doc, **_responses(401, 404, 409, 412, 422, 503)},
                openapi_extra={"requestBody": {"required": True, "content": _entry_content(
                    ref, FEATURE_EXAMPLES[feature])}})(put_feature)

    for feature in FEATURES:
        feature_routes(feature)

    # -- the dry run ----------------------------------------------------------------
    @app.get("/v1/numbers/{number}/plan", response_model=PlanOut, tags=["numbers"],
             summary="What a call would get (the dry run, as `callflow plan`)",
             responses=_responses(401, 404, 409, 422, 503))
    def get_plan(number: NumberPath, who: Who,
                 caller: Annotated[str | None, Query(max_length=64, description=(
                     "the caller's number; absent = withheld"), examples=["+5521988887777"])] = None,
                 at: Annotated[str | None, Query(max_length=64, description=(
                     "ISO 8601 instant; without an offset it is the number's local time; "
                     "default now"), examples=["2026-11-27T10:00"], json_schema_extra=_ISO)] = None):
        e164 = resolve(number, who)
        when = _instant(at, "at") if at is not None else None
        raw = current(e164)
        defaults = store.stored_defaults()
        try:
            compiled = compile_entry(e164, raw, defaults, prefixes)
        except ConfigError as exc:
            raise ApiError(409, {"errors": [{"path": p, "message": m} for p, m in exc.errors]}) from None
        if when is None:
            when = datetime.now(timezone.utc)
        elif when.tzinfo is None:
            # As `callflow plan`: local time in the number's zone, fold=0 across DST.
            when = when.replace(tzinfo=compiled.tz)
        plan = plan_call(RuleSet({e164: compiled}, defaults, prefixes), e164, _plus(caller), when)
        return JSONResponse(plan.to_json())

    # -- calls ------------------------------------------------------------------------
    def with_links(record: dict) -> dict:
        uuid = record.get("uuid")
        out = dict(record)
        out["recording_url"] = f"/v1/calls/{uuid}/recording" if record.get("recording") else None
        out["voicemail_url"] = f"/v1/calls/{uuid}/voicemail" if record.get("voicemail") else None
        return out

    @app.get("/v1/calls", response_model=CallPage, tags=["calls"],
             summary="The call statement, newest first", responses=_responses(401, 422, 503))
    def list_calls(who: Who,
                   number: Annotated[str | None, Query(max_length=64, description=(
                       "only calls to this number (any notation)"), examples=["+551140040000"])] = None,
                   since: Annotated[str | None, Query(max_length=64, description=(
                       "calls started at or after (ISO 8601; no offset = UTC)"),
                       examples=["2026-11-27T00:00Z"], json_schema_extra=_ISO)] = None,
                   until: Annotated[str | None, Query(max_length=64, description=(
                       "calls started before (ISO 8601; no offset = UTC)"),
                       examples=["2026-11-28T00:00Z"], json_schema_extra=_ISO)] = None,
                   limit: Annotated[int, Query(ge=1, le=500, description="page size")] = 50,
                   cursor: Annotated[str | None, Query(max_length=64, description=(
                       "next_cursor of the previous page"),
                       json_schema_extra={"pattern": r"^\d{1,20}-\d{1,20}$"})] = None):
        wanted = None
        if number is not None:
            try:
                wanted = normalise_number(_plus(number), store.stored_defaults().region)
            except NumberError as exc:
                raise _invalid([("query.number", str(exc))]) from None
        bounds = []
        for name, value in (("since", since), ("until", until)):
            when = _instant(value, name) if value is not None else None
            if when is not None and when.tzinfo is None:
                when = when.replace(tzinfo=timezone.utc)
            bounds.append(when)
        if cursor is not None:
            try:
                cursor = calls_mod.parse_cursor(cursor)
            except ValueError as exc:
                raise _invalid([("query.cursor", str(exc))]) from None
        if wanted is not None and not who.allows(wanted):
            return JSONResponse({"calls": [], "next_cursor": None})
        with api.io("reading call records"):
            records, nxt = calls_mod.read_page(store.client, who.allows, wanted, bounds[0],
                                               bounds[1], limit, cursor)
        return JSONResponse({"calls": [with_links(r) for r in records], "next_cursor": nxt})

    def find_call(uuid: str, who: Principal) -> dict:
        found = api.find_call(uuid)
        record = record_of(found[1]) if found else None
        if record is None or not who.allows(str(record.get("number", ""))):
            raise _not_found("call not found")
        return record

    UuidPath = Annotated[str, Path(max_length=128, examples=[EXAMPLE_RECORD["uuid"]])]

    @app.get("/v1/calls/{uuid}", response_model=CallRecordOut, tags=["calls"],
             summary="One call's record", responses=_responses(401, 404, 503))
    def get_call(uuid: UuidPath, who: Who):
        return JSONResponse(with_links(find_call(uuid, who)))

    audio_doc = {200: {"description": "the audio (WAV); `Range` requests get 206",
                       "content": {"audio/wav": {"schema": {"type": "string", "format": "binary"}}}},
                 206: {"description": "the requested byte range(s)",
                       "content": {"audio/wav": {"schema": {"type": "string", "format": "binary"}}}},
                 **_responses(401, 404, 503),
                 416: {"description": "range not satisfiable (Content-Range: bytes */size)"}}

    def serve_audio(uuid: str, who: Principal, kind: str, folder):
        record = find_call(uuid, who)
        path = record.get(kind)
        if not path:
            raise _not_found(f"this call has no {kind}")
        try:
            return audio_response(str(path), folder, f"{uuid}.wav")
        except AudioRefused as exc:
            log.warning("audio not served", extra={"fields": {
                "uuid": uuid, "kind": kind, "token": who.name, "why": str(exc)}})
            raise _not_found(f"the {kind} is not available") from None

    @app.get("/v1/calls/{uuid}/recording", tags=["calls"], response_class=Response,
             summary="The recorded conversation (seekable: Range)", responses=audio_doc)
    def get_recording(uuid: UuidPath, who: Who):
        return serve_audio(uuid, who, "recording", recordings_dir)

    @app.get("/v1/calls/{uuid}/voicemail", tags=["calls"], response_class=Response,
             summary="The voicemail message (seekable: Range)", responses=audio_doc)
    def get_voicemail(uuid: UuidPath, who: Who):
        return serve_audio(uuid, who, "voicemail", voicemail_dir)

    # -- the OpenAPI document ---------------------------------------------------------
    def openapi() -> dict:
        if app.openapi_schema is None:
            doc = get_openapi(title=app.title, version=app.version, description=app.description,
                              routes=app.routes)
            doc.setdefault("components", {}).setdefault("schemas", {}).update(number_schemas())
            app.openapi_schema = doc
        return app.openapi_schema

    app.openapi = openapi
    app.state.api_store = api
    app.state.tokens = tokens
    return app
