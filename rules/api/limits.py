"""Limits on request bodies, enforced while a body is read: a pure ASGI middleware.

``BodyLimits(app, *, max_body_bytes, max_json_depth, max_json_items, body_timeout,
authenticate, public_paths=("/health",))`` wraps the application (``create_app``
installs it with the ``api_max_*`` / ``api_body_timeout_seconds`` settings of
``rules.api.settings``). Contract, for every HTTP request that carries a body (a
``Content-Length`` other than 0, or any ``Transfer-Encoding``); requests without one pass
through untouched:

1. Authentication before anything is read: outside ``public_paths`` the bearer token must
   pass ``authenticate(token) -> bool`` (the same token table as ``rules.api.auth.Who``),
   else 401 ``{"detail"}`` with ``WWW-Authenticate: Bearer``, as the endpoints answer.
   What a valid token may *see* is still the endpoints' business (404 out of scope).
2. A ``Content-Length`` above ``max_body_bytes``: 413 at once, nothing read.
3. The body is read here, counted as it arrives: 413 as soon as it passes the limit (so
   at most the limit plus one received chunk is ever buffered); 408 when the whole body
   has not arrived ``body_timeout`` seconds after the request started (slow clients).
   A client that disconnects gets no answer.
4. A JSON body (no ``Content-Type``, or ``application/json`` / ``application/*+json``:
   what FastAPI parses as JSON) is checked on its raw bytes, without recursion and in
   linear time, before anything parses it: nesting deeper than ``max_json_depth`` or an
   array / object with more than ``max_json_items`` items is 422. So no body can make
   the JSON parser recurse into a ``RecursionError`` (a 500) or build a huge structure.
   Whether it *is* JSON is left to the parser.
5. The application then receives the body in one ``http.request`` message; later
   ``receive()`` calls go to the server (``http.disconnect``).

Refusals use the house error shape ``{"errors": [{"path": "body", "message"}]}`` (401:
``{"detail"}``). 401, 408 and 413 carry ``Connection: close``: the server closes the
connection instead of reading (or draining) the rest of the body. Each refusal is logged
(reason, client address), never the token.
"""
from __future__ import annotations

import email.message
import json
import logging
import re
from collections.abc import Awaitable, Callable, Iterable

import anyio
from fastapi.security.utils import get_authorization_scheme_param

from rules.api.auth import UNAUTHORIZED

__all__ = ["BodyLimits", "json_shape_problem"]

log = logging.getLogger("callflow.api")

Scope = dict
Receive = Callable[[], Awaitable[dict]]
Send = Callable[[dict], Awaitable[None]]

# What shapes a JSON document once its strings are gone: brackets and separators.
_DROP = bytes(b for b in range(256) if b not in b'"[]{},')
_STRING = re.compile(rb'"[^"]*"')           # once escapes are gone, a string has no '"'
_STRUCTURE = re.compile(rb"[\[\]{}]|,+")     # a bracket, or a run of separators
_OPEN = frozenset(b"[{")
_CLOSE = frozenset(b"]}")


def json_shape_problem(body: bytes, max_depth: int, max_items: int) -> str | None:
    """Why ``body`` is too deep or too wide to parse, or None.

    No recursion and linear time, mostly in C: escapes are removed (``\\\\`` pairs first,
    then ``\\"``, which leaves exactly the quotes that delimit strings), every byte but
    quotes, brackets and commas is dropped, empty quote pairs are dropped (they change
    nothing outside strings), strings are removed; then one loop over brackets and runs of
    commas counts the depth and each container's items. Malformed JSON is not judged
    here (an unterminated string simply hides the rest): the parser refuses it."""
    if b"\\" in body:
        body = body.replace(b"\\\\", b"").replace(b'\\"', b"")
    shape = body.translate(None, _DROP)
    if b'"' in shape:
        shape = _STRING.sub(b"", shape.replace(b'""', b""))
        cut = shape.find(b'"')                  # an unterminated string: ignore the rest
        if cut >= 0:
            shape = shape[:cut]
    depth = 0
    items: list[int] = []      # separators seen in each open container
    for m in _STRUCTURE.finditer(shape):
        c = shape[m.start()]
        if c in _OPEN:
            depth += 1
            if depth > max_depth:
                return f"JSON nested deeper than {max_depth} levels"
            items.append(0)
        elif c in _CLOSE:
            if items:
                items.pop()
                depth -= 1
        elif items:
            items[-1] += m.end() - m.start()
            if items[-1] >= max_items:          # n separators: n + 1 items
                return f"a JSON array or object with more than {max_items} items"
    return None


