"""Benchmark against a real FreeSWITCH: `callflow serve` vs a bare greenswitch controller.

Run:  .venv/bin/python -m tests.benchmarks.bench_switch [--quick] [--seconds N] [--rates 20,50,100]
      [--switch asterisk|freeswitch|both]   (default both: FreeSWITCH first, then Asterisk)

The Asterisk half (FastAGI, the engine vs a bare FastAGI controller) is
tests/benchmarks/bench_switch_asterisk.py; its docstring says what it measures.

Not collected by pytest. One private FreeSWITCH 1.11.1 (tests/switch/freeswitch/instance.py:
the project's dialplan, loopback channels) and in turn two controllers of its outbound
socket, each its own process, doing the same per call (answer, playback, hangup):
* engine: `callflow serve`, one number (+55 11 4004-0001) whose only rule is a start
  message welcome.wav (1 s);
* bare: a greenswitch 0.0.19 (gevent) OutboundESLServer app: connect, myevents, linger 5,
  answer (awaits completion), playback of the same file (awaits), hangup, exit.

Per controller and rate, calls are placed with `bgapi originate {origination_uuid=U,...}
loopback/551140040001/public &park()` paced by the monotonic clock (placing stops at 1.5x
the planned time if the switch falls behind), then a bounded wait for all to end.
Measured by the switch's event stamps (Event-Date-Timestamp):
* set-up latency: CHANNEL_PARK of the controlled channel (loopback/551140040001-b; in async
  mode the socket application parks it once the controller has sent `connect`) ->
  CHANNEL_EXECUTE of its first media command (answer or playback); without a CHANNEL_PARK,
  from the CHANNEL_EXECUTE of Application=socket ("park-less"). Also "from socket": socket
  execute -> first media command, which adds the TCP connect, the controller's accept and
  its `connect` round trip.
* CPU per call: utime+stime of the controller process (/proc/PID/stat) over the rate /
  calls completed; the same for FreeSWITCH and this process; the idle CPU of both (5 s, no
  calls); the machine's busy share (/proc/stat).
* failed calls: BACKGROUND_JOB -ERR, no playback on the controlled channel, not ended
  within the bound, or (engine) no call record or an unexpected record outcome.
Only the event types used are subscribed (FreeSWITCH spends CPU on each event it sends);
the switch's log level is set to NOTICE at run time (instance.py configures debug); see
Switch for the timer settings added. Goals: set-up p99 <= 40 ms, CPU <= 1.5x bare.
"""
from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
import uuid as uuidlib
from pathlib import Path

from tests.benchmarks.bench_engine import cpu_model, cpu_seconds, pct, raise_nofile, system_busy
from tests.helpers.engine_proc import REPO, EngineProcess, free_port, stop_process, write_wav
from tests.switch.freeswitch.esl_client import EventLog
from tests.switch.freeswitch.instance import FreeSwitch

DID = "551140040001"
CALLER = "5521988887777"
EVENTS = ("CHANNEL_PARK", "CHANNEL_EXECUTE", "CHANNEL_HANGUP_COMPLETE", "BACKGROUND_JOB")
KEEP = ("Event-Name", "Unique-ID", "Application", "Event-Date-Timestamp",
        "variable_origination_uuid", "Job-UUID", "_body")
MEDIA_FIRST = ("answer", "playback")
EXPECTED_OUTCOME = "missed"   # the engine's record for a message-only flow (see the docs)
IDLE_S, DRAIN_S = 5.0, 30.0   # idle window; bound on the calls' end after the last originate
RULES = """
defaults: {timezone: America/Sao_Paulo, region: BR}
numbers:
  "+55 11 4004-0001":
    messages:
      - {audio: welcome.wav, at: start}
"""

BARE_APP = r'''
from gevent import monkey; monkey.patch_all()
import sys, gevent
from greenswitch.esl import OutboundESLServer

class App:
    def __init__(self, session):
        self.session = session

    def run(self):                     # the server has sent `connect`; exit follows
        s = self.session
        s.myevents()
        s.linger(5)
        s.call_command("answer", block=True, response_timeout=30)
        s.playback(sys.argv[2], block=True)
        s.hangup()

server = OutboundESLServer("127.0.0.1", int(sys.argv[1]), application=App, max_connections=4000)
g = gevent.spawn(server.listen)
while not server._running:
    gevent.sleep(0.01)
print("READY", flush=True)
g.join()
'''


class Switch(FreeSwitch):
    """instance.FreeSwitch plus ``1ms-timer`` and ``enable-use-system-time``: without them
    events are stamped from a clock cached by the timer thread at a 20 ms tick (measured:
    bgapi jobs 3.7 ms apart got stamps 0 or 20 ms apart); with them, about 1 ms."""

    def write_conf(self) -> None:
        super().write_conf()
        conf = self.dir / "conf" / "autoload_configs" / "switch.conf.xml"
        extra = "".join(f'\n    <param name="{k}" value="true"/>'
                        for k in ("enable-use-system-time", "1ms-timer"))
        conf.write_text(conf.read_text().replace("<settings>", "<settings>" + extra, 1))


