"""Hostile request bodies against a real `callflow api` (uvicorn in a subprocess, a real
redis-server), one test per attack; each also checks that an honest request made while
the attack is under way succeeds.

The server runs with the default limits (1 MiB body, depth 32, 10,000 items) except the
body timeout, set to ``TIMEOUT`` seconds through ``CALLFLOW_API_BODY_TIMEOUT_SECONDS`` so
the slow-client test does not take the default ten seconds.
"""
from __future__ import annotations

import http.client
import json
import os
import socket
import subprocess
import sys
import threading
import time

import pytest
import yaml

from rules.redis_store import RedisStore
from tests.rules.api.conftest import ACME, SEED, TOKENS
from tests.helpers.engine_proc import REPO, free_port, stop_process
from tests.helpers.redis_server import RedisServer

TIMEOUT = 3.0
LIMIT = 1_048_576
NUMBER = "/v1/numbers/%2B551140040000"
FORWARDING = NUMBER + "/forwarding"
MB = 1024 * 1024


class Api:
    def __init__(self, port: int, proc: subprocess.Popen, log_path):
        self.port, self.proc, self.log_path = port, proc, log_path

    def status(self, field: str = "VmRSS") -> int:
        """A line of /proc/<pid>/status, in bytes."""
        with open(f"/proc/{self.proc.pid}/status") as f:
            for line in f:
                if line.startswith(field + ":"):
                    return int(line.split()[1]) * 1024
        raise AssertionError(f"no {field} in /proc/{self.proc.pid}/status")

    def connect(self) -> socket.socket:
        return socket.create_connection(("127.0.0.1", self.port), timeout=10)

    def request(self, method: str, path: str, body: bytes | None = None,
                token: str | None = ACME) -> tuple[int, dict]:
        conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=10)
        headers = {"Content-Type": "application/json"} if body is not None else {}
        if token:
            headers["Authorization"] = f"Bearer {token}"
        try:
            conn.request(method, path, body=body, headers=headers)
            r = conn.getresponse()
            data = r.read()
            return r.status, (json.loads(data) if data else {})
        finally:
            conn.close()


@pytest.fixture(scope="module")
def api(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("api-limits")
    redis_server = RedisServer(tmp / "redis").start()
    store = RedisStore(redis_server.url, retries=1)
    store.push(SEED)
    store.close()
    tokens = tmp / "tokens.yaml"
    tokens.write_text(yaml.safe_dump(TOKENS))
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("CALLFLOW_")}
    env.update(CALLFLOW_RULES=redis_server.url, CALLFLOW_API_TOKENS_FILE=str(tokens),
               CALLFLOW_API_BODY_TIMEOUT_SECONDS=str(TIMEOUT), CALLFLOW_LOG_LEVEL="WARNING")
    log_path = tmp / "api.log"
    log = open(log_path, "wb")
    proc = subprocess.Popen([sys.executable, "-m", "engine.cli", "api",
                             "--listen", f"127.0.0.1:{port}"],
                            cwd=REPO, env=env, stdout=log, stderr=subprocess.STDOUT)
    server = Api(port, proc, log_path)
    deadline = time.monotonic() + 20
    while True:
        try:
            if server.request("GET", "/health", token=None)[0] == 200:
                break
        except OSError:
            pass
        assert proc.poll() is None, log_path.read_text()
        assert time.monotonic() < deadline, "callflow api did not come up"
        time.sleep(0.1)
    for _ in range(20):       # warm up: the thread pool, the validators' caches
        honest(server)
    yield server
    stop_process(proc, log)
    redis_server.stop()


def honest(api: Api) -> None:
    """A customer's ordinary write and read, which must go through during an attack."""
    forwarding = [{"to": "+5511999990000", "ring_seconds": 20}]
    status, body = api.request("PUT", FORWARDING, json.dumps(forwarding).encode())
    assert status == 200, body
    status, body = api.request("GET", NUMBER)
    assert status == 200 and body["forwarding"][0]["to"] == ["+5511999990000"], body


