"""Bearer tokens and what each one may see.

The tokens file (``CALLFLOW_API_TOKENS_FILE``) holds no secrets, only each token's
SHA-256 (hex), a name for the logs, and the numbers it may see::

    tokens:
      - name: acme                       # shown in logs, never the token
        sha256: 9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08
        numbers: ["+5511*"]              # E.164 numbers, prefixes ending in *, or *
      - name: ops
        sha256: ...
        numbers: ["*"]
      - name: initech
        sha256: ...
        numbers: ["+5531*"]
        allowed_prefixes: ["+5531", "+5511"]   # optional: where it may forward calls

Contract:

* ``load_tokens(path) -> TokenTable``; a bad file is a ``ConfigError`` listing every
  problem with its path (``tokens[1].sha256: must be 64 hexadecimal digits``).
* ``TokenTable.authenticate(token) -> Principal | None`` hashes the presented token and
  compares it with *every* configured digest using ``hmac.compare_digest``, without
  stopping at a match, so the time taken says nothing about which digest came close.
* ``Principal.allows(e164)``: whether the token's scope covers the number. Everything a
  token cannot see is answered exactly as if it did not exist (404), so another
  customer's numbers cannot be probed.
* ``Principal.allowed_prefixes``: the token's own destination allow-list (the optional
  ``allowed_prefixes`` key: E.164 prefixes such as ``+5511``, ``sip:`` for every SIP
  target, or a SIP host; the same items as ``CALLFLOW_ALLOWED_PREFIXES``), ``()`` when
  not configured. It only *narrows* the deployment's list: a destination this token
  writes must pass both (``rules.api.context.ApiContext.validate``). An empty list is
  refused (omit the key instead).
* ``TokenFile`` reloads the file when its mtime changes (rotation without restart); an
  invalid new file is logged and the previous table stays in force.
* ``Who`` (``Annotated[Principal, Depends(principal)]``) is the endpoints' dependency: the
  bearer token checked against the application's table (``app.state.tokens``, set by
  ``create_app``), or 401 with ``WWW-Authenticate: Bearer``.

Tokens are never logged: only names are.
"""
from __future__ import annotations

import hashlib
import hmac
import logging
import os
import re
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any

import yaml
from fastapi import Depends, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from rules.api.errors import ApiError
from rules.errors import ConfigError

__all__ = ["Principal", "TokenTable", "TokenFile", "load_tokens", "parse_tokens", "hash_token",
           "bearer", "principal", "Who", "UNAUTHORIZED"]

log = logging.getLogger("callflow.api")

_HEX64 = re.compile(r"[0-9a-f]{64}")
_PATTERN = re.compile(r"\*|\+[1-9]\d{0,14}\*?")
# A destination prefix, as rules.destinations.destination_allowed reads one.
_LABEL = r"[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?"
_DEST_PREFIX = re.compile(rf"\+[1-9]\d{{0,14}}|sip:|(?:{_LABEL}\.)*{_LABEL}")

UNAUTHORIZED = {"detail": "a valid bearer token is required"}


