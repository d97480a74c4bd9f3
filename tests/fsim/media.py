"""Media helpers: how long a playback lasts, and real WAV files for record/record_session.

WAVs are 8000 Hz, mono, 16-bit PCM like FreeSWITCH wrote them (transcripts 03/04, soxi output),
so ``record_file_size == 44 + 2 * samples`` (39724 bytes for 2.48 s in transcript 04).
"""
from __future__ import annotations

import math
import os
import re
import struct
import wave

RATE = 8000


def tone_stream_ms(spec: str) -> int | None:
    """Length in ms of ``tone_stream://%(on,off,freq...)[;loops=N]`` (``None`` if endless).

    Transcript 01: ``%(500,500,440);loops=2`` played 2000 ms; transcript 02: ``%(300,0,660)``
    played 300 ms.
    """
    body = spec[len("tone_stream://"):]
    loops = 1
    m = re.search(r"loops=(-?\d+)", body)
    if m:
        loops = int(m.group(1))
        if loops < 0:
            return None
    total = 0
    for on, off in re.findall(r"%\((\d+),(\d+)(?:,[^)]*)?\)", body):
        total += int(on) + int(off)
    return total * max(loops, 1)


def playback_ms(path: str) -> int | None:
    """Duration in ms of what ``playback`` would play, or ``None`` when the file is missing
    (FILE NOT FOUND, transcript 06). Supported: tone_stream://, silence_stream://<ms>,
    file_string://a!b, and absolute paths of existing files (WAV: real length; others 1 s)."""
    if path.startswith("tone_stream://"):
        ms = tone_stream_ms(path)
        return 10_000 if ms is None else ms
    if path.startswith("silence_stream://"):
        try:
            ms = int(path[len("silence_stream://"):].split(",")[0])
        except ValueError:
            ms = 0
        return 10_000 if ms <= 0 else ms
    if path.startswith("file_string://"):
        total = 0
        for part in path[len("file_string://"):].split("!"):
            ms = playback_ms(part)
            if ms is None:
                return None
            total += ms
        return total
    if not os.path.isabs(path) or not os.path.isfile(path):
        return None
    try:
        with wave.open(path, "rb") as w:
            return int(w.getnframes() * 1000 / max(w.getframerate(), 1))
    except (wave.Error, EOFError, OSError):
        return 1000


def file_type(path: str) -> str:
    """Playback-File-Type: the ``xxx://`` scheme (``tone_stream`` in transcript 04), else the
    file extension (not captured; an assumption)."""
    if "://" in path:
        return path.split("://", 1)[0]
    return os.path.splitext(path)[1].lstrip(".") or "native"


def write_wav(path: str, total_ms: int, speech_ms: int | None = None, freq: float = 440.0) -> int:
    """Write a valid WAV of ``total_ms`` (sine for the first ``speech_ms``, then silence).

    Returns the file size in bytes. Raises OSError when the path cannot be written.
    """
    samples = total_ms * RATE // 1000
    speech = samples if speech_ms is None else min(samples, speech_ms * RATE // 1000)
    with wave.open(path, "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(RATE)
        chunk = []
        step = 2 * math.pi * freq / RATE
        for i in range(samples):
            v = int(8000 * math.sin(step * i)) if i < speech else 0
            chunk.append(v)
            if len(chunk) >= 8000:
                w.writeframes(struct.pack(f"<{len(chunk)}h", *chunk))
                chunk = []
        if chunk:
            w.writeframes(struct.pack(f"<{len(chunk)}h", *chunk))
    return os.path.getsize(path)
