"""Benchmark of the engine (issue "Engine"): `callflow serve` driven over loopback TCP.

Run:  .venv/bin/python tests/benchmarks/bench_engine.py [--quick] [--markdown PATH]
      .venv/bin/python tests/benchmarks/bench_engine.py --profile [--profile-seconds 15]

Not collected by pytest (the file name does not start with test_). Total run time about
2.5 minutes (--quick: about 1 minute, smaller figures).

What it measures, for the engine and for a bare greenswitch 0.0.19 application
(``OutboundESLServer`` + an application that only answers and hangs up, see BARE_APP):

1. calls/s: closed loop (CONCURRENCY calls always in flight) for a fixed time, and an
   open loop at TARGET_RATE calls/s (does the server keep up, with what latency). The
   server's own CPU time per call (/proc/<pid>/stat utime+stime over the window divided by
   the calls completed) gives its capacity on one core: 1 / cpu_per_call.
2. call set-up latency at 100 calls/s: on the FreeSWITCH side, from the TCP connect to
   the first ``sendmsg`` received; for the engine also its ``callflow_call_setup_seconds``
   histogram (accepted -> first call command; delta over the window, quantiles
   interpolated inside buckets like Prometheus' histogram_quantile).
3. memory per concurrent call: HOLD_CALLS calls held at once (the engine's in a bridge,
   the bare app's in its ``answer``), (VmRSS with calls - VmRSS idle) / HOLD_CALLS.

The call flow of the engine: connect, myevents, linger, answer, playback (one message), the
forward's set/unset preparation, bridge (answered, short talk), hangup. Exactly what
``callflow serve`` sends for a number with one start message and one forward.

Load generator: the FreeSWITCH simulator (tests/fsim, two Python threads per call and a
full channel-variable dump URL-encoded in pure Python for each of the ~30 events of a
call) cannot place hundreds of calls per second on 2 cores. So the simulator places ONE
call against the server under test and its wire exchange (tests/fsim/wire.py frames,
byte for byte) becomes the template a lean asyncio load generator replays per call:
every command the server sends must match the template's command (name and application)
or the call counts as failed; the answer to each command is the simulator's frames with
the channel uuid and the ``Application-UUID`` (the server's fresh ``Event-UUID``)
substituted (same length, so every Content-Length stays right). Time passes where the
simulator spent it: before the playback's completion (PLAY_S), before CHANNEL_BRIDGE
(RING_S) and before CHANNEL_UNBRIDGE (TALK_S; the hold point of the memory test).
"""
from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import re
import resource
import signal
import socket
import subprocess
import sys
import tempfile
import time
import uuid as uuidlib
from datetime import date
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(REPO / "tests"))

from tests.fsim import wire  # noqa: E402
from tests.fsim.simulator import Simulator  # noqa: E402
from tests.fsim.targets import Target  # noqa: E402
from tests.helpers.engine_proc import EngineProcess, free_port  # noqa: E402

NUMBER = "+551140040001"
TARGET = "+5511900000001"
RULES = f"""
defaults: {{timezone: America/Sao_Paulo, region: BR}}
numbers:
  "{NUMBER}":
    messages:
      - {{audio: welcome.wav, at: start}}
    forwarding:
      - {{to: "{TARGET}", ring_seconds: 20}}
"""

PLAY_S, RING_S, TALK_S = 0.02, 0.02, 0.1     # real seconds in the load generator
CONCURRENCY = 128                            # closed loop: calls in flight
TARGET_RATE = 300                            # open loop: calls/s
LATENCY_RATE = 100                           # set-up latency measured at this rate
HOLD_CALLS = 2000

# A bare greenswitch 0.0.19 application, run in a subprocess: greenswitch's own
# OutboundESLServer (accept() polled every 100 ms, greenswitch's parser) and an
# application that answers (waiting for the answer's CHANNEL_EXECUTE_COMPLETE, the hold
# point of the memory test) and hangs up. The server's `connect`, the `myevents` needed to
# see the completion, and greenswitch's `exit` at the end complete the exchange.
BARE_APP = r'''
from gevent import monkey; monkey.patch_all()
import sys, gevent
from greenswitch.esl import OutboundESLServer

class App:
    def __init__(self, session):
        self.session = session

    def run(self):
        s = self.session
        s.myevents()
        s.call_command("answer", block=True, response_timeout=3600)
        s.hangup()

server = OutboundESLServer("127.0.0.1", int(sys.argv[1]), application=App,
                           max_connections=int(sys.argv[2]))
g = gevent.spawn(server.listen)
while not server._running:
    gevent.sleep(0.01)
print("READY", flush=True)
g.join()
'''


