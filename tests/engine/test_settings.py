import argparse

import pytest
from pydantic import ValidationError

from engine.settings import Settings, add_flags, from_args


def test_defaults_run_the_embedded_example():
    s = Settings(_env_file=None)
    assert s.rules == "examples/rules.yaml"
    assert s.listen_address == ("127.0.0.1", 8084)
    assert s.http_address == ("127.0.0.1", 8090)
    assert s.log_format == "json"


def test_environment_and_flags(monkeypatch):
    monkeypatch.setenv("CALLFLOW_MAX_CALLS", "7")
    monkeypatch.setenv("CALLFLOW_ALLOWED_PREFIXES", "+55, +1")
    p = argparse.ArgumentParser()
    add_flags(p)
    s = from_args(p.parse_args(["--listen", "0.0.0.0:9000"]))
    assert s.max_calls == 7
    assert s.allowed_prefixes == ("+55", "+1")
    assert s.listen_address == ("0.0.0.0", 9000)


@pytest.mark.parametrize("field,value,text", [
    ("listen", "nohost", "expected HOST:PORT"),
    ("dial_e164_template", "sofia/gateway/x/{e164},user/1", "dial-string separators"),
    ("dial_e164_template", "sofia/gateway/x/{uri}", "placeholders must be among"),
    ("dial_sip_template", "sofia/external/$evil/{uri}", "dial-string separators"),
    ("dial_sip_template", "sofia/external/${evil}{uri}", "placeholders must be among"),
    ("log_format", "xml", "json"),
])
def test_bad_settings_name_the_field(field, value, text):
    with pytest.raises(ValidationError) as exc:
        Settings(**{field: value})
    assert field in str(exc.value) and text in str(exc.value)