class _Compact(list):
    def append(self, event: dict) -> None:
        super().append({k: event[k] for k in KEEP if k in event})


class Events(EventLog):
    """EventLog subscribed to EVENTS instead of ALL, keeping only the KEEP fields (the full
    JSON events of a 60 s run would take GBs)."""

    def __init__(self, host: str, port: int, password: str):
        super().__init__(host, port, password, subscribe=" ".join(EVENTS))
        with self.cond:                 # before the first call: nothing has arrived yet
            self.events, self.seen, self.ended = _Compact(self.events), 0, set()

    def wait_ended(self, uuids: list[str], deadline: float) -> int:
        """Wait until every uuid has a CHANNEL_HANGUP_COMPLETE or the deadline; returns
        how many have not."""
        with self.cond:
            while True:
                self.ended.update(e.get("Unique-ID") for e in self.events[self.seen:]
                                  if e.get("Event-Name") == "CHANNEL_HANGUP_COMPLETE")
                self.seen = len(self.events)
                left = sum(1 for u in uuids if u not in self.ended)
                if left == 0 or self.closed or time.monotonic() >= deadline:
                    return left
                self.cond.wait(min(1.0, deadline - time.monotonic()))


# ------------------------------------------------------------------------ controllers

class EngineController:
    name = "engine"

    def __init__(self, tmp: Path):
        callflow = Path(sys.executable).with_name("callflow")
        self.p = EngineProcess(tmp, RULES, command=[str(callflow), "serve"], env={
            "CALLFLOW_DIAL_E164_TEMPLATE": "loopback/{digits}/callflow_targets",
            "CALLFLOW_DIAL_SIP_TEMPLATE": "loopback/sip_{uri}/callflow_targets",
            "CALLFLOW_LOG_LEVEL": "INFO", "CALLFLOW_MAX_CALLS": "2000",
            "CALLFLOW_COMMAND_TIMEOUT": "10"})
        write_wav(self.p.media_dir / "welcome.wav", seconds=1.0)
        self.offset, self.records = 0, {}

    def start(self):
        self.p.start()
        self.port, self.pid = self.p.port, self.p.proc.pid

    def wait_records(self, uuids, deadline: float) -> None:
        """Read the JSON log on from where it was left until every uuid has a record."""
        while True:
            with open(self.p.log_path, "rb") as f:
                f.seek(self.offset)
                data = f.read()
            data = data[:data.rfind(b"\n") + 1]
            self.offset += len(data)
            for line in data.splitlines():
                entry = json.loads(line) if line.startswith(b"{") else {}
                if entry.get("msg") == "call finished":
                    self.records[entry["record"]["uuid"]] = entry["record"]
            if all(u in self.records for u in uuids) or time.monotonic() > deadline:
                return
            time.sleep(0.05)

    def stop(self):
        self.p.stop()


class BareController:
    name, records = "bare", None

    def __init__(self, tmp: Path):
        self.path, self.port = tmp / "bare_app.py", free_port()
        self.path.write_text(BARE_APP)
        self.media = write_wav(tmp / "media" / "welcome.wav", seconds=1.0)

    def start(self):
        self.proc = subprocess.Popen(
            [sys.executable, str(self.path), str(self.port), str(self.media)], cwd=REPO,
            stdout=subprocess.PIPE, stderr=open(self.path.with_suffix(".log"), "wb"))
        if b"READY" not in self.proc.stdout.readline():
            raise RuntimeError("bare app did not start")
        self.pid = self.proc.pid

    def wait_records(self, uuids, deadline):
        pass

    def stop(self):
        stop_process(self.proc)


# ----------------------------------------------------------------------------- one rate

def place_calls(client, rate: float, n: int) -> tuple[list[tuple[str, str]], float]:
    """n originates at `rate`/s: [(origination uuid, job uuid)] and the achieved rate. A
    switch that cannot take them (bgapi replies late) gets no more after 1.5x the time."""
    placed, t0 = [], time.monotonic()
    stop = t0 + 1.5 * n / rate + 5
    for i in range(n):
        if time.monotonic() > stop:
            break
        delay = t0 + i / rate - time.monotonic()
        if delay > 0:
            time.sleep(delay)                  # pacing only
        u = str(uuidlib.uuid4())
        placed.append((u, client.originate(f"{{origination_uuid={u},origination_caller_id_number="
                                           f"{CALLER}}}loopback/{DID}/public", "&park()")))
    took = time.monotonic() - t0
    return placed, (len(placed) - 1) / took if len(placed) > 1 and took > 0 else float(rate)


