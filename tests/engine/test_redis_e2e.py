"""End to end: `callflow serve` with CALLFLOW_RULES=redis://..., driven by the FreeSWITCH
simulator, while configurations are pushed, lost, corrupted and Redis itself goes away.

Numbers here use hang-up entries (no media, no ringing), so a call's ``apps`` say at a
glance which configuration it got: ``[("hangup", <cause>)]``."""
from __future__ import annotations

import json
import time
import urllib.error
import urllib.request

import pytest

from rules.redis_store import CALLS, NUMBERS, UPDATES, VERSION, RedisStore
from tests.fsim.simulator import Simulator
from tests.helpers.engine_proc import RedisEngine
from tests.helpers.redis_server import RedisServer

CHECK_SECONDS = 0.3
A, B = "+551140040001", "+551140040002"


def hangup(cause: str) -> dict:
    return {"hangup": [{"cause": cause}]}


def config(**numbers) -> dict:
    return {"defaults": {"timezone": "America/Sao_Paulo", "region": "BR"},
            "numbers": {n: hangup(c) for n, c in numbers.items()}}



def cause_of(sim, number=A) -> str | None:
    r = sim.place_call(destination_number=number, caller_id_number="+5511988887777", timeout=10)
    if r.refused:
        return None
    assert r.apps and r.apps[-1][0] == "hangup", r.apps
    return r.apps[-1][1]


@pytest.fixture
def engine_on(tmp_path):
    started = []

    def start(url, **env):
        engine = RedisEngine(tmp_path / f"engine{len(started)}", url, env).start()
        started.append(engine)
        return engine
    yield start
    for engine in started:
        engine.stop()


def sim_for(engine):
    return Simulator(port=engine.port, time_scale=0.01, targets={})


def test_a_push_is_followed_by_the_next_call(redis_url, store, engine_on):
    store.push(config(**{A: "CALL_REJECTED", B: "USER_BUSY"}))
    engine = engine_on(redis_url)
    h = engine.wait_health(lambda h: h["status"] == "ok", what="ok")
    assert h["rules_source"] == "redis" and h["redis"] == "connected" and h["numbers_loaded"] == 2
    assert h["rules_version"] == 1 and h["stale_seconds"] == 0
    sim = sim_for(engine)
    assert cause_of(sim) == "CALL_REJECTED"
    # national notation of the dialled number is read with the stored defaults (BR)
    r = sim.place_call(destination_number="1140040002")
    assert r.apps == [("hangup", "USER_BUSY")]

    result = store.push({"numbers": {A: hangup("NO_ANSWER")}})
    engine.wait_health(lambda h: h["rules_version"] == result.version, timeout=2, what="v2")
    assert cause_of(sim) == "NO_ANSWER"
    assert cause_of(sim, B) == "USER_BUSY"           # untouched numbers stay
    update = engine.logged("rules updated from Redis")[-1]
    assert update["full"] is False and update["numbers_changed"] == [A]

    store.delete([A])
    engine.wait_health(lambda h: h["numbers_loaded"] == 1, timeout=2, what="deleted")
    assert cause_of(sim) == "UNALLOCATED_NUMBER"


def test_a_call_in_progress_keeps_its_plan(redis_url, store, engine_on):
    from tests.fsim.targets import Target

    store.push({"numbers": {A: {"forwarding": [{"to": "+5511900000001", "ring_seconds": 20}]}}})
    engine = engine_on(redis_url)
    sim = Simulator(port=engine.port, time_scale=0.01,
                    targets={"+5511900000001": Target.answers(after=1, talk=100)})
    call = sim.place_call_async(destination_number=A)
    deadline = time.monotonic() + 5                    # planned, bridged and talking
    while not any(name == "CHANNEL_BRIDGE" for name, _ in call.call.result.events):
        assert time.monotonic() < deadline, "the call never reached its bridge"
        time.sleep(0.01)
    store.push({"numbers": {A: hangup("CALL_REJECTED")}})
    engine.wait_health(lambda h: h["rules_version"] == 2, timeout=2, what="v2")
    assert cause_of(sim) == "CALL_REJECTED"            # a new call has the new plan
    result = call.result(15)                           # the old one finishes on the old plan
    assert result.bridges and result.bridges[0].outcome == "SUCCESS"
    assert engine.wait_record(result.uuid)["outcome"] == "answered"


