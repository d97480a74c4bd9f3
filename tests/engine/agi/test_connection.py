"""engine.agi.connection over real loopback TCP: an Asterisk side writes the captured bytes
(tests/data/agi-transcripts) and the connection is driven as the adapter drives it."""
from __future__ import annotations

import time

import gevent
import gevent.socket as gsocket
import pytest

from engine.agi import AgiConnection, Limits
from engine.listener import CallListener
from rules.errors import CallerGone, CommandTimeout, ProtocolError
from tests.asim.wire import exchanges

ENV = b"agi_uniqueid: 1796196821.77\nagi_extension: +551140040001\n\n"


class FakeAsterisk:
    def __init__(self, sock):
        self.sock = sock
        self.buf = b""

    def write(self, data: bytes) -> None:
        self.sock.sendall(data)

    def read_line(self, timeout: float = 2.0) -> bytes:
        with gevent.Timeout(timeout):
            while b"\n" not in self.buf:
                chunk = self.sock.recv(4096)
                if not chunk:
                    raise EOFError
                self.buf += chunk
        line, _, self.buf = self.buf.partition(b"\n")
        return line + b"\n"

    def eof(self, timeout: float = 1.0) -> bool:
        self.sock.settimeout(timeout)
        try:
            return self.sock.recv(1) == b""
        except OSError:
            return False


@pytest.fixture
def pair():
    listener = gsocket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(8)
    made = []

    def make(**kw):
        ast = gsocket.create_connection(listener.getsockname())
        sock, addr = listener.accept()
        conn = AgiConnection(sock, addr, **kw)
        made.append((conn, ast))
        return conn, FakeAsterisk(ast)

    yield make
    for conn, ast in made:
        conn.close()
        ast.close()
        assert conn._reader.dead, "reader greenlet leaked"
    listener.close()


def serve(ast: FakeAsterisk, prefix: str) -> None:
    """Answer each command with the lines captured after it (checking it is the same)."""
    steps = exchanges(prefix)
    ast.write(b"".join(steps[0][1]))
    for command, lines in steps[1:]:
        assert ast.read_line() == command
        ast.write(b"".join(lines))


def test_replay_of_transcript_02(pair):
    conn, ast = pair()
    g = gevent.spawn(serve, ast, "02")
    env = conn.read_environment(1)
    assert env["uniqueid"] == "1796196836.79"
    dial = conn.command("EXEC", "Dial", "Local/5511900000001@targets,20", quote=(False, True))
    assert (dial.code, dial.result) == (200, -1)
    assert conn.command("GET VARIABLE", "CHANNEL(state)").data == "Up"
    assert conn.command("GET VARIABLE", "DIALSTATUS").data == "ANSWER"
    for name in ("HANGUPCAUSE", "DIALEDTIME", "ANSWEREDTIME", "DIALEDTIME_MS",
                 "ANSWEREDTIME_MS", "DIALEDPEERNAME", "DIALEDPEERNUMBER"):
        conn.command("GET VARIABLE", name)
    assert conn.command("GET FULL VARIABLE", "${HANGUPCAUSE_KEYS()}").data == ""
    assert not conn.hungup
    assert conn.command("HANGUP").result == 1
    assert conn.wait_hangup(1) and conn.hungup      # 01/02: HANGUP follows our HANGUP
    g.get(timeout=2)


def test_hangup_while_idle_then_only_after_hangup_commands(pair):
    conn, ast = pair()
    ast.write(ENV)
    conn.read_environment(1)
    ast.write(b"HANGUP\n")                               # 05b
    assert conn.wait_hangup(1)
    with pytest.raises(CallerGone):
        conn.command("ANSWER")
    g = gevent.spawn(lambda: (ast.read_line(), ast.write(b"200 result=1 (16)\n")))
    assert conn.command("GET VARIABLE", "HANGUPCAUSE", after_hangup=True).data == "16"
    g.get(timeout=1)


def test_511_dead_channel_is_caller_gone(pair):
    conn, ast = pair()
    ast.write(ENV)
    conn.read_environment(1)
    g = gevent.spawn(lambda: (ast.read_line(), ast.write(
        b"511 Command Not Permitted on a dead channel or intercept routine\n")))
    with pytest.raises(CallerGone, match="dead channel"):
        conn.command("STREAM FILE", "lab/welcome", "")   # 05d: no HANGUP line at all
    assert conn.hungup
    g.get(timeout=1)


def test_minus_one_then_hangup_within_grace_is_caller_gone(pair):
    conn, ast = pair()
    ast.write(ENV)
    conn.read_environment(1)

    def asterisk():
        ast.read_line()
        ast.write(b"200 result=-1 endpos=80000\n")       # 13: then HANGUP 41 ms later
        gevent.sleep(0.04)
        ast.write(b"HANGUP\n")
    g = gevent.spawn(asterisk)
    with pytest.raises(CallerGone):
        conn.command("STREAM FILE", "lab/tone10s", "", hangup_grace=0.5)
    g.get(timeout=1)


