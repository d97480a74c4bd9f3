"""Phone number normalisation: every notation a user or a carrier writes, to E.164.

Contract:

* ``normalise_number(text, region)`` is for configured numbers (the keys under
  ``numbers:``, forwarding destinations, ``callers`` patterns). It returns the E.164 form
  (``"+551140040000"``) or raises ``NumberError`` with a message meant for the user.
  Only digits, spaces and ``+ - . ( ) /`` are accepted (no vanity letters, no extensions),
  and the result must be a valid number for ``phonenumbers``' metadata.
* ``normalise_caller(text, region)`` is for the caller ID of a live call. It never raises:
  withheld numbers (``None``, ``""``, ``anonymous``, ``restricted``, ``unknown``, ``private``,
  ``unavailable``, any case) and anything that is not a phone number give ``ANONYMOUS``;
  everything else gives E.164 (validity is not required: a caller's number is a fact,
  not a configuration). Results are cached (bounded), with a fast path for ``+digits``
  and one for plain national notation (``_national_fast``: same answer as phonenumbers,
  proved by tests, without its full parse), so a caller seen for the first time stays cheap.
* ``normalise_called(text, region)`` is the same for the dialled number (the DID), but
  returns ``None`` instead of ``ANONYMOUS``.

``region`` is an ISO 3166 code (``"BR"``) used for numbers written without ``+CC``;
``None`` means such numbers are refused (configuration) or unknown (calls).

How Brazilian notations come out (``phonenumbers`` decides; we do not second-guess it):

* ``"+55 11 4004-0000"``, ``"(11) 4004-0000"``, ``"011 4004-0000"`` -> ``+551140040000``
  (a 4004/3003 "número único" written with an area code is an ordinary fixed line).
* ``"4004-0000"`` (no area code, as the public dials it) -> ``+5540040000``: a national
  shared-cost number. This is a *different* key from ``+551140040000``; configure the form
  your carrier delivers on the trunk.
* ``"0800 123 4567"`` -> ``+558001234567`` (toll free).
* ``"11988887777"``, ``"011988887777"``, ``"0 21 11 98888-7777"`` (carrier-selection code
  21) -> ``+5511988887777``.
"""
from __future__ import annotations

import functools
import re

import phonenumbers
from phonenumbers import NumberParseException, PhoneNumberFormat
from phonenumbers.phonemetadata import PhoneMetadata

from rules.phone_validity import is_valid_national
from rules.plan import ANONYMOUS
from rules.text import plain

__all__ = ["NumberError", "normalise_number", "normalise_caller", "normalise_called",
           "region_of", "is_e164"]


class NumberError(ValueError):
    """A configured number could not be normalised; the message is for the user."""


# Letters are refused on purpose: phonenumbers maps them to keypad digits ("1-800-FLOWERS"),
# which in a caller ID or a configuration is far more likely junk than a vanity number.
# re.ASCII: \d and \s would otherwise admit any script's digits and spaces (a caller ID
# "+٥٥..." from the switch must be an unknown caller, never a number that matches).
_NOTATION = re.compile(r"[+\d\s().\-/]+", re.ASCII)
_E164 = re.compile(r"\+[1-9]\d{6,14}", re.ASCII)
_WITHHELD = frozenset({"", "anonymous", "restricted", "unknown", "private", "unavailable"})


def is_e164(text: str) -> bool:
    """True when ``text`` is already in canonical ``+digits`` form (7 to 15 digits)."""
    return _E164.fullmatch(text) is not None


def _parse(text: str, region: str | None) -> phonenumbers.PhoneNumber | None:
    if not _NOTATION.fullmatch(text) or not any(c.isdigit() for c in text):
        return None
    try:
        return phonenumbers.parse(text, region)
    except NumberParseException:
        return None


def _canonical_is_valid(text: str) -> bool | None:
    """Validity of a ``+digits`` string without ``phonenumbers.parse``.

    Parsing is three quarters of the cost of checking a number, and stores and generated
    files hold canonical E.164 almost always; loading 100k numbers must stay in seconds.
    Country codes are prefix-free, so the first 1-3 digits known to ``phonenumbers`` are
    the country code. Returns None (not sure: use the full parser) when the national part
    starts with 0, where ``parse`` may strip a trunk prefix or set a leading-zero flag.
    The validity test itself is ``rules.phone_validity`` (phonenumbers' answer, faster).
    """
    digits = text[1:]
    for k in (1, 2, 3):
        cc = int(digits[:k])
        if cc in phonenumbers.COUNTRY_CODE_TO_REGION_CODE:
            national = digits[k:]
            if not national or national[0] == "0":
                return None
            # str(int(...)) is the national significant number phonenumbers would see.
            return is_valid_national(cc, str(int(national))) or None
    return None