def test_a_missed_message_is_caught_by_the_version_check(redis_url, store, rclient, engine_on):
    store.push(config(**{A: "CALL_REJECTED"}))
    engine = engine_on(redis_url)
    engine.wait_health(lambda h: h["status"] == "ok", what="ok")
    sim = sim_for(engine)
    assert cause_of(sim) == "CALL_REJECTED"
    # a writer that forgets to publish
    rclient.hset(NUMBERS, A, json.dumps({"timezone": "UTC", **hangup("USER_BUSY")}))
    rclient.incr(VERSION)
    started = time.monotonic()
    engine.wait_health(lambda h: h["rules_version"] == 2, timeout=5, what="v2")
    assert time.monotonic() - started < CHECK_SECONDS + 1.0
    assert cause_of(sim) == "USER_BUSY"
    assert engine.logged("rules version differs from Redis")


def test_a_corrupt_entry_keeps_the_previous_version(redis_url, store, rclient, engine_on):
    store.push(config(**{A: "CALL_REJECTED", B: "USER_BUSY"}))
    engine = engine_on(redis_url)
    engine.wait_health(lambda h: h["status"] == "ok", what="ok")
    sim = sim_for(engine)
    # one update that corrupts A and changes B, as a broken writer would send it
    with rclient.pipeline(transaction=True) as p:
        p.hset(NUMBERS, A, '{"hangup": [{"cause": "USER_BUSY"}')
        p.hset(NUMBERS, B, json.dumps({"timezone": "UTC", **hangup("NO_ANSWER")}))
        p.incr(VERSION)
        p.publish(UPDATES, json.dumps({"version": 2, "numbers": [A, B]}))
        p.execute()
    engine.wait_health(lambda h: h["rules_version"] == 2, timeout=2, what="v2")
    assert cause_of(sim) == "CALL_REJECTED"           # A: the previous version stays
    assert cause_of(sim, B) == "NO_ANSWER"             # B: applied
    [error] = engine.logged("invalid configuration in Redis")
    assert error["level"] == "error" and error["number"] == A
    assert "stored entry is not valid JSON" in error["errors"][0]
    # an entry that is JSON but invalid, written as a well-behaved writer would
    rclient.hset(NUMBERS, B, json.dumps({"hangup": [{"cause": "NOT_A_CAUSE"}]}))
    rclient.incr(VERSION)
    rclient.publish(UPDATES, json.dumps({"version": 3, "numbers": [B]}))
    engine.wait_health(lambda h: h["rules_version"] == 3, timeout=2, what="v3")
    assert cause_of(sim, B) == "NO_ANSWER"
    errors = engine.logged("invalid configuration in Redis")
    assert errors[-1]["errors"] == ["numbers.+551140040002.hangup[0].cause: unknown hangup cause "
                                    "'NOT_A_CAUSE' (FreeSWITCH names such as NORMAL_CLEARING, "
                                    "CALL_REJECTED, USER_BUSY, UNALLOCATED_NUMBER)"]
    # the periodic check does not log the same bad value again and again
    time.sleep(CHECK_SECONDS * 3)
    assert len(engine.logged("invalid configuration in Redis")) == 2
    assert engine.health()["status"] == "ok"


