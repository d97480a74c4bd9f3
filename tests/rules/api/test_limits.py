"""The body limits (``rules.api.limits``) in process; the attacks against a real server
are tests/security/test_api_limits.py."""
from __future__ import annotations

import json

import pytest

from rules.api.limits import json_shape_problem
from rules.api.settings import ApiSettings
from tests.rules.api.conftest import ACME, auth


@pytest.mark.parametrize("body,problem", [
    (b"[" * 33 + b"]" * 33, "deep"),
    (b"[" * 32 + b"]" * 32, None),
    (json.dumps({"a": "[[[[[[[[" * 50, "b": '\\"[{' * 50}).encode(), None),   # strings hide brackets
    (json.dumps([list(range(10_000))]).encode(), None),
    (json.dumps([list(range(10_001))]).encode(), "wide"),
    (json.dumps({str(i): i for i in range(10_001)}).encode(), "wide"),
    (json.dumps(["a,b,c" * 10_000]).encode(), None),                         # commas in a string
    (b'["unterminated [[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[', None),        # left to the parser
])
def test_json_shape(body, problem):
    got = json_shape_problem(body, 32, 10_000)
    assert (got is None) == (problem is None), got
    if problem == "deep":
        assert got == "JSON nested deeper than 32 levels"
    if problem == "wide":
        assert got == "a JSON array or object with more than 10000 items"


def test_the_limits_are_settings_with_defaults(monkeypatch):
    s = ApiSettings()
    assert (s.api_max_body_bytes, s.api_max_json_depth, s.api_max_json_items,
            s.api_body_timeout_seconds) == (1_048_576, 32, 10_000, 10.0)
    monkeypatch.setenv("CALLFLOW_API_MAX_BODY_BYTES", "2048")
    monkeypatch.setenv("CALLFLOW_API_BODY_TIMEOUT_SECONDS", "2.5")
    s = ApiSettings()
    assert s.api_max_body_bytes == 2048 and s.api_body_timeout_seconds == 2.5


def test_a_body_without_a_token_is_401_before_it_is_read(client, seeded):
    r = client.put("/v1/numbers/%2B551140040000/forwarding", content=b"[" * 100)
    assert r.status_code == 401
    assert r.json() == {"detail": "a valid bearer token is required"}
    assert r.headers["www-authenticate"] == "Bearer"
    r = client.put("/v1/numbers/%2B551140040000/forwarding", content=b"[]",
                   headers={"Authorization": "Basic " + ACME})
    assert r.status_code == 401
    # without a body, the endpoints answer as before; /health needs no token
    assert client.get("/v1/numbers").status_code == 401
    assert client.request("GET", "/health", content=b"{}").status_code == 200


def test_limits_follow_the_settings(make_client, seeded):
    client = make_client(api_max_body_bytes=200, api_max_json_depth=3, api_max_json_items=2)
    url = "/v1/numbers/%2B551140040000/forwarding"
    r = client.put(url, headers=auth(ACME), content=b"[" + b" " * 300 + b"]")
    assert r.status_code == 413
    assert r.json() == {"errors": [{"path": "body",
                                    "message": "the request body is larger than 200 bytes"}]}
    r = client.put(url, headers=auth(ACME), content=b"[[[[]]]]")
    assert r.status_code == 422 and r.json()["errors"][0]["path"] == "body"
    r = client.put(url, headers=auth(ACME), json=[{"to": "+5511999990000"}] * 3)
    assert r.status_code == 422 and "more than 2 items" in r.json()["errors"][0]["message"]
    r = client.put(url, headers=auth(ACME), json=[{"to": "+5511999990000"}])
    assert r.status_code == 200, r.text
    # a body that is not JSON is not judged by its brackets (nor parsed as JSON)
    r = client.put(url, headers={**auth(ACME), "Content-Type": "text/plain"}, content=b"[[[[]]]]")
    assert r.status_code == 422


def test_the_document_names_the_limits(client):
    doc = client.get("/openapi.json").json()
    for path, ops in doc["paths"].items():
        for method, op in ops.items():
            has_body = "requestBody" in op
            assert ("413" in op["responses"]) == has_body, (path, method)
            assert ("408" in op["responses"]) == has_body, (path, method)
