"""The ESL tests' one fixture: connections over real loopback TCP sockets."""
from __future__ import annotations

import gevent.socket as gsocket
import pytest

from engine.esl import OutboundConnection
from tests.engine.esl.support import FakeFS


@pytest.fixture
def make_conn():
    """make_conn(cls=OutboundConnection, **kw) -> (conn, FakeFS) over real loopback TCP."""
    listener = gsocket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(64)
    made = []

    def make(cls=OutboundConnection, **kw):
        fs_sock = gsocket.create_connection(listener.getsockname())
        engine_sock, addr = listener.accept()
        conn = cls(engine_sock, addr, **kw)
        fs = FakeFS(fs_sock)
        made.append((conn, fs))
        return conn, fs

    yield make
    for conn, fs in made:
        conn.close()
        fs.close()
        assert conn._reader.dead, "reader greenlet leaked"
    listener.close()
