"""The Redis store against a real redis-server: push/pull/delete through the commands,
validation before any write, atomicity of pushes as readers see them, consistent
chunked reads, the call-record stream's cap, and passwords kept out of output."""
from __future__ import annotations

import json
import threading
import time
from pathlib import Path

import pytest
import yaml

from rules.errors import ConfigError, StoreUnavailable
from rules.loader import load_text
from rules.redis_store import CALLS, NUMBERS, UPDATES, VERSION, RedisStore, mask_url
from rules.stored import StoredConfig

ROOT = Path(__file__).parents[2]
EXAMPLE = ROOT / "examples" / "rules.yaml"
BAD = ROOT / "tests" / "rules" / "fixtures" / "bad"


def listen(rclient):
    """A subscriber to the updates channel, ready before anything is pushed."""
    ps = rclient.pubsub(ignore_subscribe_messages=True)
    ps.subscribe(UPDATES)
    deadline = time.monotonic() + 5
    while ps.get_message(timeout=0.1) is None and time.monotonic() < deadline:
        if ps.subscribed:
            break
    return ps


def messages(ps, wait=0.3):
    out = []
    deadline = time.monotonic() + wait
    while time.monotonic() < deadline:
        m = ps.get_message(timeout=0.05)
        if m and m["type"] == "message":
            out.append(json.loads(m["data"]))
    return out


# -- push / pull / delete through the commands ------------------------------------------

def test_push_pull_round_trip(callflow, redis_url, rclient, tmp_path):
    ps = listen(rclient)
    r = callflow("rules", "push", EXAMPLE, "--redis", redis_url)
    assert r.returncode == 0, r.stderr
    assert r.stdout == "pushed: 3 of 3 numbers written, defaults changed (version 1)\n"
    assert rclient.get(VERSION) == "1"
    assert sorted(rclient.hkeys(NUMBERS)) == ["+551140040000", "+558001234567", "+559232320000"]
    assert messages(ps) == [{"version": 1, "numbers": ["+551140040000", "+558001234567",
                                                         "+559232320000"]}]
    # every stored entry is self-contained: its time zone is explicit, national notation gone
    entry = json.loads(rclient.hget(NUMBERS, "+559232320000"))
    assert entry["timezone"] == "America/Manaus"
    assert json.loads(rclient.hget(NUMBERS, "+558001234567"))["forwarding"][1]["to"] == ["+5511988881111"]

    pulled = callflow("rules", "pull", "--redis", redis_url)
    assert pulled.returncode == 0, pulled.stderr
    data = yaml.safe_load(pulled.stdout)
    assert data["defaults"] == {"timezone": "America/Sao_Paulo", "region": "BR"}
    # the pulled file means exactly what was pushed...
    assert StoredConfig.from_mapping(data).entries == StoredConfig.from_file(EXAMPLE).entries
    original, again = load_text(EXAMPLE.read_text()), load_text(pulled.stdout)
    assert sorted(original) == sorted(again)
    assert original.entries == again.entries
    # ...and pushing it back changes nothing: no version bump, no message
    back = tmp_path / "pulled.yaml"
    back.write_text(pulled.stdout)
    r = callflow("rules", "push", back, "--redis", redis_url)
    assert r.returncode == 0 and r.stdout == "nothing changed: 3 numbers already stored (version 1)\n"
    assert rclient.get(VERSION) == "1" and messages(ps) == []


def test_push_writes_only_what_changed_and_replace_removes(callflow, redis_url, rclient, tmp_path):
    assert callflow("rules", "push", EXAMPLE, "--redis", redis_url).returncode == 0
    ps = listen(rclient)
    one = tmp_path / "one.yaml"
    one.write_text('defaults: {region: BR, timezone: America/Sao_Paulo}\n'
                   'numbers:\n  "(92) 3232-0000": {timezone: America/Manaus, hangup: [{}]}\n'
                   '  "+55 11 4004-0099": {hangup: [{cause: USER_BUSY}]}\n')
    r = callflow("rules", "push", one, "--redis", redis_url)
    assert r.returncode == 0, r.stderr
    assert messages(ps) == [{"version": 2, "numbers": ["+559232320000", "+551140040099"]}]
    assert len(rclient.hkeys(NUMBERS)) == 4              # without --replace nothing is removed

    r = callflow("rules", "push", one, "--redis", redis_url, "--replace")
    assert r.returncode == 0, r.stderr
    assert r.stdout == "pushed: 0 of 2 numbers written, 2 removed (version 3)\n"
    [m] = messages(ps)                      # removals come in the hash's order
    assert m["version"] == 3 and sorted(m["numbers"]) == ["+551140040000", "+558001234567"]
    assert sorted(rclient.hkeys(NUMBERS)) == ["+551140040099", "+559232320000"]


