"""The call statement: newest first, filters, paging, scope, one call by uuid."""
from __future__ import annotations

import pytest

from rules.api import calls as calls_mod
from rules.redis_store import CALLS
from tests.rules.api.conftest import ACME, GLOBEX, OPS, auth
from tests.rules.api.records import record, write_records

A = "+551140040000"     # acme
G = "+552130030000"     # globex


@pytest.fixture
def calls(store):
    recs = [record(f"call-{i:03d}", A if i % 3 else G, minutes=i) for i in range(30)]
    write_records(store, recs)
    return recs


def uuids(page):
    return [c["uuid"] for c in page["calls"]]


def test_statement_newest_first_each_entry_the_call_record(client, calls):
    r = client.get("/v1/calls", headers=auth(OPS))
    assert r.status_code == 200
    page = r.json()
    assert uuids(page) == [f"call-{i:03d}" for i in range(29, -1, -1)]
    assert page["next_cursor"] is None
    first = page["calls"][0]
    expected = calls[29].to_json()
    assert {k: first[k] for k in expected} == expected
    assert first["recording_url"] is None and first["voicemail_url"] is None


def test_statement_is_filtered_by_scope(client, calls):
    acme = uuids(client.get("/v1/calls", headers=auth(ACME)).json())
    globex = uuids(client.get("/v1/calls", headers=auth(GLOBEX)).json())
    assert acme == [f"call-{i:03d}" for i in range(29, -1, -1) if i % 3]
    assert globex == [f"call-{i:03d}" for i in range(29, -1, -1) if i % 3 == 0]
    # Asking for the other customer's number gives nothing, as for a number without calls.
    assert client.get(f"/v1/calls?number=%2B{G[1:]}", headers=auth(ACME)).json() == \
        {"calls": [], "next_cursor": None}


def test_paging_with_cursor(client, calls):
    seen, cursor = [], None
    while True:
        url = "/v1/calls?limit=7" + (f"&cursor={cursor}" if cursor else "")
        page = client.get(url, headers=auth(OPS)).json()
        seen += uuids(page)
        cursor = page["next_cursor"]
        if cursor is None:
            break
    assert seen == [f"call-{i:03d}" for i in range(29, -1, -1)]


def test_filters_number_since_until(client, seeded, calls):
    r = client.get("/v1/calls?number=(11) 4004-0000&since=2026-11-27T13:10Z&until=2026-11-27T13:20:00%2B00:00",
                   headers=auth(OPS))
    assert r.status_code == 200, r.text
    assert uuids(r.json()) == [f"call-{i:03d}" for i in range(19, 9, -1) if i % 3]
    # Without an offset, since/until are UTC; an unencoded + in an offset is tolerated.
    r2 = client.get("/v1/calls?number=%2B551140040000&since=2026-11-27T10:10-03:00&until=2026-11-27T13:20",
                    headers=auth(OPS))
    assert uuids(r2.json()) == uuids(r.json())


@pytest.mark.parametrize("query,path", [("limit=0", "query.limit"), ("limit=501", "query.limit"),
                                        ("limit=x", "query.limit"), ("since=soon", "query.since"),
                                        ("until=2026-13-01", "query.until"), ("cursor=abc", "query.cursor"),
                                        ("number=12", "query.number")])
def test_bad_queries_are_422(client, calls, query, path):
    r = client.get(f"/v1/calls?{query}", headers=auth(OPS))
    assert r.status_code == 422
    assert r.json()["errors"][0]["path"] == path


def test_a_page_examines_a_bounded_number_of_entries(client, calls, monkeypatch):
    monkeypatch.setattr(calls_mod, "SCAN_MAX", 10)
    monkeypatch.setattr(calls_mod, "BATCH", 4)
    page = client.get("/v1/calls?limit=50", headers=auth(GLOBEX)).json()
    # 10 newest entries examined: 27, 24, 21 are globex's.
    assert uuids(page) == ["call-027", "call-024", "call-021"]
    assert page["next_cursor"] is not None
    rest = client.get(f"/v1/calls?limit=50&cursor={page['next_cursor']}", headers=auth(GLOBEX)).json()
    assert uuids(rest)[0] == "call-018"


def test_duplicates_from_at_least_once_delivery_are_shown_once(client, store, calls):
    write_records(store, [calls[29]])
    assert uuids(client.get("/v1/calls?limit=3", headers=auth(OPS)).json()) == \
        ["call-029", "call-028", "call-027"]


def test_unreadable_entries_are_skipped(client, store, calls):
    store.client.xadd(CALLS, {"uuid": "junk", "number": A, "record": "{not json"})
    assert uuids(client.get("/v1/calls?limit=1", headers=auth(OPS)).json()) == ["call-029"]


def test_one_call_by_uuid(client, calls):
    r = client.get("/v1/calls/call-004", headers=auth(ACME))
    assert r.status_code == 200
    assert r.json()["uuid"] == "call-004" and r.json()["number"] == A
    assert client.get("/v1/calls/call-003", headers=auth(ACME)).status_code == 404   # globex's
    assert client.get("/v1/calls/call-003", headers=auth(GLOBEX)).status_code == 200
    assert client.get("/v1/calls/nope", headers=auth(OPS)).status_code == 404
    assert client.get("/v1/calls/call-003", headers=auth(ACME)).json() == \
        client.get("/v1/calls/nope", headers=auth(ACME)).json()


def test_uuid_index_follows_new_entries_and_trimming(client, store, calls):
    assert client.get("/v1/calls/call-001", headers=auth(OPS)).status_code == 200
    write_records(store, [record("late-1", A, minutes=100)])
    assert client.get("/v1/calls/late-1", headers=auth(OPS)).status_code == 200
    store.client.xtrim(CALLS, maxlen=1)           # only late-1 is left
    assert client.get("/v1/calls/call-001", headers=auth(OPS)).status_code == 404
    assert client.get("/v1/calls/late-1", headers=auth(OPS)).status_code == 200
    # Redis lost everything (restart without persistence): the index starts over.
    store.client.delete(CALLS)
    import json
    rec = record("after-restart", A).to_json()
    store.client.xadd(CALLS, {"uuid": rec["uuid"], "number": A, "record": json.dumps(rec)}, id="1-1")
    assert client.get("/v1/calls/after-restart", headers=auth(OPS)).status_code == 200
