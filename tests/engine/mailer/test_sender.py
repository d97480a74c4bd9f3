"""The sender against a real SMTP server (aiosmtpd on loopback): delivery, retries,
outages, restarts, TLS, and the 500-message burst. No mock of smtplib anywhere."""
from __future__ import annotations

import logging
import subprocess
import sys
import time
from pathlib import Path

import pytest

from engine.mailer import Mailer, SpoolSink
from engine.mailer.spool import FAILED, PENDING, Spool
from engine.settings import Settings
from rules.errors import ConfigError
from tests.helpers.engine_proc import REPO, free_port
from tests.helpers.smtp_server import SmtpServer, server_context, tls_pair


def later(seconds: float) -> float:
    return time.time() + seconds


def body(msg) -> str:
    return msg.get_body(("plain",)).get_content()


def test_delivered_with_the_wav_attached_and_the_right_headers(spool, smtp, voicemail, make_sender):
    m = voicemail(seconds=2.0, email=("ops@example.com", "boss@example.com"))
    job = spool.enqueue(m)
    report = make_sender(spool, smtp.port).deliver_due_once()
    assert (report.sent, report.deferred, report.failed) == (1, 0, 0)
    (env,) = smtp.envelopes
    assert env.mail_from == "voicemail@example.com"
    assert env.rcpt_tos == ["ops@example.com", "boss@example.com"]
    (msg,) = smtp.messages()
    assert msg["Subject"] == "Nova mensagem de voz para +55 11 4004-0004 de +55 21 97777-6666"
    assert msg["From"] == "Callflow <voicemail@example.com>"
    assert msg["To"] == "ops@example.com, boss@example.com"
    assert msg["Message-ID"] == f"<{job.id}@example.com>"
    assert msg["X-Callflow-Call-UUID"] == m.uuid
    assert "27/11/2026 às 14:05" in body(msg) and "Duração: 2 s" in body(msg)
    (att,) = list(msg.iter_attachments())
    assert att.get_content_type() == "audio/wav"
    assert att.get_content() == Path(m.path).read_bytes()
    assert spool.jobs(PENDING) == [] and spool.jobs(FAILED) == []
    assert Path(m.path).exists()                  # the recording itself is kept


def test_4xx_is_retried_after_a_backoff(spool, smtp, voicemail, make_sender):
    smtp.data_replies = ["451 4.3.0 try again later"]
    spool.enqueue(voicemail())
    sender = make_sender(spool, smtp.port, retry_base=10, retry_cap=10)
    now = time.time()
    assert sender.deliver_due_once(now).deferred == 1
    (job,) = spool.jobs()
    assert job.attempts == 1 and job.last_error.startswith("451")
    assert now + 5 <= job.next_attempt <= now + 10          # base 10 s, equal jitter
    assert sender.deliver_due_once(now + 1).sent == 0       # not due yet: no new attempt
    assert smtp.data_calls == 1
    assert sender.deliver_due_once(now + 11).sent == 1
    assert len(smtp.envelopes) == 1 and spool.jobs() == []


def test_5xx_is_kept_and_retried_then_failed_after_max_age(spool, smtp, voicemail, make_sender, caplog):
    smtp.data_replies = ["554 5.7.1 relaying denied"] * 3
    m = voicemail()
    spool.enqueue(m)
    sender = make_sender(spool, smtp.port, max_age=60, retry_base=1, retry_cap=1)
    now = time.time()
    assert sender.deliver_due_once(now).deferred == 1
    assert sender.deliver_due_once(now + 2).deferred == 1   # still within its age
    assert len(spool.jobs(PENDING)) == 1
    with caplog.at_level(logging.ERROR):
        assert sender.deliver_due_once(now + 61).failed == 1
    assert spool.jobs(PENDING) == []
    (failed,) = spool.jobs(FAILED)
    assert failed.attempts == 3 and failed.last_error.startswith("554")
    loud = [r for r in caplog.records if "VOICEMAIL E-MAIL FAILED" in r.getMessage()]
    assert loud and loud[0].levelno == logging.ERROR and loud[0].uuid == m.uuid
    assert f"callflow voicemail retry {failed.id}" in loud[0].getMessage()
    # someone fixes the relay and requeues it: it goes out with a fresh age
    spool.retry()
    assert sender.deliver_due_once(now + 62).sent == 1 and len(smtp.envelopes) == 1


