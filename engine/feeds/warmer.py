"""Compiling, in the background, the numbers a large change put in force deferred.

Contract of ``Warmer(cache, lock, settle)`` (one per applier, which passes its lock and
its settle step):

* ``warm(deferred)`` (the caller holds ``lock``) queues ``rules.deferred.DeferredNumber``
  objects and starts the warmer greenlet unless one already owns the queue. The greenlet
  compiles them whenever calls leave the CPU idle (``engine.feeds.cooperative``; a call
  that needs one first compiles it itself, ~0.1 ms), then, holding ``lock`` and with the
  queue empty, calls ``settle()`` (the applier swaps in the compiled set) and logs
  ``rules compiled`` (compiled, invalid, numbers, version, seconds). Numbers queued
  while it works are compiled in the same warm-up.
* ``gc_off()`` opens the window in which the cyclic collector is off: from before the
  deferred numbers are built until the warm-up is over (then what it compiled is frozen).
  ``stop()`` and a failing warm-up always close it.
* ``invalid`` counts the entries refused since the warm-up started (the applier counts
  them); ``left`` is what is still to compile (``rules_compiling`` in /health).
"""
from __future__ import annotations

import gc
import logging
import time

import gevent

from engine.feeds.cooperative import cooperative

log = logging.getLogger("callflow.rules")


class GcWindow:
    """The cyclic collector off while a warm-up is due.

    Compiling allocates a great many objects that stay alive and form no cycles; the
    cyclic collector would walk them again and again (a pause of 0.1 s and more per
    20,000 numbers, calls waiting), and a full collection of 100,000 numbers takes
    ~1.7 s. So the collector is off until they are compiled, then they are frozen (never
    walked again; being free of cycles they are still freed by reference counting when
    replaced). The price: cyclic garbage that calls leave meanwhile is frozen too, never
    collected (bounded by the calls of one warm-up). The deferred numbers themselves are
    100,000 tracked objects too."""

    def __init__(self):
        self.is_open = False
        self._was_enabled = True

    def open(self) -> None:
        if self.is_open:
            return
        self.is_open = True
        self._was_enabled = gc.isenabled()
        gc.disable()

    def close(self) -> None:
        self.is_open = False
        gc.freeze()
        if self._was_enabled:
            gc.enable()


class Warmer:
    def __init__(self, cache, lock, settle):
        self._cache = cache            # read only: the figures of "rules compiled"
        self._lock = lock
        self._settle = settle
        self._pending: list = []       # deferred numbers still to compile
        self._batch_left = 0           # of the batch being compiled
        self._greenlet = None
        self._active = False           # a warm-up owns the queue
        self._gc = GcWindow()
        self.invalid = 0

    @property
    def left(self) -> int:
        return len(self._pending) + self._batch_left

    def gc_off(self) -> None:
        self._gc.open()

    def warm(self, deferred) -> None:
        """Queue deferred numbers, starting a warm-up unless one is under way. Called with
        the lock held."""
        self._pending.extend(deferred)
        if self._pending and not self._active:
            # The flag, not the greenlet's liveness: a warm-up that has settled is done
            # with the queue even if its greenlet has not exited yet.
            self._active = True
            self.invalid = 0          # from here on: a call may compile a number first
            self._greenlet = gevent.spawn(self._run)

    def join(self) -> None:
        if self._greenlet is not None:
            self._greenlet.join()

    def stop(self) -> None:
        if self._greenlet is not None:
            self._greenlet.kill(block=True, timeout=1.0)
        if self._gc.is_open:   # a warm-up killed before it ever ran has no finally to run
            self._gc.close()

    def _run(self) -> None:
        t0 = time.perf_counter()
        done = 0
        try:
            while True:
                done += self._compile_pending()
                with self._lock:
                    if self._pending:      # more came in while waiting for the lock
                        continue
                    self._settle()
                    self._active = False
                    self._gc.close()
                    break
        finally:
            self._active = False
            self._batch_left = 0
            if self._gc.is_open:           # killed (stop) or a bug: never leave gc off
                self._gc.close()
        log.info("rules compiled", extra={"fields": {
            "compiled": done, "invalid": self.invalid, "numbers": len(self._cache),
            "version": self._cache.version, "seconds": round(time.perf_counter() - t0, 3)}})

    def _compile_pending(self) -> int:
        # Without the lock: an update may queue more meanwhile (it takes the queue as is).
        done = 0
        while self._pending:
            batch, self._pending = self._pending, []
            self._batch_left = len(batch)
            for d in cooperative(batch, every=1):
                d.resolve()
                self._batch_left -= 1
            done += len(batch)
            del batch
        return done
