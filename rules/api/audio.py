"""Serving a call's audio (recorded conversation or voicemail) to a browser's player.

Contract of ``audio_response(path, folder, name)``:

* ``path`` comes from a call record, never from the request. It is served only if,
  once every symlink is resolved, it lies inside ``folder`` (the configured recordings or
  voicemail folder) and is a regular file; otherwise ``AudioRefused`` (the caller answers
  404 and logs why, without the token).
* The response is Starlette's ``FileResponse``, which implements ``Range`` (RFC 9110):
  ``206 Partial Content`` with ``Content-Range`` for a satisfiable range (several ranges:
  ``multipart/byteranges``), ``416`` with ``Content-Range: bytes */size`` for an
  unsatisfiable one, ``Accept-Ranges: bytes`` always, and ``If-Range`` against its
  ``ETag``/``Last-Modified``. ``tests/rules/api/test_audio.py`` pins this behaviour so an
  upgrade that loses it fails the suite.
* ``Content-Disposition: inline`` so a browser plays it rather than downloading it.
"""
from __future__ import annotations

from pathlib import Path

from starlette.responses import FileResponse

__all__ = ["AudioRefused", "audio_response", "media_type"]


class AudioRefused(Exception):
    """The record's path cannot be served; the message says why (for the log)."""


def media_type(path: Path) -> str:
    return {".wav": "audio/wav", ".mp3": "audio/mpeg", ".ogg": "audio/ogg"}.get(
        path.suffix.lower(), "application/octet-stream")


def resolve_inside(path: str, folder: Path) -> Path:
    try:
        root = folder.resolve(strict=True)
    except OSError as exc:
        raise AudioRefused(f"the audio folder {folder} is not available: {exc.strerror}") from None
    candidate = Path(path)
    if not candidate.is_absolute():
        candidate = root / candidate
    try:
        real = candidate.resolve(strict=True)
    except (OSError, RuntimeError):
        raise AudioRefused("the file is gone") from None
    if not real.is_relative_to(root):
        raise AudioRefused(f"the record's path is outside {root}")
    if not real.is_file():
        raise AudioRefused("not a regular file")
    return real


def audio_response(path: str, folder: Path, name: str) -> FileResponse:
    real = resolve_inside(path, folder)
    return FileResponse(real, media_type=media_type(real), filename=name,
                        content_disposition_type="inline")