# ----------------------------------------------------------------------------- helpers

def raise_nofile(n: int = 65536) -> None:
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    want = min(n, hard) if hard != resource.RLIM_INFINITY else n
    if soft < want:
        resource.setrlimit(resource.RLIMIT_NOFILE, (want, hard))


def rss_kb(pid: int) -> int:
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    raise RuntimeError("no VmRSS")


def cpu_seconds(pid: int) -> float:
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")   # utime + stime


def system_busy() -> float:
    """CPU seconds all processes of the machine spent busy so far (/proc/stat)."""
    with open("/proc/stat") as f:
        v = [int(x) for x in f.readline().split()[1:]]
    idle = v[3] + (v[4] if len(v) > 4 else 0)
    return (sum(v[:8]) - idle) / os.sysconf("SC_CLK_TCK")


class Window:
    """CPU accounting of one measurement window: server, load generator, everything else."""

    def __init__(self, pid: int):
        self.pid = pid
        self.t, self.cpu, self.gen, self.busy = (time.perf_counter(), cpu_seconds(pid),
                                                 time.process_time(), system_busy())

    def close(self) -> dict:
        wall = time.perf_counter() - self.t
        cpu = cpu_seconds(self.pid) - self.cpu
        gen = time.process_time() - self.gen
        other = system_busy() - self.busy - cpu - gen
        return {"wall": wall, "cpu": cpu, "gen": gen, "server_cpu_util": cpu / wall,
                "gen_cpu_util": gen / wall, "other_cpu_util": max(other, 0.0) / wall}


def pct(values, q):
    if not values:
        return float("nan")
    s = sorted(values)
    k = (len(s) - 1) * q
    lo = int(k)
    hi = min(lo + 1, len(s) - 1)
    return s[lo] + (s[hi] - s[lo]) * (k - lo)


def cpu_model() -> str:
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "?"


# ------------------------------------------------------------------ servers under test

class EngineServer:
    kind = "engine"

    def __init__(self, tmp: Path):
        self.proc = EngineProcess(tmp, RULES, media=["welcome.wav"], env={
            "CALLFLOW_LOG_LEVEL": "INFO",          # production level (EngineProcess: DEBUG)
            "CALLFLOW_MAX_CALLS": str(HOLD_CALLS + 1000),
            "CALLFLOW_COMMAND_TIMEOUT": "10",
            "CALLFLOW_LINGER_SECONDS": "30",
        })

    def start(self):
        self.proc.start()
        self.port, self.pid = self.proc.port, self.proc.proc.pid
        return self

    def active(self) -> int | None:
        return self.proc.health()["calls_active"]

    def setup_histogram(self) -> dict[float, float]:
        out = {}
        for m in re.finditer(r'^callflow_call_setup_seconds_bucket\{le="([^"]+)"\} (\S+)$',
                             self.proc.metrics(), re.M):
            out[float(m.group(1))] = float(m.group(2))
        return out

    def stop(self):
        self.proc.stop()


class BareServer:
    kind = "bare"

    def __init__(self, tmp: Path):
        self.path = tmp / "bare_greenswitch_app.py"
        self.path.write_text(BARE_APP)
        self.port = free_port()

    def start(self):
        self.p = subprocess.Popen([sys.executable, str(self.path), str(self.port),
                                   str(HOLD_CALLS + 1000)], cwd=REPO, stdout=subprocess.PIPE,
                                  stderr=subprocess.DEVNULL)
        line = self.p.stdout.readline()
        if b"READY" not in line:
            raise RuntimeError(f"bare app did not start: {line!r}")
        self.pid = self.p.pid
        return self

    def active(self):
        return None

    def setup_histogram(self):
        return None

    def stop(self):
        self.p.send_signal(signal.SIGKILL)
        self.p.wait()


# --------------------------------------------------------------------- call template

