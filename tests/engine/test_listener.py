"""engine.listener: the accept loop over real loopback TCP sockets."""
from __future__ import annotations

import statistics
import time

import gevent
import gevent.event
import gevent.queue
import gevent.socket as gsocket
import pytest

from engine.listener import CallListener


# ------------------------------------------------------------------------- listener


def test_listener_accepts_without_polling_and_stops_accepting():
    accepted = gevent.queue.Queue()
    release = gevent.event.Event()

    def handle(sock, addr):
        accepted.put(time.perf_counter())
        release.wait(5)                       # an in-flight call
        sock.sendall(b"still here")

    listener = CallListener(("127.0.0.1", 0), handle, name="test")
    listener.start()
    try:
        latencies, socks = [], []
        for _ in range(20):
            t0 = time.perf_counter()
            s = gsocket.create_connection(listener.address)
            latencies.append(accepted.get(timeout=1) - t0)
            socks.append(s)
            gevent.sleep(0.003)               # let a poller's phase drift
        print(f"accept latency median {statistics.median(latencies) * 1e3:.2f} ms")
        assert statistics.median(latencies) < 0.02, latencies
        listener.stop_accepting()
        with pytest.raises(OSError):
            gsocket.create_connection(listener.address, timeout=0.5)
        release.set()                         # in-flight handlers were not killed
        for s in socks:
            s.settimeout(1)
            assert s.recv(20) == b"still here"
            s.close()
    finally:
        listener.stop()


def test_listener_logs_handler_errors(caplog):
    def handle(sock, addr):
        raise RuntimeError("handler bug")

    listener = CallListener(("127.0.0.1", 0), handle, name="test")
    listener.start()
    try:
        s = gsocket.create_connection(listener.address)
        s.settimeout(1)
        assert s.recv(1) == b""               # closed after the handler ended
        assert "handler bug" in caplog.text
    finally:
        listener.stop()
