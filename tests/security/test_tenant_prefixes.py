"""Tenant safety: where a token may forward its numbers' calls.

The deployment's list (``CALLFLOW_ALLOWED_PREFIXES``) binds every token; a token's own
``allowed_prefixes`` (tokens file) narrows it, never widens it. A customer must not be able
to forward to a premium-rate number (``+55 900 ...``) and leave the bill to the carrier.
Against a real redis-server; ``rules check`` must apply the deployment's list too.
"""
from __future__ import annotations

import pytest
import yaml
from fastapi.testclient import TestClient

from rules.api.app import create_app
from rules.api.auth import hash_token, load_tokens, parse_tokens
from rules.api.settings import ApiSettings
from rules.errors import ConfigError
from rules.redis_store import RedisStore
from tests.helpers.redis_server import RedisServer

PREMIUM = "+559001234567"           # a Brazilian 0900 number: premium rate
ACME = "acme-token-with-a-list-01"  # numbers +5511*, may forward to +5511 and +5521 only
WIDE = "wide-token-outside-02"      # numbers +5521*, its list (+1) lies outside the deployment's
OPS = "ops-token-no-list-03"        # every number, the deployment's list only

TOKENS = {"tokens": [
    {"name": "acme", "sha256": hash_token(ACME), "numbers": ["+5511*"],
     "allowed_prefixes": ["+5511", "+5521"]},
    {"name": "wide", "sha256": hash_token(WIDE), "numbers": ["+5521*"], "allowed_prefixes": "+1"},
    {"name": "ops", "sha256": hash_token(OPS), "numbers": ["*"]},
]}
SEED = {"defaults": {"timezone": "America/Sao_Paulo", "region": "BR"},
        "numbers": {"+551140040000": {"forwarding": [{"to": "+5511999990000"}]},
                    "+552130030000": {"forwarding": [{"to": "+5521977770000"}]}}}


def auth(token: str) -> dict:
    return {"Authorization": f"Bearer {token}"}


@pytest.fixture(scope="module")
def redis_url(tmp_path_factory):
    server = RedisServer(tmp_path_factory.mktemp("tenant-redis")).start()
    yield server.url
    server.stop()


@pytest.fixture
def client(redis_url, tmp_path):
    store = RedisStore(redis_url, retries=1)
    store.client.flushall()
    store.push(SEED)
    # The deployment pays for Brazil and the USA: +55 (premium +55900 included!) and +1.
    settings = ApiSettings(rules=redis_url, recordings_dir=tmp_path, voicemail_dir=tmp_path,
                           allowed_prefixes=("+55", "+1"))
    with TestClient(create_app(settings, store, tokens=parse_tokens(TOKENS))) as c:
        yield c
    store.close()


def put_forwarding(client, token, number, *destinations):
    return client.put(f"/v1/numbers/%2B{number.lstrip('+')}/forwarding", headers=auth(token),
                      json=[{"to": list(destinations), "ring_seconds": 20}])


def test_a_scoped_token_cannot_forward_to_a_premium_number(client, redis_url):
    r = put_forwarding(client, ACME, "+551140040000", "+5511988887777", PREMIUM)
    assert r.status_code == 422, r.text
    assert r.json() == {"errors": [{
        "path": "numbers.+551140040000.forwarding[0].to[1]",
        "message": f"{PREMIUM} is outside the destinations this token may set (+5511, +5521)"}]}
    # nothing was stored
    r = client.get("/v1/numbers/%2B551140040000/forwarding", headers=auth(ACME))
    assert r.json()[0]["to"] == ["+5511999990000"]
    # nor through a PUT of the whole number, in national notation
    r = client.put("/v1/numbers/%2B551140040000", headers=auth(ACME),
                   json={"forwarding": [{"to": "0900 123 4567"}]})
    assert r.status_code == 422
    assert r.json()["errors"][0]["path"] == "numbers.+551140040000.forwarding[0].to[0]"
    assert PREMIUM in r.json()["errors"][0]["message"]


def test_a_destination_inside_the_tokens_list_works(client):
    r = put_forwarding(client, ACME, "+551140040000", "+5511988887777", "(21) 98888-0000")
    assert r.status_code == 200, r.text
    assert r.json()[0]["to"] == ["+5511988887777", "+5521988880000"]
    r = client.put("/v1/numbers/%2B551140040001", headers=auth(ACME),
                   json={"forwarding": [{"to": "+5521977770000"}]})
    assert r.status_code == 201, r.text