DELAY_RULES = {
    # (application of the step, Event-Name of the frame) -> pause before that frame
    "engine": {("playback", "CHANNEL_EXECUTE_COMPLETE"): "play",
               ("bridge", "CHANNEL_BRIDGE"): "ring",
               ("bridge", "CHANNEL_UNBRIDGE"): "talk"},
    "bare": {("answer", "CHANNEL_EXECUTE_COMPLETE"): "talk"},
}


def _command_sig(raw: bytes) -> tuple[bytes, bytes | None, bytes | None]:
    """(first word, execute-app-name, Event-UUID) of one command from the server."""
    nl = raw.find(b"\n")
    first = raw if nl < 0 else raw[:nl]
    word = first.split(b" ", 1)[0]
    app = app_uuid = None
    if word == b"sendmsg":
        j = raw.find(b"execute-app-name: ")
        if j >= 0:
            e = raw.find(b"\n", j)
            app = raw[j + 18:e if e >= 0 else len(raw)]
        j = raw.find(b"Event-UUID: ")
        if j >= 0:
            app_uuid = raw[j + 12:j + 48]
    return word, app, app_uuid


class Step:
    __slots__ = ("word", "app", "app_uuid", "segments", "hangs_up")

    def __init__(self, word, app, app_uuid):
        self.word, self.app, self.app_uuid = word, app, app_uuid
        self.segments: list[list] = [[None, b""]]    # [pause key or None, bytes]
        self.hangs_up = False    # ends with FreeSWITCH's "disconnect" notice: it closes then


class Script:
    """The simulator's exchange for one call, as steps: command -> answer frames."""

    def __init__(self, kind: str, chan_uuid: str, wire_log: list, drop_events=()):
        self.chan_uuid = chan_uuid.encode()
        self.steps: list[Step] = []
        self.frames = self.bytes_in = 0
        rules = DELAY_RULES[kind]
        # The simulator logs a command when its reader thread reads it and a frame when its
        # session thread has sent it, so a completion can be logged after the command it
        # triggered. A frame carrying an Application-UUID belongs to the step that started
        # that application (the command's Event-UUID, or where its CHANNEL_EXECUTE was).
        owner: dict[str, int] = {}
        placed: list[list] = []
        for direction, data in wire_log:
            if direction == ">>>":
                if self.steps and self.steps[-1].hangs_up:
                    break                 # FreeSWITCH had closed: never answered
                step = Step(*_command_sig(data.strip(b"\n") + b"\n"))
                self.steps.append(step)
                placed.append([])
                if step.app_uuid:
                    owner[step.app_uuid.decode()] = len(self.steps) - 1
                continue
            if not self.steps:
                raise RuntimeError("frame before the first command")
            msg = wire.split_messages(data)[0]
            if msg.event_name in drop_events:
                continue                  # what-if: FreeSWITCH told not to send these
            k = len(self.steps) - 1
            app_uuid = msg.ev("Application-UUID")
            if app_uuid:
                k = owner.setdefault(app_uuid, k)
            if self.steps[k].hangs_up:
                raise RuntimeError("frame after a disconnect notice")
            if (msg.content_type == "text/disconnect-notice"
                    and msg.get("Content-Disposition") == "disconnect"):
                self.steps[k].hangs_up = True   # transcripts 01/01b: goodbye, then EOF
            placed[k].append((msg, data))
        # The end of the exchange races in the simulator as in FreeSWITCH (does the
        # server close, or send `exit`, before or after the hang-up teardown?), so it is
        # made canonical: the hangup step ends with the hangup's CHANNEL_EXECUTE_COMPLETE
        # (the engine closes on CHANNEL_HANGUP; what follows reaches it only if it has not
        # closed yet), and greenswitch's `exit` gets what the simulator answers to it
        # (``+OK bye``, the "disconnect" notice, then EOF; transcript 01).
        self.complete = False
        for k, (step, frames) in enumerate(zip(self.steps, placed)):
            if step.app != b"hangup":
                continue
            done = [i for i, (m, _) in enumerate(frames)
                    if m.event_name == "CHANNEL_EXECUTE_COMPLETE" and m.ev("Application") == "hangup"]
            if done:
                self.complete = True
                del frames[done[0] + 1:]
                step.hangs_up = False
            del self.steps[k + 1:], placed[k + 1:]
            if kind == "bare":
                exit_step = Step(b"exit", None, None)
                exit_step.hangs_up = True
                bye = wire.command_reply("+OK bye") + wire.disconnect_notice(chan_uuid, "disconnect")
                self.steps.append(exit_step)
                placed.append([(m, m.raw) for m in wire.split_messages(bye)])
            break
        for step, frames in zip(self.steps, placed):
            for msg, data in frames:
                key = rules.get(((step.app or b"").decode(), msg.event_name or ""))
                if key:
                    step.segments.append([key, b""])
                step.segments[-1][1] += data
                self.frames += 1
                self.bytes_in += len(data)

    def describe(self) -> str:
        return " ".join((s.app or s.word).decode() for s in self.steps)


