"""Loading configurations: good files load, bad files give every error with its path."""
import json
from pathlib import Path

import pytest

from rules.errors import ConfigError
from rules.loader import compile_number, load_file, load_mapping, load_text
from rules.models import Defaults
from rules.plan import ForwardAttempt

FIXTURES = Path(__file__).parent / "fixtures"
ALLOW = {"allow_list": ("+5511", "pbx.example.com")}


@pytest.mark.parametrize("path", sorted((FIXTURES / "good").glob("*.yaml")), ids=lambda p: p.stem)
def test_good_fixtures_load(path):
    assert len(load_file(path)) >= 1


@pytest.mark.parametrize("path", sorted((FIXTURES / "bad").glob("*.yaml")), ids=lambda p: p.stem)
def test_bad_fixtures_report_every_error(path):
    expected = path.with_suffix(".expected").read_text().replace("<FILE>", str(path)).splitlines()
    with pytest.raises(ConfigError) as err:
        load_file(path, allowed_prefixes=ALLOW.get(path.stem, ()))
    assert err.value.lines() == expected


def test_example_file_loads():
    rs = load_file(Path(__file__).parents[2] / "examples" / "rules.yaml")
    assert {"+551140040000", "+558001234567", "+559232320000"} <= set(rs)


def test_values_are_normalised():
    rs = load_mapping({"defaults": {"region": "BR"}, "numbers": {"(11) 4004-0000": {
        "forwarding": [{"to": ["sip:ana@pbx.example.com", "(21) 98888-0000"]}]}}})
    number = rs["+551140040000"]
    assert number.forwarding[0].value == ForwardAttempt(
        to=("sip:ana@pbx.example.com", "+5521988880000"), ring_seconds=30, record=False)


def test_json_and_yaml_give_the_same_rules():
    doc = {"defaults": {"region": "BR"},
           "numbers": {"+551140040000": {"messages": [{"audio": "a.wav", "at": "end"}]}}}
    a = load_text(json.dumps(doc))
    b = load_text("defaults: {region: BR}\nnumbers:\n  '+551140040000':\n"
                  "    messages: [{audio: a.wav, at: end}]\n")
    assert [e.value for e in a["+551140040000"].end] == [e.value for e in b["+551140040000"].end]


def test_missing_file_and_bad_json(tmp_path):
    with pytest.raises(ConfigError) as err:
        load_file(tmp_path / "nope.yaml")
    assert err.value.lines() == [f"{tmp_path / 'nope.yaml'}: cannot read: No such file or directory"]
    with pytest.raises(ConfigError) as err:
        load_text('{"numbers": {,}}', source="x.json")
    assert err.value.lines() == ["x.json: line 1, column 14: invalid JSON: Expecting property name "
                                 "enclosed in double quotes"]


def test_top_level_shape():
    with pytest.raises(ConfigError) as err:
        load_mapping({"defaults": {"region": "XX"}})
    assert err.value.lines() == ["defaults.region: unknown region 'XX' (use an ISO 3166 code such as BR)",
                                 "numbers: is required"]
    with pytest.raises(ConfigError) as err:
        load_mapping(["not", "a", "mapping"])
    assert err.value.lines() == ["the configuration must be a mapping with a 'numbers' key"]


def test_compile_number_alone_roots_paths_at_the_number():
    defaults = Defaults(timezone="America/Sao_Paulo", region="BR")
    number = compile_number("+551140040000", {"forwarding": [{"to": "11999990000"}]}, defaults)
    assert number.number == "+551140040000" and number.tzname == "America/Sao_Paulo"
    with pytest.raises(ConfigError) as err:
        compile_number("+551140040000", {"forwarding": [{"to": "+5521988880000"}]}, defaults,
                       allowed_prefixes=("+5511",))
    assert err.value.lines() == [
        "numbers.+551140040000.forwarding[0].to: +5521988880000 is not allowed by this "
        "deployment's destination allow-list (+5511)"]


def test_ruleset_replace_is_a_new_ruleset():
    rs = load_mapping({"numbers": {"+551140040000": {}, "+551140040001": {}}})
    new = compile_number("+551140040002", {"hangup": [{}]})
    changed = rs.replace({"+551140040002": new, "+551140040001": None})
    assert set(rs) == {"+551140040000", "+551140040001"}
    assert set(changed) == {"+551140040000", "+551140040002"}
    assert changed["+551140040000"] is rs["+551140040000"]
    with pytest.raises(ValueError):
        rs.replace({"+551140040009": new})


def test_holiday_calendars_are_shared():
    rs = load_mapping({"numbers": {
        "+551140040000": {"holidays": {"country": "BR", "subdivision": "SP"}},
        "+551140040001": {"holidays": {"country": "BR", "subdivision": "SP"}},
        "+551140040002": {"holidays": {"country": "BR", "subdivision": "SP", "extra": ["2026-12-24"]}}}})
    a, b, c = (rs[k].calendar for k in ("+551140040000", "+551140040001", "+551140040002"))
    assert a is b and a.country is c.country


def test_equal_entries_are_shared_between_numbers():
    """Memory: 100k numbers playing the same message hold one Entry, not 100k."""
    entry = {"messages": [{"audio": "welcome.wav", "schedule": {"days": "mon-fri"}}],
             "hangup": [{"cause": "CALL_REJECTED"}],
             "forwarding": [{"to": "+5511999990000"}]}
    rs = load_mapping({"numbers": {"+551140040000": entry, "+551140040001": dict(entry)}})
    a, b = rs["+551140040000"], rs["+551140040001"]
    assert a.start is b.start and a.hangup[0] is b.hangup[0]
    assert a.forwarding[0].value == ForwardAttempt(to=("+5511999990000",), ring_seconds=30)
    assert [e.taken for e in a.start] == ["messages[0] welcome.wav: taken"]
