"""Numbers: list, read, create/replace, delete; notations, validation, ETags, 401/404/412/503."""
from __future__ import annotations

import json
import time

import pytest

from rules.api_store import etag
from rules.redis_store import NUMBERS, UPDATES, VERSION
from tests.rules.api.conftest import ACME, GLOBEX, OPS, auth

N = "+551140040000"


def test_list_is_filtered_by_scope(client, seeded):
    r = client.get("/v1/numbers", headers=auth(OPS))
    assert r.status_code == 200
    assert sorted(r.json()["numbers"]) == [N, "+552130030000"]
    assert list(client.get("/v1/numbers", headers=auth(ACME)).json()["numbers"]) == [N]
    assert list(client.get("/v1/numbers", headers=auth(GLOBEX)).json()["numbers"]) == ["+552130030000"]


def test_get_returns_the_stored_canonical_entry_with_etag(client, seeded):
    r = client.get(f"/v1/numbers/{N}", headers=auth(ACME))
    assert r.status_code == 200
    raw = seeded.client.hget(NUMBERS, N)
    assert r.json() == json.loads(raw)
    assert r.headers["etag"] == etag(raw)
    body = r.json()
    assert body["timezone"] == "America/Sao_Paulo"          # from defaults, made explicit
    assert body["forwarding"][0]["to"] == ["+5511999990000"]  # normalised


@pytest.mark.parametrize("notation", ["%2B551140040000", "%2B55 11 4004-0000", "(11) 4004-0000",
                                      "011 4004-0000", "11.4004.0000"])
def test_any_common_notation_in_the_path(client, seeded, notation):
    r = client.get(f"/v1/numbers/{notation}", headers=auth(ACME))
    assert r.status_code == 200, r.text


def test_unknown_and_junk_numbers_are_404(client, seeded):
    assert client.get("/v1/numbers/+551140049999", headers=auth(OPS)).status_code == 404
    assert client.get("/v1/numbers/not-a-number", headers=auth(OPS)).status_code == 404
    assert client.delete("/v1/numbers/+551140049999", headers=auth(OPS)).status_code == 404


def test_authentication_is_required(client, seeded):
    for headers in ({}, {"Authorization": "Bearer wrong"}, {"Authorization": f"Basic {ACME}"},
                    {"Authorization": "Bearer "}):
        r = client.get("/v1/numbers", headers=headers)
        assert r.status_code == 401
        assert r.headers["www-authenticate"] == "Bearer"
    assert client.get(f"/v1/numbers/{N}").status_code == 401
    assert client.put(f"/v1/numbers/{N}", json={}).status_code == 401


def test_put_creates_then_replaces_bumps_version_and_publishes(client, seeded):
    ps = seeded.client.pubsub(ignore_subscribe_messages=True)
    ps.subscribe(UPDATES)
    ps.get_message(timeout=1)
    v0 = int(seeded.client.get(VERSION))
    entry = {"forwarding": [{"to": "(11) 98888-1111", "ring_seconds": 30}]}
    r = client.put("/v1/numbers/(11) 4004-0001", json=entry, headers=auth(ACME))
    assert r.status_code == 201, r.text
    assert r.json() == {"timezone": "America/Sao_Paulo",
                        "forwarding": [{"to": ["+5511988881111"], "ring_seconds": 30, "record": False}]}
    assert r.headers["etag"] == etag(seeded.client.hget(NUMBERS, "+551140040001"))
    assert int(seeded.client.get(VERSION)) == v0 + 1
    msg = _next_message(ps)
    assert json.loads(msg) == {"version": v0 + 1, "numbers": ["+551140040001"]}

    # The same content again: nothing changes, nothing is published (as `rules push`).
    r = client.put("/v1/numbers/+551140040001", json=entry, headers=auth(ACME))
    assert r.status_code == 200
    assert int(seeded.client.get(VERSION)) == v0 + 1
    assert _next_message(ps, timeout=0.3) is None

    r = client.put("/v1/numbers/+551140040001", json={"hangup": [{}]}, headers=auth(ACME))
    assert r.status_code == 200
    assert r.json() == {"timezone": "America/Sao_Paulo", "hangup": [{"cause": "NORMAL_CLEARING"}]}
    assert json.loads(_next_message(ps)) == {"version": v0 + 2, "numbers": ["+551140040001"]}
    ps.close()


def test_the_published_message_is_the_same_as_a_push(store):
    ps = store.client.pubsub(ignore_subscribe_messages=True)
    ps.subscribe(UPDATES)
    ps.get_message(timeout=1)
    store.push({"defaults": {"region": "BR"}, "numbers": {N: {}}})
    pushed = _next_message(ps)
    from rules.api_store import ApiStore
    ApiStore(store).put("+551140040001", '{"timezone":"UTC"}')
    ours = _next_message(ps)
    assert pushed.replace("+551140040000", "X").replace('"version":1', '"version":N') == \
        ours.replace("+551140040001", "X").replace('"version":2', '"version":N')
    ps.close()


