"""Tokens: the file format, constant-time comparison, scopes, reloads, no token in logs."""
from __future__ import annotations

import hmac
import logging
import os

import pytest

from rules.api import auth as auth_mod
from rules.api.auth import Principal, TokenFile, hash_token, load_tokens, parse_tokens
from rules.errors import ConfigError
from tests.rules.api.conftest import ACME, GLOBEX, OPS, TOKENS, auth


def test_scopes():
    p = Principal("acme", ("+5511*", "+552130030000"))
    assert p.allows("+551140040000")
    assert p.allows("+552130030000")
    assert not p.allows("+552130030001")
    assert not p.allows("+5521")
    assert Principal("ops", ("*",)).allows("+12025550123")


def test_authenticate_compares_every_digest_in_constant_time(monkeypatch):
    table = parse_tokens(TOKENS)
    compared = []
    real = hmac.compare_digest

    def spy(a, b):
        compared.append(b)
        return real(a, b)

    monkeypatch.setattr(auth_mod.hmac, "compare_digest", spy)
    assert table.authenticate(ACME).name == "acme"
    assert len(compared) == 3            # no early exit at the match
    compared.clear()
    assert table.authenticate("nope") is None
    assert len(compared) == 3
    assert table.authenticate("") is None and table.authenticate(None) is None


def test_the_file_holds_digests_only(tmp_path):
    path = tmp_path / "tokens.yaml"
    path.write_text(f"tokens:\n  - name: acme\n    sha256: {hash_token(ACME).upper()}\n"
                    f"    numbers: '+5511*'\n")
    table = load_tokens(path)
    assert table.authenticate(ACME) == Principal("acme", ("+5511*",))
    assert ACME not in path.read_text()


def test_bad_files_list_every_error_with_its_path(tmp_path):
    data = {"tokens": [
        {"name": "a", "sha256": "abc", "numbers": ["+5511*"]},
        {"name": "a", "sha256": hash_token("x"), "numbers": ["5511*", "+55*11"]},
        {"sha256": hash_token("x"), "numbers": [], "colour": 1},
        "nope",
    ]}
    with pytest.raises(ConfigError) as err:
        parse_tokens(data)
    assert err.value.lines() == [
        "tokens[0].sha256: must be the token's SHA-256: 64 hexadecimal digits",
        "tokens[1].name: 'a' is used twice",
        "tokens[1].numbers[0]: '5511*' is not an E.164 number, a prefix ending in * (+5511*), or *",
        "tokens[1].numbers[1]: '+55*11' is not an E.164 number, a prefix ending in * (+5511*), or *",
        "tokens[2].colour: unknown key",
        "tokens[2].name: is required (a label for the logs)",
        "tokens[2].sha256: the same token is configured twice",
        "tokens[2].numbers: must list the numbers this token may see (+551140040000, +5511*, or *)",
        "tokens[3]: must be a mapping with name, sha256 and numbers",
    ]
    with pytest.raises(ConfigError):
        parse_tokens({"tokens": "x"})
    (tmp_path / "t.yaml").write_text("tokens: [\n")
    with pytest.raises(ConfigError):
        load_tokens(tmp_path / "t.yaml")
    with pytest.raises(ConfigError):
        load_tokens(tmp_path / "missing.yaml")


def test_token_file_is_reloaded_when_it_changes_and_kept_when_invalid(tmp_path, caplog):
    path = tmp_path / "tokens.yaml"
    path.write_text(f"tokens: [{{name: a, sha256: {hash_token(ACME)}, numbers: ['*']}}]\n")
    tokens = TokenFile(path)
    assert tokens.authenticate(ACME).name == "a"
    path.write_text(f"tokens: [{{name: b, sha256: {hash_token(GLOBEX)}, numbers: ['*']}}]\n")
    os.utime(path, ns=(1, 1))
    assert tokens.authenticate(ACME) is None
    assert tokens.authenticate(GLOBEX).name == "b"
    path.write_text("tokens: [{name: c}]\n")
    os.utime(path, ns=(2, 2))
    with caplog.at_level(logging.ERROR, logger="callflow.api"):
        assert tokens.authenticate(GLOBEX).name == "b"
    assert "invalid" in caplog.text


def test_tokens_never_reach_the_logs(client, seeded, caplog):
    with caplog.at_level(logging.DEBUG):
        client.put("/v1/numbers/+551140040000/hangup", json=[], headers=auth(ACME))
        client.get("/v1/numbers", headers={"Authorization": f"Bearer {OPS}x"})
        client.get("/v1/numbers/+551140040000", headers=auth(GLOBEX))
    assert caplog.records, "the write should have been audited"
    text = caplog.text + " ".join(str(getattr(r, "fields", "")) for r in caplog.records)
    for token in (ACME, OPS, GLOBEX):
        assert token not in text
    assert "acme" in text                      # the token's name is what is logged


def test_create_app_needs_a_tokens_file(store, settings):
    from rules.api.app import create_app

    with pytest.raises(ConfigError) as err:
        create_app(settings, store)
    assert err.value.errors[0][0] == "api_tokens_file"


def test_scope_isolation_between_two_customers(client, seeded, store):
    """Each customer sees and changes only their own numbers and calls."""
    from tests.rules.api.records import record, write_records

    write_records(store, [record("a-1", "+551140040000"), record("g-1", "+552130030000")])
    for token, mine, theirs, my_call, their_call in (
            (ACME, "+551140040000", "+552130030000", "a-1", "g-1"),
            (GLOBEX, "+552130030000", "+551140040000", "g-1", "a-1")):
        h = auth(token)
        assert list(client.get("/v1/numbers", headers=h).json()["numbers"]) == [mine]
        assert client.get(f"/v1/numbers/{mine}", headers=h).status_code == 200
        assert client.put(f"/v1/numbers/{mine}/hangup", json=[], headers=h).status_code == 200
        for path in (f"/v1/numbers/{theirs}", f"/v1/numbers/{theirs}/forwarding",
                     f"/v1/numbers/{theirs}/plan", f"/v1/calls/{their_call}",
                     f"/v1/calls/{their_call}/recording"):
            assert client.get(path, headers=h).status_code == 404, path
        assert client.put(f"/v1/numbers/{theirs}", json={}, headers=h).status_code == 404
        assert client.delete(f"/v1/numbers/{theirs}", headers=h).status_code == 404
        assert [c["uuid"] for c in client.get("/v1/calls", headers=h).json()["calls"]] == [my_call]
        assert client.get(f"/v1/calls/{my_call}", headers=h).status_code == 200
    # Neither could touch the other's number: both still have their seeded forwarding.
    assert client.get("/v1/numbers/+552130030000/forwarding", headers=auth(OPS)).json() != []
    assert client.get("/v1/numbers/+551140040000/forwarding", headers=auth(OPS)).json() != []
