"""The Asterisk half of bench_switch: `callflow serve` vs a bare FastAGI controller.

Run through bench_switch:  .venv/bin/python -m tests.benchmarks.bench_switch --switch asterisk
[--quick] [--seconds N] [--rates 20,50,100]. Not collected by pytest.

One private Asterisk 22 (tests/switch/asterisk/instance.py: the project's
dialplan/asterisk/extensions.conf, `timestampevents`) and in turn two FastAGI controllers,
each its own process, doing the same per call (answer, play the same 1 s file, hang up):
* engine: `callflow serve` with CALLFLOW_AGI_LISTEN, the number +55 11 4004-0001 whose only
  rule is a start message welcome.wav (bench_switch.RULES);
* bare: a gevent StreamServer (BARE_AGI): read the AGI environment up to the blank line,
  `ANSWER`, `STREAM FILE <file> ""` (its reply comes when the file has been played),
  `HANGUP`, close.

Per controller and rate, calls are AMI `Originate`s of Local/+551140040001@callflow-in
(calls.PlacedCall: the `;2` half runs the project's dialplan and is the controlled channel,
the `;1` half is the caller, idle), paced by the monotonic clock; placing stops at 1.5x the
planned time (+5 s) if the switch falls behind (AMI replies come late), then a bounded
wait for every caller channel's Hangup. Measured from the AMI events' `Timestamp` (the
switch's clock, microseconds):
* set-up latency: `Newexten` of Application=AGI on the controlled channel (the dialplan
  hands the call to the FastAGI controller: Asterisk then connects, sends the environment
  and waits for a command) -> `AGIExecStart` of its first media command (ANSWER or STREAM
  FILE). Also "answer -> play": AGIExecStart ANSWER -> AGIExecStart STREAM FILE.
* CPU per call: utime+stime (/proc/PID/stat) of the controller over the rate's window
  (placing + drain) / calls completed; the same for Asterisk and this process; the idle
  CPU (5 s, no calls); the machine's busy share (/proc/stat).
* failed: the Originate refused or unanswered, no STREAM FILE on the controlled channel,
  the caller's channel not hung up within the bound, or (engine) no call record or an
  unexpected record outcome.
The AMI session that reads events is filtered (AMI `Filter`) to the four event types used;
the switch's verbosity is set to 0 at run time (instance.py starts it with -vvv, which
logs every dialplan step).
"""
from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

from tests.benchmarks import bench_switch as fsb
from tests.benchmarks.bench_engine import cpu_seconds, pct, system_busy
from tests.helpers.engine_proc import REPO, EngineProcess, free_port, stop_process, write_wav
from tests.switch.asterisk.ami_client import AmiClient
from tests.switch.asterisk.calls import PlacedCall
from tests.switch.asterisk.instance import Asterisk
from tests.switch.asterisk.lab import DIAL_TEMPLATE

EVENTS = ("Newexten", "AGIExecStart", "Hangup", "OriginateResponse")
KEEP = ("Event", "Uniqueid", "Timestamp", "Application", "Command", "Response", "Reason")
FILTER = "Event: (" + "|".join(EVENTS) + ")"
MEDIA_FIRST = ("ANSWER", "STREAM FILE")
CALLER_BEHAVIOUR = "idle"   # targets.conf [callflow-test-caller]: the caller sends no audio

BARE_AGI = r'''
import sys
from gevent.server import StreamServer

MEDIA = sys.argv[2].encode()

def handle(sock, addr):
    f = sock.makefile("rwb")
    try:
        while True:                                   # the AGI environment, then a blank line
            line = f.readline()
            if not line or not line.strip():
                break
        for command in (b"ANSWER\n", b"STREAM FILE " + MEDIA + b' ""\n', b"HANGUP\n"):
            f.write(command)
            f.flush()
            if not f.readline().startswith(b"200"):   # e.g. "HANGUP": the caller left
                break
    finally:
        f.close()
        sock.close()

server = StreamServer(("127.0.0.1", int(sys.argv[1])), handle, backlog=1024)
server.start()
print("READY", flush=True)
server.serve_forever()
'''


class _Compact(list):
    def append(self, event: dict) -> None:
        if event.get("Event") in EVENTS:
            super().append({k: event[k] for k in KEEP if k in event})


