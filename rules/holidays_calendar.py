"""Holiday calendars: is this local date a holiday for this number, and which one?

Contract:

* ``country_calendar(country, subdivision)`` returns the one shared ``CountryCalendar``
  for that pair (built once per process, whatever the number of numbers using it). Its
  ``name(ordinal, year)`` gives the holiday's name (English where the ``holidays`` package
  has it) or ``None``. Each year is computed on first use and kept, so a plan costs one
  dict lookup; the first plan of a new year pays a few milliseconds once.
* ``number_calendar(country, subdivision, extra)`` adds one number's ``extra`` dates
  (inclusive ordinal ranges, named ``"extra holiday"``) to a country calendar, or stands
  alone when the number only has extra dates. Equal calendars are shared between numbers.
* ``check_country(country, subdivision)`` validates a pair against what ``holidays``
  supports, raising ``ValueError`` with a message for the user.
* ``preload()`` does now what the first ``check_country`` would: import every country's
  module (~0.2 s that nothing can interrupt). An engine calls it before taking calls, so
  that no call waits behind it when a number with holidays is first compiled.
"""
from __future__ import annotations

import functools

import holidays

__all__ = ["CountryCalendar", "NumberCalendar", "country_calendar", "number_calendar",
           "check_country", "preload", "EXTRA"]

EXTRA = "extra holiday"


@functools.cache
def _supported() -> dict[str, list[str]]:
    return holidays.list_supported_countries()


def preload() -> None:
    _supported()


def check_country(country: str, subdivision: str | None) -> None:
    subdivisions = _supported().get(country)
    if subdivisions is None:
        raise ValueError(f"unknown holiday country {country!r} (use an ISO 3166 code such as BR)")
    if subdivision is not None and subdivision not in subdivisions:
        raise ValueError(f"unknown subdivision {subdivision!r} of {country} "
                         f"(known: {', '.join(subdivisions)})")


class CountryCalendar:
    __slots__ = ("country", "subdivision", "_years")

    def __init__(self, country: str, subdivision: str | None):
        self.country = country
        self.subdivision = subdivision
        self._years: dict[int, dict[int, str]] = {}

    def _build(self, year: int) -> dict[int, str]:
        # language="en_US" so traces read the same for every country; the package falls
        # back to the country's own language where it has no English names.
        cal = holidays.country_holidays(self.country, subdiv=self.subdivision, years=year,
                                        language="en_US")
        days = {d.toordinal(): name for d, name in cal.items() if d.year == year}
        self._years[year] = days
        return days

    def name(self, ordinal: int, year: int) -> str | None:
        days = self._years.get(year)
        if days is None:
            days = self._build(year)
        return days.get(ordinal)


@functools.cache
def country_calendar(country: str, subdivision: str | None) -> CountryCalendar:
    return CountryCalendar(country, subdivision)


class NumberCalendar:
    __slots__ = ("country", "extra")

    def __init__(self, country: CountryCalendar | None, extra: tuple[tuple[int, int], ...]):
        self.country = country
        self.extra = extra

    def name(self, ordinal: int, year: int) -> str | None:
        if self.country is not None:
            found = self.country.name(ordinal, year)
            if found is not None:
                return found
        for lo, hi in self.extra:
            if lo <= ordinal <= hi:
                return EXTRA
        return None


@functools.lru_cache(maxsize=65_536)
def number_calendar(country: str | None, subdivision: str | None,
                    extra: tuple[tuple[int, int], ...]) -> NumberCalendar:
    return NumberCalendar(country_calendar(country, subdivision) if country else None, extra)
