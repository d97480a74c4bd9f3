"""FastAGI framing, pure: bytes in, the ``agi_*`` environment and replies out (and
commands out as bytes). No sockets.

What Asterisk sends (tests/data/agi-transcripts/README.md, "Command/response framing"):

* on connect, ``agi_name: value\\n`` lines and then one empty line (``\\n``). Nothing else
  comes first, and the block may arrive in any number of TCP segments (481 + 181 bytes in
  01, one line per segment in 07). Values are raw: no quoting, no URL-decoding (09), and
  ``agi_accountcode: \\n`` has an empty value (01).
* then, for each command, in order, one reply line ``200 result=N[ (data)][ endpos=N]``
  (``Reply``), or ``510 ...`` / ``511 ...``, or a multi-line ``520-...`` reply whose last
  line matches ``^\\d{3} `` (13: ``520-Invalid command syntax...`` .. ``520 End of proper
  usage.``), and at any time between replies the 7 bytes ``HANGUP\\n`` (``HANGUP``).
  Lines end in a bare ``\\n``; a ``\\r`` before it is tolerated and dropped.

``AgiDecoder.feed(data) -> list`` takes whatever one ``recv`` returned and gives back, in
order, at most one ``Environment`` (first) and then ``Reply`` objects and ``HANGUP``.

Limits (``Limits``): the environment block may hold at most ``max_env_bytes`` bytes and
``max_env_lines`` lines; any line (env or reply) at most ``max_line`` bytes; a multi-line
reply at most ``max_reply_lines`` lines. A peer can thus make the decoder hold at most
about ``max(max_env_bytes, max_reply_lines * max_line)`` bytes plus one read. Anything over
raises ``FrameTooLarge`` before the bytes are kept; other malformed input (an env line
without ``agi_``/``": "``, a reply line that is not ``NNN``, a ``200`` without
``result=``) raises ``ProtocolError``. Text is decoded as UTF-8 (09: ``Jo\\xc3\\xa3o``);
invalid bytes become U+FFFD rather than failing the call (a trunk may send Latin-1 names).

Commands (``encode_command``): ``words`` is the command (``"EXEC"``, ``"GET VARIABLE"``),
upper-case letters and single spaces only; each argument is one token for Asterisk's
``parse_args`` (res_agi.c: whitespace separates, ``"`` groups, ``\\`` escapes the next
character): quoted when it is empty or holds a space, tab, ``"`` or ``\\`` (or when
``quote=True``), with ``"`` and ``\\`` escaped. CR, LF and NUL are refused (``ValueError``):
they would end the command and let the rest be read as another.
"""
from __future__ import annotations

import re
from dataclasses import dataclass

from rules.errors import FrameTooLarge, ProtocolError

__all__ = ["Limits", "DEFAULT_LIMITS", "AgiDecoder", "Environment", "Reply", "HANGUP",
           "encode_command", "quote_arg", "parse_reply_line"]


@dataclass(frozen=True, slots=True)
class Limits:
    """How much one peer may make the engine hold (see the module docstring)."""

    # A real block is ~660 bytes and 26 lines (01); arguments add a line each.
    max_env_bytes: int = 16 * 1024
    max_env_lines: int = 256
    max_line: int = 8 * 1024
    # 13: the longest usage reply seen was 7 lines.
    max_reply_lines: int = 128


DEFAULT_LIMITS = Limits()


class _Hangup:
    """The unsolicited ``HANGUP`` notice (README, "Hang-up signalling")."""

    __slots__ = ()

    def __repr__(self) -> str:
        return "HANGUP"


HANGUP = _Hangup()


class Environment(dict):
    """The ``agi_*`` block as ``{name: value}``, names without the ``agi_`` prefix
    (``env["uniqueid"]``); the first occurrence of a name wins."""


@dataclass(frozen=True, slots=True)
class Reply:
    """One command's reply. ``code``: 200, 510, 511, 520...; for 200, ``result`` (int),
    ``data`` (the text in parentheses, or None when there were none: README, ``GET
    VARIABLE`` unset is ``200 result=0`` without them) and ``endpos``; ``text``: the
    first line as sent; ``lines``: every line of a multi-line reply."""

    code: int
    text: str
    result: int | None = None
    data: str | None = None
    endpos: int | None = None
    lines: tuple[str, ...] = ()

    @property
    def ok(self) -> bool:
        return self.code == 200


_CODE = re.compile(r"(\d{3})([ -])", re.ASCII)
_RESULT = re.compile(r"result=(-?\d+)(?: |$)", re.ASCII)
_ENDPOS = re.compile(r"(?:^| )endpos=(-?\d+)$", re.ASCII)


def parse_reply_line(line: str) -> Reply:
    """One final reply line -> ``Reply`` (``ProtocolError`` when it is not one)."""
    m = _CODE.match(line)
    if m is None or m.group(2) != " ":
        raise ProtocolError(f"not an AGI reply line: {line[:80]!r}")
    code = int(m.group(1))
    if code != 200:
        return Reply(code, line)
    rest = line[4:]
    r = _RESULT.match(rest)
    if r is None:
        raise ProtocolError(f"200 reply without result=: {line[:80]!r}")
    result = int(r.group(1))
    rest = rest[r.end():]
    endpos = None
    e = _ENDPOS.search(rest)
    # A GET VARIABLE value always ends in ")", so a value holding "endpos=" cannot be
    # taken for the endpos that STREAM FILE/RECORD FILE append (01, 07).
    if e is not None:
        endpos = int(e.group(1))
        rest = rest[:e.start()]
    data = None
    if rest.startswith("(") and rest.endswith(")"):
        data = rest[1:-1]
    elif rest:
        data = rest               # not seen on the wire; kept rather than lost
    return Reply(200, line, result, data, endpos, (line,))


