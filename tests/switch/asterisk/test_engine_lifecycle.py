"""The engine's life around real Asterisk calls: not running (the project's dialplan
falls back), and a burst of calls."""
from __future__ import annotations

import time

import pytest

from tests.helpers.engine_proc import free_port

pytestmark = pytest.mark.slow


def test_no_engine_the_dialplan_fallback_runs(ast_lab):
    lab = ast_lab
    dead = f"127.0.0.1:{free_port()}"          # nothing listens there
    lab.ast.set_engines([dead, dead])
    try:
        call = lab.call("551140040002")
        call.wait_ended(timeout=20)
    finally:
        lab.ast.set_engines([lab.engine_address])
    apps = call.dialplan_apps()
    names = [a for a, _ in apps]
    # both AGI() calls failed at once (nothing listened), then the fallback ran
    assert [d for a, d in apps if a == "AGI"] == [f"agi://{dead}/callflow"] * 2
    assert call.variable("AGISTATUS") == ["FAILURE", "FAILURE"]
    assert names[names.index("AGI", names.index("AGI") + 1) + 1:] == [
        "Verbose", "Progress", "Playback", "Hangup", "NoOp"]    # NoOp: the h extension
    assert dict(apps)["Playback"] == "ss-noservice,noanswer"
    assert dict(apps)["Hangup"] == "41"
    assert call.hangup_cause() == 41
    assert call.caller_answered() is None       # early media only: the caller is not billed
    assert call.commands() == [] and call.legs() == []


def test_twenty_calls_in_two_seconds_all_complete(ast_lab):
    lab = ast_lab
    calls = []
    started = time.monotonic()
    for i in range(20):
        # pacing the offered calls, 100 ms apart; no assertion waits on a sleep
        time.sleep(max(0.0, started + i * 0.1 - time.monotonic()))
        calls.append(lab.call("551140040012", caller=f"+55219888{i:05d}"))
    records = [lab.finished(call, timeout=60) for call in calls]
    assert [r["outcome"] for r in records] == ["answered"] * 20
    assert all([a["result"] for a in r["attempts"]] == ["answered"] for r in records)
    assert all(call.played() == [lab.media("hello.wav")] for call in calls)
    assert all(call.hangup_cause() == 16 for call in calls)
    assert len({r["uuid"] for r in records}) == 20
    assert sorted(r["caller"] for r in records) == sorted(f"+55219888{i:05d}" for i in range(20))


def test_systemname_prefixed_uniqueids_are_served(ast_lab, tmp_path):
    # asterisk.conf's systemname prefixes every uniqueid ("pbx1-1796354094.1", seen on
    # 22.10.1); the engine refused such an agi_uniqueid before (the dialplan then fell
    # back on every call). A second private Asterisk with a systemname, on the same engine.
    from tests.switch.asterisk.instance import Asterisk

    lab = ast_lab
    other = Asterisk(tmp_path / "pbx1", [lab.engine_address], options={"systemname": "pbx1"}).start()
    try:
        with other.ami(events=True) as ami:
            reply = ami.action("Originate", Channel="Local/+551140040006@callflow-in",
                               Context="callflow-test-caller", Exten="idle", Priority="1",
                               Async="true", CallerID="<+5521988887777>")
            assert reply.get("Response") == "Success", reply
            first = ami.wait(lambda e: e.get("Event") == "AGIExecStart", 10, "an AGI command")
            uniqueid = first["Uniqueid"]
            assert uniqueid.startswith("pbx1-")
            caller = ami.wait(lambda e: e.get("Event") == "Hangup"
                              and e.get("Channel", "").startswith("Local/+551140040006@callflow-in")
                              and e.get("Channel", "").endswith(";1"), 20, "the caller's hang-up")
            assert caller["Cause"] == "21"             # the number's hang-up rule ran
    finally:
        other.stop()
    rec = lab.record_of(uniqueid)
    assert rec["outcome"] == "hangup" and rec["hangup_cause"] == "CALL_REJECTED"