def _next_message(ps, timeout: float = 2.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        m = ps.get_message(timeout=0.1)
        if m and m["type"] == "message":
            data = m["data"]
            return data.decode() if isinstance(data, bytes) else data
    return None


def test_validation_errors_are_422_with_every_path_and_nothing_is_stored(client, seeded):
    before = seeded.client.hgetall(NUMBERS)
    v0 = seeded.client.get(VERSION)
    bad = {"forwarding": [{"to": "+5511999990000", "ring_seconds": 20},
                          {"to": "+5511999990000", "ring_seconds": 2}],
           "voicemail": [{"email": ["not-an-email"]}],
           "messages": [{"audio": "../etc/passwd"}],
           "colour": "blue"}
    r = client.put(f"/v1/numbers/{N}", json=bad, headers=auth(ACME))
    assert r.status_code == 422
    errors = r.json()["errors"]
    paths = [e["path"] for e in errors]
    assert {"path": f"numbers.{N}.forwarding[1].ring_seconds",
            "message": "must be between 5 and 300"} in errors
    assert f"numbers.{N}.voicemail[0].email[0]" in paths
    assert f"numbers.{N}.messages[0].audio" in paths
    assert f"numbers.{N}.colour" in paths
    assert seeded.client.hgetall(NUMBERS) == before
    assert seeded.client.get(VERSION) == v0


@pytest.mark.parametrize("body", ["[1, 2]", "\"text\"", "{not json", ""])
def test_bodies_that_are_not_an_entry_are_422(client, seeded, body):
    r = client.put(f"/v1/numbers/{N}", content=body, headers={**auth(ACME), "Content-Type": "application/json"})
    assert r.status_code == 422
    assert r.json()["errors"]


def test_a_bad_number_in_a_write_is_422_with_its_path(client, seeded):
    r = client.put("/v1/numbers/12", json={}, headers=auth(OPS))
    assert r.status_code == 422
    assert r.json()["errors"][0]["path"] == "numbers.12"


def test_allow_list_applies_to_writes(make_client, seeded):
    client = make_client(allowed_prefixes=("+5511",))
    r = client.put(f"/v1/numbers/{N}", json={"forwarding": [{"to": "+12025550123"}]}, headers=auth(ACME))
    assert r.status_code == 422
    assert r.json()["errors"][0]["path"] == f"numbers.{N}.forwarding[0].to"
    assert "allow-list" in r.json()["errors"][0]["message"]
    ok = client.put(f"/v1/numbers/{N}", json={"forwarding": [{"to": "+5511988881111"}]}, headers=auth(ACME))
    assert ok.status_code == 200


def test_out_of_scope_is_404_for_every_verb_and_changes_nothing(client, seeded):
    before = seeded.client.hgetall(NUMBERS)
    other = "+552130030000"
    assert client.get(f"/v1/numbers/{other}", headers=auth(ACME)).status_code == 404
    assert client.put(f"/v1/numbers/{other}", json={}, headers=auth(ACME)).status_code == 404
    assert client.put("/v1/numbers/+552130039999", json={}, headers=auth(ACME)).status_code == 404
    assert client.delete(f"/v1/numbers/{other}", headers=auth(ACME)).status_code == 404
    assert client.get(f"/v1/numbers/{other}/forwarding", headers=auth(ACME)).status_code == 404
    assert client.put(f"/v1/numbers/{other}/forwarding", json=[], headers=auth(ACME)).status_code == 404
    assert client.get(f"/v1/numbers/{other}/plan", headers=auth(ACME)).status_code == 404
    # Indistinguishable from a number that does not exist at all.
    a = client.get(f"/v1/numbers/{other}", headers=auth(ACME))
    b = client.get("/v1/numbers/+551140049999", headers=auth(ACME))
    assert a.json() == b.json()
    assert seeded.client.hgetall(NUMBERS) == before


def test_if_match_optimistic_concurrency(client, seeded):
    tag = client.get(f"/v1/numbers/{N}", headers=auth(ACME)).headers["etag"]
    first = client.put(f"/v1/numbers/{N}", json={"hangup": [{}]},
                       headers={**auth(ACME), "If-Match": tag})
    assert first.status_code == 200
    assert first.headers["etag"] != tag
    stale = client.put(f"/v1/numbers/{N}", json={"hangup": [{"cause": "USER_BUSY"}]},
                       headers={**auth(ACME), "If-Match": tag})
    assert stale.status_code == 412
    assert client.get(f"/v1/numbers/{N}", headers=auth(ACME)).json()["hangup"] == [{"cause": "NORMAL_CLEARING"}]
    assert client.delete(f"/v1/numbers/{N}", headers={**auth(ACME), "If-Match": tag}).status_code == 412
    weak = client.put(f"/v1/numbers/{N}", json={}, headers={**auth(ACME), "If-Match": "W/" + first.headers["etag"]})
    assert weak.status_code == 200
    assert client.put(f"/v1/numbers/{N}", json={}, headers={**auth(ACME), "If-Match": '""'}).status_code == 412


def test_if_none_match_star_creates_only_and_if_match_star_updates_only(client, seeded):
    h = auth(ACME)
    assert client.put(f"/v1/numbers/{N}", json={}, headers={**h, "If-None-Match": "*"}).status_code == 412
    assert client.put("/v1/numbers/+551140040002", json={}, headers={**h, "If-Match": "*"}).status_code == 412
    assert client.put("/v1/numbers/+551140040002", json={}, headers={**h, "If-None-Match": "*"}).status_code == 201
    assert client.put("/v1/numbers/+551140040002", json={}, headers={**h, "If-Match": "*"}).status_code == 200


def test_delete(client, seeded):
    v0 = int(seeded.client.get(VERSION))
    tag = client.get(f"/v1/numbers/{N}", headers=auth(ACME)).headers["etag"]
    r = client.delete(f"/v1/numbers/{N}", headers={**auth(ACME), "If-Match": tag})
    assert r.status_code == 204
    assert seeded.client.hget(NUMBERS, N) is None
    assert int(seeded.client.get(VERSION)) == v0 + 1
    assert client.get(f"/v1/numbers/{N}", headers=auth(ACME)).status_code == 404
    assert client.delete(f"/v1/numbers/{N}", headers=auth(ACME)).status_code == 404


def test_redis_down_is_503_with_a_clear_message_and_no_secrets(tmp_path):
    from fastapi.testclient import TestClient

    from rules.api.app import create_app
    from rules.api.auth import parse_tokens
    from rules.api.settings import ApiSettings
    from rules.redis_store import RedisStore
    from tests.rules.api.conftest import TOKENS
    from tests.helpers.engine_proc import free_port

    url = f"redis://:hunter2@127.0.0.1:{free_port()}/0"
    store = RedisStore(url, connect_timeout=0.5)
    client = TestClient(create_app(ApiSettings(rules=url), store, tokens=parse_tokens(TOKENS)))
    for method, path in (("get", "/v1/numbers"), ("get", f"/v1/numbers/{N}"),
                         ("get", "/v1/calls"), ("get", "/v1/calls/x")):
        r = getattr(client, method)(path, headers=auth(OPS))
        assert r.status_code == 503, (path, r.text)
        assert r.json() == {"detail": "the configuration store is unavailable; retry shortly"}
        assert r.headers["retry-after"] == "5"
    r = client.put(f"/v1/numbers/{N}", json={}, headers=auth(OPS))
    assert r.status_code == 503
    assert "hunter2" not in r.text
    r = client.get("/health")                       # what compose and load balancers probe
    assert r.status_code == 503 and r.headers["retry-after"] == "5"
    assert r.json() == {"status": "unavailable", "problem": "the configuration store is unavailable"}


def test_health_needs_no_token_and_tells_nothing_else(client):
    r = client.get("/health")
    assert r.status_code == 200 and r.json() == {"status": "ok"}


def test_the_list_comes_in_pages_in_e164_order(client, seeded):
    numbers = [f"+5511400401{i:02d}" for i in range(7)]
    for n in numbers:
        assert client.put(f"/v1/numbers/{n}", json={"hangup": [{}]}, headers=auth(ACME)).status_code in (200, 201)
    mine = sorted([N, *numbers])                                   # ACME sees +551140040*
    seen, cursor, pages = [], None, 0
    while True:
        params = {"limit": 3, **({"cursor": cursor} if cursor else {})}
        r = client.get("/v1/numbers", params=params, headers=auth(ACME))
        assert r.status_code == 200, r.text
        body = r.json()
        assert len(body["numbers"]) <= 3 and list(body["numbers"]) == sorted(body["numbers"])
        seen += list(body["numbers"])
        pages += 1
        cursor = body["next_cursor"]
        if cursor is None:
            break
        assert cursor == seen[-1]
    assert seen == mine and pages == 3
    # GLOBEX's number is never on ACME's pages, whatever the cursor
    r = client.get("/v1/numbers", params={"cursor": "+5521"}, headers=auth(ACME))
    assert r.json() == {"numbers": {}, "next_cursor": None}
    everything = client.get("/v1/numbers", headers=auth(OPS)).json()
    assert list(everything["numbers"]) == sorted([*mine, "+552130030000"])
    assert everything["next_cursor"] is None


@pytest.mark.parametrize("params, path", [({"cursor": "5511"}, "query.cursor"),
                                          ({"cursor": "+55 11"}, "query.cursor"),
                                          ({"limit": 0}, "query.limit"),
                                          ({"limit": 1001}, "query.limit")])
def test_a_bad_page_request_is_422_naming_the_parameter(client, seeded, params, path):
    r = client.get("/v1/numbers", params=params, headers=auth(OPS))
    assert r.status_code == 422
    assert [e["path"] for e in r.json()["errors"]] == [path]
