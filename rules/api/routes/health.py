"""``GET /health``: whether the API can serve requests (tag ``service``).

Contract: no token (load balancers and compose probe it); 200 ``{"status": "ok"}`` when
Redis answers a PING, else 503 ``{"status": "unavailable", "problem": ...}`` with
``Retry-After: 5``. It says nothing about the deployment (no host, no version).
"""
import logging

from fastapi import APIRouter
from fastapi.responses import JSONResponse

from rules.api.context import Ctx
from rules.api.schemas import Health
from rules.errors import StoreUnavailable

__all__ = ["router"]

log = logging.getLogger("callflow.api")

router = APIRouter()


@router.get("/health", tags=["service"], summary="Whether the API can serve requests",
            response_model=Health, responses={
                200: {"description": "serving: the configuration store answers"},
                503: {"model": Health, "description": "the configuration store does not answer",
                      "content": {"application/json": {"example": {
                          "status": "unavailable",
                          "problem": "the configuration store is unavailable"}}}}})
def health(ctx: Ctx):
    try:
        with ctx.api.io("health check"):
            ctx.store.client.ping()
    except StoreUnavailable as exc:
        # Answered here, not by the 503 handler: the probe's body is its own Health shape.
        log.warning("health check: redis unavailable", extra={"fields": {"error": str(exc)}})
        return JSONResponse({"status": "unavailable",
                             "problem": "the configuration store is unavailable"},
                            status_code=503, headers={"Retry-After": "5"})
    return JSONResponse({"status": "ok"})
