"""Dial strings: a validated forward attempt -> the argument of Asterisk's ``Dial``.

Destinations were validated when the configuration was loaded (E.164 or
``sip:user@host`` of a strict alphabet) and the templates when ``DialTemplates`` is
built (only the fields ``{e164}``/``{digits}`` resp. ``{uri}``, no attribute or index
access, no format spec), so this only assembles them; ``endpoint`` still refuses any
character outside ``[A-Za-z0-9/@.+:_-]``: Dial's own separators (``,`` between its
arguments, ``&`` between endpoints), quotes, ``$``/``{`` (never substituted by ``EXEC``,
README "EXEC App args", but a later ``AGIEXECFULL=yes`` would), spaces and line ends
can never come from configuration text.

``build(attempt, templates)`` -> ``"<ep1>&<ep2>,<ring seconds>,g"``: endpoints joined with
``&`` ring together (transcript 10), the ring timeout is Dial's second argument
(transcript 03: ``DIALSTATUS=NOANSWER`` after exactly that long) and option ``g`` makes
Dial return ``0`` when the callee hangs up first (02b), so that ``-1`` is left to mean our
caller is gone (05).
"""
from __future__ import annotations

from dataclasses import dataclass

from engine.dial_templates import DialTemplates as _Templates
from rules.plan import ForwardAttempt

__all__ = ["DialTemplates", "build"]

@dataclass(frozen=True)
class DialTemplates(_Templates):
    """Asterisk's templates: ``e164`` e.g. ``PJSIP/{digits}@trunk`` (``{e164}`` keeps the
    ``+``), ``sip`` e.g. ``PJSIP/{uri}``; checked by ``engine.dial_templates``."""

    e164: str = "PJSIP/{digits}@trunk"
    sip: str = "PJSIP/{uri}"


def build(attempt: ForwardAttempt, templates: DialTemplates) -> str:
    """The ``Dial`` argument for one attempt (see the module docstring)."""
    ring = int(attempt.ring_seconds)
    if ring <= 0:
        raise ValueError(f"ring time must be positive, not {attempt.ring_seconds!r}")
    if not attempt.to:
        raise ValueError("an attempt without destinations")
    endpoints = "&".join(templates.endpoint(d) for d in attempt.to)
    return f"{endpoints},{ring},g"
