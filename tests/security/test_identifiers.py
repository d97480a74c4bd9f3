"""A call uuid from the switch names files, log lines and a Redis entry, so it must be
a canonical UUID first (issue "Hostile input", 3). Before: a Unique-ID of "../../tmp/x"
wrote the voicemail outside its folder and e-mailed it."""
from __future__ import annotations

import pytest

from tests.security.conftest import assert_honest_call_completed, honest_call

HOSTILE_UUIDS = ["../../tmp/x", "../../../../../../tmp/callflow-escape",
                 "6E3A389E-6DB1-409C-AC74-CE1113C17929",     # a second name for one call
                 "6e3a389e-6db1-409c-ac74-ce1113c17929/../../x", "x" * 300]


@pytest.mark.parametrize("number", ["+551140040004", "+551140040005"])
@pytest.mark.parametrize("uuid", HOSTILE_UUIDS)
def test_a_hostile_uuid_names_nothing_and_the_call_goes_back_to_the_dialplan(
        engine, sim, number, uuid):
    honest = honest_call(sim)
    r = sim.place_call(destination_number=number, caller_id_number="+5511977776666",
                       uuid=uuid, timeout=20)
    assert r.connected and r.closed_by == "engine" and r.apps == []   # nothing executed
    assert not r.answered and not r.recordings
    assert_honest_call_completed(engine, honest)
    # no file anywhere but where an honest call put its own
    written = [p for p in engine.tmp.rglob("*.wav") if p.parent != engine.media_dir]
    assert all(p.stem != uuid and engine.tmp in p.parents for p in written), written
    assert not any(p.name.startswith(("x.", "callflow-escape")) for p in
                   [*engine.tmp.parent.rglob("*.wav")]), "a file escaped its folder"
    assert uuid not in [rec["uuid"] for rec in engine.records()]
    refusals = [l for l in engine.log_lines() if "not a canonical UUID" in l.get("msg", "")]
    assert refusals and all(l["level"] == "error" for l in refusals)
    assert 'callflow_calls_refused_total{reason="bad_uuid"}' in engine.metrics()
