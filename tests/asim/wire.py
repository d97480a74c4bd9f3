"""The AGI transcripts as data: ``tests/data/agi-transcripts/raw/*.raw`` (README,
"Format": for every block one line ``<<<|>>> <ISO timestamp> <length>\\n``, exactly
``<length>`` bytes, then ``\\n``)."""
from __future__ import annotations

from pathlib import Path

DATA = Path(__file__).resolve().parents[1] / "data" / "agi-transcripts"
RAW = DATA / "raw"


def raw_path(prefix: str) -> Path:
    matches = sorted(RAW.glob(f"{prefix}*.raw"))
    exact = [p for p in matches if p.stem.split("-", 1)[0] == prefix]
    if len(exact) != 1:
        raise FileNotFoundError(f"no single raw transcript for {prefix!r}: {matches}")
    return exact[0]


def load_raw(prefix: str) -> list[tuple[str, bytes]]:
    """``[(direction, bytes)]`` in wire order; direction ``<<<`` (Asterisk) or ``>>>``."""
    return [(d, b) for d, _, b in load_raw_timed(prefix)]


def load_raw_timed(prefix: str) -> list[tuple[str, float, bytes]]:
    """``[(direction, seconds since the first block, bytes)]``."""
    from datetime import datetime

    data = raw_path(prefix).read_bytes()
    blocks, i = [], 0
    while i < len(data):
        nl = data.index(b"\n", i)
        direction, ts, length = data[i:nl].split(b" ")
        n = int(length)
        body = data[nl + 1:nl + 1 + n]
        assert len(body) == n and data[nl + 1 + n:nl + 2 + n] == b"\n", (prefix, i)
        blocks.append((direction.decode(), datetime.fromisoformat(ts.decode()).timestamp(), body))
        i = nl + 2 + n
    t0 = blocks[0][1] if blocks else 0.0
    return [(d, t - t0, b) for d, t, b in blocks]


def asterisk_bytes(prefix: str) -> bytes:
    return b"".join(b for d, b in load_raw(prefix) if d == "<<<")


def exchanges(prefix: str) -> list[tuple[bytes, list[bytes]]]:
    """``[(command line, [Asterisk lines until the next command])]`` after the
    environment block; lines keep their ``\\n``. The first entry's command is ``b""``
    (what Asterisk sent before any command: the environment)."""
    out: list[tuple[bytes, list[bytes]]] = [(b"", [])]
    for direction, body in load_raw(prefix):
        if direction == ">>>":
            for line in body.splitlines(keepends=True):
                out.append((line, []))
        else:
            out[-1][1].extend(body.splitlines(keepends=True))
    return out


def all_prefixes() -> list[str]:
    return sorted(p.stem.split("-", 1)[0] for p in RAW.glob("*.raw"))


def timed_commands(prefix: str) -> list[tuple[float, bytes, list[bytes]]]:
    """``exchanges`` with the time each command was sent (seconds after the first block)."""
    times = [t for d, t, body in load_raw_timed(prefix) if d == ">>>"
             for _ in body.splitlines()]
    return [(t, cmd, lines) for t, (cmd, lines) in zip(times, exchanges(prefix)[1:])]
