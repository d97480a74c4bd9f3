"""`callflow voicemail status|retry`: read and requeue the spool, like an operator would."""
import json

import pytest

from engine.mailer.spool import FAILED, PENDING, Spool
from engine.voicemail_handoff import VoicemailMessage


def message(uuid):
    return VoicemailMessage(uuid=uuid, number="+551140040004", caller="+5521977776666",
                            caller_name="Maria", email=("ops@example.com",), path=f"/vm/{uuid}.wav",
                            seconds=12.0, local_time="2026-11-27T14:05:09-03:00")


@pytest.fixture
def spool(tmp_path):
    spool = Spool(tmp_path / "spool").open()
    spool.enqueue(message("pending-1"))
    for uuid in ("failed-1", "failed-2"):
        job = spool.enqueue(message(uuid))
        claim = spool.claim(job.id)
        claim.job.attempts, claim.job.last_error = 9, "554 5.7.1 relaying denied"
        spool.fail(claim, claim.job)
    return spool


def test_status_lists_pending_and_failed(callflow, spool):
    r = callflow("voicemail", "status", "--spool-dir", spool.root)
    assert r.returncode == 0, r.stderr
    lines = r.stdout.splitlines()
    assert lines[1] == "pending: 1" and "pending-1  +551140040004 from +5521977776666" in lines[2]
    assert "failed: 2" in lines
    assert r.stdout.count("last error: 554 5.7.1 relaying denied") == 2


def test_status_json_and_spool_from_the_environment(callflow, spool, monkeypatch):
    monkeypatch.setenv("CALLFLOW_SPOOL_DIR", str(spool.root))
    r = callflow("voicemail", "status", "--json")
    out = json.loads(r.stdout)
    assert [j["id"] for j in out["pending"]] == ["pending-1"]
    assert sorted(j["id"] for j in out["failed"]) == ["failed-1", "failed-2"]
    assert out["failed"][0]["attempts"] == 9 and out["failed"][0]["to"] == ["ops@example.com"]


def test_retry_one_then_all(callflow, spool):
    r = callflow("voicemail", "retry", "failed-2", "--spool-dir", spool.root)
    assert r.returncode == 0 and "requeued failed-2" in r.stdout
    assert sorted(j.id for j in spool.jobs(PENDING)) == ["failed-2", "pending-1"]
    requeued = next(j for j in spool.jobs(PENDING) if j.id == "failed-2")
    assert requeued.attempts == 0 and requeued.requeues == 1
    r = callflow("voicemail", "retry", "--spool-dir", spool.root)
    assert r.stdout.splitlines()[-1] == "1 job requeued"
    assert spool.jobs(FAILED) == [] and len(spool.jobs(PENDING)) == 3


def test_retry_unknown_id_and_missing_spool(callflow, spool, tmp_path):
    r = callflow("voicemail", "retry", "nope", "--spool-dir", spool.root)
    assert r.returncode == 1 and "no failed job 'nope'" in r.stderr
    r = callflow("voicemail", "status", "--spool-dir", tmp_path / "absent")
    assert r.returncode == 1 and "no spool at" in r.stderr
