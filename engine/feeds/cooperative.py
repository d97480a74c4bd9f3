"""Long passes over the numbers that let calls run in between.

``cooperative(iterable, every)`` yields the items and, once ``SLICE_SECONDS`` of work is
done (the clock is read every ``every`` items), pauses until the event loop has nothing
else to do. 100,000 of anything takes tens of milliseconds in Python, more than a call
may wait; the applier and the warmer walk every number through this.
"""
from __future__ import annotations

import time

import gevent

# Work for at most this long before letting calls run (tests make it long, to decide
# themselves when the warmer runs).
SLICE_SECONDS = 0.002


def pause() -> None:
    # idle(), not sleep(0): sleep(0) only lets other ready greenlets run, while idle()
    # waits until the loop has no socket events, timers or callbacks left, so calls always
    # go first and the reload takes whatever CPU they leave.
    gevent.idle()


def cooperative(iterable, every: int = 256):
    """Iterate, pausing for the other greenlets once ``SLICE_SECONDS`` of work is done
    (the clock is read every ``every`` items)."""
    deadline = time.perf_counter() + SLICE_SECONDS
    for i, item in enumerate(iterable):
        yield item
        if i % every == 0 and time.perf_counter() >= deadline:
            pause()
            deadline = time.perf_counter() + SLICE_SECONDS
