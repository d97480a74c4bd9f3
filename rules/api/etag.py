"""Entity tags on number entries: the ``ETag`` a response carries and the ``If-Match`` /
``If-None-Match`` a write is conditioned on.

Contract:

* A number's tag is ``rules.api_store.etag(raw)`` of its stored JSON; the store checks a
  write's precondition in the same Lua script that writes (``ApiStore.put``), so nothing
  here compares tags itself.
* ``IfMatch`` / ``IfNoneMatch`` declare the request headers; ``ApiStore.expectation``
  turns them into the store's ``expect``.
* ``tagged(raw, body, status)`` is the JSON response for an entry, tagged with ``raw``'s
  ETag. ``etag_header(what)`` documents that header.
* ``cas_expectation(wanted, raw)`` is what a read-modify-write (a feature PUT) expects
  of the entry it read: the client's own tag if it sent one, else the tag of ``raw``.
"""
from typing import Annotated, Any

from fastapi import Header
from fastapi.responses import JSONResponse

from rules.api_store import ANY, EXISTS, etag

__all__ = ["IfMatch", "IfNoneMatch", "tagged", "etag_header", "cas_expectation",
           "client_tagged", "etag"]

IfMatch = Annotated[str | None, Header(description="the ETag of the entry this write is based on")]
IfNoneMatch = Annotated[str | None, Header(description="`*`: create only")]


def tagged(raw: str, body: Any, status: int = 200) -> JSONResponse:
    return JSONResponse(body, status_code=status, headers={"ETag": etag(raw)})


def etag_header(what: str) -> dict:
    return {"ETag": {"schema": {"type": "string"}, "description": what}}


def client_tagged(wanted: str) -> bool:
    """Whether the client named a tag (not merely "any" or ``If-Match: *``)."""
    return wanted not in (ANY, EXISTS)


def cas_expectation(wanted: str, raw: str) -> str:
    # Without a client tag the write still must not overwrite a change made between our
    # read and our write: expect exactly the entry we read.
    return wanted if client_tagged(wanted) else etag(raw).strip('"')