def test_invalid_push_is_rejected_whole(callflow, redis_url, rclient, tmp_path):
    assert callflow("rules", "push", EXAMPLE, "--redis", redis_url).returncode == 0
    before = rclient.hgetall(NUMBERS)
    ps = listen(rclient)

    # the same errors as `rules check`, every one of them, and nothing written
    r = callflow("rules", "push", BAD / "values.yaml", "--redis", redis_url)
    assert r.returncode == 1
    assert r.stdout == ""
    assert r.stderr.splitlines() == (BAD / "values.expected").read_text().splitlines()

    # one good change next to one bad number: the good one is not written either
    mixed = tmp_path / "mixed.yaml"
    mixed.write_text('numbers:\n'
                     '  "+551140040000": {hangup: [{cause: USER_BUSY}]}\n'
                     '  "+551140040001": {forwarding: [{to: "+5511999990000", ring_seconds: 1}]}\n')
    r = callflow("rules", "push", mixed, "--redis", redis_url, "--replace")
    assert r.returncode == 1
    assert r.stderr == "numbers.+551140040001.forwarding[0].ring_seconds: must be between 5 and 300\n"
    assert rclient.hgetall(NUMBERS) == before
    assert rclient.get(VERSION) == "1"
    assert messages(ps) == []


def test_push_checks_the_deployment_allow_list(callflow, redis_url, rclient):
    r = callflow("rules", "push", EXAMPLE, "--redis", redis_url, env={"CALLFLOW_ALLOWED_PREFIXES": "+5511"})
    assert r.returncode == 1
    assert "is not allowed by this deployment's destination allow-list (+5511)" in r.stderr
    assert rclient.exists(NUMBERS, VERSION) == 0


def test_delete_in_any_notation(callflow, redis_url, rclient):
    assert callflow("rules", "push", EXAMPLE, "--redis", redis_url).returncode == 0
    ps = listen(rclient)
    # national notation is read with the stored defaults' region (BR)
    r = callflow("rules", "delete", "(92) 3232-0000", "+55 11 4004-0001", "--redis", redis_url)
    assert r.returncode == 0, r.stderr
    assert r.stdout == "deleted: +559232320000 (version 2)\n"
    assert r.stderr == "warning: +551140040001 is not stored\n"
    assert messages(ps) == [{"version": 2, "numbers": ["+559232320000"]}]
    r = callflow("rules", "delete", "12", "--redis", redis_url)
    assert r.returncode == 1 and r.stderr.startswith("numbers.12: ")
    assert rclient.get(VERSION) == "2"


def test_plan_reads_redis(callflow, redis_url, rclient):
    assert callflow("rules", "push", EXAMPLE, "--redis", redis_url).returncode == 0
    rclient.hset(NUMBERS, "+551140040077", "{not json")
    for args, env in ((("plan", redis_url, "+55 11 4004-0000"), None),
                      (("plan", "--rules", redis_url, "1140040000"), None),
                      (("plan", "+551140040000"), {"CALLFLOW_RULES": redis_url})):
        r = callflow(*args, "--caller", "21988887777", "--at", "2026-11-27T10:00", env=env)
        assert r.returncode == 0, r.stderr
        plan = json.loads(r.stdout)
        assert plan["number"] == "+551140040000" and plan["start"] == ["welcome.wav"]
        assert plan["local_time"] == "2026-11-27T10:00:00-03:00"
        assert "+551140040077" not in r.stderr     # only the called number is compiled
    # the corrupt one: left out with its errors, refused as the engine would
    r = callflow("plan", redis_url, "+551140040077")
    assert r.returncode == 0, r.stderr
    assert json.loads(r.stdout)["hangup"] == "UNALLOCATED_NUMBER"
    assert r.stderr.startswith("warning: +551140040077 left out, its stored entry is invalid:\n"
                               "  numbers.+551140040077: stored entry is not valid JSON")
    assert "warning: +551140040077 is not configured" in r.stderr
    r = callflow("plan", "+551140040000")
    assert r.returncode == 2