def head(method: str, path: str, length: int | None = None, token: str | None = ACME,
         chunked: bool = False) -> bytes:
    lines = [f"{method} {path} HTTP/1.1", "Host: 127.0.0.1", "Content-Type: application/json"]
    if token:
        lines.append(f"Authorization: Bearer {token}")
    if chunked:
        lines.append("Transfer-Encoding: chunked")
    elif length is not None:
        lines.append(f"Content-Length: {length}")
    return ("\r\n".join(lines) + "\r\n\r\n").encode("ascii")


def read_response(sock: socket.socket, timeout: float = 10.0) -> tuple[int, dict, dict]:
    """Status, headers and JSON body of one response, read off a raw socket."""
    sock.settimeout(timeout)
    data = b""
    while b"\r\n\r\n" not in data:
        chunk = sock.recv(65536)
        assert chunk, f"connection closed before a response: {data!r}"
        data += chunk
    top, rest = data.split(b"\r\n\r\n", 1)
    lines = top.decode("latin-1").split("\r\n")
    status = int(lines[0].split()[1])
    headers = {k.lower(): v.strip() for k, _, v in (line.partition(":") for line in lines[1:])}
    length = int(headers.get("content-length", "0"))
    while len(rest) < length:
        chunk = sock.recv(65536)
        assert chunk, "connection closed in the middle of the response"
        rest += chunk
    return status, headers, (json.loads(rest[:length]) if length else {})


class Sender(threading.Thread):
    """Writes ``data`` (default: ``total`` bytes of ``[``) in ``size``-byte pieces
    (``chunked``: as HTTP chunks) until done or the server closes the connection; ``sent``
    says how far it got."""

    def __init__(self, sock: socket.socket, total: int = 0, size: int = 65536,
                 chunked: bool = False, finish: bool = True, pause: float = 0.0,
                 data: bytes | None = None):
        super().__init__(daemon=True)
        self.sock, self.size = sock, size
        self.data = data if data is not None else b"[" * total
        self.total = len(self.data)
        self.chunked, self.finish, self.pause = chunked, finish, pause
        self.sent = 0
        self.broken: str | None = None

    def run(self) -> None:
        try:
            while self.sent < self.total:
                data = self.data[self.sent:self.sent + self.size]
                n = len(data)
                if self.chunked:
                    data = f"{n:x}\r\n".encode() + data + b"\r\n"
                self.sock.sendall(data)
                self.sent += n
                if self.pause:
                    time.sleep(self.pause)
            if self.chunked and self.finish:
                self.sock.sendall(b"0\r\n\r\n")
        except OSError as exc:         # the server closed on us: the point of the test
            self.broken = type(exc).__name__


class PeakRss(threading.Thread):
    """Samples the server's RSS every 5 ms until stopped; ``peak`` is the highest seen."""

    def __init__(self, api: Api):
        super().__init__(daemon=True)
        self.api, self.peak, self.done = api, api.status(), threading.Event()

    def run(self) -> None:
        while not self.done.is_set():
            self.peak = max(self.peak, self.api.status())
            time.sleep(0.005)

    def stop(self) -> int:
        self.done.set()
        self.join(5)
        return self.peak


def test_60_mb_without_a_token_is_401_and_costs_no_memory(api):
    before = api.status()
    peak = PeakRss(api)
    peak.start()
    sock = api.connect()
    total = 60 * MB
    sock.sendall(head("PUT", NUMBER, total, token=None))
    sender = Sender(sock, total)
    sender.start()
    honest(api)
    status, headers, body = read_response(sock)
    sender.join(60)
    sock.close()
    honest(api)
    time.sleep(0.2)
    highest = max(peak.stop(), api.status())
    assert status == 401, body
    assert body == {"detail": "a valid bearer token is required"}
    assert headers.get("www-authenticate") == "Bearer"
    assert headers.get("connection") == "close"
    growth = highest - before
    print(f"\nRSS before {before / MB:.1f} MiB, highest during/after {highest / MB:.1f} MiB "
          f"(+{growth / MB:.1f} MiB); the client got {sender.sent / MB:.1f} MiB of "
          f"{total / MB:.0f} MiB out before the server closed ({sender.broken})")
    assert growth < 50 * MB
    assert sender.sent < total        # the server closed the connection: it did not read


