"""One simulated call: the controlled channel (``loopback/<dest>-b`` in the captures) and the
outbound event socket FreeSWITCH opened for it.

Threads (plain blocking sockets, no gevent):
* the *reader* thread parses the engine's commands and answers each one at once (async mode:
  ``sendmsg`` gets ``+OK`` immediately, README "Every sendmsg ...");
* the *session* thread (the caller of :meth:`Call.run`) executes queued applications one at a
  time, like the channel's own thread in FreeSWITCH, emits their events, and runs the hang-up
  teardown and the linger/disconnect notices.

Writes to the socket are serialised by one lock. Time is simulated: a wait of ``s`` sim seconds
takes ``s * time_scale`` real seconds; reported durations (record_ms, WAV lengths, playback_ms,
Linger-Time) are in sim seconds.
"""
from __future__ import annotations

import socket
import threading
import time
import uuid as uuidlib
from dataclasses import dataclass, field

from . import media
from .targets import KNOWN_ENDPOINT_TYPES, Q850, Target, dialstatus, parse_dial_string
from .wire import (api_response, command_reply, disconnect_notice, event_json_frame,
                   event_plain_frame, fs_urlencode, make_reader, parse_headers)

INF = float("inf")

# Event-Calling-File / -Function / -Line-Number per event, copied from transcripts 01-06.
_ORIGIN = {
    "CHANNEL_DATA": ("mod_event_socket.c", "parse_command", "2018"),
    "CHANNEL_PARK": ("switch_ivr.c", "switch_ivr_park", "1002"),
    "CHANNEL_UNPARK": ("switch_ivr.c", "switch_ivr_park", "1213"),
    "CHANNEL_EXECUTE": ("switch_core_session.c", "switch_core_session_exec", "2949"),
    "CHANNEL_EXECUTE_COMPLETE": ("switch_core_session.c", "switch_core_session_exec", "2972"),
    "CHANNEL_ANSWER": ("switch_channel.c", "switch_channel_perform_mark_answered", "3848"),
    "CHANNEL_PROGRESS_MEDIA": ("switch_channel.c", "switch_channel_perform_mark_pre_answered", "3562"),
    # not captured; same shape as PROGRESS_MEDIA (assumption)
    "CHANNEL_PROGRESS": ("switch_channel.c", "switch_channel_perform_mark_ring_ready_value", "3461"),
    "CHANNEL_HANGUP": ("switch_channel.c", "switch_channel_perform_hangup", "3447"),
    "CHANNEL_STATE": ("switch_channel.c", "switch_channel_perform_set_running_state", "2409"),
    "CHANNEL_HANGUP_COMPLETE": ("switch_core_state_machine.c", "switch_core_session_reporting_state", "943"),
    "CHANNEL_BRIDGE": ("switch_ivr_bridge.c", "switch_ivr_multi_threaded_bridge", "1689"),
    "CHANNEL_UNBRIDGE": ("switch_ivr_bridge.c", "switch_ivr_multi_threaded_bridge", "1879"),
    "PLAYBACK_START": ("switch_ivr_play_say.c", "switch_ivr_play_file", "1649"),
    "PLAYBACK_STOP": ("switch_ivr_play_say.c", "switch_ivr_play_file", "2023"),
    "RECORD_START": ("switch_ivr_play_say.c", "switch_ivr_record_file_event", "770"),
    "RECORD_STOP": ("switch_ivr_play_say.c", "switch_ivr_record_file_event", "1033"),
    "RECORD_START/session": ("switch_ivr_async.c", "record_callback", "1482"),
    "RECORD_STOP/session": ("switch_ivr_async.c", "send_record_stop_event", "1241"),
    "CUSTOM": ("switch_event.c", "switch_event_fire", "1"),
}

#: Event names accepted by ``event plain ...`` (others alone give ``-ERR no keywords supplied``).
KNOWN_EVENTS = {
    "ALL", "CUSTOM", "CHANNEL_CREATE", "CHANNEL_DESTROY", "CHANNEL_STATE", "CHANNEL_CALLSTATE",
    "CHANNEL_ANSWER", "CHANNEL_HANGUP", "CHANNEL_HANGUP_COMPLETE", "CHANNEL_EXECUTE",
    "CHANNEL_EXECUTE_COMPLETE", "CHANNEL_HOLD", "CHANNEL_UNHOLD", "CHANNEL_BRIDGE",
    "CHANNEL_UNBRIDGE", "CHANNEL_PROGRESS", "CHANNEL_PROGRESS_MEDIA", "CHANNEL_OUTGOING",
    "CHANNEL_PARK", "CHANNEL_UNPARK", "CHANNEL_APPLICATION", "CHANNEL_ORIGINATE", "CHANNEL_UUID",
    "CHANNEL_DATA", "API", "BACKGROUND_JOB", "DTMF", "PLAYBACK_START", "PLAYBACK_STOP",
    "RECORD_START", "RECORD_STOP", "HEARTBEAT", "DETECTED_SPEECH", "CALL_UPDATE", "MESSAGE",
    "PRESENCE_IN", "NOTIFY", "RE_SCHEDULE", "SESSION_HEARTBEAT", "CALL_SECURE", "MEDIA_BUG_START",
    "MEDIA_BUG_STOP", "PLAY_START", "TALK", "NOTALK", "LOG", "SHUTDOWN", "STARTUP",
}
# README: myevents does NOT include RECORD_*/PLAYBACK_*; they need an explicit subscription.
_EXPLICIT_ONLY = {"RECORD_START", "RECORD_STOP", "PLAYBACK_START", "PLAYBACK_STOP"}

APPS = {"answer", "pre_answer", "ring_ready", "set", "unset", "export", "multiset", "playback",
        "sleep", "bridge", "record", "record_session", "stop_record_session", "hangup", "log",
        "info", "event"}


class Vars:
    """Channel variables in FreeSWITCH's order.

    ``set`` deletes then appends (switch_channel_set_variable), so a re-set variable moves to
    the end: in transcript 01 ``current_application`` moves behind ``current_loop`` on every
    CHANNEL_EXECUTE. ``push`` is switch_channel_add_variable_var_check(SWITCH_STACK_PUSH): the
    first value is plain, later ones turn it into ``ARRAY::a|:b`` *in place* (transcript 02,
    originated_legs / originate_causes keep their position across bridges).
    """

    def __init__(self):
        self._d: dict[str, str] = {}

    def set(self, k, v):
        self._d.pop(k, None)
        if v is not None and v != "":
            self._d[k] = str(v)

    def unset(self, k):
        self._d.pop(k, None)

    def push(self, k, v):
        if k not in self._d:
            self._d[k] = v
            return
        old = self._d[k]
        if old.startswith("ARRAY::"):
            self._d[k] = old + "|:" + v
        else:
            self._d[k] = "ARRAY::" + old + "|:" + v

    def get(self, k, default=None):
        return self._d.get(k, default)

    def items(self):
        return list(self._d.items())

    def __contains__(self, k):
        return k in self._d


