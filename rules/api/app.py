"""The management REST API: ``create_app(settings, store, tokens=None) -> FastAPI``.

Resources (JSON bodies in the schema of docs/design.md, "The number configuration"),
one router each under ``rules.api.routes``:

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

Errors, mapped at the boundary (``rules.api.errors``):

* 422 ``{"errors": [{"path", "message"}]}``: every problem, paths as ``rules check``
  prints them (``numbers.+551140040000.forwarding[1].ring_seconds``); query problems as
  ``query.<name>``. Nothing is stored.
* 401 without a valid bearer token (for a request with a body, before the body is read);
  413 / 408 / 422 for a body over the size, time or JSON shape limits
  (``rules.api.limits``, installed here); 404 for an unknown number *and* for anything outside
  the token's scope (so numbers cannot be probed); 412 when ``If-Match`` /
  ``If-None-Match`` does not hold; 409 when the stored entry is not a JSON object (only
  possible if written around the API) or, for the dry run, no longer validates; 503
  when Redis cannot be reached (``StoreUnavailable``).

Concurrency (``rules.api.etag``): number and feature responses carry the entry's ``ETag``
(``rules.api_store.etag``). A write with ``If-Match`` only applies if the entry still has
that tag (checked in the same Lua script that writes); ``If-None-Match: *`` creates only.
A feature PUT without ``If-Match`` is still safe against a concurrent write of another
feature: it is a compare-and-set on the entry it read, retried.

Every change bumps ``callflow:version`` and is published on ``callflow:updates`` in the
same atomic step, so running engines apply it at once (``engine.feeds``).

Endpoints are plain ``def``: redis-py blocks, and FastAPI runs them in its thread pool.

``create_app`` only assembles: it builds the per-application state (``app.state.context``:
``rules.api.context.ApiContext``; ``app.state.tokens`` for ``rules.api.auth.Who``), the
body limits (``rules.api.limits.BodyLimits``, reading the same ``app.state.tokens``), the
error handlers and the routers, and completes the OpenAPI document with the number
entry's schemas (``rules.api.schemas.number_schemas``) and, on every operation that takes
a body, the 408 and 413 the limits answer. Nothing per application is a
module global, so several applications can share one process.
"""
from fastapi import FastAPI
from fastapi.openapi.utils import get_openapi

from rules.api.auth import TokenFile, TokenTable
from rules.api.context import ApiContext
from rules.api.errors import install_handlers
from rules.api.limits import BodyLimits
from rules.api.routes import ROUTERS
from rules.api.routes.features import FEATURES
from rules.api.schemas import number_schemas
from rules.api.settings import ApiSettings
from rules.errors import ConfigError
from rules.redis_store import RedisStore

__all__ = ["create_app", "FEATURES"]

DESCRIPTION = ("Manage your numbers' forwarding, messages, voicemail and forced "
               "hang-up; see what a call would do; list your calls and listen to "
               "their recordings. Authenticate with `Authorization: Bearer <token>`. "
               "Write `+` as `%2B` in paths and query strings.")


def create_app(settings: ApiSettings, store: RedisStore,
               tokens: TokenFile | TokenTable | None = None) -> FastAPI:
    if tokens is None:
        if settings.api_tokens_file is None:
            raise ConfigError([("api_tokens_file", "is required: set CALLFLOW_API_TOKENS_FILE "
                                                   "to the YAML file of bearer tokens")])
        tokens = TokenFile(settings.api_tokens_file)
    context = ApiContext.build(settings, store)

    app = FastAPI(title="callflow management API", version="1.0.0", description=DESCRIPTION)
    install_handlers(app)
    app.add_middleware(
        BodyLimits, max_body_bytes=settings.api_max_body_bytes,
        max_json_depth=settings.api_max_json_depth, max_json_items=settings.api_max_json_items,
        body_timeout=settings.api_body_timeout_seconds,
        authenticate=lambda token: app.state.tokens.authenticate(token) is not None)
    for router in ROUTERS:
        app.include_router(router)
    _complete_openapi(app)

    app.state.context = context
    app.state.api_store = context.api
    app.state.tokens = tokens
    return app


def _complete_openapi(app: FastAPI) -> None:
    """Make the document (once, then cached) with the number entry's schemas added: they
    are referenced by hand-written ``$ref``s that no endpoint's model reaches."""
    def openapi() -> dict:
        if app.openapi_schema is None:
            doc = get_openapi(title=app.title, version=app.version, description=app.description,
                              routes=app.routes)
            doc.setdefault("components", {}).setdefault("schemas", {}).update(number_schemas())
            _document_body_limits(doc)
            app.openapi_schema = doc
        return app.openapi_schema

    app.openapi = openapi


_BODY_LIMITS = {
    "408": "the request body did not arrive in time (CALLFLOW_API_BODY_TIMEOUT_SECONDS)",
    "413": "the request body is too large (CALLFLOW_API_MAX_BODY_BYTES)",
}


def _document_body_limits(doc: dict) -> None:
    """408 and 413 on every operation that takes a body (``rules.api.limits``); 422 there
    already documents the JSON shape limits, and 401 the token checked first."""
    errors = {"application/json": {"schema": {"$ref": "#/components/schemas/Errors"}}}
    for ops in doc.get("paths", {}).values():
        for op in ops.values():
            if isinstance(op, dict) and "requestBody" in op:
                for code, text in _BODY_LIMITS.items():
                    op["responses"].setdefault(code, {"description": text, "content": errors})
