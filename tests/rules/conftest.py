import pytest

from rules.loader import load_text


@pytest.fixture
def design_rules():
    """The example of docs/design.md, verbatim."""
    return load_text("""
defaults:
  timezone: America/Sao_Paulo
  region: BR
numbers:
  "+55 11 4004-0000":
    timezone: America/Sao_Paulo
    holidays: {country: BR, subdivision: SP, extra: ["2026-12-24"]}
    messages:
      - {audio: welcome.wav, at: start, schedule: {days: mon-fri, hours: ["08:00-18:00"]}}
      - {audio: closed.wav,  at: start, schedule: {days: [sat, sun, holiday]}}
      - {audio: thanks.wav,  at: end}
    forwarding:
      - {to: "+55 11 99999-0000", ring_seconds: 20, record: true,
         schedule: {days: mon-fri, hours: ["08:00-12:00", "13:00-18:00"]}}
      - {to: ["sip:ana@pbx.example.com", "+5521988880000"], ring_seconds: 15}
      - {to: "+5521977770000", ring_seconds: 25, schedule: {callers: ["+5521*"]}}
    voicemail:
      - {email: [ops@example.com], greeting: vm.wav, max_seconds: 120,
         schedule: {days: [sat, sun, holiday]}}
    hangup:
      - {schedule: {days: sun, hours: ["00:00-06:00"]}, cause: CALL_REJECTED}
""")
