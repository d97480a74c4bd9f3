"""Fixtures for end-to-end tests: a real `callflow serve` subprocess and the FreeSWITCH
simulator dialling it over loopback TCP."""
from __future__ import annotations

import pytest

from tests.fsim.simulator import Simulator
from tests.helpers.engine_proc import EngineProcess

# One engine serves every test of the module; each scenario has its own number.
E2E_RULES = """
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
  "+55 11 4004-0004":            # all attempts fail -> voicemail
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
  "+55 11 4004-0007":            # busy and nothing else: the caller hears busy
    forwarding:
      - {to: "+5511900000003", ring_seconds: 10}
  "+55 11 4004-0008":            # caller-dependent forward, else voicemail
    forwarding:
      - {to: "+5511900000001", ring_seconds: 10, schedule: {callers: ["+5521*"]}}
    voicemail:
      - {email: [ops@example.com], max_seconds: 30}
  "+55 11 4004-0009":            # a message whose file is missing, then a forward
    messages:
      - {audio: missing.wav, at: start}
    forwarding:
      - {to: "+5511900000001", ring_seconds: 20}
"""

MEDIA = ["welcome.wav", "thanks.wav", "vm.wav", "closed.wav"]


def targets():
    from tests.fsim.targets import Target

    return {
        "+5511900000001": Target.answers(after=2, talk=5),
        "+5511900000002": Target.no_answer(),
        "+5511900000003": Target.busy(),
        "+5511900000004": Target.unreachable("NO_ROUTE_DESTINATION"),
        "ana@pbx.example.com": Target.answers(after=1, talk=2),
    }


@pytest.fixture(scope="module")
def engine(tmp_path_factory):
    proc = EngineProcess(tmp_path_factory.mktemp("engine"), E2E_RULES, media=MEDIA).start()
    yield proc
    proc.stop()


@pytest.fixture
def sim(engine):
    return Simulator(port=engine.port, time_scale=0.01, targets=targets())
