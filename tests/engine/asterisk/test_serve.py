"""`callflow serve` with CALLFLOW_AGI_LISTEN, as a user runs it: a real engine process
takes FastAGI calls from the AGI simulator beside FreeSWITCH's event socket, writes the
same call records, and drains both on SIGTERM."""
from __future__ import annotations

import signal

import pytest

from tests.asim import Simulator, Target
from tests.engine.asterisk.conftest import MEDIA, RULES
from tests.fsim.simulator import Simulator as FreeSwitchSimulator
from tests.fsim.targets import Target as FsTarget
from tests.helpers.engine_proc import EngineProcess, free_port


@pytest.fixture(scope="module")
def engine(tmp_path_factory):
    agi_port = free_port()
    proc = EngineProcess(tmp_path_factory.mktemp("agi-engine"), RULES, media=list(MEDIA), env={
        "CALLFLOW_AGI_LISTEN": f"127.0.0.1:{agi_port}",
        "CALLFLOW_AGI_DIAL_E164_TEMPLATE": "PJSIP/{digits}@trunk",
        "CALLFLOW_AGI_DIAL_SIP_TEMPLATE": "PJSIP/{uri}"}).start()
    proc.agi_port = agi_port
    yield proc
    proc.stop()


def asterisk(engine, tmp_path):
    return Simulator(port=engine.agi_port, time_scale=0.01, techs=("PJSIP",),
                     spool_dir=str(tmp_path / "spool"),
                     targets={"5511900000001": Target.answers(after=2, talk=5),
                              "5511900000002": Target.no_answer(),
                              "5511900000003": Target.busy()})


def test_an_asterisk_call_runs_its_flow_and_is_recorded(engine, tmp_path):
    result = asterisk(engine, tmp_path).place_call(called="+551140040001").result(15)
    assert not result.timed_out
    assert result.played == [f"{engine.media_dir}/welcome", f"{engine.media_dir}/thanks"]
    assert [d.status for d in result.dials] == ["ANSWER"]
    assert result.dials[0].endpoints == ["PJSIP/5511900000001@trunk"]   # the setting's template
    records = [r for r in engine.records() if r["number"] == "+551140040001"]
    record = records[-1]
    assert record["outcome"] == "answered" and record["error"] is None
    assert [a["result"] for a in record["attempts"]] == ["answered"]


def test_both_switches_at_once(engine, tmp_path):
    ast = asterisk(engine, tmp_path).place_call(called="+551140040004")     # -> voicemail
    fs = FreeSwitchSimulator(port=engine.port, time_scale=0.01, targets={
        "+5511900000001": FsTarget.answers(after=1, talk=2)})
    r = fs.place_call(destination_number="+551140040002", caller_id_number="+5511988887777")
    assert r.bridges and r.bridges[0].outcome == "SUCCESS"
    assert engine.wait_record(r.uuid)["outcome"] == "answered"
    result = ast.result(15)
    assert [d.status for d in result.dials] == ["NOANSWER", "BUSY"] and result.records
    vm = [x for x in engine.records() if x["number"] == "+551140040004"][-1]
    assert vm["outcome"] == "voicemail" and [a["result"] for a in vm["attempts"]] == [
        "no_answer", "busy"]


def test_sigterm_stops_accepting_fastagi_too(tmp_path):
    agi_port = free_port()
    proc = EngineProcess(tmp_path, RULES, media=list(MEDIA), env={
        "CALLFLOW_AGI_LISTEN": f"127.0.0.1:{agi_port}"}).start()
    proc.signal(signal.SIGTERM)
    assert proc.proc.wait(20) == 0
    import socket
    with pytest.raises(OSError):
        socket.create_connection(("127.0.0.1", agi_port), timeout=1)