def capture(server, kind: str, drop_events=()) -> Script:
    """The template, checked: 20 replayed calls must all succeed (else capture again)."""
    for _ in range(12):
        script = capture_once(server, kind, drop_events)
        if not script.complete:
            print(f"[{kind}] template rejected: no hangup completion captured", flush=True)
            continue
        gen = Gen(script, server.port, pauses())
        run(closed_loop_n(gen, 20))
        if all(r[4] for r in gen.results):
            return script
        print(f"[{kind}] template rejected: {gen.errors}", flush=True)
    raise RuntimeError("no usable template")


def capture_once(server, kind: str, drop_events=()) -> Script:
    """One call placed by the real simulator; its wire log becomes the template."""
    chan = str(uuidlib.uuid4())
    sim = Simulator(port=server.port, time_scale=0.01,
                    targets={TARGET: Target.answers(after=1, talk=2)})
    res = sim.place_call(destination_number=NUMBER, caller_id_number="+5511999990001",
                         uuid=chan, timeout=20)
    if res.errors or res.timed_out or not res.connected:
        raise RuntimeError(f"template call failed: {res.errors} timed_out={res.timed_out}")
    return Script(kind, chan, res.wire, drop_events)


# -------------------------------------------------------------------- load generator

class Gen:
    """Lean FreeSWITCH side: one asyncio protocol per call, replaying a Script."""

    def __init__(self, script: Script, port: int, pauses: dict):
        self.script, self.port, self.pauses = script, port, pauses
        self.release = None          # asyncio.Event when pause "talk" is a hold
        self.held = 0
        self.errors: dict[str, int] = {}
        self.results: list = []      # (t_start, t_conn, t_first_sendmsg, t_end, ok)

    async def call(self):
        loop = asyncio.get_running_loop()
        t0 = time.perf_counter()
        proto = CallProto(self, loop.create_future())
        try:
            await loop.create_connection(lambda: proto, "127.0.0.1", self.port)
            await proto.done
        except OSError:
            proto.ok = False
        self.results.append((t0, proto.t_conn, proto.t_first, time.perf_counter(), proto.ok))


class CallProto(asyncio.Protocol):
    __slots__ = ("gen", "done", "tr", "buf", "k", "chan", "t_conn", "t_first", "ok", "closed")

    def __init__(self, gen: Gen, done):
        self.gen, self.done = gen, done
        self.buf = b""
        self.k = 0
        self.chan = str(uuidlib.uuid4()).encode()
        self.t_conn = self.t_first = None
        self.ok = False
        self.closed = False

    def connection_made(self, tr):
        self.t_conn = time.perf_counter()
        self.tr = tr
        tr.get_extra_info("socket").setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

    def data_received(self, data):
        buf = self.buf + data if self.buf else data
        while True:
            i = buf.find(b"\n\n")
            if i < 0:
                break
            cmd, buf = buf[:i + 1], buf[i + 2:]
            if cmd.strip():
                self.command(cmd.lstrip(b"\n"))
        self.buf = buf

    def command(self, raw: bytes):
        word, app, app_uuid = _command_sig(raw)
        if word == b"sendmsg" and self.t_first is None:
            self.t_first = time.perf_counter()
        steps = self.gen.script.steps
        if self.k >= len(steps) or steps[self.k].word != word or steps[self.k].app != app:
            self.fail(f"step {self.k}: got {word!r} {app!r}")
            return
        step = steps[self.k]
        self.k += 1
        self.send(step, 0, app_uuid)

    def send(self, step: Step, j: int, app_uuid, resumed: bool = False):
        if self.closed:
            return
        segs = step.segments
        while j < len(segs):
            key, data = segs[j]
            if key is not None and j > 0 and not resumed:
                pause = self.gen.pauses[key]
                loop = asyncio.get_running_loop()
                if pause is None:                       # hold until released
                    self.gen.held += 1
                    loop.create_task(self._hold(step, j, app_uuid))
                else:
                    loop.call_later(pause, self.send, step, j, app_uuid, True)
                return
            resumed = False
            data = data.replace(self.gen.script.chan_uuid, self.chan)
            if step.app_uuid and app_uuid:
                data = data.replace(step.app_uuid, app_uuid)
            if data:
                self.tr.write(data)
            j += 1
        if self.k == len(self.gen.script.steps):
            self.ok = True                              # whole template served
        if step.hangs_up:
            self.finish()

    async def _hold(self, step, j, app_uuid):
        await self.gen.release.wait()
        self.gen.held -= 1
        self.send(step, j, app_uuid, True)

    def fail(self, why):
        self.gen.errors[why] = self.gen.errors.get(why, 0) + 1
        self.ok = False
        self.k = 10 ** 9
        self.finish()

    def finish(self):
        if not self.closed:
            self.closed = True
            self.tr.close()

    def connection_lost(self, exc):
        self.closed = True
        if self.k != len(self.gen.script.steps) and self.k < 10 ** 9:
            self.ok = False
            why = f"closed by the server after step {self.k}"
            self.gen.errors[why] = self.gen.errors.get(why, 0) + 1
        if not self.done.done():
            self.done.set_result(None)