def _is_json(content_type: str | None) -> bool:
    # The decision FastAPI makes before it calls json.loads on a body.
    if not content_type:
        return True
    message = email.message.Message()
    message["content-type"] = content_type
    if message.get_content_maintype() != "application":
        return False
    subtype = message.get_content_subtype()
    return subtype == "json" or subtype.endswith("+json")


async def _answer(send: Send, status: int, body: dict, close: bool,
                  extra: Iterable[tuple[bytes, bytes]] = ()) -> None:
    data = json.dumps(body).encode("utf-8")
    headers = [(b"content-type", b"application/json"),
               (b"content-length", str(len(data)).encode("ascii")), *extra]
    if close:
        headers.append((b"connection", b"close"))
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": data, "more_body": False})


def _errors(message: str) -> dict:
    return {"errors": [{"path": "body", "message": message}]}


class BodyLimits:
    def __init__(self, app, *, max_body_bytes: int, max_json_depth: int, max_json_items: int,
                 body_timeout: float, authenticate: Callable[[str | None], bool],
                 public_paths: Iterable[str] = ("/health",)):
        self.app = app
        self.max_body = max_body_bytes
        self.max_depth = max_json_depth
        self.max_items = max_json_items
        self.timeout = body_timeout
        self.authenticate = authenticate
        self.public = frozenset(public_paths)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        length, chunked, authorization, content_type = _head(scope)
        if not chunked and (length is None or length == "0"):
            await self.app(scope, receive, send)
            return

        where = {"path": scope.get("path", ""), "client": (scope.get("client") or ("", 0))[0]}
        if scope.get("path") not in self.public and not self._authorised(authorization):
            log.warning("api request refused before its body: no valid token",
                        extra={"fields": where})
            await _answer(send, 401, UNAUTHORIZED, True, [(b"www-authenticate", b"Bearer")])
            return
        if not chunked and (not length.isdigit() or int(length) > self.max_body):
            log.warning("api request refused: body too large",
                        extra={"fields": {**where, "content_length": length[:20]}})
            await _answer(send, 413, _errors(f"the request body is larger than "
                                             f"{self.max_body} bytes"), True)
            return

        body, state = await self._read(receive)
        if state == "gone":
            return                                  # the client left: nobody to answer
        if state == "too large":
            log.warning("api request refused: body too large",
                        extra={"fields": {**where, "received": len(body)}})
            await _answer(send, 413, _errors(f"the request body is larger than "
                                             f"{self.max_body} bytes"), True)
            return
        if state == "too slow":
            log.warning("api request refused: body too slow",
                        extra={"fields": {**where, "received": len(body)}})
            await _answer(send, 408, _errors(f"the request body did not arrive within "
                                             f"{self.timeout:g} seconds"), True)
            return

        if body and _is_json(content_type):
            problem = json_shape_problem(body, self.max_depth, self.max_items)
            if problem is not None:
                log.warning("api request refused: JSON too deep or too wide",
                            extra={"fields": {**where, "problem": problem}})
                await _answer(send, 422, _errors(problem), False)
                return

        await self.app(scope, _replay(body, receive), send)

    async def _read(self, receive: Receive) -> tuple[bytes, str]:
        """The body, never more than max_body + one chunk, within the timeout; and how
        the reading ended: "ok", "too large", "too slow" or "gone"."""
        body = bytearray()
        with anyio.move_on_after(self.timeout) as timer:
            while True:
                message = await receive()
                if message["type"] == "http.disconnect":
                    return b"", "gone"
                body += message.get("body", b"")
                if len(body) > self.max_body:
                    return bytes(body), "too large"
                if not message.get("more_body", False):
                    break
        return bytes(body), "too slow" if timer.cancelled_caught else "ok"

    def _authorised(self, authorization: str | None) -> bool:
        # The same reading of the header as fastapi.security.HTTPBearer (rules.api.auth).
        scheme, credentials = get_authorization_scheme_param(authorization)
        if not (authorization and scheme and credentials) or scheme.lower() != "bearer":
            return False
        return self.authenticate(credentials)


def _replay(body: bytes, receive: Receive) -> Receive:
    given = False

    async def replay() -> dict:
        nonlocal given
        if not given:
            given = True
            return {"type": "http.request", "body": body, "more_body": False}
        return await receive()

    return replay


def _head(scope: Scope) -> tuple[str | None, bool, str | None, str | None]:
    """Content-Length, chunked or not, Authorization and Content-Type (first of each)."""
    length = authorization = content_type = None
    chunked = False
    for name, value in scope["headers"]:
        if name == b"content-length" and length is None:
            length = value.decode("latin-1").strip()
        elif name == b"transfer-encoding":
            chunked = True
        elif name == b"authorization" and authorization is None:
            authorization = value.decode("latin-1")
        elif name == b"content-type" and content_type is None:
            content_type = value.decode("latin-1")
    return length, chunked, authorization, content_type
