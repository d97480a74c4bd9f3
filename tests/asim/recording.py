"""``RECORD FILE <path> <format> <digits> <timeout ms> [BEEP] [s=<silence s>]`` in the
AGI simulator (README, "Recording: RECORD FILE"; 07, 07b, 07c).

``BEEP`` plays 0.25 s first. The recording ends at the first of: the caller's hang-up
(``200 result=-1 (hangup) endpos=N``, then HANGUP; the file is kept, 07), a digit of
``digits`` (``200 result=<ascii> (dtmf) endpos=N``, 07b), silence after the caller's
``talk`` when ``s=`` is given and the caller sends frames (``(timeout)``; Asterisk rewinds
the silence but one second, so the file is ``talk + 1`` s; seen on the real Asterisk
22.10.1: ``200 result=15003 (timeout) endpos=23978`` for 2 s of talk, ``s=3`` and a 20 s
limit, i.e. the result is the milliseconds left of the limit), or the time limit
(``(timeout)``, result 0: none left). A caller that sends no frames at all never triggers silence and leaves a
0-frame file (07c). endpos equals the frames written (07). The file is a real WAV
(8 kHz, mono, 16-bit) at ``<path>.<format>``.
"""
from __future__ import annotations

from .channel import RATE, write_wav


def record_file(ch, args: list[str]) -> bytes:
    path, fmt, digits, limit_ms = args[:4]
    options = args[4:]
    limit = int(limit_ms) / 1000 if limit_ms.lstrip("-").isdigit() and int(limit_ms) > 0 else None
    silence = None
    for opt in options:
        if opt.startswith("s=") and opt[2:].isdigit():
            silence = int(opt[2:])
    if "BEEP" in options and ch.wait(0.25):
        return b"200 result=-1 (hangup) endpos=0\n"
    c = ch.caller
    ends = []                                   # (seconds into the recording, why, file s)
    if limit is not None:
        ends.append((limit, "timeout", 0.0 if c.silent else limit))
    if silence and not c.silent and c.talk is not None:
        ends.append((c.talk + silence, "timeout", c.talk + 1.0))
    if c.press_after is not None and c.press_digit in digits:
        ends.append((c.press_after, "dtmf", 0.0 if c.silent else c.press_after))
    end = min(ends) if ends else (None, "timeout", 0.0)
    started = ch.now()
    if ch.wait(end[0]):
        seconds = 0.0 if c.silent else ch.now() - started
        frames = write_wav(f"{path}.{fmt}", seconds)
        ch.result.records.append((f"{path}.{fmt}", frames, "hangup"))
        return f"200 result=-1 (hangup) endpos={frames}\n".encode()
    frames = write_wav(f"{path}.{fmt}", min(end[2], end[0]))
    ch.result.records.append((f"{path}.{fmt}", frames, end[1]))
    if end[1] == "dtmf":
        return f"200 result={ord(c.press_digit)} (dtmf) endpos={frames}\n".encode()
    left = max(0, round((limit - end[0]) * 1000)) if limit is not None and end[0] is not None else 0
    return f"200 result={left} (timeout) endpos={frames}\n".encode()


__all__ = ["record_file", "RATE"]
