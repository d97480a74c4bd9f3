"""The voicemail mailer: every recorded voicemail reaches its mailbox, across SMTP outages
and engine restarts (at-least-once).

- ``SpoolSink`` is the engine's ``VoicemailSink``: ``submit`` writes the job durably to the
  spool (``engine.mailer.spool``) before the call's greenlet moves on, then wakes the
  sender. If the spool cannot be written it logs the whole message at ERROR (the WAV
  stays where FreeSWITCH wrote it) and raises.
- ``Mailer.from_settings`` checks the mail settings (URL, From, templates) and raises
  ``ConfigError`` naming the setting; ``start(spawn)`` opens the spool and runs the
  sender (``engine.mailer.sender``) with ``spawn`` (``gevent.spawn`` in the engine);
  ``stop()`` asks it to finish its current message and waits a little.
- No ``smtp_url``: jobs are still spooled (nothing is lost; a later start with a URL sends
  them) and a warning at start says voicemail e-mail is not configured.

Nothing here imports gevent: the engine passes ``spawn`` and ``offload`` in.
"""
from __future__ import annotations

import logging
from typing import Callable

from engine.mailer import message as mail
from engine.mailer.sender import Sender
from engine.mailer.smtp_url import SmtpTarget, mask, parse
from engine.mailer.spool import PENDING, Spool
from rules.errors import ConfigError, SpoolError

log = logging.getLogger("callflow.mailer")

__all__ = ["Mailer", "SpoolSink", "Sender", "Spool", "SmtpTarget", "mask", "parse"]


class SpoolSink:
    """``VoicemailSink`` that makes each message a durable spool job."""

    def __init__(self, spool: Spool, on_spooled: Callable[[], None] | None = None):
        self.spool = spool
        self.on_spooled = on_spooled

    def submit(self, message) -> None:
        try:
            job = self.spool.enqueue(message)
        except (OSError, SpoolError) as exc:
            # The log line holds everything needed to send it by hand.
            log.error("VOICEMAIL NOT SPOOLED: %s; the recording stays at %s", exc, message.path,
                      extra={"uuid": message.uuid, "fields": message.to_json()})
            raise
        log.info("voicemail spooled for e-mail", extra={"uuid": message.uuid, "fields": {
            "job": job.id, "to": job.to, "spool": str(self.spool.root)}})
        if self.on_spooled is not None:
            self.on_spooled()


class Mailer:
    def __init__(self, spool: Spool, sender: Sender | None):
        self.spool = spool
        self.sender = sender
        self.sink = SpoolSink(spool, sender.wake if sender is not None else None)
        self._worker = None

    @classmethod
    def from_settings(cls, settings, offload: Callable[[Callable], object] | None = None,
                      **sender_options) -> "Mailer":
        errors = []
        try:
            templates = mail.Templates.load(settings.mail_templates_dir)
        except ValueError as exc:
            errors.append(("settings.mail_templates_dir", str(exc)))
        try:
            mail.sender_address(settings.mail_from)
        except ValueError as exc:
            errors.append(("settings.mail_from", f"{exc}: {settings.mail_from!r}"))
        target = None
        if settings.smtp_url.strip():
            try:
                target = parse(settings.smtp_url)
            except ValueError as exc:
                errors.append(("settings.smtp_url", str(exc)))
        if errors:
            raise ConfigError(errors)
        spool = Spool(settings.spool_dir.resolve(), offload=offload)
        sender = None
        if target is not None:
            sender = Sender(spool, target, mail_from=settings.mail_from, templates=templates,
                            max_age=settings.mail_max_age_seconds,
                            max_attachment_bytes=settings.mail_max_attachment_bytes,
                            offload=offload, **sender_options)
        return cls(spool, sender)

    def start(self, spawn: Callable) -> None:
        try:
            self.spool.open()
        except SpoolError as exc:
            raise ConfigError([("settings.spool_dir", str(exc))]) from exc
        pending = len(self.spool.jobs(PENDING))
        if self.sender is None:
            log.warning("voicemail e-mail is not configured (CALLFLOW_SMTP_URL is empty): "
                        "voicemails are kept in the spool and not sent",
                        extra={"fields": {"spool": str(self.spool.root), "pending": pending}})
            return
        if self.sender.target.mode == "plain" and self.sender.target.username:
            log.warning("SMTP credentials are sent without TLS; prefer smtp+starttls:// or smtps://",
                        extra={"fields": {"server": self.sender.target.display}})
        self._worker = spawn(self.sender.run)

    def stop(self, timeout: float = 5.0) -> None:
        if self.sender is None or self._worker is None:
            return
        self.sender.stop()
        join = getattr(self._worker, "join", None)
        if join is not None:
            join(timeout)
