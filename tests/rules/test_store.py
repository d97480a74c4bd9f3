"""rules.store: which store a rules source names."""
from __future__ import annotations

from rules.store import FileStore, is_redis_url, open_store


def test_open_store_by_scheme(tmp_path):
    assert isinstance(open_store(tmp_path / "r.yaml"), FileStore)
    assert is_redis_url("redis://h:1/0") and is_redis_url("rediss://u:p@h:1/0")
    assert open_store("rediss://u:p@h:1/0").describe() == "rediss://u:***@h:1/0"
    assert not is_redis_url("/etc/callflow/rules.yaml")
