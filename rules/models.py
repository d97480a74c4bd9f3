"""Pydantic models of the number configuration (docs/design.md, "The number configuration").

Contract: ``NumberConfig.model_validate(data, context=ValidationContext(...))`` validates
one number's entry (the object under ``numbers.<key>``, the same JSON a store holds);
``Defaults`` validates the ``defaults`` block. Every field refuses unknown keys and wrong
types (strict mode: ``"20"`` is not a number, ``"yes"`` is not a boolean) and every value
that reaches FreeSWITCH, a file path or an e-mail header is checked here by the functions
of ``rules.destinations`` / ``rules.schedule``. A validated model is only *valid*; turning
it into something fast to evaluate is ``rules.compiled``'s job.

Values that may be one item or a list (``to``, ``email``, ``days``, ``hours``, ``dates``,
``callers``, ``except_callers``, ``extra``) accept both.

The validation context carries what an entry cannot know by itself: the region used to
read national notation, and the deployment's destination allow-list.
"""
from __future__ import annotations

import functools
import zoneinfo
from dataclasses import dataclass
from datetime import date
from typing import Annotated, Any, Literal

import phonenumbers
from pydantic import AfterValidator, BaseModel, BeforeValidator, ConfigDict, Field, ValidationInfo, field_validator
from pydantic_core import PydanticCustomError

from rules.destinations import check_audio, check_destination, check_email, destination_allowed
from rules.hangup_causes import DEFAULT_CAUSE, HANGUP_CAUSES
from rules.holidays_calendar import check_country
from rules.schedule import parse_caller_pattern, parse_date_range, parse_day, parse_window

__all__ = ["ValidationContext", "Defaults", "NumberConfig", "ScheduleModel", "MessageEntry",
           "ForwardingEntry", "VoicemailEntry", "HangupEntry", "HolidaysModel", "check_timezone"]


@dataclass(frozen=True)
class ValidationContext:
    region: str | None = None
    allowed_prefixes: tuple[str, ...] = ()


def _ctx(info: ValidationInfo) -> ValidationContext:
    return info.context if isinstance(info.context, ValidationContext) else ValidationContext()


@functools.cache
def _zones() -> frozenset[str]:
    return frozenset(zoneinfo.available_timezones())


def check_timezone(name: str) -> str:
    if name not in _zones():
        raise ValueError(f"unknown time zone {name!r} (use an IANA name such as America/Sao_Paulo)")
    return name


def _between(lo: int, hi: int):
    def check(value: int) -> int:
        if not lo <= value <= hi:
            raise ValueError(f"must be between {lo} and {hi}")
        return value
    return AfterValidator(check)


def _one_or_many(value: Any) -> Any:
    """One item or a list of them, never an empty list.

    The emptiness check lives here rather than in ``Field(min_length=1)`` because a
    length constraint behind a before-validator runs as a second Python call per list;
    this is the same check with the same error (``too_short``), one call instead of two.
    Anything else (a mapping, a number) goes on to the list validator, which refuses it.
    """
    if isinstance(value, (str, date)):
        return [value]
    if isinstance(value, list) and not value:
        raise PydanticCustomError("too_short", "List should have at least 1 item after "
                                  "validation, not 0", {"field_type": "List", "min_length": 1,
                                                        "actual_length": 0})
    return value


def _destination(value: str, info: ValidationInfo) -> str:
    ctx = _ctx(info)
    dest = check_destination(value, ctx.region)
    if not destination_allowed(dest, ctx.allowed_prefixes):
        raise ValueError(f"{dest} is not allowed by this deployment's destination allow-list "
                         f"({', '.join(ctx.allowed_prefixes)})")
    return dest


def _caller(value: str, info: ValidationInfo) -> str:
    return parse_caller_pattern(value, _ctx(info).region)


@functools.lru_cache(maxsize=4096)
def _day(value: str) -> str:
    parse_day(value)
    return value.strip().lower()


@functools.lru_cache(maxsize=4096)
def _window(value: str) -> str:
    parse_window(value)
    return value.strip()