async def closed_loop(gen: Gen, concurrency: int, seconds: float):
    stop = time.perf_counter() + seconds

    async def worker():
        while time.perf_counter() < stop:
            await gen.call()
    await asyncio.gather(*(worker() for _ in range(concurrency)))


async def closed_loop_n(gen: Gen, n: int, concurrency: int = 4):
    left = [n]

    async def worker():
        while left[0] > 0:
            left[0] -= 1
            await gen.call()
    await asyncio.gather(*(worker() for _ in range(concurrency)))


async def open_loop(gen: Gen, rate: float, seconds: float):
    loop = asyncio.get_running_loop()
    n = int(rate * seconds)
    t0 = time.perf_counter()
    tasks = []
    for i in range(n):
        delay = t0 + i / rate - time.perf_counter()
        if delay > 0:
            await asyncio.sleep(delay)
        tasks.append(loop.create_task(gen.call()))
    started = time.perf_counter() - t0
    await asyncio.gather(*tasks)
    return n / started if started > 0 else float("nan")


def run(coro):
    return asyncio.run(coro)


def pauses(hold=False):
    return {"play": PLAY_S, "ring": RING_S, "talk": None if hold else TALK_S}


# ------------------------------------------------------------------------ measurements

def measure_throughput(server, script, seconds, concurrency):
    gen = Gen(script, server.port, pauses())
    w = Window(server.pid)
    run(closed_loop(gen, concurrency, seconds))
    acc = w.close()
    ok = sum(1 for r in gen.results if r[4])
    dur = [r[3] - r[0] for r in gen.results if r[4]]
    return {"calls_s": ok / acc["wall"], "ok": ok, "failed": len(gen.results) - ok,
            "cpu_ms_per_call": 1000 * acc["cpu"] / max(ok, 1),
            "capacity_calls_s": ok / acc["cpu"] if acc["cpu"] else float("nan"),
            "gen_cpu_ms_per_call": 1000 * acc["gen"] / max(ok, 1),
            "server_cpu_util": acc["server_cpu_util"], "gen_cpu_util": acc["gen_cpu_util"],
            "other_cpu_util": acc["other_cpu_util"],
            "call_ms_p50": 1000 * pct(dur, 0.5), "call_ms_p99": 1000 * pct(dur, 0.99),
            "errors": gen.errors}


def hist_quantile(delta: dict[float, float], q: float) -> float:
    """Prometheus histogram_quantile over cumulative bucket counts."""
    bounds = sorted(delta)
    total = delta[bounds[-1]] if bounds else 0
    if total <= 0:
        return float("nan")
    rank, prev_b, prev_c = q * total, 0.0, 0.0
    for b in bounds:
        c = delta[b]
        if c >= rank:
            if b == float("inf"):
                return prev_b
            return prev_b + (b - prev_b) * ((rank - prev_c) / (c - prev_c) if c > prev_c else 0)
        prev_b, prev_c = b, c
    return prev_b


