"""How long a message lasts, so that waiting for it to play has a bound that fits it.

Contract: ``audio_seconds(path) -> float | None``: the length of a WAV file (PCM, read
from its header with the standard ``wave`` module), or None when the file is missing or
not a WAV the module can read (FreeSWITCH plays more formats than ``wave`` reads: the
caller of this then uses its own upper bound). Cached per (path, size, mtime), so a
message replaced on disk is measured again and each play costs one ``stat``.
"""
from __future__ import annotations

import functools
import os
import wave

__all__ = ["audio_seconds"]


def audio_seconds(path: str) -> float | None:
    try:
        st = os.stat(path)
    except OSError:
        return None
    return _measure(path, st.st_size, st.st_mtime_ns)


@functools.lru_cache(maxsize=4096)
def _measure(path: str, size: int, mtime_ns: int) -> float | None:
    try:
        with wave.open(path, "rb") as w:
            rate = w.getframerate()
            return w.getnframes() / float(rate) if rate > 0 else None
    except (OSError, EOFError, wave.Error, ValueError):
        return None