def test_redis_unavailable_is_reported_with_the_password_masked(callflow):
    from tests.helpers.engine_proc import free_port

    url = f"redis://ops:hunter2@127.0.0.1:{free_port()}/0"
    for args in (("rules", "push", EXAMPLE, "--redis", url), ("rules", "pull", "--redis", url),
                 ("plan", url, "+551140040000")):
        r = callflow(*args)
        assert r.returncode == 1
        assert "redis://ops:***@127.0.0.1" in r.stderr and "hunter2" not in r.stderr + r.stdout
    with pytest.raises(StoreUnavailable):
        RedisStore(url).version()


def test_mask_url():
    assert mask_url("rediss://ops:s3cret@h:6380/2") == "rediss://ops:***@h:6380/2"
    assert mask_url("redis://:s3cret@h") == "redis://:***@h"
    assert mask_url("redis://h:6379/0?password=s3cret&x=1") == "redis://h:6379/0?password=***&x=1"
    assert mask_url("redis://h:6379/0") == "redis://h:6379/0"


def test_password_and_acl_user(tmp_path, callflow):
    from tests.helpers.redis_server import RedisServer

    server = RedisServer(tmp_path / "acl", username="callflow", password="s3cret-pw").start()
    try:
        r = callflow("rules", "push", EXAMPLE, "--redis", server.url)
        assert r.returncode == 0, r.stderr
        assert RedisStore(server.url).version() == 1
        wrong = server.url.replace("s3cret-pw", "wrong")
        r = callflow("rules", "pull", "--redis", wrong)
        assert r.returncode == 1 and "wrong" not in r.stderr and "***" in r.stderr
        anonymous = f"redis://127.0.0.1:{server.port}/0"
        with pytest.raises(StoreUnavailable):
            RedisStore(anonymous).version()
    finally:
        server.stop()


# -- atomicity ----------------------------------------------------------------------------

N = 300          # numbers per push
SHIFT = 60       # odd generations drop the first SHIFT numbers and add SHIFT new ones


def generation_numbers(g: int) -> list[str]:
    start = SHIFT if g % 2 else 0
    return [f"+5511{4004_0000 + i:08d}" for i in range(start, start + N)]


def generation(g: int) -> dict:
    return {"numbers": {n: {"messages": [{"audio": f"gen{g}.wav"}]} for n in generation_numbers(g)}}


def consistency_problems(entries: dict, version: int) -> list[str]:
    """A snapshot taken after push number ``version`` (generation g = version - 1) must hold
    exactly generation g's numbers, every one of them with generation g's content. A push
    seen half-applied breaks at least one of the two (mixed contents or the wrong set)."""
    if version == 0:
        return [] if not entries else [f"version 0 but {len(entries)} entries"]
    g = version - 1
    problems = []
    if sorted(entries) != generation_numbers(g):
        problems.append(f"version {version}: {len(entries)} numbers, not generation {g}'s set")
    stale = {json.loads(v)["messages"][0]["audio"] for v in entries.values()} - {f"gen{g}.wav"}
    if stale:
        problems.append(f"version {version}: entries of {sorted(stale)} among generation {g}")
    return problems