def test_tiny_max_age_with_real_time(spool, smtp, voicemail, make_sender, running):
    smtp.data_replies = ["550 5.1.1 no such user"] * 1000
    spool.enqueue(voicemail())
    running(make_sender(spool, smtp.port, max_age=0.3))
    deadline = time.monotonic() + 10
    while not spool.jobs(FAILED) and time.monotonic() < deadline:
        time.sleep(0.05)
    (failed,) = spool.jobs(FAILED)
    assert failed.attempts >= 2 and spool.jobs(PENDING) == [] and smtp.envelopes == []


def test_some_recipients_refused_only_they_are_retried(spool, smtp, voicemail, make_sender):
    smtp.rcpt_replies = {"busy@example.com": "450 4.2.1 mailbox busy"}
    spool.enqueue(voicemail(email=("ops@example.com", "busy@example.com")))
    sender = make_sender(spool, smtp.port, retry_base=1, retry_cap=1)
    now = time.time()
    assert sender.deliver_due_once(now).deferred == 1
    (job,) = spool.jobs()
    assert job.to == ["busy@example.com"] and job.delivered_to == ["ops@example.com"]
    smtp.rcpt_replies = {}
    assert sender.deliver_due_once(now + 2).sent == 1
    assert [e.rcpt_tos for e in smtp.envelopes] == [["ops@example.com"], ["busy@example.com"]]
    assert spool.jobs() == []


def test_smtp_down_then_up_nothing_lost(spool, voicemail, make_sender, running):
    port = free_port()
    for _ in range(3):
        spool.enqueue(voicemail())
    sender = make_sender(spool, port)
    report = sender.deliver_due_once()
    assert report.connect_error and report.sent == 0
    assert len(spool.jobs()) == 3 and all(j.attempts == 0 for j in spool.jobs())
    state = spool.read_state()
    assert state["last_error"] == report.connect_error and state["server"].endswith(f":{port}")
    expected = sorted(j.uuid for j in spool.jobs())
    server = SmtpServer(port=port)
    running(sender)
    time.sleep(0.3)                                # still down for a few sender passes
    server.start()
    try:
        msgs = server.wait_for(3)
        assert sorted(m["X-Callflow-Call-UUID"] for m in msgs) == expected
        deadline = time.monotonic() + 5
        while spool.jobs() and time.monotonic() < deadline:
            time.sleep(0.02)
        assert spool.jobs() == [] and len(server.envelopes) == 3
    finally:
        server.stop()


def test_server_down_for_longer_than_max_age_moves_due_jobs_to_failed(spool, voicemail, make_sender):
    spool.enqueue(voicemail())
    sender = make_sender(spool, free_port(), max_age=60)
    assert sender.deliver_due_once(time.time() + 61).failed == 1
    (failed,) = spool.jobs(FAILED)
    assert failed.last_error.startswith("SMTP server unreachable")


def test_an_old_job_is_tried_before_it_can_fail(spool, smtp, voicemail, make_sender):
    # e.g. the engine ran a week without smtp_url: its jobs still go out
    spool.enqueue(voicemail(), now=time.time() - 7 * 86400)
    assert make_sender(spool, smtp.port, max_age=3 * 86400).deliver_due_once().sent == 1


PREVIOUS_RUN = """
import os, sys
from engine.mailer.spool import Spool
from engine.voicemail_handoff import VoicemailMessage
spool = Spool(sys.argv[1]).open()
for i in range(5):
    spool.enqueue(VoicemailMessage(uuid=f"prev-{i}", number="+551140040004", caller="anonymous",
        caller_name=None, email=("ops@example.com",), path=sys.argv[2], seconds=3.0,
        local_time="2026-11-27T14:05:09-03:00"))
# a claim held when the process dies, and a half-written file in tmp/
claim = spool.claim("prev-0")
open(os.path.join(sys.argv[1], "tmp", "prev-9.123.abcd.tmp"), "w").write('{"half')
os.kill(os.getpid(), 9)
"""


def test_jobs_left_by_a_killed_previous_run_are_delivered_by_a_new_sender(
        tmp_path, smtp, voicemail, make_sender, running):
    wav = voicemail().path
    root = tmp_path / "spool"
    r = subprocess.run([sys.executable, "-c", PREVIOUS_RUN, str(root), wav], cwd=REPO)
    assert r.returncode == -9
    spool = Spool(root).open()                     # a new engine starts on the same spool
    assert len(spool.jobs()) == 5
    running(make_sender(spool, smtp.port))
    msgs = smtp.wait_for(5)
    assert sorted(m["X-Callflow-Call-UUID"] for m in msgs) == [f"prev-{i}" for i in range(5)]
    assert all(m["Subject"].endswith("de anônimo") for m in msgs)


