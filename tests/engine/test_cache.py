"""engine.cache: the rules cache only ever swaps whole references."""
from __future__ import annotations

from engine.cache import RulesCache
from rules.loader import compile_number, load_text

GOOD = 'numbers:\n  "+551140040000": {hangup: [{cause: CALL_REJECTED}]}\n'


def test_cache_apply_swaps_a_new_ruleset(tmp_path):
    path = tmp_path / "rules.yaml"
    path.write_text(GOOD)
    cache = RulesCache(str(path))
    cache.install(load_text(GOOD), 1)
    old = cache.ruleset
    new_entry = compile_number("+551140040001", {"hangup": [{}]})
    cache.apply({"+551140040001": new_entry, "+551140040000": None}, 7)
    assert cache.ruleset is not old and list(old) == ["+551140040000"]   # old set untouched
    assert list(cache.ruleset) == ["+551140040001"] and cache.version == 7
