"""What every endpoint of one application shares: its store, its validation settings and
the steps that turn a request's number into a stored entry.

Contract:

* ``ApiContext.build(settings, store)`` is made once per application by ``create_app``
  and kept in ``app.state.context``; endpoints receive it with the dependency ``Ctx``
  (never a module global, so several applications can live in one process: the tests
  build one per case).
* ``resolve(text, who, writing)``: the number in any notation -> E.164 with the store's
  ``defaults.region``. A number the token may not see is 404, as is an unreadable one
  when reading; when writing, an unreadable number is a 422 at ``numbers.<text>``.
* ``current(e164)``: the stored JSON, or 404. ``validate(e164, data, who, feature)``:
  the canonical JSON to store (``rules.stored.entry_json`` with the deployment's
  allow-list), or 422 with every problem. When the token has its own allow-list
  (``Principal.allowed_prefixes``), every destination the request sets must pass it as
  well (so a token's list can only narrow the deployment's): the whole entry for a
  number's PUT, only ``feature``'s list for a feature PUT (destinations set earlier by
  someone else stay as they are). A destination outside it is 422 at its path
  (``numbers.+551140040000.forwarding[0].to[0]``), naming the destination.
  ``parsed(e164, raw)``: the stored JSON as an object, or 409.
* ``audit(who, action, e164, version)`` logs a change with the token's *name* only.
"""
import json
import logging
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any

from fastapi import Depends, Request

from rules.api.auth import Principal
from rules.api.errors import conflict, invalid, not_found
from rules.api.settings import ApiSettings
from rules.api_store import ApiStore
from rules.errors import ConfigError
from rules.numbers import NumberError, normalise_number
from rules.redis_store import RedisStore
from rules.stored import entry_json

__all__ = ["ApiContext", "get_context", "Ctx"]

log = logging.getLogger("callflow.api")


@dataclass(frozen=True)
class ApiContext:
    store: RedisStore
    api: ApiStore
    prefixes: tuple[str, ...]
    recordings_dir: Path
    voicemail_dir: Path

    @classmethod
    def build(cls, settings: ApiSettings, store: RedisStore) -> "ApiContext":
        return cls(store=store, api=ApiStore(store), prefixes=tuple(settings.allowed_prefixes),
                   recordings_dir=settings.recordings_dir, voicemail_dir=settings.voicemail_dir)

    def region(self) -> str | None:
        return self.store.stored_defaults().region

    def resolve(self, text: str, who: Principal, writing: bool = False) -> str:
        try:
            e164 = normalise_number(text, self.region())
        except NumberError as exc:
            if writing:
                raise invalid([(f"numbers.{text}", str(exc))]) from None
            raise not_found() from None
        if not who.allows(e164):
            raise not_found()
        return e164

    def current(self, e164: str) -> str:
        raw, _ = self.api.get(e164)
        if raw is None:
            raise not_found()
        return raw

    def validate(self, e164: str, data: Any, who: Principal | None = None,
                 feature: str | None = None) -> str:
        defaults = self.store.stored_defaults()
        try:
            doc = entry_json(e164, data, defaults, self.prefixes)[1]
        except ConfigError as exc:
            raise invalid(exc.errors) from None
        if who is not None and who.allowed_prefixes:
            self._token_destinations(e164, doc, defaults, who, feature)
        return doc

    @staticmethod
    def _token_destinations(e164: str, doc: str, defaults, who: Principal,
                            feature: str | None) -> None:
        """The canonical entry validated again with the token's list: it is valid in
        every other respect, so each error left is a destination outside that list."""
        try:
            entry_json(e164, json.loads(doc), defaults, who.allowed_prefixes)
            return
        except ConfigError as exc:
            found = exc.errors
        head = f"numbers.{e164}"
        if feature is not None:
            head += f".{feature}"
        mine = [(path, msg) for path, msg in found
                if path == head or path.startswith((head + ".", head + "["))]
        if not mine:
            return
        data = json.loads(doc)
        allowed = ", ".join(who.allowed_prefixes)
        errors = []
        for path, msg in mine:
            dest = _at(data, path[len(f"numbers.{e164}"):])
            if isinstance(dest, str):
                msg = (f"{dest} is outside the destinations this token may set "
                       f"({allowed})")
            errors.append((path, msg))
        raise invalid(errors)

    @staticmethod
    def parsed(e164: str, raw: str) -> dict:
        # Only something written around the API and `rules push` can be unreadable; the
        # engines ignore such an entry, and a PUT of the whole number replaces it.
        try:
            data = json.loads(raw)
        except ValueError:
            data = None
        if not isinstance(data, dict):
            raise conflict([(f"numbers.{e164}", "the stored entry is not a JSON object; "
                                                "replace it with PUT /v1/numbers/{number}")])
        return data

    @staticmethod
    def audit(who: Principal, action: str, e164: str, version: int) -> None:
        log.info("api change", extra={"fields": {"token": who.name, "action": action,
                                                 "number": e164, "version": version}})


_STEP = re.compile(r"\.([A-Za-z_]+)|\[(\d+)\]")


def _at(data: Any, path: str) -> Any:
    """The value at ``.forwarding[1].to[0]`` in ``data``, or None."""
    pos = 0
    while pos < len(path):
        m = _STEP.match(path, pos)
        if m is None:
            return None
        key, index = m.group(1), m.group(2)
        try:
            data = data[key] if key is not None else data[int(index)]
        except (KeyError, IndexError, TypeError):
            return None
        pos = m.end()
    return data


def get_context(request: Request) -> ApiContext:
    return request.app.state.context


Ctx = Annotated[ApiContext, Depends(get_context)]
