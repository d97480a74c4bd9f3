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

import re
import string
from dataclasses import dataclass

from rules.plan import ForwardAttempt

__all__ = ["DialTemplates", "build"]

_SAFE = re.compile(r"[A-Za-z0-9/@.+:_-]+", re.ASCII)
_FIELDS = {"e164": {"e164", "digits"}, "sip": {"uri"}}


def _check_template(kind: str, template: str) -> None:
    if not isinstance(template, str) or not template:
        raise ValueError(f"{kind} dial template must be a non-empty string")
    fields = []
    try:
        parsed = list(string.Formatter().parse(template))
    except ValueError as e:
        raise ValueError(f"{kind} dial template {template!r}: {e}") from None
    for literal, field, spec, conv in parsed:
        if literal and not _SAFE.fullmatch(literal):
            raise ValueError(f"{kind} dial template {template!r} holds unsafe characters")
        if field is None:
            continue
        if field not in _FIELDS[kind] or spec or conv:
            raise ValueError(f"{kind} dial template {template!r}: field {{{field}}} not "
                             f"allowed (use {' or '.join(sorted(_FIELDS[kind]))})")
        fields.append(field)
    if not fields:
        raise ValueError(f"{kind} dial template {template!r} has no destination field")


@dataclass(frozen=True, slots=True)
class DialTemplates:
    """``e164``: e.g. ``PJSIP/{digits}@trunk`` (``{e164}`` keeps the ``+``); ``sip``: e.g.
    ``PJSIP/{uri}`` (``{uri}`` is ``user@host``). ``ValueError`` when unsafe."""

    e164: str = "PJSIP/{digits}@trunk"
    sip: str = "PJSIP/{uri}"

    def __post_init__(self):
        _check_template("e164", self.e164)
        _check_template("sip", self.sip)

    def endpoint(self, destination: str) -> str:
        if destination.startswith("+"):
            out = self.e164.format(e164=destination, digits=destination[1:])
        elif destination.startswith("sip:"):
            out = self.sip.format(uri=destination[4:])
        else:
            raise ValueError(f"not a dialable destination: {destination!r}")
        if not _SAFE.fullmatch(out):
            raise ValueError(f"refusing unsafe endpoint {out!r}")
        return out


def build(attempt: ForwardAttempt, templates: DialTemplates) -> str:
    """The ``Dial`` argument for one attempt (see the module docstring)."""
    ring = int(attempt.ring_seconds)
    if ring <= 0:
        raise ValueError(f"ring time must be positive, not {attempt.ring_seconds!r}")
    if not attempt.to:
        raise ValueError("an attempt without destinations")
    endpoints = "&".join(templates.endpoint(d) for d in attempt.to)
    return f"{endpoints},{ring},g"
