"""The week view on the API: the same JSON as `callflow plan --week --json`."""
from __future__ import annotations

import json
import subprocess
import sys

import pytest
import yaml

from tests.helpers.engine_proc import REPO
from tests.rules.api.conftest import ACME, GLOBEX, OPS, SEED, auth

N = "+551140040000"


@pytest.mark.parametrize("caller", [None, "21988887777", "%2B5511988887777"])
def test_week_matches_the_cli(client, seeded, tmp_path, caller):
    url = f"/v1/numbers/{N}/week?from=2026-11-23"
    if caller is not None:
        url += f"&caller={caller}"
    r = client.get(url, headers=auth(ACME))
    assert r.status_code == 200, r.text
    path = tmp_path / "rules.yaml"
    path.write_text(yaml.safe_dump(SEED, allow_unicode=True))
    argv = [sys.executable, "-m", "engine.cli", "plan", str(path), N, "--week",
            "--from", "2026-11-23", "--json"]
    if caller is not None:
        argv += ["--caller", caller.replace("%2B", "+")]
    cli = subprocess.run(argv, cwd=REPO, capture_output=True, text=True, timeout=60)
    assert cli.returncode == 0, cli.stderr
    assert r.json() == json.loads(cli.stdout)
    body = r.json()
    assert body["ranges"][0]["start"] == "2026-11-23T00:00:00-03:00"
    assert body["ranges"][-1]["end"] == "2026-11-30T00:00:00-03:00"
    sunday = [x for x in body["ranges"] if x["start"].startswith("2026-11-29")]
    assert [x["plan"]["hangup"] for x in sunday] == ["CALL_REJECTED", None]


def test_week_without_from_is_this_week(client, seeded):
    r = client.get(f"/v1/numbers/{N}/week", headers=auth(OPS))
    assert r.status_code == 200
    assert r.json()["ranges"][0]["plan"]["caller"] == "anonymous"
    assert r.json()["ranges"][0]["start"].endswith("T00:00:00-03:00")


def test_week_scope_and_errors(client, seeded):
    assert client.get(f"/v1/numbers/{N}/week").status_code == 401
    assert client.get(f"/v1/numbers/{N}/week", headers=auth(GLOBEX)).status_code == 404
    assert client.get("/v1/numbers/+551140049999/week", headers=auth(ACME)).status_code == 404
    assert client.get("/v1/numbers/+552130030000/week", headers=auth(GLOBEX)).status_code == 200
    for bad in ("yesterday", "2026-13-01", "0001-01-01", "20261123"):
        r = client.get(f"/v1/numbers/{N}/week?from={bad}", headers=auth(ACME))
        assert r.status_code == 422, bad
        assert r.json()["errors"][0]["path"] == "query.from"


def test_week_of_an_entry_that_no_longer_validates_is_409(make_client, seeded):
    client = make_client(allowed_prefixes=("+5521",))
    r = client.get(f"/v1/numbers/{N}/week", headers=auth(ACME))
    assert r.status_code == 409
