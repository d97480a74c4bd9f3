"""End to end: a forwarding change made through the API reaches a running engine
(`callflow serve` with CALLFLOW_RULES=redis://...) at once, and the calls it then makes
show up in the API's call statement."""
from __future__ import annotations

import time

import pytest

from tests.rules.api.conftest import ACME, SEED, auth
from tests.fsim.simulator import Simulator
from tests.fsim.targets import Target
from tests.helpers.engine_proc import EngineProcess

N = "+551140040000"
FIRST = "+5511900000001"
SECOND = "+5511900000002"


@pytest.fixture
def engine(redis_url, tmp_path, store):
    store.push({"defaults": SEED["defaults"],
                "numbers": {N: {"forwarding": [{"to": FIRST, "ring_seconds": 20}]}}})
    proc = EngineProcess(tmp_path, "numbers: {}\n", env={"CALLFLOW_RULES": redis_url}).start()
    yield proc
    proc.stop()


def bridged_to(result) -> list[str]:
    return [arg.rsplit("/", 1)[-1] for app, arg in result.apps if app == "bridge"]


def test_put_forwarding_through_the_api_then_a_call_follows_it(engine, client, store):
    sim = Simulator(port=engine.port, time_scale=0.01,
                    targets={FIRST: Target.answers(after=1, talk=1),
                             SECOND: Target.answers(after=1, talk=1)})
    before = sim.place_call(destination_number=N, caller_id_number="+5521988887777")
    assert bridged_to(before) == [FIRST]

    r = client.put(f"/v1/numbers/{N}/forwarding", json=[{"to": "(11) 90000-0002", "ring_seconds": 15}],
                   headers=auth(ACME))
    assert r.status_code == 200, r.text
    version = int(store.version())

    # The engine applies the published update; no restart, no file.
    deadline = time.monotonic() + 10
    while engine.health().get("rules_version") != version:
        assert time.monotonic() < deadline, engine.health()
        time.sleep(0.02)
    after = sim.place_call(destination_number=N, caller_id_number="+5521988887777")
    assert bridged_to(after) == [SECOND]
    assert "{originate_timeout=15}" in [a for app, a in after.apps if app == "bridge"][0]

    # Both calls reach the statement through the engine's record stream, newest first.
    engine.wait_record(after.uuid)
    deadline = time.monotonic() + 10
    while True:
        calls = client.get(f"/v1/calls?number=%2B{N[1:]}", headers=auth(ACME)).json()["calls"]
        if [c["uuid"] for c in calls] == [after.uuid, before.uuid]:
            break
        assert time.monotonic() < deadline, calls
        time.sleep(0.05)
    assert calls[0]["attempts"][0]["to"] == [SECOND]
    one = client.get(f"/v1/calls/{after.uuid}", headers=auth(ACME))
    assert one.status_code == 200 and one.json()["outcome"] == "answered"
