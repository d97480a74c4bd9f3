"""Dial strings: a validated forward attempt -> the argument of FreeSWITCH's ``bridge``.

Destinations were validated when the configuration was loaded (E.164 or
``sip:user@host`` of a strict alphabet) and the templates when the settings were read,
so this only assembles them; ``engine.dial_templates`` still refuses any character that
could open a variable block or add an endpoint, as a last line against toll fraud and
injection.

The attempt's ring timeout is ``originate_timeout`` (transcript 02: it reports
``NO_ANSWER``/``NOANSWER`` when it expires, whereas ``leg_timeout`` reports
``ALLOTTED_TIMEOUT``; both are classified as no answer). Destinations rung together are
joined with ``,`` (simultaneous ring, FreeSWITCH "bridge" docs).
"""
from __future__ import annotations

from dataclasses import dataclass

from engine.dial_templates import DialTemplates as _Templates
from rules.plan import ForwardAttempt


@dataclass(frozen=True)
class DialTemplates(_Templates):
    """FreeSWITCH's templates, with the defaults of the settings."""

    e164: str = "sofia/gateway/default/{e164}"
    sip: str = "sofia/external/{uri}"


def build(attempt: ForwardAttempt, templates: DialTemplates) -> str:
    """The ``bridge`` argument for one attempt."""
    variables = [f"originate_timeout={int(attempt.ring_seconds)}"]
    if len(attempt.to) > 1:
        # Several phones ringing at once: the first leg's early media must not
        # "answer" the bridge for the others; the caller hears ringback instead.
        variables.append("ignore_early_media=ring_ready")
    endpoints = ",".join(templates.endpoint(d) for d in attempt.to)
    return "{" + ",".join(variables) + "}" + endpoints
