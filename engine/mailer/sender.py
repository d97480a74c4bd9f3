"""The sender: delivers the spool's pending jobs over SMTP, with back-off, until they
are accepted or age out to failed/.

Contract:
- ``deliver_due_once(now)`` makes one pass: every pending job whose ``next_attempt`` has
  come is claimed, built into an e-mail (``engine.mailer.message``) and sent with
  ``smtplib`` over one connection per pass. Accepted by the server -> ``complete`` (the
  file is removed). Refused (4xx or 5xx), or the connection broke while it was being
  sent -> the job is rescheduled with exponential back-off and jitter; 5xx is kept and
  retried too, because a relay's 5xx is as often a configuration mistake (relaying
  denied, bad credentials) that someone fixes as a final verdict. Some recipients
  refused -> only those stay in the job.
- A failed attempt on a job whose age (since ``age_from``) is over ``max_age`` moves it to
  failed/ with an ERROR log line saying how to requeue it. A job is never failed without
  an attempt, so an engine that had no SMTP for a week still tries old jobs once.
- The server unreachable (connect, TLS or AUTH failure) is the sender's problem, not the
  jobs': the sender backs off as a whole (jobs keep their schedule) and writes the error
  to ``sender.json`` for ``callflow voicemail status``.
- ``run()`` loops until ``stop()``: a pass, then wait until the next job is due, a
  ``wake()`` (a new voicemail) or ``poll_seconds`` (jobs requeued by the CLI).
  It only uses ``threading.Event``, so it runs in a greenlet under a monkey-patched
  engine and in a plain thread (or not at all: call ``deliver_due_once``) in tests.
- The SMTP password is never logged; the server is named by ``SmtpTarget.display``.
"""
from __future__ import annotations

import logging
import os
import random
import smtplib
import threading
import time
from dataclasses import dataclass

from engine import metrics
from engine.mailer import message as mail
from engine.mailer.smtp_url import SmtpTarget
from engine.mailer.spool import FAILED, PENDING, Claim, Job, Spool
from rules.errors import SpoolError

log = logging.getLogger("callflow.mailer")

# Per-recipient/transaction errors: the connection is still usable afterwards.
_REFUSALS = (smtplib.SMTPRecipientsRefused, smtplib.SMTPSenderRefused, smtplib.SMTPDataError,
             smtplib.SMTPNotSupportedError)


@dataclass
class PassReport:
    sent: int = 0
    deferred: int = 0
    failed: int = 0
    connect_error: str | None = None


class _ConnectFailed(Exception):
    pass