def measure_rate(server, script, rate, seconds):
    gen = Gen(script, server.port, pauses())
    h0 = server.setup_histogram()
    w = Window(server.pid)
    achieved = run(open_loop(gen, rate, seconds))
    acc = w.close()
    wall, cpu = acc["wall"], acc["cpu"]
    h1 = server.setup_histogram()
    ok = [r for r in gen.results if r[4]]
    setup = [r[2] - r[0] for r in ok if r[2] is not None]
    after_conn = [r[2] - r[1] for r in ok if r[2] is not None]
    out = {"offered_calls_s": achieved, "ok": len(ok), "failed": len(gen.results) - len(ok),
           "completed_calls_s": len(ok) / wall, "server_cpu_util": cpu / wall,
           "cpu_ms_per_call": 1000 * cpu / max(len(ok), 1),
           "gen_cpu_util": acc["gen_cpu_util"], "other_cpu_util": acc["other_cpu_util"],
           "setup_ms_p50": 1000 * pct(setup, 0.5), "setup_ms_p99": 1000 * pct(setup, 0.99),
           "setup_ms_max": 1000 * max(setup) if setup else float("nan"),
           "conn_to_first_ms_p50": 1000 * pct(after_conn, 0.5),
           "conn_to_first_ms_p99": 1000 * pct(after_conn, 0.99), "errors": gen.errors}
    if h0 is not None and h1:
        delta = {b: h1[b] - h0.get(b, 0) for b in h1}
        out["engine_hist_ms_p50"] = 1000 * hist_quantile(delta, 0.5)
        out["engine_hist_ms_p99"] = 1000 * hist_quantile(delta, 0.99)
        out["engine_hist_count"] = delta.get(float("inf"), 0)
    return out


def measure_memory(server, script, n):
    """Hold n calls at once; (RSS with calls - RSS idle) / n."""
    async def go():
        gen = Gen(script, server.port, pauses(hold=True))
        gen.release = asyncio.Event()
        loop = asyncio.get_running_loop()
        tasks = []
        ramp = 500.0                                   # calls/s while filling up
        t0 = time.perf_counter()
        for i in range(n):
            delay = t0 + i / ramp - time.perf_counter()
            if delay > 0:
                await asyncio.sleep(delay)
            tasks.append(loop.create_task(gen.call()))
        deadline = time.perf_counter() + 60
        while gen.held < n and time.perf_counter() < deadline:
            await asyncio.sleep(0.1)
        held = gen.held
        active = await loop.run_in_executor(None, server.active)
        await asyncio.sleep(1.0)                       # let the server settle
        rss_full = rss_kb(server.pid)
        gen.release.set()
        await asyncio.gather(*tasks)
        ok = sum(1 for r in gen.results if r[4])
        return held, active, rss_full, ok

    idle = rss_kb(server.pid)
    held, active, full, ok = run(go())
    time.sleep(1.0)
    after = rss_kb(server.pid)
    return {"rss_idle_mb": idle / 1024, "rss_held_mb": full / 1024, "rss_after_mb": after / 1024,
            "held": held, "server_active": active, "ok_after_release": ok,
            "kb_per_call": (full - idle) / max(held, 1)}


def bench_one(server_cls, tmp: Path, quick: bool) -> dict:
    seconds = 5 if quick else 15
    hold = 500 if quick else HOLD_CALLS
    server = server_cls(tmp).start()
    try:
        script = capture(server, server.kind)
        out = {"template": script.describe(), "frames_per_call": script.frames,
               "bytes_per_call": script.bytes_in, "commands_per_call": len(script.steps)}
        print(f"[{server.kind}] template: {out['template']} ({script.frames} frames, "
              f"{script.bytes_in} bytes from FreeSWITCH per call)", flush=True)
        run(closed_loop(Gen(script, server.port, pauses()), 32, 2.0))           # warm-up
        out["memory"] = measure_memory(server, script, hold)
        print(f"[{server.kind}] memory: {out['memory']}", flush=True)
        out["latency"] = measure_rate(server, script, LATENCY_RATE, seconds)
        print(f"[{server.kind}] latency @{LATENCY_RATE}/s: {out['latency']}", flush=True)
        out["throughput"] = measure_throughput(server, script, seconds, CONCURRENCY)
        print(f"[{server.kind}] closed loop x{CONCURRENCY}: {out['throughput']}", flush=True)
        out["rate"] = measure_rate(server, script, TARGET_RATE, seconds)
        print(f"[{server.kind}] open loop @{TARGET_RATE}/s: {out['rate']}", flush=True)
        return out
    finally:
        server.stop()


