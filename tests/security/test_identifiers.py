"""A call uuid from the switch names files, log lines and a Redis entry, so it must be
a canonical UUID first (issue "Hostile input", 3). Before: a Unique-ID of "../../tmp/x"
wrote the voicemail outside its folder and e-mailed it."""
from __future__ import annotations

import os
from datetime import datetime, timedelta, timezone

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
    # nothing at the path the uuid would have named (inside or outside the folders)
    for root in (engine.voicemail_dir, engine.recordings_dir):
        for day in {datetime.now(timezone.utc), datetime.now(timezone.utc) - timedelta(seconds=30)}:
            target = os.path.normpath(root / f"{day:%Y}" / f"{day:%m}" / f"{day:%d}" / f"{uuid}.wav")
            assert not os.path.exists(target), f"the uuid named {target}"
    assert uuid not in [rec["uuid"] for rec in engine.records()]
    refusals = [l for l in engine.log_lines() if "not a canonical UUID" in l.get("msg", "")]
    assert refusals and all(l["level"] == "error" for l in refusals)
    assert 'callflow_calls_refused_total{reason="bad_uuid"}' in engine.metrics()