def test_2_mb_with_a_token_is_413_before_the_body_is_sent(api):
    sock = api.connect()
    try:
        sock.sendall(head("PUT", NUMBER, 2 * MB))
        started = time.monotonic()
        status, headers, body = read_response(sock, timeout=5)   # no body byte sent
        waited = time.monotonic() - started
        honest(api)                 # while the refused connection is still open
    finally:
        sock.close()
    assert status == 413, body
    assert body["errors"][0]["path"] == "body"
    assert str(LIMIT) in body["errors"][0]["message"]
    assert headers.get("connection") == "close"
    print(f"\n413 arrived {waited * 1000:.0f} ms after the headers, no body byte sent")
    honest(api)


def test_a_chunked_body_is_413_as_soon_as_it_passes_the_limit(api):
    sock = api.connect()
    try:
        sock.sendall(head("PUT", NUMBER, chunked=True))
        # 1.5 MiB of chunks and no final chunk: the answer cannot wait for the end.
        sender = Sender(sock, LIMIT + LIMIT // 2, size=16384, chunked=True, finish=False)
        sender.start()
        honest(api)
        status, headers, body = read_response(sock)
        sender.join(30)
    finally:
        sock.close()
    assert status == 413, body
    assert body["errors"][0]["path"] == "body"
    assert headers.get("connection") == "close"
    honest(api)


def test_nesting_100_000_deep_is_422_not_500(api):
    deep = b"[" * 100_000 + b"]" * 100_000
    done: dict = {}
    attack = threading.Thread(target=lambda: done.update(r=api.request("PUT", FORWARDING, deep)))
    attack.start()
    honest(api)
    attack.join(30)
    status, body = done["r"]
    assert status == 422, body
    assert body == {"errors": [{"path": "body", "message": "JSON nested deeper than 32 levels"}]}
    # the same through the other body endpoint, and as objects
    deep_objects = b'{"a":' * 100_000 + b"1" + b"}" * 100_000
    status, body = api.request("PUT", NUMBER, deep_objects)
    assert status == 422 and body["errors"][0]["path"] == "body", body
    honest(api)


def test_an_array_of_a_million_items_is_refused(api):
    million = b"[" + b"0," * 999_999 + b"0]"         # 2 MB: over the size limit
    sock = api.connect()
    try:
        sock.sendall(head("PUT", FORWARDING, len(million)))
        sender = Sender(sock, data=million)
        sender.start()
        honest(api)
        status, headers, body = read_response(sock)
        sender.join(30)
    finally:
        sock.close()
    assert status == 413, body
    assert headers.get("connection") == "close"
    # one that fits in the size limit is refused for its length
    wide = b"[" + b"0," * 199_999 + b"0]"            # 200,000 items in 400 KB
    status, body = api.request("PUT", FORWARDING, wide)
    assert status == 422, body
    assert body == {"errors": [{"path": "body",
                                "message": "a JSON array or object with more than 10000 items"}]}
    honest(api)


def test_a_client_sending_10_bytes_a_second_gets_408_within_the_timeout(api):
    sock = api.connect()
    try:
        sock.sendall(head("PUT", FORWARDING, 1000))
        started = time.monotonic()
        sender = Sender(sock, 1000, size=10, pause=1.0)
        sender.start()
        honest(api)
        status, headers, body = read_response(sock, timeout=TIMEOUT + 5)
        waited = time.monotonic() - started
        sender.join(5)
    finally:
        sock.close()
    assert status == 408, body
    assert body["errors"][0]["path"] == "body"
    assert headers.get("connection") == "close"
    print(f"\n408 after {waited:.2f} s (timeout {TIMEOUT} s), {sender.sent} bytes received")
    assert TIMEOUT - 0.2 <= waited <= TIMEOUT + 1.0
    honest(api)


def test_the_server_survived_every_attack(api):
    honest(api)
    assert api.proc.poll() is None
    log = api.log_path.read_text()
    assert "Traceback" not in log and "RecursionError" not in log
    assert ACME not in log
