"""The service around the calls: capacity, drain on SIGTERM, and calls that go wrong
(malformed frames, sockets dropped without a notice) without harming the others."""
from __future__ import annotations

import socket
import time

import pytest

from tests.engine.conftest import E2E_RULES, MEDIA, targets
from tests.fsim.simulator import Simulator
from tests.fsim.targets import Target
from tests.helpers.engine_proc import EngineProcess


def long_call_sim(engine, talk=300):
    t = targets()
    t["+5511900000001"] = Target.answers(after=1, talk=talk)
    return Simulator(port=engine.port, time_scale=0.01, targets=t)


def wait_active(engine, n, timeout=5):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if engine.health()["calls_active"] == n:
            return
        time.sleep(0.02)
    raise AssertionError(f"calls_active never reached {n}: {engine.health()}")


def wait_bridged(handle, timeout=5):
    """Until the target answered and the conversation runs (CHANNEL_BRIDGE was sent)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if any(name == "CHANNEL_BRIDGE" for name, _ in handle.call.result.events):
            return
        time.sleep(0.01)
    raise AssertionError("the call never reached its bridge")


def test_capacity_refuses_at_once_without_connect(tmp_path):
    engine = EngineProcess(tmp_path, E2E_RULES, media=MEDIA, env={"CALLFLOW_MAX_CALLS": "1"}).start()
    try:
        sim = long_call_sim(engine)
        first = sim.place_call_async(destination_number="+551140040002")
        wait_active(engine, 1)
        started = time.monotonic()
        second = sim.place_call(destination_number="+551140040002", timeout=5)
        assert second.refused and second.commands == []
        assert time.monotonic() - started < 1.0
        first_result = first.result(10)
        assert not first_result.refused and first_result.bridges[0].outcome == "SUCCESS"
        assert 'callflow_calls_refused_total{reason="capacity"} 1.0' in engine.metrics()
        assert any(l.get("msg") == "call refused: capacity" for l in engine.log_lines())
    finally:
        engine.stop()


def test_sigterm_drains_calls_in_progress_and_refuses_new_ones(tmp_path):
    engine = EngineProcess(tmp_path, E2E_RULES, media=MEDIA).start()
    try:
        sim = long_call_sim(engine, talk=150)      # 1.5 s of conversation
        call = sim.place_call_async(destination_number="+551140040002")
        wait_active(engine, 1)
        engine.signal()
        time.sleep(0.2)
        with pytest.raises(ConnectionRefusedError):
            socket.create_connection(engine.address, timeout=1)
        assert engine.proc.poll() is None                 # still finishing the call
        result = call.result(10)
        assert result.bridges[0].outcome == "SUCCESS" and result.apps[-1][0] == "hangup"
        assert engine.proc.wait(10) == 0
        assert engine.wait_record(result.uuid)["outcome"] == "answered"
    finally:
        engine.stop()


def test_drain_timeout_bounds_the_exit(tmp_path):
    engine = EngineProcess(tmp_path, E2E_RULES, media=MEDIA,
                           env={"CALLFLOW_DRAIN_SECONDS": "0.5"}).start()
    try:
        sim = long_call_sim(engine, talk=3000)     # 30 s of conversation
        sim.place_call_async(destination_number="+551140040002")
        wait_active(engine, 1)
        started = time.monotonic()
        engine.signal()
        assert engine.proc.wait(10) == 0
        assert time.monotonic() - started < 3
        assert any(l.get("msg") == "drain timeout: calls still active at exit" for l in engine.log_lines())
    finally:
        engine.stop()


@pytest.fixture(scope="module")
def engine(tmp_path_factory):
    proc = EngineProcess(tmp_path_factory.mktemp("svc"), E2E_RULES, media=MEDIA).start()
    yield proc
    proc.stop()


def test_malformed_frame_drops_only_that_call(engine):
    sim = long_call_sim(engine, talk=100)
    good = sim.place_call_async(destination_number="+551140040002")
    bad = sim.place_call_async(destination_number="+551140040002")
    wait_bridged(good)
    wait_bridged(bad)
    bad.send_raw(b"Content-Length: twelve\nContent-Type: text/event-plain\n\n")
    bad_result = bad.result(10)
    good_result = good.result(10)
    assert good_result.bridges[0].outcome == "SUCCESS"
    assert engine.wait_record(good_result.uuid)["outcome"] == "answered"
    assert bad_result.closed_by == "engine"
    assert engine.wait_record(bad_result.uuid)        # a record even for the broken call
    assert engine.health()["status"] == "ok"


def test_socket_dropped_without_notice_ends_the_call(engine):
    sim = long_call_sim(engine, talk=3000)
    handle = sim.place_call_async(destination_number="+551140040002")
    wait_bridged(handle)
    started = time.monotonic()
    handle.call._close()                 # FreeSWITCH vanishes: no CHANNEL_HANGUP, no notice
    rec = engine.wait_record(handle.uuid, timeout=5)
    assert time.monotonic() - started < 2
    assert rec["attempts"][0]["result"] == "answered"
    wait_active(engine, 0)


def test_silent_peer_times_out(engine):
    started = time.monotonic()
    with socket.create_connection(engine.address) as s:
        s.settimeout(10)
        assert s.recv(100) == b"connect\n\nmyevents\n\nlinger 5\n\n"
        # never answer `connect`: the engine gives up after its command timeout (2 s here)
        assert s.recv(100) == b""
    assert 1.5 < time.monotonic() - started < 6
    wait_active(engine, 0)