class AmiEvents(AmiClient):
    """AmiClient(events=True) keeping only EVENTS, each cut to the KEEP fields, with the
    switch asked (AMI Filter) to send only those event types."""

    def __init__(self, ast: Asterisk):
        super().__init__("127.0.0.1", ast.ami_port, ast.ami_user, ast.ami_secret, events=True)
        with self.cond:
            self.events, self.seen, self.ended = _Compact(self.events), 0, set()
        reply = self.action("Filter", Operation="Add", Filter=FILTER)
        if reply.get("Response") != "Success":
            print(f"AMI Filter refused ({reply}); reading all events", flush=True)

    def wait_ended(self, uniqueids: list[str], deadline: float) -> int:
        """Wait until every uniqueid has a Hangup or the deadline; returns how many not."""
        with self.cond:
            while True:
                self.ended.update(e.get("Uniqueid") for e in self.events[self.seen:]
                                  if e.get("Event") == "Hangup")
                self.seen = len(self.events)
                left = sum(1 for u in uniqueids if u not in self.ended)
                if left == 0 or self.closed or time.monotonic() >= deadline:
                    return left
                self.cond.wait(min(1.0, deadline - time.monotonic()))


# ------------------------------------------------------------------------ controllers

class EngineAgi:
    name = "engine"

    def __init__(self, tmp: Path):
        callflow = Path(sys.executable).with_name("callflow")
        self.port = free_port()
        self.p = EngineProcess(tmp, fsb.RULES, command=[str(callflow), "serve"], env={
            "CALLFLOW_AGI_LISTEN": f"127.0.0.1:{self.port}",
            "CALLFLOW_AGI_DIAL_E164_TEMPLATE": DIAL_TEMPLATE,
            "CALLFLOW_LOG_LEVEL": "INFO", "CALLFLOW_MAX_CALLS": "2000",
            "CALLFLOW_COMMAND_TIMEOUT": "10"})
        write_wav(self.p.media_dir / "welcome.wav", seconds=1.0)
        self.offset, self.records, self.by_switch = 0, {}, {}

    def start(self):
        self.p.start()
        self.p.wait_healthy()
        self.pid = self.p.proc.pid

    def wait_records(self, uniqueids, deadline: float) -> None:
        """Read the JSON log on from where it was left until every controlled channel's
        uniqueid has a record (by the switch_id of its "asterisk call" line)."""
        while True:
            with open(self.p.log_path, "rb") as f:
                f.seek(self.offset)
                data = f.read()
            data = data[:data.rfind(b"\n") + 1]
            self.offset += len(data)
            for line in data.splitlines():
                entry = json.loads(line) if line.startswith(b"{") else {}
                if entry.get("msg") == "asterisk call":
                    self.by_switch[entry.get("uuid")] = entry.get("switch_id")
                elif entry.get("msg") == "call finished":
                    uuid = entry.get("uuid") or entry["record"].get("uuid")
                    self.records[self.by_switch.get(uuid, uuid)] = entry["record"]
            if all(u in self.records for u in uniqueids) or time.monotonic() > deadline:
                return
            time.sleep(0.05)

    def stop(self):
        self.p.stop()


class BareAgi:
    name, records = "bare", None

    def __init__(self, tmp: Path):
        self.path, self.port = tmp / "bare_agi.py", free_port()
        self.path.write_text(BARE_AGI)
        self.media = write_wav(tmp / "media" / "welcome.wav", seconds=1.0)

    def start(self):
        self.proc = subprocess.Popen(
            [sys.executable, str(self.path), str(self.port), str(self.media)[:-len(".wav")]],
            cwd=REPO, stdout=subprocess.PIPE, stderr=open(self.path.with_suffix(".log"), "wb"))
        if b"READY" not in self.proc.stdout.readline():
            raise RuntimeError("bare FastAGI app did not start")
        self.pid = self.proc.pid

    def wait_records(self, uniqueids, deadline):
        pass

    def stop(self):
        stop_process(self.proc)


# ----------------------------------------------------------------------------- one rate

