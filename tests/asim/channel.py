"""One simulated Asterisk channel under FastAGI: the Asterisk side of one call.

Faithful to the Asterisk 22.10.1 captures (tests/data/agi-transcripts/README.md): the
``agi_*`` block in two segments split after ``agi_context`` (01), then one reply per
command, strictly in order; ``HANGUP\\n`` when the channel hangs up (at once when idle,
``notice_delay`` after the running command's own reply otherwise: 05, 13), after our
``HANGUP`` (01) and after ``EXEC Hangup N`` (08); ``511`` for ANSWER/STREAM FILE/CHANNEL
STATUS/HANGUP/RECORD FILE on a dead channel while GET/SET VARIABLE and EXEC still run
(05, 13); the socket stays open after HANGUP until the engine closes it (01). Dial,
MixMonitor, StopMixMonitor, Hangup, Playback and Set are the applications ``EXEC`` knows
(others: ``200 result=-2``, 13). Time runs ``time_scale`` real seconds per second.
"""
from __future__ import annotations

import itertools
import os
import re
import time
import wave
from dataclasses import dataclass, field

import gevent
import gevent.lock
from gevent.event import Event

from .targets import FAILURES, UNAVAILABLE_CAUSE, Caller, Target
from .wire import exchanges

RATE = 8000
DEAD = b"511 Command Not Permitted on a dead channel or intercept routine\n"
# The usage reply to a bad STREAM FILE, as captured (13), for every syntax error.
USAGE = b"".join(next(lines for cmd, lines in exchanges("13") if cmd == b"STREAM FILE\n"))
_DEAD_REFUSED = {"ANSWER", "STREAM FILE", "CHANNEL STATUS", "HANGUP", "RECORD FILE",
                 "WAIT FOR DIGIT"}
_COMMANDS = [("GET", "FULL", "VARIABLE"), ("GET", "VARIABLE"), ("SET", "VARIABLE"),
             ("STREAM", "FILE"), ("RECORD", "FILE"), ("CHANNEL", "STATUS"),
             ("WAIT", "FOR", "DIGIT"), ("ANSWER",), ("HANGUP",), ("EXEC",), ("NOOP",),
             ("VERBOSE",)]
_MIN_ARGS = {"GET FULL VARIABLE": 1, "GET VARIABLE": 1, "SET VARIABLE": 2, "STREAM FILE": 2,
             "RECORD FILE": 4, "WAIT FOR DIGIT": 1, "EXEC": 1}
_channels = itertools.count(0x26)


@dataclass
class DialRecord:
    endpoints: list[str]
    timeout: float | None
    options: str
    status: str = ""
    answered_by: str | None = None
    talk_seconds: float = 0.0


@dataclass
class CallResult:
    uniqueid: str = ""
    commands: list[str] = field(default_factory=list)
    answered: bool = False              # the channel went Up (ANSWER, or a Dial answered)
    engine_answered: bool = False       # by an ANSWER command
    answered_before_dial_answer: bool = False
    dials: list[DialRecord] = field(default_factory=list)
    played: list[str] = field(default_factory=list)
    records: list[tuple[str, int, str]] = field(default_factory=list)   # path, frames, why
    monitors: list[tuple[str, int, bool]] = field(default_factory=list)  # path, frames, b
    caller_cause: int | None = None     # what the caller's channel ended with
    hangup_notices: int = 0
    dialplan_continued: bool = False    # socket closed while up, no hangup (12)
    caller_hung_up: bool = False
    timed_out: bool = False


def parse_args(line: str) -> list[str]:
    """Words of one command as res_agi's parse_args splits them (quotes group, backslash
    escapes the next character, spaces and tabs separate)."""
    out, cur, quoted, escaped, started = [], [], False, False, False
    for ch in line:
        if ch == '"' and not escaped:
            quoted, started = not quoted, True
        elif ch in " \t" and not quoted and not escaped:
            if started:
                out.append("".join(cur))
            cur, started = [], False
        elif ch == "\\" and not escaped:
            escaped = True
            continue
        else:
            cur.append(ch)
            started = True
        escaped = False
    if started:
        out.append("".join(cur))
    return out


