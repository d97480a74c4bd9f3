"""One engine (a real `callflow serve`) for the attack tests, and the FreeSWITCH
simulator to attack it with. Each attack runs beside an honest call that must finish."""
from __future__ import annotations

import pytest

from tests.fsim.simulator import Simulator
from tests.helpers.engine_proc import EngineProcess

RULES = """
defaults: {timezone: America/Sao_Paulo, region: BR}
numbers:
  "+55 11 4004-0001":            # the honest call: a forward that answers
    forwarding:
      - {to: "+5511900000001", ring_seconds: 20}
  "+55 11 4004-0004":            # a voicemail: names a file after the call's uuid
    voicemail:
      - {email: [ops@example.com], max_seconds: 30, min_seconds: 1}
  "+55 11 4004-0005":            # a recorded conversation: names a file too
    forwarding:
      - {to: "+5511900000001", ring_seconds: 20, record: true}
  "+55 11 4004-0006":            # a message, then hang up
    messages:
      - {audio: welcome.wav}
    hangup:
      - {cause: CALL_REJECTED}
"""


def targets():
    from tests.fsim.targets import Target

    return {"+5511900000001": Target.answers(after=1, talk=3)}


@pytest.fixture(scope="package")
def engine(tmp_path_factory):
    proc = EngineProcess(tmp_path_factory.mktemp("security-engine"), RULES,
                         media=["welcome.wav"]).start()
    yield proc
    proc.stop()


@pytest.fixture
def sim(engine):
    return Simulator(port=engine.port, time_scale=0.01, targets=targets())


def honest_call(sim):
    """Start the honest call; ``finish(handle)`` asserts it was answered and recorded."""
    return sim.place_call_async(destination_number="+551140040001",
                                caller_id_number="+5511988887777")


def assert_honest_call_completed(engine, handle):
    r = handle.result(30)
    assert r.bridges and r.bridges[0].outcome == "SUCCESS", r.errors
    record = engine.wait_record(r.uuid)
    assert record["outcome"] == "answered"
