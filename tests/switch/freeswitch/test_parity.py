"""Simulator parity: the same scenarios on the simulator (tests/fsim) and on the real
FreeSWITCH, asserting the same things of both.

Each scenario is a call to one of the tier's numbers (conftest.rules_text) and what a
user of the engine sees of it: the applications the engine ran on the channel, the
results of its forward attempts, the call's outcome, the cause the caller got and the
length of a recorded conversation. The simulator runs against its own engine with the
same rules and far ends that behave like farends.xml. Where they disagree the switch
is right: fix the simulator (as was done for record_session and RECORD_BRIDGE_REQ).
"""
from __future__ import annotations

from dataclasses import dataclass

import pytest

from tests.fsim.simulator import Simulator
from tests.fsim.targets import Target
from tests.helpers.engine_proc import EngineProcess, write_wav
from tests.switch.freeswitch.lab import MEDIA, rules_text, wav_seconds

pytestmark = pytest.mark.slow

# farends.xml, as the simulator's targets (E.164 keys: the simulator engine keeps the
# default dial templates, sofia/gateway/default/{e164}).
FAR_ENDS = {
    "+5511900000001": Target.answers(after=2, talk=5),
    "+5511900000002": Target.no_answer(),
    "+5511900000003": Target.busy(),
    "+5511900000004": Target.unreachable("NO_ROUTE_DESTINATION"),
    "+5511900000006": Target.answers(after=1, talk=3),
    "+5511900000007": Target.answers(after=4, talk=2),
    "+5511900000008": Target.answers(after=0, talk=1),
    "ana@pbx.example.com": Target.answers(after=1, talk=2),
}


@dataclass
class Scenario:
    did: str
    caller: str = "5521988887777"
    hang_up_while_ringing: bool = False


@dataclass
class Seen:
    apps: list[str]
    attempts: list[str]
    outcome: str
    caller_cause: str
    recorded_seconds: float | None


SCENARIOS = {
    "messages_around_a_forward": Scenario("551140040001"),
    "ring_timeout_then_next": Scenario("551140040002"),
    "simultaneous_ring": Scenario("551140040004"),
    "recorded_conversation": Scenario("551140040005"),
    "hangup_rule": Scenario("551140040006"),
    "caller_routed": Scenario("551140040007", caller="5521977776666"),
    "caller_refused": Scenario("551140040007", caller="5511977776666"),
    "sip_address": Scenario("551140040013"),
    "unknown_number": Scenario("551140049999"),
    "caller_gone_while_ringing": Scenario("551140040009", hang_up_while_ringing=True),
}


def _seen(apps: list[str], record: dict, cause: str) -> Seen:
    return Seen(apps, [a["result"] for a in record["attempts"]], record["outcome"], cause,
                wav_seconds(record["recording"]) if record["recording"] else None)


@pytest.fixture(scope="module")
def sim_engine(tmp_path_factory, lab):
    engine = EngineProcess(tmp_path_factory.mktemp("parity-engine"), rules_text(lab.now))
    for name, seconds in MEDIA.items():
        write_wav(engine.media_dir / name, seconds=seconds)
    engine.start()
    yield engine
    engine.stop()


def on_simulator(engine: EngineProcess, sc: Scenario) -> Seen:
    sim = Simulator(port=engine.port, time_scale=0.1, targets=FAR_ENDS)
    kw = {"caller_hangup_during": ("bridge", 1.0)} if sc.hang_up_while_ringing else {}
    result = sim.place_call(timeout=60, destination_number=sc.did, caller_id_number=sc.caller, **kw)
    record = engine.wait_record(result.uuid, timeout=20)
    return _seen([a for a, _ in result.apps], record, result.hangup_cause)


def on_freeswitch(lab, sc: Scenario) -> Seen:
    call = lab.call(sc.did, caller=sc.caller)
    if sc.hang_up_while_ringing:
        call.wait_app("bridge")
        call.events.wait(lambda e: e.get("Event-Name") == "CHANNEL_PROGRESS"
                         and e.get("variable_originator") == call.controlled_uuid, 10, "ringing")
        call.hang_up()
    record = lab.finished(call)
    return _seen([a for a, _ in call.engine_apps()], record, call.caller_hangup()[0])


@pytest.mark.parametrize("name", list(SCENARIOS))
def test_simulator_agrees_with_the_switch(name, lab, sim_engine):
    sc = SCENARIOS[name]
    real = on_freeswitch(lab, sc)
    simulated = on_simulator(sim_engine, sc)
    assert simulated.apps == real.apps
    assert simulated.attempts == real.attempts
    assert simulated.outcome == real.outcome
    assert simulated.caller_cause == real.caller_cause
    if real.recorded_seconds is None:
        assert simulated.recorded_seconds is None
    else:
        assert abs(simulated.recorded_seconds - real.recorded_seconds) <= 1.0, (simulated, real)