def test_a_large_reload_is_in_force_at_once_and_compiled_in_the_background(
        redis_url, store, rclient, engine_on):
    from engine.feeds.applier import LARGE

    many = {f"+5511400{i:05d}": "CALL_REJECTED" for i in range(LARGE + 100)}
    store.push(config(**many))
    engine = engine_on(redis_url)
    engine.wait_health(lambda h: h["status"] == "ok" and h["numbers_loaded"] == len(many), what="ok")
    # The first load is large too, so it is compiled in the background as well; numbers
    # queued while a warm-up runs join it (engine/feeds/warmer.py), so let it finish
    # first: what is measured below is the second version's own warm-up.
    deadline = time.monotonic() + 20
    while not [l for l in engine.logged("rules compiled") if l["version"] == 1]:
        assert time.monotonic() < deadline, "the first warm-up never finished"
        time.sleep(0.05)
    sim = sim_for(engine)
    first, broken, last = sorted(many)[0], sorted(many)[1], sorted(many)[-1]
    # every number changes; one of them is corrupted by a writer around `rules push`
    payload = {n: json.dumps({"timezone": "UTC", **hangup("USER_BUSY")}) for n in many}
    payload[broken] = '{"hangup": '
    with rclient.pipeline(transaction=True) as p:
        p.hset(NUMBERS, mapping=payload).incr(VERSION)
        p.publish(UPDATES, json.dumps({"version": 2, "numbers": sorted(payload)}))
        p.execute()
    engine.wait_health(lambda h: h["rules_version"] == 2, timeout=5, what="v2")
    assert cause_of(sim, last) == "USER_BUSY"
    assert cause_of(sim, broken) == "CALL_REJECTED"          # the previous version stays
    deadline = time.monotonic() + 20
    while not [l for l in engine.logged("rules compiled") if l["version"] == 2]:
        assert time.monotonic() < deadline, "the warm-up never finished"
        time.sleep(0.05)
    [done] = [l for l in engine.logged("rules compiled") if l["version"] == 2]
    assert done["compiled"] == len(many) and done["invalid"] == 1
    update = [l for l in engine.logged("rules updated from Redis") if l["version"] == 2][0]
    assert update["deferred"] is True and update["changed"] == len(many)
    assert [l["number"] for l in engine.logged("invalid configuration in Redis")] == [broken]
    assert cause_of(sim, first) == "USER_BUSY" and cause_of(sim, broken) == "CALL_REJECTED"
    assert engine.health()["numbers_loaded"] == len(many)


def test_redis_down_at_start_then_up(tmp_path, engine_on):
    server = RedisServer(tmp_path / "redis")            # not started yet
    try:
        engine = engine_on(server.url)
        h = engine.health()
        assert h["status"] == "starting" and h["redis"] == "disconnected" and h["numbers_loaded"] == 0
        assert "Connection refused" in h["redis_problem"]
        with pytest.raises(urllib.error.HTTPError) as exc:
            urllib.request.urlopen(f"http://127.0.0.1:{engine.http_port}/health", timeout=2)
        assert exc.value.code == 503
        sim = sim_for(engine)
        assert cause_of(sim) is None                     # refused: FreeSWITCH fails over
        assert engine.logged("Redis unavailable")
        server.start()
        RedisStore(server.url).push(config(**{A: "CALL_REJECTED"}))
        engine.wait_health(lambda h: h["status"] == "ok", timeout=10, what="ok")
        assert cause_of(sim) == "CALL_REJECTED"
    finally:
        server.kill()


def test_redis_killed_and_restarted_while_calls_go_on(tmp_path, engine_on):
    server = RedisServer(tmp_path / "redis").start()
    try:
        store = RedisStore(server.url)
        store.push(config(**{A: "CALL_REJECTED", B: "USER_BUSY"}))
        engine = engine_on(server.url)
        engine.wait_health(lambda h: h["status"] == "ok", what="ok")
        sim = sim_for(engine)
        before = [sim.place_call(destination_number=A).uuid for _ in range(3)]
        client = server.client()
        deadline = time.monotonic() + 5
        while client.xlen(CALLS) < 3 and time.monotonic() < deadline:
            time.sleep(0.02)
        assert client.xlen(CALLS) == 3

        server.kill()
        h = engine.wait_health(lambda h: h["redis"] == "disconnected", timeout=5, what="disconnected")
        assert h["status"] == "degraded"
        during = []
        for _ in range(10):                              # calls keep being served, from memory
            started = time.monotonic()
            r = sim.place_call(destination_number=B)
            assert r.apps == [("hangup", "USER_BUSY")]
            assert time.monotonic() - started < 1.0
            during.append(r.uuid)
        h = engine.wait_health(lambda h: h["records_buffered"] == 10, timeout=5, what="buffered")
        assert h["status"] == "degraded" and h["stale_seconds"] > 0 and h["records_dropped"] == 0
        time.sleep(0.3)
        assert engine.health()["stale_seconds"] > h["stale_seconds"]   # growing

        server.start()                                   # back, and empty (no persistence)
        h = engine.wait_health(lambda h: h["redis"] == "connected" and h["records_buffered"] == 0,
                               timeout=10, what="reconnected")
        # an empty Redis is not mirrored: the last known rules keep serving
        assert h["status"] == "degraded" and h["numbers_loaded"] == 2
        assert "Redis is empty" in h["redis_problem"]
        assert sim.place_call(destination_number=A).apps == [("hangup", "CALL_REJECTED")]
        # buffered records reached the stream once it was back
        client = server.client()
        streamed = [fields["uuid"] for _, fields in client.xrange(CALLS)]
        assert set(during) <= set(streamed)

        # updates flow again: the operator pushes the configuration back, with a change
        RedisStore(server.url).push(config(**{A: "NO_ANSWER", B: "USER_BUSY"}))
        h = engine.wait_health(lambda h: h["status"] == "ok", timeout=5, what="ok")
        assert h["redis_problem"] is None and h["stale_seconds"] == 0
        assert cause_of(sim) == "NO_ANSWER"
        assert set(before).isdisjoint(streamed)          # those were written before the crash
    finally:
        server.kill()


