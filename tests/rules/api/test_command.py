"""`callflow api`: a separate uvicorn process over the Redis store, never gevent."""
from __future__ import annotations

import json
import os
import subprocess
import sys
import time
import urllib.error
import urllib.request

import pytest
import yaml

from tests.rules.api.conftest import ACME, TOKENS
from tests.helpers.engine_proc import REPO, free_port


def test_the_api_never_imports_gevent():
    code = ("import sys; from engine.cli import build_parser; build_parser(); "
            "import engine.commands.api, rules.api.app, rules.api_store; "
            "import uvicorn, fastapi; assert 'gevent' not in sys.modules, 'gevent imported'")
    r = subprocess.run([sys.executable, "-c", code], cwd=REPO, capture_output=True, text=True, timeout=60)
    assert r.returncode == 0, r.stderr


def _env(**extra):
    env = {k: v for k, v in os.environ.items() if not k.startswith("CALLFLOW_")}
    env.update(extra)
    return env


@pytest.mark.parametrize("env,expected", [
    ({"CALLFLOW_RULES": "examples/rules.yaml"}, "settings.rules"),
    ({"CALLFLOW_API_LISTEN": "nowhere"}, "settings.api_listen"),
    ({}, "api_tokens_file: is required"),
])
def test_bad_settings_exit_2_with_the_reason(env, expected):
    r = subprocess.run([sys.executable, "-m", "engine.cli", "api"], cwd=REPO, env=_env(**env),
                       capture_output=True, text=True, timeout=60)
    assert r.returncode == 2
    assert expected in r.stderr


def test_serves_over_http(redis_url, seeded, tmp_path):
    tokens = tmp_path / "tokens.yaml"
    tokens.write_text(yaml.safe_dump(TOKENS))
    port = free_port()
    log = open(tmp_path / "api.log", "wb")
    proc = subprocess.Popen([sys.executable, "-m", "engine.cli", "api", "--listen", f"127.0.0.1:{port}"],
                            cwd=REPO, stdout=log, stderr=subprocess.STDOUT,
                            env=_env(CALLFLOW_RULES=redis_url, CALLFLOW_API_TOKENS_FILE=str(tokens)))
    try:
        base = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + 20
        while True:
            try:
                with urllib.request.urlopen(f"{base}/openapi.json", timeout=2) as r:
                    doc = json.loads(r.read())
                break
            except OSError:
                assert proc.poll() is None, (tmp_path / "api.log").read_text()
                assert time.monotonic() < deadline
                time.sleep(0.1)
        assert "/v1/numbers" in doc["paths"]
        req = urllib.request.Request(f"{base}/v1/numbers/%2B551140040000",
                                     headers={"Authorization": f"Bearer {ACME}"})
        with urllib.request.urlopen(req, timeout=5) as r:
            assert r.status == 200 and r.headers["ETag"]
        with pytest.raises(urllib.error.HTTPError) as err:
            urllib.request.urlopen(f"{base}/v1/numbers", timeout=5)
        assert err.value.code == 401
        # docker/compose.yaml's health check of the API, run as compose would (port aside)
        compose = yaml.safe_load((REPO / "docker" / "compose.yaml").read_text())
        check = compose["services"]["api"]["healthcheck"]["test"]
        assert check[0] == "CMD" and "127.0.0.1:8000/health" in check[-1]
        argv = [sys.executable if a == "python" else a.replace("127.0.0.1:8000", f"127.0.0.1:{port}")
                for a in check[1:]]
        assert subprocess.run(argv, capture_output=True, timeout=10).returncode == 0
    finally:
        proc.terminate()
        proc.wait(10)
        log.close()
    text = (tmp_path / "api.log").read_text()
    assert ACME not in text
    assert "GET /v1/numbers" in text          # the access log, in our format