def _date_item(value: Any) -> str:
    if not isinstance(value, (str, date)):
        raise ValueError("must be a date YYYY-MM-DD or a range YYYY-MM-DD..YYYY-MM-DD")
    lo, hi = parse_date_range(value)
    a, b = date.fromordinal(lo).isoformat(), date.fromordinal(hi).isoformat()
    return a if lo == hi else f"{a}..{b}"


def _many(item: Any):
    # minItems keeps the JSON schema (rules.api documents it) what Field(min_length=1) gave.
    return Annotated[list[item], BeforeValidator(_one_or_many),
                     Field(json_schema_extra={"minItems": 1})]


Audio = Annotated[str, AfterValidator(check_audio)]
Email = Annotated[str, AfterValidator(check_email)]
Destination = Annotated[str, AfterValidator(_destination)]
CallerPattern = Annotated[str, AfterValidator(_caller)]
Day = Annotated[str, AfterValidator(_day)]
Window = Annotated[str, AfterValidator(_window)]
DateItem = Annotated[Any, AfterValidator(_date_item)]


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True, frozen=True)


class ScheduleModel(_Model):
    days: _many(Day) | None = None
    hours: _many(Window) | None = None
    dates: _many(DateItem) | None = None
    callers: _many(CallerPattern) | None = None
    except_callers: _many(CallerPattern) | None = None


class MessageEntry(_Model):
    audio: Audio
    at: Literal["start", "end"] = "start"
    schedule: ScheduleModel | None = None


class ForwardingEntry(_Model):
    to: _many(Destination)
    ring_seconds: Annotated[int, _between(5, 300)] = 30
    record: bool = False
    schedule: ScheduleModel | None = None


class VoicemailEntry(_Model):
    email: _many(Email)
    greeting: Audio | None = None
    max_seconds: Annotated[int, _between(5, 600)] = 120
    min_seconds: Annotated[int, _between(0, 600)] = 2
    schedule: ScheduleModel | None = None

    @field_validator("min_seconds")
    @classmethod
    def _below_max(cls, value: int, info: ValidationInfo) -> int:
        top = info.data.get("max_seconds")
        if top is not None and value >= top:
            raise ValueError(f"must be less than max_seconds ({top})")
        return value


class HangupEntry(_Model):
    cause: str = DEFAULT_CAUSE
    schedule: ScheduleModel | None = None

    @field_validator("cause")
    @classmethod
    def _known_cause(cls, value: str) -> str:
        if value not in HANGUP_CAUSES:
            raise ValueError(f"unknown hangup cause {value!r} (FreeSWITCH names such as "
                             f"NORMAL_CLEARING, CALL_REJECTED, USER_BUSY, UNALLOCATED_NUMBER)")
        return value


class HolidaysModel(_Model):
    country: str | None = None
    subdivision: str | None = None
    extra: _many(DateItem) = Field(default_factory=list)

    @field_validator("country")
    @classmethod
    def _country(cls, value: str | None) -> str | None:
        if value is not None:
            check_country(value, None)
        return value

    @field_validator("subdivision")
    @classmethod
    def _subdivision(cls, value: str | None, info: ValidationInfo) -> str | None:
        if value is None:
            return value
        country = info.data.get("country")
        if country is None:
            if "country" in info.data:
                raise ValueError("needs a country")
            return value  # the country is wrong and already reported
        check_country(country, value)
        return value


class NumberConfig(_Model):
    timezone: str | None = None
    holidays: HolidaysModel | None = None
    messages: list[MessageEntry] = Field(default_factory=list)
    forwarding: list[ForwardingEntry] = Field(default_factory=list)
    voicemail: list[VoicemailEntry] = Field(default_factory=list)
    hangup: list[HangupEntry] = Field(default_factory=list)

    _tz = field_validator("timezone")(lambda cls, v: v if v is None else check_timezone(v))


class Defaults(_Model):
    timezone: str = "UTC"
    region: str | None = None

    _tz = field_validator("timezone")(lambda cls, v: check_timezone(v))

    @field_validator("region")
    @classmethod
    def _region(cls, value: str | None) -> str | None:
        if value is not None and value not in phonenumbers.SUPPORTED_REGIONS:
            raise ValueError(f"unknown region {value!r} (use an ISO 3166 code such as BR)")
        return value
