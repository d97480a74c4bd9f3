"""A real ``redis-server`` for tests: a free loopback port, no persistence, its own folder.

``RedisServer(tmp).start()`` runs ``redis-server --port N --save '' --appendonly no --dir
tmp`` (plus ``--user``/``--requirepass`` lines when asked) and waits until it answers
PING. ``kill()`` stops it hard (SIGKILL, as a crash), ``start()`` again reuses the same
port, so clients see one server going away and coming back (empty: nothing is saved).
``tls=True`` serves TLS only (``rediss://``), with a throw-away CA and server certificate
made by ``openssl``; ``url`` then names the CA file for the client. A missing
``redis-server`` (or ``openssl`` for TLS) is an error, never a skip: CI installs them.
"""
from __future__ import annotations

import shutil
import subprocess
from urllib.parse import quote
import time
from pathlib import Path

import redis

from tests.helpers.engine_proc import free_port, stop_process

MISSING = ("redis-server is not installed (not on PATH). The Redis tests need a real server: "
           "apt-get install redis-server (CI's .ci/run installs it).")


class RedisServer:
    def __init__(self, tmp: Path, port: int | None = None, extra_args: tuple[str, ...] = (),
                 username: str | None = None, password: str | None = None, tls: bool = False):
        self.binary = shutil.which("redis-server")
        if self.binary is None:
            raise RuntimeError(MISSING)
        self.dir = Path(tmp)
        self.dir.mkdir(parents=True, exist_ok=True)
        self.port = port or free_port()
        self.extra_args = tuple(extra_args)
        self.username = username
        self.password = password
        self.proc: subprocess.Popen | None = None
        self.tls = tls
        if tls:
            self._make_certificates()

    def _make_certificates(self) -> None:
        openssl = shutil.which("openssl")
        if openssl is None:
            raise RuntimeError("openssl is not installed; the TLS test needs it to make a "
                               "certificate (apt-get install openssl)")
        d = self.dir
        (d / "san.ext").write_text("subjectAltName=IP:127.0.0.1\n")
        for cmd in (
            ["req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", "ca.key", "-out", "ca.crt",
             "-days", "2", "-subj", "/CN=callflow test CA"],
            ["req", "-newkey", "rsa:2048", "-nodes", "-keyout", "server.key", "-out", "server.csr",
             "-subj", "/CN=127.0.0.1"],
            ["x509", "-req", "-in", "server.csr", "-CA", "ca.crt", "-CAkey", "ca.key",
             "-CAcreateserial", "-out", "server.crt", "-days", "2", "-extfile", "san.ext"],
        ):
            subprocess.run([openssl, *cmd], cwd=d, check=True, capture_output=True)
        self.ca_file = d / "ca.crt"

    @property
    def url(self) -> str:
        auth = ""
        if self.password is not None:
            auth = f"{self.username or ''}:{self.password}@"
        if self.tls:
            return (f"rediss://{auth}127.0.0.1:{self.port}/0"
                    f"?ssl_ca_certs={quote(str(self.ca_file), safe='/')}")
        return f"redis://{auth}127.0.0.1:{self.port}/0"

    def client(self) -> redis.Redis:
        return redis.Redis.from_url(self.url, decode_responses=True)

    def start(self, timeout: float = 10.0) -> "RedisServer":
        args = [self.binary, "--port", str(self.port), "--bind", "127.0.0.1", "--save", "",
                "--appendonly", "no", "--dir", str(self.dir), *self.extra_args]
        if self.tls:
            args[1:3] = ["--port", "0", "--tls-port", str(self.port)]
            args += ["--tls-cert-file", str(self.dir / "server.crt"),
                     "--tls-key-file", str(self.dir / "server.key"),
                     "--tls-ca-cert-file", str(self.ca_file), "--tls-auth-clients", "no"]
        if self.password is not None:
            if self.username:
                # the arguments after --user are the words of one ACL rule line
                args += ["--user", "default", "off",
                         "--user", self.username, "on", f">{self.password}", "~*", "&*", "+@all"]
            else:
                args += ["--requirepass", self.password]
        self._log = open(self.dir / f"redis-{self.port}.log", "ab")
        self.proc = subprocess.Popen(args, stdout=self._log, stderr=subprocess.STDOUT)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"redis-server exited {self.proc.returncode}: "
                                   f"{(self.dir / f'redis-{self.port}.log').read_text()[-2000:]}")
            try:
                c = self.client()
                c.ping()
                c.close()
                return self
            except redis.exceptions.RedisError:
                time.sleep(0.02)
        raise RuntimeError("redis-server did not answer PING")

    def kill(self) -> None:
        if self.proc and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(10)
        if getattr(self, "_log", None):
            self._log.close()

    def stop(self) -> None:
        stop_process(self.proc, getattr(self, "_log", None))