def place_calls(ami: AmiClient, rate: float, n: int):
    """n Originates at `rate`/s: [(caller uniqueid, controlled uniqueid) or the refusal]
    and the achieved rate. No more after 1.5x the planned time (+5 s)."""
    placed, t0 = [], time.monotonic()
    stop = t0 + 1.5 * n / rate + 5
    for i in range(n):
        if time.monotonic() > stop:
            break
        delay = t0 + i / rate - time.monotonic()
        if delay > 0:
            time.sleep(delay)                  # pacing only
        try:
            call = PlacedCall(ami, "+" + fsb.DID, caller="+" + fsb.CALLER,
                              behaviour=CALLER_BEHAVIOUR)
            placed.append((call.caller_id, call.uniqueid))
        except (AssertionError, OSError) as e:
            placed.append(("originate " + str(e)[:60], None))
    took = time.monotonic() - t0
    return placed, (len(placed) - 1) / took if len(placed) > 1 and took > 0 else float(rate)


def analyse(events: list[dict], placed, records) -> dict:
    per: dict[str, list[dict]] = {}
    for e in events:
        per.setdefault(e.get("Uniqueid"), []).append(e)
    out = {"setup": [], "to_play": [], "failed": 0, "why": {}}

    def fail(why):
        out["failed"] += 1
        out["why"][why] = out["why"].get(why, 0) + 1

    for caller, ctl in placed:
        if ctl is None:
            fail(caller)
            continue
        mine = per.get(caller, [])
        refused = [e for e in mine if e["Event"] == "OriginateResponse"
                   and e.get("Response") != "Success"]
        ts = {}
        for e in per.get(ctl, []):
            cmd = e.get("Command", "").upper()
            key = ("agi" if e["Event"] == "Newexten" and e.get("Application") == "AGI"
                   else "answer" if e["Event"] == "AGIExecStart" and cmd == "ANSWER"
                   else "play" if e["Event"] == "AGIExecStart" and cmd.startswith("STREAM FILE")
                   else None)
            if key and key not in ts:
                ts[key] = float(e["Timestamp"]) * 1e3
        outcome = (records.get(ctl) or {}).get("outcome") if records is not None else None
        if refused:
            fail("originate " + refused[0].get("Reason", "?"))
        elif "play" not in ts:
            fail("no STREAM FILE")
        elif not any(e["Event"] == "Hangup" for e in mine):
            fail("not ended in time")
        elif records is not None and outcome != fsb.EXPECTED_OUTCOME:
            fail(f"record {outcome}")
        else:
            media = min(ts[k] for k in ("answer", "play") if k in ts)
            out["setup"].append(media - ts["agi"])
            if "answer" in ts:
                out["to_play"].append(ts["play"] - ts["answer"])
    return out


def run_rate(ast: Asterisk, ev: AmiEvents, ctl, rate: float, seconds: float) -> dict:
    n = max(1, int(rate * seconds))
    with ast.ami() as ami:
        i0 = len(ev.snapshot())
        c0, a0, b0, t0 = cpu_seconds(ctl.pid), cpu_seconds(ast.pid), system_busy(), time.monotonic()
        g0 = time.process_time()
        placed, achieved = place_calls(ami, rate, n)
        n = len(placed)
        if ev.wait_ended([c for c, u in placed if u], time.monotonic() + fsb.DRAIN_S):
            ast.cli("channel request hangup all")    # bound: leave nothing for the next rate
        ctl.wait_records([u for _, u in placed if u], time.monotonic() + 10)
        c1, a1, b1, t1 = cpu_seconds(ctl.pid), cpu_seconds(ast.pid), system_busy(), time.monotonic()
        g1 = time.process_time()
        events = ev.snapshot()[i0:]
    res = analyse(events, placed, ctl.records)
    done = max(n - res["failed"], 1)
    return {"switch": "asterisk", "controller": ctl.name, "rate": rate, "achieved": achieved,
            "calls": n, "failed": res["failed"], "why": res["why"],
            "p50": pct(res["setup"], 0.5), "p99": pct(res["setup"], 0.99),
            "max": max(res["setup"], default=float("nan")),
            "play_p50": pct(res["to_play"], 0.5), "play_p99": pct(res["to_play"], 0.99),
            "cpu_ms": 1000 * (c1 - c0) / done, "ast_cpu_ms": 1000 * (a1 - a0) / done,
            "bench_cpu_ms": 1000 * (g1 - g0) / done,
            "busy": (b1 - b0) / ((t1 - t0) * (os.cpu_count() or 1))}


