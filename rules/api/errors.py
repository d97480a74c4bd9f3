"""Errors of the management API, mapped to HTTP at one boundary.

Contract:

* Code below an endpoint raises ``ApiError(status, body, headers)``; the constructors
  here build the bodies every endpoint shares: ``not_found`` (404 ``{"detail"}``, also
  for anything outside the token's scope, so numbers cannot be probed), ``invalid``
  (422 ``{"errors": [{"path", "message"}]}``), ``conflict`` (409, same shape) and
  ``precondition_failed`` (412 ``{"detail"}``).
* ``install_handlers(app)`` registers the handlers that turn ``ApiError``, FastAPI's
  ``RequestValidationError`` (422, paths joined with dots: ``query.limit``) and
  ``StoreUnavailable`` (503 with ``Retry-After: 5``; the Redis detail goes to the log
  only) into JSON responses.
* ``error_responses(*codes)`` is what the OpenAPI document says about those codes.
"""
import logging

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse

from rules.api.schemas import Errors, Message
from rules.errors import StoreUnavailable

__all__ = ["ApiError", "not_found", "invalid", "conflict", "precondition_failed",
           "install_handlers", "error_responses"]

log = logging.getLogger("callflow.api")

_MEANING = {401: "no valid bearer token", 404: "not found, or not visible to this token",
            409: "the stored entry is unreadable or no longer validates",
            412: "If-Match / If-None-Match failed",
            422: "invalid request: every error with its path",
            503: "the Redis store is unavailable; retry shortly"}


class ApiError(Exception):
    """An HTTP error with a JSON body, raised anywhere below an endpoint."""

    def __init__(self, status: int, body: dict, headers: dict | None = None):
        self.status, self.body, self.headers = status, body, headers


def _items(errors: list[tuple[str, str]]) -> list[dict]:
    return [{"path": p, "message": m} for p, m in errors]


def not_found(what: str = "number not found") -> ApiError:
    return ApiError(404, {"detail": what})


def invalid(errors: list[tuple[str, str]]) -> ApiError:
    return ApiError(422, {"errors": _items(errors)})


def conflict(errors: list[tuple[str, str]]) -> ApiError:
    return ApiError(409, {"errors": _items(errors)})


def precondition_failed(detail: str) -> ApiError:
    return ApiError(412, {"detail": detail})


def error_responses(*codes: int) -> dict:
    """The OpenAPI ``responses`` entries of these error codes: 409 and 422 carry every
    problem with its path (``Errors``), the others one ``detail`` (``Message``)."""
    out = {}
    for c in codes:
        model = Errors if c in (409, 422) else Message
        out[c] = {"model": model, "description": _MEANING[c]}
    return out


def _api_error(request: Request, exc: ApiError):
    return JSONResponse(exc.body, status_code=exc.status, headers=exc.headers)


def _request_invalid(request: Request, exc: RequestValidationError):
    # Same shape as a refused configuration, so clients read one error format.
    errors = []
    for e in exc.errors():
        loc = [str(x) for x in e.get("loc", ())]
        errors.append({"path": ".".join(loc), "message": str(e.get("msg", "invalid"))})
    return JSONResponse({"errors": errors}, status_code=422)


def _store_down(request: Request, exc: StoreUnavailable):
    # The detail names the Redis host: for the operator's log, not for customers.
    log.error("redis unavailable", extra={"fields": {"error": str(exc), "path": request.url.path}})
    return JSONResponse({"detail": "the configuration store is unavailable; retry shortly"},
                        status_code=503, headers={"Retry-After": "5"})


def install_handlers(app: FastAPI) -> None:
    app.add_exception_handler(ApiError, _api_error)
    app.add_exception_handler(RequestValidationError, _request_invalid)
    app.add_exception_handler(StoreUnavailable, _store_down)