def first_stamps(evs: list[dict]) -> dict[str, float]:
    """ms stamps of the controlled channel's first park, socket and media command."""
    ts = {}
    for e in evs:
        name, app = e.get("Event-Name"), e.get("Application")
        key = ("park" if name == "CHANNEL_PARK" else "socket" if app == "socket"
               else "media" if name == "CHANNEL_EXECUTE" and app in MEDIA_FIRST else None)
        if key and key not in ts:
            ts[key] = int(e["Event-Date-Timestamp"]) / 1e3
    return ts


def failure(body, evs, ended: bool, outcome, has_records: bool) -> str | None:
    if body is None:
        return "no BACKGROUND_JOB"
    if not body.startswith("+OK"):
        return "originate " + body.strip()[:60]
    if not any(e.get("Event-Name") == "CHANNEL_EXECUTE" and e.get("Application") == "playback"
               for e in evs):
        return "no playback"
    if not ended:
        return "not ended in time"
    if has_records and outcome != EXPECTED_OUTCOME:
        return f"record {outcome}"
    return None


def analyse(events: list[dict], placed, records) -> dict:
    jobs = {e.get("Job-UUID"): e.get("_body", "") for e in events
            if e.get("Event-Name") == "BACKGROUND_JOB"}
    ended = {e.get("Unique-ID") for e in events if e.get("Event-Name") == "CHANNEL_HANGUP_COMPLETE"}
    per, ctl_of = {}, {}     # controlled uuid -> its events; origination uuid -> controlled
    for e in events:
        o, uid = e.get("variable_origination_uuid"), e.get("Unique-ID")
        if o and uid and uid != o:
            ctl_of.setdefault(o, uid)
            per.setdefault(uid, []).append(e)
    out = {"setup": [], "from_socket": [], "parkless": 0, "failed": 0, "why": {}}
    for u, job in placed:
        body, ctl = jobs.get(job), ctl_of.get(u)
        evs = per.get(ctl, [])
        outcome = (records.get(ctl) or {}).get("outcome") if records is not None else None
        why = failure(body, evs, u in ended, outcome, records is not None)
        if why:
            out["failed"] += 1
            out["why"][why] = out["why"].get(why, 0) + 1
            continue
        ts = first_stamps(evs)
        start = ts.get("park")
        if start is None or start > ts["media"]:
            start, out["parkless"] = ts.get("socket"), out["parkless"] + 1
        out["setup"].append(ts["media"] - start)
        out["from_socket"].append(ts["media"] - ts["socket"])
    return out


def run_rate(fs, ev: Events, ctl, rate: float, seconds: float) -> dict:
    n = max(1, int(rate * seconds))
    with fs.client() as client:
        i0 = len(ev.snapshot())
        c0, f0, b0, t0 = cpu_seconds(ctl.pid), cpu_seconds(fs.pid), system_busy(), time.monotonic()
        g0 = time.process_time()
        placed, achieved = place_calls(client, rate, n)
        n = len(placed)
        if ev.wait_ended([u for u, _ in placed], time.monotonic() + DRAIN_S):
            client.api("hupall NORMAL_CLEARING")       # bound: leave nothing for the next rate
        events = ev.snapshot()[i0:]
        ctl.wait_records({e["Unique-ID"] for e in events if e.get("variable_origination_uuid")
                          not in (None, e.get("Unique-ID"))}, time.monotonic() + 10)
        c1, f1, b1, t1 = cpu_seconds(ctl.pid), cpu_seconds(fs.pid), system_busy(), time.monotonic()
        g1 = time.process_time()
    res = analyse(events, placed, ctl.records)
    done = max(n - res["failed"], 1)
    return {"controller": ctl.name, "rate": rate, "achieved": achieved, "calls": n,
            "failed": res["failed"], "why": res["why"], "parkless": res["parkless"],
            "p50": pct(res["setup"], 0.5), "p99": pct(res["setup"], 0.99),
            "max": max(res["setup"], default=float("nan")),
            "sock_p50": pct(res["from_socket"], 0.5), "sock_p99": pct(res["from_socket"], 0.99),
            "cpu_ms": 1000 * (c1 - c0) / done, "fs_cpu_ms": 1000 * (f1 - f0) / done,
            "bench_cpu_ms": 1000 * (g1 - g0) / done,
            "busy": (b1 - b0) / ((t1 - t0) * (os.cpu_count() or 1))}


