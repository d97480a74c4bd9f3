"""Value types shared by the engine's and the API's settings (both read ``CALLFLOW_*``).

They live in ``rules`` because both ``engine.settings`` and ``rules.api.settings`` need
them and ``rules`` must not import ``engine``.

* ``parse_address("host:port", what) -> (host, port)``; ``[v6]:port`` too; a clear
  ``ValueError`` naming ``what`` otherwise.
* ``PrefixList``: a settings field given as ``"+55, +1"`` in the environment, read as the
  tuple ``("+55", "+1")`` (pydantic-settings would otherwise expect JSON).
"""
from __future__ import annotations

from pydantic import BeforeValidator
from pydantic_settings import NoDecode
from typing_extensions import Annotated


def parse_address(value: str, what: str) -> tuple[str, int]:
    host, sep, port = value.rpartition(":")
    if not sep or not port.isdigit() or not 0 <= int(port) <= 65535:
        raise ValueError(f"{what}: expected HOST:PORT, got {value!r}")
    return host.strip("[]") or "0.0.0.0", int(port)


def split_csv(value):
    """``"+55, +1"`` -> ``("+55", "+1")``; anything not a string is left as it is."""
    if isinstance(value, str):
        return tuple(p.strip() for p in value.split(",") if p.strip())
    return value


PrefixList = Annotated[tuple[str, ...], NoDecode, BeforeValidator(split_csv)]
