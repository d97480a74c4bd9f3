"""Dial templates: how a validated destination becomes one switch endpoint.

The operator writes one template for E.164 destinations (fields ``{e164}`` with its
``+``, ``{digits}`` without) and one for SIP addresses (``{uri}``, ``user@host``), e.g.
FreeSWITCH ``sofia/gateway/carrier/{e164}``, Asterisk ``PJSIP/{digits}@trunk``.

Contract:

* ``check_template(template, kind)``: the template itself, or ``ValueError`` when it uses
  another field, an attribute, index, conversion or format spec, has no field at all, or
  holds a character outside ``[A-Za-z0-9/@.+:_-]`` (the settings and the switch adapters
  call it, so a bad template stops the engine at start);
* ``DialTemplates(e164, sip).endpoint(destination)``: the endpoint, checked once more
  against the same alphabet. Destinations were validated at load time (E.164, or
  ``sip:`` with a strict alphabet), so this is the last line against toll fraud and
  injection: no switch syntax (FreeSWITCH's ``{ } [ ] , | ^``, Asterisk's ``, &``,
  ``$``, quotes, spaces, line ends) can come from configuration text or a template.

Each switch builds its own argument from the endpoints (``engine.freeswitch.dialstring``,
``engine.asterisk.dialstring``).
"""
from __future__ import annotations

import re
import string
from dataclasses import dataclass

__all__ = ["DialTemplates", "check_template"]

_SAFE = re.compile(r"[A-Za-z0-9/@.+:_-]+", re.ASCII)
_FIELDS = {"e164": frozenset({"e164", "digits"}), "sip": frozenset({"uri"})}


def check_template(template: str, kind: str) -> str:
    allowed = _FIELDS[kind]
    if not isinstance(template, str) or not template:
        raise ValueError(f"the {kind} dial template must be a non-empty string")
    try:
        parsed = list(string.Formatter().parse(template))
    except ValueError as exc:
        raise ValueError(f"dial template {template!r}: {exc}") from None
    fields = [f for _, f, _, _ in parsed if f is not None]
    if not fields or any(f not in allowed for f in fields) or any(
            spec or conv for _, f, spec, conv in parsed if f is not None):
        raise ValueError(f"placeholders must be among {sorted(allowed)} (no attribute, index "
                         f"or format), got {sorted(set(fields))} in {template!r}")
    if any(literal and not _SAFE.fullmatch(literal) for literal, _, _, _ in parsed):
        raise ValueError(f"dial template {template!r} must not contain spaces, CR/LF, $, quotes "
                         f"or dial-string separators: only letters, digits and / @ . + : _ -")
    return template


@dataclass(frozen=True)
class DialTemplates:
    e164: str
    sip: str

    def __post_init__(self):
        check_template(self.e164, "e164")
        check_template(self.sip, "sip")

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