def bench_controller(ast, ev, ctl, rates, seconds) -> list[dict]:
    ctl.start()
    try:
        ast.set_engines([f"127.0.0.1:{ctl.port}"])
        warm = run_rate(ast, ev, ctl, 5, 1.0)          # 5 calls: the flow works end to end
        if warm["failed"]:
            raise RuntimeError(f"{ctl.name}: warm-up calls failed: {warm['why']}")
        c0, a0 = cpu_seconds(ctl.pid), cpu_seconds(ast.pid)
        time.sleep(fsb.IDLE_S)
        idle = {"idle_ms_s": 1000 * (cpu_seconds(ctl.pid) - c0) / fsb.IDLE_S,
                "ast_idle_ms_s": 1000 * (cpu_seconds(ast.pid) - a0) / fsb.IDLE_S}
        print(f"[asterisk {ctl.name}] warm-up ok; idle: {idle}", flush=True)
        out = []
        for rate in rates:
            out.append({**run_rate(ast, ev, ctl, rate, seconds), **idle})
            print(f"[asterisk {ctl.name}] {rate:g}/s: {out[-1]}", flush=True)
        return out
    finally:
        ctl.stop()


def table(results: list[dict]) -> str:
    lines = ["| controller | rate/s (achieved) | calls | failed | setup p50 ms | p99 ms | max ms "
             "| answer -> play p50 / p99 ms | CPU ms/call | Asterisk CPU ms/call | machine busy |",
             "|" + "---|" * 11]
    for r in results:
        lines.append(f"| {r['controller']} | {r['rate']:g} ({r['achieved']:.1f}) | {r['calls']} | "
                     f"{r['failed']} | {r['p50']:.1f} | {r['p99']:.1f} | {r['max']:.1f} | "
                     f"{r['play_p50']:.1f} / {r['play_p99']:.1f} | "
                     f"{r['cpu_ms']:.2f} | {r['ast_cpu_ms']:.2f} | {100 * r['busy']:.0f}% |")
    lines += ["", "| rate/s | CPU engine/bare | p50 engine/bare | p99 engine/bare | p99 <= 40 ms "
              "| CPU <= 1.5x bare |", "|---|---|---|---|---|---|"]
    bare = {r["rate"]: r for r in results if r["controller"] == "bare"}
    for e in results:
        b = bare.get(e["rate"])
        if e["controller"] != "engine" or not b:
            continue
        if min(e["achieved"], b["achieved"]) < 0.9 * e["rate"]:
            lines.append(f"| {e['rate']:g} | n/a: the switch did not take the offered rate ||||")
        else:
            cr, r50, pr = e["cpu_ms"] / b["cpu_ms"], e["p50"] / b["p50"], e["p99"] / b["p99"]
            lines.append(f"| {e['rate']:g} | {cr:.2f} | {r50:.2f} | {pr:.2f} | "
                         f"{'yes' if e['p99'] <= 40 else 'NO'} | {'yes' if cr <= 1.5 else 'NO'} |")
    return "\n".join(lines)


def run(tmp: Path, rates, seconds) -> list[dict]:
    """Both controllers on one private Asterisk; prints the Asterisk tables."""
    ast, results = Asterisk(tmp / "asterisk", engines=["127.0.0.1:9"]).start(), []
    try:
        ast.cli("core set verbose 0")
        ev = AmiEvents(ast)
        for cls in (EngineAgi, BareAgi):
            (tmp / f"ast_{cls.name}").mkdir()
            results += bench_controller(ast, ev, cls(tmp / f"ast_{cls.name}"), rates, seconds)
        ev.close()
    finally:
        ast.stop()
    print("\nAsterisk\n\n" + table(results))
    for r in results:
        print(f"asterisk {r['controller']} @{r['rate']:g}/s: failures {r['why']}, this process "
              f"{r['bench_cpu_ms']:.2f} ms/call; idle CPU: it {r['idle_ms_s']:.0f}, Asterisk "
              f"{r['ast_idle_ms_s']:.0f} ms/s")
    return results
