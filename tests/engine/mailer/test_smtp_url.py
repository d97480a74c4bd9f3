"""CALLFLOW_SMTP_URL: schemes, default ports, credentials, and a password never shown."""
import pytest

from engine.mailer.smtp_url import mask, parse


@pytest.mark.parametrize("url, mode, port", [
    ("smtp://mail.example.com", "plain", 25),
    ("smtp+starttls://mail.example.com", "starttls", 587),
    ("smtps://mail.example.com", "tls", 465),
    ("SMTPS://mail.example.com:2465", "tls", 2465),
    ("smtp://[::1]:2525", "plain", 2525),
])
def test_schemes_and_default_ports(url, mode, port):
    t = parse(url)
    assert (t.mode, t.port) == (mode, port)
    assert t.username is None and t.password is None


def test_credentials_are_percent_decoded_and_hidden_from_repr():
    t = parse("smtp+starttls://vm%40example.com:p%40ss%3Aw0rd@relay.example.com:587")
    assert t.username == "vm@example.com" and t.password == "p@ss:w0rd"
    assert "p@ss" not in repr(t) and "w0rd" not in t.display
    assert t.display == "smtp+starttls://vm@example.com:***@relay.example.com:587"


def test_cafile_parameter():
    assert parse("smtps://h?cafile=/etc/ca.pem").cafile == "/etc/ca.pem"


@pytest.mark.parametrize("url", [
    "http://user:s3cret@h", "smtp://user:s3cret@", "smtp://user:s3cret@h:99999",
    "smtp://user:s3cret@h/path", "smtp://user:s3cret@h?verify=no", "smtp://user:s3/cret@h",
    "smtp://:s3cret@h",
])
def test_bad_urls_are_refused_without_showing_the_password(url):
    with pytest.raises(ValueError) as err:
        parse(url)
    assert "s3cret" not in str(err.value) and "s3/cret" not in str(err.value)


@pytest.mark.parametrize("url, masked", [
    ("smtp://u:pw@h:25", "smtp://u:***@h:25"),
    ("smtp://u@h", "smtp://u@h"),
    ("smtp://h:25", "smtp://h:25"),
    ("smtp://u:p@ss@h", "smtp://u:***@h"),
    ("smtp://u:pa/ss@h", "smtp://u:***@h"),
    ("u:pw@h", "***"),
])
def test_mask(url, masked):
    assert mask(url) == masked