@dataclass
class Command:
    """One command received from the engine."""
    name: str                  # first word: connect, myevents, sendmsg, api, ...
    line: str                  # the whole first line
    headers: dict              # lower-cased header names -> values (as sent)
    body: bytes
    raw: bytes

    @property
    def args(self) -> str:
        return self.line.partition(" ")[2]


@dataclass
class BridgeRecord:
    """Outcome of one ``bridge`` execution."""
    arg: str
    endpoints: list
    answered_by: str | None = None
    outcome: str | None = None            # originate_disposition (SUCCESS, USER_BUSY, ...)
    dialstatus: str | None = None
    cause: str | None = None              # failure cause or far-end hangup cause
    legs: list = field(default_factory=list)   # (dial, b-leg uuid or None, cause)


@dataclass
class CallResult:
    """What happened on one simulated call (see Simulator.place_call)."""
    uuid: str
    commands: list = field(default_factory=list)
    apps: list = field(default_factory=list)          # (app, arg) actually executed
    app_requests: list = field(default_factory=list)  # (app, arg) every execute asked for
    answered: bool = False
    hangup_cause: str | None = None
    bridges: list = field(default_factory=list)
    recordings: list = field(default_factory=list)
    wire: list = field(default_factory=list)          # ('>>>' engine->fs | '<<<' fs->engine, bytes)
    events: list = field(default_factory=list)        # (Event-Name, Application or None) sent
    refused: bool = False
    connected: bool = False
    duration: float = 0.0                             # sim seconds, connect -> hangup
    closed_by: str | None = None                      # "fs" | "engine"
    variables: dict = field(default_factory=dict)     # final channel variables (decoded)
    errors: list = field(default_factory=list)
    timed_out: bool = False

    def commands_named(self, name):
        return [c for c in self.commands if c.name == name]


class _Hangup(Exception):
    pass


