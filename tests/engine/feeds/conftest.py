"""The Redis fixtures of tests/store (a real redis-server per test session, emptied before
every test), for the feeds' tests that run against one."""
from __future__ import annotations

from tests.store.conftest import rclient, redis_server, redis_url, store  # noqa: F401
