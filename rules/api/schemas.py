"""What the OpenAPI document says: request and response schemas, with examples.

Contract: the API validates number configurations with ``rules.models`` (through
``rules.stored.entry_json``), never with these schemas; they document it. The number
entry's schema *is* ``rules.models.NumberConfig``'s JSON schema, adjusted where a JSON
schema cannot see a validator (values given as one item or a list, the numeric ranges),
so the document and the validation cannot drift apart silently: the tests load every
example through the validator.

Response models (``PlanOut``, ``CallRecordOut``, ...) mirror ``Plan.to_json()`` and the
call record (``engine.records``); they are documentation only (the API returns those
JSON objects as they are), so they allow nothing the real objects lack.
"""
from __future__ import annotations

import copy
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from rules.models import NumberConfig

__all__ = ["number_schemas", "json_content", "ErrorItem", "Errors", "Message", "NumberList",
           "PlanOut", "CallRecordOut", "CallPage", "EXAMPLE_ENTRY", "EXAMPLE_FORWARDING",
           "EXAMPLE_MESSAGES", "EXAMPLE_VOICEMAIL", "EXAMPLE_HANGUP", "EXAMPLE_PLAN",
           "EXAMPLE_RECORD", "FEATURE_MODELS"]

# Fields that accept one item or a list (rules.models: _one_or_many).
_ONE_OR_MANY = {"to", "email", "days", "hours", "dates", "callers", "except_callers", "extra"}
_RANGES = {("ForwardingEntry", "ring_seconds"): (5, 300),
           ("VoicemailEntry", "max_seconds"): (5, 600),
           ("VoicemailEntry", "min_seconds"): (0, 600)}
_DESCRIPTIONS = {
    "to": "E.164 number(s) or sip:user@host; several ring together",
    "days": "mon..sun, ranges (mon-fri), holiday",
    "hours": "local HH:MM-HH:MM windows, end exclusive; past midnight belongs to the start day",
    "dates": "YYYY-MM-DD or YYYY-MM-DD..YYYY-MM-DD (local)",
    "callers": "E.164, a prefix ending in * (+5521*), or anonymous",
    "except_callers": "E.164, a prefix ending in * (+5521*), or anonymous",
    "audio": "file name relative to the media folder (no .., no absolute path)",
    "greeting": "file name relative to the media folder",
    "cause": "FreeSWITCH hangup cause, e.g. CALL_REJECTED",
    "timezone": "IANA zone, e.g. America/Sao_Paulo",
}

FEATURE_MODELS = {"messages": "MessageEntry", "forwarding": "ForwardingEntry",
                  "voicemail": "VoicemailEntry", "hangup": "HangupEntry"}

