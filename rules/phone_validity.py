"""Exact and fast ``phonenumbers.is_valid_number`` for numbers already split in digits.

Contract: ``is_valid_national(cc, national)`` returns exactly what
``phonenumbers.is_valid_number(PhoneNumber(country_code=cc, national_number=int(national)))``
returns, for every integer ``cc`` and every non-empty string ``national`` of ASCII digits
that does not start with ``0`` (a leading zero is not part of ``national_number``, so such
strings are the caller's business: use ``phonenumbers`` for them). It is pure and reads
only ``phonenumbers``' metadata. ``tests/rules/test_phone_validity.py`` checks the
equivalence against ``phonenumbers`` itself over generated and real example numbers.

Why it exists: ``is_valid_number`` walks up to eleven number-type descriptions per number
and looks every pattern up in a compile cache each time, ~30 µs per number on the
reference machine; 100k configured numbers hold ~300k phone numbers, and a national
caller ID seen for the first time pays it during a call. Validity only needs "the
general description matches and at least one number type matches" (the order in which
``phonenumbers`` tries the types only decides *which* type it reports), and the metadata
never changes within a process, so each region's descriptions are compiled once, grouped
by number length: a check is then a dict lookup and one to three ``fullmatch`` calls.
"""
from __future__ import annotations

import functools
import re

import phonenumbers
from phonenumbers import COUNTRY_CODE_TO_REGION_CODE, REGION_CODE_FOR_NON_GEO_ENTITY
from phonenumbers.phonemetadata import PhoneMetadata

__all__ = ["is_valid_national"]

# The number types phonenumbers' _number_type_helper tries after the general description;
# "mobile" is only tried when its pattern differs from fixed_line's (same_mobile_...).
_TYPES = ("premium_rate", "toll_free", "shared_cost", "voip", "personal_number", "pager",
          "uan", "voicemail", "fixed_line")


class _Desc:
    """One PhoneNumberDesc as phonenumbers' ``_is_number_matching_desc`` reads it:
    possible lengths (None: any, as an empty list means) and the compiled national
    pattern (None: matches nothing; so does a missing description)."""

    __slots__ = ("lengths", "pattern")

    def __init__(self, desc):
        raw = desc.national_number_pattern if desc is not None else None
        self.pattern = re.compile(raw) if raw else None
        lengths = desc.possible_length if self.pattern is not None else None
        self.lengths = frozenset(lengths) if lengths else None

    def matches(self, nsn: str) -> bool:
        if self.pattern is None or (self.lengths is not None and len(nsn) not in self.lengths):
            return False
        return self.pattern.fullmatch(nsn) is not None


class _Rules:
    """One region's metadata: ``any_type(nsn)`` is ``_number_type_helper(nsn) != UNKNOWN``.

    The type descriptions are regrouped by number length once (a description without
    possible lengths goes into every group), so a check skips the descriptions whose
    lengths cannot match without looking at them.
    """

    __slots__ = ("general", "by_length", "any_length", "leading_digits")

    def __init__(self, metadata):
        self.leading_digits = (re.compile(metadata.leading_digits)
                               if metadata.leading_digits is not None else None)
        self.general = _Desc(metadata.general_desc)
        names = _TYPES if metadata.same_mobile_and_fixed_line_pattern else _TYPES + ("mobile",)
        types = [d for d in (_Desc(getattr(metadata, n)) for n in names) if d.pattern is not None]
        self.any_length = tuple(d.pattern for d in types if d.lengths is None)
        lengths = set().union(*(d.lengths for d in types if d.lengths is not None))
        self.by_length = {n: tuple(d.pattern for d in types if d.lengths is None or n in d.lengths)
                          for n in lengths}

    def any_type(self, nsn: str) -> bool:
        if not self.general.matches(nsn):
            return False
        for pattern in self.by_length.get(len(nsn), self.any_length):
            if pattern.fullmatch(nsn) is not None:
                return True
        return False


@functools.cache
def _country(cc: int) -> tuple[tuple[_Rules | None, _Rules | None], ...] | None:
    """Per region of the calling code, in phonenumbers' order: (rules used to *pick* the
    region, rules used to *validate* against it; None where phonenumbers says False).

    Picking mirrors ``region_code_for_number`` (``metadata_for_region``, which knows no
    non-geographic entity); validating mirrors ``is_valid_number_for_region``
    (``metadata_for_region_or_calling_code`` and its country-code check).
    """
    regions = COUNTRY_CODE_TO_REGION_CODE.get(cc)
    if regions is None:
        return None
    out = []
    for region in regions:
        pick_md = PhoneMetadata.metadata_for_region(region.upper(), None)
        check_md = PhoneMetadata.metadata_for_region_or_calling_code(cc, region.upper())
        pick = _Rules(pick_md) if pick_md is not None else None
        check = None
        if check_md is not None and (region == REGION_CODE_FOR_NON_GEO_ENTITY
                                     or cc == phonenumbers.country_code_for_valid_region(region)):
            check = pick if check_md is pick_md else _Rules(check_md)
        out.append((pick, check))
    return tuple(out)


def is_valid_national(cc: int, national: str) -> bool:
    """See the module contract; ``national``: ASCII digits, non-empty, no leading zero."""
    country = _country(cc)
    if country is None:
        return False
    if len(country) == 1:
        check = country[0][1]
    else:
        for pick, check in country:
            if pick is None:
                continue
            if pick.leading_digits is not None:
                if pick.leading_digits.match(national):
                    break
            elif pick.any_type(national):
                break
        else:
            return False  # no region: phonenumbers validates against None, i.e. False
    return check is not None and check.any_type(national)
