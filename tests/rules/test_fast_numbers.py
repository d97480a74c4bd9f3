"""The fast number paths give exactly what phonenumbers gives.

``rules.phone_validity.is_valid_national`` replaces ``phonenumbers.is_valid_number`` and
``rules.numbers._national_fast`` replaces ``phonenumbers.parse`` for plain national
notation; both must be *equivalent*, not "close": a configuration that loads, a caller
that matches ``+5521*``, depend on it. Checked here against phonenumbers itself, over
every example number in its metadata and over generated variations of them.
"""
import phonenumbers
import pytest
from hypothesis import HealthCheck, assume, example, given, settings
from hypothesis import strategies as st
from phonenumbers import COUNTRY_CODE_TO_REGION_CODE, PhoneNumber, PhoneNumberFormat
from phonenumbers.phonemetadata import PhoneMetadata

from rules.numbers import _E164, _WITHHELD, _national_fast, _normalise_live, _parse
from rules.phone_validity import is_valid_national

REGIONS = sorted(phonenumbers.SUPPORTED_REGIONS)
CODES = sorted(COUNTRY_CODE_TO_REGION_CODE)


def _examples() -> list[tuple[str, int, str]]:
    """(region, country code, national significant number) of every example number."""
    out = []
    for region in REGIONS:
        for kind in range(12):  # every PhoneNumberType
            number = phonenumbers.example_number_for_type(region, kind)
            if number is not None:
                out.append((region, number.country_code, str(number.national_number)))
    for cc in phonenumbers.COUNTRY_CODES_FOR_NON_GEO_REGIONS:
        number = phonenumbers.example_number_for_non_geo_entity(cc)
        if number is not None:
            out.append(("001", cc, str(number.national_number)))
    return out


EXAMPLES = _examples()
BR_EXAMPLES = [e for e in EXAMPLES if e[0] == "BR"]


def _reference_valid(cc: int, national: str) -> bool:
    return phonenumbers.is_valid_number(PhoneNumber(country_code=cc, national_number=int(national)))


def _reference_parse(text: str, region: str) -> str | None:
    try:
        parsed = phonenumbers.parse(text, region)
    except phonenumbers.NumberParseException:
        return None
    return phonenumbers.format_number(parsed, PhoneNumberFormat.E164)


def test_validity_of_every_example_number():
    assert len(EXAMPLES) > 1000
    for _region, cc, national in EXAMPLES:
        assert is_valid_national(cc, national) == _reference_valid(cc, national), (cc, national)


@st.composite
def _mutated(draw, pool):
    """An example number with a few digits changed, added or removed."""
    _region, cc, national = draw(st.sampled_from(pool))
    digits = list(national)
    for _ in range(draw(st.integers(0, 3))):
        op = draw(st.sampled_from(("set", "add", "drop")))
        i = draw(st.integers(0, len(digits) - 1)) if digits else 0
        if op == "set" and digits:
            digits[i] = draw(st.sampled_from("0123456789"))
        elif op == "add":
            digits.insert(i, draw(st.sampled_from("0123456789")))
        elif len(digits) > 1:
            del digits[i]
    return cc, "".join(digits)


_random_national = st.tuples(
    st.sampled_from(CODES),
    st.from_regex(r"[1-9][0-9]{0,16}", fullmatch=True))


@settings(max_examples=1000, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.one_of(_mutated(EXAMPLES), _mutated(BR_EXAMPLES), _random_national))
@example((55, "11988887777")).via("mobile")
@example((1, "2125550100")).via("NANPA: several regions share +1")
@example((44, "7400123456")).via("GB, with crown dependencies on +44")
@example((800, "12345678")).via("non-geographic entity")
def test_validity_equals_phonenumbers(case):
    cc, national = case
    assume(national and national[0] != "0")
    assert is_valid_national(cc, national) == _reference_valid(cc, national)


# --- national notation --------------------------------------------------------------------

@st.composite
def _written(draw, pool):
    """(text, region): an example number as people and trunks write it nationally."""
    region, _cc, national = draw(pool)
    assume(region != "001")
    metadata = PhoneMetadata.metadata_for_region(region)
    digits = list(national)
    if digits and draw(st.booleans()):
        digits[-1] = draw(st.sampled_from("0123456789"))
    if len(digits) > 1 and draw(st.integers(0, 9)) == 0:
        del digits[draw(st.integers(0, len(digits) - 1))]
    body = "".join(digits)
    prefixes = ["", "", "0", "90", "00", "1", "8", "0 21 ", "015 ", str(metadata.country_code)]
    if metadata.national_prefix:
        prefixes.append(metadata.national_prefix)
    text = draw(st.sampled_from(prefixes)) + body
    # Separators between digits, and maybe an area code in brackets.
    out = []
    for ch in text:
        out.append(ch)
        if ch.isdigit() and draw(st.integers(0, 4)) == 0:
            out.append(draw(st.sampled_from([" ", "-", ".", "/", " - ", ") ", "("])))
    text = "".join(out)
    if draw(st.integers(0, 5)) == 0 and len(body) > 4:
        text = f"({text[:2]}) {text[2:]}"
    return text, region


_br = _written(st.sampled_from(BR_EXAMPLES))
_anywhere = _written(st.sampled_from(EXAMPLES))


@settings(max_examples=1000, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.one_of(_br, _br, _anywhere))
@example(("11988887777", "BR"))
@example(("(11) 98888-7777", "BR"))
@example(("011 98888-7777", "BR"))
@example(("0 21 11 98888-7777", "BR"))
@example(("5532345678", "BR"))
@example(("9001234567", "BR"))
@example(("1 212 555 0100", "US"))
def test_national_fast_path_equals_phonenumbers(case):
    text, region = case
    fast = _national_fast(text, region)
    if fast is not None:
        assert fast == _reference_parse(text, region)


def _old_normalise_live(text: str, region: str | None) -> str | None:
    """The caller normalisation before the fast path: phonenumbers for everything."""
    stripped = text.strip()
    if stripped.lower() in _WITHHELD:
        return None
    if _E164.fullmatch(stripped):
        return stripped
    parsed = _parse(stripped, region)
    if parsed is None or parsed.extension:
        return None
    return phonenumbers.format_number(parsed, PhoneNumberFormat.E164)


@settings(max_examples=500, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.one_of(_br, _anywhere))
def test_caller_normalisation_unchanged(case):
    text, region = case
    assert _normalise_live.__wrapped__(text, region) == _old_normalise_live(text, region)


def test_fast_path_covers_brazilian_trunk_notations():
    """The point of the fast path: what BR trunks send does not need phonenumbers.parse."""
    for text in ("11988887777", "(11) 98888-7777", "011 98888-7777", "011988887777",
                 "1140040000", "(21) 2345-6789", "0800 123 4567", "4004-0000"):
        assert _national_fast(text, "BR") == _reference_parse(text, "BR"), text
    # Left to phonenumbers: carrier code, international prefix, invalid numbers.
    for text in ("0 21 11 98888-7777", "00 1 212 555 0100", "1198888777"):
        assert _national_fast(text, "BR") is None, text


@pytest.mark.parametrize("text", ["١١٩٨٨٨٨٧٧٧٧", "11988887777\n", " (11) 98888-7777 "])
def test_unusual_characters_fall_back_or_agree(text):
    fast = _national_fast(text.strip(), "BR")
    assert fast is None or fast == _reference_parse(text, "BR")
