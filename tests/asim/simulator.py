"""The AGI simulator's entry point: Asterisk dialling the engine's FastAGI port.

    sim = Simulator(port=listener.address[1], time_scale=0.01, spool_dir=str(tmp_path),
                    targets={"5511900000001": Target.answers(after=2, talk=5)})
    handle = sim.place_call(called="+551140040001", caller=Caller(number="+5511999990001"))
    result = handle.result(timeout=10)
    assert result.dials[0].status == "ANSWER"

``place_call`` connects as ``AGI(agi://host:port/callflow)`` does, plays the Asterisk side
(``tests.asim.channel``) in a greenlet over real loopback TCP until the engine closes the
socket, and returns a ``CallHandle``. Everything runs on the test's gevent hub: wait with
``handle.result()``, never a blocking ``join``.
"""
from __future__ import annotations

import gevent
import gevent.socket as gsocket

from .channel import CallResult, Channel
from .targets import Caller, Target

__all__ = ["CallHandle", "Simulator"]

# What the lab's sounds dir held (README, "Lab configs"): name -> seconds.
LAB_SOUNDS = {"beep": 0.25, "lab/welcome": 2.0, "lab/greeting": 1.5, "lab/tone1s": 1.0,
              "lab/tone10s": 10.0}


class CallHandle:
    def __init__(self, channel: Channel, greenlet: gevent.Greenlet):
        self.channel = channel
        self._greenlet = greenlet

    def hangup(self) -> None:
        """The caller hangs up now (the AMI ``Hangup`` of the transcripts)."""
        self.channel.hangup_by_caller()

    def done(self) -> bool:
        return self._greenlet.dead

    def result(self, timeout: float = 10.0) -> CallResult:
        """Wait until the engine closed the socket; on timeout close it and mark it."""
        self._greenlet.join(timeout)
        if not self._greenlet.dead:
            self.channel.result.timed_out = True
            self.channel._close()
            self._greenlet.join(2)
        if self._greenlet.exception is not None:
            raise self._greenlet.exception
        return self.channel.result


class Simulator:
    def __init__(self, host: str = "127.0.0.1", port: int = 4573, *, time_scale: float = 0.01,
                 targets: dict[str, Target] | None = None, sounds: dict[str, float] | None = None,
                 spool_dir: str = "/tmp/asim-spool", notice_delay: float = 0.01,
                 techs: tuple[str, ...] = ("Local",)):
        self.host, self.port, self.scale = host, port, time_scale
        self.targets = dict(targets or {})
        self.sounds = {**LAB_SOUNDS, **(sounds or {})}
        self.spool_dir, self.notice_delay = spool_dir, notice_delay
        self.techs = frozenset(techs)          # channel technologies "loaded"

    def connect(self, called: str = "+551140040001", caller: Caller | None = None) -> Channel:
        sock = gsocket.create_connection((self.host, self.port), timeout=5)
        sock.settimeout(None)
        return Channel(sock, called=called, caller=caller or Caller(), targets=self.targets,
                       time_scale=self.scale, sounds=self.sounds, spool_dir=self.spool_dir,
                       notice_delay=self.notice_delay, techs=self.techs)

    def place_call(self, called: str = "+551140040001", caller: Caller | None = None) -> CallHandle:
        channel = self.connect(called, caller)
        return CallHandle(channel, gevent.spawn(channel.run))