def test_caller_id_name_with_crlf_and_non_ascii(spool, smtp, voicemail, make_sender):
    name = "Zé Açaí\r\nBcc: victim@evil.example\r\nX-Injected: yes"
    spool.enqueue(voicemail(caller_name=name))
    assert make_sender(spool, smtp.port).deliver_due_once().sent == 1
    (env,) = smtp.envelopes
    assert env.rcpt_tos == ["ops@example.com"]
    (msg,) = smtp.messages()
    assert msg["Bcc"] is None and msg["X-Injected"] is None
    assert b"\nBcc:" not in env.content and b"\nX-Injected:" not in env.content
    assert "Nome informado pelo chamador: Zé Açaí Bcc: victim@evil.example X-Injected: yes" in body(msg)


def test_missing_wav_is_retried_and_logged(spool, smtp, voicemail, make_sender, caplog):
    m = voicemail()
    spool.enqueue(m)
    Path(m.path).rename(m.path + ".away")
    sender = make_sender(spool, smtp.port, retry_base=1, retry_cap=1)
    now = time.time()
    with caplog.at_level(logging.ERROR):
        assert sender.deliver_due_once(now).deferred == 1
    assert "voicemail file missing" in spool.jobs()[0].last_error
    assert any(r.levelno == logging.ERROR and r.uuid == m.uuid for r in caplog.records)
    Path(m.path + ".away").rename(m.path)            # e.g. a storage mount came back
    assert sender.deliver_due_once(now + 2).sent == 1


def test_wav_over_the_limit_is_not_attached(spool, smtp, voicemail, make_sender):
    m = voicemail(seconds=1.0)                      # 16 KB
    spool.enqueue(m)
    assert make_sender(spool, smtp.port, max_attachment_bytes=4096).deliver_due_once().sent == 1
    (msg,) = smtp.messages()
    assert list(msg.iter_attachments()) == []
    assert m.path in body(msg) and "grande demais" in body(msg)


def test_backoff_is_exponential_with_jitter_and_capped(spool, smtp, make_sender):
    sender = make_sender(spool, smtp.port, retry_base=30, retry_cap=1800)
    for failures in range(1, 12):
        nominal = min(1800, 30 * 2 ** (failures - 1))
        values = {round(sender.backoff(failures), 6) for _ in range(50)}
        assert all(nominal / 2 <= v <= nominal for v in values)
        assert len(values) > 1                     # jitter


def test_a_new_voicemail_wakes_the_sender(spool, smtp, voicemail, make_sender, running):
    sender = make_sender(spool, smtp.port, poll_seconds=30)
    running(sender)
    time.sleep(0.2)                                 # the sender is idle, waiting 30 s
    started = time.monotonic()
    SpoolSink(spool, sender.wake).submit(voicemail())
    smtp.wait_for(1, timeout=5)
    assert time.monotonic() - started < 2


def test_500_messages_queued_at_once(spool, smtp, voicemail, make_sender, running, capsys):
    wav = voicemail(seconds=1.0).path               # 16 KB of audio each
    messages = [voicemail(path=wav) for _ in range(500)]
    t0 = time.perf_counter()
    for m in messages:
        spool.enqueue(m)
    enqueued = time.perf_counter() - t0
    t1 = time.perf_counter()
    running(make_sender(spool, smtp.port))
    msgs = smtp.wait_for(500, timeout=120)
    delivered = time.perf_counter() - t1
    deadline = time.monotonic() + 5
    while spool.jobs() and time.monotonic() < deadline:
        time.sleep(0.02)
    assert len(msgs) == 500
    assert len({m["Message-ID"] for m in msgs}) == 500
    assert {m["X-Callflow-Call-UUID"] for m in msgs} == {m.uuid for m in messages}
    assert spool.jobs() == [] and spool.jobs(FAILED) == []
    with capsys.disabled():
        print(f"\n500 voicemails: enqueue (fsync'ed) {enqueued:.2f} s "
              f"({enqueued / 500 * 1000:.2f} ms each); delivered over SMTP in {delivered:.2f} s "
              f"({500 / delivered:.0f}/s)")


# -- TLS -----------------------------------------------------------------------------------

@pytest.fixture
def tls(tmp_path):
    pytest.importorskip("cryptography")
    cert, key = tls_pair(tmp_path)
    return cert, server_context(cert, key)


