"""Feature lists (messages, forwarding, voicemail, hangup) read and replaced as a whole."""
from __future__ import annotations

import json

import pytest

from rules.api.schemas import (EXAMPLE_FORWARDING, EXAMPLE_HANGUP, EXAMPLE_MESSAGES,
                               EXAMPLE_VOICEMAIL)
from rules.api_store import ApiStore, etag
from rules.redis_store import NUMBERS
from tests.rules.api.conftest import ACME, SEED, auth

N = "+551140040000"
EXAMPLES = {"messages": EXAMPLE_MESSAGES, "forwarding": EXAMPLE_FORWARDING,
            "voicemail": EXAMPLE_VOICEMAIL, "hangup": EXAMPLE_HANGUP}


@pytest.mark.parametrize("feature", list(EXAMPLES))
def test_get_and_put_each_feature(client, seeded, feature):
    r = client.get(f"/v1/numbers/{N}/{feature}", headers=auth(ACME))
    assert r.status_code == 200
    stored = json.loads(seeded.client.hget(NUMBERS, N))
    assert r.json() == stored[feature]
    assert r.headers["etag"] == etag(seeded.client.hget(NUMBERS, N))

    r = client.put(f"/v1/numbers/{N}/{feature}", json=EXAMPLES[feature],
                   headers={**auth(ACME), "If-Match": r.headers["etag"]})
    assert r.status_code == 200, r.text
    after = json.loads(seeded.client.hget(NUMBERS, N))
    assert r.json() == after[feature]
    assert len(after[feature]) == len(EXAMPLES[feature])
    assert r.headers["etag"] == etag(seeded.client.hget(NUMBERS, N))
    # Only that feature changed.
    assert {k: v for k, v in after.items() if k != feature} == \
        {k: v for k, v in stored.items() if k != feature}


def test_an_empty_list_removes_the_feature(client, seeded):
    r = client.put(f"/v1/numbers/{N}/hangup", json=[], headers=auth(ACME))
    assert r.status_code == 200
    assert r.json() == []
    assert "hangup" not in json.loads(seeded.client.hget(NUMBERS, N))
    assert client.get(f"/v1/numbers/{N}/hangup", headers=auth(ACME)).json() == []


def test_feature_errors_have_the_full_path(client, seeded):
    before = seeded.client.hget(NUMBERS, N)
    r = client.put(f"/v1/numbers/{N}/forwarding",
                   json=[{"to": "+5511999990000"}, {"to": "sip:x{y}@evil", "ring_seconds": 400}],
                   headers=auth(ACME))
    assert r.status_code == 422
    paths = [e["path"] for e in r.json()["errors"]]
    assert f"numbers.{N}.forwarding[1].to" in paths
    assert f"numbers.{N}.forwarding[1].ring_seconds" in paths
    r = client.put(f"/v1/numbers/{N}/hangup", json={"cause": "X"}, headers=auth(ACME))
    assert r.status_code == 422
    assert r.json()["errors"][0]["path"] == f"numbers.{N}.hangup"
    assert seeded.client.hget(NUMBERS, N) == before


def test_feature_of_unknown_number_is_404(client, seeded):
    assert client.get("/v1/numbers/+551140049999/forwarding", headers=auth(ACME)).status_code == 404
    assert client.put("/v1/numbers/+551140049999/forwarding", json=[], headers=auth(ACME)).status_code == 404


def test_stale_if_match_on_a_feature_is_412(client, seeded):
    tag = client.get(f"/v1/numbers/{N}/messages", headers=auth(ACME)).headers["etag"]
    assert client.put(f"/v1/numbers/{N}/hangup", json=[], headers=auth(ACME)).status_code == 200
    r = client.put(f"/v1/numbers/{N}/messages", json=[], headers={**auth(ACME), "If-Match": tag})
    assert r.status_code == 412
    assert client.put(f"/v1/numbers/{N}/messages", json=[],
                      headers={**auth(ACME), "If-None-Match": "*"}).status_code == 412


def test_feature_put_without_if_match_never_loses_a_concurrent_write(client, seeded, monkeypatch):
    """Another writer changes the voicemail between our read and our write: the forwarding
    PUT retries on the fresh entry, and both changes survive."""
    real_put = ApiStore.put
    calls = {"n": 0}

    def racing_put(self, e164, doc, expect):
        calls["n"] += 1
        if calls["n"] == 1:
            data = json.loads(self.client.hget(NUMBERS, e164))
            data["voicemail"] = [{"email": ["night@example.com"], "max_seconds": 60, "min_seconds": 2}]
            real_put(self, e164, json.dumps(data, separators=(",", ":")), "")
        return real_put(self, e164, doc, expect)

    monkeypatch.setattr(ApiStore, "put", racing_put)
    r = client.put(f"/v1/numbers/{N}/forwarding", json=[{"to": "+5511988881111"}], headers=auth(ACME))
    assert r.status_code == 200
    after = json.loads(seeded.client.hget(NUMBERS, N))
    assert after["forwarding"] == [{"to": ["+5511988881111"], "ring_seconds": 30, "record": False}]
    assert after["voicemail"][0]["email"] == ["night@example.com"]
    assert calls["n"] == 2          # one conflict, one retry


def test_examples_of_the_openapi_document_are_valid_configurations(client, store):
    from rules.api.schemas import EXAMPLE_ENTRY
    from rules.loader import load_mapping

    load_mapping({"defaults": SEED["defaults"], "numbers": {N: EXAMPLE_ENTRY}})
    for feature, example in EXAMPLES.items():
        load_mapping({"defaults": SEED["defaults"], "numbers": {N: {feature: example}}})


def test_an_unreadable_stored_entry_is_409_and_a_put_replaces_it(client, seeded):
    seeded.client.hset(NUMBERS, N, "{not json")
    for path in (f"/v1/numbers/{N}", f"/v1/numbers/{N}/forwarding", f"/v1/numbers/{N}/plan"):
        r = client.get(path, headers=auth(ACME))
        assert r.status_code == 409, path
        assert r.json()["errors"][0]["path"] == f"numbers.{N}"
    assert client.put(f"/v1/numbers/{N}/hangup", json=[], headers=auth(ACME)).status_code == 409
    assert client.put(f"/v1/numbers/{N}", json={}, headers=auth(ACME)).status_code == 200
    assert client.get(f"/v1/numbers/{N}/hangup", headers=auth(ACME)).json() == []