# Bounded well below the number of numbers a file holds: with the fast validity check a
# miss on canonical E.164 costs a few microseconds, and 262k cached entries were ~40 MB.
@functools.lru_cache(maxsize=16_384)
def normalise_number(text: str, region: str | None) -> str:
    if _E164.fullmatch(text) and _canonical_is_valid(text):
        return text
    try:
        stripped = plain(text, "a phone number").strip()
    except ValueError as exc:
        raise NumberError(str(exc)) from None
    if not _NOTATION.fullmatch(stripped) or not any(c.isdigit() for c in stripped):
        raise NumberError("not a phone number (only digits, spaces and + - . ( ) / are allowed)")
    if not stripped.startswith("+") and region is None:
        raise NumberError("needs a +country code (no defaults.region is set)")
    fast = _national_fast(stripped, region)  # valid by construction, as parse would read it
    if fast is not None:
        return fast
    try:
        parsed = phonenumbers.parse(stripped, region)
    except NumberParseException:
        raise NumberError("not a phone number") from None
    if not phonenumbers.is_valid_number(parsed):
        where = "" if stripped.startswith("+") else f" (read with region {region})"
        raise NumberError(f"not a valid phone number{where}")
    return phonenumbers.format_number(parsed, PhoneNumberFormat.E164)


@functools.lru_cache(maxsize=1024)
def _region_for_code(code: str) -> str | None:
    for k in (1, 2, 3):
        cc = int(code[:k])
        if cc in phonenumbers.COUNTRY_CODE_TO_REGION_CODE:
            region = phonenumbers.region_code_for_country_code(cc)
            return None if region == phonenumbers.UNKNOWN_REGION else region
    return None


def region_of(e164: str) -> str | None:
    """The main ISO region of an E.164 number's country code (``"BR"`` for ``+55...``),
    used to read callers written in national notation."""
    return _region_for_code(e164[1:4]) if is_e164(e164) else None


# Separators people and trunks put between digits; every one is phonenumbers punctuation.
_SEPARATORS = str.maketrans("", "", " ().-/")


@functools.lru_cache(maxsize=512)
def _reading(region: str | None):
    """How ``phonenumbers.parse`` reads national notation in ``region``: (country code,
    international-prefix pattern, national-prefix pattern or None, transform rule), or
    None when the region is unknown."""
    metadata = PhoneMetadata.metadata_for_region(region.upper(), None) if region else None
    if metadata is None or not metadata.country_code:
        return None
    npfp = metadata.national_prefix_for_parsing
    return (metadata.country_code,
            re.compile(metadata.international_prefix) if metadata.international_prefix else None,
            re.compile(npfp) if npfp else None,
            metadata.national_prefix_transform_rule or None)


def _national_fast(text: str, region: str | None) -> str | None:
    """``+CC`` + national digits for ``text`` written in ``region``'s national notation
    (``11988887777``, ``(11) 98888-7777``, ``011 98888-7777``), or None: not sure, ask
    ``phonenumbers.parse``.

    Contract: a non-None result is exactly ``format_number(parse(text, region), E164)``
    (``tests/rules/test_fast_numbers.py`` checks it against phonenumbers), at a tenth of
    the cost. It only answers when the national number it reads is *valid*, which pins
    down every choice ``parse`` makes on such plain input:

    * only ASCII digits and `` ().-/``: no ``+``, no extension, no letters;
    * no international prefix at the start (``parse`` would read a country code);
    * a leading national prefix (BR: ``0``) is dropped: ``parse`` drops it whenever what
      remains is plausible, which a valid number is. A prefix that also carries a carrier
      code to transform (BR: ``0 21 11 ...``), or digits that start with the country code
      as well as a prefix, are left to ``parse``;
    * without a prefix, digits that happen to start with the country code (``55 ...``) are
      kept whole, as ``parse`` does when the whole is plausible.
    """
    reading = _reading(region)
    if reading is None:
        return None
    digits = text.translate(_SEPARATORS)
    if not (digits.isascii() and digits.isdigit()):
        return None
    cc, idd, prefix, transform = reading
    if idd is not None and idd.match(digits):
        return None
    found = prefix.match(digits) if prefix is not None else None
    national = digits
    if found is not None:
        groups = found.groups()
        if transform and groups and groups[-1] is not None:
            return None  # parse would rewrite the digits (carrier code): let it
        if found.end():
            if digits.startswith(str(cc)):
                return None  # parse might read the country code instead of the prefix
            national = digits[found.end():]
    if not national or national[0] == "0" or not is_valid_national(cc, national):
        return None
    return f"+{cc}{national}"


@functools.lru_cache(maxsize=65_536)
def _normalise_live(text: str, region: str | None) -> str | None:
    stripped = text.strip()
    if stripped.lower() in _WITHHELD:
        return None
    if _E164.fullmatch(stripped):
        return stripped
    # Trunks often send national notation; a plausible one needs no full parse.
    fast = _national_fast(stripped, region)
    if fast is not None:
        return fast
    parsed = _parse(stripped, region)
    if parsed is None or parsed.extension:
        return None
    return phonenumbers.format_number(parsed, PhoneNumberFormat.E164)


def normalise_caller(text: str | None, region: str | None) -> str:
    # The fast path skips even the cache lookup: most trunks already send E.164.
    if text is None:
        return ANONYMOUS
    if text[:1] == "+" and _E164.fullmatch(text):
        return text
    return _normalise_live(text, region) or ANONYMOUS


def normalise_called(text: str | None, region: str | None) -> str | None:
    if not text:
        return None
    if text[:1] == "+" and _E164.fullmatch(text):
        return text
    return _normalise_live(text, region)