# --------------------------------------------------------------------------- profile

def profile(tmp: Path, seconds: float) -> None:
    """py-spy the engine under closed-loop load (needs `pip install py-spy`)."""
    spy = Path(sys.executable).with_name("py-spy")
    server = EngineServer(tmp).start()
    try:
        script = capture(server, "engine")
        run(closed_loop(Gen(script, server.port, pauses()), 32, 2.0))
        out = Path(tempfile.gettempdir()) / "bench_engine_profile"
        out.mkdir(exist_ok=True)
        raw = out / "engine.pyspy.txt"
        p = subprocess.Popen([str(spy), "record", "--pid", str(server.pid), "--duration",
                              str(int(seconds)), "--rate", "200", "--format", "raw", "--nonblocking",
                              "--output", str(raw)])
        time.sleep(1.0)
        res = measure_throughput(server, script, seconds - 2, CONCURRENCY)
        p.wait()
        print("throughput while profiled:", res)
        print(f"collapsed stacks: {raw}")
        summarize_profile(raw)
    finally:
        server.stop()


def summarize_profile(raw: Path, top: int = 40) -> None:
    """Self time and inclusive time per function (frames from py-spy's collapsed output)."""
    self_t, incl, total = {}, {}, 0
    for line in raw.read_text().splitlines():
        stack, _, n = line.rpartition(" ")
        n = int(n)
        total += n
        frames = stack.split(";")
        for f in set(frames):
            incl[f] = incl.get(f, 0) + n
        self_t[frames[-1]] = self_t.get(frames[-1], 0) + n
    print(f"\n{total} samples; top self time:")
    for f, n in sorted(self_t.items(), key=lambda x: -x[1])[:top]:
        print(f"  {100 * n / total:5.1f}%  {f}")
    print("\ntop inclusive time (engine/ and greenswitch/ frames):")
    rows = [(f, n) for f, n in incl.items() if "engine/" in f or "greenswitch" in f or "logging" in f]
    for f, n in sorted(rows, key=lambda x: -x[1])[:top]:
        print(f"  {100 * n / total:5.1f}%  {f}")


# ------------------------------------------------------------------------------ report

def fmt(v, spec=".1f"):
    return "n/a" if v is None or v != v else format(v, spec)


