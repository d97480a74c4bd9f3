"""Fixtures for the mailer: a real SMTP server (aiosmtpd), voicemails on disk, a spool,
and senders built the way the engine builds them (no gevent: tests call
``deliver_due_once`` or run ``Sender.run`` in a thread)."""
from __future__ import annotations

import itertools
import threading

import pytest

from engine.mailer import Sender, Spool, parse
from engine.mailer.message import Templates
from engine.voicemail_handoff import VoicemailMessage
from tests.helpers.engine_proc import write_wav
from tests.helpers.smtp_server import SmtpServer

_seq = itertools.count(1)


@pytest.fixture
def smtp():
    server = SmtpServer().start()
    yield server
    server.stop()


@pytest.fixture
def spool(tmp_path):
    return Spool(tmp_path / "spool").open()


@pytest.fixture
def voicemail(tmp_path):
    """voicemail(seconds=1.0, **fields) -> VoicemailMessage with a real WAV on disk."""
    def make(seconds: float = 1.0, **kw) -> VoicemailMessage:
        n = next(_seq)
        uuid = kw.pop("uuid", f"0000000{n}-aaaa-bbbb-cccc-{n:012d}")
        wav = kw.pop("path", None) or str(write_wav(tmp_path / "vm" / f"{uuid}.wav", seconds))
        fields = dict(uuid=uuid, number="+551140040004", caller="+5521977776666",
                      caller_name="Maria", email=("ops@example.com",), path=wav,
                      seconds=seconds, local_time="2026-11-27T14:05:09-03:00")
        fields.update(kw)
        return VoicemailMessage(**fields)
    return make


@pytest.fixture
def make_sender():
    """make_sender(spool, url_or_port, **options) -> Sender with test-sized timings."""
    def make(spool, where, **kw) -> Sender:
        url = where if isinstance(where, str) else f"smtp://127.0.0.1:{where}"
        options = dict(mail_from="Callflow <voicemail@example.com>", templates=Templates.load(),
                       max_age=3600, retry_base=0.05, retry_cap=0.2, poll_seconds=0.2, timeout=5)
        options.update(kw)
        return Sender(spool, parse(url), **options)
    return make


@pytest.fixture
def running():
    """running(sender): Sender.run in a thread, stopped at teardown."""
    started = []

    def start(sender):
        t = threading.Thread(target=sender.run, daemon=True)
        t.start()
        started.append((sender, t))
        return t
    yield start
    for sender, t in started:
        sender.stop()
        t.join(10)
        assert not t.is_alive()
