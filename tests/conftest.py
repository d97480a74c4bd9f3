"""The suite's shared fixtures, one place for all of them:

* ``redis_server`` / ``redis_url`` / ``rclient`` / ``store``: one real redis-server per
  test session (a free port, a temporary folder, no persistence), emptied before every
  test that asks for ``redis_url``. Never skipped: without ``redis-server`` on PATH the
  fixture fails with instructions, because CI installs it (.ci/run).
* ``callflow``: run the CLI as a user does (``python -m engine.cli ...``).

Fixtures that only one package's tests use stay in that package's conftest.py."""
from __future__ import annotations

import shutil

import pytest

from tests.helpers.redis_server import MISSING, RedisServer


@pytest.fixture(scope="session")
def redis_server(tmp_path_factory):
    if shutil.which("redis-server") is None:
        pytest.fail(MISSING, pytrace=False)
    server = RedisServer(tmp_path_factory.mktemp("redis")).start()
    yield server
    server.stop()


@pytest.fixture
def redis_url(redis_server):
    """The session's server, empty. Pub/sub channels are server-wide (not per db), so
    tests share one db and run one after another rather than isolating by db number."""
    client = redis_server.client()
    client.flushall()
    client.close()
    return redis_server.url


@pytest.fixture
def rclient(redis_url, redis_server):
    client = redis_server.client()
    yield client
    client.close()


@pytest.fixture
def store(redis_url):
    from rules.redis_store import RedisStore

    s = RedisStore(redis_url)
    yield s
    s.close()


@pytest.fixture
def callflow():
    """Run `python -m engine.cli ...` the way a user runs `callflow ...`."""
    import subprocess
    import sys
    from pathlib import Path

    root = Path(__file__).parents[1]

    def run(*args, env=None):
        import os
        return subprocess.run([sys.executable, "-m", "engine.cli", *map(str, args)], cwd=root,
                              capture_output=True, text=True, timeout=120,
                              env={**os.environ, **(env or {})})
    return run
