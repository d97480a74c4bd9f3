"""The real-FreeSWITCH tier's lab: one private FreeSWITCH, Redis, SMTP server and engine,
started the way a user runs them, and what the tests read back from them.

- FreeSWITCH: ``instance.FreeSwitch`` (the project's dialplan/callflow.xml in the
  ``public`` context, the far ends of farends.xml).
- Rules: written to a real ``redis-server`` with ``callflow rules push``; the engine
  reads them from Redis (CALLFLOW_RULES=redis://...).
- Engine: the ``callflow`` console script of this environment, ``callflow serve``,
  configured by CALLFLOW_* variables only; its e-mail goes to a real SMTP server
  (aiosmtpd).
``Lab.finished(call)`` waits for a call's end and its record, ``Lab.push(path)`` pushes a
rules file, ``wait_until`` polls a condition with a bound, ``wav_seconds`` checks and
measures a WAV the switch wrote.
"""
from __future__ import annotations

import subprocess
import sys
import time
import wave
from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

from tests.helpers.engine_proc import EngineProcess, write_wav
from tests.helpers.redis_server import RedisServer
from tests.helpers.smtp_server import SmtpServer
from tests.switch.freeswitch import instance
from tests.switch.freeswitch.calls import PlacedCall
from tests.switch.freeswitch.esl_client import EventLog

CALLFLOW = str(Path(sys.executable).with_name("callflow"))
TZ = ZoneInfo("America/Sao_Paulo")
DAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")

# The test media: durations the tests rely on.
MEDIA = {"open.wav": 0.5, "closed.wav": 0.5, "night.wav": 0.5, "bye.wav": 0.5,
         "vm.wav": 0.5, "long.wav": 10.0, "hello.wav": 0.3}


def rules_text(now: datetime) -> str:
    """The session's numbers. Schedules are built around ``now`` (São Paulo time) so that
    one message holds and the others do not, whatever day the tier runs."""
    today, tomorrow = DAYS[now.weekday()], DAYS[(now.weekday() + 1) % 7]
    later = f"{(now.hour + 2) % 24:02d}:00-{(now.hour + 3) % 24:02d}:00"
    return f"""
defaults: {{timezone: America/Sao_Paulo, region: BR}}
numbers:
  "+55 11 4004-0001":     # messages by weekday and hour around a forward
    messages:
      - {{audio: open.wav, at: start, schedule: {{days: {today}}}}}
      - {{audio: closed.wav, at: start, schedule: {{days: {tomorrow}}}}}
      - {{audio: night.wav, at: start, schedule: {{days: {today}, hours: ["{later}"]}}}}
      - {{audio: bye.wav, at: end, schedule: {{days: {today}}}}}
    forwarding:
      - {{to: "+5511900000008", ring_seconds: 10}}
  "+55 11 4004-0002":     # ring timeout, then the next phone
    forwarding:
      - {{to: "+5511900000002", ring_seconds: 5}}
      - {{to: "+5511900000001", ring_seconds: 10}}
  "+55 11 4004-0003":     # no answer, busy, unreachable, then voicemail
    forwarding:
      - {{to: "+5511900000002", ring_seconds: 5}}
      - {{to: "+5511900000003", ring_seconds: 5}}
      - {{to: "+5511900000004", ring_seconds: 5}}
    voicemail:
      - {{email: [ops@example.com], greeting: vm.wav, min_seconds: 2, max_seconds: 20}}
  "+55 11 4004-0004":     # simultaneous ring
    forwarding:
      - {{to: ["+5511900000007", "+5511900000006"], ring_seconds: 10}}
  "+55 11 4004-0005":     # recorded conversation
    forwarding:
      - {{to: "+5511900000001", ring_seconds: 10, record: true}}
  "+55 11 4004-0006":     # forced hang-up with a final message
    messages:
      - {{audio: closed.wav, at: end}}
    hangup:
      - {{cause: CALL_REJECTED}}
  "+55 11 4004-0007":     # routing by caller number
    forwarding:
      - {{to: "+5511900000008", ring_seconds: 10, schedule: {{callers: ["+5521*"]}}}}
    hangup:
      - {{cause: USER_BUSY, schedule: {{except_callers: ["+5521*"]}}}}
  "+55 11 4004-0008":     # a long message, then a forward
    messages:
      - {{audio: long.wav, at: start}}
    forwarding:
      - {{to: "+5511900000008", ring_seconds: 10}}
  "+55 11 4004-0009":     # a phone that rings long, then another
    forwarding:
      - {{to: "+5511900000002", ring_seconds: 20}}
      - {{to: "+5511900000001", ring_seconds: 10}}
  "+55 11 4004-0010":     # voicemail only, at least 5 s
    voicemail:
      - {{email: [ops@example.com], min_seconds: 5, max_seconds: 20}}
  "+55 11 4004-0011":     # changed by a push during the session
    hangup:
      - {{cause: CALL_REJECTED}}
  "+55 11 4004-0012":     # load: a short message, a short conversation
    messages:
      - {{audio: hello.wav, at: start}}
    forwarding:
      - {{to: "+5511900000008", ring_seconds: 10}}
  "+55 11 4004-0013":     # SIP address
    forwarding:
      - {{to: "sip:ana@pbx.example.com", ring_seconds: 10}}
  "+55 11 4004-0014":     # voicemail only, one second is enough
    voicemail:
      - {{email: [ops@example.com], min_seconds: 1, max_seconds: 20}}
  "+55 11 4004-0015":     # no answer, then voicemail
    forwarding:
      - {{to: "+5511900000002", ring_seconds: 5}}
    voicemail:
      - {{email: [ops@example.com], min_seconds: 1, max_seconds: 20}}
  "+55 11 4004-0016":     # busy, then voicemail
    forwarding:
      - {{to: "+5511900000003", ring_seconds: 5}}
    voicemail:
      - {{email: [ops@example.com], min_seconds: 1, max_seconds: 20}}
  "+55 11 4004-0017":     # unreachable, then voicemail
    forwarding:
      - {{to: "+5511900000004", ring_seconds: 5}}
    voicemail:
      - {{email: [ops@example.com], min_seconds: 1, max_seconds: 20}}
"""


