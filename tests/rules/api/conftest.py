"""Fixtures for the management API: a store, tokens, a client. The real redis-server
behind them is the suite's (``redis_url`` in tests/conftest.py): without redis-server the
tests FAIL with instructions (never skip), since the API's contract is about Redis.
"""
from __future__ import annotations

from pathlib import Path

import pytest

from rules.api.app import create_app
from rules.api.auth import hash_token, parse_tokens
from rules.api.settings import ApiSettings
from rules.redis_store import RedisStore

ACME = "acme-secret-token-0001"        # sees +5511*
GLOBEX = "globex-secret-token-0002"    # sees +5521*
OPS = "ops-secret-token-0003"          # sees everything

TOKENS = {"tokens": [
    {"name": "acme", "sha256": hash_token(ACME), "numbers": ["+5511*"]},
    {"name": "globex", "sha256": hash_token(GLOBEX), "numbers": ["+5521*"]},
    {"name": "ops", "sha256": hash_token(OPS), "numbers": ["*"]},
]}

SEED = {
    "defaults": {"timezone": "America/Sao_Paulo", "region": "BR"},
    "numbers": {
        "+55 11 4004-0000": {
            "messages": [{"audio": "welcome.wav", "schedule": {"days": "mon-fri", "hours": ["08:00-18:00"]}},
                         {"audio": "thanks.wav", "at": "end"}],
            "forwarding": [{"to": "+55 11 99999-0000", "ring_seconds": 20, "record": True,
                            "schedule": {"days": "mon-fri", "hours": ["08:00-12:00", "13:00-18:00"]}},
                           {"to": ["sip:ana@pbx.example.com", "+5521988880000"], "ring_seconds": 15}],
            "voicemail": [{"email": ["ops@example.com"], "greeting": "vm.wav", "max_seconds": 120}],
            "hangup": [{"cause": "CALL_REJECTED", "schedule": {"days": "sun", "hours": ["00:00-06:00"]}}],
        },
        "+55 21 3003-0000": {"forwarding": [{"to": "+5521977770000", "ring_seconds": 25}]},
    },
}


def auth(token: str) -> dict:
    return {"Authorization": f"Bearer {token}"}


@pytest.fixture
def store(redis_url):
    s = RedisStore(redis_url, retries=1)
    yield s
    s.close()


@pytest.fixture
def folders(tmp_path) -> tuple[Path, Path]:
    rec, vm = tmp_path / "recordings", tmp_path / "voicemail"
    rec.mkdir(exist_ok=True)       # the same folders an engine in tmp_path writes to
    vm.mkdir(exist_ok=True)
    return rec, vm


@pytest.fixture
def settings(redis_url, folders):
    return ApiSettings(rules=redis_url, recordings_dir=folders[0], voicemail_dir=folders[1],
                       allowed_prefixes=())


@pytest.fixture
def make_client(store, settings):
    from fastapi.testclient import TestClient

    def make(**changes):
        s = settings.model_copy(update=changes)
        return TestClient(create_app(s, store, tokens=parse_tokens(TOKENS)))
    return make


@pytest.fixture
def client(make_client):
    return make_client()


@pytest.fixture
def seeded(store):
    store.push(SEED)
    return store
