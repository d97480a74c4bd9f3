"""In-process Asterisk feature tests: the engine's runner behind a real FastAGI listener
(``engine.listener.CallListener`` on loopback), driven by the AGI simulator (tests/asim)."""
from __future__ import annotations

from types import SimpleNamespace

import pytest

from engine.agi import AgiConnection
from engine.listener import CallListener
from engine.asterisk import AsteriskCall, DialTemplates
from engine.context import Services
from engine.runner import run_call
from rules.loader import load_text
from rules.planner import plan_call
from tests.asim import Simulator, Target
from tests.asim.channel import write_wav

RULES = """
defaults: {timezone: America/Sao_Paulo, region: BR}
numbers:
  "+55 11 4004-0001":            # message, then a forward that answers, then thanks
    messages:
      - {audio: welcome.wav, at: start}
      - {audio: thanks.wav, at: end}
    forwarding:
      - {to: "+5511900000001", ring_seconds: 20}
  "+55 11 4004-0002":            # pure forward: never answered by us
    forwarding:
      - {to: "+5511900000001", ring_seconds: 20}
  "+55 11 4004-0003":            # failover no answer -> busy -> unreachable -> answers
    forwarding:
      - {to: "+5511900000002", ring_seconds: 10}
      - {to: "+5511900000003", ring_seconds: 10}
      - {to: "+5511900000004", ring_seconds: 10}
      - {to: ["+5511900000002", "sip:ana@pbx.example.com"], ring_seconds: 10}
  "+55 11 4004-0004":            # all attempts fail -> voicemail with a greeting
    forwarding:
      - {to: "+5511900000002", ring_seconds: 10}
      - {to: "+5511900000003", ring_seconds: 10}
    voicemail:
      - {email: [ops@example.com], greeting: vm.wav, max_seconds: 60, min_seconds: 2}
  "+55 11 4004-0005":            # recorded conversation
    forwarding:
      - {to: "+5511900000001", ring_seconds: 20, record: true}
  "+55 11 4004-0006":            # forced hang-up, with a final message
    messages:
      - {audio: closed.wav, at: end}
    hangup:
      - {cause: CALL_REJECTED}
  "+55 11 4004-0007":            # hang-up as busy, nothing else
    hangup:
      - {cause: USER_BUSY}
  "+55 11 4004-0008":            # caller-dependent forward, else voicemail
    forwarding:
      - {to: "+5511900000001", ring_seconds: 10, schedule: {callers: ["+5521*"]}}
    voicemail:
      - {email: [ops@example.com], max_seconds: 30}
  "+55 11 4004-0009":            # simultaneous ring
    forwarding:
      - {to: ["+5511900000002", "+5511900000005", "+5511900000003"], ring_seconds: 20}
"""

MEDIA = {"welcome.wav": 2.0, "thanks.wav": 1.0, "vm.wav": 1.5, "closed.wav": 1.0}
TEMPLATES = DialTemplates(e164="PJSIP/{digits}@trunk", sip="PJSIP/{uri}")


def targets():
    return {
        "5511900000001": Target.answers(after=2, talk=5),
        "5511900000002": Target.no_answer(),
        "5511900000003": Target.busy(),
        "5511900000004": Target.rejects(21),
        "5511900000005": Target.answers(after=2, talk=3),
        "ana@pbx.example.com": Target.answers(after=1, talk=2),
    }


class ListSink:
    def __init__(self):
        self.items = []

    def submit(self, item) -> None:
        self.items.append(item)


@pytest.fixture
def engine(tmp_path):
    ruleset = load_text(RULES)
    media = tmp_path / "media"
    for name, seconds in MEDIA.items():
        write_wav(str(media / name), seconds)
    services = Services(media_dir=media, recordings_dir=tmp_path / "rec",
                        voicemail_dir=tmp_path / "vm", voicemail_sink=ListSink(),
                        record_sink=ListSink())
    calls = []

    def handle(sock, addr):
        conn = AgiConnection(sock, addr, command_timeout=2.0)
        call = AsteriskCall(conn, templates=TEMPLATES, command_timeout=2.0,
                            max_call_seconds=60, max_message_seconds=30)
        calls.append(call)
        run_call(call, services, lambda called, caller, at: plan_call(ruleset, called, caller, at))

    listener = CallListener(("127.0.0.1", 0), handle, name="test")
    listener.start()
    sim = Simulator(port=listener.address[1], time_scale=0.01, targets=targets(),
                    techs=("PJSIP",), spool_dir=str(tmp_path / "spool"))
    yield SimpleNamespace(sim=sim, services=services, media=media, calls=calls,
                          records=services.record_sink.items,
                          voicemails=services.voicemail_sink.items)
    listener.stop()
