"""The real-Asterisk tier's lab: one private Asterisk, Redis, SMTP server and engine,
started the way a user runs them, and what the tests read back from them.

- Asterisk: ``instance.Asterisk`` (the project's dialplan/asterisk/extensions.conf, its
  engine globals pointed at the engine's private FastAGI port; the far ends of
  targets.conf).
- Rules: the FreeSWITCH tier's numbers (its ``rules_text``: the same scenarios on both
  switches), written to a real ``redis-server`` with ``callflow rules push``.
- Engine: the ``callflow`` console script of this environment, ``callflow serve`` with
  CALLFLOW_AGI_LISTEN (FastAGI) and the Asterisk dial template
  ``Local/{digits}@targets``; its e-mail goes to a real SMTP server (aiosmtpd).

``Lab.finished(call)`` waits for a call's end and its record (the engine's record is
found by the ``switch_id`` its "asterisk call" line logs: the controlled channel's
uniqueid), ``Lab.push(path)`` pushes a rules file.
"""
from __future__ import annotations

import subprocess
import time
from datetime import datetime
from pathlib import Path

from tests.helpers.engine_proc import EngineProcess, free_port, write_wav
from tests.helpers.redis_server import RedisServer
from tests.helpers.smtp_server import SmtpServer
from tests.switch.asterisk import instance
from tests.switch.asterisk.calls import PlacedCall
from tests.switch.freeswitch.lab import CALLFLOW, MEDIA, TZ, rules_text

DIAL_TEMPLATE = "Local/{digits}@targets"


class Lab:
    """Everything a test needs: the switch, its events, the engine, Redis, SMTP."""

    def __init__(self, root: Path):
        self.root = root
        self.now = datetime.now(TZ)
        self.redis = RedisServer(root / "redis").start()
        self.smtp = SmtpServer().start()
        rules = root / "rules.yaml"
        rules.write_text(rules_text(self.now))
        self.push(rules)
        self.rules_file = rules
        (root / "engine").mkdir()
        self.agi_port = free_port()
        self.engine = EngineProcess(root / "engine", "", env={
            "CALLFLOW_RULES": self.redis.url,
            "CALLFLOW_SMTP_URL": f"smtp://127.0.0.1:{self.smtp.port}",
            "CALLFLOW_AGI_LISTEN": f"127.0.0.1:{self.agi_port}",
            "CALLFLOW_AGI_DIAL_E164_TEMPLATE": DIAL_TEMPLATE,
            "CALLFLOW_COMMAND_TIMEOUT": "5",
            "CALLFLOW_DRAIN_SECONDS": "5",
        }, command=[CALLFLOW, "serve"])
        for name, seconds in MEDIA.items():
            write_wav(self.engine.media_dir / name, seconds=seconds)
        self.engine.start()
        self.engine.wait_healthy()
        self.ast = instance.Asterisk(root / "asterisk", [self.engine_address]).start()
        self.ami = self.ast.ami(events=True)

    @property
    def engine_address(self) -> str:
        return f"127.0.0.1:{self.agi_port}"

    def push(self, path: Path) -> None:
        """``callflow rules push`` of a rules file to the lab's Redis."""
        done = subprocess.run([CALLFLOW, "rules", "push", "--redis", self.redis.url, str(path)],
                              capture_output=True, text=True, timeout=60)
        assert done.returncode == 0, done.stderr

    def record_of(self, call: PlacedCall | str, timeout: float = 10.0) -> dict:
        """The engine's call record of ``call`` (or of the controlled channel's uniqueid)."""
        uniqueid = call if isinstance(call, str) else call.uniqueid
        deadline = time.monotonic() + timeout
        while True:
            lines = self.engine.log_lines()
            uuids = [l.get("uuid") for l in lines
                     if l.get("msg") == "asterisk call" and l.get("switch_id") == uniqueid]
            for line in lines:
                if line.get("msg") == "call finished" and uuids and line.get("uuid") == uuids[0]:
                    return line["record"]
            assert time.monotonic() < deadline, (
                f"no call record for switch_id {uniqueid}:\n{self.engine.log_text()[-5000:]}")
            time.sleep(0.05)

    def finished(self, call: PlacedCall, timeout: float = 40.0) -> dict:
        """The caller's channel ended and the engine wrote the call record."""
        call.wait_ended(timeout)
        return self.record_of(call)

    def call(self, did: str, **kw) -> PlacedCall:
        return PlacedCall(self.ami, "+" + did.lstrip("+"), **kw)

    def media(self, name: str) -> str:
        """A test medium as the engine names it to STREAM FILE (no extension)."""
        return str(self.engine.media_dir / name).rsplit(".", 1)[0]

    def close(self) -> None:
        for step in (self.ami.close, self.ast.stop, self.engine.stop, self.smtp.stop,
                     self.redis.stop):
            try:
                step()
            except Exception:  # noqa: BLE001 - tear everything down whatever failed
                pass