def test_minus_one_without_hangup_is_returned(pair):
    conn, ast = pair()
    ast.write(ENV)
    conn.read_environment(1)
    g = gevent.spawn(lambda: (ast.read_line(), ast.write(b"200 result=-1 endpos=0\n")))
    t0 = time.monotonic()
    reply = conn.command("STREAM FILE", "lab/no-such-file", "", hangup_grace=0.1)  # 13
    assert reply.result == -1 and not conn.hungup
    assert 0.08 < time.monotonic() - t0 < 0.5
    g.get(timeout=1)


def test_eof_fails_the_pending_command_at_once(pair):
    conn, ast = pair()
    ast.write(ENV)
    conn.read_environment(1)

    def asterisk():
        ast.read_line()
        ast.sock.close()                                 # 05c: EOF after HANGUP HANGUP
    g = gevent.spawn(asterisk)
    t0 = time.monotonic()
    with pytest.raises(CallerGone, match="closed by Asterisk"):
        conn.command("EXEC", "Dial", "x", timeout=30)
    assert time.monotonic() - t0 < 0.5 and conn.closed and conn.wait_hangup(0)
    g.get(timeout=1)


def test_eof_before_environment(pair):
    conn, ast = pair()
    ast.write(b"agi_uniqueid: 1.2\n")
    ast.sock.close()
    with pytest.raises(CallerGone):
        conn.read_environment(1)


def test_timeout_keeps_replies_aligned(pair):
    conn, ast = pair()
    ast.write(ENV)
    conn.read_environment(1)
    with pytest.raises(CommandTimeout):
        conn.command("GET VARIABLE", "A", timeout=0.05)
    assert ast.read_line() == b"GET VARIABLE A\n"
    ast.write(b"200 result=1 (late)\n")
    g = gevent.spawn(lambda: (ast.read_line(), ast.write(b"200 result=1 (b)\n")))
    assert conn.command("GET VARIABLE", "B").data == "b"
    g.get(timeout=1)


def test_environment_timeout(pair):
    conn, ast = pair()
    with pytest.raises(CommandTimeout):
        conn.read_environment(0.05)


def test_garbage_is_a_protocol_error_for_this_connection_only(pair, caplog):
    conn, ast = pair()
    ast.write(ENV)
    conn.read_environment(1)
    g = gevent.spawn(lambda: (ast.read_line(), ast.write(b"<html>\n")))
    with pytest.raises(ProtocolError):
        conn.command("ANSWER")
    assert conn.closed and ast.eof()
    g.get(timeout=1)


def test_unsolicited_reply_is_a_protocol_error(pair):
    conn, ast = pair()
    ast.write(ENV + b"200 result=0\n")
    conn.read_environment(1)
    assert conn.wait_hangup(1) and conn.closed
    with pytest.raises(ProtocolError):
        conn.command("ANSWER")


def test_oversized_environment_closes(pair):
    conn, ast = pair(limits=Limits(max_env_bytes=64))
    ast.write(b"agi_x: " + b"y" * 100 + b"\n\n")
    with pytest.raises(ProtocolError):
        conn.read_environment(1)


def test_bad_argument_is_refused_before_sending(pair):
    conn, ast = pair()
    ast.write(ENV)
    conn.read_environment(1)
    with pytest.raises(ValueError):
        conn.command("EXEC", "Playback", "x\nHANGUP")
    conn.close()
    assert ast.eof()                                     # nothing but EOF came


def test_close_is_prompt_and_idempotent_with_a_command_pending(pair):
    conn, ast = pair()
    ast.write(ENV)
    conn.read_environment(1)
    g = gevent.spawn(conn.command, "EXEC", "Dial", "x", timeout=30)
    gevent.sleep(0.02)
    t0 = time.monotonic()
    conn.close()
    conn.close()
    assert time.monotonic() - t0 < 0.2
    with pytest.raises(CallerGone):
        g.get(timeout=1)
    assert ast.read_line() == b"EXEC Dial x\n" and ast.eof()
    with pytest.raises(CallerGone):
        conn.command("ANSWER")


def test_listener_accepts_and_logs_handler_errors(caplog):
    seen = []

    def handle(sock, addr):
        seen.append(addr)
        raise RuntimeError("handler bug")

    listener = CallListener(("127.0.0.1", 0), handle, name="FastAGI")
    listener.start()
    try:
        s = gsocket.create_connection(listener.address)
        s.settimeout(1)
        assert s.recv(1) == b""                          # closed when the handler returned
        assert seen and "FastAGI handler failed" in caplog.text
        listener.stop_accepting()
        with pytest.raises(OSError):
            gsocket.create_connection(listener.address, timeout=0.5)
    finally:
        listener.stop()