def bench_controller(fs, ev, ctl, rates, seconds) -> list[dict]:
    ctl.start()
    try:
        fs.set_engines([f"127.0.0.1:{ctl.port}"])
        warm = run_rate(fs, ev, ctl, 5, 1.0)          # 5 calls: the flow works end to end
        if warm["failed"]:
            raise RuntimeError(f"{ctl.name}: warm-up calls failed: {warm['why']}")
        c0, f0 = cpu_seconds(ctl.pid), cpu_seconds(fs.pid)
        time.sleep(IDLE_S)                            # idle cost: a measurement window
        idle = {"idle_ms_s": 1000 * (cpu_seconds(ctl.pid) - c0) / IDLE_S,
                "fs_idle_ms_s": 1000 * (cpu_seconds(fs.pid) - f0) / IDLE_S}
        print(f"[{ctl.name}] warm-up ok; idle: {idle}", flush=True)
        out = []
        for rate in rates:
            out.append({**run_rate(fs, ev, ctl, rate, seconds), **idle})
            print(f"[{ctl.name}] {rate:g}/s: {out[-1]}", flush=True)
        return out
    finally:
        ctl.stop()


def table(results: list[dict]) -> str:
    lines = ["| controller | rate/s (achieved) | calls | failed | setup p50 ms | p99 ms | max ms "
             "| from socket p50 / p99 ms | CPU ms/call | FS CPU ms/call | machine busy |",
             "|" + "---|" * 11]
    for r in results:
        lines.append(f"| {r['controller']} | {r['rate']:g} ({r['achieved']:.1f}) | {r['calls']} | "
                     f"{r['failed']} | {r['p50']:.1f} | {r['p99']:.1f} | {r['max']:.1f} | "
                     f"{r['sock_p50']:.1f} / {r['sock_p99']:.1f} | "
                     f"{r['cpu_ms']:.2f} | {r['fs_cpu_ms']:.2f} | {100 * r['busy']:.0f}% |")
    lines += ["", "| rate/s | CPU engine/bare | p99 engine/bare | p99 <= 40 ms "
              "| CPU <= 1.5x bare |", "|---|---|---|---|---|"]
    bare = {r["rate"]: r for r in results if r["controller"] == "bare"}
    for e in results:
        b = bare.get(e["rate"])
        if e["controller"] != "engine" or not b:
            continue
        if min(e["achieved"], b["achieved"]) < 0.9 * e["rate"]:
            lines.append(f"| {e['rate']:g} | n/a: the switch did not take the offered rate |||")
        else:
            cr, pr = e["cpu_ms"] / b["cpu_ms"], e["p99"] / b["p99"]
            lines.append(f"| {e['rate']:g} | {cr:.2f} | {pr:.2f} | "
                         f"{'yes' if e['p99'] <= 40 else 'NO'} | {'yes' if cr <= 1.5 else 'NO'} |")
    return "\n".join(lines)


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--quick", action="store_true", help="10 s per rate, rates 20,50")
    ap.add_argument("--seconds", type=float)
    ap.add_argument("--rates")
    ap.add_argument("--json", help="also write the results here")
    ap.add_argument("--switch", choices=("asterisk", "freeswitch", "both"), default="both",
                    help="which real switch (default both: FreeSWITCH, then Asterisk)")
    a = ap.parse_args(argv)
    seconds = a.seconds or (10.0 if a.quick else 60.0)
    rates = [float(x) for x in (a.rates or ("20,50" if a.quick else "20,50,100")).split(",")]
    raise_nofile()
    tmp = Path(tempfile.mkdtemp(prefix="bench_switch_"))
    print(f"run folder: {tmp}; {os.cpu_count()} cores, {cpu_model()}", flush=True)
    results = run_freeswitch(tmp, rates, seconds) if a.switch != "asterisk" else []
    if a.switch != "freeswitch":
        from tests.benchmarks import bench_switch_asterisk
        results += bench_switch_asterisk.run(tmp, rates, seconds)
    if a.json:
        Path(a.json).write_text(json.dumps(results, indent=1))
    return 0


def run_freeswitch(tmp: Path, rates, seconds) -> list[dict]:
    fs, results = Switch(tmp / "fs", engines=["127.0.0.1:9"]).start(), []
    try:
        with fs.client() as c:
            c.api("fsctl loglevel notice")
        ev = Events("127.0.0.1", fs.esl_port, fs.password)
        for cls in (EngineController, BareController):
            (tmp / cls.name).mkdir()
            results += bench_controller(fs, ev, cls(tmp / cls.name), rates, seconds)
        ev.close()
    finally:
        fs.stop()
    print("\n" + table(results))
    for r in results:
        print(f"{r['controller']} @{r['rate']:g}/s: failures {r['why']}, park-less "
              f"{r['parkless']}, this process {r['bench_cpu_ms']:.2f} ms/call; idle CPU: it "
              f"{r['idle_ms_s']:.0f}, FreeSWITCH {r['fs_idle_ms_s']:.0f} ms/s")
    return results


if __name__ == "__main__":
    sys.exit(main())