class Sender:
    def __init__(self, spool: Spool, target: SmtpTarget, *, mail_from: str,
                 templates: mail.Templates, max_age: float, max_attachment_bytes: int = 0,
                 retry_base: float = 30.0, retry_cap: float = 1800.0, poll_seconds: float = 10.0,
                 timeout: float = 60.0, clock=time.time, rng: random.Random | None = None,
                 offload=None):
        self.spool, self.target = spool, target
        self.mail_from = mail_from
        self.envelope_from = mail.sender_address(mail_from).addr_spec
        self.templates = templates
        self.max_age, self.max_attachment_bytes = max_age, max_attachment_bytes
        self.retry_base, self.retry_cap = retry_base, retry_cap
        self.poll_seconds, self.timeout = poll_seconds, timeout
        self.clock = clock
        self.rng = rng or random.Random()
        # Building and flattening a MIME message with a 2 MB WAV is tens of ms of CPU: in
        # the engine it runs in gevent's thread pool so calls keep their timing.
        self._offload = offload or (lambda fn: fn())
        self._smtp: smtplib.SMTP | None = None
        self._connect_failures = 0
        self._connect_retry_at = 0.0
        self._wake = threading.Event()
        self._stop = threading.Event()

    # -- policy -----------------------------------------------------------------------
    def backoff(self, failures: int) -> float:
        """Seconds before try number ``failures + 1``: base * 2^(failures-1), capped, then
        "equal jitter" (half fixed, half random) so jobs that failed together (an outage)
        do not all come back in the same second."""
        delay = min(self.retry_cap, self.retry_base * 2 ** max(0, failures - 1))
        return delay / 2 + self.rng.random() * delay / 2

    # -- one pass ---------------------------------------------------------------------
    def deliver_due_once(self, now: float | None = None) -> PassReport:
        now = self.clock() if now is None else now
        report = PassReport()
        if now < self._connect_retry_at:
            return report
        due = [j for j in self.spool.jobs(PENDING) if j.next_attempt <= now]
        try:
            for job in due:
                if self._stop.is_set():
                    break
                try:
                    claim = self.spool.claim(job.id)
                except SpoolError as exc:
                    log.error("voicemail e-mail job unreadable; skipped",
                              extra={"uuid": job.uuid, "fields": {"job": job.id, "error": str(exc)}})
                    continue
                if claim is None:
                    continue                      # delivered meanwhile, or another sender has it
                with claim:
                    if claim.job.next_attempt > now:
                        continue
                    try:
                        self._deliver(claim, now, report)
                    except _ConnectFailed as exc:
                        report.connect_error = str(exc)
                        break
            if report.connect_error is not None:
                self._connection_failed(report.connect_error, due, now, report)
        finally:
            self._disconnect()
        self._update_gauges()
        return report

    def _deliver(self, claim: Claim, now: float, report: PassReport) -> None:
        job = claim.job
        try:
            data, omitted = self._offload(lambda: self._build(job))
        except FileNotFoundError:
            self._defer(claim, job, now, report,
                        f"voicemail file missing: {job.message.get('path')}", level=logging.ERROR)
            return
        except (OSError, ValueError, KeyError, TypeError) as exc:
            self._defer(claim, job, now, report, f"cannot build the e-mail: {exc}",
                        level=logging.ERROR)
            return
        smtp = self._connection()          # raises _ConnectFailed
        try:
            refused = smtp.sendmail(self.envelope_from, job.to, data)
        except _REFUSALS as exc:
            self._defer(claim, job, now, report, _describe(exc), level=_level(exc))
            return
        except (smtplib.SMTPException, OSError) as exc:
            # The connection broke with this message in flight: whether the server kept it
            # is unknown, so it is sent again later (at-least-once). It also gets its own
            # back-off, so a message that breaks the server cannot starve the others.
            self._disconnect()
            self._defer(claim, job, now, report, f"connection lost: {_describe(exc)}")
            return
        accepted = [a for a in job.to if a not in refused]
        if refused:
            job.delivered_to += accepted
            job.to = list(refused)
            log.info("voicemail e-mailed to some recipients", extra={"uuid": job.uuid, "fields": {
                "job": job.id, "accepted": accepted}})
            worst = max(code for code, _ in refused.values())
            self._defer(claim, job, now, report, "; ".join(
                f"{a}: {code} {_text(msg)}" for a, (code, msg) in refused.items()),
                level=logging.ERROR if worst >= 500 else logging.WARNING)
            return
        self.spool.complete(claim)
        report.sent += 1
        metrics.VOICEMAIL_EMAILS.labels("sent").inc()
        log.info("voicemail e-mailed", extra={"uuid": job.uuid, "fields": {
            "job": job.id, "to": accepted, "number": job.message.get("number"),
            "attempts": job.attempts + 1, "attached": omitted is None,
            "spooled_seconds": round(now - job.created, 3)}})

    def _build(self, job: Job) -> tuple[bytes, int | None]:
        """(the message as SMTP bytes, size of the WAV if it was left out else None)."""
        path = job.message["path"]
        size = os.stat(path).st_size
        if mail.should_attach(size, self.max_attachment_bytes):
            with open(path, "rb") as f:
                audio = f.read()
            omitted = None
        else:
            audio, omitted = None, size
        email = mail.build(job.message, job_id=job.id, to=job.to, mail_from=self.mail_from,
                           templates=self.templates, audio=audio, size=size)
        return email.as_bytes(policy=email.policy.clone(linesep="\r\n")), omitted

    def _defer(self, claim: Claim, job: Job, now: float, report: PassReport, error: str,
               level: int = logging.WARNING) -> None:
        job.attempts += 1
        job.last_error = error[:500]
        if now - job.age_from >= self.max_age:
            self._fail(claim, job, now, report)
            return
        job.next_attempt = now + self.backoff(job.attempts)
        self.spool.reschedule(claim, job)
        report.deferred += 1
        metrics.VOICEMAIL_EMAILS.labels("deferred").inc()
        log.log(level, "voicemail e-mail not delivered; will retry", extra={
            "uuid": job.uuid, "fields": {
                "job": job.id, "error": job.last_error, "attempts": job.attempts,
                "retry_in_seconds": round(job.next_attempt - now, 1), "to": job.to}})

    def _fail(self, claim: Claim, job: Job, now: float, report: PassReport) -> None:
        self.spool.fail(claim, job, now)
        report.failed += 1
        metrics.VOICEMAIL_EMAILS.labels("failed").inc()
        # Loud on purpose: this is a customer's voicemail that nobody has received.
        log.error("VOICEMAIL E-MAIL FAILED: gave up after %d attempts; the job is in %s, "
                  "requeue it with `callflow voicemail retry %s`",
                  job.attempts, self.spool.dirs[FAILED], job.id,
                  extra={"uuid": job.uuid, "fields": {
                      "job": job.id, "to": job.to, "number": job.message.get("number"),
                      "caller": job.message.get("caller"), "path": job.message.get("path"),
                      "error": job.last_error, "age_seconds": round(now - job.age_from)}})

    def _connection_failed(self, error: str, due: list[Job], now: float,
                           report: PassReport) -> None:
        self._connect_failures += 1
        delay = self.backoff(self._connect_failures)
        self._connect_retry_at = now + delay
        self.spool.write_state({"last_error": error, "last_error_at": now,
                                "next_connect_at": self._connect_retry_at,
                                "server": self.target.display})
        log.error("SMTP server unreachable; voicemail e-mails wait in the spool",
                  extra={"fields": {"server": self.target.display, "error": error,
                                    "due": len(due), "retry_in_seconds": round(delay, 1)}})
        # The attempt was made and failed for every due job: those past their age go to
        # failed/ now rather than wait for a server that has been away for days.
        for job in due:
            if now - job.age_from < self.max_age:
                continue
            claim = self.spool.claim(job.id)
            if claim is None:
                continue
            with claim:
                claim.job.attempts += 1
                claim.job.last_error = f"SMTP server unreachable: {error}"[:500]
                self._fail(claim, claim.job, now, report)

    # -- SMTP -------------------------------------------------------------------------
    def _connection(self) -> smtplib.SMTP:
        if self._smtp is not None:
            return self._smtp
        t = self.target
        smtp = None
        try:
            if t.mode == "tls":
                smtp = smtplib.SMTP_SSL(t.host, t.port, timeout=self.timeout,
                                        context=t.ssl_context())
            else:
                smtp = smtplib.SMTP(t.host, t.port, timeout=self.timeout)
            smtp.ehlo()
            if t.mode == "starttls":
                # smtplib raises if the server does not offer STARTTLS: never plain.
                smtp.starttls(context=t.ssl_context())
                smtp.ehlo()
            if t.username:
                smtp.login(t.username, t.password or "")
        except (smtplib.SMTPException, OSError) as exc:
            if smtp is not None:
                smtp.close()
            raise _ConnectFailed(_describe(exc)) from None
        if self._connect_failures:
            log.info("SMTP server reachable again", extra={"fields": {"server": t.display}})
            self.spool.write_state({"last_ok_at": self.clock(), "server": t.display})
        self._connect_failures = 0
        self._connect_retry_at = 0.0
        self._smtp = smtp
        return smtp

    def _disconnect(self) -> None:
        smtp, self._smtp = self._smtp, None
        if smtp is None:
            return
        try:
            smtp.quit()
        except (smtplib.SMTPException, OSError):
            smtp.close()

    # -- loop -------------------------------------------------------------------------
    def wake(self) -> None:
        self._wake.set()

    def stop(self) -> None:
        self._stop.set()
        self._wake.set()

    def run(self) -> None:
        log.info("voicemail sender started", extra={"fields": {
            "server": self.target.display, "spool": str(self.spool.root),
            "pending": len(self.spool.jobs(PENDING)), "failed": len(self.spool.jobs(FAILED))}})
        while not self._stop.is_set():
            self._wake.clear()
            try:
                self.deliver_due_once()
            except Exception:
                # A bug or a broken disk must not end e-mail for the life of the process.
                log.exception("voicemail sender pass failed")
                self._wake.wait(self.poll_seconds)
                continue
            self._wake.wait(self._idle_seconds())
        log.info("voicemail sender stopped")

    def _idle_seconds(self) -> float:
        now = self.clock()
        wait = self.poll_seconds
        if self._connect_retry_at > now:
            return min(wait, self._connect_retry_at - now)
        upcoming = [j.next_attempt for j in self.spool.jobs(PENDING)]
        if upcoming:
            wait = min(wait, max(0.05, min(upcoming) - now))
        return wait

    def _update_gauges(self) -> None:
        metrics.VOICEMAIL_SPOOL.labels("pending").set(len(self.spool.jobs(PENDING)))
        metrics.VOICEMAIL_SPOOL.labels("failed").set(len(self.spool.jobs(FAILED)))


def _describe(exc: BaseException) -> str:
    if isinstance(exc, smtplib.SMTPRecipientsRefused):
        return "; ".join(f"{a}: {code} {_text(msg)}" for a, (code, msg) in exc.recipients.items())
    if isinstance(exc, smtplib.SMTPResponseException):
        return f"{exc.smtp_code} {_text(exc.smtp_error)}"
    return f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__


def _level(exc: BaseException) -> int:
    codes = []
    if isinstance(exc, smtplib.SMTPRecipientsRefused):
        codes = [code for code, _ in exc.recipients.values()]
    elif isinstance(exc, smtplib.SMTPResponseException):
        codes = [exc.smtp_code]
    return logging.ERROR if any(c >= 500 for c in codes) else logging.WARNING


def _text(msg) -> str:
    text = msg.decode("utf-8", "replace") if isinstance(msg, bytes) else str(msg)
    return mail.one_line(text, 300)
