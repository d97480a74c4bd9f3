"""The dry run: the same JSON as `callflow plan` for the same configuration."""
from __future__ import annotations

import json
import subprocess
import sys

import pytest
import yaml

from tests.rules.api.conftest import ACME, GLOBEX, SEED, auth
from tests.helpers.engine_proc import REPO

N = "+551140040000"


@pytest.mark.parametrize("caller,at", [
    ("21988887777", "2026-11-27T10:00"),             # Friday morning, national notation
    ("%2B5511988887777", "2026-11-27T12:30"),        # lunch gap
    (None, "2026-11-29T03:00"),                      # Sunday night: hang-up
    ("+5521988887777", "2026-11-27T13:00Z"),         # offset given; '+' left unencoded
    ("anonymous", "2026-11-28T10:00-03:00"),
])
def test_plan_matches_the_cli(client, seeded, tmp_path, caller, at):
    url = f"/v1/numbers/{N}/plan?at={at.replace('+', '%2B')}"
    if caller is not None:
        url += f"&caller={caller}"
    r = client.get(url, headers=auth(ACME))
    assert r.status_code == 200, r.text
    path = tmp_path / "rules.yaml"
    path.write_text(yaml.safe_dump(SEED, allow_unicode=True))
    argv = [sys.executable, "-m", "engine.cli", "plan", str(path), N, "--at", at]
    if caller is not None:
        argv += ["--caller", caller.replace("%2B", "+")]
    cli = subprocess.run(argv, cwd=REPO, capture_output=True, text=True, timeout=60)
    assert cli.returncode == 0, cli.stderr
    assert r.json() == json.loads(cli.stdout)
    assert list(r.json()) == ["number", "caller", "local_time", "start", "hangup", "forward",
                              "voicemail", "end", "trace"]


def test_plan_without_at_is_now(client, seeded):
    r = client.get(f"/v1/numbers/{N}/plan", headers=auth(ACME))
    assert r.status_code == 200
    assert r.json()["caller"] == "anonymous"


def test_plan_errors(client, seeded, store):
    r = client.get(f"/v1/numbers/{N}/plan?at=yesterday", headers=auth(ACME))
    assert r.status_code == 422
    assert r.json()["errors"][0]["path"] == "query.at"
    assert client.get("/v1/numbers/+551140049999/plan", headers=auth(ACME)).status_code == 404
    assert client.get(f"/v1/numbers/{N}/plan", headers=auth(GLOBEX)).status_code == 404


def test_plan_of_an_entry_that_no_longer_validates_is_409(make_client, seeded):
    client = make_client(allowed_prefixes=("+5521",))   # the seed forwards to +5511...
    r = client.get(f"/v1/numbers/{N}/plan", headers=auth(ACME))
    assert r.status_code == 409
    assert r.json()["errors"][0]["path"].startswith(f"numbers.{N}.forwarding[0].to")