def hash_token(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


@dataclass(frozen=True)
class Principal:
    name: str
    patterns: tuple[str, ...]
    allowed_prefixes: tuple[str, ...] = ()     # () = the deployment's list only

    def allows(self, e164: str) -> bool:
        for p in self.patterns:
            if p == "*" or (p.endswith("*") and e164.startswith(p[:-1])) or p == e164:
                return True
        return False


@dataclass(frozen=True)
class _Entry:
    digest: bytes
    principal: Principal


class TokenTable:
    def __init__(self, entries: list[_Entry]):
        self._entries = list(entries)

    def __len__(self) -> int:
        return len(self._entries)

    def authenticate(self, token: str | None) -> Principal | None:
        if not token:
            return None
        digest = hash_token(token).encode("ascii")
        found = None
        for entry in self._entries:
            if hmac.compare_digest(digest, entry.digest) and found is None:
                found = entry.principal
        return found


def parse_tokens(data: Any, source: str = "tokens") -> TokenTable:
    if not isinstance(data, dict) or not isinstance(data.get("tokens"), list):
        raise ConfigError([("tokens", f"{source}: must be a mapping with a list under 'tokens'")])
    errors: list[tuple[str, str]] = []
    entries: list[_Entry] = []
    names: set[str] = set()
    digests: set[str] = set()
    for i, item in enumerate(data["tokens"]):
        where = f"tokens[{i}]"
        if not isinstance(item, dict):
            errors.append((where, "must be a mapping with name, sha256 and numbers"))
            continue
        for key in item:
            if key not in ("name", "sha256", "numbers", "allowed_prefixes"):
                errors.append((f"{where}.{key}", "unknown key"))
        name = item.get("name")
        if not isinstance(name, str) or not name.strip():
            errors.append((f"{where}.name", "is required (a label for the logs)"))
        elif name in names:
            errors.append((f"{where}.name", f"{name!r} is used twice"))
        else:
            names.add(name)
        digest = item.get("sha256")
        if not isinstance(digest, str) or not _HEX64.fullmatch(digest.lower()):
            errors.append((f"{where}.sha256", "must be the token's SHA-256: 64 hexadecimal digits"))
        elif digest.lower() in digests:
            errors.append((f"{where}.sha256", "the same token is configured twice"))
        else:
            digests.add(digest.lower())
        numbers = item.get("numbers")
        if isinstance(numbers, str):
            numbers = [numbers]
        if not isinstance(numbers, list) or not numbers:
            errors.append((f"{where}.numbers", "must list the numbers this token may see "
                                               "(+551140040000, +5511*, or *)"))
            numbers = []
        for j, p in enumerate(numbers):
            if not isinstance(p, str) or not _PATTERN.fullmatch(p):
                errors.append((f"{where}.numbers[{j}]", f"{p!r} is not an E.164 number, a "
                                                         f"prefix ending in * (+5511*), or *"))
        prefixes = item.get("allowed_prefixes", ())
        if isinstance(prefixes, str):
            prefixes = [prefixes]
        if "allowed_prefixes" in item and (not isinstance(prefixes, list) or not prefixes):
            errors.append((f"{where}.allowed_prefixes",
                           "must list the destination prefixes this token may forward to "
                           "(+5511, sip:, pbx.example.com); leave the key out for the "
                           "deployment's list"))
            prefixes = []
        for j, p in enumerate(prefixes):
            if not isinstance(p, str) or not _DEST_PREFIX.fullmatch(p):
                errors.append((f"{where}.allowed_prefixes[{j}]",
                               f"{p!r} is not a destination prefix (+5511), sip: or a SIP host"))
        if not any(p.startswith(f"{where}.") for p, _ in errors):
            entries.append(_Entry(digest.lower().encode("ascii"),
                                  Principal(name, tuple(numbers), tuple(prefixes))))
    if errors:
        raise ConfigError(errors)
    return TokenTable(entries)


def load_tokens(path: str | os.PathLike) -> TokenTable:
    try:
        with open(path, encoding="utf-8") as f:
            data = yaml.safe_load(f)
    except OSError as exc:
        raise ConfigError([("", f"{path}: cannot read: {exc.strerror or exc}")]) from None
    except (yaml.YAMLError, UnicodeDecodeError) as exc:
        raise ConfigError([("", f"{path}: not a YAML tokens file: {exc}")]) from None
    return parse_tokens(data, str(path))


class TokenFile:
    """The table of a tokens file, reloaded when the file changes."""

    def __init__(self, path: str | os.PathLike):
        self.path = Path(path)
        self._lock = threading.Lock()
        self._mtime = self._stat()
        self.table = load_tokens(self.path)      # an invalid file at start is fatal
        log.info("api tokens loaded", extra={"fields": {"path": str(self.path), "tokens": len(self.table)}})

    def _stat(self) -> int:
        try:
            return os.stat(self.path).st_mtime_ns
        except OSError:
            return 0

    def current(self) -> TokenTable:
        mtime = self._stat()
        if mtime and mtime != self._mtime:
            with self._lock:
                if mtime != self._mtime:
                    self._mtime = mtime
                    try:
                        self.table = load_tokens(self.path)
                        log.info("api tokens reloaded", extra={"fields": {"tokens": len(self.table)}})
                    except ConfigError as exc:
                        log.error("api tokens file changed but is invalid; previous tokens "
                                  "stay in force", extra={"fields": {"errors": exc.lines()}})
        return self.table

    def authenticate(self, token: str | None) -> Principal | None:
        return self.current().authenticate(token)


# -- the endpoints' dependency ---------------------------------------------------------
# One scheme object for every application: it holds no state, only what the OpenAPI
# document says (securitySchemes.HTTPBearer). auto_error=False so a missing token gets
# our 401 body, the same as a wrong one, rather than FastAPI's own error.
bearer = HTTPBearer(auto_error=False, description="a token from the deployment's tokens file")


def principal(request: Request,
              credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(bearer)]) -> Principal:
    tokens: TokenFile | TokenTable = request.app.state.tokens
    who = tokens.authenticate(credentials.credentials if credentials else None)
    if who is None:
        raise ApiError(401, dict(UNAUTHORIZED), {"WWW-Authenticate": "Bearer"})
    return who


Who = Annotated[Principal, Depends(principal)]