def write_wav(path: str, seconds: float) -> int:
    frames = max(0, int(round(seconds * RATE)))
    os.makedirs(os.path.dirname(path) or ".", exist_ok=True)
    with wave.open(path, "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(RATE)
        w.writeframes(b"\0\0" * frames)
    return frames


class Channel:
    def __init__(self, sock, *, called: str, caller: Caller, targets: dict[str, Target],
                 time_scale: float, sounds: dict[str, float], spool_dir: str,
                 notice_delay: float = 0.01, script: str = "callflow",
                 techs: frozenset[str] = frozenset({"Local"})):
        self.sock = sock
        self.called, self.caller, self.targets = called, caller, targets
        self.scale, self.sounds, self.spool_dir = time_scale, sounds, spool_dir
        self.notice_delay, self.script, self.techs = notice_delay, script, techs
        self.n = next(_channels)
        self.uniqueid = f"1796196821.{self.n * 2 + 1}"
        self.vars: dict[str, str] = {}
        if not caller.sighup:                  # set in the dialplan before AGI() (05d)
            self.vars["AGISIGHUP"] = "no"
        if caller.exit_on_hangup:              # 05c
            self.vars["AGIEXITONHANGUP"] = "yes"
        self._pending_notice = False
        self.up = False
        self.dead = False
        self.notified = False
        self.soft_hangup = False
        self.engine_cause: str | None = None
        self.caller_gone = Event()
        self.busy = False
        self.monitors: list[dict] = []
        self.result = CallResult(uniqueid=self.uniqueid)
        self._wlock = gevent.lock.Semaphore()
        self._buf = b""
        self._t0 = time.monotonic()

    # -- time and the caller --------------------------------------------------------
    def now(self) -> float:
        return (time.monotonic() - self._t0) / self.scale

    def wait(self, seconds: float | None) -> bool:
        """Sleep ``seconds`` of sim time; True when the caller hung up meanwhile."""
        return self.caller_gone.wait(None if seconds is None else seconds * self.scale)

    def hangup_by_caller(self) -> None:
        if self.caller_gone.is_set() or self.dead:
            return
        self.result.caller_hung_up = True
        self.vars["HANGUPCAUSE"] = "16"
        self.caller_gone.set()
        if not self.busy:
            self._notify()                     # idle: at once (05b)

    def _notify(self, delay: float = 0.0) -> None:
        """The channel is dead: HANGUP (unless AGISIGHUP=no), EOF with AGIEXITONHANGUP."""
        self.dead = True
        if self.notified:
            return
        self.notified = True
        if delay:
            gevent.sleep(delay)
        if self.caller.exit_on_hangup:         # 05c: both in one segment, then EOF
            self._write(b"HANGUP\nHANGUP\n")
            self.result.hangup_notices += 2
            self._close()
        elif self.caller.sighup:
            self._write(b"HANGUP\n")
            self.result.hangup_notices += 1

    # -- wire -----------------------------------------------------------------------
    def _write(self, data: bytes) -> None:
        with self._wlock:
            try:
                self.sock.sendall(data)
            except OSError:
                pass

    def _close(self) -> None:
        try:
            self.sock.close()
        except OSError:
            pass

    def _read_line(self) -> bytes | None:
        while b"\n" not in self._buf:
            try:
                chunk = self.sock.recv(4096)
            except OSError:
                return None
            if not chunk:
                return None
            self._buf += chunk
        line, _, self._buf = self._buf.partition(b"\n")
        return line

    def environment(self) -> tuple[bytes, bytes]:
        c = self.caller
        first = [("network", "yes"), ("network_script", self.script),
                 ("request", f"agi://127.0.0.1:4573/{self.script}"),
                 ("channel", f"Local/{self.called}@public-{self.n:08x};2"),
                 ("language", "en"), ("type", "Local"), ("uniqueid", self.uniqueid),
                 ("version", "22.10.1"), ("callerid", c.number or "unknown"),
                 ("calleridname", c.name or "unknown"), ("callingpres", str(c.pres)),
                 ("callingani2", "0"), ("callington", "0"), ("callingtns", "0"),
                 ("dnid", "unknown"), ("rdnis", "unknown"), ("context", "public")]
        second = [("extension", self.called), ("priority", "5"), ("enhanced", "0.0"),
                  ("accountcode", ""), ("threadid", "140413864416960")]

        def block(pairs):
            return "".join(f"agi_{k}: {v}\n" for k, v in pairs).encode()
        return block(first), block(second) + b"\n"

    # -- the session ----------------------------------------------------------------
    def run(self) -> CallResult:
        if self.caller.hangup_after is not None:
            gevent.spawn_later(self.caller.hangup_after * self.scale, self.hangup_by_caller)
        for segment in self.environment():
            self._write(segment)
        while True:
            line = self._read_line()
            if line is None:
                break
            self.busy = True
            try:
                text = line.decode("utf-8", errors="replace")
                self.result.commands.append(text)
                self._write(self._handle(text))
                self._after_command()
            finally:
                self.busy = False
            if self.caller_gone.is_set() and not self.notified:
                self._notify(self.notice_delay)
        self._finish()
        return self.result

    def _after_command(self) -> None:
        if self._pending_notice:
            self._pending_notice = False
            self._notify(self.notice_delay)

    def _finish(self) -> None:
        for mon in list(self.monitors):
            self._stop_monitor(mon)
        r = self.result
        if self.engine_cause is not None:
            r.caller_cause = int(self.engine_cause)
        elif r.caller_hung_up:
            r.caller_cause = 16
        elif self.soft_hangup:                 # AGI HANGUP sets no cause (08b)
            r.caller_cause = int(self.vars.get("HANGUPCAUSE", "0") or 0)
        else:                                  # 12: AGI() returns, the dialplan goes on
            r.dialplan_continued = True
            r.caller_cause = 16
        self._close()

    def _handle(self, text: str) -> bytes:
        argv = parse_args(text)
        words = [w.upper() for w in argv]
        for cmd in _COMMANDS:
            if tuple(words[:len(cmd)]) == cmd:
                name, args = " ".join(cmd), argv[len(cmd):]
                break
        else:
            return b"510 Invalid or unknown command\n"
        if len(args) < _MIN_ARGS.get(name, 0):
            return USAGE
        if self.dead and name in _DEAD_REFUSED:
            return DEAD
        return getattr(self, "_cmd_" + name.lower().replace(" ", "_"))(args)

    # -- commands -------------------------------------------------------------------
    def _cmd_answer(self, args) -> bytes:
        if not self.up:
            self.up = self.result.answered = self.result.engine_answered = True
        return b"200 result=0\n"

    def _cmd_hangup(self, args) -> bytes:
        self.soft_hangup = True
        self._pending_notice = True            # 01: HANGUP 44 ms after the reply
        return b"200 result=1\n"

    def _cmd_noop(self, args) -> bytes:
        return b"200 result=0\n"

    def _cmd_verbose(self, args) -> bytes:
        return b"200 result=1\n"

    def _cmd_channel_status(self, args) -> bytes:
        return b"200 result=6\n" if self.up else b"200 result=4\n"

    def _cmd_wait_for_digit(self, args) -> bytes:
        ms = int(args[0]) if args[0].lstrip("-").isdigit() else 0
        return b"200 result=-1\n" if self.wait(max(ms, 0) / 1000) else b"200 result=0\n"

    def _variable(self, name: str) -> str | None:
        if name == "CHANNEL(state)":
            return "Up" if self.up else "Ring"
        return self.vars.get(name)

    def _cmd_get_variable(self, args) -> bytes:
        value = self._variable(args[0])
        return b"200 result=0\n" if value is None else f"200 result=1 ({value})\n".encode()

    def _cmd_get_full_variable(self, args) -> bytes:
        expanded = re.sub(r"\$\{([^}]*)\}", lambda m: self._variable(m.group(1)) or "", args[0])
        return f"200 result=1 ({expanded})\n".encode()

    def _cmd_set_variable(self, args) -> bytes:
        self.vars[args[0]] = args[1]
        return b"200 result=1\n"

    def _sound_seconds(self, name: str) -> float | None:
        if name in self.sounds:
            return self.sounds[name]
        try:
            with wave.open(name + ".wav", "rb") as w:
                return w.getnframes() / float(w.getframerate())
        except (OSError, EOFError, wave.Error):
            return None

    def _cmd_stream_file(self, args) -> bytes:
        seconds = self._sound_seconds(args[0])
        if seconds is None:
            return b"200 result=-1 endpos=0\n"                  # 13: missing file
        endpos = int(seconds * RATE)
        if self.wait(seconds):
            return f"200 result=-1 endpos={endpos}\n".encode()  # 13: the full length
        self.result.played.append(args[0])
        return f"200 result=0 endpos={endpos}\n".encode()

    def _cmd_record_file(self, args) -> bytes:
        from .recording import record_file
        return record_file(self, args)

    def _cmd_exec(self, args) -> bytes:
        app, arg = args[0].lower(), (args[1] if len(args) > 1 else "")
        if app == "dial":
            from .dialing import dial
            return dial(self, arg)
        if app == "hangup":
            if not self.dead:
                self.engine_cause = arg if arg.isdigit() else "16"
                self.vars["HANGUPCAUSE"] = self.engine_cause
                self._pending_notice = True                     # 08: -1, then HANGUP
            return b"200 result=-1\n"
        if app == "mixmonitor":
            path, _, opts = arg.partition(",")
            if not path.startswith("/"):
                path = os.path.join(self.spool_dir, "monitor", path)
            self.monitors.append({"path": path, "b": "b" in opts, "start": self.now(),
                                  "bridged": 0.0})
            self.vars["MIXMONITOR_FILENAME"] = path
            return b"200 result=0\n"
        if app == "stopmixmonitor":
            for mon in list(self.monitors):
                self._stop_monitor(mon)
            return b"200 result=0\n"
        if app == "playback":
            if self.dead:
                return b"200 result=0\n"                        # 13: not played
            return b"200 result=0\n" if self._cmd_stream_file([arg, ""]).startswith(
                b"200 result=0") else b"200 result=-1\n"
        if app == "set":
            name, _, value = arg.partition("=")
            self.vars[name] = value
            return b"200 result=0\n"
        if app in ("verbose", "noop"):
            return b"200 result=0\n"
        return b"200 result=-2\n"

    def _stop_monitor(self, mon: dict) -> None:
        self.monitors.remove(mon)
        seconds = mon["bridged"] if mon["b"] else self.now() - mon["start"]
        frames = write_wav(mon["path"], seconds)
        self.result.monitors.append((mon["path"], frames, mon["b"]))

    def target(self, endpoint: str) -> Target | None:
        """The target an endpoint reaches: by the whole string, else by what follows the
        technology (``Local/<num>@ctx`` -> ``<num>``) when that technology is loaded (04:
        ``PJSIP/...`` with chan_pjsip absent is CHANUNAVAIL, cause 66)."""
        if endpoint in self.targets:
            return self.targets[endpoint]
        tech, _, rest = endpoint.partition("/")
        if tech not in self.techs:
            return None
        tail = rest.rsplit("/", 1)[-1]
        return self.targets.get(tail) or self.targets.get(tail.split("@", 1)[0])


__all__ = ["CallResult", "Channel", "DialRecord", "FAILURES", "UNAVAILABLE_CAUSE",
           "parse_args", "write_wav"]
