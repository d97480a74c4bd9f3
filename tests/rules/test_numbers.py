"""Number notations users and carriers write, normalised to E.164."""
import pytest

from rules.numbers import NumberError, normalise_called, normalise_caller, normalise_number
from rules.plan import ANONYMOUS


@pytest.mark.parametrize("text,expected", [
    ("+55 11 4004-0000", "+551140040000"),
    ("(11) 4004-0000", "+551140040000"),
    ("011 4004-0000", "+551140040000"),
    ("11 4004-0000", "+551140040000"),
    ("4004-0000", "+5540040000"),          # número único without area code: its own key
    ("3003-1234", "+5530031234"),
    ("0800 123 4567", "+558001234567"),
    ("0800-123-4567", "+558001234567"),
    ("+55 11 99999-0000", "+5511999990000"),
    ("11999990000", "+5511999990000"),
    ("+1 212 555 0100", "+12125550100"),
    ("+5511999990000", "+5511999990000"),
])
def test_configured_numbers(text, expected):
    assert normalise_number(text, "BR") == expected


@pytest.mark.parametrize("text,message", [
    ("1-800-FLOWERS", "not a phone number (only digits, spaces and + - . ( ) / are allowed)"),
    ("+55 11 4004-0000 ext 12", "not a phone number (only digits, spaces and + - . ( ) / are allowed)"),
    ("12345", "not a valid phone number (read with region BR)"),
    ("+5511000", "not a valid phone number"),
    ("", "not a phone number (only digits, spaces and + - . ( ) / are allowed)"),
])
def test_bad_configured_numbers(text, message):
    with pytest.raises(NumberError) as err:
        normalise_number(text, "BR")
    assert str(err.value) == message


def test_national_notation_needs_a_region():
    with pytest.raises(NumberError, match="needs a \\+country code"):
        normalise_number("(11) 4004-0000", None)
    assert normalise_number("+551140040000", None) == "+551140040000"


@pytest.mark.parametrize("text,expected", [
    ("+5511988887777", "+5511988887777"),
    ("11988887777", "+5511988887777"),
    ("011988887777", "+5511988887777"),
    ("0 21 11 98888-7777", "+5511988887777"),   # trunk prefix and carrier-selection code
    ("5511988887777", "+5511988887777"),        # country code without +
    (" +55 (11) 98888-7777 ", "+5511988887777"),
    (None, ANONYMOUS), ("", ANONYMOUS), ("anonymous", ANONYMOUS), ("Anonymous", ANONYMOUS),
    ("RESTRICTED", ANONYMOUS), ("unknown", ANONYMOUS), ("Private", ANONYMOUS),
    ("unavailable", ANONYMOUS), ("sip:alice@example.com", ANONYMOUS), ("<>;{}", ANONYMOUS),
    ("+", ANONYMOUS), ("1-800-FLOWERS", ANONYMOUS),
])
def test_callers(text, expected):
    assert normalise_caller(text, "BR") == expected


def test_called_numbers():
    assert normalise_called("1140040000", "BR") == "+551140040000"
    assert normalise_called("551140040000", "BR") == "+551140040000"
    assert normalise_called("garbage", "BR") is None
    assert normalise_called(None, "BR") is None