def table(res: dict) -> str:
    e, b = res["engine"], res["bare"]

    def ratio(x, y):
        return fmt(x / y if y else None, ".2f")

    rows = [
        ("commands (round trips) per call", e["commands_per_call"], b["commands_per_call"], ""),
        ("frames / KB from FreeSWITCH per call",
         "%d / %.0f" % (e["frames_per_call"], e["bytes_per_call"] / 1024),
         "%d / %.0f" % (b["frames_per_call"], b["bytes_per_call"] / 1024), ""),
        ("calls/s, closed loop x%d (completed)" % CONCURRENCY,
         e["throughput"]["calls_s"], b["throughput"]["calls_s"], ">= 300"),
        ("server CPU ms per call (closed loop)",
         e["throughput"]["cpu_ms_per_call"], b["throughput"]["cpu_ms_per_call"], ""),
        ("capacity on 1 core = 1 / CPU per call (calls/s)",
         e["throughput"]["capacity_calls_s"], b["throughput"]["capacity_calls_s"], ">= 300"),
        ("server CPU us per frame received",
         1000 * e["throughput"]["cpu_ms_per_call"] / e["frames_per_call"],
         1000 * b["throughput"]["cpu_ms_per_call"] / b["frames_per_call"], ""),
        ("closed loop: server / generator / other CPU (cores)",
         "%.2f/%.2f/%.2f" % tuple(e["throughput"][k] for k in ("server_cpu_util", "gen_cpu_util", "other_cpu_util")),
         "%.2f/%.2f/%.2f" % tuple(b["throughput"][k] for k in ("server_cpu_util", "gen_cpu_util", "other_cpu_util")), ""),
        ("open loop %d/s: completed calls/s" % TARGET_RATE,
         e["rate"]["completed_calls_s"], b["rate"]["completed_calls_s"], ">= 300"),
        ("open loop %d/s: server / generator / other CPU (cores)" % TARGET_RATE,
         "%.2f/%.2f/%.2f" % tuple(e["rate"][k] for k in ("server_cpu_util", "gen_cpu_util", "other_cpu_util")),
         "%.2f/%.2f/%.2f" % tuple(b["rate"][k] for k in ("server_cpu_util", "gen_cpu_util", "other_cpu_util")), ""),
        ("open loop %d/s: set-up p50 ms" % TARGET_RATE,
         e["rate"]["setup_ms_p50"], b["rate"]["setup_ms_p50"], ""),
        ("open loop %d/s: set-up p99 ms" % TARGET_RATE,
         e["rate"]["setup_ms_p99"], b["rate"]["setup_ms_p99"], ""),
        ("set-up @%d/s, FS side connect->1st sendmsg p50 ms" % LATENCY_RATE,
         e["latency"]["setup_ms_p50"], b["latency"]["setup_ms_p50"], ""),
        ("set-up @%d/s, FS side connect->1st sendmsg p99 ms" % LATENCY_RATE,
         e["latency"]["setup_ms_p99"], b["latency"]["setup_ms_p99"], "< 5"),
        ("set-up @%d/s, engine histogram p50 ms" % LATENCY_RATE,
         e["latency"].get("engine_hist_ms_p50"), None, ""),
        ("set-up @%d/s, engine histogram p99 ms" % LATENCY_RATE,
         e["latency"].get("engine_hist_ms_p99"), None, "< 5"),
        ("RSS idle MB", e["memory"]["rss_idle_mb"], b["memory"]["rss_idle_mb"], ""),
        ("RSS with %d held calls MB" % e["memory"]["held"],
         e["memory"]["rss_held_mb"], b["memory"]["rss_held_mb"], ""),
        ("KB per concurrent call", e["memory"]["kb_per_call"], b["memory"]["kb_per_call"], "< 200"),
    ]
    def cell(v):
        if isinstance(v, str):
            return v
        return fmt(v, ".2f" if v is not None and v == v and abs(v) < 10 else ".1f")

    w = max(len(r[0]) for r in rows)
    out = [f"| {'figure':<{w}} | {'engine':>14} | {'bare gs':>14} | {'ratio':>6} | target |",
           f"|{'-' * (w + 2)}|{'-' * 16}|{'-' * 16}|{'-' * 8}|--------|"]
    for name, x, y, tgt in rows:
        r = ratio(x, y) if isinstance(x, (int, float)) and isinstance(y, (int, float)) else "n/a"
        out.append(f"| {name:<{w}} | {cell(x):>14} | {cell(y):>14} | {r:>6} | {tgt:<6} |")
    return "\n".join(out)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--quick", action="store_true", help="short windows, 500 held calls")
    ap.add_argument("--only", choices=("engine", "bare"))
    ap.add_argument("--markdown", type=Path, help="also write the table to this file")
    ap.add_argument("--json", type=Path, help="write all figures as JSON")
    ap.add_argument("--profile", action="store_true", help="py-spy the engine under load")
    ap.add_argument("--profile-seconds", type=float, default=15)
    args = ap.parse_args()
    raise_nofile()
    started = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="bench_engine_") as d:
        tmp = Path(d)
        if args.profile:
            profile(tmp, args.profile_seconds)
            return 0
        res = {}
        for cls in (EngineServer, BareServer):
            if args.only and cls.kind != args.only:
                continue
            sub = tmp / cls.kind
            sub.mkdir()
            res[cls.kind] = bench_one(cls, sub, args.quick)
    meta = (f"{date.today()}  nproc={os.cpu_count()}  cpu={cpu_model()}  "
            f"python={platform.python_version()}  runtime={time.perf_counter() - started:.0f}s")
    print("\n" + meta)
    if "engine" in res and "bare" in res:
        t = table(res)
        print(t)
        if args.markdown:
            args.markdown.write_text(meta + "\n\n" + t + "\n")
    if args.json:
        args.json.write_text(json.dumps({"meta": meta, **res}, indent=1, default=str))
    return 0


if __name__ == "__main__":
    sys.exit(main())
