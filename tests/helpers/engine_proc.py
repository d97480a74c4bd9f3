"""Run a real `callflow serve` in a subprocess for end-to-end tests.

The engine listens on free loopback ports; its JSON log goes to a file the tests read
(call records, decisions). ``EngineProcess.records()`` returns the call records logged
so far, ``wait_record(uuid)`` waits for one.
"""
from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
import wave
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def stop_process(proc: subprocess.Popen | None, log=None, timeout: float = 10.0) -> None:
    """SIGTERM a helper's child process, SIGKILL it if it has not exited within
    ``timeout``, then close its log file."""
    if proc is not None and proc.poll() is None:
        proc.terminate()
        try:
            proc.wait(timeout)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
    if log is not None:
        log.close()


def write_wav(path: Path, seconds: float = 0.5, rate: int = 8000) -> Path:
    import math
    import struct

    path.parent.mkdir(parents=True, exist_ok=True)
    frames = b"".join(struct.pack("<h", int(8000 * math.sin(2 * math.pi * 440 * i / rate)))
                      for i in range(int(seconds * rate)))
    with wave.open(str(path), "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(rate)
        w.writeframes(frames)
    return path


class EngineProcess:
    def __init__(self, tmp: Path, rules_text: str, media: list[str] = (), env: dict | None = None,
                 command: list[str] | None = None):
        self.tmp = tmp
        # Default: this interpreter runs the CLI module; the real-switch tier passes the
        # installed `callflow` console script, as a user runs it.
        self.command = command or [sys.executable, "-m", "engine.cli", "serve"]
        self.rules = tmp / "rules.yaml"
        self.rules.write_text(rules_text)
        self.media_dir = tmp / "media"
        self.media_dir.mkdir(exist_ok=True)
        for name in media:
            write_wav(self.media_dir / name)
        self.recordings_dir = tmp / "recordings"
        self.voicemail_dir = tmp / "voicemail"
        self.spool_dir = tmp / "spool"
        self.port = free_port()
        self.http_port = free_port()
        self.log_path = tmp / "engine.log"
        self.env = {
            **os.environ,
            "CALLFLOW_RULES": str(self.rules),
            "CALLFLOW_LISTEN": f"127.0.0.1:{self.port}",
            "CALLFLOW_HTTP_LISTEN": f"127.0.0.1:{self.http_port}",
            "CALLFLOW_MEDIA_DIR": str(self.media_dir),
            "CALLFLOW_RECORDINGS_DIR": str(self.recordings_dir),
            "CALLFLOW_VOICEMAIL_DIR": str(self.voicemail_dir),
            "CALLFLOW_SPOOL_DIR": str(self.spool_dir),
            "CALLFLOW_LOG_FORMAT": "json",
            "CALLFLOW_LOG_LEVEL": "DEBUG",
            "CALLFLOW_COMMAND_TIMEOUT": "2",
            "CALLFLOW_LINGER_SECONDS": "5",
            **(env or {}),
        }
        self.proc: subprocess.Popen | None = None

    def start(self, timeout: float = 15.0) -> "EngineProcess":
        self._log = open(self.log_path, "ab")  # a restart keeps the earlier records
        self.proc = subprocess.Popen(self.command, cwd=REPO,
                                     env=self.env, stdout=self._log, stderr=subprocess.STDOUT)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"engine exited {self.proc.returncode}:\n{self.log_text()}")
            try:
                self.health()
                return self
            except OSError:
                time.sleep(0.05)
        raise RuntimeError(f"engine did not come up:\n{self.log_text()}")

    @property
    def address(self) -> tuple[str, int]:
        return ("127.0.0.1", self.port)

    def health(self) -> dict:
        with urllib.request.urlopen(f"http://127.0.0.1:{self.http_port}/health", timeout=2) as r:
            return json.loads(r.read())

    def wait_healthy(self, timeout: float = 15.0) -> dict:
        """Wait until /health says ok (rules loaded, e.g. from Redis)."""
        deadline = time.monotonic() + timeout
        while True:
            try:
                health = self.health()
            except OSError:
                health = {}
            if health.get("status") == "ok":
                return health
            if time.monotonic() > deadline:
                raise RuntimeError(f"engine not healthy: {health}\n{self.log_text()[-3000:]}")
            time.sleep(0.05)

    def metrics(self) -> str:
        with urllib.request.urlopen(f"http://127.0.0.1:{self.http_port}/metrics", timeout=2) as r:
            return r.read().decode()

    def log_text(self) -> str:
        return self.log_path.read_text(errors="replace") if self.log_path.exists() else ""

    def log_lines(self) -> list[dict]:
        out = []
        for line in self.log_text().splitlines():
            try:
                out.append(json.loads(line))
            except ValueError:
                pass
        return out

    def records(self) -> list[dict]:
        return [l["record"] for l in self.log_lines() if l.get("msg") == "call finished"]

    def wait_record(self, uuid: str, timeout: float = 10.0) -> dict:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            for r in self.records():
                if r["uuid"] == uuid:
                    return r
            time.sleep(0.02)
        raise AssertionError(f"no call record for {uuid}:\n{self.log_text()[-5000:]}")

    def signal(self, sig=signal.SIGTERM) -> None:
        self.proc.send_signal(sig)

    def stop(self) -> int | None:
        stop_process(self.proc, getattr(self, "_log", None))
        return self.proc.returncode if self.proc else None


class RedisEngine(EngineProcess):
    """An engine on Redis; /health is read whatever its HTTP status (503 while starting)."""

    def __init__(self, tmp, url, env=None, check_seconds: float = 0.3):
        tmp.mkdir(parents=True, exist_ok=True)
        super().__init__(tmp, "numbers: {}\n", env={
            "CALLFLOW_RULES": url, "CALLFLOW_REDIS_VERSION_CHECK_SECONDS": str(check_seconds),
            **(env or {})})

    def health(self) -> dict:
        try:
            return super().health()
        except urllib.error.HTTPError as exc:
            return json.loads(exc.read())

    def wait_health(self, predicate, timeout=10.0, what="") -> dict:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            h = self.health()
            if predicate(h):
                return h
            time.sleep(0.01)
        raise AssertionError(f"/health never {what}: {self.health()}\n{self.log_text()[-3000:]}")

    def logged(self, msg: str) -> list[dict]:
        return [line for line in self.log_lines() if line.get("msg", "").startswith(msg)]
