"""The endpoints of the management API, one router per resource.

Contract: ``ROUTERS`` lists them in the order ``create_app`` includes them, which is the
order of ``paths`` in the OpenAPI document: ``health`` (``/health``), ``numbers``
(``/v1/numbers``, ``/v1/numbers/{number}``), ``features``
(``/v1/numbers/{number}/{messages|forwarding|voicemail|hangup}``), ``plan``
(``/v1/numbers/{number}/plan``), ``week`` (``/v1/numbers/{number}/week``), ``calls`` (``/v1/calls...``, with their audio).

The routers hold declarations only; everything an endpoint needs at run time comes from
its application (``rules.api.context.Ctx``, ``rules.api.auth.Who``). The route modules
do without ``from __future__ import annotations``: FastAPI reads the endpoints'
annotations at runtime, and the features' endpoints are made inside a function.
"""
from rules.api.routes import calls, features, health, numbers, plan, week

__all__ = ["ROUTERS"]

ROUTERS = (health.router, numbers.router, features.router, plan.router, week.router,
           calls.router)