class Call:
    """The simulated FreeSWITCH side of one call. Created and run by the Simulator."""

    def __init__(self, sim, sock, *, destination_number, caller_id_number, caller_id_name,
                 variables, uuid, caller_hangup_after, caller_hangup_during, caller_speaks,
                 targets, inject, socket_arg, channel_name=None):
        self.sim = sim
        self.sock = sock
        self.scale = sim.time_scale
        self.t0 = time.monotonic()
        self.epoch0_us = int(time.time() * 1_000_000)
        self.uuid = uuid or str(uuidlib.uuid4())
        self.other_loopback_uuid = str(uuidlib.uuid4())
        self.dest = destination_number
        self.cid_num = caller_id_number
        self.cid_name = caller_id_name
        self.name = channel_name or f"loopback/{destination_number}-b"
        self.targets = dict(sim.targets)
        self.targets.update(targets or {})
        self.caller_speaks = caller_speaks
        self.inject = list(inject or [])
        self.socket_arg = socket_arg
        self.result = CallResult(uuid=self.uuid)
        # channel state (transcripts: CS_EXECUTE/RINGING/4/ringing at connect)
        self.state, self.call_state, self.state_number, self.answer_state = "CS_EXECUTE", "RINGING", 4, "ringing"
        self.hangup_cause = None
        self.alive = True
        self.times = {"created": self.epoch0_us, "answered": 0, "progress": 0, "progress_media": 0,
                      "hangup": 0, "bridged": 0}
        self.other_leg = None            # Other-Leg-* profile once bridged (transcript 02)
        self.vars = Vars()
        self._init_vars(variables or {})
        # socket/session
        self.wlock = threading.Lock()
        self.cv = threading.Condition()
        self.queue: list = []
        self.kill_cause = None
        self.engine_gone = False
        self.exited = False
        self.connected = False
        self.closed = False
        self.linger = None               # None: no linger; -1 plain linger; N seconds
        self.my_events = False
        self.sub_events: set = set()
        self.event_format = "plain"
        self.parked_sent = False
        self.break_flag = False
        self.caller_deadline = caller_hangup_after if caller_hangup_after is not None else INF
        self.hangup_during = caller_hangup_during
        self.session_rec = None
        self.hangup_sim_time = None
        self.cut_at = INF                # sim time the caller left (scheduled hang-ups)
        self.teardown_done = threading.Event()

    # ------------------------------------------------------------------ time
    def now(self) -> float:
        """Sim seconds since the call was placed."""
        return (time.monotonic() - self.t0) / self.scale

    def now_us(self) -> int:
        return self.epoch0_us + int(self.now() * 1_000_000)

    def _sleep(self, seconds: float, breakable: bool = False) -> bool:
        """Wait ``seconds`` sim seconds. Returns False (after emitting CHANNEL_HANGUP) when the
        channel is hung up meanwhile: caller hang-up deadline, uuid_kill, engine gone."""
        end = self.now() + seconds
        with self.cv:
            while True:
                if self.kill_cause is not None or self.engine_gone:
                    break
                if breakable and self.break_flag:
                    self.break_flag = False
                    return True
                now = self.now()
                if self.caller_deadline <= now and self.caller_deadline <= end:
                    self.kill_cause = "NORMAL_CLEARING"   # mod_loopback passes it on (README)
                    # a late wake-up must not lengthen what was recorded/played: the caller
                    # left at the deadline, in sim time
                    self.cut_at = self.caller_deadline
                    break
                if now >= end:
                    return True
                wake = min(end, self.caller_deadline)
                self.cv.wait(max(0.0005, (wake - now) * self.scale))
        self._do_hangup(self.kill_cause or "NORMAL_CLEARING")
        return False

    # ------------------------------------------------------------------ variables / headers
    def _init_vars(self, extra):
        v = self.vars
        # transcript 01 CHANNEL_DATA, in this order
        v.set("direction", "inbound")
        v.set("uuid", self.uuid)
        v.set("session_id", str(self.sim.next_session_id()))
        v.set("channel_name", self.name)
        v.set("read_codec", "L16")
        v.set("read_rate", "8000")
        v.set("write_codec", "L16")
        v.set("write_rate", "8000")
        v.set("origination_caller_id_number", self.cid_num)
        v.set("origination_caller_id_name", self.cid_name)
        v.set("other_loopback_leg_uuid", self.other_loopback_uuid)
        v.set("loopback_leg", "B")
        for k, val in extra.items():
            v.set(k, val)
        v.set("DP_MATCH", f"ARRAY::{self.dest}|:{self.dest}")
        v.set("call_uuid", self.uuid)
        v.set("current_application_data", self.socket_arg)
        v.set("current_application", "socket")
        v.set("socket_host", "127.0.0.1")

    def _profile(self, prefix, with_index=True):
        t = self.times
        E = fs_urlencode
        h = [("Direction", "inbound"), ("Logical-Direction", "inbound"), ("Dialplan", "xml"),
             ("Caller-ID-Name", E(self.cid_name)), ("Caller-ID-Number", E(self.cid_num)),
             ("Orig-Caller-ID-Name", E(self.cid_name)), ("Orig-Caller-ID-Number", E(self.cid_num)),
             ("Callee-ID-Name", "Outbound%20Call"), ("Callee-ID-Number", "default"),
             ("ANI", E(self.cid_num)), ("Destination-Number", E(self.dest)),
             ("Unique-ID", self.uuid), ("Source", "mod_loopback"), ("Context", "default"),
             ("Channel-Name", E(self.name))]
        if with_index:
            h.append(("Profile-Index", "1"))
        h += [("Profile-Created-Time", str(t["created"])), ("Channel-Created-Time", str(t["created"])),
              ("Channel-Answered-Time", str(t["answered"])), ("Channel-Progress-Time", str(t["progress"])),
              ("Channel-Progress-Media-Time", str(t["progress_media"])),
              ("Channel-Hangup-Time", str(t["hangup"])), ("Channel-Transfer-Time", "0"),
              ("Channel-Resurrect-Time", "0"), ("Channel-Bridged-Time", str(t["bridged"])),
              ("Channel-Last-Hold", "0"), ("Channel-Hold-Accum", "0"), ("Screen-Bit", "true"),
              ("Privacy-Hide-Name", "false"), ("Privacy-Hide-Number", "false")]
        return [(prefix + k, val) for k, val in h]

    def _common(self, name, origin_key=None):
        o = _ORIGIN.get(origin_key or name, _ORIGIN["CUSTOM"])
        us = self.now_us()
        tm = time.gmtime(us / 1_000_000)
        return [("Event-Name", name), ("Core-UUID", self.sim.core_uuid),
                ("FreeSWITCH-Hostname", "vm"), ("FreeSWITCH-Switchname", "vm"),
                ("FreeSWITCH-IPv4", "192.0.2.2"), ("FreeSWITCH-IPv6", "fd00%3A%3A2"),
                ("Event-Date-Local", fs_urlencode(time.strftime("%Y-%m-%d %H:%M:%S", tm))),
                ("Event-Date-GMT", fs_urlencode(time.strftime("%a, %d %b %Y %H:%M:%S GMT", tm))),
                ("Event-Date-Timestamp", str(us)), ("Event-Calling-File", o[0]),
                ("Event-Calling-Function", o[1]), ("Event-Calling-Line-Number", o[2]),
                ("Event-Sequence", str(self.sim.next_sequence()))]

    def _channel_block(self):
        h = [("Channel-State", self.state), ("Channel-Call-State", self.call_state),
             ("Channel-State-Number", str(self.state_number)), ("Channel-Name", fs_urlencode(self.name)),
             ("Unique-ID", self.uuid), ("Call-Direction", "inbound"),
             ("Presence-Call-Direction", "inbound"), ("Channel-HIT-Dialplan", "true"),
             ("Channel-Call-UUID", self.uuid), ("Answer-State", self.answer_state)]
        if self.hangup_cause:
            h.append(("Hangup-Cause", self.hangup_cause))
        h += [("Channel-Read-Codec-Name", "L16"), ("Channel-Read-Codec-Rate", "8000"),
              ("Channel-Read-Codec-Bit-Rate", "128000"), ("Channel-Write-Codec-Name", "L16"),
              ("Channel-Write-Codec-Rate", "8000"), ("Channel-Write-Codec-Bit-Rate", "128000")]
        h += self._profile("Caller-")
        if self.other_leg:
            h += [("Other-Type", "originatee")] + self.other_leg
        return h

    def _var_headers(self):
        return [("variable_" + k, fs_urlencode(v)) for k, v in self.vars.items()]

    def build_event(self, name, pre=(), post=(), with_vars=True, origin_key=None):
        """Headers of one channel event, in the order the captures show:
        common part, event-specific ``pre`` (Bridge-A/B-Unique-ID, Hangup-Cause), the channel
        block (+ Caller-*, + Other-Leg-* once bridged), variables (not on CHANNEL_STATE),
        then ``post`` (Application*, Record-*, Playback-*)."""
        h = self._common(name, origin_key) + list(pre) + self._channel_block()
        if with_vars:
            h += self._var_headers()
        return h + list(post)

    # ------------------------------------------------------------------ output
    def _send(self, data: bytes) -> bool:
        with self.wlock:
            if self.closed:
                return False
            try:
                self.sock.sendall(data)
            except OSError:
                return False
            self.result.wire.append(("<<<", data))
            return True

    def _wants(self, name) -> bool:
        if "ALL" in self.sub_events or name in self.sub_events:
            return True
        return self.my_events and name not in _EXPLICIT_ONLY

    def emit(self, name, pre=(), post=(), with_vars=True, origin_key=None):
        """Build and (if subscribed) send one event."""
        if not self._wants(name):
            return
        headers = self.build_event(name, pre, post, with_vars, origin_key)
        frame = event_json_frame(headers) if self.event_format == "json" else event_plain_frame(headers)
        app = next((v for k, v in post if k == "Application"), None)
        if self._send(frame):
            self.result.events.append((name, app))

    def send_raw(self, data: bytes) -> bool:
        """Send arbitrary bytes to the engine (malformed-frame tests)."""
        return self._send(data)

    def _close(self):
        with self.wlock:
            if self.closed:
                return
            self.closed = True
            try:
                self.sock.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
            self.sock.close()
        with self.cv:
            self.cv.notify_all()

    # ------------------------------------------------------------------ reader thread
    def _read_command(self, reader):
        head = reader.read_until(b"\n\n")
        text = head.decode("utf-8", "replace")
        lines = [l.rstrip("\r") for l in text.split("\n")]
        while lines and not lines[0]:       # stray blank lines between commands
            lines.pop(0)
        if not lines:
            return None
        first = lines[0].strip()
        headers = {}
        for k, v in parse_headers("\n".join(lines[1:]).encode()):
            headers[k.lower()] = v
        body = b""
        if "content-length" in headers:
            try:
                body = reader.read_exact(int(headers["content-length"]))
            except ValueError:
                pass
        raw = head + body
        return Command(first.split(" ", 1)[0], first, headers, body, raw)

    def reader_loop(self):
        reader = make_reader(self.sock)
        try:
            while True:
                try:
                    cmd = self._read_command(reader)
                except (EOFError, OSError):
                    break
                if cmd is None:
                    continue
                self.result.wire.append((">>>", cmd.raw))
                self.result.commands.append(cmd)
                self._handle(cmd)
                self._do_inject(cmd.name)
                if self.exited:
                    break
        finally:
            with self.cv:
                if not self.exited:
                    self.engine_gone = not self.closed
                    if self.engine_gone and self.result.closed_by is None:
                        self.result.closed_by = "engine"
                self.cv.notify_all()

    def _do_inject(self, after):
        for when, data in list(self.inject):
            if when == after:
                self.inject.remove((when, data))
                self.send_raw(data)

    def _handle(self, cmd: Command):
        n = cmd.name
        args = cmd.args.split()
        R = lambda text, extra=(): self._send(command_reply(text, extra))
        if n == "connect":
            self.connected = self.result.connected = True
            self._send(self._channel_data())
        elif n == "myevents":
            self.my_events = True
            if args and args[-1] == "json":
                self.event_format = "json"
            R("+OK Events Enabled")
        elif n == "event":
            fmt = args[0] if args else "plain"
            names = [a for a in args[1:] if a in KNOWN_EVENTS]
            if not names:
                R("-ERR no keywords supplied")      # transcript 06
                return
            self.sub_events.update(names)
            self.event_format = "json" if fmt == "json" else "plain"
            R(f"+OK event listener enabled {fmt}")
        elif n == "noevents":
            self.my_events = False
            self.sub_events.clear()
            R("+OK no longer listening for events")
        elif n == "nixevent":
            for a in args:
                self.sub_events.discard(a)
            R("+OK events nixed")
        elif n == "linger":
            if args:
                self.linger = int(args[0])
                R(f"+OK will linger {self.linger} seconds")   # transcript 02
            else:
                self.linger = -1
                R("+OK will linger")                         # transcript 01
        elif n == "nolinger":
            self.linger = None
            R("+OK will not linger")
        elif n == "resume":
            R("+OK")
        elif n == "divert_events":
            R("+OK events diverted" if args and args[0] == "on" else "+OK events not diverted")
        elif n == "filter":
            R(f"+OK filter added. [{args[0] if args else ''}]=[{' '.join(args[1:])}]")
        elif n == "getvar":
            R(self.vars.get(args[0], "") if args else "")
        elif n == "exit":
            # transcript 01: "+OK bye", then the disconnect notice, then EOF
            R("+OK bye")
            self.exited = True
            self._send(disconnect_notice(self.uuid, "disconnect"))
            if self.result.closed_by is None:
                self.result.closed_by = "fs"
            self._close()
        elif n == "api":
            self._send(api_response(self._api(cmd.args)))
            self._run_deferred()
        elif n == "bgapi":
            job = cmd.headers.get("job-uuid") or str(uuidlib.uuid4())
            self._api(cmd.args)
            R(f"+OK Job-UUID: {job}", [("Job-UUID", job)])
            self._run_deferred()
        elif n == "sendmsg":
            self._sendmsg(cmd, R)
        else:
            R("-ERR command not found")                      # transcript 06 "foobar"

    def _sendmsg(self, cmd, R):
        target = cmd.args.strip()
        if target and target != self.uuid:
            R(f"-ERR invalid session id [{target}]")         # transcript 06
            return
        # transcript 01: the racy CHANNEL_PARK came right before the first sendmsg's +OK
        if not self.parked_sent:
            self.parked_sent = True
            if self.alive:
                self.emit("CHANNEL_PARK")
        cc = cmd.headers.get("call-command", "")
        R("+OK")
        if cc == "execute":
            app = cmd.headers.get("execute-app-name", "")
            arg = cmd.headers.get("execute-app-arg")
            if arg is None and cmd.body:
                arg = cmd.body.decode("utf-8", "replace")
            app_uuid = cmd.headers.get("event-uuid") or str(uuidlib.uuid4())
            self.result.app_requests.append((app, arg))
            loops = int(cmd.headers.get("loops", "1") or 1)
            with self.cv:
                if self.alive and self.kill_cause is None:
                    for _ in range(max(loops, 1)):
                        self.queue.append((app, arg, app_uuid))
                    self.cv.notify_all()
                # README: "While lingering ... sendmsg returned +OK but executed nothing"
        elif cc == "hangup":
            self.kill(cmd.headers.get("hangup-cause", "NORMAL_CLEARING"))
        # other call-commands (transcript 06 "bogus"): silently accepted

    def _api(self, line: str) -> bytes:
        parts = line.split()
        if not parts:
            return b"-ERR no command specified\n"
        name, rest = parts[0], parts[1:]
        mine = bool(rest) and rest[0] == self.uuid and self.alive
        if name == "uuid_exists":
            return b"true" if mine else b"false"             # transcript 06: no trailing LF
        if name == "uuid_kill":
            if not mine:
                return b"-ERR No such channel!\n"            # README (07)
            # the reply must reach the engine before the teardown events: kill after sending
            self._deferred_kill = rest[1] if len(rest) > 1 else "NORMAL_CLEARING"
            return b"+OK\n"
        if name == "uuid_getvar":
            if not mine:
                return b"-ERR No such channel!\n"
            return (self.vars.get(rest[1], "_undef_") if len(rest) > 1 else "_undef_").encode()
        if name == "uuid_setvar":
            if not mine:
                return b"-ERR No such channel!\n"
            if len(rest) > 1:
                self.vars.set(rest[1], " ".join(rest[2:]) or None)
            return b"+OK\n"
        if name == "uuid_break":
            if not mine:
                return b"-ERR No such channel!\n"
            with self.cv:
                self.break_flag = True
                self.cv.notify_all()
            return b"+OK\n"
        if name == "version":
            return b"FreeSWITCH Version 1.11.1-release~64bit ( 64bit)\n"
        return f"-ERR {name} Command not found!\n".encode()  # transcript 06

    def _run_deferred(self):
        cause, self._deferred_kill = getattr(self, "_deferred_kill", None), None
        if cause:
            self.kill(cause)

    def kill(self, cause="NORMAL_CLEARING"):
        """Hang the channel up (uuid_kill, sendmsg hangup, or a test calling handle.hangup())."""
        with self.cv:
            if self.alive and self.kill_cause is None:
                self.kill_cause = cause
            self.cv.notify_all()

    def _channel_data(self) -> bytes:
        # transcript 01: headers are the channel dump, then Content-Type, Reply-Text (URL-encoded
        # "+OK\n"), Socket-Mode, Control; no Content-Length and no body.
        h = self._common("CHANNEL_DATA") + self._profile("Channel-") + self._channel_block()
        h += self._var_headers()
        h += [("Content-Type", "command/reply"), ("Reply-Text", "%2BOK%0A"),
              ("Socket-Mode", "async"), ("Control", "full")]
        return "".join(f"{k}: {v}\n" for k, v in h).encode() + b"\n"

    # ------------------------------------------------------------------ session thread
    def run(self):
        """Serve the call until the socket closes. Returns the CallResult."""
        rt = threading.Thread(target=self.reader_loop, name=f"fsim-reader-{self.uuid[:8]}", daemon=True)
        self._do_inject("on_connect")
        rt.start()
        try:
            self._session_loop()
        except Exception as exc:  # pragma: no cover - surfaced via result.errors
            self.result.errors.append(repr(exc))
            self._close()
        rt.join(5)
        r = self.result
        r.hangup_cause = self.hangup_cause
        r.variables = dict(self.vars.items())
        r.duration = self.hangup_sim_time if self.hangup_sim_time is not None else self.now()
        if not self.connected and r.closed_by == "engine":
            r.refused = True
        return r

    def _session_loop(self):
        while True:
            with self.cv:
                while True:
                    if self.kill_cause is not None or self.engine_gone or self.exited:
                        item = None
                        break
                    if self.caller_deadline <= self.now():
                        self.kill_cause = "NORMAL_CLEARING"
                        self.cut_at = self.caller_deadline
                        item = None
                        break
                    if self.queue:
                        item = self.queue.pop(0)
                        break
                    wait = (self.caller_deadline - self.now()) * self.scale if self.caller_deadline < INF else 0.5
                    self.cv.wait(max(0.0005, min(wait, 0.5)))
            if item is None:
                if not (self.engine_gone or self.exited) or self.connected:
                    self._do_hangup(self.kill_cause or "NORMAL_CLEARING")
                break
            self._execute(*item)
            if not self.alive:
                break
        if self.connected or self.alive is False:
            self._teardown()
        self._notices()

    def _do_hangup(self, cause):
        """Mark the channel hung up and emit CHANNEL_HANGUP (state number 10, README teardown)."""
        if not self.alive:
            return
        with self.cv:
            self.alive = False
            self.queue.clear()
        self.hangup_cause = cause
        self.hangup_sim_time = min(self.now(), self.cut_at)
        self.answer_state = "hangup"
        self.state_number = 10
        self.emit("CHANNEL_HANGUP")

    def _teardown(self):
        # README "Hangup sequence": CHANNEL_UNPARK, EXECUTE_COMPLETE socket, CHANNEL_STATE
        # CS_HANGUP, (record_session's RECORD_STOP: transcript 03), CHANNEL_STATE CS_REPORTING,
        # CHANNEL_HANGUP_COMPLETE. CHANNEL_DESTROY never reaches the socket.
        self.vars.unset("current_loop")
        self.vars.unset("total_loops")
        self.emit("CHANNEL_UNPARK")
        self.emit("CHANNEL_EXECUTE_COMPLETE", post=[
            ("Application", "socket"), ("Application-Data", fs_urlencode(self.socket_arg)),
            # transcript 04b: the socket app reports the last app's response (PLAYBACK ERROR)
            ("Application-Response", fs_urlencode(self.vars.get("current_application_response", "_none_"))),
            ("Application-UUID", str(uuidlib.uuid4()))])
        self.state = "CS_HANGUP"
        self.emit("CHANNEL_STATE", with_vars=False)
        self.times["hangup"] = self.now_us()
        if self.session_rec:
            self._stop_session_record()
        self.state, self.call_state, self.state_number = "CS_REPORTING", "HANGUP", 11
        self.emit("CHANNEL_STATE", with_vars=False)
        self._cdr_vars()
        self.emit("CHANNEL_HANGUP_COMPLETE", pre=[("Hangup-Cause", self.hangup_cause)])
        self.teardown_done.set()

    def _notices(self):
        if self.closed:
            return
        if self.engine_gone:
            self._close()
            return
        if self.linger is None:
            # transcript 01b: disconnect notice right after HANGUP_COMPLETE, then EOF
            self._send(disconnect_notice(self.uuid, "disconnect"))
            self.result.closed_by = self.result.closed_by or "fs"
            self._close()
            return
        self._send(disconnect_notice(self.uuid, "linger", self.name, self.linger))
        end = self.now() + (self.linger if self.linger >= 0 else INF)
        with self.cv:
            while not (self.closed or self.engine_gone or self.exited):
                left = end - self.now()
                if left <= 0:
                    break
                self.cv.wait(min(left * self.scale, 0.5) if left < INF else 0.5)
        if not self.closed and not self.engine_gone:
            # transcript 02: after N seconds, "disconnect" notice with the goodbye body, EOF
            self._send(disconnect_notice(self.uuid, "disconnect"))
            self.result.closed_by = self.result.closed_by or "fs"
        self._close()

    def _cdr_vars(self):
        """Variables added for CHANNEL_HANGUP_COMPLETE (order from transcripts 01/02/05)."""
        v, t = self.vars, self.times
        end = self.times["hangup"] or self.now_us()

        def stamp(us):
            return time.strftime("%Y-%m-%d %H:%M:%S", time.gmtime(us / 1_000_000))
        v.set("hangup_cause", self.hangup_cause)
        v.set("hangup_cause_q850", str(Q850.get(self.hangup_cause, 16)))
        v.set("digits_dialed", "none")
        v.set("start_stamp", stamp(t["created"]))
        v.set("profile_start_stamp", stamp(t["created"]))
        for key in ("answered", "bridged", "progress", "progress_media"):
            if t[key]:
                name = {"answered": "answer", "bridged": "bridge"}.get(key, key)
                v.set(f"{name}_stamp", stamp(t[key]))
        v.set("end_stamp", stamp(end))
        for name, key in (("start", "created"), ("profile_start", "created"), ("answer", "answered"),
                          ("bridge", "bridged"), ("last_hold", None)):
            us = t[key] if key else 0
            v.set(f"{name}_epoch", str(us // 1_000_000))
            v.set(f"{name}_uepoch", str(us))
        v.set("hold_accum_seconds", "0")
        v.set("hold_accum_usec", "0")
        v.set("hold_accum_ms", "0")
        v.set("resurrect_epoch", "0")
        v.set("resurrect_uepoch", "0")
        for name, key in (("progress", "progress"), ("progress_media", "progress_media")):
            v.set(f"{name}_epoch", str(t[key] // 1_000_000))
            v.set(f"{name}_uepoch", str(t[key]))
        v.set("end_epoch", str(end // 1_000_000))
        v.set("end_uepoch", str(end))
        v.set("last_app", self.last_app[0] if getattr(self, "last_app", None) else "socket")
        if getattr(self, "last_app", None) and self.last_app[1]:
            v.set("last_arg", self.last_app[1])
        v.set("caller_id", f'"{self.cid_name}" <{self.cid_num}>')
        c = t["created"]
        dur = end - c
        bill = end - t["answered"] if t["answered"] else 0
        prog = (t["progress"] - c) if t["progress"] else 0
        ans = (t["answered"] - c) if t["answered"] else 0
        pm = (t["progress_media"] - c) if t["progress_media"] else 0
        wait = (t["bridged"] - c) if t["bridged"] else 0
        for unit, div in (("sec", 1_000_000), ("msec", 1000), ("usec", 1)):
            pre = {"sec": "duration", "msec": "mduration", "usec": "uduration"}[unit]
            v.set(pre, str(dur // div))
            v.set(f"bill{unit}", str(bill // div))
            v.set(f"progress{unit}", str(prog // div))
            v.set(f"answer{unit}", str(ans // div))
            v.set(f"wait{unit}", str(wait // div))
            v.set(f"progress_media{unit}", str(pm // div))
            v.set(f"flow_bill{unit}", str(dur // div))
        v.set("is_loopback", "1")

    # ------------------------------------------------------------------ applications
    def _execute(self, app, arg, app_uuid):
        v = self.vars
        if app not in APPS:
            # transcript 06: +OK, no CHANNEL_EXECUTE/COMPLETE, app_uuid and the loop counters
            # set, then the channel hangs up with DESTINATION_OUT_OF_ORDER.
            v.set("app_uuid", app_uuid)
            v.set("current_loop", "1")
            v.set("total_loops", "1")
            self._do_hangup("DESTINATION_OUT_OF_ORDER")
            return
        self.result.apps.append((app, arg))
        self.last_app = (app, arg)
        v.set("current_loop", "1")
        v.set("total_loops", "1")
        v.unset("current_application_response")
        v.set("current_application", app)
        v.set("current_application_data", arg if arg else None)
        data = [("Application-Data", fs_urlencode(arg))] if arg else []
        self.emit("CHANNEL_EXECUTE", post=[("Application", app), *data, ("Application-UUID", app_uuid)])
        # transcript 01/04: right after CHANNEL_EXECUTE both are set again, data first
        if arg:
            v.set("current_application_data", arg)
        v.set("current_application", app)
        self.app_started = self.now()
        if self.hangup_during and self.hangup_during[0] == app:
            with self.cv:
                # from app_started itself: a second now() would be a few sim ms later at a
                # small time_scale, and the cut-off would read 1002 ms instead of 1000
                self.caller_deadline = min(self.caller_deadline,
                                           self.app_started + float(self.hangup_during[1]))
            self.hangup_during = None
        handler = getattr(self, "_app_" + app)
        response = handler(arg or "") or "_none_"
        if response != "_none_":
            v.set("current_application_response", response)
        self.emit("CHANNEL_EXECUTE_COMPLETE", post=[
            ("Application", app), *data, ("Application-Response", fs_urlencode(response)),
            ("Application-UUID", app_uuid)])

    def _answer(self):
        if self.times["answered"] or not self.alive:
            return
        self.times["answered"] = self.now_us()
        self.answer_state = "answered"
        self.result.answered = True
        self.emit("CHANNEL_ANSWER")          # transcript 01: the event still says Call-State RINGING
        self.call_state = "ACTIVE"

    def _pre_answer(self):
        if self.times["answered"] or self.times["progress_media"] or not self.alive:
            return
        # transcript 05: PROGRESS_MEDIA with Answer-State early, Call-State still RINGING;
        # endpoint_disposition=EARLY MEDIA appears on it
        self.times["progress_media"] = self.now_us()
        self.answer_state = "early"
        self.vars.set("endpoint_disposition", "EARLY MEDIA")
        self.emit("CHANNEL_PROGRESS_MEDIA")
        self.call_state = "EARLY"

    def _app_answer(self, arg):
        self._answer()
        self.vars.set("endpoint_disposition", "ANSWER")   # transcript 01: on the COMPLETE
        return "_none_"

    def _app_pre_answer(self, arg):
        self._pre_answer()

    def _app_ring_ready(self, arg):
        if not self.times["progress"] and not self.times["answered"]:
            self.times["progress"] = self.now_us()
            self.emit("CHANNEL_PROGRESS")

    def _app_log(self, arg):
        pass

    _app_info = _app_log
    _app_event = _app_log

    def _app_set(self, arg):
        k, _, val = arg.partition("=")
        self.vars.set(k.strip(), val if val != "" else None)

    def _app_multiset(self, arg):
        for item in arg.split():
            self._app_set(item)

    def _app_unset(self, arg):
        self.vars.unset(arg.strip())

    def _app_export(self, arg):
        k, _, val = arg.partition("=")
        k = k.strip()
        if k.startswith("nolocal:"):
            k = k[len("nolocal:"):]
        else:
            self.vars.set(k, val if val != "" else None)
        names = [n for n in (self.vars.get("export_vars") or "").split(",") if n]
        if k not in names:
            names.append(k)
        self.vars.set("export_vars", ",".join(names))

    def _app_sleep(self, arg):
        try:
            ms = int(arg.strip() or 0)
        except ValueError:
            ms = 0
        self._sleep(ms / 1000)

    def _app_hangup(self, arg):
        # transcript 01: EXECUTE hangup, CHANNEL_HANGUP, then EXECUTE_COMPLETE hangup
        cause = (arg.strip() or "NORMAL_CLEARING").upper()
        if cause.isdigit():
            cause = next((k for k, c in Q850.items() if c == int(cause)), "NORMAL_CLEARING")
        elif cause not in Q850:
            cause = "NORMAL_CLEARING"
        self._do_hangup(cause)

    def _app_playback(self, arg):
        path = arg.strip()
        ms = media.playback_ms(path)
        if ms is None:
            return "FILE NOT FOUND"          # transcript 06, no PLAYBACK_* events
        self._pre_answer()
        post = [("Playback-File-Type", media.file_type(path)), ("Playback-File-Path", fs_urlencode(path))]
        self.emit("PLAYBACK_START", post=post)
        start = self.app_started       # the caller_hangup_during delay counts from here too
        ok = self._sleep(max(0.0, start + ms / 1000 - self.now()), breakable=True)
        played = ms if ok else int(round((min(self.now(), self.cut_at) - start) * 1000))
        if ok and self.now() - start < ms / 1000 - 1e-6:
            played = int((self.now() - start) * 1000)           # uuid_break
        samples = played * 8
        v = self.vars
        v.set("playback_last_offset_pos", str(samples))
        v.set("playback_seconds", str(played // 1000))
        v.set("playback_ms", str(played))
        v.set("playback_samples", str(samples))
        # transcript 04b: cut by a hangup -> PLAYBACK_STOP still says "done"
        self.emit("PLAYBACK_STOP", post=post + [("Playback-Status", "done")])
        return "FILE PLAYED" if ok else "PLAYBACK ERROR"

    def _app_record(self, arg):
        parts = arg.split()
        path = parts[0] if parts else ""
        limit = float(parts[1]) if len(parts) > 1 else 0
        thresh = float(parts[2]) if len(parts) > 2 else 0
        hits = float(parts[3]) if len(parts) > 3 else 3
        self._pre_answer()
        by_limit = limit if limit > 0 else INF
        by_silence = self.caller_speaks + hits if thresh > 0 else INF
        planned = min(by_limit, by_silence, 3600)
        v = self.vars
        v.set("silence_hits_exhausted", "false")             # transcript 04: on RECORD_START
        # transcript 04: record switches the read codec, so read_codec/read_rate are set again
        # (they move behind silence_hits_exhausted) and once more after RECORD_STOP
        v.set("read_codec", v.get("read_codec", "L16"))
        v.set("read_rate", v.get("read_rate", "8000"))
        self.emit("RECORD_START", post=[("Record-File-Path", fs_urlencode(path))])
        start = self.app_started
        ok = self._sleep(max(0.0, start + planned - self.now()))
        elapsed = planned if ok else max(0.0, min(min(self.now(), self.cut_at) - start, planned))
        ms = int(round(elapsed * 1000))
        size = self._write_wav(path, ms, int(self.caller_speaks * 1000))
        if ok and by_silence <= by_limit:
            v.set("silence_hits_exhausted", "true")
        samples = ms * 8
        # transcript 04 RECORD_STOP: these five, in this order (record_record_file_size is real)
        v.set("record_record_file_size", str(size))
        v.set("record_file_size", str(size))
        v.set("record_seconds", str(ms // 1000))
        v.set("record_ms", str(ms))
        v.set("record_samples", str(samples))
        self.emit("RECORD_STOP", post=[("Record-File-Path", fs_urlencode(path))])
        v.set("read_codec", v.get("read_codec", "L16"))
        v.set("read_rate", v.get("read_rate", "8000"))
        return "_none_"

    def _write_wav(self, path, ms, speech_ms):
        try:
            size = media.write_wav(path, ms, speech_ms)
        except OSError as exc:
            self.result.errors.append(f"cannot write {path}: {exc}")
            return 0
        self.result.recordings.append(path)
        return size

    def _app_record_session(self, arg):
        path = arg.split()[0] if arg.split() else ""
        # Real FreeSWITCH 1.11.1 records from this moment, ringback included; with
        # RECORD_BRIDGE_REQ=true only from the bridge on (transcripts 08 and 08b: record_ms
        # 6520 vs 4960 for a 4.97 s conversation; switch_ivr_async.c SMBF_BRIDGE_REQ).
        bridge_req = self.vars.get("RECORD_BRIDGE_REQ", "").lower() in ("true", "yes", "on", "1")
        self.session_rec = (path, None if bridge_req else self.now())
        # transcript 03: RECORD_START (from switch_ivr_async.c), then EXECUTE_COMPLETE at once
        self.emit("RECORD_START", post=[("Record-File-Path", fs_urlencode(path))],
                  origin_key="RECORD_START/session")

    def _app_stop_record_session(self, arg):
        if self.session_rec and arg.strip() in (self.session_rec[0], "all", ""):
            self._stop_session_record()

    def _stop_session_record(self):
        path, start = self.session_rec
        self.session_rec = None
        end = self.hangup_sim_time if self.hangup_sim_time is not None else self.now()
        ms = 0 if start is None else int(round((end - start) * 1000))
        size = self._write_wav(path, ms, ms)
        v = self.vars
        # transcript 03 RECORD_STOP: after CHANNEL_STATE CS_HANGUP, success-silence
        v.set("record_file_size", str(size))
        v.set("record_samples", str(ms * 8))
        v.set("record_seconds", str(ms // 1000))
        v.set("record_ms", str(ms))
        v.set("record_completion_cause", "success-silence")
        self.emit("RECORD_STOP", post=[("Record-File-Path", fs_urlencode(path)),
                                       ("Record-Completion-Cause", "success-silence")],
                  origin_key="RECORD_STOP/session")

    # ------------------------------------------------------------------ bridge
    def _lookup(self, ep) -> Target:
        t = self.targets.get(ep.dial) or self.targets.get(ep.last)
        if t is None and "@" in ep.last:
            t = self.targets.get(ep.last.split("@", 1)[0])
        return t or Target.unreachable("NO_ROUTE_DESTINATION")

    def _app_bridge(self, arg):
        v = self.vars
        gvars, groups = parse_dial_string(arg)
        rec = BridgeRecord(arg=arg, endpoints=[ep.dial for g in groups for ep in g])
        self.result.bridges.append(rec)
        # switch_ivr_originate sets these first; they are what a ringing bridge shows
        # (transcript 05: originate_disposition=failure, DIALSTATUS=INVALIDARGS on PROGRESS_MEDIA)
        v.set("originate_disposition", "failure")
        v.set("DIALSTATUS", "INVALIDARGS")
        known = any(ep.kind in KNOWN_ENDPOINT_TYPES and ep.kind != "error" for g in groups for ep in g)
        if known:
            self._pre_answer()        # transcript 05: ringback -> PROGRESS_MEDIA at bridge start
        all_legs = []                 # (ep, uuid, cause) for originate_causes
        final_cause = "CHAN_NOT_IMPLEMENTED" if groups else "INVALID_NUMBER_FORMAT"
        for group in groups:
            legs = []
            for ep in group:
                if ep.kind not in KNOWN_ENDPOINT_TYPES:
                    rec.legs.append((ep.dial, None, "CHAN_NOT_IMPLEMENTED"))
                    final_cause = "CHAN_NOT_IMPLEMENTED"
                    continue
                if ep.kind == "error":
                    final_cause = ep.last.upper() if ep.last.upper() in Q850 else "NORMAL_CLEARING"
                    rec.legs.append((ep.dial, None, final_cause))
                    continue
                target = self._lookup(ep)
                b_uuid = str(uuidlib.uuid4())
                v.set("originate_signal_bond", b_uuid)
                v.push("originated_legs", f"{b_uuid};Outbound Call;{ep.last}")
                lt = ep.variables.get("leg_timeout")
                ot = float(ep.variables.get("originate_timeout", 60) or 60)
                if lt is not None and float(lt) <= ot:
                    timeout, tcause = float(lt), "ALLOTTED_TIMEOUT"
                else:
                    timeout, tcause = ot, "NO_ANSWER"
                if target.kind == "answer" and target.after < timeout:
                    when, outcome = target.after, "answer"
                elif target.kind == "fail" and target.after < timeout:
                    when, outcome = target.after, target.cause
                else:
                    when, outcome = timeout, tcause
                legs.append({"ep": ep, "uuid": b_uuid, "target": target, "when": when, "outcome": outcome})
                if target.rings and not self.times["progress"]:
                    self.times["progress"] = self.now_us()    # transcript 02: silently set
            if not legs:
                continue
            start = self.now()
            answers = [l for l in legs if l["outcome"] == "answer"]
            winner = min(answers, key=lambda l: l["when"]) if answers else None
            until = winner["when"] if winner else max(l["when"] for l in legs)
            if not self._sleep(max(0.0, start + until - self.now())):
                # caller gone while ringing: transcript 05 -> CHANNEL_HANGUP, then
                # ORIGINATOR_CANCEL / CANCEL on the bridge's EXECUTE_COMPLETE
                for l in legs:
                    l["cause"] = "ORIGINATOR_CANCEL" if l["when"] > self.now() - start else l["outcome"]
                self._bridge_failed(rec, all_legs + legs, "ORIGINATOR_CANCEL", record_last=False)
                return
            if winner:
                for l in legs:
                    if l is winner:
                        l["cause"] = "NONE"
                    elif l["when"] <= winner["when"] and l["outcome"] != "answer":
                        l["cause"] = l["outcome"]
                    else:
                        l["cause"] = "LOSE_RACE"
                self._bridge_answered(rec, all_legs + legs, winner)
                return
            for l in legs:
                l["cause"] = l["outcome"]
            last = max(legs, key=lambda l: (l["when"], legs.index(l)))
            final_cause = last["outcome"]
            all_legs += legs
        self._bridge_failed(rec, all_legs, final_cause, record_last=bool(all_legs))

    def _bridge_failed(self, rec, legs, cause, record_last):
        v = self.vars
        # transcript 02 order: last_bridge_hangup_cause, originate_disposition, DIALSTATUS,
        # originate_causes (ARRAY push), originate_failed_cause
        if record_last:
            v.set("last_bridge_hangup_cause", cause)
        v.set("originate_disposition", cause)
        v.set("DIALSTATUS", dialstatus(cause))
        for l in legs:
            v.push("originate_causes", f"{l['uuid']};{l['cause']}")
            rec.legs.append((l["ep"].dial, l["uuid"], l["cause"]))
        v.set("originate_failed_cause", cause)
        rec.outcome, rec.dialstatus, rec.cause = cause, dialstatus(cause), cause
        if not self.alive:
            return
        cof = (v.get("continue_on_fail") or "").strip()
        cont = cof.lower() == "true" or cause in [c.strip() for c in cof.split(",")]
        if not cont:
            # transcript 06b: CHANNEL_HANGUP (the failure cause) precedes the bridge's COMPLETE
            self._do_hangup(cause)

    def _bridge_answered(self, rec, legs, winner):
        v = self.vars
        ep, b_uuid, target = winner["ep"], winner["uuid"], winner["target"]
        if not self.times["answered"]:
            self._answer()
            v.set("endpoint_disposition", "ANSWER")
        v.unset("originate_signal_bond")
        v.set("originate_disposition", "SUCCESS")
        v.set("DIALSTATUS", "SUCCESS")
        for l in legs:
            v.push("originate_causes", f"{l['uuid']};{l['cause']}")
            rec.legs.append((l["ep"].dial, l["uuid"], l["cause"]))
        v.set("signal_bond", b_uuid)
        now = self.now_us()
        self.times["bridged"] = now
        E = fs_urlencode
        self.other_leg = [
            ("Other-Leg-Direction", "outbound"), ("Other-Leg-Logical-Direction", "inbound"),
            ("Other-Leg-Dialplan", "xml"), ("Other-Leg-Caller-ID-Name", E(self.cid_name)),
            ("Other-Leg-Caller-ID-Number", E(self.cid_num)),
            ("Other-Leg-Orig-Caller-ID-Name", E(self.cid_name)),
            ("Other-Leg-Orig-Caller-ID-Number", E(self.cid_num)),
            ("Other-Leg-Callee-ID-Name", "Outbound%20Call"), ("Other-Leg-Callee-ID-Number", E(ep.last)),
            ("Other-Leg-ANI", E(self.cid_num)), ("Other-Leg-Destination-Number", E(ep.dest_number)),
            ("Other-Leg-Unique-ID", b_uuid), ("Other-Leg-Source", "mod_" + ep.kind),
            ("Other-Leg-Context", "default"), ("Other-Leg-Channel-Name", E(ep.channel_name)),
            ("Other-Leg-Profile-Created-Time", str(now)), ("Other-Leg-Channel-Created-Time", str(now)),
            ("Other-Leg-Channel-Answered-Time", str(now)), ("Other-Leg-Channel-Progress-Time", "0"),
            ("Other-Leg-Channel-Progress-Media-Time", "0"), ("Other-Leg-Channel-Hangup-Time", "0"),
            ("Other-Leg-Channel-Transfer-Time", "0"), ("Other-Leg-Channel-Resurrect-Time", "0"),
            ("Other-Leg-Channel-Bridged-Time", "0"), ("Other-Leg-Channel-Last-Hold", "0"),
            ("Other-Leg-Channel-Hold-Accum", "0"), ("Other-Leg-Screen-Bit", "true"),
            ("Other-Leg-Privacy-Hide-Name", "false"), ("Other-Leg-Privacy-Hide-Number", "false")]
        pre = [("Bridge-A-Unique-ID", self.uuid), ("Bridge-B-Unique-ID", b_uuid)]
        self.emit("CHANNEL_BRIDGE", pre=pre)
        if self.session_rec and self.session_rec[1] is None:
            self.session_rec = (self.session_rec[0], self.now())
        rec.answered_by, rec.outcome, rec.dialstatus = ep.dial, "SUCCESS", "SUCCESS"
        talked = self._sleep(target.talk)
        cause = "NORMAL_CLEARING"
        rec.cause = cause
        # transcript 02/03: UNBRIDGE carries these, in this order
        v.set("last_bridge_to", b_uuid)
        v.set("bridge_channel", ep.channel_name)
        v.set("bridge_uuid", b_uuid)
        v.set("signal_bond", b_uuid)
        v.set("last_sent_callee_id_name", "Outbound Call")
        v.set("last_sent_callee_id_number", ep.last)
        v.set("last_bridge_hangup_cause", cause)
        v.set("bridge_hangup_cause", cause)
        self.emit("CHANNEL_UNBRIDGE", pre=pre)
        if talked and self.alive:
            hab = (v.get("hangup_after_bridge") or "false").lower() == "true"
            if hab:
                # FreeSWITCH default is false (transcript 02 sets it false explicitly);
                # with true the A-leg hangs up with the far end's cause
                self._do_hangup(cause)
