"""The running engine (``callflow serve``): event-socket listener, capacity, drain,
/health and /metrics. Imported only after ``gevent.monkey.patch_all()``.

- Each accepted connection is one call, run by ``engine.runner.run_call`` in the
  greenlet the listener spawned for it.
- Beyond ``max_calls`` concurrent calls, or while draining, a new connection is closed
  at once without a word: FreeSWITCH's ``socket`` application then fails and the
  dialplan goes on to its next action (the fallback, see dialplan/).
- SIGTERM/SIGINT: the listening socket closes (FreeSWITCH fails over to the next engine
  in its list), calls in progress get up to ``drain_seconds`` to finish, then the
  process exits 0.
"""
from __future__ import annotations

import json
import logging
import signal
import time

import gevent
from gevent.event import Event
from gevent.pywsgi import WSGIServer

from engine import metrics
from engine.cache import RulesCache
from engine.context import Services
from engine.dialstring import DialTemplates
from engine.esl import OutboundConnection, OutboundListener
from engine.runner import run_call
from engine.settings import Settings
from engine.voicemail_handoff import LoggingSink

log = logging.getLogger("callflow.service")

RELOAD_CHECK_SECONDS = 2.0


class Service:
    def __init__(self, settings: Settings, voicemail_sink=None):
        self.settings = settings
        self.rules = RulesCache(settings.rules, settings.allowed_prefixes)
        self.services = Services(
            media_dir=settings.media_dir.resolve(),
            recordings_dir=settings.recordings_dir.resolve(),
            voicemail_dir=settings.voicemail_dir.resolve(),
            templates=DialTemplates(settings.dial_e164_template, settings.dial_sip_template),
            voicemail_sink=voicemail_sink or LoggingSink(),
        )
        self.active = 0
        self.draining = False
        self.stopped = Event()
        self._idle = Event()
        self._idle.set()
        self.listener = OutboundListener(settings.listen_address, self._handle)
        self.http = WSGIServer(settings.http_address, self._http, log=None, error_log=log)
        self._reloader = None

    # -- lifecycle ------------------------------------------------------------------
    def start(self) -> None:
        self.rules.load()
        for folder in (self.services.recordings_dir, self.services.voicemail_dir):
            folder.mkdir(parents=True, exist_ok=True)
        self.listener.start()
        self.http.start()
        self._reloader = gevent.spawn(self._reload_loop)
        log.info("engine listening", extra={"fields": {
            "listen": self.settings.listen, "http": self.settings.http_listen,
            "max_calls": self.settings.max_calls, "numbers": len(self.rules)}})

    def serve_forever(self) -> int:
        self.start()
        for sig in (signal.SIGTERM, signal.SIGINT):
            gevent.signal_handler(sig, self.drain)
        self.stopped.wait()
        return 0

    def drain(self) -> None:
        """Stop accepting, let calls finish (bounded), then stop."""
        if self.draining:
            return
        self.draining = True
        log.info("draining: no new calls", extra={"fields": {"active": self.active,
                                                              "drain_seconds": self.settings.drain_seconds}})
        self.listener.stop_accepting()
        gevent.spawn(self._finish_drain)

    def _finish_drain(self) -> None:
        finished = self._idle.wait(self.settings.drain_seconds)
        if not finished:
            log.warning("drain timeout: calls still active at exit",
                        extra={"fields": {"active": self.active}})
        else:
            log.info("drained: no calls left")
        self.stop()

    def stop(self) -> None:
        if self._reloader is not None:
            self._reloader.kill(block=False)
        self.listener.stop_accepting()
        self.http.stop(timeout=1)
        self.stopped.set()

    # -- calls ----------------------------------------------------------------------
    def _handle(self, sock, address) -> None:
        if self.draining or self.active >= self.settings.max_calls:
            reason = "draining" if self.draining else "capacity"
            metrics.REFUSED.labels(reason).inc()
            log.warning("call refused: %s", reason, extra={"fields": {
                "peer": f"{address[0]}:{address[1]}", "active": self.active,
                "max_calls": self.settings.max_calls}})
            sock.close()
            return
        self.active += 1
        self._idle.clear()
        metrics.ACTIVE.inc()
        try:
            conn = OutboundConnection(sock, address, command_timeout=self.settings.command_timeout)
            run_call(conn, self.services, self.rules.plan, self.settings)
        finally:
            self.active -= 1
            metrics.ACTIVE.dec()
            if self.active == 0:
                self._idle.set()

    def _reload_loop(self) -> None:
        while True:
            gevent.sleep(RELOAD_CHECK_SECONDS)
            try:
                self.rules.reload_if_changed()
            except Exception:
                log.exception("rules reload check failed")

    # -- /health, /metrics ----------------------------------------------------------
    def health(self) -> dict:
        return {
            "status": "draining" if self.draining else "ok",
            "rules_source": "file",
            "rules_version": self.rules.version,
            "rules_loaded_at": self.rules.loaded_at,
            "numbers_loaded": len(self.rules),
            "calls_active": self.active,
            "max_calls": self.settings.max_calls,
        }

    def _http(self, environ, start_response):
        path = environ.get("PATH_INFO", "")
        if path == "/health":
            body = json.dumps(self.health()).encode()
            status = "200 OK" if not self.draining else "503 Service Unavailable"
            start_response(status, [("Content-Type", "application/json")])
            return [body]
        if path == "/metrics":
            start_response("200 OK", [("Content-Type", "text/plain; version=0.0.4; charset=utf-8")])
            return [metrics.exposition()]
        start_response("404 Not Found", [("Content-Type", "text/plain")])
        return [b"not found\n"]
