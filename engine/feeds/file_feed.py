"""The rules file as a feed: loaded at start, then watched for changes.

Contract of ``FileFeed(store, applier, check_seconds=2.0, offload=load_off_the_loop)``
(``store``: a ``rules.store.FileStore``):

* ``start()`` loads the file (on the event loop: nothing is served yet) and hands it to
  the applier as the initial ``WholeSet``; an invalid file raises ``ConfigError`` (the
  engine does not start). Then a greenlet looks every ``check_seconds``: a file whose
  modification time changed (a vanished file is no change) is loaded again, with
  ``offload`` (a native thread, so calls keep the event loop), and swapped in by the
  applier with the next version, or refused with every error logged and the rules in
  force kept. An invalid file is not retried until it changes again (``FileStore``).
  A check that fails for any other reason is logged (``rules reload check failed``) and
  the next one runs as usual.
* ``poll()`` is one such check (``True``: a new set is in force).
* ``status()`` adds nothing to /health; ``healthy`` is always True.
"""
from __future__ import annotations

import gc
import logging
import sys

import gevent
from gevent.event import Event

from engine.feeds.feed import Offload, WholeSet

# The reload failures are the service's lines, as they were before feeds existed.
log = logging.getLogger("callflow.service")

RELOAD_CHECK_SECONDS = 2.0
# While a rules file loads in a native thread, the event loop (every call) waits for the
# GIL at most this long each time it wakes up; Python's default of 5 ms would add up to
# several times that to each call. bench_file_reload.py measures the effect.
RELOAD_SWITCH_INTERVAL = 0.0005


def load_off_the_loop(load):
    """Run a rules file load in gevent's thread pool and wait for it (this greenlet only).

    Parsing and compiling a big file is seconds of CPU in one call that cannot yield (a
    20,000-number file held every call up for 3.4 s when it ran on the event loop). In a
    native thread it shares the GIL with the loop instead. The cyclic collector is off
    while it runs and what it built is frozen afterwards, as at start (``Service.start``):
    otherwise the next collections would walk every new object, a pause of their own.
    """
    def work():
        enabled = gc.isenabled()
        gc.disable()
        try:
            return load()
        finally:
            gc.freeze()
            if enabled:
                gc.enable()

    interval = sys.getswitchinterval()
    sys.setswitchinterval(RELOAD_SWITCH_INTERVAL)
    try:
        return gevent.get_hub().threadpool.apply(work)
    finally:
        sys.setswitchinterval(interval)


class FileFeed:
    kind = "file"

    def __init__(self, store, applier, check_seconds: float = RELOAD_CHECK_SECONDS,
                 offload: Offload | None = load_off_the_loop):
        self.store = store
        self.applier = applier
        self.check_seconds = check_seconds
        self.loaded = Event()
        self._offload = offload
        self._greenlet = None

    @property
    def healthy(self) -> bool:
        return True

    def status(self) -> dict:
        return {}

    def start(self) -> None:
        self.load()
        self._greenlet = gevent.spawn(self._run)

    def stop(self) -> None:
        if self._greenlet is not None:
            self._greenlet.kill(block=False)

    def load(self) -> None:
        """The first load: an invalid file raises ``ConfigError``."""
        self.applier.replace_all(WholeSet(self.store.load, self.store.describe(), initial=True))
        self.loaded.set()

    def poll(self) -> bool:
        if not self.store.changed():
            return False
        return self.applier.replace_all(WholeSet(self.store.load, self.store.path,
                                                 offload=self._offload))

    def _run(self) -> None:
        while True:
            gevent.sleep(self.check_seconds)
            try:
                self.poll()
            except Exception:      # a bug, or the file unreadable: the next check retries
                log.exception("rules reload check failed")
