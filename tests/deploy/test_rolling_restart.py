"""Rolling restart of the engines, as the deployment does it (docs/operations.md).

Two real `callflow serve` processes (engine A, engine B) and the FreeSWITCH simulator.
The simulator stands for FreeSWITCH running dialplan/callflow.xml: for every new call it
tries engine A, then engine B, then the fallback, as the two chained `socket` actions do.
A `socket` action moves on to the next one when the TCP connection is refused (engine
down, or its listener closed while it drains) or when the engine closes the connection
without answering `connect` (at capacity, draining, no rules yet).

SIGTERM to A while it holds calls: new calls land on B at once, none is lost, A's calls
finish undisturbed, and A exits 0 after its last call.
"""
from __future__ import annotations

import json
import re
import time
import urllib.error
from pathlib import Path

import pytest

from tests.engine.conftest import E2E_RULES, MEDIA, targets
from tests.fsim.simulator import Simulator
from tests.fsim.targets import Target
from tests.helpers.engine_proc import EngineProcess

REPO = Path(__file__).resolve().parents[2]
LONG = "+5511900000001"          # answers after 1 sim s, then talks `talk` sim s
NUMBER = "+551140040002"         # pure forward to LONG (tests/engine/conftest.py)


def dialplan_socket_order() -> list[str]:
    """The engine variables of dialplan/callflow.xml's `socket` actions, in order."""
    text = (REPO / "dialplan" / "callflow.xml").read_text()
    return re.findall(r'application="socket"\s+data="\$\$\{(\w+)\}\s+async full"', text)


class DialplanFailover:
    """What FreeSWITCH does with the callflow extension, for one new call at a time."""

    def __init__(self, sim: Simulator, engines: list[EngineProcess]):
        assert dialplan_socket_order() == ["callflow_engine_a", "callflow_engine_b"], \
            "the dialplan's socket actions changed: update this model"
        self.sim = sim
        self.engines = engines

    def place(self, timeout: float = 5.0, **call):
        """-> (index of the engine that took the call, its CallHandle), or (None, None)
        when every engine refused (the dialplan's fallback)."""
        for index, engine in enumerate(self.engines):
            try:
                handle = self.sim.place_call_async(port=engine.port, **call)
            except ConnectionRefusedError:
                continue                         # socket app: connect failed -> next action
            deadline = time.monotonic() + timeout
            while not handle.call.connected and not handle.done():
                if time.monotonic() > deadline:
                    raise AssertionError(f"engine {index} neither connected nor closed")
                time.sleep(0.002)
            if handle.call.connected:
                return index, handle
            result = handle.result(timeout)
            assert result.refused and result.commands == [], result
            # closed without `connect` -> the socket app returns -> next action
        return None, None