EXAMPLE_MESSAGES = [
    {"audio": "welcome.wav", "at": "start", "schedule": {"days": "mon-fri", "hours": ["08:00-18:00"]}},
    {"audio": "closed.wav", "at": "start", "schedule": {"days": ["sat", "sun"]}},
    {"audio": "thanks.wav", "at": "end"},
]
EXAMPLE_FORWARDING = [
    {"to": "+5511999990000", "ring_seconds": 20, "record": True,
     "schedule": {"days": "mon-fri", "hours": ["08:00-12:00", "13:00-18:00"]}},
    {"to": ["sip:ana@pbx.example.com", "+5521988880000"], "ring_seconds": 15},
    {"to": "+5521977770000", "ring_seconds": 25, "schedule": {"callers": ["+5521*"]}},
]
EXAMPLE_VOICEMAIL = [
    {"email": ["ops@example.com"], "greeting": "vm.wav", "max_seconds": 120,
     "schedule": {"days": ["sat", "sun"]}},
]
EXAMPLE_HANGUP = [{"cause": "CALL_REJECTED", "schedule": {"days": "sun", "hours": ["00:00-06:00"]}}]
EXAMPLE_ENTRY = {
    "timezone": "America/Sao_Paulo",
    "holidays": {"country": "BR", "subdivision": "SP", "extra": ["2026-12-24"]},
    # A feature list given alone cannot say "holiday" (the calendar is the number's).
    "messages": [EXAMPLE_MESSAGES[0],
                 {"audio": "closed.wav", "at": "start", "schedule": {"days": ["sat", "sun", "holiday"]}},
                 EXAMPLE_MESSAGES[2]],
    "forwarding": EXAMPLE_FORWARDING,
    "voicemail": [{**EXAMPLE_VOICEMAIL[0], "schedule": {"days": ["sat", "sun", "holiday"]}}],
    "hangup": EXAMPLE_HANGUP,
}
EXAMPLE_PLAN = {
    "number": "+551140040000",
    "caller": "+5521988887777",
    "local_time": "2026-11-27T10:00:00-03:00",
    "start": ["welcome.wav"],
    "hangup": None,
    "forward": [
        {"to": ["+5511999990000"], "ring_seconds": 20, "record": True},
        {"to": ["sip:ana@pbx.example.com", "+5521988880000"], "ring_seconds": 15, "record": False},
        {"to": ["+5521977770000"], "ring_seconds": 25, "record": False},
    ],
    "voicemail": None,
    "end": ["thanks.wav"],
    "trace": ["messages[0]: taken", "messages[1]: skipped: not on fri", "messages[2]: taken",
              "forwarding[0]: taken", "forwarding[1]: taken", "forwarding[2]: taken",
              "voicemail[0]: skipped: not on fri", "hangup[0]: skipped: not on fri"],
}
EXAMPLE_RECORD = {
    "uuid": "6f1c2a9e-4b1d-4c1e-9d51-2f0a8b7c3d10",
    "number": "+551140040000",
    "caller": "+5521988887777",
    "started_at": "2026-11-27T13:00:00.120000+00:00",
    "ended_at": "2026-11-27T13:03:12.480000+00:00",
    "outcome": "answered",
    "attempts": [{"to": ["+5511999990000"], "result": "answered", "seconds": 6.2}],
    "recording": "/var/lib/callflow/recordings/2026/11/27/6f1c2a9e-4b1d-4c1e-9d51-2f0a8b7c3d10.wav",
    "voicemail": None,
    "hangup_cause": "NORMAL_CLEARING",
    "trace": ["messages[0]: taken", "forwarding[0]: taken"],
    "recording_url": "/v1/calls/6f1c2a9e-4b1d-4c1e-9d51-2f0a8b7c3d10/recording",
    "voicemail_url": None,
}


def _adjust(name: str, schema: dict) -> None:
    for field, prop in schema.get("properties", {}).items():
        if field in _DESCRIPTIONS:
            prop.setdefault("description", _DESCRIPTIONS[field])
        if field in _ONE_OR_MANY:
            options = prop.pop("anyOf", None)
            array = next((o for o in options if o.get("type") == "array"), None) if options else None
            if array is None:
                array = {k: prop.pop(k) for k in ("items", "minItems", "type") if k in prop}
            nullable = bool(options) and any(o.get("type") == "null" for o in options)
            one = copy.deepcopy(array.get("items") or {"type": "string"}) or {"type": "string"}
            prop["anyOf"] = [one, array] + ([{"type": "null"}] if nullable else [])
        if (name, field) in _RANGES:
            lo, hi = _RANGES[(name, field)]
            prop["minimum"], prop["maximum"] = lo, hi


def number_schemas() -> dict[str, dict]:
    """Components for the number entry and its parts, keyed by name
    (``NumberEntry``, ``MessageEntry``, ``ForwardingEntry``, ...)."""
    schema = NumberConfig.model_json_schema(ref_template="#/components/schemas/{model}")
    defs = schema.pop("$defs", {})
    out = {name: body for name, body in defs.items()}
    schema["title"] = "NumberEntry"
    schema["description"] = ("One number's configuration (docs/design.md, \"The number "
                             "configuration\"): the object under numbers.<E.164> in a "
                             "configuration file.")
    out["NumberEntry"] = schema
    for name, body in out.items():
        _adjust(name, body)
    out["NumberEntry"]["example"] = EXAMPLE_ENTRY
    examples = {"MessageEntry": EXAMPLE_MESSAGES[0], "ForwardingEntry": EXAMPLE_FORWARDING[1],
                "VoicemailEntry": EXAMPLE_VOICEMAIL[0], "HangupEntry": EXAMPLE_HANGUP[0]}
    for name, ex in examples.items():
        out[name]["example"] = ex
    return out