class AgiDecoder:
    """Incremental splitter of Asterisk's byte stream (see the module docstring)."""

    __slots__ = ("limits", "_buf", "_env", "_env_lines", "_env_bytes", "_multi")

    def __init__(self, limits: Limits = DEFAULT_LIMITS):
        self.limits = limits
        self._buf = bytearray()
        self._env: Environment | None = Environment()   # None once the block is done
        self._env_lines = 0
        self._env_bytes = 0
        self._multi: list[str] | None = None             # a 520- reply being read

    @property
    def in_environment(self) -> bool:
        return self._env is not None

    @property
    def mid_frame(self) -> bool:
        """Part of a line, of the environment or of a multi-line reply is buffered."""
        return bool(self._buf) or self._multi is not None or (
            self._env is not None and self._env_lines > 0)

    def feed(self, data: bytes) -> list:
        buf = self._buf
        buf += data
        out: list = []
        pos = 0
        max_line = self.limits.max_line
        while True:
            nl = buf.find(b"\n", pos)
            if nl < 0:
                if len(buf) - pos > max_line:
                    raise FrameTooLarge(f"AGI line exceeds {max_line} bytes")
                break
            if nl - pos > max_line:
                raise FrameTooLarge(f"AGI line of {nl - pos} bytes exceeds {max_line}")
            raw = bytes(buf[pos:nl])
            pos = nl + 1
            if raw.endswith(b"\r"):
                raw = raw[:-1]
            item = self._line(raw)
            if item is not None:
                out.append(item)
        if pos:
            del buf[:pos]
        return out

    def _line(self, raw: bytes):
        text = raw.decode("utf-8", errors="replace")
        if self._env is not None:
            return self._env_line(text, len(raw) + 1)
        if self._multi is not None:
            return self._multi_line(text)
        if text == "HANGUP":
            return HANGUP
        m = _CODE.match(text)
        if m is None:
            raise ProtocolError(f"unexpected line from Asterisk: {text[:80]!r}")
        if m.group(2) == "-":
            self._multi = [text]
            return None
        return parse_reply_line(text)

    def _env_line(self, text: str, size: int):
        self._env_bytes += size
        if self._env_bytes > self.limits.max_env_bytes:
            raise FrameTooLarge(f"AGI environment exceeds {self.limits.max_env_bytes} bytes")
        if text == "":
            env, self._env = self._env, None
            return env
        self._env_lines += 1
        if self._env_lines > self.limits.max_env_lines:
            raise FrameTooLarge(f"AGI environment exceeds {self.limits.max_env_lines} lines")
        name, sep, value = text.partition(": ")
        if not sep and text.endswith(":"):      # "agi_x:" with the space trimmed
            name, sep, value = text[:-1], ":", ""
        if not sep or not name.startswith("agi_") or len(name) == 4:
            raise ProtocolError(f"not an agi_* environment line: {text[:80]!r}")
        self._env.setdefault(name[4:], value)
        return None

    def _multi_line(self, text: str):
        lines = self._multi
        lines.append(text)
        if len(lines) > self.limits.max_reply_lines:
            raise FrameTooLarge(f"AGI reply exceeds {self.limits.max_reply_lines} lines")
        m = _CODE.match(text)
        if m is None or m.group(2) != " ":
            return None
        self._multi = None
        return Reply(int(m.group(1)), lines[0], lines=tuple(lines))


# ----------------------------------------------------------------------- commands

_WORDS = re.compile(r"[A-Z]+(?: [A-Z]+)*", re.ASCII)
_FORBIDDEN = ("\r", "\n", "\0")
_NEEDS_QUOTES = (" ", "\t", '"', "\\")


def quote_arg(arg: str, quote: bool = False) -> str:
    """One argument as a single ``parse_args`` token (see the module docstring)."""
    if not isinstance(arg, str):
        raise TypeError(f"AGI argument must be str, not {type(arg).__name__}")
    if any(c in arg for c in _FORBIDDEN):
        raise ValueError(f"AGI argument contains CR, LF or NUL: {arg[:80]!r}")
    if not quote and arg and not any(c in arg for c in _NEEDS_QUOTES):
        return arg
    return '"' + arg.replace("\\", "\\\\").replace('"', '\\"') + '"'


def encode_command(words: str, *args: str, quote: tuple[bool, ...] = ()) -> bytes:
    """``words`` and its arguments as one command line (bytes, ending in ``\\n``);
    ``quote[i]`` forces quotes around argument ``i`` (``EXEC Dial "..."``, as captured)."""
    if not isinstance(words, str) or not _WORDS.fullmatch(words):
        raise ValueError(f"not an AGI command name: {str(words)[:80]!r}")
    parts = [words]
    for i, arg in enumerate(args):
        parts.append(quote_arg(arg, i < len(quote) and quote[i]))
    return (" ".join(parts) + "\n").encode("utf-8")
