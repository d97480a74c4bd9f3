"""End to end: `callflow serve` records a voicemail left through the FreeSWITCH simulator
and e-mails it to a real SMTP server (aiosmtpd); without SMTP it keeps the job in the
spool, and a later engine with SMTP delivers it."""
from __future__ import annotations

import time
from pathlib import Path

import pytest

from tests.engine.conftest import E2E_RULES, MEDIA, targets
from tests.fsim.simulator import Simulator
from tests.helpers.engine_proc import EngineProcess
from tests.helpers.smtp_server import SmtpServer

PASSWORD = "e2e-s3cret"


@pytest.fixture
def smtp():
    server = SmtpServer(auth=("vm", PASSWORD), auth_require_tls=False).start()
    yield server
    server.stop()


def engine_with(tmp: Path, smtp_url: str, spool: Path) -> EngineProcess:
    return EngineProcess(tmp, E2E_RULES, media=MEDIA, env={
        "CALLFLOW_SMTP_URL": smtp_url, "CALLFLOW_SPOOL_DIR": str(spool),
        "CALLFLOW_MAIL_FROM": "Correio de voz <voicemail@example.com>"}).start()


def leave_voicemail(engine, **kw):
    sim = Simulator(port=engine.port, time_scale=0.01, targets=targets())
    r = sim.place_call(destination_number="+551140040004", caller_id_number="+5521977776666",
                       caller_speaks=4, **kw)
    rec = engine.wait_record(r.uuid)
    assert rec["outcome"] == "voicemail"
    return r, rec


@pytest.mark.filterwarnings("ignore::UserWarning")
def test_voicemail_is_emailed_with_the_wav(tmp_path, smtp):
    engine = engine_with(tmp_path, f"smtp://vm:{PASSWORD}@127.0.0.1:{smtp.port}", tmp_path / "spool")
    try:
        r, rec = leave_voicemail(engine, caller_id_name="Zé\r\nBcc: victim@evil.example")
        (msg,) = smtp.wait_for(1)
        assert smtp.logins == [("vm", PASSWORD)]
        assert smtp.envelopes[0].rcpt_tos == ["ops@example.com"]
        assert msg["Subject"] == "Nova mensagem de voz para +55 11 4004-0004 de +55 21 97777-6666"
        assert msg["From"] == "Correio de voz <voicemail@example.com>"
        assert msg["X-Callflow-Call-UUID"] == r.uuid and msg["Bcc"] is None
        body = msg.get_body(("plain",)).get_content()
        assert "Nome informado pelo chamador: Zé Bcc: victim@evil.example" in body
        (att,) = list(msg.iter_attachments())
        assert att.get_content_type() == "audio/wav"
        assert att.get_content() == Path(rec["voicemail"]).read_bytes()
        deadline = time.monotonic() + 5
        while list((tmp_path / "spool" / "pending").iterdir()) and time.monotonic() < deadline:
            time.sleep(0.02)
        assert list((tmp_path / "spool" / "pending").iterdir()) == []
        lines = [l for l in engine.log_lines() if l.get("uuid") == r.uuid]
        assert any(l["msg"] == "voicemail spooled for e-mail" for l in lines)
        assert any(l["msg"] == "voicemail e-mailed" for l in lines)
        assert 'callflow_voicemail_emails_total{result="sent"} 1.0' in engine.metrics()
        # shorter than min_seconds (2 s): dropped by the voicemail step, never spooled
        sim = Simulator(port=engine.port, time_scale=0.01, targets=targets())
        short = sim.place_call(destination_number="+551140040004", caller_speaks=20,
                               caller_hangup_during=("record", 1))
        assert engine.wait_record(short.uuid)["outcome"] == "missed"
        time.sleep(0.5)
        assert len(smtp.envelopes) == 1
        assert list((tmp_path / "spool" / "pending").iterdir()) == []
    finally:
        assert engine.stop() == 0
    assert PASSWORD not in engine.log_text()
    assert any(l.get("msg") == "voicemail sender stopped" for l in engine.log_lines())


@pytest.mark.filterwarnings("ignore::UserWarning")
def test_without_smtp_the_job_waits_and_a_later_engine_sends_it(tmp_path, smtp, callflow_cli):
    spool = tmp_path / "spool"
    (tmp_path / "a").mkdir()
    first = engine_with(tmp_path / "a", "", spool)
    try:
        warnings = [l for l in first.log_lines() if l.get("level") == "warning"
                    and "voicemail e-mail is not configured" in l.get("msg", "")]
        assert warnings
        r, _ = leave_voicemail(first)
    finally:
        first.stop()
    status = callflow_cli("voicemail", "status", "--spool-dir", spool)
    assert "pending: 1" in status.stdout and r.uuid in status.stdout
    (tmp_path / "b").mkdir()
    second = engine_with(tmp_path / "b", f"smtp://vm:{PASSWORD}@127.0.0.1:{smtp.port}", spool)
    try:
        (msg,) = smtp.wait_for(1)
        assert msg["X-Callflow-Call-UUID"] == r.uuid
    finally:
        second.stop()


@pytest.fixture
def callflow_cli():
    import subprocess
    import sys

    from tests.helpers.engine_proc import REPO

    def run(*args):
        return subprocess.run([sys.executable, "-m", "engine.cli", *map(str, args)], cwd=REPO,
                              capture_output=True, text=True, timeout=60)
    return run


def test_bad_smtp_url_stops_serve_at_start_without_the_password(tmp_path):
    engine = EngineProcess(tmp_path, E2E_RULES, media=MEDIA,
                           env={"CALLFLOW_SMTP_URL": "smtp://vm:hunter2@mail.example.com:99999"})
    with pytest.raises(RuntimeError, match="exited 1") as err:
        engine.start(timeout=10)
    engine.stop()
    assert "settings.smtp_url: not a valid SMTP URL: smtp://vm:***@" in str(err.value)
    assert "hunter2" not in str(err.value)