def test_starttls_with_auth(spool, voicemail, make_sender, tls, caplog):
    cert, ctx = tls
    server = SmtpServer(auth=("vm@example.com", "s3cr3t!pw"), tls_context=ctx,
                        require_starttls=True).start()
    try:
        spool.enqueue(voicemail())
        url = f"smtp+starttls://vm%40example.com:s3cr3t%21pw@127.0.0.1:{server.port}?cafile={cert}"
        caplog.set_level(logging.DEBUG)
        assert make_sender(spool, url).deliver_due_once().sent == 1
        assert server.logins == [("vm@example.com", "s3cr3t!pw")]
        assert len(server.envelopes) == 1
        assert "s3cr3t" not in caplog.text
    finally:
        server.stop()


def test_smtps(spool, voicemail, make_sender, tls):
    cert, ctx = tls
    server = SmtpServer(ssl_context=ctx).start()
    try:
        spool.enqueue(voicemail())
        url = f"smtps://127.0.0.1:{server.port}?cafile={cert}"
        assert make_sender(spool, url).deliver_due_once().sent == 1
        assert server.messages()[0].get_content_type() == "multipart/mixed"
    finally:
        server.stop()


def test_smtps_with_an_untrusted_certificate_is_refused(spool, voicemail, make_sender, tls):
    cert, ctx = tls
    server = SmtpServer(ssl_context=ctx).start()
    try:
        spool.enqueue(voicemail())
        report = make_sender(spool, f"smtps://127.0.0.1:{server.port}").deliver_due_once()
        assert "CERTIFICATE_VERIFY_FAILED" in report.connect_error
        assert server.envelopes == [] and len(spool.jobs()) == 1
    finally:
        server.stop()


def test_starttls_required_never_falls_back_to_plain(spool, smtp, voicemail, make_sender):
    spool.enqueue(voicemail())
    report = make_sender(spool, f"smtp+starttls://u:pw@127.0.0.1:{smtp.port}").deliver_due_once()
    assert "STARTTLS" in report.connect_error
    assert smtp.envelopes == [] and len(spool.jobs()) == 1


@pytest.mark.filterwarnings("ignore:Requiring AUTH while not requiring TLS")
def test_wrong_password_is_an_outage_and_is_never_logged(spool, voicemail, make_sender, caplog):
    server = SmtpServer(auth=("vm", "right"), auth_require_tls=False).start()
    try:
        spool.enqueue(voicemail())
        caplog.set_level(logging.DEBUG)
        report = make_sender(spool, f"smtp://vm:wr0ngpass@127.0.0.1:{server.port}").deliver_due_once()
        assert report.connect_error.startswith("535")
        assert len(spool.jobs()) == 1
        assert "wr0ngpass" not in caplog.text
        assert "wr0ngpass" not in (spool.root / "sender.json").read_text()
    finally:
        server.stop()


# -- assembly -------------------------------------------------------------------------------

def test_without_smtp_url_voicemails_are_spooled_and_a_warning_is_logged(tmp_path, voicemail, caplog):
    mailer = Mailer.from_settings(Settings(spool_dir=tmp_path / "spool", smtp_url=""))
    assert mailer.sender is None
    with caplog.at_level(logging.WARNING):
        mailer.start(spawn=lambda fn: pytest.fail("nothing to run"))
    assert any("voicemail e-mail is not configured" in r.getMessage() for r in caplog.records)
    mailer.sink.submit(voicemail())
    assert len(mailer.spool.jobs()) == 1


def test_bad_mail_settings_are_refused_at_start_without_the_password(tmp_path):
    with pytest.raises(ConfigError) as err:
        Mailer.from_settings(Settings(spool_dir=tmp_path, smtp_url="smtp://u:hunter2@:99",
                                      mail_from="not an address"))
    paths = [p for p, _ in err.value.errors]
    assert paths == ["settings.mail_from", "settings.smtp_url"]
    assert "hunter2" not in str(err.value)


def test_spool_that_cannot_be_written_refuses_to_start(tmp_path):
    (tmp_path / "file").write_text("")
    mailer = Mailer.from_settings(Settings(spool_dir=tmp_path / "file" / "spool"))
    with pytest.raises(ConfigError) as err:
        mailer.start(spawn=lambda fn: None)
    assert err.value.errors[0][0] == "settings.spool_dir"


def test_submit_that_cannot_spool_logs_the_message_and_raises(tmp_path, voicemail, caplog):
    spool = Spool(tmp_path / "spool").open()
    m = voicemail()
    spool.dirs[PENDING].rmdir()                   # the disk went away under us
    with pytest.raises(OSError), caplog.at_level(logging.ERROR):
        SpoolSink(spool).submit(m)
    (rec,) = [r for r in caplog.records if "VOICEMAIL NOT SPOOLED" in r.getMessage()]
    assert rec.fields["path"] == m.path and rec.uuid == m.uuid
