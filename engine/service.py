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
- Rules come from a file (polled for changes) or from Redis (``CALLFLOW_RULES=redis://``
  or ``rediss://``): the feed for ``settings.rules`` (``engine.feeds``) hands every
  change to the one applier, which keeps the cache (``engine.cache``) in step. With
  Redis, ``engine.call_log`` appends call records to the ``callflow:calls`` stream, and
  until the first load from Redis calls are refused like at capacity. Nothing on a
  call's path waits for a feed.
"""
from __future__ import annotations

import gc
import json
import logging
import signal

import gevent
from gevent.event import Event
from gevent.pywsgi import WSGIServer

from engine import metrics
from engine.cache import RulesCache
from engine.context import Services
from engine.agi import AgiConnection
from engine.asterisk import AsteriskCall
from engine.asterisk import DialTemplates as AgiTemplates
from engine.esl import Limits, OutboundConnection
from engine.feeds import open_feed
from engine.feeds.applier import Applier
from engine.freeswitch import DialTemplates, FreeSwitchCall
from engine.listener import CallListener
from engine.runner import run_call
from engine.settings import Settings
from engine.mailer import Mailer
from rules import holidays_calendar
from rules.store import open_store

log = logging.getLogger("callflow.service")

# How long start() waits for the first load from Redis before listening anyway.
REDIS_START_WAIT_SECONDS = 5.0


class Service:
    def __init__(self, settings: Settings, voicemail_sink=None):
        self.settings = settings
        self._esl_limits = Limits(max_header_block=settings.esl_max_header_block,
                                  max_headers=settings.esl_max_headers,
                                  max_header_line=settings.esl_max_header_line,
                                  max_body=settings.esl_max_body)
        self._templates = DialTemplates(settings.dial_e164_template, settings.dial_sip_template)
        self.rules = RulesCache(open_store(settings.rules, settings.allowed_prefixes),
                                settings.allowed_prefixes)
        # One feed for settings.rules, one applier: the only writer of self.rules.
        self.applier = Applier(self.rules)
        self.feed = open_feed(self.rules.store, self.applier,
                              settings.redis_version_check_seconds)
        self.call_log = self._call_log() if self.feed.kind == "redis" else None
        # Voicemail e-mail: spool fsyncs run in the thread pool, so they block the call's
        # greenlet (the job is durable before it moves on) but not the hub.
        self.mailer = Mailer.from_settings(
            settings, offload=lambda fn: gevent.get_hub().threadpool.apply(fn))
        self.services = Services(
            media_dir=settings.media_dir.resolve(),
            recordings_dir=settings.recordings_dir.resolve(),
            voicemail_dir=settings.voicemail_dir.resolve(),
            voicemail_sink=voicemail_sink or self.mailer.sink,
            record_sink=self.call_log,
        )
        self.active = 0
        self.draining = False
        self.stopped = Event()
        self._idle = Event()
        self._idle.set()
        self.listener = CallListener(settings.listen_address, self._handle,
                                     name="FreeSWITCH outbound socket")
        # Asterisk's FastAGI, beside the event socket when configured (the same calls,
        # the same limits and drain; only the adapter differs).
        self._agi_templates = AgiTemplates(settings.agi_dial_e164_template,
                                           settings.agi_dial_sip_template)
        self.agi_listener = (CallListener(settings.agi_address, self._handle_agi, name="FastAGI")
                             if settings.agi_address else None)
        self.http = WSGIServer(settings.http_address, self._http, log=None, error_log=log)

    # -- lifecycle ------------------------------------------------------------------
    def _call_log(self):
        from engine.call_log import CallRecordStream   # Redis only

        return CallRecordStream(self.rules.store, self.settings.redis_stream_maxlen,
                                self.settings.redis_buffer_size)

    def _load_rules(self) -> None:
        if self.call_log is not None:
            self.call_log.start()
        # The file: loaded here (an invalid file is fatal), then watched. Redis: loads in
        # the feed's greenlet, waited for a while only.
        self.feed.start()
        if not self.feed.loaded.wait(REDIS_START_WAIT_SECONDS):
            log.warning("no rules from Redis yet; listening, calls are refused until they load",
                        extra={"fields": {"redis": self.rules.store.describe(),
                                          **self.feed.status()}})

    def start(self) -> None:
        # Numbers from Redis are compiled while calls are served (engine.feeds.warmer); the
        # first one with holidays would otherwise import every country module meanwhile.
        holidays_calendar.preload()
        self._load_rules()
        for folder in (self.services.recordings_dir, self.services.voicemail_dir):
            folder.mkdir(parents=True, exist_ok=True)
        self.mailer.start(gevent.spawn)       # before calls: the spool must be ready
        # What exists now (modules, the compiled rules) lives as long as the process: keep
        # it out of the collector's full passes, which otherwise walk it and pause calls
        # (bench_engine: generation-2 pauses of 24-43 ms showed up in set-up p99).
        gc.freeze()
        # A young generation of 10,000 objects instead of 700: a call allocates thousands
        # of containers that die by reference counting, and each collection also walks the
        # live calls' survivors. bench_engine what-if gcstats (one 6 s closed loop + 6 s at
        # 100 calls/s, 2026-11-27): collector time 274 ms -> 31 ms, generation-1 passes
        # 21 -> 8 (each pause lands in some call's set-up time). Cyclic garbage waits for
        # at most 10,000 net allocations (KBs); nothing else changes.
        gc.set_threshold(10_000, 10, 10)
        self.listener.start()
        if self.agi_listener is not None:
            self.agi_listener.start()
        self.http.start()
        log.info("engine listening", extra={"fields": {
            "listen": self.settings.listen, "agi_listen": self.settings.agi_listen,
            "http": self.settings.http_listen,
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
        self._stop_accepting()
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
        self.feed.stop()                # no more changes while stopping
        self.applier.stop()             # nor a warm-up
        self._stop_accepting()
        self.http.stop(timeout=1)
        self.mailer.stop()
        if self.call_log is not None:
            self.call_log.flush(2.0)    # bounded: the last calls' records, if Redis is there
            self.call_log.stop()
        self.stopped.set()

    def _stop_accepting(self) -> None:
        self.listener.stop_accepting()
        if self.agi_listener is not None:
            self.agi_listener.stop_accepting()

    # -- calls ----------------------------------------------------------------------
    def _handle(self, sock, address) -> None:
        """FreeSWITCH's outbound socket: one call."""
        def make():
            conn = OutboundConnection(sock, address, command_timeout=self.settings.command_timeout,
                                      limits=self._esl_limits)
            return FreeSwitchCall(conn, templates=self._templates,
                                  command_timeout=self.settings.command_timeout,
                                  max_call_seconds=self.settings.max_call_seconds,
                                  linger_seconds=self.settings.linger_seconds,
                                  max_message_seconds=self.settings.max_message_seconds)
        self._run(sock, address, make)

    def _handle_agi(self, sock, address) -> None:
        """Asterisk's FastAGI: one call."""
        def make():
            conn = AgiConnection(sock, address, command_timeout=self.settings.command_timeout)
            return AsteriskCall(conn, templates=self._agi_templates,
                                command_timeout=self.settings.command_timeout,
                                max_call_seconds=self.settings.max_call_seconds,
                                max_message_seconds=self.settings.max_message_seconds)
        self._run(sock, address, make)

    def _run(self, sock, address, make_call) -> None:
        """Refuse (close: the dialplan tries the next engine) or run one call, counted."""
        reason = ("draining" if self.draining else "no_rules" if not self.rules.ready
                  else "capacity" if self.active >= self.settings.max_calls else None)
        if reason is not None:
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
            run_call(make_call(), self.services, self.rules.plan)
        finally:
            self.active -= 1
            metrics.ACTIVE.dec()
            if self.active == 0:
                self._idle.set()

    # -- /health, /metrics ----------------------------------------------------------
    def health(self) -> dict:
        status = "ok"
        if self.draining:
            status = "draining"
        elif not self.rules.ready:
            status = "starting"         # no rules yet (Redis unreachable at start)
        elif not self.feed.healthy:
            status = "degraded"         # serving the last known rules
        out = {
            "status": status,
            "rules_source": self.rules.source,
            "rules_version": self.rules.version,
            "rules_loaded_at": self.rules.loaded_at,
            "numbers_loaded": len(self.rules),
            "calls_active": self.active,
            "max_calls": self.settings.max_calls,
        }
        out.update(self.feed.status())  # the file: nothing
        if self.call_log is not None:
            out.update(self.call_log.status())
        return out

    def _http(self, environ, start_response):
        path = environ.get("PATH_INFO", "")
        if path == "/health":
            body = json.dumps(self.health()).encode()
            ready = self.rules.ready and not self.draining
            status = "200 OK" if ready else "503 Service Unavailable"
            start_response(status, [("Content-Type", "application/json")])
            return [body]
        if path == "/metrics":
            start_response("200 OK", [("Content-Type", "text/plain; version=0.0.4; charset=utf-8")])
            return [metrics.exposition()]
        start_response("404 Not Found", [("Content-Type", "text/plain")])
        return [b"not found\n"]