def wait_until(predicate, what: str, timeout: float = 10.0) -> None:
    """Poll ``predicate`` until it holds; fail naming ``what`` after ``timeout``."""
    deadline = time.monotonic() + timeout
    while not predicate():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.05)


def wav_seconds(path: str) -> float:
    """Length of a WAV the switch wrote, which must be 8 kHz mono 16-bit."""
    with wave.open(path, "rb") as w:
        assert (w.getframerate(), w.getnchannels(), w.getsampwidth()) == (8000, 1, 2)
        return w.getnframes() / w.getframerate()


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
        self.engine = EngineProcess(root / "engine", "", env={
            "CALLFLOW_RULES": self.redis.url,
            "CALLFLOW_SMTP_URL": f"smtp://127.0.0.1:{self.smtp.port}",
            "CALLFLOW_DIAL_E164_TEMPLATE": "loopback/{digits}/callflow_targets",
            "CALLFLOW_DIAL_SIP_TEMPLATE": "loopback/sip_{uri}/callflow_targets",
            "CALLFLOW_COMMAND_TIMEOUT": "5",
            "CALLFLOW_DRAIN_SECONDS": "5",
        }, command=[CALLFLOW, "serve"])
        for name, seconds in MEDIA.items():
            write_wav(self.engine.media_dir / name, seconds=seconds)
        self.engine.start()
        self.engine.wait_healthy()
        self.fs = instance.FreeSwitch(root / "freeswitch",
                                      [f"127.0.0.1:{self.engine.port}"]).start()
        self.events = EventLog("127.0.0.1", self.fs.esl_port, self.fs.password)
        self.client = self.fs.client()

    def push(self, path: Path) -> None:
        """``callflow rules push`` of a rules file to the lab's Redis."""
        done = subprocess.run([CALLFLOW, "rules", "push", "--redis", self.redis.url, str(path)],
                              capture_output=True, text=True, timeout=60)
        assert done.returncode == 0, done.stderr

    def finished(self, call: PlacedCall, timeout: float = 40.0) -> dict:
        """The caller's leg ended and the engine wrote the call record."""
        call.wait_ended(timeout)
        return self.engine.wait_record(call.controlled_uuid, timeout=10)

    def call(self, did: str, **kw) -> PlacedCall:
        return PlacedCall(self.events, self.client, did, **kw)

    def media(self, name: str) -> str:
        return str(self.engine.media_dir / name)

    def close(self) -> None:
        for step in (self.client.close, self.events.close, self.fs.stop, self.engine.stop,
                     self.smtp.stop, self.redis.stop):
            try:
                step()
            except Exception:  # noqa: BLE001 - tear everything down whatever failed
                pass