def test_the_consistency_check_detects_a_torn_push():
    whole = {n: json.dumps(v) for n, v in generation(4)["numbers"].items()}
    assert consistency_problems(whole, 5) == []
    torn = dict(whole)
    for n, v in list(generation(5)["numbers"].items())[: N // 2]:
        torn[n] = json.dumps(v)
    assert consistency_problems(torn, 5) and consistency_problems(torn, 6)
    assert consistency_problems(whole, 6)            # a version bumped before its entries


def test_readers_never_see_half_a_push(store, redis_server, rclient):
    pushes = 40
    configs = [StoredConfig.from_mapping(generation(g)) for g in range(pushes)]
    stop = threading.Event()
    seen: dict[str, set] = {"multi": set(), "chunked": set()}
    problems: list[str] = []
    published: list[dict] = []

    def multi_reader():
        client = redis_server.client()
        while not stop.is_set():
            with client.pipeline(transaction=True) as p:
                entries, version = p.hgetall(NUMBERS).get(VERSION).execute()
            version = int(version or 0)
            seen["multi"].add(version)
            problems.extend(consistency_problems(entries, version))

    def chunked_reader():
        # RedisStore's own read: many MULTIs of 25 entries, kept only if the version held
        reader = RedisStore(redis_server.url, chunk=25)
        while not stop.is_set():
            snap = reader.snapshot()
            seen["chunked"].add(snap.version)
            problems.extend(consistency_problems(snap.entries, snap.version))

    def subscriber(ps):
        while not stop.is_set():
            m = ps.get_message(timeout=0.05)
            if m and m["type"] == "message":
                published.append(json.loads(m["data"]))

    ps = listen(rclient)
    threads = [threading.Thread(target=f) for f in (multi_reader, chunked_reader)]
    threads.append(threading.Thread(target=subscriber, args=(ps,)))
    for t in threads:
        t.start()
    try:
        for g, config in enumerate(configs):
            result = store.push(config, replace=True)
            assert result.version == g + 1
            time.sleep(0.005)
        time.sleep(0.2)
    finally:
        stop.set()
        for t in threads:
            t.join(10)
    assert problems == []
    # the readers really ran during the pushes, at many versions
    assert len(seen["multi"]) >= 5 and len(seen["chunked"]) >= 3, seen
    # one message per push, in order, naming exactly what it changed
    assert [m["version"] for m in published] == list(range(1, pushes + 1))
    for g, m in enumerate(published):
        expected = set(generation_numbers(g))
        if g:
            expected |= set(generation_numbers(g - 1)) - set(generation_numbers(g))
        assert set(m["numbers"]) == expected and len(m["numbers"]) == len(expected)


def test_chunked_snapshot_of_given_numbers(store, rclient):
    store.push(generation(0))
    chunked = RedisStore(store.url, chunk=7)
    wanted = generation_numbers(0)[:50] + ["+551199999999"]
    snap = chunked.snapshot(wanted)
    assert snap.version == 1 and list(snap.entries) == wanted
    assert snap.entries["+551199999999"] is None
    assert all(json.loads(snap.entries[n])["messages"][0]["audio"] == "gen0.wav" for n in wanted[:50])


def test_push_mapping_is_validated_first(store, rclient):
    with pytest.raises(ConfigError) as exc:
        store.push({"numbers": {"+551140040000": {}, "+551140040001": {"hangup": [{"cause": "NOPE"}]}}})
    assert exc.value.errors[0][0] == "numbers.+551140040001.hangup[0].cause"
    assert rclient.exists(NUMBERS, VERSION) == 0


def test_defaults_are_written_only_when_given(store, rclient):
    store.push(StoredConfig.from_file(EXAMPLE))
    assert json.loads(rclient.get("callflow:defaults"))["region"] == "BR"
    result = store.push({"numbers": {"+551140040055": {}}})
    assert not result.defaults_changed
    assert json.loads(rclient.get("callflow:defaults"))["region"] == "BR"


# -- the call-record stream ---------------------------------------------------------------

def test_call_records_stream_is_capped_approximately(store, rclient):
    records = [{"uuid": f"u{i}", "number": "+551140040000", "record": "{}"} for i in range(5000)]
    for start in range(0, len(records), 500):
        store.append_records(records[start:start + 500], maxlen=1000)
    length = rclient.xlen(CALLS)
    assert 1000 <= length < 1300            # MAXLEN ~ trims whole nodes, never below the cap
    last = rclient.xrevrange(CALLS, count=1)[0][1]
    assert last["uuid"] == "u4999"
