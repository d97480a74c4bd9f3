"""Request parameters shared by several endpoints: path declarations and the reading of
query values the HTTP layer cannot type.

Contract:

* ``NumberPath`` / ``UuidPath``: the documented ``{number}`` and ``{uuid}`` path
  parameters. ``ISO``: the documented (not enforced: the endpoint's own message is
  clearer) pattern of an instant in a query string.
* ``plus(value)``: a query value whose ``+`` arrived as a space (form encoding) gets its
  ``+`` back; anything else is returned as it is.
* ``instant(value, name) -> datetime``: ISO 8601, tolerating that unencoded ``+``; an
  unreadable value is a 422 at ``query.<name>``.
"""
from datetime import datetime
from typing import Annotated

from fastapi import Path

from rules.api.errors import invalid
from rules.api.schemas import EXAMPLE_RECORD

__all__ = ["NumberPath", "UuidPath", "ISO", "plus", "instant"]

NumberPath = Annotated[str, Path(description="the number in any common notation, e.g. "
                                             "%2B551140040000 or (11) 4004-0000",
                                 examples=["+551140040000"], max_length=64)]
UuidPath = Annotated[str, Path(max_length=128, examples=[EXAMPLE_RECORD["uuid"]])]
ISO = {"pattern": r"^\d{4}-\d{2}-\d{2}([T ]\d{2}:\d{2}(:\d{2}(\.\d{1,6})?)?)?(Z|[+-]\d{2}:\d{2})?$"}


def plus(value: str | None) -> str | None:
    """An unencoded ``+`` in a query string arrives as a space (form encoding); a value
    starting with one is read as ``+``, which is what the user typed."""
    if value is not None and value.startswith(" ") and value.strip()[:1].isdigit():
        return "+" + value.strip()
    return value


def instant(value: str, name: str) -> datetime:
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
    raise invalid([(f"query.{name}", f"{value!r} is not an ISO 8601 date and time "
                                      f"(e.g. 2026-11-27T10:00 or 2026-11-27T13:00Z)")])
