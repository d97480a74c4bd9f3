"""Values that end up in FreeSWITCH commands or e-mail headers, checked at load time.

Contract: each ``check_*`` function returns the canonical value or raises ``ValueError``
with a message for the user. Every value is first made plain ASCII (``rules.text``:
NFKC, then any character left outside printable ASCII is refused, by name). Nothing here runs at call time. They are pure, so results
are cached: the same few audio names and addresses recur across thousands of numbers.

* ``check_destination(text, region)``: a forwarding target. Either a phone number
  (normalised to E.164 by ``rules.numbers``) or ``sip:user@host[:port]`` with a strict
  alphabet: user ``[A-Za-z0-9._+-]``, host a DNS name or IPv4 address, port 1..65535.
  Dial strings treat ``{ } [ ] < > | , ^ $ % ;``, quotes, whitespace and ``${...}`` as
  syntax, so none of them can get through.
* ``destination_allowed(dest, prefixes)``: the deployment's toll-fraud allow-list (not
  part of the customer's file). An E.164 destination is allowed when it starts with one of
  the prefixes; a SIP destination when ``"sip:"`` itself is in the list (every SIP target)
  or its host is (``"pbx.example.com"``). An empty list allows everything.
* ``check_audio(name)``: a media file name relative to the media folder: letters, digits,
  ``_ - . /``, no ``..`` or ``.`` segment, no leading ``/``, no ``scheme://``.
* ``check_email(addr)``: a bare ``local@domain`` address (no display name, no commas,
  no CR/LF), so it can go into a ``To:`` header as is.
"""
from __future__ import annotations

import functools
import re

from rules.numbers import normalise_number
from rules.text import plain

__all__ = ["check_destination", "destination_allowed", "check_audio", "check_email"]

_LABEL = r"[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?"
_HOST = rf"(?:{_LABEL}\.)*{_LABEL}"
_SIP = re.compile(rf"sip:(?P<user>[A-Za-z0-9][A-Za-z0-9._+-]{{0,63}})@(?P<host>{_HOST})(?::(?P<port>[0-9]{{1,5}}))?")
_AUDIO = re.compile(r"[A-Za-z0-9_][A-Za-z0-9_./-]{0,199}")
_EMAIL = re.compile(rf"(?!\.)[A-Za-z0-9._%+-]{{1,64}}(?<!\.)@(?:{_LABEL}\.)+[A-Za-z]{{2,63}}")


def check_destination(text: str, region: str | None) -> str:
    text = plain(text, "a destination")
    if text.lower().startswith("sip:"):
        m = _SIP.fullmatch(text)
        if m is None or not text.startswith("sip:"):
            raise ValueError("not a valid SIP destination: expected sip:user@host[:port] "
                             "with only letters, digits and . _ + - in the user part")
        if m["port"] is not None and not 1 <= int(m["port"]) <= 65535:
            raise ValueError("SIP port must be between 1 and 65535")
        if ".." in text:
            raise ValueError("not a valid SIP destination: empty label in host")
        return text
    if not text.strip() or text.strip()[0] not in "+0123456789(":
        raise ValueError("must be a phone number (+5511999990000) or sip:user@host[:port]")
    return normalise_number(text, region)


def sip_host(dest: str) -> str | None:
    if not dest.startswith("sip:"):
        return None
    host = dest.split("@", 1)[1]
    return host.split(":", 1)[0].lower()


def destination_allowed(dest: str, prefixes: tuple[str, ...]) -> bool:
    if not prefixes:
        return True
    host = sip_host(dest)
    if host is not None:
        return any(p == "sip:" or p.lower() == host for p in prefixes)
    return any(p.startswith("+") and dest.startswith(p) for p in prefixes)


@functools.lru_cache(maxsize=65_536)
def check_audio(name: str) -> str:
    name = plain(name, "an audio name")
    if "://" in name:
        raise ValueError("must be a file name relative to the media folder, not a URL")
    if name.startswith("/"):
        raise ValueError("must be relative to the media folder, not an absolute path")
    if any(seg in ("", ".", "..") for seg in name.split("/")):
        raise ValueError("audio names may not contain '..', '.' or empty path segments")
    if not _AUDIO.fullmatch(name):
        raise ValueError("audio names may only use letters, digits and _ - . / "
                         "(at most 200 characters)")
    return name


@functools.lru_cache(maxsize=65_536)
def check_email(addr: str) -> str:
    addr = plain(addr, "an e-mail address")
    if not _EMAIL.fullmatch(addr) or ".." in addr:
        raise ValueError("not a valid e-mail address (expected a bare name@example.com)")
    return addr
