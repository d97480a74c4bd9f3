"""Identifiers from the switch, checked before they name anything.

Contract:

* ``canonical_uuid(text) -> bool``: ``text`` is a UUID in canonical form (36 characters,
  lowercase hex, hyphens at 8-4-4-4-12), the only form FreeSWITCH writes
  (``switch_uuid_format``). A call's uuid names its recording and voicemail files, its
  log lines and its Redis stream entry; anything else (``../../tmp/x``, a newline, an
  upper-case or braced form that would make a second name for the same call) is refused
  before it names any of them.
* ``file_in(root, *parts) -> Path``: ``root/part/...`` built from validated parts, and
  checked to stay inside ``root`` once resolved (symlinks included); ``ValueError``
  otherwise. Every recording and voicemail path is built by it.
"""
from __future__ import annotations

import re
from pathlib import Path

__all__ = ["canonical_uuid", "file_in"]

_UUID = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}", re.ASCII)
_PART = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,99}", re.ASCII)


def canonical_uuid(text: object) -> bool:
    return isinstance(text, str) and _UUID.fullmatch(text) is not None


def file_in(root: Path, *parts: str) -> Path:
    for part in parts:
        if not _PART.fullmatch(part) or ".." in part:
            raise ValueError(f"unsafe path part {part[:80]!r} under {root}")
    base = root.resolve()
    path = base.joinpath(*parts).resolve()
    if not path.is_relative_to(base):
        raise ValueError(f"{path} is outside {base}")
    return path
