"""The spool on disk: durable enqueue, claim, complete, fail, retry, unreadable jobs."""
import json
import os
import time

import pytest

from engine.mailer.spool import FAILED, PENDING, Job, Spool
from rules.errors import SpoolError


def test_enqueue_writes_one_complete_job_and_fsyncs_before_returning(spool, voicemail, monkeypatch):
    calls = []
    real_fsync = os.fsync
    monkeypatch.setattr(os, "fsync", lambda fd: (calls.append(("fsync", os.readlink(f"/proc/self/fd/{fd}"))), real_fsync(fd))[1])
    real_link = os.link
    monkeypatch.setattr(os, "link", lambda a, b: (calls.append(("link", str(b))), real_link(a, b))[1])
    m = voicemail(uuid="call-1")
    job = spool.enqueue(m)
    pending = spool.dirs[PENDING]
    assert job.id == "call-1"
    assert [p.name for p in pending.iterdir()] == ["call-1.json"]
    assert list(spool.tmp_dir.iterdir()) == []
    # the WAV (and its folder), then the job file, then its link into pending/, then pending/
    kinds = [(k, os.path.basename(v)) for k, v in calls]
    assert kinds[0] == ("fsync", "call-1.wav")
    i = kinds.index(("link", "call-1.json"))
    assert calls[i - 1][0] == "fsync" and calls[i - 1][1].startswith(str(spool.tmp_dir))
    assert calls[i + 1] == ("fsync", str(pending))
    data = json.loads((pending / "call-1.json").read_text())
    assert data["version"] == 1 and data["to"] == ["ops@example.com"]
    assert data["message"] == m.to_json()


def test_enqueue_runs_its_writes_through_offload(tmp_path, voicemail):
    ran = []
    spool = Spool(tmp_path / "s", offload=lambda fn: (ran.append(fn), fn())[1]).open()
    spool.enqueue(voicemail())
    assert len(ran) == 1


def test_same_uuid_twice_gets_two_jobs(spool, voicemail):
    a = spool.enqueue(voicemail(uuid="dup"))
    b = spool.enqueue(voicemail(uuid="dup"))
    assert a.id == "dup" and b.id.startswith("dup-") and len(spool.jobs()) == 2


def test_a_racing_enqueue_never_replaces_a_job(spool, voicemail, monkeypatch):
    first = spool.enqueue(voicemail(uuid="race"))
    real = spool._new_id
    answers = iter(["race"])                      # as if the check ran before the first write
    monkeypatch.setattr(spool, "_new_id", lambda uuid: next(answers, None) or real(uuid))
    second = spool.enqueue(voicemail(uuid="race"))
    assert second.id != first.id
    assert sorted(j.id for j in spool.jobs()) == sorted([first.id, second.id])
    assert {j.id: j.message["uuid"] for j in spool.jobs()}[second.id] == "race"


def test_unsafe_uuid_is_not_used_as_a_file_name(spool, voicemail):
    job = spool.enqueue(voicemail(uuid="../../etc/passwd"))
    assert "/" not in job.id and (spool.dirs[PENDING] / f"{job.id}.json").exists()


def test_claim_is_exclusive_until_released(spool, voicemail):
    job = spool.enqueue(voicemail())
    first = spool.claim(job.id)
    assert first is not None and first.job.id == job.id
    other = Spool(spool.root)                 # another sender (another engine) on the spool
    assert other.claim(job.id) is None
    first.release()
    again = other.claim(job.id)
    assert again is not None
    again.release()
    assert spool.claim("no-such-job") is None


def test_complete_removes_the_job(spool, voicemail):
    job = spool.enqueue(voicemail())
    spool.complete(spool.claim(job.id))
    assert spool.jobs() == [] and spool.claim(job.id) is None


def test_reschedule_keeps_the_state(spool, voicemail):
    job = spool.enqueue(voicemail())
    claim = spool.claim(job.id)
    claim.job.attempts, claim.job.last_error, claim.job.next_attempt = 2, "451 later", 123.0
    spool.reschedule(claim, claim.job)
    claim.release()
    (j,) = spool.jobs()
    assert (j.attempts, j.last_error, j.next_attempt) == (2, "451 later", 123.0)


def test_fail_then_retry_one_and_all(spool, voicemail):
    ids = [spool.enqueue(voicemail()).id for _ in range(3)]
    for i in ids:
        c = spool.claim(i)
        c.job.attempts = 7
        spool.fail(c, c.job, now=1000.0)
    assert spool.jobs(PENDING) == [] and len(spool.jobs(FAILED)) == 3
    assert spool.jobs(FAILED)[0].failed_at == 1000.0
    assert spool.retry([ids[1]], now=2000.0) == [ids[1]]
    (back,) = spool.jobs(PENDING)
    assert (back.id, back.attempts, back.age_from, back.next_attempt, back.failed_at,
            back.requeues) == (ids[1], 0, 2000.0, 2000.0, None, 1)
    assert sorted(spool.retry()) == sorted([ids[0], ids[2]])
    assert len(spool.jobs(PENDING)) == 3 and spool.jobs(FAILED) == []
    with pytest.raises(SpoolError):
        spool.retry(["nope"])


def test_unreadable_job_is_skipped_listed_and_left_in_place(spool, voicemail, caplog):
    spool.enqueue(voicemail())
    bad = spool.dirs[PENDING] / "broken.json"
    bad.write_text("{not json")
    assert len(spool.jobs()) == 1
    assert len(spool.jobs()) == 1
    assert spool.unreadable() == ["broken.json"] and bad.exists()
    assert sum("unreadable voicemail" in r.getMessage() for r in caplog.records) == 1
    with pytest.raises(SpoolError):
        spool.claim("broken")


def test_open_clears_only_stale_tmp_files_and_refuses_an_unwritable_spool(tmp_path):
    spool = Spool(tmp_path / "s").open()
    old, new = spool.tmp_dir / "old.tmp", spool.tmp_dir / "new.tmp"
    old.write_text("x")
    new.write_text("x")
    os.utime(old, (time.time() - 7200, time.time() - 7200))
    spool.open()
    assert not old.exists() and new.exists()
    blocker = tmp_path / "file"
    blocker.write_text("")
    with pytest.raises(SpoolError):
        Spool(blocker / "spool").open()


def test_job_roundtrip_and_version_check():
    job = Job(id="a", message={"uuid": "a"}, to=["x@example.com"], created=1.0, age_from=1.0)
    assert Job.from_bytes(job.to_bytes()) == job
    with pytest.raises(ValueError):
        Job.from_bytes(json.dumps({"version": 99}).encode())