def test_another_feature_is_not_blocked_by_a_destination_someone_else_set(client):
    # ops (deployment list only) forwards acme's number to the USA ...
    assert put_forwarding(client, OPS, "+551140040000", "+12025550123").status_code == 200
    # ... acme may still change its messages, but not re-send that destination itself
    r = client.put("/v1/numbers/%2B551140040000/messages", headers=auth(ACME),
                   json=[{"audio": "welcome.wav"}])
    assert r.status_code == 200, r.text
    whole = client.get("/v1/numbers/%2B551140040000", headers=auth(ACME)).json()
    r = client.put("/v1/numbers/%2B551140040000", headers=auth(ACME), json=whole)
    assert r.status_code == 422
    assert "+12025550123 is outside" in r.json()["errors"][0]["message"]


def test_the_deployment_list_applies_to_every_token(client):
    # ops has no list of its own: the deployment's (+55, +1) binds it
    r = put_forwarding(client, OPS, "+551140040000", "+442071234567")
    assert r.status_code == 422
    assert r.json()["errors"][0]["path"] == "numbers.+551140040000.forwarding[0].to[0]"
    assert "+442071234567 is not allowed by this deployment" in r.json()["errors"][0]["message"]
    # a token's list cannot widen it: "wide" lists +1 only, the USA is in the deployment's
    # list, but London is in neither, and Rio (deployment's, not wide's) is refused too
    r = put_forwarding(client, WIDE, "+552130030000", "+442071234567")
    assert r.status_code == 422
    r = put_forwarding(client, WIDE, "+552130030000", "+5521988880000")
    assert r.status_code == 422
    assert "outside the destinations this token may set (+1)" in r.json()["errors"][0]["message"]
    assert put_forwarding(client, WIDE, "+552130030000", "+12025550123").status_code == 200
    # acme's list names +5511: still only within the deployment's +55
    assert put_forwarding(client, ACME, "+551140040000", "+5511988887777").status_code == 200


def test_sip_destinations_follow_the_same_lists(client):
    # neither list names sip: or a host: a SIP target is refused for everyone
    for token in (ACME, OPS):
        r = put_forwarding(client, token, "+551140040000", "sip:ana@pbx.example.com")
        assert r.status_code == 422, token


def test_the_tokens_file_refuses_a_bad_or_empty_list(tmp_path):
    bad = {"tokens": [
        {"name": "a", "sha256": hash_token("a"), "numbers": ["+5511*"], "allowed_prefixes": []},
        {"name": "b", "sha256": hash_token("b"), "numbers": ["+5511*"],
         "allowed_prefixes": ["+5511", "premium; drop", 55]},
    ]}
    path = tmp_path / "tokens.yaml"
    path.write_text(yaml.safe_dump(bad))
    with pytest.raises(ConfigError) as err:
        load_tokens(path)
    paths = [p for p, _ in err.value.errors]
    assert paths == ["tokens[0].allowed_prefixes", "tokens[1].allowed_prefixes[1]",
                     "tokens[1].allowed_prefixes[2]"]
    ok = parse_tokens(TOKENS)
    assert ok.authenticate(ACME).allowed_prefixes == ("+5511", "+5521")
    assert ok.authenticate(OPS).allowed_prefixes == ()


def test_rules_check_applies_the_deployment_list(callflow, tmp_path):
    path = tmp_path / "rules.yaml"
    path.write_text(yaml.safe_dump({"defaults": {"timezone": "America/Sao_Paulo", "region": "BR"},
                                    "numbers": {"+551140040000": {"forwarding": [{"to": PREMIUM}]}}}))
    r = callflow("rules", "check", path, env={"CALLFLOW_ALLOWED_PREFIXES": "+5511, +5521"})
    assert r.returncode == 1, r.stdout
    assert f"numbers.+551140040000.forwarding[0].to: {PREMIUM} is not allowed" in r.stderr
    # --allow-prefix still overrides the environment, as for `rules push`
    r = callflow("rules", "check", path, "--allow-prefix", "+55",
                 env={"CALLFLOW_ALLOWED_PREFIXES": "+5511"})
    assert r.returncode == 0, r.stderr