def json_content(schema: str | dict, example: Any) -> dict:
    """An OpenAPI ``content`` object: JSON of ``schema`` (a ``$ref`` string or a schema)
    with ``example``."""
    return {"application/json": {"schema": schema if isinstance(schema, dict) else {"$ref": schema},
                                 "example": example}}


class ErrorItem(BaseModel):
    path: str = Field(description="where, as `rules check` prints it ('' for the whole body)")
    message: str


class Errors(BaseModel):
    """A refused configuration or request: every problem, with its path. Nothing stored."""

    model_config = ConfigDict(json_schema_extra={"example": {"errors": [
        {"path": "numbers.+551140040000.forwarding[1].ring_seconds",
         "message": "must be between 5 and 300"},
        {"path": "numbers.+551140040000.voicemail[0].email[0]",
         "message": "not an e-mail address"}]}})

    errors: list[ErrorItem]


class Message(BaseModel):
    model_config = ConfigDict(json_schema_extra={"example": {"detail": "number not found"}})

    detail: str


class Health(BaseModel):
    model_config = ConfigDict(json_schema_extra={"example": {"status": "ok"}})

    status: Literal["ok", "unavailable"]
    problem: str | None = Field(default=None, description="why not ok (503 only)")


class NumberList(BaseModel):
    model_config = ConfigDict(json_schema_extra={"example": {"numbers": {"+551140040000": {
        "timezone": "America/Sao_Paulo", "forwarding": [
            {"to": ["+5511999990000"], "ring_seconds": 20, "record": False}]}},
        "next_cursor": None}})

    numbers: dict[str, dict[str, Any]] = Field(
        description="E.164 -> number entry (NumberEntry): one page of the numbers this token "
                    "may see, in E.164 order")
    next_cursor: str | None = Field(description="pass as ?cursor= for the next page; null at "
                                                "the end")


class ForwardOut(BaseModel):
    to: list[str]
    ring_seconds: int
    record: bool


class VoicemailOut(BaseModel):
    email: list[str]
    greeting: str | None
    max_seconds: int
    min_seconds: int


class PlanOut(BaseModel):
    """The dry run: exactly `callflow plan`'s JSON (``Plan.to_json()``)."""

    model_config = ConfigDict(json_schema_extra={"example": EXAMPLE_PLAN})

    number: str
    caller: str
    local_time: str
    start: list[str]
    hangup: str | None
    forward: list[ForwardOut]
    voicemail: VoicemailOut | None
    end: list[str]
    trace: list[str]


class AttemptOut(BaseModel):
    to: list[str]
    result: str
    seconds: float


class CallRecordOut(BaseModel):
    """The call record the engine wrote (``engine.records``), plus links to its audio."""

    model_config = ConfigDict(extra="allow", json_schema_extra={"example": EXAMPLE_RECORD})

    uuid: str
    number: str
    caller: str | None = None
    started_at: str | None = None
    ended_at: str | None = None
    outcome: str | None = None
    attempts: list[AttemptOut] = []
    recording: str | None = None
    voicemail: str | None = None
    hangup_cause: str | None = None
    trace: list[str] = []
    error: str | None = Field(None, description="why the engine gave up on the call "
                                                "(the switch did not answer in time, ...)")
    recording_url: str | None = Field(None, description="the recorded conversation, if any")
    voicemail_url: str | None = Field(None, description="the voicemail message, if any")


class CallPage(BaseModel):
    model_config = ConfigDict(json_schema_extra={"example": {
        "calls": [EXAMPLE_RECORD], "next_cursor": "1795784592480-0"}})

    calls: list[CallRecordOut]
    next_cursor: str | None = Field(description="pass as ?cursor= for the next (older) page; "
                                                "null at the end")