def wait_for(predicate, what: str, timeout: float = 10.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(0.01)
    raise AssertionError(f"timed out waiting for {what}")


def health_status(engine: EngineProcess):
    try:
        return engine.health()["status"]
    except urllib.error.HTTPError as exc:          # 503 while draining
        return json.loads(exc.read())["status"]
    except OSError:
        return None                                # gone


def bridged(handle) -> bool:
    return any(name == "CHANNEL_BRIDGE" for name, _ in handle.call.result.events)


def refused_count(engine: EngineProcess, reason: str) -> float:
    m = re.search(r'callflow_calls_refused_total\{reason="%s"\} ([0-9.]+)' % reason, engine.metrics())
    return float(m.group(1)) if m else 0.0


@pytest.fixture
def engines(tmp_path):
    procs = []
    try:
        for name in ("a", "b"):
            folder = tmp_path / name
            folder.mkdir()
            procs.append(EngineProcess(folder, E2E_RULES, media=MEDIA,
                                       env={"CALLFLOW_DRAIN_SECONDS": "30"}).start())
        yield procs
    finally:
        for proc in procs:
            proc.stop()


def test_sigterm_to_engine_a_moves_new_calls_to_b_and_loses_none(engines):
    a, b = engines
    t = targets()
    t[LONG] = Target.answers(after=1, talk=250)           # 2.5 s of conversation at 0.01
    sim = Simulator(time_scale=0.01, targets=t)
    fs = DialplanFailover(sim, [a, b])

    # Before the restart: the dialplan's order sends every call to A.
    held = []
    for _ in range(3):
        index, handle = fs.place(destination_number=NUMBER)
        assert index == 0
        held.append(handle)
    for handle in held:
        wait_for(lambda: bridged(handle), "A's calls to reach their conversation")
    assert a.health()["calls_active"] == 3

    # Rolling restart, step 1: SIGTERM to A (what `docker stop` sends).
    a.signal()
    wait_for(lambda: health_status(a) == "draining", "A to report draining")

    # New calls while A drains: every one lands on B at once.
    during = []
    for _ in range(5):
        started = time.monotonic()
        index, handle = fs.place(destination_number=NUMBER)
        assert index == 1, "a new call went to the draining engine"
        assert time.monotonic() - started < 1.0
        during.append(handle)
    assert a.proc.poll() is None, "A exited while it still held calls"

    # A's calls were not disturbed: each conversation ran to its end.
    for handle in held:
        result = handle.result(15)
        assert not result.timed_out and result.errors == []
        assert result.bridges[0].outcome == "SUCCESS"
        assert result.apps[-1][0] == "hangup"
        assert a.wait_record(result.uuid)["outcome"] == "answered"

    # ... and A exits 0 after its last call, well before the drain timeout.
    assert a.proc.wait(10) == 0
    assert any(l.get("msg") == "drained: no calls left" for l in a.log_lines())

    # A is gone now (connection refused): calls still land on B.
    index, late = fs.place(destination_number=NUMBER)
    assert index == 1
    during.append(late)

    # No call lost: every call B took completed with its forward answered and a record.
    for handle in during:
        result = handle.result(15)
        assert not result.refused and not result.timed_out and result.errors == []
        assert result.bridges[0].outcome == "SUCCESS"
        assert b.wait_record(result.uuid)["outcome"] == "answered"
    assert refused_count(b, "draining") == 0 and refused_count(b, "capacity") == 0
    assert health_status(b) == "ok"
    # Every call of the test has exactly one record, on the engine that took it.
    uuids = [h.uuid for h in held + during]
    recorded = [r["uuid"] for r in a.records() + b.records()]
    assert sorted(recorded) == sorted(uuids)

    # Step 2 would restart A (docker-compose up -d --no-deps engine-a) and, once it is
    # healthy, do the same to B; with both engines stopped the dialplan's fallback runs.
    b.signal()
    assert b.proc.wait(10) == 0
    assert fs.place(destination_number=NUMBER) == (None, None)


def test_refusal_without_connect_moves_on_to_the_next_engine(tmp_path):
    """An engine at capacity accepts and closes without `connect`; the dialplan's next
    `socket` action then gives the call to the other engine."""
    (tmp_path / "a").mkdir()
    (tmp_path / "b").mkdir()
    a = EngineProcess(tmp_path / "a", E2E_RULES, media=MEDIA, env={"CALLFLOW_MAX_CALLS": "1"})
    b = EngineProcess(tmp_path / "b", E2E_RULES, media=MEDIA)
    try:
        a.start()
        b.start()
        t = targets()
        t[LONG] = Target.answers(after=1, talk=150)
        fs = DialplanFailover(Simulator(time_scale=0.01, targets=t), [a, b])

        first_index, first = fs.place(destination_number=NUMBER)
        assert first_index == 0
        wait_for(lambda: bridged(first), "the first call's conversation")
        second_index, second = fs.place(destination_number=NUMBER)
        assert second_index == 1                       # A was full: B took it
        assert refused_count(a, "capacity") == 1

        for engine, handle in ((a, first), (b, second)):
            result = handle.result(15)
            assert result.bridges[0].outcome == "SUCCESS"
            assert engine.wait_record(result.uuid)["outcome"] == "answered"
    finally:
        a.stop()
        b.stop()
