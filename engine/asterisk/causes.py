"""Hang-up causes between the project's names (``rules.hangup_causes``, FreeSWITCH's
``switch_call_cause_t`` names) and Asterisk's numeric Q.850 causes.

* ``cause_code(name) -> int``: what ``EXEC Hangup <code>`` is given (transcripts 08, 08c:
  the caller then ends with exactly that cause). Names whose code is a Q.850 cause
  (1-127) keep it; FreeSWITCH's own causes (>= 142, not on any wire) map to the nearest
  Q.850 cause below, anything else to 16 (normal clearing).
* ``cause_name(text) -> str | None``: ``HANGUPCAUSE`` (a decimal string) -> the name, for
  the call record (so it reads the same as FreeSWITCH's); None for 0/unset/unknown.
"""
from __future__ import annotations

from types import MappingProxyType

from rules.hangup_causes import HANGUP_CAUSES

__all__ = ["cause_code", "cause_name"]

NORMAL_CLEARING = 16
# FreeSWITCH-only names -> the Q.850 cause a caller would understand the same way.
_NEAREST = MappingProxyType({
    "BUSY_EVERYWHERE": 17, "DECLINE": 21, "UNWANTED": 21, "REJECT_ALL": 21,
    "NO_PICKUP": 19, "ALLOTTED_TIMEOUT": 19, "PROGRESS_TIMEOUT": 19,
    "USER_NOT_REGISTERED": 20, "DOES_NOT_EXIST_ANYWHERE": 1,
    "NOT_ACCEPTABLE": 58, "GATEWAY_DOWN": 38, "INVALID_GATEWAY": 38,
})
_NAMES = MappingProxyType({code: name for name, code in HANGUP_CAUSES.items() if code <= 127})


def cause_code(name: str) -> int:
    code = HANGUP_CAUSES.get(name)
    if code is not None and 1 <= code <= 127:
        return code
    return _NEAREST.get(name, NORMAL_CLEARING)


def cause_name(text: str | None) -> str | None:
    if not text or not text.isascii() or not text.isdigit():
        return None
    return _NAMES.get(int(text))