def test_call_record_buffer_overflow_is_counted(tmp_path, engine_on):
    server = RedisServer(tmp_path / "redis").start()
    try:
        RedisStore(server.url).push(config(**{A: "CALL_REJECTED"}))
        # the smallest buffer: one batch (200); pretend a tiny one by filling past it
        engine = engine_on(server.url, CALLFLOW_REDIS_BUFFER_SIZE="0")
        engine.wait_health(lambda h: h["status"] == "ok", what="ok")
        server.kill()
        engine.wait_health(lambda h: h["redis"] == "disconnected", timeout=5, what="disconnected")
        sim = sim_for(engine)
        for _ in range(205):
            assert sim.place_call(destination_number=A).apps == [("hangup", "CALL_REJECTED")]
        h = engine.wait_health(lambda h: h["records_dropped"] == 5, timeout=5, what="dropped")
        assert h["records_buffered"] == 200
        [line] = engine.logged("call record buffer full")
        assert line["level"] == "warning" and line["dropped_total"] == 1
    finally:
        server.kill()


def test_password_protected_redis(tmp_path, engine_on, callflow):
    server = RedisServer(tmp_path / "redis", username="engine", password="pw-n0t-in-logs").start()
    try:
        assert callflow("rules", "push", "examples/rules.yaml", "--redis", server.url).returncode == 0
        engine = engine_on(server.url)
        h = engine.wait_health(lambda h: h["status"] == "ok", what="ok")
        assert h["numbers_loaded"] == 3 and h["redis_url"] == f"redis://engine:***@127.0.0.1:{server.port}/0"
        r = sim_for(engine).place_call(destination_number="+551140040000",
                                       caller_id_number="+5521988887777")
        assert not r.refused
        engine.wait_record(r.uuid)
        deadline = time.monotonic() + 5
        while server.client().xlen(CALLS) < 1 and time.monotonic() < deadline:
            time.sleep(0.02)
        assert server.client().xlen(CALLS) == 1
        server.kill()
        engine.wait_health(lambda h: h["redis"] == "disconnected", timeout=5, what="disconnected")
        assert "pw-n0t-in-logs" not in engine.log_text()
        assert "pw-n0t-in-logs" not in json.dumps(engine.health())
    finally:
        server.kill()


def test_tls_with_password(tmp_path, engine_on, callflow):
    server = RedisServer(tmp_path / "redis", password="tls-pw-secret", tls=True).start()
    try:
        assert server.url.startswith("rediss://:tls-pw-secret@")
        r = callflow("rules", "push", "examples/rules.yaml", "--redis", server.url)
        assert r.returncode == 0, r.stderr
        # the same port without TLS is refused
        plain = server.url.replace("rediss://", "redis://").split("?")[0]
        with pytest.raises(Exception):
            RedisStore(plain, connect_timeout=1, socket_timeout=1).version()
        engine = engine_on(server.url)
        h = engine.wait_health(lambda h: h["status"] == "ok", what="ok")
        assert h["numbers_loaded"] == 3 and h["redis_url"].startswith("rediss://:***@127.0.0.1")
        r = sim_for(engine).place_call(destination_number="+551140040000")
        engine.wait_record(r.uuid)
        deadline = time.monotonic() + 5
        while server.client().xlen(CALLS) < 1 and time.monotonic() < deadline:
            time.sleep(0.02)
        assert server.client().xlen(CALLS) == 1
        assert "tls-pw-secret" not in engine.log_text()
    finally:
        server.kill()
